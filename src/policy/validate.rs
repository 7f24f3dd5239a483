//! Node tree → [`Policy`], collecting every problem instead of stopping at the first.

use super::node::{Key, Kind, Node};
use super::{
    BACKGROUND, ClassPattern, ClassRules, Code, ConfusionRule, Diagnostic, Diagnostics, Field,
    MetricRule, Missing, MissingBaseline, MissingClass, MissingMetric, Policy, PolicyError,
    Predicted, Rule, Severity, SizeRules, SplitRules, SplitSelector, Statistics, Waiver,
    did_you_mean,
};
use crate::model::{Metric, OperatingPoint, Percent, ScopeKind, Size, Task};
use crate::stats::Correction;

pub(crate) const TOP_KEYS: &[&str] = &[
    "version",
    "task",
    "operating_point",
    "defaults",
    "missing",
    "splits",
    "confusions",
    "statistics",
    "waivers",
];
pub(crate) const STATISTICS_KEYS: &[&str] = &["significance", "correction", "resamples", "seed"];
pub(crate) const RULE_KEYS: &[&str] = &[
    "min",
    "max",
    "max_drop",
    "max_drop_rel",
    "max_shift",
    "severity",
];
pub(crate) const OPERATING_POINT_KEYS: &[&str] = &["confidence"];
pub(crate) const CONFUSION_KEYS: &[&str] = &[
    "split",
    "actual",
    "predicted",
    "max_rise",
    "max",
    "severity",
];
pub(crate) const MISSING_KEYS: &[&str] = &["baseline", "class", "metric"];
pub(crate) const WAIVER_KEYS: &[&str] = &["split", "class", "metric", "reason", "until"];

pub(crate) fn validate(root: &Node) -> Result<(Policy, Vec<Diagnostic>), PolicyError> {
    let (policy, diags) = validate_all(root);
    diags.finish(policy)
}

/// The policy as far as it validated, with every diagnostic, errors or not.
pub(crate) fn validate_partial(root: &Node) -> (Policy, Vec<Diagnostic>) {
    let (policy, diags) = validate_all(root);
    match diags.finish(()) {
        Ok(((), list)) => (policy, list),
        Err(e) => (policy, e.diagnostics),
    }
}

fn validate_all(root: &Node) -> (Policy, Diagnostics) {
    let mut v = Validator {
        diags: Diagnostics::default(),
        task: None,
    };
    let policy = v.policy(root);
    if let Some(task) = policy.task {
        policy.check_task(task, &mut v.diags);
    }
    (policy, v.diags)
}

struct Validator {
    diags: Diagnostics,
    task: Option<Task>,
}

impl Validator {
    fn error(&mut self, code: Code, message: String, span: super::Span) {
        self.diags
            .push(Diagnostic::error(code, message, Some(span)));
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> &'n [(Key, Node)] {
        match &node.kind {
            Kind::Map(entries) => entries,
            // An empty block (`defaults:` with nothing under it) reads as null.
            Kind::Null => &[],
            other => {
                self.error(
                    Code::WrongType,
                    format!("{what} must be a mapping, found {}", other.describe()),
                    node.span,
                );
                &[]
            }
        }
    }

    fn unknown_key(&mut self, key: &Key, known: &[&str], context: &str) {
        let mut d = Diagnostic::error(
            Code::UnknownKey,
            format!("unknown key {:?} in {context}", key.name),
            Some(key.span),
        );
        d = match did_you_mean(&key.name, known.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("expected one of: {}", known.join(", "))),
        };
        self.diags.push(d);
    }

    /// The text of a list entry's field, or `None` where it is not a string; that is a
    /// `wrong-type` error (and clears `ok`) when `key` is one of the entry's `strings`.
    fn text<'n>(
        &mut self,
        key: &Key,
        value: &'n Node,
        strings: &[&str],
        owner: &str,
        ok: &mut bool,
    ) -> Option<&'n str> {
        match &value.kind {
            Kind::Str(s) => Some(s.as_str()),
            other if strings.contains(&key.name.as_str()) => {
                self.error(
                    Code::WrongType,
                    format!(
                        "{owner} `{}` must be a string, found {}",
                        key.name,
                        other.describe()
                    ),
                    value.span,
                );
                *ok = false;
                None
            }
            _ => None,
        }
    }

    /// A class name or glob; `what` names it in the error.
    fn glob(&mut self, text: &str, span: super::Span, what: &str) -> Option<ClassPattern> {
        match ClassPattern::new(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.error(
                    Code::InvalidGlob,
                    format!("{what} {text:?} is not a valid glob: {}", e.kind()),
                    span,
                );
                None
            }
        }
    }

    /// A `missing-field` error on `node` for each field that is neither read nor written;
    /// false if there was one.
    fn require(
        &mut self,
        node: &Node,
        entries: &[(Key, Node)],
        owner: &str,
        fields: [(&str, bool); 3],
        help: &str,
    ) -> bool {
        let mut ok = true;
        for (field, present) in fields {
            let written = entries.iter().any(|(k, _)| k.name == field);
            if !present && !written {
                self.diags.push(
                    Diagnostic::error(
                        Code::MissingField,
                        format!("{owner} needs `{field}`"),
                        Some(node.span),
                    )
                    .with_help(help),
                );
                ok = false;
            }
        }
        ok
    }

    fn policy(&mut self, root: &Node) -> Policy {
        let entries = match &root.kind {
            Kind::Map(e) => e.as_slice(),
            Kind::Null => {
                self.diags.push(
                    Diagnostic::error(Code::EmptyPolicy, "the policy is empty", Some(root.span))
                        .with_help(format!(
                            "start it with `version: 1`; see {}/policy.md",
                            crate::DOCS_URL
                        )),
                );
                return Policy {
                    task: None,
                    task_span: None,
                    defaults: Rule::default(),
                    missing: Missing::default(),
                    splits: Vec::new(),
                    waivers: Vec::new(),
                    operating_point: None,
                    confusions: Vec::new(),
                    statistics: None,
                };
            }
            other => {
                self.error(
                    Code::WrongType,
                    format!("a policy must be a mapping, found {}", other.describe()),
                    root.span,
                );
                &[]
            }
        };
        let find = |name: &str| entries.iter().find(|(k, _)| k.name == name);
        for (key, _) in entries {
            if !TOP_KEYS.contains(&key.name.as_str()) {
                self.unknown_key(key, TOP_KEYS, "the policy");
            }
        }

        match find("version") {
            None => self.diags.push(
                Diagnostic::error(
                    Code::MissingVersion,
                    "the policy has no `version`",
                    Some(root.span),
                )
                .with_help("add `version: 1` at the top"),
            ),
            Some((_, n)) => {
                if !matches!(n.kind, Kind::Number(v) if v == 1.0) {
                    self.diags.push(
                        Diagnostic::error(
                            Code::UnsupportedVersion,
                            format!("unsupported policy version: {}", n.kind.describe()),
                            Some(n.span),
                        )
                        .with_help("this evalgate understands `version: 1`"),
                    );
                }
            }
        }

        let mut task_span = None;
        if let Some((_, n)) = find("task") {
            task_span = Some(n.span);
            self.task = self
                .enumerated(n, "task", &["object-detection", "semantic-segmentation"])
                .and_then(Task::from_name);
        }

        let operating_point = find("operating_point").and_then(|(_, n)| self.operating_point(n));
        let statistics = find("statistics").and_then(|(_, n)| self.statistics(n));
        let defaults = match find("defaults") {
            Some((_, n)) => self.rule(n, "`defaults`", false),
            None => Rule::default(),
        };
        if let Some(f) = defaults.max_shift {
            self.diags.push(
                Diagnostic::error(
                    Code::FieldNotForMetric,
                    "`max_shift` cannot stand in `defaults`: it is for `optimal_threshold` rules only",
                    Some(f.span()),
                )
                .with_help("set it on the `optimal_threshold` rule of a split or class"),
            );
        }
        let missing = match find("missing") {
            Some((_, n)) => self.missing(n),
            None => Missing::default(),
        };
        let mut splits = Vec::new();
        if let Some((_, n)) = find("splits") {
            for (key, node) in self.map(n, "`splits`") {
                splits.push(self.split(key, node));
            }
        }
        let mut confusions = Vec::new();
        if let Some((_, n)) = find("confusions") {
            match &n.kind {
                Kind::Seq(items) => {
                    for item in items {
                        confusions.extend(self.confusion(item));
                    }
                }
                Kind::Null => {}
                other => self.error(
                    Code::WrongType,
                    format!("`confusions` must be a list, found {}", other.describe()),
                    n.span,
                ),
            }
        }
        let mut waivers = Vec::new();
        if let Some((_, n)) = find("waivers") {
            match &n.kind {
                Kind::Seq(items) => {
                    for item in items {
                        if let Some(w) = self.waiver(item) {
                            waivers.push(w);
                        }
                    }
                }
                Kind::Null => {}
                other => self.error(
                    Code::WrongType,
                    format!("`waivers` must be a list, found {}", other.describe()),
                    n.span,
                ),
            }
        }
        let policy = Policy {
            task: self.task,
            task_span,
            defaults,
            missing,
            splits,
            waivers,
            operating_point,
            confusions,
            statistics,
        };
        if policy.statistics.is_none() {
            self.check_auto(&policy);
        }
        policy
    }

    /// `max_drop: auto` means "any significant drop": without `statistics` nothing is tested.
    fn check_auto(&mut self, policy: &Policy) {
        let splits = policy.splits.iter();
        // Every rule, size rules included: size and class × size mAP drops are noise-tested
        // too (local evals), so `auto` there means the same as anywhere.
        fn sizes(list: &[SizeRules]) -> impl Iterator<Item = &MetricRule> {
            list.iter().flat_map(|z| z.metrics.iter())
        }
        let rules = splits.flat_map(|s| {
            let classes = s
                .classes
                .iter()
                .flat_map(|c| c.metrics.iter().chain(sizes(&c.sizes)));
            s.metrics.iter().chain(sizes(&s.sizes)).chain(classes)
        });
        let mut autos = rules
            .filter(|r| r.rule.auto)
            .filter_map(|r| r.rule.max_drop.map(|f| f.span()));
        if let Some(span) = (policy.defaults.auto)
            .then(|| policy.defaults.max_drop.map(|f| f.span()))
            .flatten()
            .or_else(|| autos.next())
        {
            self.diags.push(
                Diagnostic::error(
                    Code::AutoWithoutStatistics,
                    "`max_drop: auto` fails on a significant drop, but the policy has no `statistics` block",
                    Some(span),
                )
                .with_help("add `statistics: {significance: 0.05}`, or give a number of points"),
            );
        }
    }

    /// `statistics: {significance, correction, resamples, seed}`.
    fn statistics(&mut self, node: &Node) -> Option<Statistics> {
        let mut out = Statistics {
            significance: Statistics::DEFAULT_SIGNIFICANCE,
            correction: Correction::Holm,
            resamples: Statistics::DEFAULT_RESAMPLES,
            seed: 1,
            span: node.span,
        };
        let mut ok = true;
        for (key, value) in self.map(node, "`statistics`") {
            match key.name.as_str() {
                "significance" => {
                    match value.kind {
                        Kind::Number(v) if v > 0.0 && v <= 0.5 => out.significance = v,
                        ref other => {
                            self.error(
                            Code::InvalidValue,
                            format!("`statistics.significance` must be a number in (0, 0.5], found {}", other.describe()),
                            value.span,
                        );
                            ok = false;
                        }
                    }
                }
                "correction" => {
                    match self.enumerated(value, "statistics.correction", &["holm", "bh", "none"]) {
                        Some("holm") => out.correction = Correction::Holm,
                        Some("bh") => out.correction = Correction::BenjaminiHochberg,
                        Some(_) => out.correction = Correction::None,
                        None => ok = false,
                    }
                }
                "resamples" => match value.kind {
                    Kind::Number(v) if v.fract() == 0.0 && (100.0..=100_000.0).contains(&v) => {
                        out.resamples = v as usize;
                    }
                    ref other => {
                        self.error(
                            Code::InvalidValue,
                            format!("`statistics.resamples` must be a whole number from 100 to 100000, found {}", other.describe()),
                            value.span,
                        );
                        ok = false;
                    }
                },
                "seed" => {
                    match value.kind {
                        Kind::Number(v)
                            if v.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&v) =>
                        {
                            out.seed = v as u64;
                        }
                        ref other => {
                            self.error(
                            Code::InvalidValue,
                            format!("`statistics.seed` must be a whole number from 0 to 2^53, found {}", other.describe()),
                            value.span,
                        );
                            ok = false;
                        }
                    }
                }
                _ => self.unknown_key(key, STATISTICS_KEYS, "`statistics`"),
            }
        }
        ok.then_some(out)
    }

    /// `operating_point: {confidence: 0.40 | optimal}`.
    fn operating_point(&mut self, node: &Node) -> Option<Field<OperatingPoint>> {
        let entries = self.map(node, "`operating_point`");
        let mut point = None;
        for (key, value) in entries {
            if key.name != "confidence" {
                self.unknown_key(key, OPERATING_POINT_KEYS, "`operating_point`");
                continue;
            }
            let field = |value| Field {
                value,
                line: key.span.line,
                column: key.span.column,
            };
            match &value.kind {
                Kind::Str(s) if s == "optimal" => point = Some(field(OperatingPoint::Optimal)),
                Kind::Number(v) => match Percent::from_fraction(*v) {
                    Some(p) => point = Some(field(OperatingPoint::Confidence(p))),
                    None => {
                        let percent = *v > 1.0 && *v <= 100.0 && v.fract() == 0.0;
                        let d = Diagnostic::error(
                            Code::InvalidValue,
                            format!("`confidence: {v}` is not a fraction with at most two decimals"),
                            Some(value.span),
                        );
                        self.diags.push(if percent {
                            d.with_help(format!(
                                "for {v}% write `confidence: {:.2}`",
                                v / 100.0
                            ))
                        } else {
                            d.with_help("Roboflow sweeps the confidence in steps of 0.01 from 0 to 1: write e.g. `confidence: 0.40`, or `confidence: optimal`")
                        });
                    }
                },
                other => self.error(
                    Code::InvalidValue,
                    format!(
                        "`operating_point.confidence` must be a fraction such as 0.40 or `optimal`, found {}",
                        other.describe()
                    ),
                    value.span,
                ),
            }
        }
        if entries.is_empty() {
            self.diags.push(
                Diagnostic::error(
                    Code::MissingField,
                    "`operating_point` needs `confidence`",
                    Some(node.span),
                )
                .with_help("e.g. `operating_point: {confidence: 0.40}` or `{confidence: optimal}`"),
            );
        }
        point
    }

    /// One entry of `confusions`.
    fn confusion(&mut self, node: &Node) -> Option<ConfusionRule> {
        let entries = self.map(node, "a confusion rule");
        let mut split = None;
        let mut actual = None;
        let mut predicted = None;
        let mut max_rise = None;
        let mut max = None;
        let mut severity = None;
        let mut ok = true;
        for (k, v) in entries {
            let strings = ["split", "actual", "predicted"];
            let text = self.text(k, v, &strings, "a confusion rule's", &mut ok);
            match (k.name.as_str(), text) {
                ("split", Some(s)) => split = Some(split_selector(s)),
                ("actual", Some(s)) => {
                    actual = self.glob(s, v.span, "class pattern");
                    ok &= actual.is_some();
                }
                ("predicted", Some(s)) if s == BACKGROUND => {
                    predicted = Some(Predicted::Background);
                }
                ("predicted", Some(s)) => {
                    predicted = self.glob(s, v.span, "class pattern").map(Predicted::Class);
                    ok &= predicted.is_some();
                }
                ("max_rise", _) => max_rise = self.fraction(v, "max_rise"),
                ("max", _) => max = self.fraction(v, "max"),
                ("severity", _) => severity = self.severity(v),
                (name, _) if CONFUSION_KEYS.contains(&name) => {}
                _ => self.unknown_key(k, CONFUSION_KEYS, "a confusion rule"),
            }
        }
        ok &= self.require(
            node,
            entries,
            "a confusion rule",
            [
                ("split", split.is_some()),
                ("actual", actual.is_some()),
                ("predicted", predicted.is_some()),
            ],
            "a confusion rule needs `split`, `actual` and `predicted` (a class, a glob or `background`), and `max_rise` or `max`",
        );
        let has_limit = entries
            .iter()
            .any(|(k, _)| k.name == "max_rise" || k.name == "max");
        if !has_limit && !entries.is_empty() {
            self.diags.push(
                Diagnostic::error(Code::EmptyRule, "this confusion rule sets no limit", Some(node.span))
                    .with_help("add `max_rise` (how far the share may grow) or `max` (the largest share allowed)"),
            );
            ok = false;
        }
        if let (Some(ClassPattern::Exact(a)), Some(Predicted::Class(ClassPattern::Exact(p)))) =
            (&actual, &predicted)
            && a == p
        {
            self.error(
                Code::InvalidValue,
                format!("a confusion rule from {a:?} to itself: that share is the class's recall"),
                node.span,
            );
            ok = false;
        }
        if !ok || (max_rise.is_none() && max.is_none()) {
            return None;
        }
        Some(ConfusionRule {
            split: split?,
            actual: actual?,
            predicted: predicted?,
            max_rise,
            max,
            severity,
            span: node.span,
        })
    }

    fn severity(&mut self, value: &Node) -> Option<Field<Severity>> {
        self.enumerated(value, "severity", &["fail", "warn"])
            .map(|s| Field {
                value: if s == "fail" {
                    Severity::Fail
                } else {
                    Severity::Warn
                },
                line: value.span.line,
                column: value.span.column,
            })
    }

    /// A string that must be one of `allowed`.
    fn enumerated<'a>(&mut self, node: &Node, what: &str, allowed: &[&'a str]) -> Option<&'a str> {
        let found = match &node.kind {
            Kind::Str(s) => s.as_str(),
            other => {
                self.diags.push(Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "`{what}` must be one of {}, found {}",
                        allowed.join(" | "),
                        other.describe()
                    ),
                    Some(node.span),
                ));
                return None;
            }
        };
        if let Some(ok) = allowed.iter().find(|a| **a == found) {
            return Some(ok);
        }
        let mut d = Diagnostic::error(
            Code::InvalidValue,
            format!(
                "`{what}` must be one of {}, found {found:?}",
                allowed.join(" | ")
            ),
            Some(node.span),
        );
        if let Some(s) = did_you_mean(found, allowed.iter().copied()) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.diags.push(d);
        None
    }

    fn missing(&mut self, node: &Node) -> Missing {
        let mut m = Missing::default();
        for (key, value) in self.map(node, "`missing`") {
            match key.name.as_str() {
                "baseline" => {
                    match self.enumerated(value, "missing.baseline", &["floors_only", "fail"]) {
                        Some("floors_only") => m.baseline = MissingBaseline::FloorsOnly,
                        Some(_) => m.baseline = MissingBaseline::Fail,
                        None => {}
                    }
                }
                "class" => {
                    match self.enumerated(value, "missing.class", &["fail", "warn", "ignore"]) {
                        Some("fail") => m.class = MissingClass::Fail,
                        Some("warn") => m.class = MissingClass::Warn,
                        Some(_) => m.class = MissingClass::Ignore,
                        None => {}
                    }
                }
                "metric" => {
                    match self.enumerated(value, "missing.metric", &["fail", "warn", "skip"]) {
                        Some("fail") => m.metric = MissingMetric::Fail,
                        Some("warn") => m.metric = MissingMetric::Warn,
                        Some(_) => m.metric = MissingMetric::Skip,
                        None => {}
                    }
                }
                _ => self.unknown_key(key, MISSING_KEYS, "`missing`"),
            }
        }
        m
    }

    /// A rule: a bare number (shorthand for `{min: N}`) or a mapping of rule fields.
    fn rule(&mut self, node: &Node, context: &str, bare_allowed: bool) -> Rule {
        let mut rule = Rule::default();
        match &node.kind {
            Kind::Number(_) if bare_allowed => {
                rule.min = self.fraction(node, "min");
                return rule;
            }
            Kind::Map(_) | Kind::Null => {}
            other => {
                let expected = if bare_allowed {
                    "a number (a `min`) or a mapping of rule fields"
                } else {
                    "a mapping of rule fields"
                };
                self.error(
                    Code::WrongType,
                    format!("{context} must be {expected}, found {}", other.describe()),
                    node.span,
                );
                return rule;
            }
        }
        let entries = self.map(node, context);
        for (key, value) in entries {
            match key.name.as_str() {
                "min" => rule.min = self.fraction(value, "min"),
                "max" => rule.max = self.fraction(value, "max"),
                "max_drop" if matches!(&value.kind, Kind::Str(s) if s == "auto") => {
                    rule.max_drop = Some(Field {
                        value: 0.0,
                        line: value.span.line,
                        column: value.span.column,
                    });
                    rule.auto = true;
                }
                "max_drop" => rule.max_drop = self.fraction(value, "max_drop"),
                "max_drop_rel" => rule.max_drop_rel = self.fraction(value, "max_drop_rel"),
                "max_shift" => rule.max_shift = self.fraction(value, "max_shift"),
                "severity" => rule.severity = self.severity(value),
                _ => self.unknown_key(key, RULE_KEYS, context),
            }
        }
        if bare_allowed && entries.is_empty() {
            self.diags.push(
                Diagnostic::error(
                    Code::EmptyRule,
                    format!("{context} sets nothing"),
                    Some(node.span),
                )
                .with_help("add `min`, `max`, `max_drop`, `max_drop_rel` or (for `optimal_threshold`) `max_shift`"),
            );
        }
        if let (Some(min), Some(max)) = (rule.min, rule.max)
            && min.value > max.value
        {
            self.diags.push(Diagnostic::error(
                Code::MinAboveMax,
                format!(
                    "{context} can never pass: min {} is above max {}",
                    min.value, max.value
                ),
                Some(node.span),
            ));
        }
        rule
    }

    fn fraction(&mut self, node: &Node, field: &str) -> Option<Field<f64>> {
        match node.kind {
            Kind::Number(v) if (0.0..=1.0).contains(&v) => Some(Field {
                value: v,
                line: node.span.line,
                column: node.span.column,
            }),
            Kind::Number(v) => {
                let mut d = Diagnostic::error(
                    Code::NotAFraction,
                    format!(
                        "`{field}: {v}` is outside [0, 1]: thresholds are fractions, in the unit of the metric"
                    ),
                    Some(node.span),
                );
                // Only what reads as a percent (70, 85.5, 2.25) gets the percent hint: a
                // value like 1.0000000001 is a fraction slightly over its range.
                let percent =
                    v > 1.0 && v <= 100.0 && ((v * 100.0).round() - v * 100.0).abs() < 1e-9;
                d = if percent {
                    let fraction = format!("{:.4}", v / 100.0);
                    let fraction = fraction.trim_end_matches('0').trim_end_matches('.');
                    d.with_help(format!("for {v}% write `{field}: {fraction}`"))
                } else {
                    d.with_help(format!(
                        "a threshold lies between 0 and 1 (`{field}: 1` at most)"
                    ))
                };
                self.diags.push(d);
                None
            }
            ref other => {
                self.error(
                    Code::WrongType,
                    format!(
                        "`{field}` must be a number in [0, 1], found {}",
                        other.describe()
                    ),
                    node.span,
                );
                None
            }
        }
    }

    fn metric(&mut self, key: &Key, kind: ScopeKind, keys_here: &[&str]) -> Option<Metric> {
        // Whether the metric fits the task is checked once the whole policy is read
        // (`Policy::check_task`), the same check that runs against the evals.
        if let Some(m) = Metric::from_name(&key.name) {
            return Some(m);
        }
        let mut candidates: Vec<&str> = match self.task {
            Some(t) => t.metrics(kind).iter().map(|m| m.name()).collect(),
            None => Metric::ALL.iter().map(|m| m.name()).collect(),
        };
        candidates.extend_from_slice(keys_here);
        let mut d = Diagnostic::error(
            Code::UnknownMetric,
            format!("unknown metric {:?}", key.name),
            Some(key.span),
        );
        d = match did_you_mean(&key.name, candidates.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => {
                let metrics = candidates[..candidates.len() - keys_here.len()].join(", ");
                if keys_here.is_empty() {
                    d.with_help(format!("expected a metric: {metrics}"))
                } else {
                    d.with_help(format!(
                        "expected a metric ({metrics}) or one of: {}",
                        keys_here.join(", ")
                    ))
                }
            }
        };
        self.diags.push(d);
        None
    }

    fn metric_rule(
        &mut self,
        key: &Key,
        value: &Node,
        kind: ScopeKind,
        keys_here: &[&str],
    ) -> Option<MetricRule> {
        let metric = self.metric(key, kind, keys_here);
        let rule = self.rule(value, &format!("the `{}` rule", key.name), true);
        if let (Some(m), Some(f)) = (metric, rule.max_shift)
            && m != Metric::OptimalThreshold
        {
            self.diags.push(
                Diagnostic::error(
                    Code::FieldNotForMetric,
                    format!("`max_shift` is for `optimal_threshold`, not `{m}`"),
                    Some(f.span()),
                )
                .with_help("a drop is `max_drop`; `max_shift` bounds how far the F1-optimal confidence moves"),
            );
        }
        metric.map(|metric| MetricRule {
            metric,
            span: key.span,
            rule,
        })
    }

    fn split(&mut self, key: &Key, node: &Node) -> SplitRules {
        let mut out = SplitRules {
            selector: split_selector(&key.name),
            span: key.span,
            metrics: Vec::new(),
            sizes: Vec::new(),
            classes: Vec::new(),
        };
        const HERE: &[&str] = &["sizes", "classes"];
        for (k, v) in self.map(node, &format!("split {:?}", key.name)) {
            match k.name.as_str() {
                "sizes" => out.sizes = self.sizes(v),
                "classes" => {
                    for (ck, cv) in self.map(v, "`classes`") {
                        if let Some(c) = self.class(ck, cv) {
                            out.classes.push(c);
                        }
                    }
                }
                _ => out
                    .metrics
                    .extend(self.metric_rule(k, v, ScopeKind::Split, HERE)),
            }
        }
        out
    }

    fn sizes(&mut self, node: &Node) -> Vec<SizeRules> {
        let mut out = Vec::new();
        for (k, v) in self.map(node, "`sizes`") {
            let Some(size) = Size::from_name(&k.name) else {
                let names: Vec<&str> = Size::ALL.iter().map(|s| s.name()).collect();
                self.unknown_key(k, &names, "`sizes`");
                continue;
            };
            let mut metrics = Vec::new();
            for (mk, mv) in self.map(v, &format!("size `{}`", k.name)) {
                metrics.extend(self.metric_rule(mk, mv, ScopeKind::Size, &[]));
            }
            out.push(SizeRules {
                size,
                span: k.span,
                metrics,
            });
        }
        out
    }

    fn class(&mut self, key: &Key, node: &Node) -> Option<ClassRules> {
        let pattern = self.glob(&key.name, key.span, "class pattern");
        let mut metrics = Vec::new();
        let mut sizes = Vec::new();
        let mut min_support = None;
        const HERE: &[&str] = &["sizes", "min_support"];
        for (k, v) in self.map(node, &format!("class {:?}", key.name)) {
            if k.name == "sizes" {
                sizes = self.sizes(v);
            } else if k.name == "min_support" {
                min_support = self.count(v, "min_support");
            } else {
                metrics.extend(self.metric_rule(k, v, ScopeKind::Class, HERE));
            }
        }
        Some(ClassRules {
            pattern: pattern?,
            span: key.span,
            metrics,
            sizes,
            min_support,
        })
    }

    /// A whole number of ground-truth instances (or pixels).
    fn count(&mut self, node: &Node, field: &str) -> Option<Field<u64>> {
        match node.kind {
            Kind::Number(v) if v >= 0.0 && v.fract() == 0.0 && v <= 1e15 => Some(Field {
                value: v as u64,
                line: node.span.line,
                column: node.span.column,
            }),
            ref other => {
                self.error(
                    Code::InvalidValue,
                    format!(
                        "`{field}` must be a whole number of ground-truth instances, found {}",
                        other.describe()
                    ),
                    node.span,
                );
                None
            }
        }
    }

    fn waiver(&mut self, node: &Node) -> Option<Waiver> {
        let entries = self.map(node, "a waiver");
        let mut split = None;
        let mut class = None;
        let mut metric = None;
        let mut reason = None;
        let mut until = None;
        let mut ok = true;
        for (k, v) in entries {
            let text = self.text(k, v, WAIVER_KEYS, "waiver", &mut ok);
            match (k.name.as_str(), text) {
                ("split", Some(s)) => split = Some(split_selector(s)),
                ("class", Some(s)) => {
                    class = self.glob(s, v.span, "waiver class");
                    ok &= class.is_some();
                }
                ("metric", Some(s)) => match Metric::from_name(s) {
                    Some(m) => metric = Some(m),
                    None => {
                        let names = Metric::ALL.iter().map(|m| m.name());
                        let mut d = Diagnostic::error(
                            Code::UnknownMetric,
                            format!("unknown metric {s:?}"),
                            Some(v.span),
                        );
                        if let Some(sug) = did_you_mean(s, names) {
                            d = d.with_help(format!("did you mean `{sug}`?"));
                        }
                        self.diags.push(d);
                        ok = false;
                    }
                },
                ("reason", Some(s)) if !s.trim().is_empty() => reason = Some(s.trim().to_owned()),
                ("reason", Some(_)) => {
                    self.error(
                        Code::MissingField,
                        "a waiver's `reason` must not be empty".into(),
                        v.span,
                    );
                    ok = false;
                }
                ("until", Some(s)) => match super::parse_date(s) {
                    Some(d) => until = Some(d),
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                Code::InvalidDate,
                                format!("`until: {s}` is not a date"),
                                Some(v.span),
                            )
                            .with_help("write it as YYYY-MM-DD, e.g. `until: 2026-12-31`"),
                        );
                        ok = false;
                    }
                },
                (_, _) if WAIVER_KEYS.contains(&k.name.as_str()) => {}
                _ => self.unknown_key(k, WAIVER_KEYS, "a waiver"),
            }
        }
        ok &= self.require(
            node,
            entries,
            "a waiver",
            [
                ("split", split.is_some()),
                ("reason", reason.is_some()),
                ("until", until.is_some()),
            ],
            "a waiver needs `split`, `reason` and `until`; `class` and `metric` narrow it",
        );
        if !ok {
            return None;
        }
        Some(Waiver {
            split: split?,
            class,
            metric,
            reason: reason?,
            until: until?,
            span: node.span,
        })
    }
}

/// `*` selects every split; anything else names one.
fn split_selector(name: &str) -> SplitSelector {
    if name == "*" {
        SplitSelector::All
    } else {
        SplitSelector::Name(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_policy;
    use super::*;
    use chrono::NaiveDate;

    fn errors(text: &str) -> Vec<String> {
        match parse_policy(text) {
            Ok(_) => vec![],
            Err(e) => e
                .diagnostics
                .iter()
                .map(|d| format!("{}: {d}", d.code))
                .collect(),
        }
    }

    #[test]
    fn reads_the_documented_example() {
        let text = "version: 1\ntask: object-detection\ndefaults:\n  severity: fail\nmissing:\n  baseline: floors_only\n  class: warn\n  metric: skip\nsplits:\n  valid:\n    map50_95: {min: 0.70, max_drop: 0.01}\n    map50: 0.85\n    sizes:\n      small:\n        map50_95: {min: 0.50, severity: warn}\n    classes:\n      \"*\":\n        map50: {max_drop: 0.05}\n      Car-rims:\n        map50_95: {min: 0.70}\n        sizes:\n          small: {map50: 0.80}\nwaivers:\n  - split: valid\n    class: music-note\n    metric: map50\n    reason: relabelling in progress\n    until: 2026-12-31\n";
        let (p, warnings) = parse_policy(text).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(p.task, Some(Task::ObjectDetection));
        assert_eq!(p.missing.class, MissingClass::Warn);
        assert_eq!(p.missing.metric, MissingMetric::Skip);
        let valid = &p.splits[0];
        assert_eq!(valid.selector, SplitSelector::Name("valid".into()));
        assert_eq!(valid.metrics[0].metric, Metric::Map50_95);
        assert_eq!(
            valid.metrics[0].rule.min,
            Some(Field {
                value: 0.70,
                line: 11,
                column: 21
            })
        );
        assert_eq!(valid.metrics[0].rule.max_drop.map(|f| f.value), Some(0.01));
        assert_eq!(
            valid.metrics[1].rule.min,
            Some(Field {
                value: 0.85,
                line: 12,
                column: 12
            })
        );
        assert_eq!(valid.sizes[0].size, Size::Small);
        assert_eq!(
            valid.sizes[0].metrics[0].rule.severity.map(|s| s.value),
            Some(Severity::Warn)
        );
        assert!(!valid.classes[0].pattern.names("anything"));
        assert!(valid.classes[0].pattern.matches("anything"));
        assert!(valid.classes[1].pattern.names("Car-rims"));
        assert_eq!(
            valid.classes[1].sizes[0].metrics[0]
                .rule
                .min
                .map(|f| f.value),
            Some(0.80)
        );
        assert_eq!(
            p.waivers[0].until,
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert_eq!(p.waivers[0].metric, Some(Metric::Map50));
    }

    #[test]
    fn reports_every_error_at_once() {
        let text = "version: 2\nsplitz: {}\nmissing:\n  class: maybe\nsplits:\n  valid:\n    map50-95: {min: 0.7}\n    map50: {min: 70, max_dorp: 0.1}\n    map75: high\n";
        assert_eq!(
            errors(text),
            vec![
                "unsupported-version: line 1, column 10: unsupported policy version: number 2 (this evalgate understands `version: 1`)",
                "unknown-key: line 2, column 1: unknown key \"splitz\" in the policy (did you mean `splits`?)",
                "invalid-value: line 4, column 10: `missing.class` must be one of fail | warn | ignore, found \"maybe\"",
                "unknown-metric: line 7, column 5: unknown metric \"map50-95\" (did you mean `map50_95`?)",
                "not-a-fraction: line 8, column 18: `min: 70` is outside [0, 1]: thresholds are fractions, in the unit of the metric (for 70% write `min: 0.7`)",
                "unknown-key: line 8, column 22: unknown key \"max_dorp\" in the `map50` rule (did you mean `max_drop`?)",
                "wrong-type: line 9, column 12: the `map75` rule must be a number (a `min`) or a mapping of rule fields, found string \"high\"",
            ]
        );
    }

    #[test]
    fn checks_metric_names_against_the_declared_task() {
        let text = "version: 1\ntask: semantic-segmentation\nsplits:\n  valid:\n    map50: 0.5\n    miou: 0.6\n    classes:\n      '*': {iou: 0.4, miou: 0.3}\n";
        let errs = errors(text);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("metric-not-in-task: line 5, column 5"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("metric-not-in-task: line 8, column 23"),
            "{errs:?}"
        );
    }

    #[test]
    fn rejects_missing_version_bad_waivers_and_impossible_rules() {
        let text = "splits:\n  valid:\n    map50: {min: 0.8, max: 0.7}\n    map75: {}\nwaivers:\n  - split: valid\n    until: 31/12/2026\n";
        let codes: Vec<String> = errors(text)
            .into_iter()
            .map(|e| e.split(':').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            codes,
            vec![
                "missing-version",
                "min-above-max",
                "empty-rule",
                "missing-field",
                "invalid-date"
            ]
        );
    }

    #[test]
    fn a_bare_top_level_value_is_an_error_not_a_panic() {
        assert_eq!(errors("42").len(), 2);
        assert_eq!(errors("").len(), 1);
    }
    #[test]
    fn waiver_and_confusion_entries_report_each_bad_field() {
        let text = "version: 1\ntask: object-detection\noperating_point: {confidence: 0.4}\nsplits:\n  valid:\n    map50: 0.5\n    classes:\n      \"car[\": {map50: 0.5}\nconfusions:\n  - {split: 1, actual: \"a[\", predicted: [x], max: 0.1}\n  - {actual: cat, predicted: \"b[\"}\n  - {split: \"*\", actual: cat, predicted: cat, max_rise: 0.1}\n  - {}\nwaivers:\n  - {split: 2, class: \"c[\", metric: mapp50, reason: \" \", until: 2026-02-30}\n  - {class: cat, until: [1]}\n  - {}\n";
        const H1: &str = "(a confusion rule needs `split`, `actual` and `predicted` (a class, a glob or `background`), and `max_rise` or `max`)";
        const H2: &str =
            "(a waiver needs `split`, `reason` and `until`; `class` and `metric` narrow it)";
        let expected: Vec<String> = [
            "invalid-glob: line 8, column 7: class pattern \"car[\" is not a valid glob: unclosed character class; missing ']'",
            "wrong-type: line 10, column 13: a confusion rule's `split` must be a string, found number 1",
            "invalid-glob: line 10, column 24: class pattern \"a[\" is not a valid glob: unclosed character class; missing ']'",
            "wrong-type: line 10, column 41: a confusion rule's `predicted` must be a string, found a list",
            "missing-field: line 11, column 5: a confusion rule needs `split` {H1}",
            "empty-rule: line 11, column 5: this confusion rule sets no limit (add `max_rise` (how far the share may grow) or `max` (the largest share allowed))",
            "invalid-glob: line 11, column 30: class pattern \"b[\" is not a valid glob: unclosed character class; missing ']'",
            "invalid-value: line 12, column 5: a confusion rule from \"cat\" to itself: that share is the class's recall",
            "missing-field: line 13, column 5: a confusion rule needs `split` {H1}",
            "missing-field: line 13, column 5: a confusion rule needs `actual` {H1}",
            "missing-field: line 13, column 5: a confusion rule needs `predicted` {H1}",
            "wrong-type: line 15, column 13: waiver `split` must be a string, found number 2",
            "invalid-glob: line 15, column 23: waiver class \"c[\" is not a valid glob: unclosed character class; missing ']'",
            "unknown-metric: line 15, column 37: unknown metric \"mapp50\" (did you mean `map50`?)",
            "missing-field: line 15, column 53: a waiver's `reason` must not be empty",
            "invalid-date: line 15, column 65: `until: 2026-02-30` is not a date (write it as YYYY-MM-DD, e.g. `until: 2026-12-31`)",
            "missing-field: line 16, column 5: a waiver needs `split` {H2}",
            "missing-field: line 16, column 5: a waiver needs `reason` {H2}",
            "wrong-type: line 16, column 25: waiver `until` must be a string, found a list",
            "missing-field: line 17, column 5: a waiver needs `split` {H2}",
            "missing-field: line 17, column 5: a waiver needs `reason` {H2}",
            "missing-field: line 17, column 5: a waiver needs `until` {H2}",
        ]
        .iter()
        .map(|l| l.replace("{H1}", H1).replace("{H2}", H2))
        .collect();
        assert_eq!(errors(text), expected);
    }
}
