//! Checks in words: the one place that says what a check compared and why it ended so.
//! Every renderer (JSON, JUnit, Markdown, annotations, the terminal summary) calls it, so a
//! check reads the same wherever it is shown.

use std::fmt::Write as _;

use super::number::{
    pct, pct_delta, pct1, pt, pt_apart, pt_delta, push_num, push_pair, push_signed, same_at_four,
};
use crate::gate::{BaselineGap, Check, GateReport, NoiseTest, Reason, RuleKind, Status, TOLERANCE};
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
    if let Some(t) = test_of(report, check) {
        m.push_str("; ");
        m.push_str(&significance(report, check, t));
    }
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
        Reason::InsufficientSupport => {
            let _ = write!(
                m,
                "insufficient support: {} ground-truth instances",
                count_u64(c.support())
            );
            if let Some(b) = c.baseline_support() {
                let _ = write!(m, " in the candidate, {b} in the baseline");
            }
            let _ = write!(
                m,
                "; min_support is {}",
                c.min_support().unwrap_or_default()
            );
        }
        Reason::SupportUnknown => {
            let _ = write!(
                m,
                "min_support is {} but the {} confusion matrix does not count this class",
                c.min_support().unwrap_or_default(),
                if c.support().is_none() {
                    "candidate's"
                } else {
                    "baseline's"
                }
            );
        }
        Reason::NoConfusionMatrix => {
            let _ = write!(
                m,
                "the candidate has no confusion matrix for split {:?} at the operating point",
                &*c.split
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

fn count_u64(n: Option<u64>) -> String {
    n.map_or_else(|| "unknown".to_owned(), |n| n.to_string())
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
        RuleKind::MaxShift | RuleKind::MaxRise => {
            let Some(b) = check.baseline() else {
                m.push_str("no value in the baseline");
                return;
            };
            push_num(m, b);
            m.push_str(" → ");
            push_num(m, c);
            m.push_str(" (");
            push_signed(m, c - b);
            m.push_str("), ");
            m.push_str(check.rule.name());
            m.push(' ');
            push_num(m, t);
        }
        RuleKind::Presence => m.push_str("not a metric rule"),
    }
}

/// The check's noise test, when it had one.
pub fn test_of<'r>(report: &'r GateReport, check: &Check) -> Option<&'r NoiseTest> {
    check.test().and_then(|i| report.tests.get(i))
}

/// Δ with its 95% interval, in points: `−3.1 pt [−4.2, −2.0]`.
pub fn interval(test: &NoiseTest) -> String {
    format!(
        "{} [{}, {}]",
        pt_delta(test.delta),
        pt(test.ci_low),
        pt(test.ci_high)
    )
}

/// What the noise test found, for the check's message: the interval, whether the drop is
/// significant, and what that did to the check.
pub fn significance(report: &GateReport, check: &Check, test: &NoiseTest) -> String {
    let correction = match report.statistics.map(|s| s.correction) {
        Some(crate::stats::Correction::Holm) => " after Holm",
        Some(crate::stats::Correction::BenjaminiHochberg) => " after Benjamini–Hochberg",
        _ => "",
    };
    let alpha = report.statistics.map_or(0.05, |s| s.significance);
    let mut m = format!(
        "paired bootstrap over {} images: Δ {}, p = {}{correction}",
        test.images,
        interval(test),
        p_text(test.p_adjusted)
    );
    if test.significant {
        let _ = write!(m, ", significant at {alpha}");
    } else {
        let _ = write!(m, ", not significant at {alpha}");
        if check.auto {
            m.push_str(": within the noise");
        } else if check.status == Status::Warn
            && check.excess() > 0.0
            && check.severity == Severity::Fail
        {
            m.push_str(": a warning, not a failure");
        }
    }
    if test.disagrees(check) {
        let _ = write!(
            m,
            "; recomputed from the per-image outcomes the values are {} → {}, not the panel's",
            pt(test.recomputed_baseline),
            pt(test.recomputed_candidate)
        );
    }
    m
}

/// A p-value for people: three significant digits, scientific below 0.001.
pub fn p_text(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.1e}").replace('-', "\u{2212}")
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
            if drop > 0.0 && check.auto && check.test().is_some() {
                // `auto` allows no drop the noise cannot explain: the test is the threshold.
                m.push_str("; any significant drop fails");
            } else if drop > 0.0 && check.auto {
                // No test ran (mAP of an eval without its matching): `auto` is a threshold of
                // 0, and saying "significant" would claim a test that was not made.
                m.push_str("; not noise-tested, so any drop fails");
            } else if drop > 0.0 {
                let _ = write!(m, "; allowed {t}{allowed}");
            }
            m.push(')');
        }
        (RuleKind::MaxShift | RuleKind::MaxRise, Some(b)) => {
            let moved = c - b;
            if check.excess() <= 0.0 && pt(moved.abs()) == "0.0" {
                let _ = write!(m, "held at {}", pt(c));
                return m;
            }
            let verb = match (check.rule, moved > 0.0) {
                (RuleKind::MaxShift, _) => "moved",
                (_, true) => "rose",
                (_, false) => "fell",
            };
            let (d, t) = pt_apart(moved.abs(), t);
            let _ = write!(m, "{verb} {d} pt ({} → {}", pt(b), pt(c));
            if check.rule == RuleKind::MaxShift || moved > 0.0 {
                let _ = write!(m, "; allowed {t}");
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
        RuleKind::MaxDrop if check.auto && check.test().is_some() => {
            "no significant drop".to_owned()
        }
        RuleKind::MaxDrop if check.auto => "no drop (not noise-tested)".to_owned(),
        RuleKind::MaxDrop => format!("drop ≤ {} pt", pt(t)),
        RuleKind::MaxShift => format!("shift ≤ {} pt", pt(t)),
        RuleKind::MaxRise => format!("rise ≤ {} pt", pt(t)),
        RuleKind::MaxDropRel => match (check.baseline(), check.candidate()) {
            (Some(b), Some(c)) if b > 0.0 => {
                format!("drop ≤ {} (Δ {})", pct1(t), pct_delta((c - b) / b))
            }
            _ => format!("drop ≤ {}", pct1(t)),
        },
        RuleKind::Presence => "present".to_owned(),
    }
}

/// The sentence that says what matters most: the top-ranked failure (or warning) in words,
/// how many class checks failed with the worst of them, and the worst warning beside
/// failures; for a pass, what held (the split-level value closest to its threshold). Names
/// go through `name` and the words about a check through `text`, so that each output makes
/// them safe in its own way. `ranked` is [`GateReport::ranked`], or the part of it that holds
/// every check that did not pass and the split-level ones.
pub fn headline(
    report: &GateReport,
    ranked: &[&Check],
    name: &dyn Fn(&str) -> String,
    text: &dyn Fn(&str) -> String,
) -> String {
    let multi_split = report
        .checks
        .first()
        .zip(report.checks.last())
        .is_some_and(|(a, b)| a.split != b.split);
    let short = |c: &Check| {
        let mut s = String::new();
        if c.level() < 2 || multi_split {
            s.push_str(&name(&c.split));
        }
        if let Some(class) = &c.class {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&name(class));
        }
        if let Some(size) = c.size {
            let _ = write!(s, " {size}");
        }
        if let Some(p) = c.predicted() {
            let _ = write!(s, " → {}", name(p));
        }
        if let Some(m) = c.metric {
            let _ = write!(s, " {m}");
        }
        s
    };
    let bad = |c: &&&Check| matches!(c.status, Status::Fail | Status::Warn);
    let Some(lead) = ranked.iter().find(bad).copied() else {
        let s = &report.summary;
        let mut line = if s.pass == s.total() {
            format!("All {} passed", count(s.total(), "check"))
        } else {
            let mut parts = vec![format!("{} passed", s.pass)];
            for (st, word) in [(Status::Waived, "waived"), (Status::Skip, "skipped")] {
                if s.get(st) > 0 {
                    parts.push(format!("{} {word}", s.get(st)));
                }
            }
            format!("No check failed ({})", parts.join(", "))
        };
        let held = ranked.iter().find(|c| {
            c.level() == 0
                && c.status == Status::Pass
                && c.metric.is_some()
                && c.candidate().is_some()
        });
        if let Some(c) = held {
            let _ = write!(
                line,
                "; {} {}",
                short(c),
                pt(c.candidate().unwrap_or_default())
            );
            if let Some(d) = c.delta() {
                let _ = write!(line, " ({})", pt_delta(d));
            }
        }
        line.push('.');
        return line;
    };
    let mut parts = Vec::new();
    for status in [Status::Fail, Status::Warn] {
        let of_kind: Vec<&Check> = ranked
            .iter()
            .copied()
            .filter(|c| c.status == status)
            .collect();
        let Some(first) = of_kind.first() else {
            continue;
        };
        let (verb, noun) = if status == Status::Fail {
            ("failed", "check")
        } else {
            ("warned", "check")
        };
        let split_level = of_kind.iter().filter(|c| c.level() < 2).count();
        // Beside the lead sentence, a Δ is enough.
        let brief = |c: &Check| match c.delta() {
            Some(d) if c.reason == Reason::Compared => pt_delta(d),
            _ => text(&change(c)),
        };
        if status != lead.status {
            parts.push(format!(
                "{} {verb}, worst {} {}",
                count(of_kind.len(), noun),
                short(first),
                brief(first)
            ));
            continue;
        }
        if first.level() < 2 {
            let mut s = format!("{} {}", short(first), text(&change(first)));
            if split_level > 1 {
                let _ = write!(
                    s,
                    ", and {} more split-level {} {verb}",
                    split_level - 1,
                    plural(split_level - 1, noun)
                );
            }
            parts.push(s);
        }
        if let Some(worst) = of_kind.iter().find(|c| c.level() >= 2) {
            let what = if first.level() < 2 {
                brief(worst)
            } else {
                text(&change(worst))
            };
            parts.push(format!(
                "{} {verb}, worst {} {what}",
                count(of_kind.len() - split_level, "class check"),
                short(worst)
            ));
        }
    }
    parts.join(" · ")
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
