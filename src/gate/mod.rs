//! The gate: a pure function of a policy and two evals.
//!
//! [`evaluate`] turns every (split, scope, metric, rule field) the policy covers into a
//! [`Check`], applies waivers, and decides the [`Verdict`]. It reads no clock (the date for
//! waivers comes in [`GateOptions`]), no environment and no files, so the same inputs always
//! give the same report.

mod check;
mod plan;

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::NaiveDate;

pub use check::{Check, GateReport, RuleKind, Status, Summary, Verdict, WaiverOutcome};
pub use plan::{Item, plan, plan_each};

use crate::model::{Eval, Lookup, Metric, Scope, ScopeMetrics, Task};
use crate::policy::{
    Field, MissingBaseline, MissingClass, MissingMetric, Policy, Rule, Severity, SplitSelector,
    Waiver,
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

/// Applies `policy` to the evals.
///
/// Call [`comparable`] and [`Policy::check_names`] first; this function assumes the names
/// fit, and fails closed (a failed presence check) where they do not.
pub fn evaluate(
    policy: &Policy,
    baseline: Option<&Eval>,
    candidate: &Eval,
    options: &GateOptions,
) -> GateReport {
    let mut gate = Gate {
        policy,
        baseline,
        candidate,
        checks: Vec::new(),
        cache: None,
    };
    plan_each(policy, baseline, candidate, &mut |item| match item {
        Item::Rule {
            split,
            scope,
            metric,
            rule,
            ..
        } => gate.metric(&split, &scope, metric, &rule),
        Item::MissingSplit {
            split,
            in_baseline,
            line,
        } => {
            let where_ = if in_baseline {
                "is in the baseline but not in the candidate"
            } else {
                "is not in the candidate"
            };
            let message = format!("split {split:?} {where_}");
            gate.checks.push(presence(
                &split,
                None,
                Severity::Fail,
                Status::Fail,
                message,
                line,
            ));
        }
        Item::MissingClass { split, class, line } => {
            let (status, severity, note) = match policy.missing.class {
                MissingClass::Fail => (Status::Fail, Severity::Fail, "missing.class is fail"),
                MissingClass::Warn => (Status::Warn, Severity::Warn, "missing.class is warn"),
                MissingClass::Ignore => (Status::Skip, Severity::Warn, "missing.class is ignore"),
            };
            let message =
                format!("class {class:?} is in the baseline but not in the candidate ({note})");
            gate.checks.push(presence(
                &split,
                Some(&class),
                severity,
                status,
                message,
                line,
            ));
        }
    });

    let mut checks = gate.checks;
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
    GateReport {
        verdict: if failed { Verdict::Fail } else { Verdict::Pass },
        strict: options.strict,
        task: candidate.task,
        checks,
        summary,
        waivers,
    }
}

struct Gate<'a> {
    policy: &'a Policy,
    baseline: Option<&'a Eval>,
    candidate: &'a Eval,
    checks: Vec<Check>,
    /// The split and class looked up last, with the candidate's and the baseline's metrics.
    cache: Option<ScopeCache<'a>>,
}

type ScopeCache<'a> = (
    Arc<str>,
    Option<Arc<str>>,
    Result<&'a ScopeMetrics, Lookup>,
    Option<Result<&'a ScopeMetrics, Lookup>>,
);

impl Gate<'_> {
    fn metric(&mut self, split: &str, scope: &Scope, metric: Metric, rule: &Rule) {
        // Items come grouped by class: look each class up once, not once per metric and size.
        let class = scope.class();
        let hit =
            matches!(&self.cache, Some((sp, c, _, _)) if &**sp == split && c.as_deref() == class);
        if !hit {
            let base = self.baseline.map(|b| b.owner(split, class));
            // The names are shared by every check of the class, not copied into each.
            let split_name = match &self.cache {
                Some((sp, ..)) if &**sp == split => Arc::clone(sp),
                _ => Arc::from(split),
            };
            self.cache = Some((
                split_name,
                class.map(Arc::from),
                self.candidate.owner(split, class),
                base,
            ));
        }
        let Some((split_name, class_name, cand_owner, base_owner)) = &self.cache else {
            unreachable!("the cache was just filled")
        };
        let (split_name, class_name) = (Arc::clone(split_name), class_name.clone());
        let value = |m: &Result<&ScopeMetrics, Lookup>| match m {
            Ok(owner) => {
                let metrics = scope.size().map_or(&owner.metrics, |s| owner.size(s));
                metrics.get(metric).map_or(Lookup::NoValue, Lookup::Value)
            }
            Err(missing) => *missing,
        };
        let cand = value(cand_owner);
        let base = base_owner.as_ref().map(value);
        let severity = rule.severity.map_or(Severity::Fail, |s| s.value);
        let fields: [(RuleKind, Option<Field<f64>>); 4] = [
            (RuleKind::Min, rule.min),
            (RuleKind::Max, rule.max),
            (RuleKind::MaxDrop, rule.max_drop),
            (RuleKind::MaxDropRel, rule.max_drop_rel),
        ];
        for (kind, field) in fields {
            let Some(field) = field else { continue };
            let outcome = self.judge(kind, field.value, cand, base);
            let (status, message, excess) = match outcome {
                Outcome::Pass(m) => (Status::Pass, m, 0.0),
                Outcome::Skip(m) => (Status::Skip, m, 0.0),
                Outcome::Violated {
                    message,
                    excess,
                    soft,
                } => {
                    let status = if severity == Severity::Warn || soft {
                        Status::Warn
                    } else {
                        Status::Fail
                    };
                    (status, message, excess)
                }
            };
            let c = cand.value();
            let b = base.and_then(Lookup::value);
            self.checks.push(Check {
                id: check_id(split, scope, Some(metric), kind),
                split: Arc::clone(&split_name),
                class: class_name.clone(),
                size: scope.size(),
                metric: Some(metric),
                rule: kind,
                severity,
                status,
                candidate: c,
                baseline: b,
                delta: c.zip(b).map(|(c, b)| c - b),
                threshold: Some(field.value),
                message,
                line: Some(field.line),
                excess,
            });
        }
    }

    fn judge(&self, kind: RuleKind, t: f64, cand: Lookup, base: Option<Lookup>) -> Outcome {
        let base_value = base.and_then(Lookup::value);
        let floor = matches!(kind, RuleKind::Min | RuleKind::Max);
        let Some(c) = cand.value() else {
            let message = match (base_value, base) {
                (Some(b), _) => format!("no value in the candidate (baseline {})", f4(b)),
                (None, Some(Lookup::NoValue)) => {
                    return Outcome::Skip("no value in either eval".into());
                }
                (None, Some(Lookup::NoClass)) => {
                    return Outcome::Skip("new class with no value in the candidate".into());
                }
                // Nothing to compare a drop with: `missing.baseline` decides.
                (None, _) if !floor => return self.no_baseline(base),
                // A floor that cannot be checked must not pass silently.
                (None, _) => "no value in the candidate, and none in a baseline".to_owned(),
            };
            return match self.policy.missing.metric {
                MissingMetric::Fail => Outcome::violated(message, f64::INFINITY, false),
                MissingMetric::Warn => Outcome::violated(message, f64::INFINITY, true),
                MissingMetric::Skip => Outcome::Skip(format!("{message}; missing.metric is skip")),
            };
        };
        // Messages are built in one buffer: a gate over 10,000 classes writes 100,000 of them.
        let mut m = String::with_capacity(48);
        match kind {
            RuleKind::Min | RuleKind::Max => {
                let (ok, op, excess) = if kind == RuleKind::Min {
                    (
                        c >= t - TOLERANCE,
                        if c >= t - TOLERANCE {
                            " ≥ min "
                        } else {
                            " < min "
                        },
                        t - c,
                    )
                } else {
                    (
                        c <= t + TOLERANCE,
                        if c <= t + TOLERANCE {
                            " ≤ max "
                        } else {
                            " > max "
                        },
                        c - t,
                    )
                };
                push_pair(&mut m, c, op, t);
                if ok {
                    Outcome::Pass(m)
                } else {
                    Outcome::violated(m, excess, false)
                }
            }
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
                let fails = drop > t + TOLERANCE;
                push_num(&mut m, b);
                m.push_str(" → ");
                push_num(&mut m, c);
                m.push_str(" (");
                if kind == RuleKind::MaxDrop {
                    // When four decimals would show the drop equal to the limit, show more.
                    let hidden =
                        ten_thousandths(drop) == ten_thousandths(t) && (drop - t).abs() > TOLERANCE;
                    if hidden {
                        let _ = write!(m, "{:+}), max_drop {t}", c - b);
                    } else {
                        push_f4(
                            &mut m,
                            ten_thousandths(c - b),
                            "-",
                            if ten_thousandths(c - b) == (false, 0, 0) {
                                "±"
                            } else {
                                "+"
                            },
                        );
                        m.push_str("), max_drop ");
                        push_num(&mut m, t);
                    }
                } else {
                    m.push_str(&signed4(c - b));
                    let _ = write!(m, ") = {} relative, max_drop_rel ", pct(-drop));
                    push_num(&mut m, t);
                }
                if fails {
                    Outcome::violated(m, drop - t, false)
                } else {
                    Outcome::Pass(m)
                }
            }
            RuleKind::Presence => Outcome::Skip("not a metric rule".into()),
        }
    }

    fn no_baseline(&self, base: Option<Lookup>) -> Outcome {
        let why = match base {
            None => "no baseline eval",
            Some(Lookup::NoSplit) => "the baseline has no such split",
            Some(Lookup::NoClass) => {
                // A class only in the candidate is new: drops do not apply to it.
                return Outcome::Skip("new class: not in the baseline".into());
            }
            Some(Lookup::NoValue | Lookup::Value(_)) => "no value in the baseline",
        };
        match self.policy.missing.baseline {
            MissingBaseline::FloorsOnly => {
                Outcome::Skip(format!("{why}; missing.baseline is floors_only"))
            }
            MissingBaseline::Fail => Outcome::violated(
                format!("{why} to compare against; missing.baseline is fail"),
                f64::INFINITY,
                false,
            ),
        }
    }
}

enum Outcome {
    Pass(String),
    Skip(String),
    Violated {
        message: String,
        excess: f64,
        /// Never worse than a warning, whatever the rule's severity.
        soft: bool,
    },
}

impl Outcome {
    fn violated(message: String, excess: f64, soft: bool) -> Outcome {
        Outcome::Violated {
            message,
            excess,
            soft,
        }
    }
}

fn presence(
    split: &str,
    class: Option<&str>,
    severity: Severity,
    status: Status,
    message: String,
    line: u32,
) -> Check {
    let scope = class.map_or(Scope::Split, |c| Scope::Class(c.to_owned()));
    Check {
        id: check_id(split, &scope, None, RuleKind::Presence),
        split: Arc::from(split),
        class: class.map(Arc::from),
        size: None,
        metric: None,
        rule: RuleKind::Presence,
        severity,
        status,
        candidate: None,
        baseline: None,
        delta: None,
        threshold: None,
        message,
        line: Some(line),
        excess: if status == Status::Skip {
            0.0
        } else {
            f64::INFINITY
        },
    }
}

/// `split/class/NAME/size/SIZE/metric/rule`, with `%` and `/` in names percent-encoded so
/// that ids stay unique whatever the names.
fn check_id(split: &str, scope: &Scope, metric: Option<Metric>, rule: RuleKind) -> String {
    let mut id = String::with_capacity(48);
    let push_name = |id: &mut String, s: &str| {
        if s.contains(['%', '/']) {
            id.push_str(&s.replace('%', "%25").replace('/', "%2F"));
        } else {
            id.push_str(s);
        }
    };
    push_name(&mut id, split);
    if let Some(c) = scope.class() {
        id.push_str("/class/");
        push_name(&mut id, c);
    }
    if let Some(s) = scope.size() {
        id.push_str("/size/");
        id.push_str(s.name());
    }
    if let Some(m) = metric {
        id.push('/');
        id.push_str(m.name());
    }
    id.push('/');
    id.push_str(rule.name());
    id
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
        let covers = |w: &Waiver| {
            w.split.matches(&check.split)
                && w.class
                    .as_ref()
                    .is_none_or(|p| check.class.as_deref().is_some_and(|c| p.matches(c)))
                && w.metric.is_none_or(|m| check.metric == Some(m))
        };
        let mut expired_note = None;
        for (i, w) in waivers.iter().enumerate() {
            if !covers(w) {
                continue;
            }
            outcomes[i].matched += 1;
            if outcomes[i].expired {
                expired_note.get_or_insert(format!(
                    "; a waiver expired on {} (policy line {})",
                    w.until, w.span.line
                ));
            } else {
                check.status = Status::Waived;
                check.message = format!(
                    "{}; waived until {} (policy line {}): {}",
                    check.message, w.until, w.span.line, w.reason
                );
                expired_note = None;
                break;
            }
        }
        if let Some(note) = expired_note {
            check.message.push_str(&note);
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

/// A metric value for people: four decimals.
pub fn f4(v: f64) -> String {
    let mut s = String::with_capacity(8);
    push_f4(&mut s, ten_thousandths(v), "-", "");
    s
}

/// A signed difference for people: `+0.0100`, `-0.0140`, `±0.0000`.
pub fn signed4(v: f64) -> String {
    let mut s = String::with_capacity(8);
    // -0.0000 would read as a drop; a change that rounds to nothing gets no direction.
    let parts = ten_thousandths(v);
    let zero = if parts.1 == 0 && parts.2 == 0 {
        "±"
    } else {
        "+"
    };
    push_f4(&mut s, parts, "-", zero);
    s
}

/// Writes `units.frac` (four digits) after the sign; integer work only, because a report with
/// 100,000 checks formats a few hundred thousand numbers.
fn push_f4(s: &mut String, (negative, mut units, frac): (bool, u64, u64), minus: &str, plus: &str) {
    s.push_str(if negative { minus } else { plus });
    let mut buf = [0u8; 25];
    let mut i = buf.len() - 5;
    buf[i] = b'.';
    for (k, d) in [frac / 1000, frac / 100 % 10, frac / 10 % 10, frac % 10]
        .into_iter()
        .enumerate()
    {
        buf[i + 1 + k] = b'0' + d as u8;
    }
    loop {
        i -= 1;
        buf[i] = b'0' + (units % 10) as u8;
        units /= 10;
        if units == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&buf[i..]).expect("ASCII digits"));
}

/// `v` rounded to four decimals, as sign, whole part and ten-thousandths.
fn ten_thousandths(v: f64) -> (bool, u64, u64) {
    if !v.is_finite() || v.abs() >= 1e12 {
        return (false, 0, 0);
    }
    let scaled = (v.abs() * 10_000.0).round() as u64;
    (v < 0.0 && scaled > 0, scaled / 10_000, scaled % 10_000)
}

/// Appends `a`, `op` and `b`: at four decimals, or at full precision when four decimals would
/// show them equal although the comparison told them apart ("0.7000 < min 0.7000").
fn push_pair(m: &mut String, a: f64, op: &str, b: f64) {
    if ten_thousandths(a) == ten_thousandths(b) && (a - b).abs() > TOLERANCE {
        let _ = write!(m, "{a}{op}{b}");
    } else {
        push_num(m, a);
        m.push_str(op);
        push_num(m, b);
    }
}

fn push_num(m: &mut String, v: f64) {
    push_f4(m, ten_thousandths(v), "-", "");
}

fn pct(v: f64) -> String {
    format!("{:+.2}%", v * 100.0)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod format_tests {
    use super::{f4, signed4};

    #[test]
    fn four_decimals() {
        assert_eq!(f4(0.7), "0.7000");
        assert_eq!(f4(0.12345), "0.1235");
        assert_eq!(f4(1.0), "1.0000");
        assert_eq!(f4(0.0), "0.0000");
        assert_eq!(f4(-0.014), "-0.0140");
        assert_eq!(signed4(0.01), "+0.0100");
        assert_eq!(signed4(-0.0790), "-0.0790");
        assert_eq!(signed4(-0.00004), "±0.0000");
        assert_eq!(signed4(-1.5), "-1.5000");
    }
}
