//! The gate: a pure function of a policy and two evals.
//!
//! [`evaluate`] turns every (split, scope, metric, rule field) the policy covers into a
//! [`Check`], applies waivers, and decides the [`Verdict`]. It reads no clock (the date for
//! waivers comes in [`GateOptions`]), no environment and no files, so the same inputs always
//! give the same report.

mod check;
mod noise;
mod plan;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;

pub use crate::model::{NoiseData, noise_data};
pub use check::{
    BaselineGap, Check, Detail, Evidence, GateReport, NoiseTest, OperatingPointUsed, Reason,
    RuleKind, Status, Summary, Verdict, WaiverOutcome,
};
pub use noise::{CALIBRATION_CORRELATION, CALIBRATION_POWER, Calibration, MAX_EVIDENCE, calibrate};

use check::CheckParts;
pub use plan::{Item, confusion_pairs, plan, plan_each};

use plan::{Owners, Step, walk};

use crate::model::{ConfusionMatrix, Eval, Lookup, Metric, ScopeMetrics, Size, Task};
use crate::policy::{
    BACKGROUND, ConfusionRule, Diagnostic, Field, MissingBaseline, MissingClass, MissingMetric,
    Policy, Predicted, Rule, Severity, SplitSelector, Waiver,
};

/// Comparisons tolerate this much float noise: a drop of exactly the allowed amount
/// (0.75 → 0.74 with `max_drop: 0.01`) passes although 0.75 − 0.74 > 0.01 in binary.
pub const TOLERANCE: f64 = 1e-9;

/// What the gate needs besides the policy and the evals.
#[derive(Clone, Copy, Debug)]
pub struct GateOptions {
    /// Warnings fail the gate.
    pub strict: bool,
    /// The date waivers are judged against.
    pub today: NaiveDate,
    /// The most checks the gate may make; more is [`GateError::TooManyChecks`], so that no
    /// eval the input caps admit can exhaust memory.
    pub max_checks: usize,
}

/// Why two evals, or an eval and the policy, cannot be compared.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NotComparable {
    /// The baseline and candidate measure different tasks.
    #[error("the baseline's task is {baseline} but the candidate's is {candidate}")]
    Tasks {
        /// The baseline's task.
        baseline: Task,
        /// The candidate's task.
        candidate: Task,
    },
    /// An eval's task is not the one the policy declares.
    #[error("the policy is for {policy} evals but the {role}'s task is {eval}")]
    Policy {
        /// The policy's `task`.
        policy: Task,
        /// `baseline` or `candidate`.
        role: &'static str,
        /// The eval's task.
        eval: Task,
    },
    /// The two local evaluations of a split were made against ground truths with different
    /// categories.
    #[error(
        "the baseline and candidate were evaluated on different categories in split {split:?} ({only_baseline} only in the baseline, {only_candidate} only in the candidate); evaluate both against the same ground truth"
    )]
    Categories {
        /// The split.
        split: String,
        /// Categories only the baseline's ground truth has.
        only_baseline: usize,
        /// Only the candidate's.
        only_candidate: usize,
    },
}

/// Checks that the evals and the policy agree on the task, and returns it.
pub fn comparable(
    policy: &Policy,
    baseline: Option<&Eval>,
    candidate: &Eval,
) -> Result<Task, NotComparable> {
    if let Some(want) = policy.task {
        for (role, eval) in [("baseline", baseline), ("candidate", Some(candidate))] {
            if let Some(e) = eval
                && e.task != want
            {
                return Err(NotComparable::Policy {
                    policy: want,
                    role,
                    eval: e.task,
                });
            }
        }
    }
    if let Some(b) = baseline
        && b.task != candidate.task
    {
        return Err(NotComparable::Tasks {
            baseline: b.task,
            candidate: candidate.task,
        });
    }
    Ok(candidate.task)
}

/// The default of [`GateOptions::max_checks`]: at 72 bytes a check, about 150 MB of checks,
/// and reports that are written in seconds.
pub const DEFAULT_MAX_CHECKS: usize = 2_000_000;

impl GateOptions {
    /// Options for a gate judged on `today`: warnings pass, at most [`DEFAULT_MAX_CHECKS`].
    pub fn new(today: NaiveDate) -> GateOptions {
        GateOptions {
            strict: false,
            today,
            max_checks: DEFAULT_MAX_CHECKS,
        }
    }
}

/// Why the gate could not decide.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The evals, or an eval and the policy, are of different tasks.
    #[error("the evals cannot be compared: {0}")]
    NotComparable(#[from] NotComparable),
    /// The policy names splits, classes or metrics that neither eval has.
    #[error(
        "the policy names what neither eval has ({errors} {})",
        if *.errors == 1 { "error" } else { "errors" }
    )]
    UnknownNames {
        /// How many of `diagnostics` are errors.
        errors: usize,
        /// Every finding, errors and warnings, in policy order.
        diagnostics: Vec<Diagnostic>,
    },
    /// Every check was skipped, or no rule applies to these evals: a gate that judged
    /// nothing must not pass.
    #[error("no check could be evaluated: {}", nothing_why(.report))]
    NothingEvaluated {
        /// What the gate made of it: no checks, or only skipped ones.
        report: Box<GateReport>,
    },
    /// The policy asks for noise tests but an eval has no per-image outcomes for a split
    /// with tested rules.
    #[error(
        "the policy's statistics need per-image outcomes (image predictions) of split {split:?}, and the {role} eval has none; fetch it with `evalgate fetch --policy` or from rf:, or remove the statistics block"
    )]
    NoImageData {
        /// The split.
        split: String,
        /// `baseline` or `candidate`.
        role: &'static str,
    },
    /// The two evals' per-image outcomes are not of the same images.
    #[error(
        "the evals are not of the same images in split {split:?}: {only_baseline} only in the baseline, {only_candidate} only in the candidate{}{}; a paired test needs both models scored on the same split",
        if examples.is_empty() { String::new() } else { format!(" (e.g. {})", examples.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(", ")) },
        if *duplicates { "; an image id is listed twice" } else { "" }
    )]
    ImagesDiffer {
        /// The split.
        split: String,
        /// Images only the baseline has.
        only_baseline: usize,
        /// Images only the candidate has.
        only_candidate: usize,
        /// A few of their ids.
        examples: Vec<String>,
        /// Whether an eval lists an image twice.
        duplicates: bool,
    },
    /// Per-image outcomes that do not fit together.
    #[error("the per-image outcomes cannot be used: {0}")]
    ImageData(String),
    /// The policy asks for more checks than the gate may hold.
    #[error(
        "the policy asks for {count} checks of these evals, more than the limit of {limit}; narrow the class rules or raise the limit (--max-checks)"
    )]
    TooManyChecks {
        /// How many checks the policy asks for.
        count: usize,
        /// [`GateOptions::max_checks`].
        limit: usize,
    },
}

fn nothing_why(report: &GateReport) -> String {
    match report.checks.len() {
        0 => "no rule applies to a split, object size or class these evals have".to_owned(),
        1 => "its only check was skipped".to_owned(),
        n => format!("all {n} checks were skipped"),
    }
}

/// A policy and the evals it judges, found comparable and with every name the policy uses
/// checked against them: the only way to a [`GateReport`].
///
/// ```
/// use evalgate::gate::{Gate, GateOptions, Verdict};
///
/// let (policy, _) = evalgate::parse_policy("version: 1\nsplits:\n  valid:\n    map50: 0.5\n")?;
/// let eval = evalgate::parse_eval(br#"{"splits": {"valid": {"map50": 0.6}}}"#)?;
/// let gate = Gate::new(&policy, None, &eval)?;
/// let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
/// assert_eq!(gate.evaluate(&GateOptions::new(today))?.verdict, Verdict::Pass);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Gate<'a> {
    policy: &'a Policy,
    /// The evals as the gate reads them: at the policy's operating point, with support.
    baseline: Option<Cow<'a, Eval>>,
    candidate: Cow<'a, Eval>,
    task: Task,
    warnings: Vec<Diagnostic>,
}

impl<'a> Gate<'a> {
    /// Checks that the evals and the policy agree on the task and that every split, class
    /// and metric the policy names exists in an eval.
    pub fn new(
        policy: &'a Policy,
        baseline: Option<&'a Eval>,
        candidate: &'a Eval,
    ) -> Result<Gate<'a>, GateError> {
        let task = comparable(policy, baseline, candidate)?;
        // Precision, recall, F1 and support come from the panels at the operating point; an
        // eval without panels under a policy without one is read as it is, uncopied.
        let point = policy.operating_point.map(|p| p.value);
        let read = |e: &'a Eval| {
            if point.is_some() || !e.panels.confusion.is_empty() {
                Cow::Owned(e.read_at(point))
            } else {
                Cow::Borrowed(e)
            }
        };
        let (baseline, candidate) = (baseline.map(read), read(candidate));
        let evals: Vec<&Eval> = baseline.iter().map(|b| &**b).chain([&*candidate]).collect();
        let diagnostics = policy.check_names(task, &evals);
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            return Err(GateError::UnknownNames {
                errors,
                diagnostics,
            });
        }
        Ok(Gate {
            policy,
            baseline,
            candidate,
            task,
            warnings: diagnostics,
        })
    }

    /// The task both evals measure.
    pub fn task(&self) -> Task {
        self.task
    }

    /// What the name checks found worth a warning (e.g. a glob that matches no class).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Every item the gate checks, resolved: what `policy explain` shows.
    pub fn plan(&self) -> Vec<Item> {
        plan(self.policy, self.baseline.as_deref(), &self.candidate)
    }

    /// Judges the evals. Fails when nothing could be judged, so that a caller never gets a
    /// pass from a gate that evaluated nothing.
    pub fn evaluate(&self, options: &GateOptions) -> Result<GateReport, GateError> {
        let report = evaluate(
            self.policy,
            self.baseline.as_deref(),
            &self.candidate,
            options,
        )?;
        if report.summary.skip == report.summary.total() {
            return Err(GateError::NothingEvaluated {
                report: Box::new(report),
            });
        }
        Ok(report)
    }
}

/// Applies `policy` to the evals. [`Gate`] is the way in: it checks names and
/// comparability first, and refuses a gate that judged nothing.
fn evaluate(
    policy: &Policy,
    baseline: Option<&Eval>,
    candidate: &Eval,
    options: &GateOptions,
) -> Result<GateReport, GateError> {
    let mut judge = Judge {
        policy,
        checks: Vec::new(),
        names: None,
    };
    let confusions = judge.confusions(baseline, candidate);
    // Counted before anything is made, so that a policy over millions of classes stops
    // with a message instead of exhausting memory.
    let mut count = 0usize;
    walk(policy, baseline, candidate, false, &mut |step| {
        count = count.saturating_add(step.checks());
        if count > options.max_checks {
            return;
        }
        match step {
            Step::Rule {
                split,
                class,
                size,
                metric,
                rule,
                owners,
                min_support,
                ..
            } => judge.metric(
                split,
                class,
                size,
                metric,
                &rule,
                owners,
                min_support.map(|f| f.value),
            ),
            Step::MissingSplit {
                split,
                in_baseline,
                line,
            } => judge.checks.push(presence(
                split,
                None,
                Severity::Fail,
                Status::Fail,
                Reason::SplitMissing { in_baseline },
                line,
            )),
            Step::MissingClass { split, class, line } => {
                let (status, severity) = match policy.missing.class {
                    MissingClass::Fail => (Status::Fail, Severity::Fail),
                    MissingClass::Warn => (Status::Warn, Severity::Warn),
                    MissingClass::Ignore => (Status::Skip, Severity::Warn),
                };
                judge.checks.push(presence(
                    split,
                    Some(class),
                    severity,
                    status,
                    Reason::ClassMissing,
                    line,
                ));
            }
        }
    });
    count = count.saturating_add(confusions.len());
    if count > options.max_checks {
        return Err(GateError::TooManyChecks {
            count,
            limit: options.max_checks,
        });
    }

    let mut checks = judge.checks;
    checks.extend(confusions);
    checks.shrink_to_fit();
    let tests = match &policy.statistics {
        Some(stats) => noise::test(stats, candidate.task, baseline, candidate, &mut checks)?,
        None => Vec::new(),
    };
    let waivers = apply_waivers(&policy.waivers, &mut checks, options.today);
    let mut summary = Summary::default();
    for c in &checks {
        match c.status {
            Status::Pass => summary.pass += 1,
            Status::Fail => summary.fail += 1,
            Status::Warn => summary.warn += 1,
            Status::Skip => summary.skip += 1,
            Status::Waived => summary.waived += 1,
        }
    }
    let failed = summary.fail > 0 || (options.strict && summary.warn > 0);
    let operating_point = policy.operating_point.map(|p| OperatingPointUsed {
        point: p.value,
        baseline: baseline
            .and_then(|b| b.read_at.as_ref())
            .map(|r| r.confidence.clone()),
        candidate: candidate
            .read_at
            .as_ref()
            .map(|r| r.confidence.clone())
            .unwrap_or_default(),
    });
    Ok(GateReport {
        verdict: if failed { Verdict::Fail } else { Verdict::Pass },
        strict: options.strict,
        task: candidate.task,
        checks,
        summary,
        waivers,
        operating_point,
        tests,
        statistics: policy.statistics,
    })
}

struct Judge<'a> {
    policy: &'a Policy,
    checks: Vec<Check>,
    /// The split and class of the last check (by address), and their names as the checks
    /// of that scope share them.
    names: Option<Names>,
}

/// What the checks of one scope share.
struct Names {
    key: NamesPtr,
    split: Arc<str>,
    class: Option<Arc<str>>,
    detail: Option<Arc<Detail>>,
}

/// A split and class as the walk passes them, by address only: compared, never dereferenced.
type NamesPtr = (*const str, Option<*const str>);

impl Judge<'_> {
    #[allow(clippy::too_many_arguments)]
    fn metric(
        &mut self,
        split: &str,
        class: Option<&str>,
        size: Option<Size>,
        metric: Metric,
        rule: &Rule,
        owners: Owners<'_>,
        min_support: Option<u64>,
    ) {
        // Items come grouped by class, and the walk hands every item of a class the same
        // `&str`: what the class's checks share is made once, when it changes.
        let hit = matches!(&self.names, Some(n) if std::ptr::eq(n.key.0, split)
        && match (n.key.1, class) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (None, None) => true,
            _ => false,
        });
        if !hit {
            let split_name = match &self.names {
                Some(n) if &*n.split == split => Arc::clone(&n.split),
                _ => Arc::from(split),
            };
            let support = |o: &Result<&ScopeMetrics, Lookup>| o.ok().and_then(|m| m.support);
            let detail = class.and_then(|_| {
                let d = Detail {
                    support: support(&owners.candidate),
                    baseline_support: owners.baseline.as_ref().and_then(support),
                    min_support,
                    predicted: None,
                };
                (d != Detail::default()).then(|| Arc::new(d))
            });
            self.names = Some(Names {
                key: (split as *const str, class.map(|c| c as *const str)),
                split: split_name,
                class: class.map(Arc::from),
                detail,
            });
        }
        let Some(names) = &self.names else {
            unreachable!("the names were just filled")
        };
        let (split_name, class_name, detail) = (
            Arc::clone(&names.split),
            names.class.clone(),
            names.detail.clone(),
        );
        let (cand_owner, base_owner) = (&owners.candidate, &owners.baseline);
        let value = |m: &Result<&ScopeMetrics, Lookup>| match m {
            Ok(owner) => {
                let metrics = size.map_or(&owner.metrics, |s| owner.size(s));
                metrics.get(metric).map_or(Lookup::NoValue, Lookup::Value)
            }
            Err(missing) => *missing,
        };
        let cand = value(cand_owner);
        let base = base_owner.as_ref().map(value);
        let severity = rule.severity.map_or(Severity::Fail, |s| s.value);
        let support = self.support(min_support, detail.as_deref(), base.is_some());
        let fields: [(RuleKind, Option<Field<f64>>); 5] = [
            (RuleKind::Min, rule.min),
            (RuleKind::Max, rule.max),
            (RuleKind::MaxDrop, rule.max_drop),
            (RuleKind::MaxDropRel, rule.max_drop_rel),
            (RuleKind::MaxShift, rule.max_shift),
        ];
        for (kind, field) in fields {
            let Some(field) = field else { continue };
            let (outcome, reason) =
                support.unwrap_or_else(|| self.judge(kind, field.value, cand, base));
            let status = match outcome {
                Outcome::Pass => Status::Pass,
                Outcome::Skip => Status::Skip,
                Outcome::Violated { soft } if soft || severity == Severity::Warn => Status::Warn,
                Outcome::Violated { .. } => Status::Fail,
            };
            self.checks.push(Check::new(CheckParts {
                split: Arc::clone(&split_name),
                class: class_name.clone(),
                size,
                metric: Some(metric),
                rule: kind,
                severity,
                status,
                reason,
                candidate: cand.value(),
                baseline: base.and_then(Lookup::value),
                threshold: Some(field.value),
                line: field.line,
                detail: detail.clone(),
                auto: kind == RuleKind::MaxDrop && rule.auto,
            }));
        }
    }

    /// What `min_support` decides before any value is compared: a skip when the class has
    /// too little ground truth in an eval, `missing.metric` when an eval does not say how
    /// much it has, nothing when the support suffices or no `min_support` applies.
    fn support(
        &self,
        min: Option<u64>,
        detail: Option<&Detail>,
        has_baseline: bool,
    ) -> Option<(Outcome, Reason)> {
        let min = min?;
        let d = detail.cloned().unwrap_or_default();
        let counts = [Some(d.support), has_baseline.then_some(d.baseline_support)];
        if counts.iter().flatten().any(|s| s.is_some_and(|n| n < min)) {
            return Some((Outcome::Skip, Reason::InsufficientSupport));
        }
        if counts.iter().flatten().any(Option::is_none) {
            let outcome = match self.policy.missing.metric {
                MissingMetric::Fail => Outcome::Violated { soft: false },
                MissingMetric::Warn => Outcome::Violated { soft: true },
                MissingMetric::Skip => Outcome::Skip,
            };
            return Some((outcome, Reason::SupportUnknown));
        }
        None
    }

    /// Every check of the policy's `confusions`, in rule order, then split, actual and
    /// predicted class by name.
    fn confusions(&self, baseline: Option<&Eval>, candidate: &Eval) -> Vec<Check> {
        let mut out = Vec::new();
        let point = self.policy.operating_point.map(|p| p.value);
        for rule in &self.policy.confusions {
            for split in plan::confusion_splits(rule, baseline, candidate) {
                let cand = candidate.matrix_at(split, point);
                let base = baseline.map(|b| b.matrix_at(split, point));
                self.confusion_split(rule, split, cand, base, &mut out);
            }
        }
        out
    }

    fn confusion_split(
        &self,
        rule: &ConfusionRule,
        split: &str,
        cand: Option<&ConfusionMatrix>,
        base: Option<Option<&ConfusionMatrix>>,
        out: &mut Vec<Check>,
    ) {
        let severity = rule
            .severity
            .or(self.policy.defaults.severity)
            .map_or(Severity::Fail, |s| s.value);
        let fields: [(RuleKind, Option<Field<f64>>); 2] = [
            (RuleKind::MaxRise, rule.max_rise),
            (RuleKind::Max, rule.max),
        ];
        let split_name: Arc<str> = Arc::from(split);
        let make = |kind: RuleKind,
                    field: Field<f64>,
                    class: Option<&str>,
                    detail: Option<Arc<Detail>>,
                    (status, reason): (Status, Reason),
                    (c, b): (Option<f64>, Option<f64>)| {
            Check::new(CheckParts {
                split: Arc::clone(&split_name),
                class: class.map(Arc::from),
                size: None,
                metric: None,
                rule: kind,
                severity,
                status,
                reason,
                candidate: c,
                baseline: b,
                threshold: Some(field.value),
                line: field.line,
                detail,
                auto: false,
            })
        };
        let Some(cand) = cand else {
            // Not a pass: the data the rule reads is not there.
            let detail = Arc::new(Detail {
                predicted: Some(rule.predicted.text().to_owned()),
                ..Detail::default()
            });
            for (kind, field) in fields {
                let Some(field) = field else { continue };
                out.push(make(
                    kind,
                    field,
                    Some(rule.actual.text()),
                    Some(Arc::clone(&detail)),
                    (Status::Fail, Reason::NoConfusionMatrix),
                    (None, None),
                ));
            }
            return;
        };
        let base_matrix = base.flatten();
        let mut actuals: BTreeSet<&str> = cand.classes.iter().map(String::as_str).collect();
        actuals.extend(
            base_matrix
                .iter()
                .flat_map(|m| m.classes.iter().map(String::as_str)),
        );
        let classes: Vec<&str> = actuals.iter().copied().collect();
        let pairs = confusion_pairs(rule, &classes);
        for (i, &(actual, _)) in pairs.iter().enumerate() {
            if i > 0 && pairs[i - 1].0 == actual {
                continue;
            }
            let predicted = pairs[i..]
                .iter()
                .take_while(|(a, _)| *a == actual)
                .map(|&(_, p)| p);
            let (a_cand, a_base) = (
                cand.index(actual),
                base_matrix.and_then(|m| m.index(actual)),
            );
            for p in predicted {
                // A predicted class one eval lacks is one it never predicts: a share of 0.
                let share = |m: &ConfusionMatrix, a: usize| {
                    let col = if p == BACKGROUND && matches!(rule.predicted, Predicted::Background)
                    {
                        Some(m.background())
                    } else {
                        m.index(p)
                    };
                    match col {
                        Some(col) => m.share(a, col),
                        None => m.share(a, m.background()).map(|_| 0.0),
                    }
                };
                let c = a_cand.and_then(|a| share(cand, a));
                let b = base_matrix.zip(a_base).and_then(|(m, a)| share(m, a));
                let detail = Arc::new(Detail {
                    support: a_cand.map(|a| cand.row_sum(a)),
                    baseline_support: base_matrix.zip(a_base).map(|(m, a)| m.row_sum(a)),
                    min_support: None,
                    predicted: Some(p.to_owned()),
                });
                for (kind, field) in fields {
                    let Some(field) = field else { continue };
                    let decided = if a_cand.is_none() {
                        let (status, _) = match self.policy.missing.class {
                            MissingClass::Fail => (Status::Fail, Severity::Fail),
                            MissingClass::Warn => (Status::Warn, Severity::Warn),
                            MissingClass::Ignore => (Status::Skip, Severity::Warn),
                        };
                        (status, Reason::ClassMissing)
                    } else {
                        let cand_lookup = c.map_or(Lookup::NoValue, Lookup::Value);
                        let base_lookup = base.map(|m| match (m, a_base, b) {
                            (None, ..) => Lookup::NoSplit,
                            (Some(_), None, _) => Lookup::NoClass,
                            (Some(_), Some(_), v) => v.map_or(Lookup::NoValue, Lookup::Value),
                        });
                        let (outcome, reason) =
                            self.judge(kind, field.value, cand_lookup, base_lookup);
                        let status = match outcome {
                            Outcome::Pass => Status::Pass,
                            Outcome::Skip => Status::Skip,
                            Outcome::Violated { soft } if soft || severity == Severity::Warn => {
                                Status::Warn
                            }
                            Outcome::Violated { .. } => Status::Fail,
                        };
                        (status, reason)
                    };
                    out.push(make(
                        kind,
                        field,
                        Some(actual),
                        Some(Arc::clone(&detail)),
                        decided,
                        (c, b),
                    ));
                }
            }
        }
    }

    fn judge(
        &self,
        kind: RuleKind,
        t: f64,
        cand: Lookup,
        base: Option<Lookup>,
    ) -> (Outcome, Reason) {
        let base_value = base.and_then(Lookup::value);
        let floor = matches!(kind, RuleKind::Min | RuleKind::Max);
        // A missing candidate value reads the same for every rule kind: `missing:` decides.
        let Some(c) = cand.value() else {
            let reason = match (base_value, base) {
                (Some(_), _) => Reason::NoCandidateValue,
                (None, Some(Lookup::NoValue)) => return (Outcome::Skip, Reason::NoValueInEither),
                (None, Some(Lookup::NoClass)) => {
                    return (Outcome::Skip, Reason::NewClassWithoutValue);
                }
                // Nothing to compare a drop with: `missing.baseline` decides.
                (None, _) if !floor => return self.no_baseline(base),
                // A floor that cannot be checked must not pass silently.
                (None, _) => Reason::NoValueAnywhere,
            };
            let outcome = match self.policy.missing.metric {
                MissingMetric::Fail => Outcome::Violated { soft: false },
                MissingMetric::Warn => Outcome::Violated { soft: true },
                MissingMetric::Skip => Outcome::Skip,
            };
            return (outcome, reason);
        };
        let ok = match kind {
            RuleKind::Min => c >= t - TOLERANCE,
            RuleKind::Max => c <= t + TOLERANCE,
            RuleKind::MaxDrop | RuleKind::MaxDropRel => {
                let Some(b) = base_value else {
                    return self.no_baseline(base);
                };
                let drop = if kind == RuleKind::MaxDrop {
                    b - c
                } else if b > 0.0 {
                    (b - c) / b
                } else {
                    // Nothing can drop below a baseline of zero.
                    0.0
                };
                drop <= t + TOLERANCE
            }
            RuleKind::MaxShift | RuleKind::MaxRise => {
                let Some(b) = base_value else {
                    return self.no_baseline(base);
                };
                let moved = if kind == RuleKind::MaxShift {
                    (c - b).abs()
                } else {
                    c - b
                };
                moved <= t + TOLERANCE
            }
            RuleKind::Presence => return (Outcome::Skip, Reason::Compared),
        };
        let outcome = if ok {
            Outcome::Pass
        } else {
            Outcome::Violated { soft: false }
        };
        (outcome, Reason::Compared)
    }

    fn no_baseline(&self, base: Option<Lookup>) -> (Outcome, Reason) {
        let gap = match base {
            None => BaselineGap::NoEval,
            Some(Lookup::NoSplit) => BaselineGap::NoSplit,
            // A class only in the candidate is new: drops do not apply to it.
            Some(Lookup::NoClass) => return (Outcome::Skip, Reason::NewClass),
            Some(Lookup::NoValue | Lookup::Value(_)) => BaselineGap::NoValue,
        };
        let outcome = match self.policy.missing.baseline {
            MissingBaseline::FloorsOnly => Outcome::Skip,
            MissingBaseline::Fail => Outcome::Violated { soft: false },
        };
        (outcome, Reason::NoBaseline(gap))
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Pass,
    Skip,
    /// `soft`: never worse than a warning, whatever the rule's severity.
    Violated {
        soft: bool,
    },
}

fn presence(
    split: &str,
    class: Option<&str>,
    severity: Severity,
    status: Status,
    reason: Reason,
    line: u32,
) -> Check {
    Check::new(CheckParts {
        split: Arc::from(split),
        class: class.map(Arc::from),
        size: None,
        metric: None,
        rule: RuleKind::Presence,
        severity,
        status,
        reason,
        candidate: None,
        baseline: None,
        threshold: None,
        line,
        detail: None,
        auto: false,
    })
}

fn apply_waivers(waivers: &[Waiver], checks: &mut [Check], today: NaiveDate) -> Vec<WaiverOutcome> {
    let mut outcomes: Vec<WaiverOutcome> = waivers
        .iter()
        .map(|w| WaiverOutcome {
            scope: waiver_scope(w),
            reason: w.reason.clone(),
            until: w.until,
            expired: today > w.until,
            matched: 0,
            line: w.span.line,
        })
        .collect();
    for check in checks.iter_mut() {
        if !matches!(check.status, Status::Fail | Status::Warn) {
            continue;
        }
        let covers = |w: &Waiver| w.covers(&check.split, check.class.as_deref(), check.metric);
        // The first active waiver excuses the check; failing that, the first expired one
        // is named so the reader knows why it no longer does.
        let mut expired = None;
        for (i, w) in waivers.iter().enumerate() {
            if !covers(w) {
                continue;
            }
            outcomes[i].matched += 1;
            if outcomes[i].expired {
                expired.get_or_insert(i);
            } else {
                check.status = Status::Waived;
                check.set_waiver(i);
                expired = None;
                break;
            }
        }
        if let Some(i) = expired {
            check.set_waiver(i);
        }
    }
    outcomes
}

fn waiver_scope(w: &Waiver) -> String {
    let mut s = match &w.split {
        SplitSelector::All => "every split".to_owned(),
        SplitSelector::Name(n) => format!("split {n:?}"),
    };
    if let Some(c) = &w.class {
        s.push_str(&format!(", class {:?}", c.text()));
    }
    if let Some(m) = w.metric {
        s.push_str(&format!(", {m}"));
    }
    s
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod operating_point_tests;

#[cfg(test)]
mod noise_tests;
