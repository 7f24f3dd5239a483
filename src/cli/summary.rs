//! The terminal summary: the verdict, the counts, the worst regressions. Not a dump of every
//! check; the reports have those.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use evalgate::gate::{Check, GateReport, Status, Verdict};
use evalgate::report::text::{cap, terminal_safe, visible};
use evalgate::report::{ReportContext, place_label, test_label, words};

use super::output::Output;

/// How many failing or warning checks the summary lists: the top of the ranking, not a
/// dump.
const WORST_SHOWN: usize = 5;
/// How many waived and skipped checks it lists with their reasons.
const EXCUSED_SHOWN: usize = 5;
/// Untrusted names and messages are cut to this many characters (with a hash that keeps
/// them distinct); the JSON report has them whole.
const MAX_LABEL_CHARS: usize = 200;
const MAX_MESSAGE_CHARS: usize = 400;

const RED: Style = AnsiColor::Red.on_default().bold();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const DIM: Style = Style::new().dimmed();

pub(crate) fn error_label() -> String {
    format!("{RED}error{RED:#}")
}

pub(crate) fn print(
    out: &mut dyn Write,
    report: &GateReport,
    ctx: &ReportContext,
    outputs: &[Output],
) -> io::Result<()> {
    let s = &report.summary;
    let (style, word) = match report.verdict {
        Verdict::Fail => (RED, "FAIL"),
        Verdict::Pass if s.warn > 0 => (YELLOW, "PASS with warnings"),
        Verdict::Pass => (GREEN, "PASS"),
    };
    let counts: Vec<String> = Status::ALL
        .iter()
        .filter(|st| s.get(**st) > 0)
        .map(|st| format!("{} {}", s.get(*st), st.name()))
        .collect();
    writeln!(
        out,
        "evalgate: {style}{word}{style:#}: {} ({})",
        words::count(s.total(), "check"),
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts.join(", ")
        }
    )?;
    // The headline reads the split level and everything that did not pass.
    let ranked = report.ranked_where(|c| c.status != Status::Pass || c.level() == 0);
    let safe = |t: &str| terminal_safe(&cap(t, MAX_LABEL_CHARS, t));
    let line = words::headline(report, &ranked, &|n| safe(&visible(n)), &|t| {
        terminal_safe(&cap(t, MAX_MESSAGE_CHARS, t))
    });
    writeln!(out, "  {line}")?;
    let at = |c: &Check| {
        c.line()
            .map(|l| format!(" {DIM}({}:{l}){DIM:#}", ctx.policy))
            .unwrap_or_default()
    };
    let label = |c: &Check| {
        let scope = place_label(c);
        format!("{} / {}", safe(&scope), test_label(c))
    };
    let worst: Vec<&Check> = ranked
        .iter()
        .copied()
        .take_while(|c| matches!(c.status, Status::Fail | Status::Warn))
        .collect();
    for c in worst.iter().take(WORST_SHOWN) {
        let (st, mark) = if c.status == Status::Fail {
            (RED, "fail")
        } else {
            (YELLOW, "warn")
        };
        let change = words::change(c);
        writeln!(
            out,
            "  {st}{mark}{st:#} {}: {}{}",
            label(c),
            terminal_safe(&cap(&change, MAX_MESSAGE_CHARS, &change)),
            at(c)
        )?;
    }
    if worst.len() > WORST_SHOWN {
        writeln!(
            out,
            "  … and {} more; see the reports",
            worst.len() - WORST_SHOWN
        )?;
    }
    // Waived and skipped checks with their reasons: a waiver is a promise that someone
    // looked, and a skip is a check that did not happen.
    let excused: Vec<&Check> = ranked
        .iter()
        .copied()
        .filter(|c| matches!(c.status, Status::Waived | Status::Skip))
        .collect();
    for c in excused.iter().take(EXCUSED_SHOWN) {
        let why = words::note(report, c).unwrap_or_default();
        writeln!(
            out,
            "  {DIM}{}{DIM:#} {}: {}",
            c.status.name(),
            label(c),
            terminal_safe(&cap(&why, MAX_MESSAGE_CHARS, &why))
        )?;
    }
    if excused.len() > EXCUSED_SHOWN {
        writeln!(
            out,
            "  … and {} more waived or skipped; see the reports",
            excused.len() - EXCUSED_SHOWN
        )?;
    }
    for w in report.waivers.iter().filter(|w| w.expired) {
        writeln!(
            out,
            "{YELLOW}warning{YELLOW:#}: waiver for {} expired on {} ({}:{}); it no longer waives anything",
            terminal_safe(&cap(&w.scope, MAX_LABEL_CHARS, &w.scope)),
            w.until,
            ctx.policy,
            w.line
        )?;
    }
    if report.verdict == Verdict::Fail && ctx.exit_code == 0 {
        writeln!(
            out,
            "{DIM}--report-only: exiting 0 although the gate failed{DIM:#}"
        )?;
    }
    for o in outputs {
        if let Some(p) = &o.path {
            writeln!(
                out,
                "{DIM}wrote the {} report to {}{DIM:#}",
                o.format.name(),
                p.display()
            )?;
        }
    }
    Ok(())
}
