//! The terminal summary: the verdict, the counts, the worst regressions. Not a dump of every
//! check; the reports have those.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use evalgate::gate::{GateReport, Status, Verdict};
use evalgate::report::text::{cap, terminal_safe};
use evalgate::report::{ReportContext, place_label, test_label};

use super::output::Output;

/// How many failing or warning checks the summary lists.
const WORST_SHOWN: usize = 10;
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
        evalgate::report::words::count(s.total(), "check"),
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts.join(", ")
        }
    )?;
    let worst = report.worst();
    for c in worst.iter().take(WORST_SHOWN) {
        let (st, mark) = if c.status == Status::Fail {
            (RED, "fail")
        } else {
            (YELLOW, "warn")
        };
        let at = c
            .line()
            .map(|l| format!(" {DIM}({}:{l}){DIM:#}", ctx.policy))
            .unwrap_or_default();
        let scope = place_label(c);
        writeln!(
            out,
            "  {st}{mark}{st:#} {} / {}: {}{at}",
            terminal_safe(&cap(&scope, MAX_LABEL_CHARS, &scope)),
            test_label(c),
            terminal_safe(&{
                let m = evalgate::report::message(report, c);
                cap(&m, MAX_MESSAGE_CHARS, &m).into_owned()
            })
        )?;
    }
    if worst.len() > WORST_SHOWN {
        writeln!(
            out,
            "  … and {} more; see the reports",
            worst.len() - WORST_SHOWN
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
