//! Checks in words: the one place that says what a check compared and why it ended so.
//! Every renderer (JSON, JUnit, Markdown, annotations, the terminal summary) calls it, so a
//! check reads the same wherever it is shown.

use std::fmt::Write as _;

use super::number::{pct, push_num, push_pair, push_signed, same_at_four};
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
