//! `evalgate policy check`: what a valid policy may still get wrong.
//!
//! Without evals: waivers that expired or expire soon. With them: rule fields and
//! `min_support`s that never take effect because a more specific entry always overrides them
//! (shadowed), fields that repeat the value they override (duplicates), and confusion rules
//! that check a pair another one already checks (duplicates too: confusion rules do not
//! override one another, both are checked).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::gate::{Item, confusion_pairs};
use crate::model::Eval;
use crate::policy::{Code, Diagnostic, Policy, Predicted, Rule, Span};
use crate::report::split_label;

/// Waivers expiring within this many days are flagged.
pub const EXPIRY_NOTICE_DAYS: i64 = 14;

/// Warnings about waivers that expired or will within [`EXPIRY_NOTICE_DAYS`].
pub fn waivers(policy: &Policy, today: NaiveDate) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for w in &policy.waivers {
        let days = (w.until - today).num_days();
        if days < 0 {
            out.push(
                Diagnostic::warning(
                    Code::WaiverExpired,
                    format!(
                        "this waiver expired on {} and no longer waives anything",
                        w.until
                    ),
                    Some(w.span),
                )
                .with_help("fix the regression, or extend `until` with a reason that still holds"),
            );
        } else if days <= EXPIRY_NOTICE_DAYS {
            out.push(Diagnostic::warning(
                Code::WaiverExpiring,
                format!(
                    "this waiver expires on {} ({})",
                    w.until,
                    match days {
                        0 => "today".to_owned(),
                        1 => "tomorrow".to_owned(),
                        n => format!("in {n} days"),
                    }
                ),
                Some(w.span),
            ));
        }
    }
    out
}

/// A rule field, identified by where it is written.
type FieldAt = (u32, u32, &'static str);

/// Warnings about shadowed and duplicate rule fields, judged over the plan for some evals.
pub fn rules(plan: &[Item]) -> Vec<Diagnostic> {
    // For each field written in the policy: whether it took effect anywhere, and where it was
    // overridden when it did not.
    let mut used: BTreeMap<FieldAt, bool> = BTreeMap::new();
    let mut overridden_by: BTreeMap<FieldAt, Span> = BTreeMap::new();
    let mut duplicates: BTreeMap<FieldAt, (String, Span)> = BTreeMap::new();
    for item in plan {
        let Item::Rule {
            rule,
            layers,
            min_support,
            support_layers,
            ..
        } = item
        else {
            continue;
        };
        let at = |name, span: Span| (span.line, span.column, name);
        let fields = FIELDS.iter().map(|&(name, get)| {
            let setters: Vec<(FieldAt, String, Span)> = layers
                .iter()
                .filter_map(|r| get(r).map(|(value, span)| (at(name, span), value, span)))
                .collect();
            (setters, get(rule).map(|(_, span)| at(name, span)))
        });
        // `min_support` merges over the class entries as a rule field does over its layers.
        let support = (
            support_layers
                .iter()
                .map(|f| (at("min_support", f.span()), f.value.to_string(), f.span()))
                .collect(),
            min_support.map(|f| at("min_support", f.span())),
        );
        for (setters, winner) in fields.chain([support]) {
            for (at, _, _) in &setters {
                let wins = Some(*at) == winner;
                let entry = used.entry(*at).or_insert(false);
                *entry |= wins;
                if !wins
                    && let Some((_, _, span)) = setters.iter().find(|(a, _, _)| Some(*a) == winner)
                {
                    overridden_by.entry(*at).or_insert(*span);
                }
            }
            for pair in setters.windows(2) {
                let ((_, old, old_span), (at, new, _)) = (&pair[0], &pair[1]);
                if old == new && Some(*at) == winner {
                    duplicates.entry(*at).or_insert((new.clone(), *old_span));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (at, used) in &used {
        if *used {
            continue;
        }
        let (line, column, name) = *at;
        let by = overridden_by
            .get(at)
            .map(|s| format!(", e.g. by line {}", s.line))
            .unwrap_or_default();
        out.push(
            Diagnostic::warning(
                Code::ShadowedRule,
                format!("`{name}` here never takes effect: every scope it covers gets `{name}` from a more specific entry{by}"),
                Some(Span { line, column, offset: None, len: None }),
            )
            .with_help("remove it, or narrow the entries that override it"),
        );
    }
    for ((line, column, name), (value, old)) in &duplicates {
        out.push(
            Diagnostic::warning(
                Code::DuplicateRule,
                format!(
                    "`{name}: {value}` repeats the value it overrides (line {})",
                    old.line
                ),
                Some(Span {
                    line: *line,
                    column: *column,
                    offset: None,
                    len: None,
                }),
            )
            .with_help(
                "remove one of the two, so a later change to the other is not silently undone",
            ),
        );
    }
    out.sort_by_key(|d| d.span.map(|s| (s.line, s.column)));
    out
}

/// Warnings about confusion rules that check a (split, actual, predicted) pair an earlier
/// rule already checks, over the class names of `evals` (map-results' and the confusion
/// matrices'). One warning per rule, at the rule, naming the first such pair.
pub fn confusions(policy: &Policy, evals: &[&Eval]) -> Vec<Diagnostic> {
    let splits: BTreeSet<&str> = evals
        .iter()
        .flat_map(|e| e.splits.keys().map(String::as_str))
        .collect();
    // Pair → the line of the first rule that checks it.
    let mut first: BTreeMap<(&str, String, String), u32> = BTreeMap::new();
    let mut out = Vec::new();
    for rule in &policy.confusions {
        let background = matches!(rule.predicted, Predicted::Background);
        let mut overlap: Option<((&str, String, String), u32)> = None;
        let mut count = 0usize;
        for &split in splits.iter().filter(|s| rule.split.matches(s)) {
            let classes = split_classes(evals, split);
            let classes: Vec<&str> = classes.iter().map(String::as_str).collect();
            for (actual, predicted) in confusion_pairs(rule, &classes) {
                let key = (split, actual.to_owned(), predicted.to_owned());
                // A rule's own pairs are distinct: a pair seen before is another rule's.
                match first.get(&key) {
                    Some(&line) => {
                        count += 1;
                        overlap.get_or_insert((key, line));
                    }
                    None => {
                        first.insert(key, rule.span.line);
                    }
                }
            }
        }
        let Some(((split, actual, predicted), line)) = overlap else {
            continue;
        };
        let more = match count - 1 {
            0 => String::new(),
            1 => " (and 1 more pair)".to_owned(),
            n => format!(" (and {n} more pairs)"),
        };
        let predicted = if background {
            predicted
        } else {
            format!("{predicted:?}")
        };
        out.push(
            Diagnostic::warning(
                Code::DuplicateRule,
                format!(
                    "this confusion rule checks {actual:?} → {predicted} in split {}, which the confusion rule of line {line} checks too{more}; confusion rules do not override each other, so both apply",
                    split_label(split)
                ),
                Some(rule.span),
            )
            .with_help("merge the two into one entry, or narrow `actual` or `predicted` so that each pair has one rule"),
        );
    }
    out
}

/// The class names a split has in any of `evals`: in map-results and in its confusion
/// matrices, sorted.
fn split_classes(evals: &[&Eval], split: &str) -> Vec<String> {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for eval in evals {
        if let Some(s) = eval.splits.get(split) {
            names.extend(s.classes.keys().map(String::as_str));
        }
        for m in eval.panels.confusion.get(split).into_iter().flatten() {
            names.extend(m.classes.iter().map(String::as_str));
        }
    }
    names.into_iter().map(str::to_owned).collect()
}

type Getter = fn(&Rule) -> Option<(String, Span)>;

const FIELDS: [(&str, Getter); 6] = [
    ("min", |r| r.min.map(|f| (f.value.to_string(), f.span()))),
    ("max", |r| r.max.map(|f| (f.value.to_string(), f.span()))),
    ("max_drop", |r| {
        r.max_drop.map(|f| {
            let text = if r.auto {
                "auto".to_owned()
            } else {
                f.value.to_string()
            };
            (text, f.span())
        })
    }),
    ("max_drop_rel", |r| {
        r.max_drop_rel.map(|f| (f.value.to_string(), f.span()))
    }),
    ("max_shift", |r| {
        r.max_shift.map(|f| (f.value.to_string(), f.span()))
    }),
    ("severity", |r| {
        r.severity.map(|f| (f.value.name().to_owned(), f.span()))
    }),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::plan;
    use crate::model::parse_eval;
    use crate::policy::parse_policy;

    fn lint(policy: &str) -> Vec<String> {
        let (policy, _) = parse_policy(policy).unwrap();
        let eval = parse_eval(br#"{"splits": {"valid": {"map50": 0.9, "perClass": {"car": {"map50": 0.9}, "bus": {"map50": 0.8}}}}}"#).unwrap();
        rules(&plan(&policy, None, &eval))
            .iter()
            .map(|d| format!("{}: {d}", d.code))
            .collect()
    }

    #[test]
    fn finds_shadowed_fields() {
        let found = lint(
            "version: 1\nsplits:\n  valid:\n    classes:\n      '*': {map50: {min: 0.5}}\n      car: {map50: {min: 0.6}}\n      bus: {map50: {min: 0.7}}\n",
        );
        assert_eq!(
            found,
            vec![
                "shadowed-rule: line 5, column 26: `min` here never takes effect: every scope it covers gets `min` from a more specific entry, e.g. by line 7 (remove it, or narrow the entries that override it)"
            ]
        );
        // One class left to the glob: not shadowed.
        assert!(lint("version: 1\nsplits:\n  valid:\n    classes:\n      '*': {map50: {min: 0.5}}\n      car: {map50: {min: 0.6}}\n").is_empty());
    }

    #[test]
    fn finds_duplicates_across_star_and_named_splits() {
        let found = lint(
            "version: 1\nsplits:\n  '*':\n    map50: {min: 0.5}\n  valid:\n    map50: {min: 0.5, max_drop: 0.01}\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("shadowed-rule: line 4"), "{found:?}");
        assert!(found[1].starts_with("duplicate-rule: line 6, column 18: `min: 0.5` repeats the value it overrides (line 4)"), "{found:?}");
    }

    #[test]
    fn min_support_merges_like_a_rule_field_so_it_can_be_shadowed_or_repeated() {
        // car and bus both set their own: the glob's never applies.
        let found = lint(
            "version: 1\nsplits:\n  valid:\n    classes:\n      '*': {min_support: 25, map50: {min: 0.5}}\n      car: {min_support: 10}\n      bus: {min_support: 25}\n",
        );
        assert_eq!(
            found,
            vec![
                "shadowed-rule: line 5, column 26: `min_support` here never takes effect: every scope it covers gets `min_support` from a more specific entry, e.g. by line 7 (remove it, or narrow the entries that override it)",
                "duplicate-rule: line 7, column 26: `min_support: 25` repeats the value it overrides (line 5) (remove one of the two, so a later change to the other is not silently undone)",
            ]
        );
        // Left to the glob for one class, it takes effect.
        assert!(lint("version: 1\nsplits:\n  valid:\n    classes:\n      '*': {min_support: 25, map50: {min: 0.5}}\n      car: {min_support: 10}\n").is_empty());
    }

    #[test]
    fn max_shift_is_a_rule_field_like_the_others() {
        let found = lint(
            "version: 1\noperating_point: {confidence: 0.40}\nsplits:\n  '*':\n    optimal_threshold: {max_shift: 0.1}\n  valid:\n    optimal_threshold: {max_shift: 0.1}\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("shadowed-rule: line 5"), "{found:?}");
        assert!(
            found[1].starts_with("duplicate-rule: line 7, column 36: `max_shift: 0.1` repeats"),
            "{found:?}"
        );
    }

    fn confusion_lint(rules: &str) -> Vec<String> {
        let (policy, _) = parse_policy(&format!(
            "version: 1\noperating_point: {{confidence: 0.40}}\nconfusions:\n{rules}"
        ))
        .unwrap();
        let eval = parse_eval(br#"{"splits": {"test": {"map50": 0.9, "perClass": {"car": {"map50": 0.9}}}, "valid": {"map50": 0.9, "perClass": {"car": {"map50": 0.9}, "bus": {"map50": 0.8}}}}}"#).unwrap();
        confusions(&policy, &[&eval])
            .iter()
            .map(|d| format!("{}: {d}", d.code))
            .collect()
    }

    #[test]
    fn confusion_rules_that_check_the_same_pair_are_duplicates() {
        // The glob covers bus and car in both splits; the second rule repeats valid's car.
        let found = confusion_lint(
            "  - {split: '*', actual: '*', predicted: background, max_rise: 0.02}\n  - {split: valid, actual: car, predicted: background, max: 0.1}\n",
        );
        assert_eq!(
            found,
            vec![
                "duplicate-rule: line 5, column 5: this confusion rule checks \"car\" → background in split valid, which the confusion rule of line 4 checks too; confusion rules do not override each other, so both apply (merge the two into one entry, or narrow `actual` or `predicted` so that each pair has one rule)"
            ]
        );
        let found = confusion_lint(
            "  - {split: valid, actual: '*', predicted: '*', max: 0.1}\n  - {split: '*', actual: '*', predicted: '*', max: 0.2}\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("checks \"bus\" → \"car\" in split valid, which the confusion rule of line 4 checks too (and 1 more pair)"),
            "{found:?}"
        );
        // Different pairs, or the same classes in different splits: no overlap.
        assert!(confusion_lint("  - {split: valid, actual: car, predicted: background, max: 0.1}\n  - {split: valid, actual: bus, predicted: background, max: 0.1}\n  - {split: valid, actual: car, predicted: bus, max: 0.1}\n  - {split: test, actual: car, predicted: background, max: 0.1}\n").is_empty());
    }

    #[test]
    fn flags_expired_and_expiring_waivers() {
        let (policy, _) = parse_policy("version: 1\nwaivers:\n  - {split: valid, reason: a, until: 2026-11-01}\n  - {split: valid, reason: b, until: 2026-12-01}\n  - {split: valid, reason: c, until: 2027-06-01}\n").unwrap();
        let found: Vec<String> = waivers(&policy, NaiveDate::from_ymd_opt(2026, 11, 26).unwrap())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            vec![
                "line 3, column 5: this waiver expired on 2026-11-01 and no longer waives anything (fix the regression, or extend `until` with a reason that still holds)",
                "line 4, column 5: this waiver expires on 2026-12-01 (in 5 days)",
            ]
        );
    }
}
