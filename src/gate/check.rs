//! The gate's result: plain data that every renderer reads.

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::model::{Metric, Size, Task};
use crate::policy::Severity;

/// Which rule field a check tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKind {
    /// candidate ≥ min.
    Min,
    /// candidate ≤ max.
    Max,
    /// baseline − candidate ≤ max_drop.
    MaxDrop,
    /// (baseline − candidate) / baseline ≤ max_drop_rel.
    MaxDropRel,
    /// The split or class the baseline has must still be there.
    Presence,
}

impl RuleKind {
    /// The name used in policies and reports.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Min => "min",
            RuleKind::Max => "max",
            RuleKind::MaxDrop => "max_drop",
            RuleKind::MaxDropRel => "max_drop_rel",
            RuleKind::Presence => "presence",
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// A fail-severity rule was violated, or data it needs is missing where `missing:` says
    /// that fails (a vanished split or class, a value that turned null).
    Fail,
    /// The threshold was violated by a warn-severity rule.
    Warn,
    /// A failure or warning that an active waiver excuses.
    Waived,
    /// Not evaluated, for the reason in the message. Never counts as a pass.
    Skip,
    /// The threshold holds.
    Pass,
}

impl Status {
    /// Every status, worst first.
    pub const ALL: [Status; 5] = [
        Status::Fail,
        Status::Warn,
        Status::Waived,
        Status::Skip,
        Status::Pass,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Waived => "waived",
            Status::Skip => "skip",
            Status::Pass => "pass",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One rule field applied to one metric of one scope.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Stable identifier: `split/…/metric/rule`, with names percent-encoded.
    pub id: String,
    /// The split.
    pub split: Arc<str>,
    /// The class, for class scopes.
    pub class: Option<Arc<str>>,
    /// The object size, for size scopes.
    pub size: Option<Size>,
    /// The metric; `None` for presence checks.
    pub metric: Option<Metric>,
    /// The rule field.
    pub rule: RuleKind,
    /// The rule's severity.
    pub severity: Severity,
    /// The outcome.
    pub status: Status,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// candidate − baseline, when both exist.
    pub delta: Option<f64>,
    /// The threshold tested.
    pub threshold: Option<f64>,
    /// One line a person can read: what was compared and why it ended so.
    pub message: String,
    /// The policy line that set the threshold (for presence checks, the split or class rule).
    pub line: Option<u32>,
    /// How far past the threshold a failing value is, in the threshold's unit; sorts the
    /// worst first. Infinite for presence failures and missing values.
    pub excess: f64,
}

/// Whether the gate passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No failing check (warnings allowed, unless strict).
    Pass,
    /// At least one failing check.
    Fail,
}

impl Verdict {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// A waiver and what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct WaiverOutcome {
    /// What the waiver covers, e.g. `split "valid", class "music-note", map50`.
    pub scope: String,
    /// Why it was granted.
    pub reason: String,
    /// Its last day.
    pub until: NaiveDate,
    /// Whether `until` has passed.
    pub expired: bool,
    /// How many failing or warning checks it covers (excused, or not because it expired).
    pub matched: usize,
    /// The policy line of the waiver.
    pub line: u32,
}

/// Counts of checks per status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Warned.
    pub warn: usize,
    /// Skipped.
    pub skip: usize,
    /// Waived.
    pub waived: usize,
}

impl Summary {
    /// The count for one status.
    pub fn get(&self, status: Status) -> usize {
        match status {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Warn => self.warn,
            Status::Skip => self.skip,
            Status::Waived => self.waived,
        }
    }

    /// Every check.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.warn + self.skip + self.waived
    }
}

/// Everything the gate decided.
#[derive(Clone, Debug, PartialEq)]
pub struct GateReport {
    /// Pass or fail.
    pub verdict: Verdict,
    /// Whether warnings failed the gate (`--strict`).
    pub strict: bool,
    /// The task of the evals.
    pub task: Task,
    /// Every check, in a stable order: split, then scope, then metric, then rule.
    pub checks: Vec<Check>,
    /// Counts per status.
    pub summary: Summary,
    /// Every waiver in the policy, with what it did.
    pub waivers: Vec<WaiverOutcome>,
}

impl GateReport {
    /// The failing and warning checks, worst first: failures before warnings, then by how
    /// far past the threshold.
    pub fn worst(&self) -> Vec<&Check> {
        let mut bad: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Warn))
            .collect();
        bad.sort_by(|a, b| a.status.cmp(&b.status).then(b.excess.total_cmp(&a.excess)));
        bad
    }
}
