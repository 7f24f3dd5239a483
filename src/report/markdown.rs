//! The Markdown report, for PR comments and job summaries.
//!
//! Layout: the verdict, a table of split-level metrics, the failing and warning checks worst
//! first, then per-class detail inside `<details>`. The whole report stays under
//! [`MAX_MARKDOWN_CHARS`] however many classes there are: rows that do not fit are counted,
//! never silently dropped. Every untrusted string goes through [`escape_markdown`].

use std::fmt::Write as _;

use super::ReportContext;
use super::number::{f4, signed4};
use super::text::{self, escape_markdown};
use super::words::{count, message};
use crate::gate::{Check, GateReport, RuleKind, Status, Verdict};
use crate::model::{Metric, Task};

/// The size limit of the Markdown report, in characters. GitHub comments take 65,536; this
/// leaves room for the comment marker and a footer.
pub const MAX_MARKDOWN_CHARS: usize = 60_000;

/// Names longer than this are shortened in the Markdown (never in JSON).
const MAX_NAME_CHARS: usize = 80;

/// A check's message holds the values, the threshold and any waiver note; longer ones are
/// shortened (a class name in it can be arbitrarily long).
const MAX_MESSAGE_CHARS: usize = 300;

/// Expired waivers listed by name; the rest are counted. Bounded so that a policy with
/// hundreds of stale waivers cannot push the report over its size limit.
const MAX_EXPIRED_SHOWN: usize = 20;

/// Notes shown per eval; the rest are counted (an eval may have a note per split).
const MAX_NOTES_SHOWN: usize = 5;

/// Shortens `name` to [`MAX_NAME_CHARS`] (distinct names stay distinct), then escapes it.
fn name(text: &str) -> String {
    escape_markdown(&text::name(text, MAX_NAME_CHARS))
}

/// Shortens `text` to `max` characters, then escapes it.
fn shorten(text: &str, max: usize) -> String {
    escape_markdown(&text::cap(text, max, text))
}

fn status_cell(status: Status) -> &'static str {
    match status {
        Status::Fail => "❌ fail",
        Status::Warn => "⚠️ warn",
        Status::Waived => "🏳️ waived",
        Status::Skip => "⏭️ skip",
        Status::Pass => "✅ pass",
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), f4)
}

fn delta(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), signed4)
}

fn threshold(c: &Check) -> String {
    let Some(t) = c.threshold() else {
        return "present".to_owned();
    };
    match c.rule {
        RuleKind::Min => format!("≥ {}", f4(t)),
        RuleKind::Max => format!("≤ {}", f4(t)),
        RuleKind::MaxDrop => format!("drop ≤ {}", f4(t)),
        RuleKind::MaxDropRel => format!("drop ≤ {:.2}%", t * 100.0),
        RuleKind::Presence => "present".to_owned(),
    }
}

/// One row per (split, scope, metric): the rule fields of that metric merged into one cell.
struct Row<'a> {
    checks: Vec<&'a Check>,
}

impl Row<'_> {
    fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .min()
            .unwrap_or(Status::Pass)
    }

    fn thresholds(&self) -> String {
        self.checks
            .iter()
            .map(|c| threshold(c))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// split, class, size, metric.
type RowKey<'a> = (
    &'a str,
    Option<&'a str>,
    Option<crate::model::Size>,
    Option<Metric>,
);

fn key(c: &Check) -> RowKey<'_> {
    (&*c.split, c.class.as_deref(), c.size, c.metric)
}

/// Groups the checks of one (split, scope, metric) into a row. The gate emits them next to
/// each other, so grouping is one pass over neighbours, not a map of 100,000 keys.
fn rows<'a>(checks: impl Iterator<Item = &'a Check>) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = Vec::new();
    for c in checks {
        match rows.last_mut() {
            Some(row) if key(row.checks[0]) == key(c) => row.checks.push(c),
            _ => rows.push(Row { checks: vec![c] }),
        }
    }
    rows
}

/// Renders the report in at most `budget` characters.
pub(super) fn render(report: &GateReport, ctx: &ReportContext, budget: usize) -> String {
    let mut head = String::new();
    let s = &report.summary;
    let (icon, verdict) = match report.verdict {
        Verdict::Pass if s.warn > 0 => ("⚠️", "passed with warnings"),
        Verdict::Pass => ("✅", "passed"),
        Verdict::Fail => ("❌", "failed"),
    };
    let _ = writeln!(head, "## {icon} evalgate: {verdict}\n");
    let mut counts: Vec<String> = Vec::new();
    for status in Status::ALL {
        let n = s.get(status);
        if n > 0 || status == Status::Fail || status == Status::Pass {
            let label = match status {
                Status::Fail => "failed".to_owned(),
                Status::Warn if n == 1 => "warning".to_owned(),
                Status::Warn => "warnings".to_owned(),
                Status::Waived => "waived".to_owned(),
                Status::Skip => "skipped".to_owned(),
                Status::Pass => "passed".to_owned(),
            };
            counts.push(if status == Status::Fail && n > 0 {
                format!("**{n} {label}**")
            } else {
                format!("{n} {label}")
            });
        }
    }
    let _ = writeln!(
        head,
        "{} of {}.",
        counts.join(" · "),
        count(s.total(), "check")
    );
    if report.strict && s.warn > 0 {
        head.push_str("Warnings fail this gate (`--strict`).\n");
    }
    head.push('\n');
    // Paths go in as plain escaped text: backslash escapes do not work inside code spans.
    let baseline = ctx
        .baseline
        .as_ref()
        .map_or_else(|| "none".to_owned(), eval_cell);
    let _ = writeln!(
        head,
        "Policy {} · baseline {baseline} · candidate {} · {}\n",
        name(&ctx.policy),
        eval_cell(&ctx.candidate),
        report.task
    );
    // How the evals were read, before any table: a note changes how their checks read.
    let evals = [
        ("baseline", ctx.baseline.as_ref()),
        ("candidate", Some(&ctx.candidate)),
    ];
    let mut noted = false;
    for (role, info) in evals.into_iter().filter_map(|(r, i)| Some((r, i?))) {
        for note in info.notes.iter().take(MAX_NOTES_SHOWN) {
            let _ = writeln!(
                head,
                "- ⚠️ {role}: {}",
                shorten(&note.to_string(), MAX_MESSAGE_CHARS)
            );
            noted = true;
        }
        if info.notes.len() > MAX_NOTES_SHOWN {
            let _ = writeln!(
                head,
                "- ⚠️ {role}: {} more; the JSON report lists every note",
                info.notes.len() - MAX_NOTES_SHOWN
            );
        }
    }
    if noted {
        head.push('\n');
    }
    if s.skip == s.total() {
        head.push_str("**No check could be evaluated**: every check was skipped. The JSON and JUnit reports give each reason.\n\n");
    }

    let split_rows = rows(report.checks.iter().filter(|c| c.class.is_none()));
    let bad = report.worst();
    let class_rows = rows(report.checks.iter().filter(|c| c.class.is_some()));

    let mut tail = String::new();
    let expired: Vec<_> = report.waivers.iter().filter(|w| w.expired).collect();
    if !expired.is_empty() {
        tail.push_str("### Expired waivers\n\n");
        for w in expired.iter().take(MAX_EXPIRED_SHOWN) {
            let _ = writeln!(
                tail,
                "- {} expired on {} (policy line {}): {}",
                name(&w.scope),
                w.until,
                w.line,
                name(&w.reason)
            );
        }
        if expired.len() > MAX_EXPIRED_SHOWN {
            let _ = writeln!(
                tail,
                "- and {} more; the JSON report lists every waiver",
                expired.len() - MAX_EXPIRED_SHOWN
            );
        }
        tail.push('\n');
    }
    let unit = match report.task {
        Task::ObjectDetection => "0.01 = 1 mAP point",
        Task::SemanticSegmentation => "0.01 = 1 point of IoU, precision, recall or F1",
    };
    let _ = writeln!(
        tail,
        "<sub>evalgate {} · thresholds and drops are in metric points ({unit})</sub>",
        env!("CARGO_PKG_VERSION")
    );

    // Fixed parts first; the tables share what is left, failures before passes.
    let mut left = budget.saturating_sub(chars(&head) + chars(&tail) + 600);
    let mut body = String::new();

    body.push_str("### Split metrics\n\n");
    if split_rows.is_empty() {
        body.push_str("No split-level rules.\n\n");
    } else {
        let header = "| Split | Scope | Metric | Baseline | Candidate | Δ | Threshold | Status |\n|---|---|---|---:|---:|---:|---|---|\n";
        let lines = split_rows.iter().map(|r| {
            let c = r.checks[0];
            format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                name(&c.split),
                c.size.map_or("split".to_owned(), |s| format!("size {s}")),
                c.metric.map_or("presence", |m| m.name()),
                num(c.baseline()),
                num(c.candidate()),
                delta(c.delta()),
                r.thresholds(),
                status_cell(r.worst()),
            )
        });
        table(
            &mut body,
            &mut left,
            header,
            lines,
            split_rows.len(),
            "split rows",
        );
    }

    if !bad.is_empty() {
        let _ = writeln!(body, "### Failures and warnings ({})\n", bad.len());
        let header = "| Status | Split | Scope | Metric | Rule | Baseline | Candidate | Δ | Threshold | Detail |\n|---|---|---|---|---|---:|---:|---:|---|---|\n";
        let lines = bad.iter().map(|c| {
            let at = c
                .line()
                .map(|l| format!(" (policy line {l})"))
                .unwrap_or_default();
            format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{at} |\n",
                status_cell(c.status),
                name(&c.split),
                scope_cell(c),
                c.metric.map_or("–", |m| m.name()),
                c.rule,
                num(c.baseline()),
                num(c.candidate()),
                delta(c.delta()),
                threshold(c),
                shorten(&message(report, c), MAX_MESSAGE_CHARS),
            )
        });
        table(
            &mut body,
            &mut left,
            header,
            lines,
            bad.len(),
            "failing and warning checks",
        );
    }

    if !class_rows.is_empty() {
        let failing = class_rows
            .iter()
            .filter(|r| matches!(r.worst(), Status::Fail | Status::Warn))
            .count();
        let _ = writeln!(
            body,
            "<details><summary>Per-class checks: {}, {failing} with failures or warnings</summary>\n",
            count(class_rows.len(), "row")
        );
        let header = "| Split | Class | Size | Metric | Baseline | Candidate | Δ | Threshold | Status |\n|---|---|---|---|---:|---:|---:|---|---|\n";
        // Worst rows first, so a cut keeps what matters.
        let mut sorted: Vec<&Row<'_>> = class_rows.iter().collect();
        sorted.sort_by_key(|r| r.worst());
        let lines = sorted.iter().map(|r| {
            let c = r.checks[0];
            format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                name(&c.split),
                c.class.as_deref().map(name).unwrap_or_default(),
                c.size.map_or("–", |s| s.name()),
                c.metric.map_or("presence", |m| m.name()),
                num(c.baseline()),
                num(c.candidate()),
                delta(c.delta()),
                r.thresholds(),
                status_cell(r.worst()),
            )
        });
        table(
            &mut body,
            &mut left,
            header,
            lines,
            sorted.len(),
            "class rows",
        );
        body.push_str("</details>\n\n");
    }

    let mut out = head;
    out.push_str(&body);
    out.push_str(&tail);
    out
}

/// An eval's source, linked to its page in Roboflow when that is known. The URL's parts are
/// percent-encoded (`EvalMeta::app_url`), so untrusted slugs cannot break out of the link.
fn eval_cell(info: &super::EvalInfo) -> String {
    match info.meta.app_url() {
        // Server-chosen slugs could make the link arbitrarily long; a long one is left out.
        Some(url) if url.len() <= 300 => format!("[{}]({url})", name(&info.source)),
        _ => name(&info.source),
    }
}

/// The scope with its kind, so that a class named `small` or `overall` cannot pass for the
/// size bucket or the whole split.
fn scope_cell(c: &Check) -> String {
    match (&c.class, c.size) {
        (None, None) => "split".to_owned(),
        (None, Some(s)) => format!("size {s}"),
        (Some(class), None) => format!("class {}", name(class)),
        (Some(class), Some(s)) => format!("class {} / size {s}", name(class)),
    }
}

/// Appends a table, row by row, while `left` characters remain; counts what did not fit.
fn table(
    out: &mut String,
    left: &mut usize,
    header: &str,
    lines: impl Iterator<Item = String>,
    total: usize,
    what: &str,
) {
    let note_reserve = 120;
    if *left < chars(header) + note_reserve {
        let _ = writeln!(
            out,
            "_{total} {what} left out to keep this report under {MAX_MARKDOWN_CHARS} characters; the JSON report has them all._\n"
        );
        return;
    }
    out.push_str(header);
    *left -= chars(header);
    let mut shown = 0;
    for line in lines {
        let n = chars(&line);
        if n + note_reserve > *left {
            break;
        }
        out.push_str(&line);
        *left -= n;
        shown += 1;
    }
    out.push('\n');
    if shown < total {
        let _ = writeln!(
            out,
            "_{} more {what} left out to keep this report under {MAX_MARKDOWN_CHARS} characters; the JSON report has them all._\n",
            total - shown
        );
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}
