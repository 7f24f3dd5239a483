//! The gate's result: plain data that every renderer reads.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

use chrono::NaiveDate;

use super::TOLERANCE;
use crate::model::{Metric, OperatingPoint, Size, Task};
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
    /// |candidate − baseline| ≤ max_shift (the F1-optimal threshold).
    MaxShift,
    /// candidate − baseline ≤ max_rise (a confusion share).
    MaxRise,
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
            RuleKind::MaxShift => "max_shift",
            RuleKind::MaxRise => "max_rise",
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

/// Why a check ended as it did: the values were compared, or which data was missing.
///
/// With the check's status and severity this says everything a renderer needs; the words
/// live in [`crate::report::words`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The values were compared with the threshold.
    Compared,
    /// The candidate has no value but the baseline has one; `missing.metric` decided.
    NoCandidateValue,
    /// Neither eval has a value: skipped.
    NoValueInEither,
    /// A class only the candidate has, with no value: skipped.
    NewClassWithoutValue,
    /// A floor with no candidate value and no baseline value; `missing.metric` decided.
    NoValueAnywhere,
    /// A drop rule with nothing to compare against; `missing.baseline` decided.
    NoBaseline(BaselineGap),
    /// A class only the candidate has: drop rules do not apply to it.
    NewClass,
    /// The candidate lacks a split a rule covers.
    SplitMissing {
        /// Whether the baseline has the split.
        in_baseline: bool,
    },
    /// The candidate lacks a class of the baseline that a rule covers; `missing.class`
    /// decided.
    ClassMissing,
    /// The class has fewer ground-truth instances than `min_support` in an eval: skipped.
    InsufficientSupport,
    /// `min_support` applies but an eval's confusion matrix does not count the class;
    /// `missing.metric` decided.
    SupportUnknown,
    /// The candidate has no confusion matrix for the split at the operating point.
    NoConfusionMatrix,
}

/// What a drop rule's baseline lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaselineGap {
    /// No baseline eval was given.
    NoEval,
    /// The baseline has no such split.
    NoSplit,
    /// The baseline has the scope but no value for the metric.
    NoValue,
}

/// An optional metric value in 8 bytes (NaN for none): evals never hold NaN, and a gate over
/// 10,000 classes holds 120,000 checks of three values each.
#[derive(Clone, Copy, PartialEq)]
struct Value(f64);

impl Value {
    const NONE: Value = Value(f64::NAN);

    fn new(v: Option<f64>) -> Value {
        v.map_or(Value::NONE, Value)
    }

    fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// What a class check knows beyond its values: the class's support, and for a confusion
/// check the predicted class. Shared by every check of a class scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Detail {
    /// The class's ground-truth instances (pixels) in the candidate.
    pub support: Option<u64>,
    /// The same in the baseline.
    pub baseline_support: Option<u64>,
    /// The policy's `min_support` for the class.
    pub min_support: Option<u64>,
    /// For a confusion check, what the class is predicted as (a class, or `background`).
    pub predicted: Option<String>,
}

/// One rule field applied to one metric of one scope: what was decided, not how to say it.
///
/// Checks are compact (88 bytes, names and support shared with every other check of the scope) because a
/// gate over many classes holds a great many of them; ids and messages are derived when a
/// report is rendered ([`Check::id`], [`crate::report::words::message`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The split.
    pub split: Arc<str>,
    /// The class, for class scopes.
    pub class: Option<Arc<str>>,
    candidate: Value,
    baseline: Value,
    threshold: Value,
    line: Option<NonZeroU32>,
    /// One more than the index in [`GateReport::waivers`] of the waiver that covers it.
    waiver: Option<NonZeroU32>,
    detail: Option<Arc<Detail>>,
    /// One more than the index in [`GateReport::tests`] of the check's noise test.
    test: Option<NonZeroU32>,
    /// `max_drop: auto`: the threshold is 0, and only a significant drop counts.
    pub auto: bool,
    /// The object size, for size scopes.
    pub size: Option<Size>,
    /// The metric; `None` for presence and confusion checks.
    pub metric: Option<Metric>,
    /// The rule field.
    pub rule: RuleKind,
    /// The rule's severity.
    pub severity: Severity,
    /// The outcome.
    pub status: Status,
    /// Why it ended so.
    pub reason: Reason,
}

/// What the gate knows when it makes a check; [`Check::new`] packs it.
#[derive(Clone, Debug)]
pub(crate) struct CheckParts {
    pub(crate) split: Arc<str>,
    pub(crate) class: Option<Arc<str>>,
    pub(crate) size: Option<Size>,
    pub(crate) metric: Option<Metric>,
    pub(crate) rule: RuleKind,
    pub(crate) severity: Severity,
    pub(crate) status: Status,
    pub(crate) reason: Reason,
    pub(crate) candidate: Option<f64>,
    pub(crate) baseline: Option<f64>,
    pub(crate) threshold: Option<f64>,
    pub(crate) line: u32,
    pub(crate) detail: Option<Arc<Detail>>,
    pub(crate) auto: bool,
}

impl Check {
    pub(crate) fn new(p: CheckParts) -> Check {
        Check {
            split: p.split,
            class: p.class,
            candidate: Value::new(p.candidate),
            baseline: Value::new(p.baseline),
            threshold: Value::new(p.threshold),
            line: NonZeroU32::new(p.line),
            waiver: None,
            detail: p.detail,
            test: None,
            auto: p.auto,
            size: p.size,
            metric: p.metric,
            rule: p.rule,
            severity: p.severity,
            status: p.status,
            reason: p.reason,
        }
    }

    /// The class's ground-truth instances (pixels, for semantic segmentation) in the
    /// candidate, when its confusion matrix is known.
    pub fn support(&self) -> Option<u64> {
        self.detail.as_ref().and_then(|d| d.support)
    }

    /// The same in the baseline.
    pub fn baseline_support(&self) -> Option<u64> {
        self.detail.as_ref().and_then(|d| d.baseline_support)
    }

    /// The `min_support` that applied to the class.
    pub fn min_support(&self) -> Option<u64> {
        self.detail.as_ref().and_then(|d| d.min_support)
    }

    /// For a confusion check, what the class is predicted as: a class, or `background`.
    pub fn predicted(&self) -> Option<&str> {
        self.detail.as_ref().and_then(|d| d.predicted.as_deref())
    }

    /// What the check reads, as reports name it: the metric, `confusion`, or `None` for a
    /// presence check.
    pub fn measure(&self) -> Option<&'static str> {
        match (self.metric, self.predicted()) {
            (Some(m), _) => Some(m.name()),
            (None, Some(_)) => Some("confusion"),
            (None, None) => None,
        }
    }

    /// The candidate's value.
    pub fn candidate(&self) -> Option<f64> {
        self.candidate.get()
    }

    /// The baseline's value.
    pub fn baseline(&self) -> Option<f64> {
        self.baseline.get()
    }

    /// candidate − baseline, when both exist.
    pub fn delta(&self) -> Option<f64> {
        self.candidate().zip(self.baseline()).map(|(c, b)| c - b)
    }

    /// The threshold tested (`None` for presence checks).
    pub fn threshold(&self) -> Option<f64> {
        self.threshold.get()
    }

    /// The policy line that set the threshold (for presence checks, the split or class rule).
    pub fn line(&self) -> Option<u32> {
        self.line.map(NonZeroU32::get)
    }

    /// The index in [`GateReport::waivers`] of the waiver that covers this check: it is
    /// `Waived` when the waiver is active, and still fails or warns when it expired.
    pub fn waiver(&self) -> Option<usize> {
        self.waiver.map(|w| w.get() as usize - 1)
    }

    /// The index in [`GateReport::tests`] of the check's noise test, when it had one.
    pub fn test(&self) -> Option<usize> {
        self.test.map(|t| t.get() as usize - 1)
    }

    pub(crate) fn set_test(&mut self, index: usize) {
        self.test = u32::try_from(index + 1).ok().and_then(NonZeroU32::new);
    }

    pub(crate) fn set_waiver(&mut self, index: usize) {
        self.waiver = u32::try_from(index + 1).ok().and_then(NonZeroU32::new);
    }

    /// How far past its threshold the check is, in metric points (the metric's own unit, a
    /// fraction of 1) for every rule kind, so that floors, ceilings and absolute and relative
    /// drops rank against each other: `t − c` for `min`, `c − t` for `max`, `(b − c) − t` for
    /// `max_drop`, `(b − c) − t·b` for `max_drop_rel` (the drop past the largest drop the
    /// rule allows at this baseline), `|c − b| − t` for `max_shift` and `(c − b) − t` for
    /// `max_rise`. Negative when the threshold holds by that margin;
    /// infinite when data the rule needs is missing; 0 for skipped checks.
    pub fn excess(&self) -> f64 {
        if self.status == Status::Skip {
            return 0.0;
        }
        if self.reason != Reason::Compared {
            return f64::INFINITY;
        }
        let (Some(c), Some(t)) = (self.candidate(), self.threshold()) else {
            return f64::INFINITY;
        };
        match self.rule {
            RuleKind::Min => t - c,
            RuleKind::Max => c - t,
            RuleKind::MaxDrop => self.baseline().map_or(f64::INFINITY, |b| b - c - t),
            RuleKind::MaxDropRel => self.baseline().map_or(f64::INFINITY, |b| b - c - t * b),
            RuleKind::MaxShift => self.baseline().map_or(f64::INFINITY, |b| (c - b).abs() - t),
            RuleKind::MaxRise => self.baseline().map_or(f64::INFINITY, |b| c - b - t),
            // A present split or class holds by no measurable margin.
            RuleKind::Presence if self.status == Status::Pass => 0.0,
            RuleKind::Presence => f64::INFINITY,
        }
    }

    /// How wide the check's scope is: the split, a size, a class, a class × size. Wider
    /// scopes rank first because they say more about the model.
    pub fn level(&self) -> u8 {
        match (&self.class, self.size) {
            (None, None) => 0,
            (None, Some(_)) => 1,
            (Some(_), None) => 2,
            (Some(_), Some(_)) => 3,
        }
    }

    /// Stable identifier: `split/class/NAME/size/SIZE/metric/rule` (a confusion check:
    /// `split/class/NAME/predicted/NAME/confusion/rule`), with `%` and `/` in names
    /// percent-encoded so that ids stay unique whatever the names.
    pub fn id(&self) -> String {
        let mut id = String::with_capacity(48);
        self.write_id(&mut id);
        id
    }

    /// Appends [`Check::id`] to `id`, for renderers that reuse one buffer for every check.
    pub fn write_id(&self, id: &mut String) {
        let push_name = |id: &mut String, s: &str| {
            if s.contains(['%', '/']) {
                id.push_str(&s.replace('%', "%25").replace('/', "%2F"));
            } else {
                id.push_str(s);
            }
        };
        push_name(id, &self.split);
        if let Some(c) = &self.class {
            id.push_str("/class/");
            push_name(id, c);
        }
        if let Some(p) = self.predicted() {
            id.push_str("/predicted/");
            push_name(id, p);
        }
        if let Some(s) = self.size {
            id.push_str("/size/");
            id.push_str(s.name());
        }
        if let Some(m) = self.measure() {
            id.push('/');
            id.push_str(m);
        }
        id.push('/');
        id.push_str(self.rule.name());
    }
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
    /// Where precision, recall, F1 and confusions were read, when the policy says.
    pub operating_point: Option<OperatingPointUsed>,
    /// The noise tests, which checks point at ([`Check::test`]); empty without
    /// `statistics`.
    pub tests: Vec<NoiseTest>,
    /// The policy's `statistics`, when it has them.
    pub statistics: Option<crate::policy::Statistics>,
}

/// What the paired bootstrap found for one check: Δ = candidate − baseline of the metric
/// recomputed from the per-image outcomes.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseTest {
    /// Observed Δ (candidate − baseline) of the recomputed values.
    pub delta: f64,
    /// The 95% two-sided interval of Δ (bootstrap percentiles).
    pub ci_low: f64,
    /// Its upper end.
    pub ci_high: f64,
    /// One-sided p-value that the candidate is not worse (normal approximation).
    pub p_value: f64,
    /// After the policy's correction across every tested check of the gate.
    pub p_adjusted: f64,
    /// Whether the candidate is worse at the policy's significance.
    pub significant: bool,
    /// Paired images.
    pub images: usize,
    /// Replicates used.
    pub resamples: usize,
    /// The baseline's value recomputed from the per-image outcomes (the value the test is
    /// of, which may differ from the panel's by rounding, or by more: reports say so).
    pub recomputed_baseline: f64,
    /// The candidate's.
    pub recomputed_candidate: f64,
    /// For a failing class check, the images where the class fared worse, worst first; at
    /// most [`super::MAX_EVIDENCE`].
    pub evidence: Vec<Evidence>,
    /// How many images fared worse in all.
    pub worse_images: usize,
}

impl NoiseTest {
    /// Whether the recomputed values differ from the checked ones by more than rounding to
    /// the three decimals Roboflow reports.
    pub fn disagrees(&self, check: &Check) -> bool {
        let off = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() > 0.0005 + TOLERANCE);
        off(check.baseline(), self.recomputed_baseline)
            || off(check.candidate(), self.recomputed_candidate)
    }
}

/// One image where a class fared worse in the candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The image's id.
    pub image_id: String,
    /// Its file name.
    pub image_name: String,
    /// The class's false negatives in the baseline.
    pub baseline_fn: u32,
    /// Its false positives in the baseline.
    pub baseline_fp: u32,
    /// In the candidate.
    pub candidate_fn: u32,
    /// In the candidate.
    pub candidate_fp: u32,
}

/// The policy's operating point and the confidence it meant for each eval, per split.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatingPointUsed {
    /// As the policy asked.
    pub point: OperatingPoint,
    /// The baseline's confidence per split, a fraction (`None`: no baseline eval).
    pub baseline: Option<BTreeMap<String, f64>>,
    /// The candidate's.
    pub candidate: BTreeMap<String, f64>,
}

impl GateReport {
    /// Every check in the one order that every report shows them in, worst first:
    /// failures, then warnings, then waived, skipped and passed checks; within a status,
    /// split-level before size before class before class × size; then by [`Check::excess`]
    /// (largest first, missing data first of all); ties keep the plan order.
    pub fn ranked(&self) -> Vec<&Check> {
        self.ranked_where(|_| true)
    }

    /// The checks that `keep` selects, in [`GateReport::ranked`] order: for renderers that
    /// show only some (the failures, the split level), without sorting every passing class.
    pub fn ranked_where(&self, keep: impl Fn(&Check) -> bool) -> Vec<&Check> {
        // Excesses that differ only by float noise (0.9 − 0.74 against 0.7 − 0.54) are ties,
        // so that equal misses keep the plan order instead of a noise order.
        // One integer key a check, computed once: a report of 120,000 checks sorts them on
        // every render.
        let key = |(i, c): (usize, &Check)| {
            let e = c.excess();
            let e = if e.is_finite() {
                (e / TOLERANCE).round() * TOLERANCE
            } else {
                e
            };
            // The bits of a double, reordered so that the integers sort as the doubles do,
            // then flipped for largest first.
            let bits = e.to_bits();
            let ordered = if bits >> 63 == 1 {
                !bits
            } else {
                bits | 1 << 63
            };
            (c.status as u8, c.level(), !ordered, i)
        };
        let mut keyed: Vec<(u8, u8, u64, usize)> = self
            .checks
            .iter()
            .enumerate()
            .filter(|(_, c)| keep(c))
            .map(key)
            .collect();
        // The plan index is part of the key, so ties keep the plan order.
        keyed.sort_unstable();
        keyed.into_iter().map(|(.., i)| &self.checks[i]).collect()
    }

    /// The failing and warning checks, in [`GateReport::ranked`] order.
    pub fn worst(&self) -> Vec<&Check> {
        self.ranked_where(|c| matches!(c.status, Status::Fail | Status::Warn))
    }
}

#[cfg(test)]
mod tests {
    use super::Check;

    #[test]
    fn checks_stay_compact() {
        // 120,000 checks for 10,000 classes: every byte here is 120 kB resident.
        assert!(size_of::<Check>() <= 88, "{} bytes", size_of::<Check>());
    }
}
