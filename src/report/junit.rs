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

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

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
use crate::gate::{Check, GateReport, Status};
use crate::model::Size;

pub(super) fn render(
    report: &GateReport,
    ctx: &ReportContext,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let mut w = Writer::new_with_indent(io::BufWriter::with_capacity(1 << 16, out), b' ', 2);
    let mut names = Names::default();
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

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
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "evalgate"));
    root.push_attribute(("tests", report.checks.len().to_string().as_str()));
    root.push_attribute(("failures", total_failures.to_string().as_str()));
    root.push_attribute(("errors", "0"));
    w.write_event(Event::Start(root))?;

    for (n, (split, checks)) in suites.into_iter().enumerate() {
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", &*xml_safe(&cap(split, MAX_NAME_CHARS, split))));
        suite.push_attribute(("tests", checks.len().to_string().as_str()));
        let failures = checks.iter().filter(|c| failed(c)).count();
        suite.push_attribute(("failures", failures.to_string().as_str()));
        suite.push_attribute(("errors", "0"));
        let skipped = checks.iter().filter(|c| c.status == Status::Skip).count();
        suite.push_attribute(("skipped", skipped.to_string().as_str()));
        w.write_event(Event::Start(suite))?;

        // The run's properties go on the first suite only: readers that gather every suite's
        // properties into one map (xunitparser) refuse a name seen twice.
        if n > 0 {
            for c in checks {
                testcase(&mut w, report, c, &ctx.policy, failed(c), &mut names)?;
            }
            w.write_event(Event::End(BytesEnd::new("testsuite")))?;
            continue;
        }
        w.write_event(Event::Start(BytesStart::new("properties")))?;
        let mut props: Vec<(String, String)> = vec![
            ("evalgate.verdict".into(), report.verdict.name().to_owned()),
            ("evalgate.policy".into(), ctx.policy.clone()),
            ("evalgate.candidate".into(), ctx.candidate.source.clone()),
            ("evalgate.task".into(), report.task.name().to_owned()),
        ];
        if let Some(b) = &ctx.baseline {
            props.push(("evalgate.baseline".into(), b.source.clone()));
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
            let mut p = BytesStart::new("property");
            p.push_attribute(("name", name.as_str()));
            p.push_attribute(("value", &*xml_safe(&value)));
            w.write_event(Event::Empty(p))?;
        }
        w.write_event(Event::End(BytesEnd::new("properties")))?;

        for c in checks {
            testcase(&mut w, report, c, &ctx.policy, failed(c), &mut names)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut inner = w.into_inner();
    io::Write::write_all(&mut inner, b"\n")?;
    io::Write::flush(&mut inner)
}

fn testcase<W: io::Write>(
    w: &mut Writer<W>,
    report: &GateReport,
    c: &Check,
    policy: &str,
    failed: bool,
    names: &mut Names,
) -> io::Result<()> {
    let mut case = BytesStart::new("testcase");
    case.push_attribute(("name", &*xml_safe(&test_label(c))));
    let classname = names.classname(c);
    case.push_attribute(("classname", classname));
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
        return w.write_event(Event::Empty(case));
    }
    w.write_event(Event::Start(case))?;
    if let Some(name) = element {
        let mut el = BytesStart::new(name);
        el.push_attribute(("message", one_line().as_str()));
        if name == "failure" {
            el.push_attribute(("type", c.rule.name()));
            w.write_event(Event::Start(el))?;
            let detail = detail(report, c, policy);
            w.write_event(Event::Text(BytesText::new(&xml_safe(&detail))))?;
            w.write_event(Event::End(BytesEnd::new(name)))?;
        } else {
            w.write_event(Event::Empty(el))?;
        }
    }
    if let Some(note) = note {
        w.write_event(Event::Start(BytesStart::new("system-out")))?;
        w.write_event(Event::Text(BytesText::new(&xml_safe(&note))))?;
        w.write_event(Event::End(BytesEnd::new("system-out")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testcase")))
}

/// A scope by the names it shares with its checks: split, class and size.
type ScopeKey = (Arc<str>, Option<Arc<str>>, Option<Size>);

/// The `classname` of the last scope, kept while the checks of one scope (a dozen, next to
/// each other) are written: labelling, capping and filtering it once per scope, not per check.
#[derive(Default)]
struct Names {
    scope: Option<ScopeKey>,
    classname: String,
}

impl Names {
    fn classname(&mut self, c: &Check) -> &str {
        let same = matches!(&self.scope, Some((split, class, size))
            if Arc::ptr_eq(split, &c.split)
                && class.as_ref().map(Arc::as_ptr) == c.class.as_ref().map(Arc::as_ptr)
                && *size == c.size);
        if !same {
            let label = place_label(c);
            self.classname = xml_safe(&cap(&label, MAX_NAME_CHARS, &label)).into_owned();
            self.scope = Some((Arc::clone(&c.split), c.class.clone(), c.size));
        }
        &self.classname
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
