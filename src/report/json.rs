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
    id: String,
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
    message: String,
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
        for c in &report.checks {
            seq.serialize_element(&Check {
                id: c.id(),
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
                message: super::message(report, c),
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
    let mut w = io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut w, &doc)?;
    io::Write::write_all(&mut w, b"\n")?;
    io::Write::flush(&mut w)
}
