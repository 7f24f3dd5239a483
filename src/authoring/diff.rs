//! `evalgate policy diff`: what a policy change does to the gate. A PR that trains a worse
//! model can also edit the policy that judges it; this makes a loosened gate visible.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::OperatingPoint;
use crate::policy::{
    ClassPattern, Field, MetricRule, MissingBaseline, MissingClass, MissingMetric, Policy,
    Predicted, Rule, Severity, SplitSelector,
};
use crate::report::escape_markdown;
use crate::stats::Correction;

/// Whether a change makes the gate stricter or more lenient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The gate lets more through (a lower `min`, a removed rule, a new waiver).
    Loosened,
    /// The gate lets less through (a higher `min`, a new rule, a removed waiver).
    Tightened,
    /// Neither, or it cannot be told (a waiver's reason, the task).
    Changed,
}

impl Effect {
    fn name(self) -> &'static str {
        match self {
            Effect::Loosened => "loosened",
            Effect::Tightened => "tightened",
            Effect::Changed => "changed",
        }
    }
}

/// One difference between two policies.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Stricter, more lenient, or neither.
    pub effect: Effect,
    /// What changed, e.g. `valid / class "*" / map50 / max_drop`.
    pub rule: String,
    /// The old value (`None` when added).
    pub old: Option<String>,
    /// The new value (`None` when removed).
    pub new: Option<String>,
    /// Where it was in the old policy.
    pub old_line: Option<u32>,
    /// Where it is in the new policy.
    pub new_line: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum Value {
    /// A threshold; `higher_is_stricter` says which way tightens.
    Threshold {
        value: f64,
        higher_is_stricter: bool,
    },
    /// A level on a scale where a higher rank is stricter.
    Rank(u8, &'static str),
    /// Where values are read (the operating point): any move may hide a regression.
    Moves,
    /// Neither stricter nor more lenient (the bootstrap's resamples and seed).
    Neutral,
}

struct Setting {
    value: Value,
    text: String,
    line: Option<u32>,
}

/// Every difference between `old` and `new`, loosenings first.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let (a, b) = (flatten(old), flatten(new));
    let mut changes = Vec::new();
    for (key, o) in &a {
        match b.get(key) {
            None => changes.push(Change {
                effect: presence_effect(key, &o.text, false, old),
                rule: key.clone(),
                old: Some(o.text.clone()),
                new: None,
                old_line: o.line,
                new_line: None,
            }),
            Some(n) if n.text != o.text => changes.push(Change {
                effect: compare(&o.value, &n.value),
                rule: key.clone(),
                old: Some(o.text.clone()),
                new: Some(n.text.clone()),
                old_line: o.line,
                new_line: n.line,
            }),
            Some(_) => {}
        }
    }
    for (key, n) in &b {
        if !a.contains_key(key) {
            changes.push(Change {
                effect: presence_effect(key, &n.text, true, old),
                rule: key.clone(),
                old: None,
                new: Some(n.text.clone()),
                old_line: None,
                new_line: n.line,
            });
        }
    }
    changes.sort_by(|x, y| x.effect.cmp(&y.effect).then_with(|| x.rule.cmp(&y.rule)));
    changes
}

/// Every setting of `new` as added, for a change that adds the policy (there was none
/// before). Against no gate at all nothing loosens, so what would loosen an existing gate (a
/// waiver, `severity: warn`) is `changed` here, and everything else `tightened`.
pub fn added(new: &Policy) -> Vec<Change> {
    let mut changes: Vec<Change> = flatten(new)
        .into_iter()
        .map(|(key, n)| Change {
            effect: match presence_effect(&key, &n.text, true, new) {
                Effect::Loosened => Effect::Changed,
                other => other,
            },
            rule: key,
            old: None,
            new: Some(n.text),
            old_line: None,
            new_line: n.line,
        })
        .collect();
    changes.sort_by(|x, y| x.effect.cmp(&y.effect).then_with(|| x.rule.cmp(&y.rule)));
    changes
}

/// The effect of a setting appearing (`added`) or disappearing. A threshold that appears
/// stops more; a waiver that appears excuses more; `severity: warn` that appears softens; a
/// `min_support` that appears skips the classes below it.
///
/// An operating point that disappears moves every check read at it. One that appears moves
/// only what `old` already read from a confusion matrix (its confusion rules, read at the
/// default confidence before); rules that read precision, recall or F1 cannot exist without
/// it in a detection policy, and show up as added on their own.
fn presence_effect(key: &str, text: &str, added: bool, old: &Policy) -> Effect {
    // A `statistics` block turns failures of noise-tested drop rules that are within the
    // noise into warnings.
    if key.starts_with("statistics.") {
        return match (key, added) {
            ("statistics.resamples" | "statistics.seed", _) => Effect::Changed,
            (_, true) => Effect::Loosened,
            (_, false) => Effect::Tightened,
        };
    }
    if key == OPERATING_POINT {
        return match (added, old.confusions.is_empty()) {
            (true, true) => Effect::Changed,
            _ => Effect::Loosened,
        };
    }
    let lets_more_through = if key.starts_with("waiver ") {
        true
    } else if key.ends_with("/ severity") {
        text == "warn"
    } else {
        key.ends_with("/ min_support")
    };
    if lets_more_through == added {
        Effect::Loosened
    } else {
        Effect::Tightened
    }
}

fn compare(old: &Value, new: &Value) -> Effect {
    match (old, new) {
        (
            Value::Threshold {
                value: o,
                higher_is_stricter: up,
            },
            Value::Threshold { value: n, .. },
        ) => match (n > o, *up) {
            _ if n == o => Effect::Changed,
            (true, true) | (false, false) => Effect::Tightened,
            _ => Effect::Loosened,
        },
        (Value::Moves, Value::Moves) => Effect::Loosened,
        (Value::Rank(o, _), Value::Rank(n, _)) if n > o => Effect::Tightened,
        (Value::Rank(o, _), Value::Rank(n, _)) if n < o => Effect::Loosened,
        _ => Effect::Changed,
    }
}

/// The key of the operating point.
const OPERATING_POINT: &str = "operating_point";

fn flatten(p: &Policy) -> BTreeMap<String, Setting> {
    let mut out = BTreeMap::new();
    let rank = |out: &mut BTreeMap<String, Setting>, key: &str, rank: u8, text: &'static str| {
        out.insert(
            key.to_owned(),
            Setting {
                value: Value::Rank(rank, text),
                text: text.to_owned(),
                line: None,
            },
        );
    };
    if let Some(t) = p.task {
        out.insert(
            "task".to_owned(),
            Setting {
                value: Value::Rank(0, "task"),
                text: t.name().to_owned(),
                line: p.task_span.map(|s| s.line),
            },
        );
    }
    // `missing` always has a value (its defaults), so a change of default shows as a change.
    let (b, c, m) = (p.missing.baseline, p.missing.class, p.missing.metric);
    match b {
        MissingBaseline::FloorsOnly => rank(&mut out, "missing.baseline", 0, "floors_only"),
        MissingBaseline::Fail => rank(&mut out, "missing.baseline", 1, "fail"),
    }
    match c {
        MissingClass::Ignore => rank(&mut out, "missing.class", 0, "ignore"),
        MissingClass::Warn => rank(&mut out, "missing.class", 1, "warn"),
        MissingClass::Fail => rank(&mut out, "missing.class", 2, "fail"),
    }
    match m {
        MissingMetric::Skip => rank(&mut out, "missing.metric", 0, "skip"),
        MissingMetric::Warn => rank(&mut out, "missing.metric", 1, "warn"),
        MissingMetric::Fail => rank(&mut out, "missing.metric", 2, "fail"),
    }
    if let Some(point) = p.operating_point {
        out.insert(
            OPERATING_POINT.to_owned(),
            Setting {
                value: Value::Moves,
                text: match point.value {
                    OperatingPoint::Confidence(c) => format!("confidence {c}"),
                    OperatingPoint::Optimal => "confidence optimal".to_owned(),
                },
                line: Some(point.line),
            },
        );
    }
    if let Some(st) = p.statistics {
        let line = Some(st.span.line);
        // A higher significance declares more drops real: stricter.
        out.insert(
            "statistics.significance".to_owned(),
            Setting {
                value: Value::Threshold {
                    value: st.significance,
                    higher_is_stricter: true,
                },
                text: st.significance.to_string(),
                line,
            },
        );
        // Holm fails the fewest checks, no correction the most.
        let (rank, text) = match st.correction {
            Correction::Holm => (0, "holm"),
            Correction::BenjaminiHochberg => (1, "bh"),
            Correction::None => (2, "none"),
        };
        out.insert(
            "statistics.correction".to_owned(),
            Setting {
                value: Value::Rank(rank, text),
                text: text.to_owned(),
                line,
            },
        );
        for (key, text) in [
            ("statistics.resamples", st.resamples.to_string()),
            ("statistics.seed", st.seed.to_string()),
        ] {
            out.insert(
                key.to_owned(),
                Setting {
                    value: Value::Neutral,
                    text,
                    line,
                },
            );
        }
    }
    rule_fields(&mut out, "defaults", &p.defaults);
    for split in &p.splits {
        let s = match &split.selector {
            SplitSelector::All => "\"*\"".to_owned(),
            SplitSelector::Name(n) => quote(n),
        };
        metric_rules(&mut out, &s, &split.metrics);
        for size in &split.sizes {
            metric_rules(&mut out, &format!("{s} / {}", size.size), &size.metrics);
        }
        for class in &split.classes {
            let c = format!("{s} / class {}", pattern(&class.pattern));
            if let Some(m) = class.min_support {
                out.insert(
                    format!("{c} / min_support"),
                    Setting {
                        // More classes below a higher support are skipped: lower is stricter.
                        value: Value::Threshold {
                            value: m.value as f64,
                            higher_is_stricter: false,
                        },
                        text: m.value.to_string(),
                        line: Some(m.line),
                    },
                );
            }
            metric_rules(&mut out, &c, &class.metrics);
            for size in &class.sizes {
                metric_rules(&mut out, &format!("{c} / {}", size.size), &size.metrics);
            }
        }
    }
    for rule in &p.confusions {
        let split = match &rule.split {
            SplitSelector::All => "\"*\"".to_owned(),
            SplitSelector::Name(n) => quote(n),
        };
        let predicted = match &rule.predicted {
            Predicted::Background => "background".to_owned(),
            Predicted::Class(c) => pattern(c),
        };
        let base = format!(
            "confusion {split} / class {} → {predicted}",
            pattern(&rule.actual)
        );
        // Two rules of the same pair are told apart by their order, as waivers are.
        let taken = |key: &str| {
            let prefix = format!("{key} / ");
            out.range(prefix.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&prefix))
        };
        let (mut key, mut n) = (base.clone(), 1);
        while taken(&key) {
            n += 1;
            key = format!("{base} (#{n})");
        }
        let limits = Rule {
            max: rule.max,
            severity: rule.severity,
            ..Rule::default()
        };
        rule_fields(&mut out, &key, &limits);
        if let Some(f) = rule.max_rise {
            out.insert(
                format!("{key} / max_rise"),
                Setting {
                    value: Value::Threshold {
                        value: f.value,
                        higher_is_stricter: false,
                    },
                    text: f.value.to_string(),
                    line: Some(f.line),
                },
            );
        }
    }
    for w in &p.waivers {
        let mut key = match &w.split {
            SplitSelector::All => "waiver \"*\"".to_owned(),
            SplitSelector::Name(n) => format!("waiver {}", quote(n)),
        };
        if let Some(c) = &w.class {
            key.push_str(&format!(" / class {}", pattern(c)));
        }
        if let Some(m) = w.metric {
            key.push_str(&format!(" / {m}"));
        }
        // Two waivers of the same scope are told apart by their order.
        let mut n = 1;
        let base = key.clone();
        while out.contains_key(&key) {
            n += 1;
            key = format!("{base} (#{n})");
        }
        let days = chrono::Datelike::num_days_from_ce(&w.until);
        out.insert(
            key,
            Setting {
                // A later end waives for longer: lower is stricter.
                value: Value::Threshold {
                    value: f64::from(days),
                    higher_is_stricter: false,
                },
                text: format!("until {}: {}", w.until, w.reason),
                line: Some(w.span.line),
            },
        );
    }
    out
}

fn metric_rules(out: &mut BTreeMap<String, Setting>, prefix: &str, rules: &[MetricRule]) {
    for r in rules {
        rule_fields(out, &format!("{prefix} / {}", r.metric), &r.rule);
    }
}

fn rule_fields(out: &mut BTreeMap<String, Setting>, prefix: &str, rule: &Rule) {
    let mut num = |name: &str, f: Option<Field<f64>>, higher_is_stricter: bool| {
        if let Some(f) = f {
            out.insert(
                format!("{prefix} / {name}"),
                Setting {
                    value: Value::Threshold {
                        value: f.value,
                        higher_is_stricter,
                    },
                    text: f.value.to_string(),
                    line: Some(f.line),
                },
            );
        }
    };
    num("min", rule.min, true);
    num("max", rule.max, false);
    num("max_drop", rule.max_drop, false);
    num("max_drop_rel", rule.max_drop_rel, false);
    num("max_shift", rule.max_shift, false);
    if rule.auto
        && let Some(s) = out.get_mut(&format!("{prefix} / max_drop"))
    {
        // A threshold of 0 that only a significant drop crosses: compared as 0.
        s.text = "auto".to_owned();
    }
    if let Some(s) = rule.severity {
        let (rank, text) = match s.value {
            Severity::Warn => (0, "warn"),
            Severity::Fail => (1, "fail"),
        };
        out.insert(
            format!("{prefix} / severity"),
            Setting {
                value: Value::Rank(rank, text),
                text: text.to_owned(),
                line: Some(s.line),
            },
        );
    }
}

fn quote(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.is_empty()
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

fn pattern(p: &ClassPattern) -> String {
    format!("{:?}", p.text())
}

/// Whether any change lets more through.
pub fn loosens(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.effect == Effect::Loosened)
}

fn values(c: &Change) -> String {
    let line = |l: Option<u32>| l.map(|l| format!(" (line {l})")).unwrap_or_default();
    match (&c.old, &c.new) {
        (Some(o), Some(n)) => format!("{o}{} → {n}{}", line(c.old_line), line(c.new_line)),
        (None, Some(n)) => format!("added {n}{}", line(c.new_line)),
        (Some(o), None) => format!("removed (was {o}{})", line(c.old_line)),
        (None, None) => String::new(),
    }
}

/// The changes as text, one per line.
pub fn render_text(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no changes to the gate\n".to_owned();
    }
    let mut out = String::new();
    for c in changes {
        let rule: String = c
            .rule
            .chars()
            .map(|ch| if ch.is_control() { ' ' } else { ch })
            .collect();
        let _ = writeln!(
            out,
            "{:<9}  {rule}: {}",
            c.effect.name(),
            values(c).replace(|ch: char| ch.is_control(), " ")
        );
    }
    out
}

/// The changes as Markdown, for a PR comment.
pub fn render_markdown(changes: &[Change]) -> String {
    let count = |e| changes.iter().filter(|c| c.effect == e).count();
    let (l, t, n) = (
        count(Effect::Loosened),
        count(Effect::Tightened),
        count(Effect::Changed),
    );
    let mut out = String::new();
    if changes.is_empty() {
        out.push_str("### Policy: no changes to the gate\n");
        return out;
    }
    let icon = if l > 0 { "⚠️" } else { "✅" };
    let _ = writeln!(
        out,
        "### {icon} Policy changes: {l} loosened · {t} tightened · {n} other\n"
    );
    out.push_str("| Effect | Rule | Old | New |\n|---|---|---|---|\n");
    for c in changes {
        let cell = |v: &Option<String>, line: Option<u32>| match v {
            Some(v) => format!(
                "{}{}",
                escape_markdown(v),
                line.map(|l| format!(" (line {l})")).unwrap_or_default()
            ),
            None => "–".to_owned(),
        };
        let effect = match c.effect {
            Effect::Loosened => "🔓 loosened",
            Effect::Tightened => "🔒 tightened",
            Effect::Changed => "changed",
        };
        let _ = writeln!(
            out,
            "| {effect} | {} | {} | {} |",
            escape_markdown(&c.rule),
            cell(&c.old, c.old_line),
            cell(&c.new, c.new_line)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

    fn changes(old: &str, new: &str) -> Vec<(Effect, String, String)> {
        let (o, _) = parse_policy(old).unwrap();
        let (n, _) = parse_policy(new).unwrap();
        diff(&o, &n)
            .iter()
            .map(|c| (c.effect, c.rule.clone(), values(c)))
            .collect()
    }

    #[test]
    fn classifies_each_kind_of_change() {
        let old = "version: 1\nsplits:\n  valid:\n    map50_95: {min: 0.70, max_drop: 0.01}\n    classes:\n      '*': {map50: {max_drop: 0.05}}\n";
        let new = "version: 1\nmissing: {class: warn}\nsplits:\n  valid:\n    map50_95: {min: 0.60, max_drop: 0.005, severity: warn}\n    map50: 0.8\nwaivers:\n  - {split: valid, class: bus, reason: relabel, until: 2027-01-31}\n";
        let got = changes(old, new);
        let expected: Vec<(Effect, String, String)> = vec![
            (
                Effect::Loosened,
                "missing.class".into(),
                "fail → warn".into(),
            ),
            (
                Effect::Loosened,
                "valid / class \"*\" / map50 / max_drop".into(),
                "removed (was 0.05 (line 6))".into(),
            ),
            (
                Effect::Loosened,
                "valid / map50_95 / min".into(),
                "0.7 (line 4) → 0.6 (line 5)".into(),
            ),
            (
                Effect::Loosened,
                "valid / map50_95 / severity".into(),
                "added warn (line 5)".into(),
            ),
            (
                Effect::Loosened,
                "waiver valid / class \"bus\"".into(),
                "added until 2027-01-31: relabel (line 8)".into(),
            ),
            (
                Effect::Tightened,
                "valid / map50 / min".into(),
                "added 0.8 (line 6)".into(),
            ),
            (
                Effect::Tightened,
                "valid / map50_95 / max_drop".into(),
                "0.01 (line 4) → 0.005 (line 5)".into(),
            ),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn classifies_the_operating_point_keys() {
        let old = "version: 1
operating_point: {confidence: 0.40}
splits:
  valid:
    optimal_threshold: {max_shift: 0.05}
    classes:
      '*': {min_support: 25, recall: {max_drop: 0.05}}
      car: {min_support: 10}
confusions:
  - {split: valid, actual: person, predicted: background, max_rise: 0.02, max: 0.1}
  - {split: valid, actual: car, predicted: '*', max: 0.2, severity: warn}
";
        let new = "version: 1
operating_point: {confidence: optimal}
splits:
  valid:
    optimal_threshold: {max_shift: 0.08}
    classes:
      '*': {min_support: 30, recall: {max_drop: 0.05}}
      bus: {min_support: 5}
confusions:
  - {split: valid, actual: person, predicted: background, max_rise: 0.03, max: 0.08}
";
        let expected: Vec<(Effect, String, String)> = vec![
            (
                Effect::Loosened,
                "confusion valid / class \"car\" → \"*\" / max".into(),
                "removed (was 0.2 (line 11))".into(),
            ),
            (
                Effect::Loosened,
                "confusion valid / class \"person\" → background / max_rise".into(),
                "0.02 (line 10) → 0.03 (line 10)".into(),
            ),
            (
                Effect::Loosened,
                "operating_point".into(),
                "confidence 0.40 (line 2) → confidence optimal (line 2)".into(),
            ),
            // More classes skipped: looser, whether raised or added.
            (
                Effect::Loosened,
                "valid / class \"*\" / min_support".into(),
                "25 (line 7) → 30 (line 7)".into(),
            ),
            (
                Effect::Loosened,
                "valid / class \"bus\" / min_support".into(),
                "added 5 (line 8)".into(),
            ),
            (
                Effect::Loosened,
                "valid / optimal_threshold / max_shift".into(),
                "0.05 (line 5) → 0.08 (line 5)".into(),
            ),
            (
                Effect::Tightened,
                "confusion valid / class \"car\" → \"*\" / severity".into(),
                "removed (was warn (line 11))".into(),
            ),
            (
                Effect::Tightened,
                "confusion valid / class \"person\" → background / max".into(),
                "0.1 (line 10) → 0.08 (line 10)".into(),
            ),
            // Fewer classes skipped: stricter.
            (
                Effect::Tightened,
                "valid / class \"car\" / min_support".into(),
                "removed (was 10 (line 8))".into(),
            ),
        ];
        assert_eq!(changes(old, new), expected);
        // The reverse of a raise is a tightening.
        let back = changes(new, old);
        let star = back
            .iter()
            .find(|c| c.1 == "valid / class \"*\" / min_support")
            .unwrap();
        assert_eq!(
            (star.0, star.2.as_str()),
            (Effect::Tightened, "30 (line 7) → 25 (line 7)")
        );
        assert!(back.contains(&(
            Effect::Tightened,
            "valid / class \"bus\" / min_support".into(),
            "removed (was 5 (line 8))".into()
        )));
        assert!(back.contains(&(
            Effect::Tightened,
            "confusion valid / class \"car\" → \"*\" / max".into(),
            "added 0.2 (line 11)".into()
        )));
    }

    #[test]
    fn an_operating_point_that_appears_moves_only_what_was_read_from_a_matrix() {
        let seg = "version: 1\ntask: semantic-segmentation\nsplits:\n  valid:\n    miou: 0.5\n";
        let with_point = |p: &str| p.replace("task:", "operating_point: {confidence: 0.40}\ntask:");
        // Nothing read at the default matrix before: a change, not a loosening.
        assert_eq!(
            changes(seg, &with_point(seg))[0],
            (
                Effect::Changed,
                "operating_point".into(),
                "added confidence 0.40 (line 2)".into()
            )
        );
        // Confusions were read at the default confidence; now they are read elsewhere.
        let confused = format!(
            "{seg}confusions:\n  - {{split: valid, actual: road, predicted: background, max: 0.1}}\n"
        );
        assert_eq!(
            changes(&confused, &with_point(&confused))[0].0,
            Effect::Loosened
        );
        assert_eq!(
            changes(&with_point(&confused), &confused)[0].0,
            Effect::Loosened
        );
        // Against no policy at all nothing loosens.
        let (p, _) = parse_policy(&with_point(&format!(
            "{confused}  - {{split: valid, actual: road, predicted: background, max_rise: 0.1}}\n"
        )))
        .unwrap();
        let fresh = added(&p);
        assert!(!loosens(&fresh), "{fresh:?}");
        // Two rules of one pair are both listed, told apart by their order.
        assert!(
            fresh
                .iter()
                .any(|c| c.rule == "confusion valid / class \"road\" → background (#2) / max_rise"),
            "{fresh:?}"
        );
    }

    #[test]
    fn classifies_the_statistics_block_and_max_drop_auto() {
        let stats = |block: &str, rule: &str| {
            format!(
                "version: 1\noperating_point: {{confidence: 0.40}}\n{block}splits:\n  valid:\n    recall: {{max_drop: {rule}}}\n"
            )
        };
        let old = stats(
            "statistics: {significance: 0.05, correction: bh, resamples: 2000, seed: 1}\n",
            "auto",
        );
        let new = stats(
            "statistics: {significance: 0.01, correction: holm, resamples: 2000, seed: 2}\n",
            "0.02",
        );
        let expected: Vec<(Effect, String, String)> = vec![
            // Holm declares fewer drops real than Benjamini–Hochberg.
            (
                Effect::Loosened,
                "statistics.correction".into(),
                "bh (line 3) → holm (line 3)".into(),
            ),
            // A lower significance declares fewer drops real.
            (
                Effect::Loosened,
                "statistics.significance".into(),
                "0.05 (line 3) → 0.01 (line 3)".into(),
            ),
            (
                Effect::Loosened,
                "valid / recall / max_drop".into(),
                "auto (line 6) → 0.02 (line 6)".into(),
            ),
            (
                Effect::Changed,
                "statistics.seed".into(),
                "1 (line 3) → 2 (line 3)".into(),
            ),
        ];
        assert_eq!(changes(&old, &new), expected);
        // The block's appearance turns failures within the noise into warnings.
        let fixed = stats("", "0.02");
        let added: Vec<(Effect, String)> =
            changes(&fixed, &stats("statistics: {seed: 1}\n", "0.02"))
                .into_iter()
                .map(|c| (c.0, c.1))
                .collect();
        assert!(
            added.contains(&(Effect::Loosened, "statistics.significance".into())),
            "{added:?}"
        );
        assert!(
            added.contains(&(Effect::Changed, "statistics.seed".into())),
            "{added:?}"
        );
        let removed = changes(&stats("statistics: {seed: 1}\n", "0.02"), &fixed);
        assert!(
            removed.iter().all(|c| c.0 != Effect::Loosened),
            "{removed:?}"
        );
    }

    #[test]
    fn identical_policies_differ_in_nothing() {
        let p = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/detection.yaml"
        ))
        .unwrap();
        assert!(changes(&p, &p).is_empty());
        // Reformatting is not a change.
        let moved = format!("\n\n{p}");
        assert!(changes(&p, &moved).is_empty());
    }

    #[test]
    fn a_longer_waiver_loosens_and_a_shorter_one_tightens() {
        let w = |until: &str| {
            format!("version: 1\nwaivers:\n  - {{split: valid, reason: r, until: {until}}}\n")
        };
        assert_eq!(
            changes(&w("2027-01-01"), &w("2027-06-01"))[0].0,
            Effect::Loosened
        );
        assert_eq!(
            changes(&w("2027-06-01"), &w("2027-01-01"))[0].0,
            Effect::Tightened
        );
    }
}
