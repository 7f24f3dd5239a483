//! The YAML policy: what a model must reach, per split, object size and class.
//!
//! [`parse_policy`] reads the text in two phases: YAML into a positioned node tree (`node`),
//! then that tree into a checked [`Policy`] (`validate`), collecting every problem on the way.
//! [`Policy::check_names`] then checks the names the policy uses against the evals it will
//! judge. Nothing here reads files or the clock.

mod diagnostic;
pub(crate) mod node;
pub(crate) mod validate;

use chrono::NaiveDate;
use globset::GlobMatcher;

use crate::model::{
    DEFAULT_MATRIX_CONFIDENCE, Eval, Metric, OperatingPoint, ScopeKind, Size, Task,
};
use crate::model::{NoiseData, noise_data};

pub use diagnostic::{Code, Diagnostic, DiagnosticLevel, PolicyError, Span};
pub(crate) use diagnostic::{Diagnostics, did_you_mean};
pub use node::MAX_POLICY_BYTES;

/// A date written exactly `YYYY-MM-DD` (as `until:` and `--today` take it). chrono's own
/// parser also takes `2026-1-5`, `+2026-01-16` and `-2026-01-01`, which no one means.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(i32::try_from(n(0..4)?).ok()?, n(5..7)?, n(8..10)?)
}

/// Parses and validates a policy. Warnings come back with the policy; errors, all of them,
/// in the `Err`.
pub fn parse_policy(text: &str) -> Result<(Policy, Vec<Diagnostic>), PolicyError> {
    let root = node::parse(text).map_err(|d| PolicyError {
        diagnostics: vec![d],
    })?;
    validate::validate(&root)
}

/// Like [`parse_policy`], but a policy whose YAML parsed comes back even when it has errors:
/// as much of it as validated (an entry with an error is left out), with every diagnostic.
/// `policy check --eval` checks that much against the eval, so one run lists the policy's
/// errors and its name errors together. `None` when the text is not a YAML mapping at all.
pub fn parse_policy_partial(text: &str) -> (Option<Policy>, Vec<Diagnostic>) {
    match node::parse(text) {
        Ok(root) => {
            let (policy, diags) = validate::validate_partial(&root);
            (Some(policy), diags)
        }
        Err(d) => (None, vec![d]),
    }
}

/// A validated policy (version 1).
#[derive(Clone, Debug)]
pub struct Policy {
    /// The task both evals must have, if the policy says.
    pub task: Option<Task>,
    /// Where `task` was set.
    pub task_span: Option<Span>,
    /// Rule fields every rule inherits.
    pub defaults: Rule,
    /// How absent data is treated.
    pub missing: Missing,
    /// Rules per split, in file order.
    pub splits: Vec<SplitRules>,
    /// Accountable, expiring exceptions.
    pub waivers: Vec<Waiver>,
    /// The confidence precision, recall, F1 and confusions are read at.
    pub operating_point: Option<Field<OperatingPoint>>,
    /// Rules on the share of a class's ground truth predicted as another class.
    pub confusions: Vec<ConfusionRule>,
    /// Noise tests of drop rules, when the policy asks for them.
    pub statistics: Option<Statistics>,
}

/// The `statistics:` block: drop rules on metrics the per-image data supports fail only
/// when the drop is also significant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Statistics {
    /// The chance of any false failure (holm), or the expected share of false failures (bh),
    /// per gate.
    pub significance: f64,
    /// How p-values are adjusted for the number of noise-tested checks.
    pub correction: crate::stats::Correction,
    /// Bootstrap replicates.
    pub resamples: usize,
    /// Fixes the replicates: same inputs and seed, same verdict.
    pub seed: u64,
    /// Where the block is.
    pub span: Span,
}

impl Statistics {
    /// The defaults of every field.
    pub const DEFAULT_SIGNIFICANCE: f64 = 0.05;
    /// Resamples when the policy does not say.
    pub const DEFAULT_RESAMPLES: usize = 2000;
}

/// One entry of `confusions`.
#[derive(Clone, Debug)]
pub struct ConfusionRule {
    /// Which split(s).
    pub split: SplitSelector,
    /// The ground-truth class (a name or a glob).
    pub actual: ClassPattern,
    /// What it is predicted as.
    pub predicted: Predicted,
    /// candidate share − baseline share ≤ max_rise.
    pub max_rise: Option<Field<f64>>,
    /// candidate share ≤ max.
    pub max: Option<Field<f64>>,
    /// fail or warn (defaults to `defaults.severity`, then fail).
    pub severity: Option<Field<Severity>>,
    /// Where the entry starts.
    pub span: Span,
}

/// The predicted side of a confusion rule.
#[derive(Clone, Debug)]
pub enum Predicted {
    /// `background`: the ground truth was missed.
    Background,
    /// A class name or glob.
    Class(ClassPattern),
}

impl Predicted {
    /// As written in the policy.
    pub fn text(&self) -> &str {
        match self {
            Predicted::Background => BACKGROUND,
            Predicted::Class(p) => p.text(),
        }
    }
}

/// The name of the confusion matrix's last row and column, and of "missed" in `confusions`.
pub const BACKGROUND: &str = "background";

/// What a policy needs from an eval beyond map-results: which panels, for which splits, at
/// which confidence. `evalgate` fetches exactly this, and a saved eval must hold it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Needs {
    /// The confidence sweep (every split comes in one response).
    pub sweep: bool,
    /// Splits that need performance by class.
    pub by_class: Vec<SplitSelector>,
    /// Splits that need a confusion matrix.
    pub confusion: Vec<SplitSelector>,
    /// Splits that need per-image outcomes (image predictions), at the operating point.
    pub images: Vec<SplitSelector>,
    /// Splits whose mAP drop rules are noise-tested, for which a local COCO evaluation keeps
    /// its matching ([`crate::model::Panels::matched`]). Not a panel to fetch or to require:
    /// an eval without it (any but a `coco:` source) keeps fixed thresholds on mAP.
    pub matched: Vec<SplitSelector>,
    /// The policy's operating point; the confusion matrix is asked at it (at `optimal`,
    /// at each split's F1-optimal threshold), or at [`DEFAULT_MATRIX_CONFIDENCE`] when the
    /// policy has none and needs the matrix for support only.
    pub point: Option<OperatingPoint>,
}

impl Needs {
    /// Whether a local evaluation of `split` should keep its matching.
    pub fn keeps_matching(&self, split: &str) -> bool {
        self.matched.iter().any(|s| s.matches(split))
    }

    /// Whether map-results is all the policy needs from a fetched or saved eval (the
    /// matching is never either).
    pub fn is_empty(&self) -> bool {
        !self.sweep
            && self.by_class.is_empty()
            && self.confusion.is_empty()
            && self.images.is_empty()
    }

    /// The confidence a split's confusion matrix is asked at, given the split's F1-optimal
    /// threshold when the policy reads at `optimal`.
    pub fn matrix_confidence(&self, optimal: Option<f64>) -> Option<crate::model::Percent> {
        match self.point {
            None => Some(DEFAULT_MATRIX_CONFIDENCE),
            Some(OperatingPoint::Confidence(p)) => Some(p),
            Some(OperatingPoint::Optimal) => optimal.and_then(crate::model::Percent::nearest),
        }
    }

    /// The splits a selector list covers in `eval`: `"*"` is every split the eval has, and a
    /// named split the eval lacks is the gate's to report (as a missing split), not a panel's.
    pub fn splits_in<'e>(selectors: &[SplitSelector], eval: &'e Eval) -> Vec<&'e str> {
        eval.splits
            .keys()
            .filter(|s| selectors.iter().any(|sel| sel.matches(s)))
            .map(String::as_str)
            .collect()
    }

    /// What `eval` lacks of what these needs ask for, in a fixed order (sweep, performance
    /// by class, confusion matrices, per-image predictions; splits in name order). At `optimal`, a split whose sweep
    /// has no F1-optimal threshold asks for no particular matrix: the checks that need it
    /// follow `missing.metric`.
    pub fn missing_in(&self, eval: &Eval) -> Vec<MissingPanel> {
        let mut missing = Vec::new();
        if self.sweep && eval.panels.sweep.is_none() {
            missing.push(MissingPanel::Sweep);
        }
        for split in Needs::splits_in(&self.by_class, eval) {
            if !eval.panels.by_class.contains_key(split) {
                missing.push(MissingPanel::ByClass(split.to_owned()));
            }
        }
        for split in Needs::splits_in(&self.confusion, eval) {
            let optimal = eval.confidence_at(split, OperatingPoint::Optimal);
            let Some(confidence) = self.matrix_confidence(optimal) else {
                continue;
            };
            if eval.panels.matrix(split, confidence).is_none() {
                missing.push(MissingPanel::Confusion(split.to_owned(), confidence));
            }
        }
        for split in Needs::splits_in(&self.images, eval) {
            let optimal = eval.confidence_at(split, OperatingPoint::Optimal);
            let Some(confidence) = self.matrix_confidence(optimal) else {
                continue;
            };
            let held = eval.panels.images.get(split).and_then(|o| o.confidence);
            if held != Some(confidence) {
                missing.push(MissingPanel::Images(split.to_owned(), confidence));
            }
        }
        missing
    }
}

/// A panel an eval lacks that the policy needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissingPanel {
    /// The confidence sweep.
    Sweep,
    /// Performance by class of a split.
    ByClass(String),
    /// A split's confusion matrix at a confidence.
    Confusion(String, crate::model::Percent),
    /// A split's per-image outcomes (image predictions) at a confidence.
    Images(String, crate::model::Percent),
}

impl std::fmt::Display for MissingPanel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MissingPanel::Sweep => f.write_str("the confidence sweep"),
            MissingPanel::ByClass(split) => {
                write!(f, "performance by class of split {split:?}")
            }
            MissingPanel::Confusion(split, at) => {
                write!(
                    f,
                    "the confusion matrix of split {split:?} at confidence {at}"
                )
            }
            MissingPanel::Images(split, at) => {
                write!(
                    f,
                    "the per-image predictions of split {split:?} at confidence {at}"
                )
            }
        }
    }
}

/// The `missing:` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Missing {
    /// No baseline eval, or the baseline lacks the value.
    pub baseline: MissingBaseline,
    /// A class in the baseline that is gone from the candidate.
    pub class: MissingClass,
    /// A value in the baseline that is null or absent in the candidate.
    pub metric: MissingMetric,
}

impl Default for Missing {
    fn default() -> Self {
        Missing {
            baseline: MissingBaseline::FloorsOnly,
            class: MissingClass::Fail,
            metric: MissingMetric::Fail,
        }
    }
}

/// `missing.baseline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingBaseline {
    /// Drop rules are skipped; floors still apply.
    FloorsOnly,
    /// Drop rules fail.
    Fail,
}

/// `missing.class`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingClass {
    /// A removed class fails the gate.
    Fail,
    /// A removed class is a warning.
    Warn,
    /// A removed class is reported as skipped.
    Ignore,
}

/// `missing.metric`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingMetric {
    /// The check fails.
    Fail,
    /// The check warns.
    Warn,
    /// The check is skipped.
    Skip,
}

/// How much a failed rule matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Failing it fails the gate.
    Fail,
    /// Failing it is reported but passes the gate (unless `--strict`).
    Warn,
}

impl Severity {
    /// The name used in policies and reports.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Fail => "fail",
            Severity::Warn => "warn",
        }
    }
}

/// A value from the policy with the line that set it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Field<T> {
    /// The value.
    pub value: T,
    /// The 1-based policy line it came from.
    pub line: u32,
    /// The 1-based column of the value on that line.
    pub column: u32,
}

impl<T> Field<T> {
    /// Where the value is in the policy file.
    pub fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
            offset: None,
            len: None,
        }
    }
}

/// The fields of one rule. Every field is optional: rules merge field by field.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rule {
    /// candidate ≥ min.
    pub min: Option<Field<f64>>,
    /// candidate ≤ max.
    pub max: Option<Field<f64>>,
    /// baseline − candidate ≤ max_drop.
    pub max_drop: Option<Field<f64>>,
    /// (baseline − candidate) / baseline ≤ max_drop_rel.
    pub max_drop_rel: Option<Field<f64>>,
    /// |candidate − baseline| ≤ max_shift (`optimal_threshold` only).
    pub max_shift: Option<Field<f64>>,
    /// `max_drop: auto`: `max_drop` is 0 and any significant drop fails (needs `statistics`).
    pub auto: bool,
    /// fail or warn.
    pub severity: Option<Field<Severity>>,
}

impl Rule {
    /// `self` with every field that `over` sets replaced by `over`'s.
    pub fn overlay(self, over: &Rule) -> Rule {
        Rule {
            min: over.min.or(self.min),
            max: over.max.or(self.max),
            max_drop: over.max_drop.or(self.max_drop),
            auto: if over.max_drop.is_some() {
                over.auto
            } else {
                self.auto
            },
            max_drop_rel: over.max_drop_rel.or(self.max_drop_rel),
            max_shift: over.max_shift.or(self.max_shift),
            severity: over.severity.or(self.severity),
        }
    }

    /// Whether any threshold is set.
    pub fn has_threshold(&self) -> bool {
        self.min.is_some()
            || self.max.is_some()
            || self.max_drop.is_some()
            || self.max_drop_rel.is_some()
            || self.max_shift.is_some()
    }
}

/// A rule for one metric.
#[derive(Clone, Debug)]
pub struct MetricRule {
    /// The metric.
    pub metric: Metric,
    /// Where the metric key is.
    pub span: Span,
    /// Its fields.
    pub rule: Rule,
}

/// A split selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitSelector {
    /// `"*"`: every split of either eval.
    All,
    /// One split by name.
    Name(String),
}

impl SplitSelector {
    /// Whether this selector covers `split`.
    pub fn matches(&self, split: &str) -> bool {
        match self {
            SplitSelector::All => true,
            SplitSelector::Name(n) => n == split,
        }
    }
}

/// Rules for one split selector.
#[derive(Clone, Debug)]
pub struct SplitRules {
    /// Which split(s).
    pub selector: SplitSelector,
    /// Where the split key is.
    pub span: Span,
    /// Split-level metric rules.
    pub metrics: Vec<MetricRule>,
    /// Split-level object-size rules.
    pub sizes: Vec<SizeRules>,
    /// Class rules.
    pub classes: Vec<ClassRules>,
}

/// Rules for one object size.
#[derive(Clone, Debug)]
pub struct SizeRules {
    /// The size.
    pub size: Size,
    /// Where the size key is.
    pub span: Span,
    /// Metric rules.
    pub metrics: Vec<MetricRule>,
}

/// A class name or a glob over class names.
#[derive(Clone, Debug)]
pub enum ClassPattern {
    /// A name with no glob characters: matches that class only.
    Exact(String),
    /// A glob (`*`, `?`, `[...]`, `{a,b}`; `\` escapes).
    Glob {
        /// The pattern as written.
        text: String,
        /// The compiled pattern.
        matcher: GlobMatcher,
    },
}

impl ClassPattern {
    pub(crate) fn new(text: &str) -> Result<ClassPattern, globset::Error> {
        if text.contains(['*', '?', '[', ']', '{', '}']) {
            let glob = globset::GlobBuilder::new(text)
                .literal_separator(false)
                .backslash_escape(true)
                .build()?;
            Ok(ClassPattern::Glob {
                text: text.to_owned(),
                matcher: glob.compile_matcher(),
            })
        } else {
            Ok(ClassPattern::Exact(text.to_owned()))
        }
    }

    /// Whether this pattern covers `class`. A pattern written exactly as a class's name
    /// covers it even when the name has glob characters (`[unk]`).
    pub fn matches(&self, class: &str) -> bool {
        match self {
            ClassPattern::Exact(name) => name == class,
            ClassPattern::Glob { text, matcher } => text == class || matcher.is_match(class),
        }
    }

    /// Whether this pattern names `class` exactly, so that it overrides globs for it.
    pub fn names(&self, class: &str) -> bool {
        self.text() == class
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        match self {
            ClassPattern::Exact(t) | ClassPattern::Glob { text: t, .. } => t,
        }
    }
}

/// Rules for a class pattern.
#[derive(Clone, Debug)]
pub struct ClassRules {
    /// Which classes.
    pub pattern: ClassPattern,
    /// Where the class key is.
    pub span: Span,
    /// Class-level metric rules.
    pub metrics: Vec<MetricRule>,
    /// Class × object-size rules.
    pub sizes: Vec<SizeRules>,
    /// Class and class × size checks are skipped when the class has fewer ground-truth
    /// instances than this in either eval.
    pub min_support: Option<Field<u64>>,
}

/// An accountable, expiring exception.
#[derive(Clone, Debug)]
pub struct Waiver {
    /// Which split(s).
    pub split: SplitSelector,
    /// Which classes, if narrowed.
    pub class: Option<ClassPattern>,
    /// Which metric, if narrowed.
    pub metric: Option<Metric>,
    /// Why.
    pub reason: String,
    /// The last day it waives.
    pub until: NaiveDate,
    /// Where the waiver starts.
    pub span: Span,
}

impl Waiver {
    /// Whether the waiver covers a check of `split`, `class` (`None` for a split or size
    /// check) and `metric` (`None` for a presence check). A waiver narrowed to a class or a
    /// metric covers only checks that have one that matches.
    pub fn covers(&self, split: &str, class: Option<&str>, metric: Option<Metric>) -> bool {
        self.split.matches(split)
            && self
                .class
                .as_ref()
                .is_none_or(|p| class.is_some_and(|c| p.matches(c)))
            && self.metric.is_none_or(|m| metric == Some(m))
    }
}

impl Policy {
    /// What this policy needs beyond map-results from an eval of `task` (the policy's own
    /// task when it declares one; `None`: not known yet, read as detection, which needs
    /// the most).
    pub fn needs(&self, task: Option<Task>) -> Needs {
        let task = self.task.or(task).unwrap_or(Task::ObjectDetection);
        let point = self.operating_point.map(|p| p.value);
        let detection = task == Task::ObjectDetection;
        let mut needs = Needs {
            point,
            ..Needs::default()
        };
        let push = |list: &mut Vec<SplitSelector>, s: &SplitSelector| {
            if !list.contains(s) {
                list.push(s.clone());
            }
        };
        for split in &self.splits {
            let reads = |rules: &[MetricRule]| rules.iter().any(|r| r.metric.at_operating_point());
            let split_level = reads(&split.metrics);
            let class_level = split.classes.iter().any(|c| reads(&c.metrics));
            if detection && (split_level || class_level) {
                needs.sweep = true;
            }
            if detection && class_level && point == Some(OperatingPoint::Optimal) {
                push(&mut needs.by_class, &split.selector);
            }
            if split.classes.iter().any(|c| c.min_support.is_some()) {
                push(&mut needs.confusion, &split.selector);
            }
            let tested = |rules: &[MetricRule], data: NoiseData| {
                rules.iter().any(|r| {
                    noise_data(task, r.metric) == Some(data)
                        && (r.rule.max_drop.is_some()
                            || r.rule.max_drop_rel.is_some()
                            || self.defaults.max_drop.is_some()
                            || self.defaults.max_drop_rel.is_some())
                })
            };
            let sizes = |sizes: &[SizeRules], data| sizes.iter().any(|z| tested(&z.metrics, data));
            let any = |data| {
                tested(&split.metrics, data)
                    || sizes(&split.sizes, data)
                    || split
                        .classes
                        .iter()
                        .any(|c| tested(&c.metrics, data) || sizes(&c.sizes, data))
            };
            if self.statistics.is_some() && any(NoiseData::ImageOutcomes) {
                // The per-image `confusion` triples index the split's confusion matrix.
                push(&mut needs.images, &split.selector);
                push(&mut needs.confusion, &split.selector);
            }
            if self.statistics.is_some() && any(NoiseData::MatchedDetections) {
                push(&mut needs.matched, &split.selector);
            }
        }
        for c in &self.confusions {
            push(&mut needs.confusion, &c.split);
        }
        // At `optimal` the matrix's confidence is each split's F1-optimal threshold.
        if !needs.confusion.is_empty() && point == Some(OperatingPoint::Optimal) {
            needs.sweep = true;
        }
        needs
    }

    /// Checks that every metric, `sizes` block and waiver metric exists for `task`: while the
    /// policy is read when it declares its task, else once the evals are loaded.
    pub(crate) fn check_task(&self, task: Task, diags: &mut Diagnostics) {
        if task == Task::ObjectDetection && self.operating_point.is_none() {
            self.check_operating_point(diags);
        }
        for split in &self.splits {
            check_metrics(diags, task, ScopeKind::Split, &split.metrics);
            let class_sizes = split.classes.iter().flat_map(|c| &c.sizes);
            for size in split.sizes.iter().chain(class_sizes) {
                check_size_task(diags, task, size);
                check_metrics(diags, task, ScopeKind::Size, &size.metrics);
            }
            for class in &split.classes {
                check_metrics(diags, task, ScopeKind::Class, &class.metrics);
            }
        }
        for waiver in &self.waivers {
            let Some(m) = waiver.metric else { continue };
            let kinds = [ScopeKind::Split, ScopeKind::Size, ScopeKind::Class];
            if !kinds.iter().any(|l| task.metrics(*l).contains(&m)) {
                diags.push(Diagnostic::error(
                    Code::MetricNotInTask,
                    format!("{task} evals have no {m}; this waiver would never apply"),
                    Some(waiver.span),
                ));
            }
        }
    }

    /// Checks the names the policy uses against the evals it will judge: the task, metric
    /// names for that task, and split and class names that exist in neither eval.
    ///
    /// Call it after both evals are loaded and found comparable.
    pub fn check_names(&self, task: Task, evals: &[&Eval]) -> Vec<Diagnostic> {
        let mut diags = Diagnostics::default();
        self.check_task(task, &mut diags);
        let split_names: Vec<&str> = {
            let mut v: Vec<&str> = evals
                .iter()
                .flat_map(|e| e.splits.keys().map(String::as_str))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        // Under a misspelt split every class is "unknown"; that is fallout, not news.
        let known_split =
            |diags: &mut Diagnostics, selector: &SplitSelector, span: Span| match selector {
                SplitSelector::Name(name) if !split_names.contains(&name.as_str()) => {
                    diags.push(unknown_name("split", name, span, &split_names));
                    false
                }
                _ => true,
            };
        for split in &self.splits {
            if !known_split(&mut diags, &split.selector, split.span) {
                continue;
            }
            let classes = ClassNames::new(evals, &split.selector);
            for class in &split.classes {
                let glob = ("class pattern", "its rules check nothing");
                check_class(&mut diags, &class.pattern, class.span, &classes, glob);
            }
        }
        for rule in &self.confusions {
            if !known_split(&mut diags, &rule.split, rule.span) {
                continue;
            }
            let classes = ClassNames::new(evals, &rule.split);
            let predicted = match &rule.predicted {
                Predicted::Background => None,
                Predicted::Class(p) => Some(p),
            };
            for pattern in std::iter::once(&rule.actual).chain(predicted) {
                let glob = ("confusion class pattern", "this rule checks nothing");
                check_class(&mut diags, pattern, rule.span, &classes, glob);
            }
        }
        for waiver in &self.waivers {
            if !known_split(&mut diags, &waiver.split, waiver.span) {
                continue;
            }
            if let Some(pattern) = &waiver.class {
                let classes = ClassNames::new(evals, &waiver.split);
                let glob = ("waiver class pattern", "it waives nothing");
                check_class(&mut diags, pattern, waiver.span, &classes, glob);
            }
        }
        let (_, list) = match diags.finish(()) {
            Ok(ok) => ok,
            Err(e) => ((), e.diagnostics),
        };
        list
    }
}

impl Policy {
    /// A detection policy that reads precision, recall, F1, the F1-optimal threshold or
    /// confusions must say at which confidence.
    fn check_operating_point(&self, diags: &mut Diagnostics) {
        let mut first = None;
        for split in &self.splits {
            let classes = split.classes.iter().flat_map(|c| &c.metrics);
            if let Some(r) = split
                .metrics
                .iter()
                .chain(classes)
                .find(|r| r.metric.at_operating_point())
            {
                first = Some((format!("`{}` rules", r.metric), r.span));
                break;
            }
        }
        if first.is_none() {
            first = self
                .confusions
                .first()
                .map(|c| ("`confusions`".to_owned(), c.span));
        }
        if let Some((what, span)) = first {
            diags.push(
                Diagnostic::error(
                    Code::NoOperatingPoint,
                    format!("{what} of a detection policy need an operating point"),
                    Some(span),
                )
                .with_help("add `operating_point: {confidence: 0.40}` (the confidence the model is deployed at) or `operating_point: {confidence: optimal}`"),
            );
        }
    }
}

/// The classes of the splits a selector picks, in either eval. Asked once per class entry of
/// a policy, so it looks names up in each split's sorted list rather than gathering and
/// sorting every name (60,000 at 10,000 classes × 3 splits × 2 evals); the full list is
/// built only for a message about a name that is not there.
struct ClassNames<'a> {
    splits: Vec<&'a crate::model::SplitEval>,
}

impl<'a> ClassNames<'a> {
    fn new(evals: &[&'a Eval], split: &SplitSelector) -> ClassNames<'a> {
        ClassNames {
            splits: evals
                .iter()
                .flat_map(|e| e.splits.iter())
                .filter(|(name, _)| split.matches(name))
                .map(|(_, s)| s)
                .collect(),
        }
    }

    fn contains(&self, class: &str) -> bool {
        self.splits.iter().any(|s| s.classes.get(class).is_some())
    }

    fn any(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        self.splits.iter().any(|s| s.classes.keys().any(|c| f(c)))
    }

    /// Every name once, sorted.
    fn list(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self
            .splits
            .iter()
            .flat_map(|s| s.classes.keys().map(String::as_str))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// An `unknown-class` error for an exact name no class in `classes` has, or a
/// `glob-matches-nothing` warning for a glob that matches none; `glob` is what the warning
/// calls the pattern and what follows for the entry. A name with glob characters that is
/// also a class's exact name is that class.
fn check_class(
    diags: &mut Diagnostics,
    pattern: &ClassPattern,
    span: Span,
    classes: &ClassNames<'_>,
    (what, consequence): (&str, &str),
) {
    match pattern {
        ClassPattern::Exact(name) if !classes.contains(name) => {
            diags.push(unknown_name("class", name, span, &classes.list()));
        }
        ClassPattern::Glob { text, .. } if !classes.any(|c| pattern.matches(c)) => {
            diags.push(Diagnostic::warning(
                Code::GlobMatchesNothing,
                format!("{what} {text:?} matches no class in the evals; {consequence}"),
                Some(span),
            ));
        }
        _ => {}
    }
}

fn unknown_name(what: &str, name: &str, span: Span, known: &[&str]) -> Diagnostic {
    let plural = if what == "split" { "splits" } else { "classes" };
    let d = Diagnostic::error(
        if what == "split" {
            Code::UnknownSplit
        } else {
            Code::UnknownClass
        },
        format!("{what} {name:?} is in neither eval"),
        Some(span),
    );
    match did_you_mean(name, known.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean {s:?}?")),
        None if known.is_empty() => d.with_help(format!("the evals have no {plural}")),
        None => d.with_help(format!(
            "the evals have {} {plural}; check the spelling, or use {}",
            known.len(),
            if what == "split" {
                "\"*\" for every split"
            } else {
                "a glob"
            }
        )),
    }
}

fn check_size_task(diags: &mut Diagnostics, task: Task, size: &SizeRules) {
    if !task.has_sizes() {
        diags.push(
            Diagnostic::error(
                Code::SizesNotInTask,
                format!("{task} evals have no object sizes"),
                Some(size.span),
            )
            .with_help("remove the `sizes` block"),
        );
    }
}

fn check_metrics(diags: &mut Diagnostics, task: Task, kind: ScopeKind, rules: &[MetricRule]) {
    let known = task.metrics(kind);
    for rule in rules {
        // Sizes in a task without them are reported once, by `check_size_task`.
        if !known.contains(&rule.metric) && (kind != ScopeKind::Size || task.has_sizes()) {
            let names: Vec<&str> = known.iter().map(|m| m.name()).collect();
            let where_ = match kind {
                ScopeKind::Split => "split",
                ScopeKind::Size => "object size",
                ScopeKind::Class => "class",
            };
            diags.push(
                Diagnostic::error(
                    Code::MetricNotInTask,
                    format!("{task} evals have no {where_}-level {}", rule.metric),
                    Some(rule.span),
                )
                .with_help(format!("{where_}-level metrics here: {}", names.join(", "))),
            );
        }
    }
}

#[cfg(test)]
mod needs_tests {
    use super::*;
    use crate::model::{PanelBodies, Percent, parse_eval};

    fn policy(text: &str) -> Policy {
        parse_policy(text).unwrap().0
    }

    const MAP: &[u8] = br#"{"splits": {"valid": {"map50": 0.5}, "test": {"map50": 0.5}}}"#;

    fn with_panels(bodies: &PanelBodies) -> Eval {
        let mut eval = parse_eval(MAP).unwrap();
        eval.panels = bodies.parse().unwrap();
        eval
    }

    fn matrix(split: &str, confidence: f64) -> Vec<u8> {
        format!(
            r#"{{"split": "{split}", "confidenceThreshold": {confidence}, "classes": ["car", "background"], "matrix": [[3, 1], [2, 0]]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_map_results_policy_needs_nothing_and_misses_nothing() {
        let p = policy("version: 1\nsplits:\n  valid:\n    map50: 0.5\n");
        let needs = p.needs(None);
        assert!(needs.is_empty());
        assert!(needs.missing_in(&parse_eval(MAP).unwrap()).is_empty());
    }

    #[test]
    fn names_every_missing_panel_and_split() {
        let p = policy(
            "version: 1\noperating_point: {confidence: 0.40}\nsplits:\n  \"*\":\n    recall: {min: 0.5}\n    classes:\n      \"*\": {min_support: 5}\nconfusions:\n  - {split: valid, actual: car, predicted: background, max: 0.5}\n",
        );
        let needs = p.needs(Some(Task::ObjectDetection));
        let plain = parse_eval(MAP).unwrap();
        let forty = Percent::new(40).unwrap();
        assert_eq!(
            needs.missing_in(&plain),
            [
                MissingPanel::Sweep,
                MissingPanel::Confusion("test".into(), forty),
                MissingPanel::Confusion("valid".into(), forty),
            ]
        );
        assert_eq!(
            MissingPanel::Confusion("valid".into(), forty).to_string(),
            "the confusion matrix of split \"valid\" at confidence 0.40"
        );
        // A matrix at another confidence is no substitute.
        let mut bodies = PanelBodies {
            confidence_sweep: Some(br#"{"splits": {}}"#.to_vec()),
            ..PanelBodies::default()
        };
        bodies
            .confusion_matrix
            .insert("valid".into(), vec![matrix("valid", 0.5)]);
        bodies
            .confusion_matrix
            .insert("test".into(), vec![matrix("test", 0.4)]);
        assert_eq!(
            needs.missing_in(&with_panels(&bodies)),
            [MissingPanel::Confusion("valid".into(), forty)]
        );
        bodies
            .confusion_matrix
            .get_mut("valid")
            .unwrap()
            .push(matrix("valid", 0.4));
        assert!(needs.missing_in(&with_panels(&bodies)).is_empty());
    }

    #[test]
    fn at_optimal_the_matrix_is_the_one_at_each_splits_threshold() {
        let p = policy(
            "version: 1\noperating_point: {confidence: optimal}\nsplits:\n  valid:\n    classes:\n      \"*\":\n        recall: {min: 0.5}\nconfusions:\n  - {split: valid, actual: car, predicted: background, max: 0.5}\n",
        );
        let needs = p.needs(Some(Task::ObjectDetection));
        assert!(needs.sweep);
        let mut bodies = PanelBodies {
            confidence_sweep: Some(
                br#"{"splits": {"valid": {"optimalThreshold": 0.374}}}"#.to_vec(),
            ),
            ..PanelBodies::default()
        };
        bodies
            .confusion_matrix
            .insert("valid".into(), vec![matrix("valid", 0.4)]);
        assert_eq!(
            needs.missing_in(&with_panels(&bodies)),
            [
                MissingPanel::ByClass("valid".into()),
                MissingPanel::Confusion("valid".into(), Percent::new(37).unwrap()),
            ]
        );
        // Without a threshold in the sweep, no matrix can be asked for by name.
        bodies.confidence_sweep = Some(br#"{"splits": {"valid": {}}}"#.to_vec());
        assert_eq!(
            needs.missing_in(&with_panels(&bodies)),
            [MissingPanel::ByClass("valid".into())]
        );
    }
    #[test]
    fn the_matching_is_kept_for_splits_whose_map_drops_are_tested() {
        let stats = "version: 1\nstatistics: {seed: 1}\n";
        let needs =
            |rules: &str| policy(&format!("{stats}{rules}")).needs(Some(Task::ObjectDetection));
        let name = |s: &str| SplitSelector::Name(s.into());
        // Each scope: split, size, class, class × size.
        for rules in [
            "splits:\n  valid:\n    map50: {max_drop: 0.02}\n",
            "splits:\n  valid:\n    sizes:\n      small:\n        map75: {max_drop_rel: 0.1}\n",
            "splits:\n  valid:\n    classes:\n      car:\n        map50_95: {max_drop: 0.02}\n",
            "splits:\n  valid:\n    classes:\n      \"*\":\n        sizes:\n          large:\n            map50: {max_drop: auto}\n",
            // A floor inherits the default drop.
            "defaults: {max_drop: 0.02}\nsplits:\n  valid:\n    map50: {min: 0.5}\n",
        ] {
            let n = needs(rules);
            assert_eq!(n.matched, [name("valid")], "{rules}");
            assert!(n.keeps_matching("valid") && !n.keeps_matching("test"));
            // Not a panel: nothing to fetch, nothing a saved eval must hold.
            assert!(n.is_empty() && n.images.is_empty(), "{rules}");
        }
        // Floors only, or precision and recall only, or no statistics: no matching.
        assert!(
            needs("splits:\n  valid:\n    map50: {min: 0.5}\n")
                .matched
                .is_empty()
        );
        let prf = needs(
            "operating_point: {confidence: 0.4}\nsplits:\n  valid:\n    recall: {max_drop: 0.02}\n",
        );
        assert!(prf.matched.is_empty() && prf.images == [name("valid")]);
        let plain = policy("version: 1\nsplits:\n  \"*\":\n    map50: {max_drop: 0.02}\n");
        assert!(plain.needs(None).matched.is_empty());
        assert_eq!(
            needs("splits:\n  \"*\":\n    map50: {max_drop: 0.02}\n").matched,
            [SplitSelector::All]
        );
        assert!(needs("splits:\n  \"*\":\n    map50: {max_drop: 0.02}\n").keeps_matching("test"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_eval;

    /// Every kind of entry: a misspelt split (nothing under it is checked), an exact class in
    /// neither eval, a glob that matches nothing, and a class that exists only in another split.
    #[test]
    fn class_entries_confusions_and_waivers_check_names_alike() {
        let text = "version: 1\noperating_point: {confidence: 0.5}\nsplits:\n  vaild:\n    classes:\n      car: {map50: 0.5}\n  valid:\n    classes:\n      cra: {map50: 0.5}\n      'truck*': {map50: 0.5}\n      'c*': {map50: 0.5}\n      bus: {map50: 0.5}\n  '*':\n    classes:\n      zebra: {map50: 0.5}\nconfusions:\n  - {split: tset, actual: car, predicted: bus, max: 0.1}\n  - {split: valid, actual: bsu, predicted: 'truck*', max: 0.1}\n  - {split: test, actual: car, predicted: background, max: 0.1}\n  - {split: test, actual: 'x*', predicted: bus, max: 0.1}\nwaivers:\n  - {split: nope, reason: r, until: 2030-01-01}\n  - {split: valid, class: 'car', reason: r, until: 2030-01-01}\n  - {split: test, class: car, reason: r, until: 2030-01-01}\n  - {split: '*', class: 'truck*', reason: r, until: 2030-01-01}\n  - {split: '*', class: kangaroo, reason: r, until: 2030-01-01}\n";
        let (policy, _) = parse_policy(text).unwrap();
        let baseline = parse_eval(
            br#"{"splits": {"valid": {"perClass": {"car": {"map50": 0.5}, "bus": {"map50": 0.5}}}}}"#,
        )
        .unwrap();
        let candidate = parse_eval(
            br#"{"splits": {"valid": {"perClass": {"car": {"map50": 0.5}}}, "test": {"perClass": {"bus": {"map50": 0.5}}}}}"#,
        )
        .unwrap();
        let found: Vec<String> = policy
            .check_names(Task::ObjectDetection, &[&baseline, &candidate])
            .iter()
            .map(|d| format!("{:?} {}: {d}", d.level, d.code))
            .collect();
        assert_eq!(
            found,
            [
                "Error unknown-split: line 4, column 3: split \"vaild\" is in neither eval (did you mean \"valid\"?)",
                "Error unknown-class: line 9, column 7: class \"cra\" is in neither eval (the evals have 2 classes; check the spelling, or use a glob)",
                "Warning glob-matches-nothing: line 10, column 7: class pattern \"truck*\" matches no class in the evals; its rules check nothing",
                "Error unknown-class: line 15, column 7: class \"zebra\" is in neither eval (the evals have 2 classes; check the spelling, or use a glob)",
                "Error unknown-split: line 17, column 5: split \"tset\" is in neither eval (did you mean \"test\"?)",
                "Error unknown-class: line 18, column 5: class \"bsu\" is in neither eval (the evals have 2 classes; check the spelling, or use a glob)",
                "Warning glob-matches-nothing: line 18, column 5: confusion class pattern \"truck*\" matches no class in the evals; this rule checks nothing",
                "Error unknown-class: line 19, column 5: class \"car\" is in neither eval (the evals have 1 classes; check the spelling, or use a glob)",
                "Warning glob-matches-nothing: line 20, column 5: confusion class pattern \"x*\" matches no class in the evals; this rule checks nothing",
                "Error unknown-split: line 22, column 5: split \"nope\" is in neither eval (the evals have 2 splits; check the spelling, or use \"*\" for every split)",
                "Error unknown-class: line 24, column 5: class \"car\" is in neither eval (the evals have 1 classes; check the spelling, or use a glob)",
                "Warning glob-matches-nothing: line 25, column 5: waiver class pattern \"truck*\" matches no class in the evals; it waives nothing",
                "Error unknown-class: line 26, column 5: class \"kangaroo\" is in neither eval (the evals have 2 classes; check the spelling, or use a glob)",
            ]
        );
    }
}
