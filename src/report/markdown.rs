//! The Markdown report, for PR comments and job summaries.
//!
//! Layout (docs/reports.md): the verdict; one sentence naming what matters most; the counts
//! and sources; a top table of at most ten rows (the split-level metrics, then the worst
//! failures); then, folded in `<details>`, every failure and warning, the waived and skipped
//! checks with their reasons, a chart of the largest class drops, and every class sorted by
//! Δ. Values are percentage points. Everything follows [`GateReport::ranked`]. The whole
//! report stays under [`MAX_MARKDOWN_CHARS`] however many classes there are: rows that do not
//! fit are counted, never silently dropped. Every untrusted string goes through
//! [`escape_markdown`], and none reaches a URL or the chart unfiltered.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::ReportContext;
use super::number::{pt, pt_delta};
use super::text::{self, escape_markdown, short_hash};
use super::words::{self, count, headline, note, plural, threshold};
use crate::gate::{Check, GateReport, Status, TOLERANCE, Verdict};
use crate::model::{Metric, OperatingPoint, Size, Task};

/// The size limit of the Markdown report, in characters. GitHub comments take 65,536; this
/// leaves room for the comment marker and a footer.
pub const MAX_MARKDOWN_CHARS: usize = 60_000;

/// Names longer than this are shortened in the Markdown (never in JSON), so that no row
/// pushes the numbers out of GitHub's ~870 px comment column.
const MAX_NAME_CHARS: usize = 40;

/// Policy and eval paths, waiver scopes and reasons are shortened to this.
const MAX_TEXT_CHARS: usize = 80;

/// Notes (skip reasons, waiver reasons) are shortened to this.
const MAX_NOTE_CHARS: usize = 300;

/// Rows in the top table.
const TOP_ROWS: usize = 10;

/// Classes in the chart.
const CHART_CLASSES: usize = 12;

/// Class names in the chart are cut to this many characters (before the hash suffix).
const CHART_LABEL_CHARS: usize = 24;

/// Notes shown per eval; the rest are counted (an eval may have a note per split).
const MAX_NOTES_SHOWN: usize = 5;

/// Expired waivers listed by name; the rest are counted. Bounded so that a policy with
/// hundreds of stale waivers cannot push the report over its size limit.
const MAX_EXPIRED_SHOWN: usize = 20;

/// The seven columns of the top table and of the table of every failure.
const CHECK_HEADER: &str = "| Status | Check | Baseline | Candidate | Δ | Threshold | Policy |\n|---|---|---:|---:|---:|---|---|\n";

/// Shortens `name` to [`MAX_NAME_CHARS`] (distinct names stay distinct), then escapes it.
fn name(text: &str) -> String {
    escape_markdown(&text::name(text, MAX_NAME_CHARS))
}

/// Shortens `text` to `max` characters, then escapes it.
fn shorten(text: &str, max: usize) -> String {
    escape_markdown(&text::cap(text, max, text))
}

/// A no-break space: a cell such as `−7.9 pt` or `⚠️ warn` must not wrap in the middle when
/// the comment column is narrow.
const NBSP: &str = "\u{a0}";

fn status_cell(status: Status) -> &'static str {
    match status {
        Status::Fail => "❌\u{a0}fail",
        Status::Warn => "⚠️\u{a0}warn",
        Status::Waived => "🏳️\u{a0}waived",
        Status::Skip => "⏭️\u{a0}skip",
        Status::Pass => "✅\u{a0}pass",
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), pt)
}

fn delta(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |d| pt_delta(d).replace(' ', NBSP))
}

/// The Δ of a row: with its interval and, when significant, in bold, for noise-tested rows.
fn delta_cell(report: &GateReport, checks: &[&Check]) -> String {
    let tested = checks.iter().find_map(|c| words::test_of(report, c));
    match tested {
        Some(t) if t.significant => format!(
            "**{}**{NBSP}[{},{NBSP}{}]",
            pt_delta(t.delta).replace(' ', NBSP),
            pt(t.ci_low),
            pt(t.ci_high)
        ),
        Some(t) => format!(
            "{}{NBSP}[{},{NBSP}{}]",
            pt_delta(t.delta).replace(' ', NBSP),
            pt(t.ci_low),
            pt(t.ci_high)
        ),
        None => delta(checks.first().and_then(|c| c.delta())),
    }
}

/// The rule fields of one (split, scope, metric), shown as one row.
struct Row<'a> {
    checks: Vec<&'a Check>,
}

impl<'a> Row<'a> {
    fn first(&self) -> &'a Check {
        self.checks[0]
    }

    fn worst(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .min()
            .unwrap_or(Status::Pass)
    }

    /// The check that decided the row's status: the first of the worst status.
    fn decisive(&self) -> &'a Check {
        let worst = self.worst();
        self.checks
            .iter()
            .copied()
            .find(|c| c.status == worst)
            .unwrap_or(self.checks[0])
    }

    /// The thresholds in rule order (`≥ 70.0, drop ≤ 1.0 pt`), whatever order the checks
    /// came in.
    fn thresholds(&self) -> String {
        let mut checks = self.checks.clone();
        checks.sort_by_key(|c| c.rule);
        checks
            .iter()
            .map(|c| threshold(c).replace(' ', NBSP))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// split, class, size, metric, predicted class.
type RowKey<'a> = (
    &'a str,
    Option<&'a str>,
    Option<Size>,
    Option<Metric>,
    Option<&'a str>,
);

fn key(c: &Check) -> RowKey<'_> {
    (
        &*c.split,
        c.class.as_deref(),
        c.size,
        c.metric,
        c.predicted(),
    )
}

/// What a row reads: `map50`, `confusion → background`, `presence`.
fn measure_cell(c: &Check) -> String {
    match (c.metric, c.predicted()) {
        (Some(m), _) => m.name().to_owned(),
        (None, Some(p)) => format!("confusion → {}", name(p)),
        (None, None) => "presence".to_owned(),
    }
}

/// A class name with its support, when the eval's confusion matrix gives it: `car (n = 412)`.
fn class_cell(c: &Check) -> String {
    let mut s = c.class.as_deref().map(name).unwrap_or_default();
    match (c.support(), c.baseline_support()) {
        (Some(n), Some(b)) if n != b => {
            let _ = write!(s, " (n = {n}, baseline {b})");
        }
        (Some(n), _) => {
            let _ = write!(s, " (n = {n})");
        }
        (None, _) => {}
    }
    s
}

/// Failing class checks shown with evidence, and images shown for each.
const EVIDENCE_CHECKS: usize = 5;
const EVIDENCE_IMAGES: usize = 5;

/// For the worst failing class checks with a noise test, the images where the class fared
/// worse, by name: where to look first.
fn evidence(report: &GateReport, failing: &[&Check]) -> String {
    let mut out = String::new();
    let with: Vec<(&Check, &crate::gate::NoiseTest)> = failing
        .iter()
        .filter(|c| c.status == Status::Fail)
        .filter_map(|c| Some((*c, words::test_of(report, c)?)))
        .filter(|(_, t)| !t.evidence.is_empty())
        .take(EVIDENCE_CHECKS)
        .collect();
    if with.is_empty() {
        return out;
    }
    out.push_str("Images where failing classes fared worse (false negatives, false positives: baseline → candidate):\n\n");
    for (c, t) in with {
        let images: Vec<String> = t
            .evidence
            .iter()
            .take(EVIDENCE_IMAGES)
            .map(|e| {
                format!(
                    "{} (FN {} → {}, FP {} → {})",
                    name(&e.image_name),
                    e.baseline_fn,
                    e.candidate_fn,
                    e.baseline_fp,
                    e.candidate_fp
                )
            })
            .collect();
        let more = t.worse_images.saturating_sub(EVIDENCE_IMAGES);
        let _ = write!(out, "- {}: {}", check_cell(c), images.join(", "));
        if more > 0 {
            let _ = write!(
                out,
                ", and {more} more (the JSON report lists {})",
                t.evidence.len()
            );
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Where precision, recall and F1 were read, for the header.
fn operating_point_line(report: &GateReport) -> Option<String> {
    let used = report.operating_point.as_ref()?;
    Some(match used.point {
        OperatingPoint::Confidence(p) => format!("Precision, recall and F1 at confidence {p}."),
        OperatingPoint::Optimal => {
            let list = |m: &std::collections::BTreeMap<String, f64>| {
                m.iter()
                    .map(|(split, c)| format!("{} {c:.2}", name(split)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut line = format!(
                "Precision, recall and F1 at each eval's F1-optimal confidence: candidate {}",
                list(&used.candidate)
            );
            if let Some(b) = &used.baseline {
                let _ = write!(line, "; baseline {}", list(b));
            }
            line.push('.');
            line
        }
    })
}

/// Groups the checks of one (split, scope, metric) into a row. The gate emits them next to
/// each other, so grouping is one pass over neighbours, not a map of 100,000 keys.
fn neighbour_rows<'a>(checks: impl Iterator<Item = &'a Check>) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = Vec::new();
    for c in checks {
        match rows.last_mut() {
            Some(row) if key(row.first()) == key(c) => row.checks.push(c),
            _ => rows.push(Row { checks: vec![c] }),
        }
    }
    rows
}

/// Groups ranked checks into rows, each row where its worst check ranks (for the few
/// split-level checks).
fn ranked_rows<'a>(checks: impl Iterator<Item = &'a Check>) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = Vec::new();
    let mut index: HashMap<RowKey<'a>, usize> = HashMap::new();
    for c in checks {
        match index.get(&key(c)) {
            Some(&i) => rows[i].checks.push(c),
            None => {
                index.insert(key(c), rows.len());
                rows.push(Row { checks: vec![c] });
            }
        }
    }
    rows
}

/// Where a check is, with each part's kind so that a class named `small` cannot pass for
/// the size bucket: `valid`, `valid · size small`, `valid · class car · size small`.
fn place(c: &Check) -> String {
    let mut s = name(&c.split);
    if let Some(class) = &c.class {
        let _ = write!(s, " · class {}", name(class));
    }
    if let Some(size) = c.size {
        let _ = write!(s, " · size {size}");
    }
    s
}

/// `valid · class car · map50`, or `… · presence`.
fn check_cell(c: &Check) -> String {
    format!("{} · {}", place(c), measure_cell(c))
}

/// The policy line, linked to the policy file at the commit under test when the run knows
/// it. The URL comes from the caller (built from CI variables); no eval text is in it.
fn line_cell(c: &Check, ctx: &ReportContext) -> String {
    match (c.line(), &ctx.policy_url) {
        (Some(l), Some(url)) => format!("[line {l}]({url}#L{l})"),
        (Some(l), None) => format!("line {l}"),
        (None, _) => "–".to_owned(),
    }
}

/// A row of the seven-column tables for a group of rule fields.
fn row_line(report: &GateReport, r: &Row<'_>, ctx: &ReportContext) -> String {
    let c = r.first();
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        status_cell(r.worst()),
        check_cell(c),
        num(c.baseline()),
        num(c.candidate()),
        delta_cell(report, &r.checks),
        r.thresholds(),
        line_cell(r.decisive(), ctx),
    )
}

/// Renders the report in at most `budget` characters.
pub(super) fn render(report: &GateReport, ctx: &ReportContext, budget: usize) -> String {
    // Every check the Markdown shows ranked: all but the passing class checks, which only
    // the class table shows, in its own order.
    let ranked = report.ranked_where(|c| c.status != Status::Pass || c.level() < 2);
    let s = &report.summary;

    let mut head = String::new();
    let (icon, verdict) = match report.verdict {
        Verdict::Pass if s.warn > 0 => ("⚠️", "passed with warnings"),
        Verdict::Pass => ("✅", "passed"),
        Verdict::Fail => ("❌", "failed"),
    };
    let _ = writeln!(head, "## {icon} evalgate: {verdict}\n");
    let _ = writeln!(
        head,
        "{}\n",
        headline(report, &ranked, &name, &|t| shorten(t, MAX_NOTE_CHARS))
    );
    let _ = writeln!(head, "{}", counts(report));
    if let Some(line) = operating_point_line(report) {
        let _ = writeln!(head, "{line}");
    }
    if let (Some(st), Some(images)) = (report.statistics, report.tests.first().map(|t| t.images)) {
        let tested = |m: &[Metric]| {
            report
                .checks
                .iter()
                .any(|c| c.test().is_some() && c.metric.is_some_and(|x| m.contains(&x)))
        };
        let what = match (
            tested(&[Metric::Precision, Metric::Recall, Metric::F1]),
            tested(&[Metric::Map50, Metric::Map50_95, Metric::Map75]),
        ) {
            (true, true) => "precision, recall, F1 and mAP",
            (false, true) => "mAP",
            _ => "precision, recall and F1",
        };
        let _ = writeln!(
            head,
            "Drops of {what} are noise-tested ({} {}, a paired bootstrap over {images} images, {} resamples, significance {} after correction): **bold** Δ is significant.",
            report.tests.len(),
            plural(report.tests.len(), "check"),
            st.resamples,
            st.significance
        );
    }
    if report.strict && s.warn > 0 {
        head.push_str("Warnings fail this gate (`--strict`).\n");
    }
    head.push('\n');
    head.push_str(&sources(report, ctx));
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
                shorten(&note.to_string(), MAX_NOTE_CHARS)
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
        head.push_str(
            "**No check could be evaluated**: every check was skipped; the reasons are below.\n\n",
        );
    }

    // The top table: the split-level metrics, then the worst failures, ten rows at most.
    let split_rows = ranked_rows(ranked.iter().copied().filter(|c| c.level() < 2));
    let bad: Vec<&Check> = ranked
        .iter()
        .copied()
        .take_while(|c| matches!(c.status, Status::Fail | Status::Warn))
        .collect();
    let class_bad: Vec<&Check> = bad.iter().copied().filter(|c| c.level() >= 2).collect();
    let split_shown = split_rows.len().min(TOP_ROWS);
    let class_shown = class_bad.len().min(TOP_ROWS - split_shown);
    if split_shown + class_shown > 0 {
        // Both lists are in ranked order, and the ranking puts status first, then scope
        // level: a stable sort by status merges them into it.
        let mut top: Vec<Row<'_>> = split_rows[..split_shown]
            .iter()
            .map(|r| Row {
                checks: r.checks.clone(),
            })
            .collect();
        top.extend(
            class_bad[..class_shown]
                .iter()
                .map(|c| Row { checks: vec![c] }),
        );
        top.sort_by_key(Row::worst);
        head.push_str(CHECK_HEADER);
        for r in &top {
            head.push_str(&row_line(report, r, ctx));
        }
        head.push('\n');
    } else {
        head.push_str("No split-level rules, and no class failed.\n\n");
    }
    head.push_str(&evidence(report, &class_bad));

    let mut tail = String::new();
    let expired: Vec<_> = report.waivers.iter().filter(|w| w.expired).collect();
    if !expired.is_empty() {
        tail.push_str("### Expired waivers\n\n");
        for w in expired.iter().take(MAX_EXPIRED_SHOWN) {
            let _ = writeln!(
                tail,
                "- {} expired on {} (policy line {}): {}",
                shorten(&w.scope, MAX_TEXT_CHARS),
                w.until,
                w.line,
                shorten(&w.reason, MAX_TEXT_CHARS)
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
        Task::ObjectDetection => "1 pt = 0.01 mAP",
        Task::SemanticSegmentation => "1 pt = 0.01 of IoU, F1, precision or recall",
    };
    let _ = writeln!(
        tail,
        "<sub>Values and thresholds in percentage points ({unit}); the JSON report has the raw fractions. evalgate {}</sub>",
        env!("CARGO_PKG_VERSION")
    );

    // Fixed parts first; the folded sections share what is left, in order of importance.
    let mut left = budget.saturating_sub(chars(&head) + chars(&tail) + 600);
    let mut body = String::new();

    if split_rows.len() > split_shown {
        let rest = &split_rows[split_shown..];
        let _ = writeln!(
            body,
            "<details><summary>{} more split-level {}</summary>\n",
            rest.len(),
            plural(rest.len(), "metric")
        );
        let lines = rest.iter().map(|r| row_line(report, r, ctx));
        table(
            &mut body,
            &mut left,
            CHECK_HEADER,
            lines,
            rest.len(),
            "split rows",
        );
        body.push_str("</details>\n\n");
    }

    if class_bad.len() > class_shown {
        let _ = writeln!(
            body,
            "<details><summary>All {} failing and warning checks, worst first</summary>\n",
            bad.len()
        );
        let lines = bad
            .iter()
            .map(|c| row_line(report, &Row { checks: vec![c] }, ctx));
        table(
            &mut body,
            &mut left,
            CHECK_HEADER,
            lines,
            bad.len(),
            "failing and warning checks",
        );
        body.push_str("</details>\n\n");
    }

    let excused: Vec<&Check> = ranked
        .iter()
        .copied()
        .filter(|c| matches!(c.status, Status::Waived | Status::Skip))
        .collect();
    if !excused.is_empty() {
        let mut parts = Vec::new();
        for (status, word) in [(Status::Waived, "waived"), (Status::Skip, "skipped")] {
            let n = s.get(status);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        let _ = writeln!(
            body,
            "<details><summary>Waived and skipped checks ({}), with their reasons</summary>\n",
            parts.join(", ")
        );
        let lines = excused.iter().map(|c| {
            let why = note(report, c).unwrap_or_default();
            let (icon, word) = match c.status {
                Status::Waived => ("🏳️", ""),
                _ => ("⏭️", "skipped: "),
            };
            format!(
                "- {icon} {} · {}: {word}{}\n",
                place(c),
                super::test_label(c),
                shorten(&why, MAX_NOTE_CHARS)
            )
        });
        table(
            &mut body,
            &mut left,
            "",
            lines,
            excused.len(),
            "waived and skipped checks",
        );
        body.push_str("</details>\n\n");
    }

    let class_rows = neighbour_rows(report.checks.iter().filter(|c| c.class.is_some()));
    if let Some(chart) = chart(&class_rows) {
        let n = chars(&chart);
        if n + 200 < left {
            body.push_str(&chart);
            left -= n;
        } else {
            body.push_str("_The chart of class drops was left out to keep this report under its size limit._\n\n");
        }
    }

    if !class_rows.is_empty() {
        let failing = class_rows
            .iter()
            .filter(|r| matches!(r.worst(), Status::Fail | Status::Warn))
            .count();
        let _ = writeln!(
            body,
            "<details><summary>Every class: {}, sorted by Δ; {failing} with failures or warnings</summary>\n",
            count(class_rows.len(), "row")
        );
        let header = "| Class | Split | Metric | Baseline | Candidate | Δ | Status |\n|---|---|---|---:|---:|---:|---|\n";
        // Largest drops first; rows without a Δ (new or vanished classes) last, each group
        // in plan order.
        // One integer key a row, computed once (a gate over 10,000 classes has 100,000 rows);
        // the row's index keeps ties in plan order.
        let mut keyed: Vec<(i64, usize)> = class_rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let d = r.first().delta().map_or(i64::MAX, |d| noise_free(d) as i64);
                (d, i)
            })
            .collect();
        keyed.sort_unstable();
        let sorted: Vec<&Row<'_>> = keyed.iter().map(|&(_, i)| &class_rows[i]).collect();
        let lines = sorted.iter().map(|r| {
            let c = r.first();
            let metric = measure_cell(c);
            format!(
                "| {} | {} | {}{} | {} | {} | {} | {} |\n",
                class_cell(c),
                name(&c.split),
                metric,
                c.size.map(|s| format!(" · size {s}")).unwrap_or_default(),
                num(c.baseline()),
                num(c.candidate()),
                delta_cell(report, &r.checks),
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

/// `**1 failed** · 2 warnings · 1 waived · 1 skipped · 8 passed of 13 checks.`
fn counts(report: &GateReport) -> String {
    let s = &report.summary;
    let mut parts: Vec<String> = Vec::new();
    for status in Status::ALL {
        let n = s.get(status);
        if n > 0 || status == Status::Fail || status == Status::Pass {
            let label = match status {
                Status::Fail => "failed",
                Status::Warn if n == 1 => "warning",
                Status::Warn => "warnings",
                Status::Waived => "waived",
                Status::Skip => "skipped",
                Status::Pass => "passed",
            };
            parts.push(if status == Status::Fail && n > 0 {
                format!("**{n} {label}**")
            } else {
                format!("{n} {label}")
            });
        }
    }
    format!("{} of {}.", parts.join(" · "), count(s.total(), "check"))
}

/// `Policy … · baseline … · candidate … · TASK · run`, with links where they are known.
fn sources(report: &GateReport, ctx: &ReportContext) -> String {
    // Paths go in as plain escaped text: backslash escapes do not work inside code spans.
    let policy = shorten(&ctx.policy, MAX_TEXT_CHARS);
    let policy = match &ctx.policy_url {
        Some(url) => format!("[{policy}]({url})"),
        None => policy,
    };
    let baseline = ctx
        .baseline
        .as_ref()
        .map_or_else(|| "none".to_owned(), eval_cell);
    let mut line = format!(
        "Policy {policy} · baseline {baseline} · candidate {} · {}",
        eval_cell(&ctx.candidate),
        report.task
    );
    if let Some(url) = &ctx.run_url {
        let label = if url.contains("/actions/runs/") {
            "run and job summary"
        } else {
            "CI job"
        };
        let _ = write!(line, " · [{label}]({url})");
    }
    line.push_str("\n\n");
    line
}

/// An eval's source, linked to its page in Roboflow when that is known. The URL's parts are
/// percent-encoded (`EvalMeta::app_url`), so untrusted slugs cannot break out of the link.
fn eval_cell(info: &super::EvalInfo) -> String {
    let source = shorten(&info.source, MAX_TEXT_CHARS);
    match info.meta.app_url() {
        // Server-chosen slugs could make the link arbitrarily long; a long one is left out.
        Some(url) if url.len() <= 300 => format!("[{source}]({url})"),
        _ => source,
    }
}

/// A Mermaid `xychart-beta` of the classes that fell most, baseline (bars) against
/// candidate (line), in the metric of the largest class drop, folded in `<details>`.
/// `None` when no class fell.
fn chart(class_rows: &[Row<'_>]) -> Option<String> {
    let drop = |r: &Row<'_>| {
        let c = r.first();
        c.baseline().zip(c.candidate()).map(|(b, c)| b - c)
    };
    let worst = class_rows
        .iter()
        .filter(|r| r.first().size.is_none() && r.first().metric.is_some())
        .filter(|r| drop(r).is_some_and(|d| d > 0.0))
        .max_by(|a, b| drop(a).unwrap_or(0.0).total_cmp(&drop(b).unwrap_or(0.0)))?;
    let (split, metric) = (&worst.first().split, worst.first().metric?);
    let mut rows: Vec<&Row<'_>> = class_rows
        .iter()
        .filter(|r| {
            let c = r.first();
            c.size.is_none() && c.metric == Some(metric) && c.split == *split
        })
        .filter(|r| drop(r).is_some_and(|d| d > 0.0))
        .collect();
    // Largest drop first; the stable sort keeps plan order among equals.
    rows.sort_by(|a, b| {
        noise_free(drop(b).unwrap_or(0.0)).total_cmp(&noise_free(drop(a).unwrap_or(0.0)))
    });
    rows.truncate(CHART_CLASSES);

    let mut seen = HashSet::new();
    let labels: Vec<String> = rows
        .iter()
        .map(|r| chart_label(r.first().class.as_deref().unwrap_or_default(), &mut seen))
        .collect();
    let values = |f: fn(&Check) -> Option<f64>| {
        rows.iter()
            .map(|r| pt(f(r.first()).unwrap_or(0.0)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (bars, line) = (values(Check::baseline), values(Check::candidate));
    let low = rows
        .iter()
        .filter_map(|r| r.first().candidate())
        .fold(1.0f64, f64::min);
    // Start the axis at a round number below the lowest value, so the drops show.
    let floor = ((low * 10.0).floor() * 10.0).clamp(0.0, 90.0);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<details><summary>Chart: the {} that fell most in {} {metric} (bars: baseline, line: candidate)</summary>\n",
        match rows.len() {
            1 => "class".to_owned(),
            n => format!("{n} classes"),
        },
        name(split)
    );
    out.push_str("```mermaid\nxychart-beta\n");
    let _ = writeln!(out, "    title \"{metric}, baseline and candidate (pt)\"");
    let _ = writeln!(out, "    x-axis [{}]", labels.join(", "));
    let _ = writeln!(out, "    y-axis \"{metric} (pt)\" {floor:.0} --> 100");
    let _ = writeln!(out, "    bar [{bars}]");
    let _ = writeln!(out, "    line [{line}]");
    out.push_str("```\n\n</details>\n\n");
    Some(out)
}

/// A class name for the Mermaid source: only letters, digits, space, `_`, `-` and `.` get
/// through (anything else becomes `_`), cut to [`CHART_LABEL_CHARS`]; a name that was changed
/// or collides with another gets its [`short_hash`], so labels stay distinct. The result is
/// quoted, and no quote, bracket, `%`, `<` or newline can be in it.
fn chart_label(class: &str, seen: &mut HashSet<String>) -> String {
    let safe: String = class
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut label: String = safe.trim().chars().take(CHART_LABEL_CHARS).collect();
    if label != class || seen.contains(&label) {
        if !label.is_empty() {
            label.push(' ');
        }
        label.push_str(&short_hash(class));
    }
    while !seen.insert(label.clone()) {
        // Only two names with the same hash get here.
        label.push('_');
    }
    format!("\"{label}\"")
}

/// Appends rows while `left` characters remain; counts what did not fit.
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

/// `v` with float noise removed (0.9 − 0.74 and 0.7 − 0.54 are the same drop), so that
/// equal values sort as ties and keep the plan order.
fn noise_free(v: f64) -> f64 {
    (v / TOLERANCE).round()
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::chart_label;
    use std::collections::HashSet;

    #[test]
    fn chart_labels_hold_only_safe_characters_and_stay_distinct() {
        let hostile = [
            "car",
            "a\"b",
            "a]b",
            "x\ny",
            "%%{init: {'theme':'dark'}}%%",
            "a --> b",
            "`tick`",
            "</details>",
            "",
            "a_b",
            "a?b",
            "💥",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ];
        let mut seen = HashSet::new();
        let labels: Vec<String> = hostile.iter().map(|n| chart_label(n, &mut seen)).collect();
        for (label, name) in labels.iter().zip(hostile) {
            let inner = &label[1..label.len() - 1];
            assert!(
                inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _-.".contains(c)),
                "{name:?} gave {label}"
            );
            assert!(inner.chars().count() <= 24 + 9, "{label}");
        }
        assert_eq!(labels[0], "\"car\"");
        let distinct: HashSet<&String> = labels.iter().collect();
        assert_eq!(distinct.len(), labels.len(), "{labels:?}");
        // `a_b` as given and `a?b` made safe would both read `a_b`: the changed one is told apart.
        assert_eq!(labels[9], "\"a_b\"");
        assert_ne!(labels[10], "\"a_b\"");
    }
}
