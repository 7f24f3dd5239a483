//! The JSON report. Its field names are a public contract (docs/reports.md): add fields,
//! never rename or remove them without bumping `schema_version`.

use std::io;

use serde::Serialize;

use super::{EvalInfo, ReportContext};
use crate::gate::{GateReport, Status};

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    verdict: &'static str,
    exit_code: u8,
    strict: bool,
    policy: &'a str,
    baseline: Option<Eval<'a>>,
    candidate: Eval<'a>,
    summary: Summary,
    checks: Checks<'a>,
    waivers: Vec<Waiver<'a>>,
}

#[derive(Serialize)]
struct Eval<'a> {
    source: &'a str,
    task: &'static str,
    eval_id: Option<&'a str>,
    workspace: Option<&'a str>,
    project: Option<&'a str>,
    version_id: Option<&'a str>,
    created_at: Option<&'a str>,
    url: Option<String>,
    // Present only when there is one, so that reports of well-formed evals stay as they were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    pass: usize,
    fail: usize,
    warn: usize,
    skip: usize,
    waived: usize,
}

#[derive(Serialize)]
struct Check<'a> {
    id: &'a str,
    split: &'a str,
    class: Option<&'a str>,
    size: Option<&'static str>,
    metric: Option<&'static str>,
    rule: &'static str,
    severity: &'static str,
    status: &'static str,
    candidate: Option<f64>,
    baseline: Option<f64>,
    delta: Option<f64>,
    threshold: Option<f64>,
    message: &'a str,
    line: Option<u32>,
}

#[derive(Serialize)]
struct Waiver<'a> {
    scope: &'a str,
    reason: &'a str,
    until: String,
    expired: bool,
    matched: usize,
    line: u32,
}

/// The checks, serialized one by one as they are written: a report of 120,000 checks never
/// holds their ids and messages all at once.
struct Checks<'a>(&'a GateReport);

impl Serialize for Checks<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let report = self.0;
        let mut seq = serializer.serialize_seq(Some(report.checks.len()))?;
        // One buffer each for ids and messages, reused for every check.
        let (mut id, mut message) = (String::new(), String::new());
        // Worst first, in the one order every report shares.
        for c in report.ranked() {
            id.clear();
            c.write_id(&mut id);
            message.clear();
            super::words::write_message(&mut message, report, c);
            seq.serialize_element(&Check {
                id: &id,
                split: &c.split,
                class: c.class.as_deref(),
                size: c.size.map(|s| s.name()),
                metric: c.metric.map(|m| m.name()),
                rule: c.rule.name(),
                severity: c.severity.name(),
                status: c.status.name(),
                candidate: c.candidate(),
                baseline: c.baseline(),
                delta: c.delta(),
                threshold: c.threshold(),
                message: &message,
                line: c.line(),
            })?;
        }
        seq.end()
    }
}

fn eval(info: &EvalInfo) -> Eval<'_> {
    let m = &info.meta;
    Eval {
        source: &info.source,
        task: info.task.name(),
        eval_id: m.eval_id.as_deref(),
        workspace: m.workspace.as_deref(),
        project: m.project.as_deref(),
        version_id: m.version_id.as_deref(),
        created_at: m.created_at.as_deref(),
        url: m.app_url(),
        notes: info.notes.iter().map(ToString::to_string).collect(),
    }
}

/// Pretty-prints the report with two-space indents, except that each check (and each
/// waiver) is one compact line: a report of 120,000 checks is 40% smaller, reads as one
/// check a line, and still diffs line by line.
#[derive(Default)]
struct OneCheckPerLine {
    depth: usize,
    /// Whether the container being written has a value yet.
    has_value: bool,
}

impl OneCheckPerLine {
    /// Containers below this depth are written compactly: 1 is the report, 2 the list of
    /// checks, 3 a check.
    const COMPACT_BELOW: usize = 3;

    fn pretty(&self) -> bool {
        self.depth < Self::COMPACT_BELOW
    }

    fn indent<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        let was_pretty = self.pretty();
        self.depth -= 1;
        if was_pretty && self.has_value {
            self.indent(w)?;
        }
        self.has_value = true;
        w.write_all(bracket)
    }

    /// Before an array value or an object key: a comma after the first, then a new line
    /// (pretty) or a space (compact, after the first).
    fn next<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.pretty() {
            self.indent(w)?;
        } else if !first {
            w.write_all(b" ")?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for OneCheckPerLine {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.next(w, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.next(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

pub(super) fn render(
    report: &GateReport,
    ctx: &ReportContext,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let s = &report.summary;
    let doc = Report {
        schema_version: 1,
        verdict: report.verdict.name(),
        exit_code: ctx.exit_code,
        strict: report.strict,
        policy: &ctx.policy,
        baseline: ctx.baseline.as_ref().map(eval),
        candidate: eval(&ctx.candidate),
        summary: Summary {
            total: s.total(),
            pass: s.get(Status::Pass),
            fail: s.get(Status::Fail),
            warn: s.get(Status::Warn),
            skip: s.get(Status::Skip),
            waived: s.get(Status::Waived),
        },
        checks: Checks(report),
        waivers: report
            .waivers
            .iter()
            .map(|w| Waiver {
                scope: &w.scope,
                reason: &w.reason,
                until: w.until.to_string(),
                expired: w.expired,
                matched: w.matched,
                line: w.line,
            })
            .collect(),
    };
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    let mut json = serde_json::Serializer::with_formatter(&mut w, OneCheckPerLine::default());
    doc.serialize(&mut json)?;
    io::Write::write_all(&mut w, b"\n")?;
    io::Write::flush(&mut w)
}
