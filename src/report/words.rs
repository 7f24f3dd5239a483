//! Checks in words: the one place that says what a check compared and why it ended so.
//! Every renderer (JSON, JUnit, Markdown, annotations, the terminal summary) calls it, so a
//! check reads the same wherever it is shown.

use std::fmt::Write as _;

use super::number::{
    pct, pct_delta, pct1, pt, pt_apart, push_num, push_pair, push_signed, same_at_four,
};
use crate::gate::{BaselineGap, Check, GateReport, Reason, RuleKind, Status, TOLERANCE};
use crate::policy::Severity;

/// One line a person can read: what was compared and why the check ended so, with the
/// waiver that excused it (or expired).
pub fn message(report: &GateReport, check: &Check) -> String {
    let mut m = String::with_capacity(48);
    write_message(&mut m, report, check);
    m
}

/// Appends [`message`] to `m`, for renderers that reuse one buffer for every check.
pub fn write_message(m: &mut String, report: &GateReport, check: &Check) {
    reason(m, check);
    if let Some(w) = check.waiver().and_then(|i| report.waivers.get(i)) {
        if check.status == Status::Waived {
            let _ = write!(
                m,
                "; waived until {} (policy line {}): {}",
                w.until, w.line, w.reason
            );
        } else {
            let _ = write!(
                m,
                "; a waiver expired on {} (policy line {})",
                w.until, w.line
            );
        }
    }
}

fn reason(m: &mut String, c: &Check) {
    let skipped = c.status == Status::Skip;
    match c.reason {
        Reason::Compared => compared(m, c),
        Reason::NoCandidateValue | Reason::NoValueAnywhere => {
            if let (Reason::NoCandidateValue, Some(b)) = (c.reason, c.baseline()) {
                m.push_str("no value in the candidate (baseline ");
                push_num(m, b);
                m.push(')');
            } else {
                m.push_str("no value in the candidate, and none in a baseline");
            }
            if skipped {
                m.push_str("; missing.metric is skip");
            }
        }
        Reason::NoValueInEither => m.push_str("no value in either eval"),
        Reason::NewClassWithoutValue => m.push_str("new class with no value in the candidate"),
        Reason::NoBaseline(gap) => {
            m.push_str(match gap {
                BaselineGap::NoEval => "no baseline eval",
                BaselineGap::NoSplit => "the baseline has no such split",
                BaselineGap::NoValue => "no value in the baseline",
            });
            m.push_str(if skipped {
                "; missing.baseline is floors_only"
            } else {
                " to compare against; missing.baseline is fail"
            });
        }
        Reason::NewClass => m.push_str("new class: not in the baseline"),
        Reason::SplitMissing { in_baseline } => {
            let _ = write!(
                m,
                "split {:?} {}",
                &*c.split,
                if in_baseline {
                    "is in the baseline but not in the candidate"
                } else {
                    "is not in the candidate"
                }
            );
        }
        Reason::ClassMissing => {
            let note = match (skipped, c.severity) {
                (true, _) => "ignore",
                (false, Severity::Fail) => "fail",
                (false, Severity::Warn) => "warn",
            };
            let _ = write!(
                m,
                "class {:?} is in the baseline but not in the candidate (missing.class is {note})",
                c.class.as_deref().unwrap_or_default()
            );
        }
    }
}

fn compared(m: &mut String, check: &Check) {
    let (Some(c), Some(t)) = (check.candidate(), check.threshold()) else {
        m.push_str("not a metric rule");
        return;
    };
    match check.rule {
        RuleKind::Min => {
            let op = if c >= t - TOLERANCE {
                " ≥ min "
            } else {
                " < min "
            };
            push_pair(m, c, op, t);
        }
        RuleKind::Max => {
            let op = if c <= t + TOLERANCE {
                " ≤ max "
            } else {
                " > max "
            };
            push_pair(m, c, op, t);
        }
        RuleKind::MaxDrop | RuleKind::MaxDropRel => {
            let Some(b) = check.baseline() else {
                m.push_str("no value in the baseline");
                return;
            };
            push_num(m, b);
            m.push_str(" → ");
            push_num(m, c);
            m.push_str(" (");
            if check.rule == RuleKind::MaxDrop {
                // When four decimals would show the drop equal to the limit, show more.
                if same_at_four(b - c, t) {
                    let _ = write!(m, "{:+}), max_drop {t}", c - b);
                } else {
                    push_signed(m, c - b);
                    m.push_str("), max_drop ");
                    push_num(m, t);
                }
            } else {
                let drop = if b > 0.0 { (b - c) / b } else { 0.0 };
                push_signed(m, c - b);
                let _ = write!(m, ") = {} relative, max_drop_rel ", pct(-drop));
                push_num(m, t);
            }
        }
        RuleKind::Presence => m.push_str("not a metric rule"),
    }
}

/// What a reader needs beside the numbers: why a check was skipped, or the waiver that
/// excused it (its expiry and reason) or that expired. `None` for a check that was compared
/// and stands as it is.
pub fn note(report: &GateReport, check: &Check) -> Option<String> {
    let waiver = check.waiver().and_then(|i| report.waivers.get(i));
    match (check.status, waiver) {
        (Status::Waived, Some(w)) => Some(format!(
            "waived until {} (policy line {}): {}",
            w.until, w.line, w.reason
        )),
        (Status::Skip, _) => {
            let mut m = String::new();
            reason(&mut m, check);
            Some(m)
        }
        (_, Some(w)) if w.expired => Some(format!(
            "a waiver expired on {} (policy line {})",
            w.until, w.line
        )),
        _ => None,
    }
}

/// What a check found, in percentage points and without its name: `fell 2.9 pt (48.3 →
/// 45.4; allowed 2.0)`, `is 68.0, below the floor of 70.0`; for missing data, what is
/// missing.
pub fn change(check: &Check) -> String {
    let mut m = String::with_capacity(40);
    let (Some(c), Some(t)) = (check.candidate(), check.threshold()) else {
        reason(&mut m, check);
        return m;
    };
    if check.reason != Reason::Compared {
        reason(&mut m, check);
        return m;
    }
    match (check.rule, check.baseline()) {
        (RuleKind::Min, _) => {
            let (c, t) = pt_apart(c, t);
            if check.excess() > 0.0 {
                let _ = write!(m, "is {c}, below the floor of {t}");
            } else {
                let _ = write!(m, "is {c} (floor {t})");
            }
        }
        (RuleKind::Max, _) => {
            let (c, t) = pt_apart(c, t);
            if check.excess() > 0.0 {
                let _ = write!(m, "is {c}, above the ceiling of {t}");
            } else {
                let _ = write!(m, "is {c} (ceiling {t})");
            }
        }
        (RuleKind::MaxDrop | RuleKind::MaxDropRel, Some(b)) => {
            let rel = check.rule == RuleKind::MaxDropRel;
            let drop = if rel {
                if b > 0.0 { (b - c) / b } else { 0.0 }
            } else {
                b - c
            };
            let unit = if rel { "%" } else { " pt" };
            let allowed = if rel { "%" } else { "" };
            if check.excess() <= 0.0 && pt(drop.abs()) == "0.0" {
                let _ = write!(m, "held at {}", pt(c));
                return m;
            }
            let verb = if drop > 0.0 { "fell" } else { "rose" };
            let (d, t) = pt_apart(drop.abs(), t);
            let _ = write!(m, "{verb} {d}{unit} ({} → {}", pt(b), pt(c));
            if drop > 0.0 {
                let _ = write!(m, "; allowed {t}{allowed}");
            }
            m.push(')');
        }
        _ => reason(&mut m, check),
    }
    m
}

/// A check's threshold in percentage points: `≥ 70.0`, `≤ 95.0`, `drop ≤ 2.0 pt`; a
/// relative rule as `drop ≤ 2.0%` with the relative change beside it (`drop ≤ 2.0% (Δ
/// −6.0%)`); `present` for presence.
pub fn threshold(check: &Check) -> String {
    let Some(t) = check.threshold() else {
        return "present".to_owned();
    };
    match check.rule {
        RuleKind::Min => format!("≥ {}", pt(t)),
        RuleKind::Max => format!("≤ {}", pt(t)),
        RuleKind::MaxDrop => format!("drop ≤ {} pt", pt(t)),
        RuleKind::MaxDropRel => match (check.baseline(), check.candidate()) {
            (Some(b), Some(c)) if b > 0.0 => {
                format!("drop ≤ {} (Δ {})", pct1(t), pct_delta((c - b) / b))
            }
            _ => format!("drop ≤ {}", pct1(t)),
        },
        RuleKind::Presence => "present".to_owned(),
    }
}

/// `word`, or its plural for any count but one (`check`, `checks`).
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// A count and its noun: `1 check`, `2 checks`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {}", plural(n, noun))
}
