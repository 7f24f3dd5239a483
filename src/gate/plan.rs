//! What the policy asks of a pair of evals, before any value is compared: for every split,
//! scope and metric the policy covers, the rule with each field resolved from defaults, `"*"`
//! and named entries. The gate evaluates this plan; `evalgate policy explain` prints it.

use std::collections::BTreeSet;

use crate::model::{Eval, Lookup, Metric, Percent, Scope, ScopeMetrics, Size};
use crate::policy::{
    BACKGROUND, ClassRules, ConfusionRule, Field, MetricRule, Policy, Predicted, Rule, Severity,
    SizeRules, SplitRules, SplitSelector,
};

/// One thing the policy asks of the evals.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A metric rule, fully resolved.
    Rule {
        /// The split.
        split: String,
        /// The scope within the split.
        scope: Scope,
        /// The metric.
        metric: Metric,
        /// The rule, each field with the policy line it came from.
        rule: Rule,
        /// The policy's entries for this metric that apply here, least specific first (not
        /// counting `defaults`): `rule` is `defaults` overlaid with each in turn.
        layers: Vec<Rule>,
        /// The class's `min_support`, from the last class entry that sets it.
        min_support: Option<Field<u64>>,
        /// Every `min_support` of the class entries that apply here, least specific first:
        /// `min_support` is the last.
        support_layers: Vec<Field<u64>>,
    },
    /// One (split, actual, predicted) pair of a confusion rule, as the gate checks it.
    Confusion {
        /// The split.
        split: String,
        /// The ground-truth class; the rule's pattern as written when the candidate has no
        /// confusion matrix for the split (the gate then fails the rule's checks).
        actual: String,
        /// The predicted class (the pattern as written without a matrix); `None` for
        /// `background`, ground truth missed.
        predicted: Option<String>,
        /// candidate share − baseline share ≤ max_rise.
        max_rise: Option<Field<f64>>,
        /// candidate share ≤ max.
        max: Option<Field<f64>>,
        /// The rule's `severity`, else `defaults.severity` (`None`: fail by default).
        severity: Option<Field<Severity>>,
        /// The confidence of the candidate's matrix the share is read from; `None` when the
        /// candidate has none for the split at the operating point.
        matrix: Option<Percent>,
        /// The policy line the rule starts on.
        line: u32,
    },
    /// A split the candidate lacks, which a rule covers.
    MissingSplit {
        /// The split.
        split: String,
        /// Whether the baseline has it.
        in_baseline: bool,
        /// The policy line of the split's rules.
        line: u32,
    },
    /// A class of the baseline that the candidate lacks, which a rule covers.
    MissingClass {
        /// The split.
        split: String,
        /// The class.
        class: String,
        /// The policy line of the class's rules.
        line: u32,
    },
}

impl Item {
    /// How many checks the gate makes of this item: one per rule field, one for a presence.
    pub fn checks(&self) -> usize {
        match self {
            Item::Rule { rule, .. } => rule_fields(rule),
            Item::Confusion { max_rise, max, .. } => {
                usize::from(max_rise.is_some()) + usize::from(max.is_some())
            }
            Item::MissingSplit { .. } | Item::MissingClass { .. } => 1,
        }
    }
}

/// The rules that apply to one scope, least specific first; later ones win field by field.
type Layers<'a> = Vec<&'a [MetricRule]>;

/// Every item of `policy` for these evals, in a stable order, the gate's: split, then the
/// split's own metrics, its sizes, then classes by name with their sizes; then the confusion
/// rules in file order, each by split, actual and predicted class.
pub fn plan(policy: &Policy, baseline: Option<&Eval>, candidate: &Eval) -> Vec<Item> {
    let mut items = Vec::new();
    plan_each(policy, baseline, candidate, &mut |item| items.push(item));
    items
}

/// As [`plan`], handing each item to `sink` as it is made.
pub fn plan_each(
    policy: &Policy,
    baseline: Option<&Eval>,
    candidate: &Eval,
    sink: &mut dyn FnMut(Item),
) {
    walk(policy, baseline, candidate, true, &mut |step| {
        sink(step.to_item());
    });
    confusion_items(policy, baseline, candidate, sink);
}

/// The splits a confusion rule covers: every split of either eval its `split` matches, and a
/// named split even when neither eval has it (its checks then fail for want of a matrix).
pub(crate) fn confusion_splits<'e>(
    rule: &'e ConfusionRule,
    baseline: Option<&'e Eval>,
    candidate: &'e Eval,
) -> BTreeSet<&'e str> {
    let mut splits: BTreeSet<&str> = candidate.splits.keys().map(String::as_str).collect();
    splits.extend(
        baseline
            .iter()
            .flat_map(|b| b.splits.keys().map(String::as_str)),
    );
    if let SplitSelector::Name(n) = &rule.split {
        splits.retain(|s| s == n);
        splits.insert(n);
    }
    splits
}

/// The confusion rules' items, enumerated as the gate's confusion checks are: every split of
/// either eval that the rule's split covers (a named split even when neither has it), the
/// matrices at the operating point, and [`confusion_pairs`] over both matrices' classes.
fn confusion_items(
    policy: &Policy,
    baseline: Option<&Eval>,
    candidate: &Eval,
    sink: &mut dyn FnMut(Item),
) {
    let point = policy.operating_point.map(|p| p.value);
    for rule in &policy.confusions {
        let splits = confusion_splits(rule, baseline, candidate);
        let background = matches!(rule.predicted, Predicted::Background);
        let item =
            |split: &str, actual: &str, predicted: &str, matrix: Option<Percent>| Item::Confusion {
                split: split.to_owned(),
                actual: actual.to_owned(),
                predicted: (!background).then(|| predicted.to_owned()),
                max_rise: rule.max_rise,
                max: rule.max,
                severity: rule.severity.or(policy.defaults.severity),
                matrix,
                line: rule.span.line,
            };
        for split in splits {
            let Some(cand) = candidate.matrix_at(split, point) else {
                sink(item(split, rule.actual.text(), rule.predicted.text(), None));
                continue;
            };
            let mut classes: BTreeSet<&str> = cand.classes.iter().map(String::as_str).collect();
            if let Some(base) = baseline.and_then(|b| b.matrix_at(split, point)) {
                classes.extend(base.classes.iter().map(String::as_str));
            }
            let classes: Vec<&str> = classes.into_iter().collect();
            for (actual, predicted) in confusion_pairs(rule, &classes) {
                sink(item(split, actual, predicted, Some(cand.confidence)));
            }
        }
    }
}

/// One item of the plan as the walk makes it, borrowing names from the evals: the gate
/// judges 100,000 of these and copies nothing it does not keep.
// One step lives at a time, on the stack, handed straight to the sink: boxing the rule would
// allocate once per item for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step<'s> {
    Rule {
        split: &'s str,
        class: Option<&'s str>,
        size: Option<Size>,
        metric: Metric,
        rule: Rule,
        /// Empty unless the walk was asked for layers.
        layers: &'s [Rule],
        min_support: Option<Field<u64>>,
        /// Empty unless the walk was asked for layers.
        support_layers: &'s [Field<u64>],
        /// The scope in the candidate and in the baseline (`None`: no baseline eval), found
        /// while walking the sorted names: the gate looks nothing up.
        owners: Owners<'s>,
    },
    MissingSplit {
        split: &'s str,
        in_baseline: bool,
        line: u32,
    },
    MissingClass {
        split: &'s str,
        class: &'s str,
        line: u32,
    },
}

/// The metrics of one scope in the candidate and in the baseline, or why there are none.
#[derive(Clone, Copy)]
pub(crate) struct Owners<'s> {
    pub(crate) candidate: Result<&'s ScopeMetrics, Lookup>,
    pub(crate) baseline: Option<Result<&'s ScopeMetrics, Lookup>>,
}

impl Step<'_> {
    fn to_item(&self) -> Item {
        match *self {
            Step::Rule {
                split,
                class,
                size,
                metric,
                rule,
                layers,
                min_support,
                support_layers,
                ..
            } => Item::Rule {
                split: split.to_owned(),
                scope: match (class, size) {
                    (None, None) => Scope::Split,
                    (None, Some(s)) => Scope::Size(s),
                    (Some(c), None) => Scope::Class(c.to_owned()),
                    (Some(c), Some(s)) => Scope::ClassSize(c.to_owned(), s),
                },
                metric,
                rule,
                layers: layers.to_vec(),
                min_support,
                support_layers: support_layers.to_vec(),
            },
            Step::MissingSplit {
                split,
                in_baseline,
                line,
            } => Item::MissingSplit {
                split: split.to_owned(),
                in_baseline,
                line,
            },
            Step::MissingClass { split, class, line } => Item::MissingClass {
                split: split.to_owned(),
                class: class.to_owned(),
                line,
            },
        }
    }

    /// How many checks the gate makes of this step: one per rule field, one for a presence.
    pub(crate) fn checks(&self) -> usize {
        match self {
            Step::Rule { rule, .. } => rule_fields(rule),
            Step::MissingSplit { .. } | Step::MissingClass { .. } => 1,
        }
    }
}

fn rule_fields(rule: &Rule) -> usize {
    [
        rule.min.is_some(),
        rule.max.is_some(),
        rule.max_drop.is_some(),
        rule.max_drop_rel.is_some(),
        rule.max_shift.is_some(),
    ]
    .into_iter()
    .filter(|&f| f)
    .count()
}

/// Walks the plan in its stable order; `layers` asks for each rule's layers (explain and the
/// lints want them, the gate does not).
pub(crate) fn walk<'e>(
    policy: &Policy,
    baseline: Option<&'e Eval>,
    candidate: &'e Eval,
    layers: bool,
    sink: &mut dyn FnMut(Step<'_>),
) {
    let mut names: BTreeSet<&str> = candidate.splits.keys().map(String::as_str).collect();
    names.extend(
        baseline
            .iter()
            .flat_map(|b| b.splits.keys().map(String::as_str)),
    );
    for s in &policy.splits {
        if let SplitSelector::Name(n) = &s.selector {
            names.insert(n);
        }
    }
    let mut walker = Walker {
        policy,
        layers,
        buf: Vec::new(),
        support: Vec::new(),
        resolved: Resolved::default(),
        sink,
    };
    for split in names {
        walker.split(baseline, candidate, split);
    }
}

struct Walker<'p, 'f> {
    policy: &'p Policy,
    layers: bool,
    /// The applying rules of the current metric, reused from item to item.
    buf: Vec<Rule>,
    /// The `min_support` layers of the current class, when asked for layers.
    support: Vec<Field<u64>>,
    /// The rules of the last class's entries, resolved.
    resolved: Resolved<'p>,
    sink: &'f mut dyn FnMut(Step<'_>),
}

/// Every rule that one set of class entries resolves to, in the order the walk gives them.
///
/// Classes matched by the same entries (every class under `"*"`, typically) have the same
/// rules, and resolving them (which layers name each metric, each field merged) cost more
/// than judging them. So the walk resolves a set once and reuses it while the next class
/// matches the same entries.
#[derive(Default)]
struct Resolved<'p> {
    /// The entries, by address.
    key: Vec<*const ClassRules>,
    entries: Vec<&'p ClassRules>,
    min_support: Option<Field<u64>>,
    rules: Vec<(Option<Size>, Metric, Rule)>,
}

impl<'p> Walker<'p, '_> {
    fn split(&mut self, baseline: Option<&Eval>, candidate: &Eval, split: &str) {
        let policy = self.policy;
        let in_candidate = candidate.splits.contains_key(split);
        let in_baseline = baseline.is_some_and(|b| b.splits.contains_key(split));
        // "*" covers every split of either eval, so that a split the candidate dropped fails its
        // presence check; exact names come after it and so win.
        let sets: Vec<&SplitRules> = policy
            .splits
            .iter()
            .filter(|s| s.selector == SplitSelector::All && (in_candidate || in_baseline))
            .chain(
                policy
                    .splits
                    .iter()
                    .filter(|s| s.selector == SplitSelector::Name(split.to_owned())),
            )
            .collect();
        let Some(last) = sets.last() else { return };
        let Some(cand_split) = candidate.splits.get(split) else {
            (self.sink)(Step::MissingSplit {
                split,
                in_baseline,
                line: last.span.line,
            });
            return;
        };

        let base_split = baseline.map(|b| b.splits.get(split).ok_or(Lookup::NoSplit));
        let owners = Owners {
            candidate: Ok(&cand_split.overall),
            baseline: base_split.map(|s| s.map(|s| &s.overall)),
        };
        let layers: Layers<'_> = sets.iter().map(|s| s.metrics.as_slice()).collect();
        self.support.clear();
        self.scope(split, None, None, &layers, owners, None);
        for size in Size::ALL {
            let layers = size_layers(sets.iter().map(|s| s.sizes.as_slice()), size);
            self.scope(split, None, Some(size), &layers, owners, None);
        }

        let base_classes = base_split.and_then(Result::ok).map(|s| &s.classes);
        for (class, in_candidate, base_metrics) in union(
            cand_split.classes.iter(),
            base_classes.into_iter().flat_map(|c| c.iter()),
        ) {
            if !self.layers {
                self.class_from_cache(&sets, split, class, in_candidate, base_split, base_metrics);
                continue;
            }
            let matching = class_rules(&sets, class);
            let Some(last) = matching.last() else {
                continue;
            };
            if in_candidate.is_none() {
                (self.sink)(Step::MissingClass {
                    split,
                    class,
                    line: last.span.line,
                });
                continue;
            }
            let owners = Owners {
                candidate: in_candidate.ok_or(Lookup::NoClass),
                baseline: base_split.map(|s| s.and_then(|_| base_metrics.ok_or(Lookup::NoClass))),
            };
            // Merged like a rule field: the most specific entry that sets it wins.
            let min_support = matching.iter().rev().find_map(|c| c.min_support);
            self.support.clear();
            if self.layers {
                self.support
                    .extend(matching.iter().filter_map(|c| c.min_support));
            }
            let layers: Layers<'_> = matching.iter().map(|c| c.metrics.as_slice()).collect();
            self.scope(split, Some(class), None, &layers, owners, min_support);
            for size in Size::ALL {
                let layers = size_layers(matching.iter().map(|c| c.sizes.as_slice()), size);
                self.scope(split, Some(class), Some(size), &layers, owners, min_support);
            }
        }
    }

    /// One class's steps without layers (the gate's walk), its rules resolved once per set
    /// of matching entries.
    fn class_from_cache<'e>(
        &mut self,
        sets: &[&'p SplitRules],
        split: &str,
        class: &str,
        in_candidate: Option<&'e ScopeMetrics>,
        base_split: Option<Result<&'e crate::model::SplitEval, Lookup>>,
        base_metrics: Option<&'e ScopeMetrics>,
    ) {
        let r = &mut self.resolved;
        r.entries.clear();
        r.entries.extend(class_rules_iter(sets, class));
        let Some(last) = r.entries.last() else {
            return;
        };
        if in_candidate.is_none() {
            let line = last.span.line;
            (self.sink)(Step::MissingClass { split, class, line });
            return;
        }
        let same = r.key.len() == r.entries.len()
            && r.key
                .iter()
                .zip(&r.entries)
                .all(|(k, m)| std::ptr::eq(*k, *m));
        if !same {
            r.key.clear();
            r.key
                .extend(r.entries.iter().map(|m| *m as *const ClassRules));
            r.min_support = r.entries.iter().rev().find_map(|c| c.min_support);
            r.rules.clear();
            let layers: Layers<'_> = r.entries.iter().map(|c| c.metrics.as_slice()).collect();
            resolve(self.policy, &layers, |m, rule| {
                r.rules.push((None, m, rule));
            });
            for size in Size::ALL {
                let layers = size_layers(r.entries.iter().map(|c| c.sizes.as_slice()), size);
                resolve(self.policy, &layers, |m, rule| {
                    r.rules.push((Some(size), m, rule));
                });
            }
        }
        let owners = Owners {
            candidate: in_candidate.ok_or(Lookup::NoClass),
            baseline: base_split.map(|s| s.and_then(|_| base_metrics.ok_or(Lookup::NoClass))),
        };
        for &(size, metric, rule) in &self.resolved.rules {
            (self.sink)(Step::Rule {
                split,
                class: Some(class),
                size,
                metric,
                rule,
                layers: &[],
                min_support: self.resolved.min_support,
                support_layers: &[],
                owners,
            });
        }
    }

    fn scope(
        &mut self,
        split: &str,
        class: Option<&str>,
        size: Option<Size>,
        layers: &Layers<'_>,
        owners: Owners<'_>,
        min_support: Option<Field<u64>>,
    ) {
        if layers.iter().all(|l| l.is_empty()) {
            return;
        }
        let mentioned = |m: &Metric| layers.iter().any(|l| l.iter().any(|r| r.metric == *m));
        for metric in Metric::ALL.into_iter().filter(mentioned) {
            let applying = layers
                .iter()
                .flat_map(|l| l.iter().filter(|r| r.metric == metric))
                .map(|r| r.rule);
            let rule = if self.layers {
                self.buf.clear();
                self.buf.extend(applying);
                self.buf
                    .iter()
                    .fold(self.policy.defaults, |acc, r| acc.overlay(r))
            } else {
                applying.fold(self.policy.defaults, |acc, r| acc.overlay(&r))
            };
            (self.sink)(Step::Rule {
                split,
                class,
                size,
                metric,
                rule,
                layers: if self.layers { &self.buf } else { &[] },
                min_support,
                support_layers: &self.support,
                owners,
            });
        }
    }
}

/// The classes of two sorted lists, merged in order, each with its metrics in either list:
/// one pass, where looking names up would compare each name many times.
fn union<'a>(
    first: impl Iterator<Item = (&'a String, &'a ScopeMetrics)>,
    second: impl Iterator<Item = (&'a String, &'a ScopeMetrics)>,
) -> impl Iterator<Item = (&'a str, Option<&'a ScopeMetrics>, Option<&'a ScopeMetrics>)> {
    let (mut a, mut b) = (first.peekable(), second.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x.0 < y.0 => a.next().map(|(n, m)| (n.as_str(), Some(m), None)),
        (Some(x), Some(y)) if x.0 > y.0 => b.next().map(|(n, m)| (n.as_str(), None, Some(m))),
        (Some(_), Some(_)) => {
            let (_, theirs) = b.next()?;
            a.next().map(|(n, m)| (n.as_str(), Some(m), Some(theirs)))
        }
        (Some(_), None) => a.next().map(|(n, m)| (n.as_str(), Some(m), None)),
        (None, Some(_)) => b.next().map(|(n, m)| (n.as_str(), None, Some(m))),
        (None, None) => None,
    })
}

fn size_layers<'r>(sizes: impl Iterator<Item = &'r [SizeRules]>, size: Size) -> Layers<'r> {
    sizes
        .flat_map(|list| list.iter().filter(move |s| s.size == size))
        .map(|s| s.metrics.as_slice())
        .collect()
}

/// The (actual, predicted) pairs a confusion rule covers among `classes` (sorted, the names
/// of both evals' confusion matrices): every class `actual` matches, each with background
/// or with every other class `predicted` matches, in name order. A class is never paired
/// with itself: that share is its recall.
pub fn confusion_pairs<'c>(rule: &ConfusionRule, classes: &[&'c str]) -> Vec<(&'c str, &'c str)> {
    let mut pairs = Vec::new();
    for &actual in classes.iter().filter(|a| rule.actual.matches(a)) {
        match &rule.predicted {
            Predicted::Background => pairs.push((actual, BACKGROUND)),
            Predicted::Class(p) => pairs.extend(
                classes
                    .iter()
                    .filter(|c| **c != actual && p.matches(c))
                    .map(|&c| (actual, c)),
            ),
        }
    }
    pairs
}

/// The class rules that match `class`: globs first, then its exact name, each in split order
/// ("*" before the named split) and then file order. Later ones win.
fn class_rules<'r>(sets: &[&'r SplitRules], class: &str) -> Vec<&'r ClassRules> {
    class_rules_iter(sets, class).collect()
}

fn class_rules_iter<'r, 'c>(
    sets: &'c [&'r SplitRules],
    class: &'c str,
) -> impl Iterator<Item = &'r ClassRules> + 'c {
    let all = || sets.iter().flat_map(|s| s.classes.iter());
    all()
        .filter(|c| !c.pattern.names(class) && c.pattern.matches(class))
        .chain(all().filter(|c| c.pattern.names(class)))
}

/// Each metric the layers mention, in [`Metric::ALL`] order, with its rule: `defaults`
/// overlaid with each layer's entry in turn.
fn resolve(policy: &Policy, layers: &Layers<'_>, mut out: impl FnMut(Metric, Rule)) {
    if layers.iter().all(|l| l.is_empty()) {
        return;
    }
    for metric in Metric::ALL {
        let mut applying = layers
            .iter()
            .flat_map(|l| l.iter().filter(|r| r.metric == metric))
            .peekable();
        if applying.peek().is_none() {
            continue;
        }
        out(
            metric,
            applying.fold(policy.defaults, |acc, r| acc.overlay(&r.rule)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{Step, union, walk};
    use crate::model::{ScopeMetrics, parse_eval};
    use crate::policy::parse_policy;

    /// The gate's walk resolves each set of class entries once and reuses it; `policy
    /// explain`'s walk resolves every scope with its layers. Both must give the same rules.
    #[test]
    fn resolving_once_per_set_of_entries_gives_each_class_its_own_rules() {
        let (policy, _) = parse_policy(
            r#"version: 1
defaults: {max_drop: 0.02}
splits:
  "*":
    classes:
      "*":
        map50: {min: 0.1}
        sizes:
          small: {map50: {max_drop: 0.05}}
  valid:
    classes:
      "c*":
        map50: {max_drop: 0.04}
        min_support: 5
      car:
        map50_95: {min: 0.3}
        sizes:
          small: {map50: {min: 0.2}}
      cat:
        map50: {severity: warn}
        min_support: 9
"#,
        )
        .unwrap();
        let names = ["ant", "bus", "car", "cat", "cow", "dog", "emu"];
        let per_class: Vec<String> = names
            .iter()
            .map(|n| format!(r#""{n}": {{"map50": 0.5, "map50_95": 0.4}}"#))
            .collect();
        let body = format!(
            r#"{{"splits": {{"valid": {{"perClass": {{{0}}}}}, "test": {{"perClass": {{{0}}}}}}}}}"#,
            per_class.join(",")
        );
        let eval = parse_eval(body.as_bytes()).unwrap();
        let steps = |layers: bool| {
            let mut out = Vec::new();
            walk(&policy, Some(&eval), &eval, layers, &mut |step| {
                if let Step::Rule {
                    split,
                    class,
                    size,
                    metric,
                    rule,
                    min_support,
                    ..
                } = step
                {
                    out.push((
                        split.to_owned(),
                        class.map(str::to_owned),
                        size,
                        metric,
                        rule,
                        min_support,
                    ));
                }
            });
            out
        };
        let (cached, layered) = (steps(false), steps(true));
        assert_eq!(cached, layered);
        // The walk covered what the policy says: car's own floor, cat's warning, the glob's
        // support, and classes the glob does not match keep the "*" rules only.
        let find = |class: &str, metric: Metric| {
            cached
                .iter()
                .find(|s| {
                    s.0 == "valid"
                        && s.1.as_deref() == Some(class)
                        && s.2.is_none()
                        && s.3 == metric
                })
                .cloned()
        };
        use crate::model::Metric;
        assert_eq!(
            find("car", Metric::Map50_95).unwrap().4.min.unwrap().value,
            0.3
        );
        assert_eq!(find("cat", Metric::Map50).unwrap().5.unwrap().value, 9);
        assert_eq!(find("cow", Metric::Map50).unwrap().5.unwrap().value, 5);
        assert_eq!(
            find("cow", Metric::Map50)
                .unwrap()
                .4
                .max_drop
                .unwrap()
                .value,
            0.04
        );
        assert_eq!(
            find("dog", Metric::Map50)
                .unwrap()
                .4
                .max_drop
                .unwrap()
                .value,
            0.02
        );
        assert!(find("dog", Metric::Map50).unwrap().5.is_none());
        assert!(find("dog", Metric::Map50_95).is_none());
    }

    #[test]
    fn union_merges_sorted_names_once_each() {
        let m = ScopeMetrics::default();
        let a: Vec<String> = ["bus", "car", "van"].map(String::from).to_vec();
        let b: Vec<String> = ["ant", "car", "zebra"].map(String::from).to_vec();
        let a: Vec<(&String, &ScopeMetrics)> = a.iter().map(|n| (n, &m)).collect();
        let b: Vec<(&String, &ScopeMetrics)> = b.iter().map(|n| (n, &m)).collect();
        let got: Vec<(&str, bool, bool)> = union(a.iter().copied(), b.iter().copied())
            .map(|(n, x, y)| (n, x.is_some(), y.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                ("ant", false, true),
                ("bus", true, false),
                ("car", true, true),
                ("van", true, false),
                ("zebra", false, true)
            ]
        );
        assert_eq!(union(a.iter().copied(), [].into_iter()).count(), 3);
    }
}
