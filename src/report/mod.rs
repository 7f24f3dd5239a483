//! Renderers: pure functions from a [`GateReport`] to bytes.
//!
//! Each format writes into any `io::Write` and reads nothing but its arguments, so the same
//! report always renders to the same bytes. Writing files (atomically) is the caller's job.

pub mod annotations;
mod json;
mod junit;
mod markdown;
pub mod number;
mod output;
pub mod text;
pub mod words;

use std::io;

use crate::gate::{Check, GateReport};
use crate::model::{Eval, EvalMeta, Note, Task};

pub use markdown::MAX_MARKDOWN_CHARS;
pub use text::{escape_markdown, is_bidi_control};
pub use words::message;

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Machine-readable JSON (`schema_version: 1`).
    Json,
    /// JUnit XML for CI test panels (Jenkins xUnit junit-10.xsd).
    Junit,
    /// GitHub-flavoured Markdown for PR comments and job summaries.
    Markdown,
}

impl Format {
    /// The format's name in flags and step outputs: `json`, `junit`, `markdown`.
    pub fn name_lower(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
        }
    }

    /// The format's name for people.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Junit => "JUnit",
            Format::Markdown => "Markdown",
        }
    }

    /// Renders `report` in this format.
    pub fn render(
        self,
        report: &GateReport,
        ctx: &ReportContext,
        out: &mut dyn io::Write,
    ) -> io::Result<()> {
        match self {
            Format::Json => json::render(report, ctx, out),
            Format::Junit => junit::render(report, ctx, out),
            Format::Markdown => out.write_all(render_markdown(report, ctx).as_bytes()),
        }
    }
}

/// The Markdown report as a string (for the job summary and the PR comment as well as files).
pub fn render_markdown(report: &GateReport, ctx: &ReportContext) -> String {
    markdown::render(report, ctx, MAX_MARKDOWN_CHARS)
}

/// What a report says about the run besides the checks.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportContext {
    /// The process exit code the run ends with.
    pub exit_code: u8,
    /// The policy file as given.
    pub policy: String,
    /// The baseline eval, if one was given.
    pub baseline: Option<EvalInfo>,
    /// The candidate eval.
    pub candidate: EvalInfo,
    /// The policy file in the repository at the commit under test, when the CI run says which
    /// (`https://github.com/OWNER/REPO/blob/SHA/policies/detection.yaml`); renderers append
    /// `#L<line>`. Built by the caller from trusted parts, path segments percent-encoded.
    pub policy_url: Option<String>,
    /// The CI run (GitHub Actions: the run, whose page shows the job summary; GitLab: the
    /// job), when known.
    pub run_url: Option<String>,
}

/// Where an eval came from.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalInfo {
    /// The source as given (a path, `-` for stdin, or `rf:WORKSPACE/EVAL_ID`).
    pub source: String,
    /// The eval's task.
    pub task: Task,
    /// What Roboflow says about it, when known.
    pub meta: EvalMeta,
    /// What the reader should know about how the eval was read (see [`Note`]). Each is
    /// untrusted text once rendered: it names a split.
    pub notes: Vec<Note>,
}

impl EvalInfo {
    /// Describes `eval`, read from `source`.
    pub fn new(source: String, eval: &Eval) -> EvalInfo {
        EvalInfo {
            source,
            task: eval.task,
            meta: eval.meta.clone(),
            notes: eval.notes.clone(),
        }
    }
}

/// A split name for people; quoted when it could be mistaken for part of a label.
pub fn split_label(split: &str) -> String {
    if split.is_empty() || split.contains(['/', '"', '\\']) || split.chars().any(char::is_control) {
        format!("{split:?}")
    } else {
        split.to_owned()
    }
}

/// The scope of a check for people: `split`, `small`, `class "car"`, `class "car" / small`.
pub fn scope_label(check: &Check) -> String {
    match (&check.class, check.size) {
        (None, None) => "split".to_owned(),
        (None, Some(size)) => size.name().to_owned(),
        (Some(class), None) => format!("class {class:?}"),
        (Some(class), Some(size)) => format!("class {class:?} / {size}"),
    }
}

/// Where a check is, for people: `valid`, `valid / small`, `valid / class "car" / small`.
pub fn place_label(check: &Check) -> String {
    match (&check.class, check.size) {
        (None, None) => split_label(&check.split),
        _ => format!("{} / {}", split_label(&check.split), scope_label(check)),
    }
}

/// What a check tests, for people: `map50_95 max_drop`, `confusion → "background" max_rise`,
/// or `presence`.
pub fn test_label(check: &Check) -> String {
    match check.measure() {
        Some(_) => format!("{} {}", measure_label(check), check.rule),
        None => check.rule.name().to_owned(),
    }
}

/// What a check reads, for people: `map50`, `confusion → "background"`, or `presence`.
pub fn measure_label(check: &Check) -> String {
    match (check.metric, check.predicted()) {
        (Some(m), _) => m.name().to_owned(),
        (None, Some(p)) => format!("confusion → {p:?}"),
        (None, None) => "presence".to_owned(),
    }
}
