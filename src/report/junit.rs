//! The JUnit XML report, valid against the Jenkins xUnit `junit-10.xsd`.
//!
//! One `<testsuite>` per split, one `<testcase>` per check. A failure carries a one-line
//! `message` attribute (what GitHub reporters show) and the detail as element text (what
//! GitLab shows). Warnings and waived checks pass, with their note in `<system-out>`; under
//! `--strict` warnings are failures. Every string is filtered to characters XML 1.0 allows,
//! because class names and messages are untrusted.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use super::text::cap;
use super::{ReportContext, message, place_label, scope_label, test_label};

/// Names and messages are cut to this many characters (with a hash that keeps them
/// distinct); the JSON report has them whole.
const MAX_NAME_CHARS: usize = 500;
const MAX_MESSAGE_CHARS: usize = 1000;

fn capped_message(report: &GateReport, c: &Check) -> String {
    let m = message(report, c);
    cap(&m, MAX_MESSAGE_CHARS, &m).into_owned()
}
use crate::gate::{Check, GateReport, RuleKind, Status};
use crate::model::{Metric, Size};

pub(super) fn render(
    report: &GateReport,
    ctx: &ReportContext,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let mut w = Xml::new(out);
    let mut names = Names::default();
    w.declaration();

    let failed =
        |c: &Check| c.status == Status::Fail || (report.strict && c.status == Status::Warn);
    let mut suites: Vec<(&str, Vec<&Check>)> = Vec::new();
    for c in &report.checks {
        match suites.last_mut() {
            Some((split, checks)) if *split == &*c.split => checks.push(c),
            _ => suites.push((&c.split, vec![c])),
        }
    }

    let total_failures = report.checks.iter().filter(|c| failed(c)).count();
    w.open(
        "testsuites",
        &[
            ("name", "evalgate"),
            ("tests", &report.checks.len().to_string()),
            ("failures", &total_failures.to_string()),
            ("errors", "0"),
        ],
    );

    for (n, (split, checks)) in suites.into_iter().enumerate() {
        let failures = checks.iter().filter(|c| failed(c)).count();
        let skipped = checks.iter().filter(|c| c.status == Status::Skip).count();
        w.open(
            "testsuite",
            &[
                ("name", &xml_safe(&cap(split, MAX_NAME_CHARS, split))),
                ("tests", &checks.len().to_string()),
                ("failures", &failures.to_string()),
                ("errors", "0"),
                ("skipped", &skipped.to_string()),
            ],
        );

        // The run's properties go on the first suite only: readers that gather every suite's
        // properties into one map (xunitparser) refuse a name seen twice.
        if n == 0 {
            properties(&mut w, report, ctx);
        }
        for c in checks {
            testcase(&mut w, report, c, &ctx.policy, failed(c), &mut names);
            w.spill();
        }
        w.close("testsuite");
    }
    w.close("testsuites");
    w.buf.push(b'\n');
    w.finish()
}

fn properties(w: &mut Xml<'_>, report: &GateReport, ctx: &ReportContext) {
    w.open("properties", &[]);
    let mut props: Vec<(String, String)> = vec![
        ("evalgate.verdict".into(), report.verdict.name().to_owned()),
        ("evalgate.policy".into(), ctx.policy.clone()),
        ("evalgate.candidate".into(), ctx.candidate.source.clone()),
        ("evalgate.task".into(), report.task.name().to_owned()),
    ];
    if let Some(b) = &ctx.baseline {
        props.push(("evalgate.baseline".into(), b.source.clone()));
    }
    if let Some(used) = &report.operating_point {
        // "P/R/F1 at confidence 0.40", or at each split's F1-optimal one, per eval.
        let at = |by_split: &std::collections::BTreeMap<String, f64>| {
            by_split
                .iter()
                .map(|(split, c)| format!("{split} {c:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let point = match used.point {
            crate::model::OperatingPoint::Confidence(p) => format!("P/R/F1 at confidence {p}"),
            crate::model::OperatingPoint::Optimal => {
                let mut s = format!(
                    "P/R/F1 at each eval's F1-optimal confidence: candidate {}",
                    at(&used.candidate)
                );
                if let Some(b) = &used.baseline {
                    s.push_str(&format!("; baseline {}", at(b)));
                }
                s
            }
        };
        props.push(("evalgate.operating_point".into(), point));
    }
    for (role, info) in [
        ("candidate", Some(&ctx.candidate)),
        ("baseline", ctx.baseline.as_ref()),
    ] {
        let Some(info) = info else { continue };
        if let Some(id) = &info.meta.eval_id {
            props.push((format!("evalgate.{role}.eval_id"), id.clone()));
        }
        if let Some(url) = info.meta.app_url() {
            props.push((format!("evalgate.{role}.url"), url));
        }
        // Numbered, because readers that gather properties into a map refuse a name twice.
        for (i, note) in info.notes.iter().enumerate() {
            let note = note.to_string();
            props.push((
                format!("evalgate.{role}.note.{}", i + 1),
                cap(&note, MAX_MESSAGE_CHARS, &note).into_owned(),
            ));
        }
    }
    for (name, value) in props {
        w.empty("property", &[("name", &name), ("value", &xml_safe(&value))]);
    }
    w.close("properties");
}

fn testcase(
    w: &mut Xml<'_>,
    report: &GateReport,
    c: &Check,
    policy: &str,
    failed: bool,
    names: &mut Names,
) {
    let (name, classname) = names.of(c);
    let case = [("name", name), ("classname", classname)];
    // Built only for failures and skips: most checks pass and need none of it.
    let one_line = || {
        let at = c
            .line()
            .map(|l| format!(" ({policy}:{l})"))
            .unwrap_or_default();
        let text = format!(
            "{classname} / {}: {}{at}",
            test_label(c),
            capped_message(report, c)
        );
        xml_safe(&single_line(&text)).into_owned()
    };

    let (element, note) = if failed {
        (Some("failure"), None)
    } else {
        match c.status {
            Status::Skip => (Some("skipped"), None),
            Status::Warn => (
                None,
                Some(format!("warning: {}", capped_message(report, c))),
            ),
            Status::Waived => (None, Some(format!("waived: {}", capped_message(report, c)))),
            Status::Pass | Status::Fail => (None, None),
        }
    };
    if element.is_none() && note.is_none() {
        w.empty("testcase", &case);
        return;
    }
    w.open("testcase", &case);
    if let Some(name) = element {
        let message = one_line();
        if name == "failure" {
            w.open(name, &[("message", &message), ("type", c.rule.name())]);
            w.text(&xml_safe(&detail(report, c, policy)));
            w.close(name);
        } else {
            w.empty(name, &[("message", &message)]);
        }
    }
    if let Some(note) = note {
        w.open("system-out", &[]);
        w.text(&xml_safe(&note));
        w.close("system-out");
    }
    w.close("testcase");
}

/// Bytes gathered before they go to the output.
const SPILL_AT: usize = 1 << 16;

/// An XML writer laid out as quick-xml's indenting writer lays it out (the report's bytes
/// stayed the same when it replaced it): each tag on its own line, two spaces a level, except
/// that an end tag follows its text directly. Attribute values and text are escaped
/// (`<>&'"`); making them characters XML allows is [`xml_safe`]'s job. The first write error
/// is kept and returned by [`Xml::finish`].
struct Xml<'o> {
    out: &'o mut dyn io::Write,
    buf: Vec<u8>,
    error: Option<io::Error>,
    /// How many elements are open.
    depth: usize,
    /// Whether the next tag starts a new line (not after text).
    line_break: bool,
}

impl<'o> Xml<'o> {
    fn new(out: &'o mut dyn io::Write) -> Xml<'o> {
        Xml {
            out,
            buf: Vec::with_capacity(SPILL_AT + 4096),
            error: None,
            depth: 0,
            line_break: false,
        }
    }

    fn declaration(&mut self) {
        self.buf
            .extend_from_slice(br#"<?xml version="1.0" encoding="UTF-8"?>"#);
        self.line_break = true;
    }

    fn tag(&mut self, before: &[u8], name: &str) {
        if self.line_break {
            self.buf.push(b'\n');
            for _ in 0..self.depth {
                self.buf.extend_from_slice(b"  ");
            }
        }
        self.buf.extend_from_slice(before);
        self.buf.extend_from_slice(name.as_bytes());
        self.line_break = true;
    }

    fn attributes(&mut self, attributes: &[(&str, &str)]) {
        for (name, value) in attributes {
            self.buf.push(b' ');
            self.buf.extend_from_slice(name.as_bytes());
            self.buf.extend_from_slice(b"=\"");
            escape(&mut self.buf, value);
            self.buf.push(b'"');
        }
    }

    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.tag(b"<", name);
        self.attributes(attributes);
        self.buf.push(b'>');
        self.depth += 1;
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.tag(b"<", name);
        self.attributes(attributes);
        self.buf.extend_from_slice(b"/>");
    }

    fn text(&mut self, text: &str) {
        escape(&mut self.buf, text);
        self.line_break = false;
    }

    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.tag(b"</", name);
        self.buf.push(b'>');
    }

    /// Hands the buffer to the output once it is full.
    fn spill(&mut self) {
        if self.buf.len() >= SPILL_AT {
            self.write_out();
        }
    }

    fn write_out(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(&self.buf)
        {
            self.error = Some(e);
        }
        self.buf.clear();
    }

    fn finish(mut self) -> io::Result<()> {
        self.write_out();
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

/// Appends `s` with the five characters that XML markup gives meaning to escaped.
fn escape(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let entity: &[u8] = match b {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            b'\'' => b"&apos;",
            b'"' => b"&quot;",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(entity);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// A scope by the names it shares with its checks: split, class and size.
type ScopeKey = (Arc<str>, Option<Arc<str>>, Option<Size>);

/// The `name` and `classname` of a check, labelled, capped and filtered once, not per check:
/// the classname of the last scope is kept while the checks of one scope (a dozen, next to
/// each other) are written, and the name of each metric and rule (a policy has a handful; its
/// 120,000 checks repeat them) is kept for the run.
#[derive(Default)]
struct Names {
    scope: Option<ScopeKey>,
    classname: String,
    tests: Vec<((Option<Metric>, RuleKind), String)>,
}

impl Names {
    fn of(&mut self, c: &Check) -> (&str, &str) {
        let same = matches!(&self.scope, Some((split, class, size))
            if Arc::ptr_eq(split, &c.split)
                && class.as_ref().map(Arc::as_ptr) == c.class.as_ref().map(Arc::as_ptr)
                && *size == c.size);
        if !same {
            let label = place_label(c);
            self.classname = xml_safe(&cap(&label, MAX_NAME_CHARS, &label)).into_owned();
            self.scope = Some((Arc::clone(&c.split), c.class.clone(), c.size));
        }
        let key = (c.metric, c.rule);
        let i = match self.tests.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.tests
                    .push((key, xml_safe(&test_label(c)).into_owned()));
                self.tests.len() - 1
            }
        };
        (&self.tests[i].1, &self.classname)
    }
}

fn detail(report: &GateReport, c: &Check, policy: &str) -> String {
    let num = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |v| format!("{v}"));
    let mut s = format!(
        "{}\nsplit: {}\nscope: {}\nmetric: {}\nrule: {} (severity {})\nbaseline: {}\ncandidate: {}\nthreshold: {}\n",
        capped_message(report, c),
        cap(&c.split, MAX_NAME_CHARS, &c.split),
        {
            let scope = scope_label(c);
            cap(&scope, MAX_NAME_CHARS, &scope).into_owned()
        },
        c.metric.map_or("none", |m| m.name()),
        c.rule,
        c.severity.name(),
        num(c.baseline()),
        num(c.candidate()),
        num(c.threshold()),
    );
    if let Some(line) = c.line() {
        s.push_str(&format!("policy: {policy}:{line}\n"));
    }
    s
}

fn single_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Replaces every character XML 1.0 forbids (most C0 controls, surrogates, U+FFFE, U+FFFF)
/// with U+FFFD, so that no name or message can make the file invalid.
pub(crate) fn xml_safe(s: &str) -> Cow<'_, str> {
    let forbidden = |c: char| {
        matches!(c, '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
            && !matches!(c, '\t' | '\n' | '\r')
    };
    if !s.contains(forbidden) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if forbidden(c) { '\u{FFFD}' } else { c })
            .collect(),
    )
}
