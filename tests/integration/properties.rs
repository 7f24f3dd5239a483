//! Promises that must hold for every input, not only the ones a test author thought of:
//! property tests (proptest) of the gate's invariants and of the reports' validity with any
//! class name, and the secret canaries run through every failure mode of every command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::NaiveDate;
use evalgate::gate::{RuleKind, Status, Verdict};
use evalgate::report::{
    EvalInfo, Format, MAX_MARKDOWN_CHARS, ReportContext, message, render_markdown,
};
use evalgate::{Eval, Gate, GateError, GateOptions, GateReport, Policy, parse_eval, parse_policy};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm};
use serde_json::{Map, Value, json};

use crate::server::{Reply, Seen, Server};
use crate::{Run, candidate_check, evalgate, example, write};

/// Modest case counts keep the whole file well under ten seconds in a debug build, and so does
/// XorShift: the default ChaCha generator, unoptimised, costs more than the gate it feeds.
/// Failures are not persisted (no regression files appear in the tree); a failure prints its
/// minimal input.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators: evals as JSON, policies as YAML text, both through the public parsers.

const SPLITS: &[&str] = &["train", "valid", "test"];
const CLASSES: &[&str] = &["car", "bus", "Car-rims", "a/b", "truck"];
const SIZES: &[&str] = &["small", "medium", "large"];
const DET_METRICS: &[&str] = &["map50", "map50_95", "map75"];
const SEG_SPLIT_METRICS: &[&str] = &["miou", "precision", "recall", "f1"];
const SEG_CLASS_METRICS: &[&str] = &["iou", "precision", "recall", "f1", "optimal_threshold"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Task {
    Detection,
    Segmentation,
}

impl Task {
    fn split_metrics(self) -> &'static [&'static str] {
        match self {
            Task::Detection => DET_METRICS,
            Task::Segmentation => SEG_SPLIT_METRICS,
        }
    }

    fn class_metrics(self) -> &'static [&'static str] {
        match self {
            Task::Detection => DET_METRICS,
            Task::Segmentation => SEG_CLASS_METRICS,
        }
    }
}

/// A metric value: often on a coarse grid (so that values meet thresholds exactly), sometimes
/// anywhere in [0, 1], sometimes `null` or absent.
#[derive(Clone, Copy, Debug)]
enum Val {
    Absent,
    Null,
    Num(f64),
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        1 => Just(Val::Absent),
        1 => Just(Val::Null),
        4 => (0u32..=20).prop_map(|i| Val::Num(f64::from(i) / 20.0)),
        3 => (0.0f64..=1.0).prop_map(Val::Num),
    ]
}

/// The JSON key of a policy metric name in a map-results body.
fn wire(metric: &str) -> &str {
    if metric == "optimal_threshold" {
        "optimalThreshold"
    } else {
        metric
    }
}

fn metrics_json(names: &[&str], vals: &[Val]) -> Map<String, Value> {
    let mut m = Map::new();
    for (name, v) in names.iter().zip(vals.iter().cycle()) {
        match v {
            Val::Absent => {}
            Val::Null => {
                m.insert(wire(name).to_owned(), Value::Null);
            }
            Val::Num(x) => {
                m.insert(wire(name).to_owned(), json!(x));
            }
        }
    }
    m
}

/// A scope's values: its metrics and, for detection, its size buckets (absent, null or values).
#[derive(Clone, Debug)]
struct ScopeVals {
    metrics: Vec<Val>,
    sizes: Vec<Option<Vec<Val>>>,
}

fn scope_vals() -> impl Strategy<Value = ScopeVals> {
    (
        prop::collection::vec(val(), 5),
        prop::collection::vec(
            prop::option::weighted(0.8, prop::collection::vec(val(), 3)),
            3,
        ),
    )
        .prop_map(|(metrics, sizes)| ScopeVals { metrics, sizes })
}

fn scope_json(task: Task, class: bool, v: &ScopeVals) -> Map<String, Value> {
    let names = if class {
        task.class_metrics()
    } else {
        task.split_metrics()
    };
    let mut m = metrics_json(names, &v.metrics);
    if task == Task::Detection {
        let mut sizes = Map::new();
        for (size, vals) in SIZES.iter().zip(&v.sizes) {
            sizes.insert(
                (*size).to_owned(),
                vals.as_ref().map_or(Value::Null, |vals| {
                    Value::Object(metrics_json(DET_METRICS, vals))
                }),
            );
        }
        m.insert("byObjectSize".into(), Value::Object(sizes));
    }
    m
}

/// An eval: some of [`SPLITS`], each with some of [`CLASSES`].
#[derive(Clone, Debug)]
struct EvalSpec {
    splits: Vec<(&'static str, ScopeVals, ClassVals)>,
}

/// Classes by name, with their values.
type ClassVals = Vec<(&'static str, ScopeVals)>;

fn eval_spec() -> impl Strategy<Value = EvalSpec> {
    let split = (
        scope_vals(),
        prop::sample::subsequence(CLASSES.to_vec(), 0..=CLASSES.len()),
        prop::collection::vec(scope_vals(), CLASSES.len()),
    )
        .prop_map(|(overall, names, vals)| (overall, names.into_iter().zip(vals).collect()));
    (
        prop::sample::subsequence(SPLITS.to_vec(), 1..=SPLITS.len()),
        prop::collection::vec(split, SPLITS.len()),
    )
        .prop_map(|(names, splits)| EvalSpec {
            splits: names
                .into_iter()
                .zip(splits)
                .map(|(n, (overall, classes))| (n, overall, classes))
                .collect(),
        })
}

fn eval_json(task: Task, spec: &EvalSpec) -> String {
    let mut splits = Map::new();
    for (name, overall, classes) in &spec.splits {
        let mut s = scope_json(task, false, overall);
        let per_class: Map<String, Value> = classes
            .iter()
            .map(|(c, v)| ((*c).to_owned(), Value::Object(scope_json(task, true, v))))
            .collect();
        s.insert("perClass".into(), Value::Object(per_class));
        splits.insert((*name).to_owned(), Value::Object(s));
    }
    let task_type = match task {
        Task::Detection => "object-detection-like",
        Task::Segmentation => "semantic-segmentation",
    };
    json!({"taskType": task_type, "splits": splits}).to_string()
}

fn eval_of(task: Task, spec: &EvalSpec) -> Eval {
    parse_eval(eval_json(task, spec).as_bytes()).expect("generated evals parse")
}

/// One metric rule's fields. Thresholds are fractions; `min` ≤ `max` when both are set.
#[derive(Clone, Debug, Default)]
struct Rule {
    min: Option<f64>,
    max: Option<f64>,
    max_drop: Option<f64>,
    max_drop_rel: Option<f64>,
    warn: Option<bool>,
}

fn threshold() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (0u32..=20).prop_map(|i| f64::from(i) / 20.0),
        2 => 0.0f64..=1.0,
        1 => (0u32..=10).prop_map(|i| f64::from(i) / 100.0),
    ]
}

fn rule(drops_only: bool) -> impl Strategy<Value = Rule> {
    let t = || prop::option::weighted(0.4, threshold());
    (
        t(),
        t(),
        t(),
        t(),
        prop::option::weighted(0.3, any::<bool>()),
    )
        .prop_map(move |(a, b, max_drop, max_drop_rel, warn)| {
            let (min, max) = if drops_only {
                (None, None)
            } else {
                match (a, b) {
                    (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                    other => other,
                }
            };
            let mut r = Rule {
                min,
                max,
                max_drop,
                max_drop_rel,
                warn,
            };
            // A rule must set something (`empty-rule`).
            if r.min.is_none()
                && r.max.is_none()
                && r.max_drop.is_none()
                && r.max_drop_rel.is_none()
            {
                r.max_drop = Some(0.0);
            }
            r
        })
}

/// Metric rules of one scope: some metrics of the level, each once.
type Rules = Vec<(&'static str, Rule)>;

fn rules(metrics: &'static [&'static str], drops_only: bool) -> impl Strategy<Value = Rules> {
    (
        prop::sample::subsequence(metrics.to_vec(), 0..=metrics.len()),
        prop::collection::vec(rule(drops_only), metrics.len()),
    )
        .prop_map(|(names, rules)| names.into_iter().zip(rules).collect())
}

#[derive(Clone, Debug)]
struct ScopeRules {
    metrics: Rules,
    sizes: Vec<(&'static str, Rules)>,
}

fn scope_rules(
    task: Task,
    metrics: &'static [&'static str],
    drops_only: bool,
) -> impl Strategy<Value = ScopeRules> {
    let sizes = if task == Task::Detection {
        SIZES.len()
    } else {
        0
    };
    (
        rules(metrics, drops_only),
        prop::sample::subsequence(SIZES.to_vec(), 0..=sizes),
        prop::collection::vec(rules(DET_METRICS, drops_only), SIZES.len()),
    )
        .prop_map(|(metrics, names, size_rules)| ScopeRules {
            metrics,
            sizes: names.into_iter().zip(size_rules).collect(),
        })
}

#[derive(Clone, Debug)]
struct SplitRules {
    selector: &'static str,
    overall: ScopeRules,
    classes: Vec<(&'static str, ScopeRules)>,
}

/// Class keys: every class, a few globs, and exact names (which override the globs).
const CLASS_KEYS: &[&str] = &["*", "c*", "{car,bus}", "car", "a/b", "truck"];

fn split_rules(task: Task, drops_only: bool) -> impl Strategy<Value = SplitRules> {
    (
        prop::sample::select(vec!["*", "train", "valid", "test"]),
        scope_rules(task, task.split_metrics(), drops_only),
        prop::sample::subsequence(CLASS_KEYS.to_vec(), 0..=3),
        prop::collection::vec(
            scope_rules(task, task.class_metrics(), drops_only),
            CLASS_KEYS.len(),
        ),
    )
        .prop_map(|(selector, overall, keys, class_rules)| SplitRules {
            selector,
            overall,
            classes: keys.into_iter().zip(class_rules).collect(),
        })
}

#[derive(Clone, Debug)]
struct Waiver {
    split: &'static str,
    class: Option<&'static str>,
    metric: Option<&'static str>,
    until: &'static str,
}

fn waiver(task: Task) -> impl Strategy<Value = Waiver> {
    (
        prop::sample::select(vec!["*", "valid", "test"]),
        prop::option::of(prop::sample::select(CLASS_KEYS.to_vec())),
        prop::option::of(prop::sample::select(task.split_metrics().to_vec())),
        prop::sample::select(vec!["2020-01-01", "2026-06-30", "2030-12-31"]),
    )
        .prop_map(|(split, class, metric, until)| Waiver {
            split,
            class,
            metric,
            until,
        })
}

#[derive(Clone, Debug)]
struct PolicySpec {
    task: Task,
    /// Whether the policy says `task:` (without it, the names are checked against the evals).
    declares_task: bool,
    defaults: Option<Rule>,
    missing: (&'static str, &'static str, &'static str),
    splits: Vec<SplitRules>,
    waivers: Vec<Waiver>,
}

fn policy_spec(task: Task, drops_only: bool, waivers: bool) -> impl Strategy<Value = PolicySpec> {
    (
        any::<bool>(),
        prop::option::weighted(0.3, rule(drops_only)),
        (
            prop::sample::select(vec!["floors_only", "fail"]),
            prop::sample::select(vec!["fail", "warn", "ignore"]),
            prop::sample::select(vec!["fail", "warn", "skip"]),
        ),
        prop::collection::vec(split_rules(task, drops_only), 1..4),
        prop::collection::vec(waiver(task), 0..if waivers { 3 } else { 1 }),
    )
        .prop_map(move |(declares_task, defaults, missing, splits, ws)| {
            // One entry per split selector (a duplicate key is a YAML error).
            let mut seen = BTreeSet::new();
            let splits = splits
                .into_iter()
                .filter(|s| seen.insert(s.selector))
                .collect();
            PolicySpec {
                task,
                declares_task,
                defaults,
                missing,
                splits,
                waivers: if waivers { ws } else { Vec::new() },
            }
        })
}

fn rule_yaml(r: &Rule) -> String {
    let mut fields = Vec::new();
    for (k, v) in [
        ("min", r.min),
        ("max", r.max),
        ("max_drop", r.max_drop),
        ("max_drop_rel", r.max_drop_rel),
    ] {
        if let Some(v) = v {
            // `{}` prints the shortest decimal that reads back as the same double.
            fields.push(format!("{k}: {v}"));
        }
    }
    if let Some(w) = r.warn {
        fields.push(format!("severity: {}", if w { "warn" } else { "fail" }));
    }
    format!("{{{}}}", fields.join(", "))
}

fn rules_yaml(out: &mut String, indent: usize, rules: &Rules) {
    for (metric, r) in rules {
        out.push_str(&format!("{:indent$}{metric}: {}\n", "", rule_yaml(r)));
    }
}

fn scope_yaml(out: &mut String, indent: usize, s: &ScopeRules) {
    rules_yaml(out, indent, &s.metrics);
    if !s.sizes.is_empty() {
        out.push_str(&format!("{:indent$}sizes:\n", ""));
        for (size, rules) in &s.sizes {
            if rules.is_empty() {
                out.push_str(&format!("{:w$}{size}: {{}}\n", "", w = indent + 2));
            } else {
                out.push_str(&format!("{:w$}{size}:\n", "", w = indent + 2));
                rules_yaml(out, indent + 4, rules);
            }
        }
    }
}

fn policy_yaml(p: &PolicySpec) -> String {
    let mut y = String::from("version: 1\n");
    if p.declares_task {
        y.push_str(match p.task {
            Task::Detection => "task: object-detection\n",
            Task::Segmentation => "task: semantic-segmentation\n",
        });
    }
    if let Some(d) = &p.defaults {
        y.push_str(&format!("defaults: {}\n", rule_yaml(d)));
    }
    let (b, c, m) = p.missing;
    y.push_str(&format!(
        "missing: {{baseline: {b}, class: {c}, metric: {m}}}\nsplits:\n"
    ));
    for s in &p.splits {
        y.push_str(&format!("  '{}':\n", s.selector));
        let before = y.len();
        scope_yaml(&mut y, 4, &s.overall);
        if !s.classes.is_empty() {
            y.push_str("    classes:\n");
            for (key, rules) in &s.classes {
                y.push_str(&format!("      '{key}':\n"));
                let before = y.len();
                scope_yaml(&mut y, 8, rules);
                if y.len() == before {
                    y.truncate(y.len() - 1);
                    y.push_str(" {}\n");
                }
            }
        }
        if y.len() == before {
            y.truncate(y.len() - 1);
            y.push_str(" {}\n");
        }
    }
    if !p.waivers.is_empty() {
        y.push_str("waivers:\n");
        for w in &p.waivers {
            y.push_str(&format!("  - split: '{}'\n", w.split));
            if let Some(c) = w.class {
                y.push_str(&format!("    class: '{c}'\n"));
            }
            if let Some(m) = w.metric {
                y.push_str(&format!("    metric: {m}\n"));
            }
            y.push_str(&format!(
                "    reason: accepted for now\n    until: {}\n",
                w.until
            ));
        }
    }
    y
}

/// Parses a generated policy; every generated policy is valid.
fn policy_of(p: &PolicySpec) -> Policy {
    let text = policy_yaml(p);
    match parse_policy(&text) {
        Ok((policy, _)) => policy,
        Err(e) => panic!("generated policy refused: {e:?}\n{text}"),
    }
}

/// Makes every threshold of `p` looser: a lower `min`, a higher `max`, `max_drop` and
/// `max_drop_rel`, each by its own share (from `by`, in [0, 1]) of the room it has.
fn loosen(p: &PolicySpec, by: &[f64]) -> PolicySpec {
    let mut by = by.iter().copied().cycle();
    let mut out = p.clone();
    if let Some(d) = &mut out.defaults {
        loosen_rule(d, &mut by);
    }
    for s in &mut out.splits {
        loosen_scope(&mut s.overall, &mut by);
        for (_, c) in &mut s.classes {
            loosen_scope(c, &mut by);
        }
    }
    out
}

fn loosen_scope(s: &mut ScopeRules, by: &mut impl Iterator<Item = f64>) {
    let sizes = s.sizes.iter_mut().flat_map(|(_, rules)| rules.iter_mut());
    for (_, r) in s.metrics.iter_mut().chain(sizes) {
        loosen_rule(r, by);
    }
}

fn loosen_rule(r: &mut Rule, by: &mut impl Iterator<Item = f64>) {
    let mut share = || by.next().unwrap_or(0.5);
    let mut up = |t: f64| (t + (1.0 - t) * share()).min(1.0);
    r.max = r.max.map(&mut up);
    r.max_drop = r.max_drop.map(&mut up);
    r.max_drop_rel = r.max_drop_rel.map(&mut up);
    r.min = r.min.map(|t| (t - t * by.next().unwrap_or(0.5)).max(0.0));
}

fn options(strict: bool) -> GateOptions {
    GateOptions {
        strict,
        ..GateOptions::new(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap())
    }
}

/// The gate's report through the library's one way in, including a gate that judged nothing
/// (refused, with its report attached); `None` when the policy names what the evals lack.
fn evaluate(
    policy: &Policy,
    baseline: Option<&Eval>,
    candidate: &Eval,
    options: &GateOptions,
) -> Option<GateReport> {
    let gate = match Gate::new(policy, baseline, candidate) {
        Ok(gate) => gate,
        Err(GateError::UnknownNames { .. }) => return None,
        Err(e) => panic!("{e}"),
    };
    match gate.evaluate(options) {
        Ok(report) => Some(report),
        Err(GateError::NothingEvaluated { report }) => Some(*report),
        Err(e) => panic!("{e}"),
    }
}

fn is_drop(kind: RuleKind) -> bool {
    matches!(kind, RuleKind::MaxDrop | RuleKind::MaxDropRel)
}

fn task() -> impl Strategy<Value = Task> {
    prop_oneof![3 => Just(Task::Detection), 1 => Just(Task::Segmentation)]
}

/// A task with an eval and a policy for it.
fn eval_and_policy(
    drops_only: bool,
    waivers: bool,
) -> impl Strategy<Value = (Task, EvalSpec, EvalSpec, PolicySpec)> {
    task().prop_flat_map(move |t| {
        (
            Just(t),
            eval_spec(),
            eval_spec(),
            policy_spec(t, drops_only, waivers),
        )
    })
}

/// The gate's bookkeeping: counts add up, nothing unevaluated passes, the verdict follows the
/// statuses.
fn assert_invariants(report: &GateReport, strict: bool) {
    for status in Status::ALL {
        let n = report.checks.iter().filter(|c| c.status == status).count();
        assert_eq!(report.summary.get(status), n, "summary count of {status}");
    }
    assert_eq!(report.summary.total(), report.checks.len());
    for c in &report.checks {
        if c.status == Status::Pass {
            assert!(c.metric.is_some(), "{}: a presence check passed", c.id());
            assert!(c.candidate().is_some(), "{}: passed with no value", c.id());
            if is_drop(c.rule) {
                assert!(
                    c.baseline().is_some(),
                    "{}: a drop passed unmeasured",
                    c.id()
                );
            }
        }
        if c.status == Status::Skip {
            assert!(
                !message(report, c).is_empty(),
                "{}: a skip says why",
                c.id()
            );
        }
    }
    let fails = report
        .checks
        .iter()
        .any(|c| c.status == Status::Fail || (strict && c.status == Status::Warn));
    assert_eq!(
        report.verdict == Verdict::Fail,
        fails,
        "the verdict is fail iff a check failed (or warned, under --strict)"
    );
}

// ---------------------------------------------------------------------------------------------
// Gate properties.

proptest! {
    #![proptest_config(config(192))]

    /// A model compared with itself has dropped nothing, whatever the thresholds, severities
    /// and `missing` settings: drop rules pass, or skip where there is nothing to measure.
    #[test]
    fn identical_evals_never_fail_a_drop_rule(
        (t, e, _, p) in eval_and_policy(false, false),
        strict in any::<bool>(),
    ) {
        let eval = eval_of(t, &e);
        let Some(report) = evaluate(&policy_of(&p), Some(&eval), &eval, &options(strict)) else {
            return Ok(());
        };
        for c in report.checks.iter().filter(|c| is_drop(c.rule)) {
            prop_assert!(
                matches!(c.status, Status::Pass | Status::Skip),
                "{}: {} ({})", c.id(), c.status, message(&report, c)
            );
            if c.status == Status::Pass {
                prop_assert_eq!(c.delta(), Some(0.0));
            }
        }
    }

    /// Lowering a `min`, or raising a `max`, `max_drop` or `max_drop_rel`, never turns a
    /// passing check into anything else, nor a passing gate into a failing one.
    #[test]
    fn loosening_a_threshold_never_turns_a_pass_into_a_fail(
        (t, b, c, p) in eval_and_policy(false, false),
        by in prop::collection::vec(0.0f64..=1.0, 16),
        with_baseline in prop::bool::weighted(0.8),
        strict in any::<bool>(),
    ) {
        let (baseline, candidate) = (eval_of(t, &b), eval_of(t, &c));
        let baseline = with_baseline.then_some(&baseline);
        let loose = loosen(&p, &by);
        let (Some(tight), Some(looser)) = (
            evaluate(&policy_of(&p), baseline, &candidate, &options(strict)),
            evaluate(&policy_of(&loose), baseline, &candidate, &options(strict)),
        ) else {
            return Ok(());
        };
        prop_assert_eq!(tight.checks.len(), looser.checks.len());
        for (a, b) in tight.checks.iter().zip(&looser.checks) {
            prop_assert_eq!(a.id(), b.id());
            if a.status == Status::Pass {
                prop_assert_eq!(b.status, Status::Pass, "{} passed at {:?} but not at {:?}: {}",
                    a.id(), a.threshold(), b.threshold(), message(&looser, b));
            }
        }
        if tight.verdict == Verdict::Pass {
            prop_assert_eq!(looser.verdict, Verdict::Pass);
        }
    }

    /// Counts, verdict and reports agree: a skipped check is never a pass (in the summary, the
    /// JSON and the JUnit report), and the gate fails iff some check failed (or warned, under
    /// `--strict`), with waivers, missing data and vanished splits and classes in the mix.
    #[test]
    fn skips_never_count_as_passes_and_the_verdict_follows_the_checks(
        (t, b, c, p) in eval_and_policy(false, true),
        with_baseline in prop::bool::weighted(0.8),
        strict in any::<bool>(),
    ) {
        let (baseline, candidate) = (eval_of(t, &b), eval_of(t, &c));
        let baseline = with_baseline.then_some(&baseline);
        let Some(report) = evaluate(&policy_of(&p), baseline, &candidate, &options(strict)) else {
            return Ok(());
        };
        assert_invariants(&report, strict);

        let ctx = context("policy.yaml", baseline, &candidate);
        let json = render_json(&report, &ctx);
        let statuses: Vec<&str> = json["checks"].as_array().unwrap().iter()
            .map(|c| c["status"].as_str().unwrap()).collect();
        // The JSON lists checks in the one ranking every report shares.
        let ids: Vec<&str> = json["checks"].as_array().unwrap().iter()
            .map(|c| c["id"].as_str().unwrap()).collect();
        for ((check, status), id) in report.ranked().iter().zip(&statuses).zip(&ids) {
            prop_assert_eq!(check.status.name(), *status);
            prop_assert_eq!(check.id(), *id);
        }
        let count = |s: &str| statuses.iter().filter(|x| **x == s).count() as u64;
        prop_assert_eq!(json["summary"]["pass"].as_u64(), Some(count("pass")));
        prop_assert_eq!(json["summary"]["skip"].as_u64(), Some(count("skip")));
        prop_assert_eq!(json["verdict"].as_str(), Some(report.verdict.name()));

        let junit = junit_cases(&render_junit(&report, &ctx));
        prop_assert_eq!(junit.len(), report.checks.len());
        for (check, case) in report.checks.iter().zip(&junit) {
            let failed = check.status == Status::Fail || (strict && check.status == Status::Warn);
            prop_assert_eq!(case.skipped, check.status == Status::Skip, "{}", check.id());
            prop_assert_eq!(case.failure, failed, "{}", check.id());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reports with any class name.

fn context(policy: &str, baseline: Option<&Eval>, candidate: &Eval) -> ReportContext {
    ReportContext {
        exit_code: 1,
        policy: policy.to_owned(),
        baseline: baseline.map(|b| EvalInfo::new("baseline.json".into(), b)),
        candidate: EvalInfo::new("candidate.json".into(), candidate),
        policy_url: None,
        run_url: None,
    }
}

fn render_json(report: &GateReport, ctx: &ReportContext) -> Value {
    let mut out = Vec::new();
    Format::Json.render(report, ctx, &mut out).unwrap();
    serde_json::from_slice(&out).expect("the JSON report parses")
}

fn render_junit(report: &GateReport, ctx: &ReportContext) -> String {
    let mut out = Vec::new();
    Format::Junit.render(report, ctx, &mut out).unwrap();
    String::from_utf8(out).expect("JUnit is UTF-8")
}

/// A character XML 1.0 allows.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[derive(Debug, Default)]
struct Case {
    classname: String,
    name: String,
    skipped: bool,
    failure: bool,
}

/// Every `<testcase>` of a JUnit report, parsed with quick-xml; panics on malformed XML.
fn junit_cases(xml: &str) -> Vec<Case> {
    if let Some(bad) = xml.chars().find(|c| !xml_char(*c)) {
        panic!("JUnit holds {bad:?}, which XML 1.0 forbids");
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases: Vec<Case> = Vec::new();
    let mut depth_in_case = false;
    loop {
        use quick_xml::events::Event as X;
        let event = reader
            .read_event()
            .expect("the JUnit report is well-formed XML");
        let (e, empty) = match &event {
            X::Start(e) => (Some(e), false),
            X::Empty(e) => (Some(e), true),
            X::End(e) if e.name().as_ref() == b"testcase" => {
                depth_in_case = false;
                (None, false)
            }
            X::Text(t) => {
                t.decode().expect("text decodes");
                (None, false)
            }
            X::Eof => break,
            _ => (None, false),
        };
        let Some(e) = e else { continue };
        let attrs: BTreeMap<Vec<u8>, String> = e
            .attributes()
            .map(|a| {
                let a = a.expect("a well-formed attribute");
                let v = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("an attribute value that unescapes")
                    .into_owned();
                (a.key.as_ref().to_vec(), v)
            })
            .collect();
        match e.name().as_ref() {
            b"testcase" => {
                cases.push(Case {
                    classname: attrs[&b"classname"[..]].clone(),
                    name: attrs[&b"name"[..]].clone(),
                    ..Case::default()
                });
                depth_in_case = !empty;
            }
            b"skipped" if depth_in_case => cases.last_mut().unwrap().skipped = true,
            b"failure" if depth_in_case => cases.last_mut().unwrap().failure = true,
            _ => {}
        }
    }
    cases
}

/// A class name a labeller or a server could produce: any Unicode (control characters,
/// bidirectional overrides, noncharacters), Markdown and XML syntax, or very long.
fn class_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        2 => "[\\x00-\\x1f\\x7f|`*_<>&#@!\\[\\]\\\\$~\"' \\u{202e}\\u{fffe}\\u{ffff}a-c]{0,16}",
        1 => (any::<char>(), 81usize..1500).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => prop::collection::vec(any::<char>(), 81..400).prop_map(String::from_iter),
    ]
}

/// A detection eval with one split and the given classes' (map50, map50_95) values.
fn named_eval(classes: &BTreeMap<String, (f64, Option<f64>)>) -> Vec<u8> {
    let per_class: Map<String, Value> = classes
        .iter()
        .map(|(name, (a, b))| (name.clone(), json!({"map50": a, "map50_95": b})))
        .collect();
    json!({
        "taskType": "object-detection-like",
        "splits": {"valid": {"map50": 0.8, "perClass": per_class}}
    })
    .to_string()
    .into_bytes()
}

/// A policy that judges every class; its waivers' reasons are untrusted text too.
fn names_policy(reason: &str) -> String {
    format!(
        "version: 1\nsplits:\n  valid:\n    map50: 0.5\n    classes:\n      '*':\n        map50: {{min: 0.5, max_drop: 0.05}}\n        map50_95: {{max_drop_rel: 0.1, severity: warn}}\nwaivers:\n  - split: valid\n    class: 'zz*'\n    reason: {reason}\n    until: 2030-01-01\n  - split: '*'\n    metric: map50_95\n    reason: {reason}\n    until: 2020-01-01\n",
        reason = yaml_quote(reason)
    )
}

/// `text` as a YAML double-quoted scalar, every character outside printable text escaped.
fn yaml_quote(text: &str) -> String {
    let mut out = String::from("\"x");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control()
                || !matches!(c, '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
                || c == '\u{FEFF}' =>
            {
                out.push_str(&format!("\\U{:08X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #![proptest_config(config(96))]

    /// Whatever the class names, every report renders and stays valid: the JUnit parses and
    /// has one uniquely named testcase per check, the Markdown's tables keep their column
    /// counts (names cut to 80 characters, no HTML, no formatting) and the whole stays under
    /// its size cap, and the JSON has every name exactly.
    #[test]
    fn every_report_stays_valid_with_any_class_name(
        names in prop::collection::btree_set(class_name(), 1..10),
        values in prop::collection::vec(
            ((0u32..=20).prop_map(|i| f64::from(i) / 20.0), prop::option::of(0.0f64..=1.0)),
            20,
        ),
        drop in prop::collection::vec((0u32..=4).prop_map(|i| f64::from(i) / 20.0), 20),
        reason in class_name(),
        source in class_name(),
        strict in any::<bool>(),
    ) {
        let base: BTreeMap<String, (f64, Option<f64>)> =
            names.iter().cloned().zip(values.iter().copied()).collect();
        let cand: BTreeMap<String, (f64, Option<f64>)> = base
            .iter()
            .zip(drop.iter().cycle())
            .map(|((n, (a, b)), d)| (n.clone(), ((a - d).max(0.0), b.map(|b| (b - d).max(0.0)))))
            .collect();
        let baseline = parse_eval(&named_eval(&base)).expect("the baseline parses");
        let candidate = parse_eval(&named_eval(&cand)).expect("the candidate parses");
        let policy_text = names_policy(&reason);
        let policy = match parse_policy(&policy_text) {
            Ok((p, _)) => p,
            Err(e) => panic!("{e:?}\n{policy_text}"),
        };
        let report = evaluate(&policy, Some(&baseline), &candidate, &options(strict))
            .expect("the policy names only what the evals have");
        assert_invariants(&report, strict);
        let mut ctx = context(&source, Some(&baseline), &candidate);
        ctx.candidate.source = source.clone();

        // JSON: every name, exactly, in checks and nowhere shortened.
        let json = render_json(&report, &ctx);
        let classes: BTreeSet<&str> = json["checks"].as_array().unwrap().iter()
            .filter_map(|c| c["class"].as_str()).collect();
        let expected: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        prop_assert_eq!(classes, expected);
        prop_assert_eq!(json["candidate"]["source"].as_str(), Some(source.as_str()));
        let ids: BTreeSet<&str> = json["checks"].as_array().unwrap().iter()
            .map(|c| c["id"].as_str().unwrap()).collect();
        prop_assert_eq!(ids.len(), report.checks.len(), "ids are unique");

        // JUnit: well-formed, one testcase per check, each (classname, name) unique.
        let cases = junit_cases(&render_junit(&report, &ctx));
        prop_assert_eq!(cases.len(), report.checks.len());
        let pairs: BTreeSet<(&str, &str)> =
            cases.iter().map(|c| (c.classname.as_str(), c.name.as_str())).collect();
        prop_assert_eq!(pairs.len(), cases.len(), "duplicate (classname, name)");

        // Markdown: tables keep their shape, names are cut, the report keeps its size cap.
        let md = render_markdown(&report, &ctx);
        prop_assert!(md.chars().count() <= MAX_MARKDOWN_CHARS);
        let tables = crate::reports::tables(&md);
        prop_assert!(!tables.is_empty());
        for table in &tables {
            let width = table[0].len();
            prop_assert!(table.iter().all(|row| row.len() == width), "a row broke the table: {:?}", table);
            if let Some(col) = table[0].iter().position(|h| h == "Class") {
                for row in &table[1..] {
                    // A zero-width space follows each `@` and `#` (no mentions, no links).
                    let shown = row[col].chars().filter(|c| *c != '\u{200B}').count();
                    prop_assert!(shown <= 80, "a {}-character name cell", shown);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets: canaries through every failure mode of every command.

const KEY: &str = "rf_canary_9d41c7e2b0";
const GH_TOKEN: &str = "ghs_canary_5b7f03aa61";
const GL_TOKEN: &str = "glpat-canary-83e1f26d";
const CANARIES: &[&str] = &[KEY, GH_TOKEN, GL_TOKEN];

/// `evalgate` with every canary in its environment, debug switches at their loudest, no proxy,
/// and every API pointed at `url` (a loopback stand-in or a closed port).
fn canary_cmd(url: &str) -> Command {
    let mut c = evalgate();
    c.env("ROBOFLOW_API_KEY", KEY)
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("GITLAB_TOKEN", GL_TOKEN)
        .env("ROBOFLOW_API_URL", url)
        .env("GITHUB_API_URL", url)
        .env("CI_API_V4_URL", format!("{url}/api/v4"))
        .env("GITHUB_REPOSITORY", "octo/cars")
        .env("CI_PROJECT_ID", "42")
        .env("CI_MERGE_REQUEST_IID", "3")
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "full")
        .env_remove("ROBOFLOW_WORKSPACE");
    crate::http::without_proxy(&mut c);
    c
}

/// Runs `cmd` and asserts no canary is in its output or in any file under `dir` (reports,
/// saved evals, the GitHub step summary and outputs).
fn run_clean(what: &str, cmd: &mut Command, dir: &Path) -> Run {
    let out = cmd.output().expect("evalgate runs");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        (0..=7).contains(&r.code),
        "{what}: exit {}, not an evalgate exit code\n{}",
        r.code,
        r.stderr
    );
    for canary in CANARIES {
        assert!(
            !r.stdout.contains(canary),
            "{what}: {canary} in stdout:\n{}",
            r.stdout
        );
        assert!(
            !r.stderr.contains(canary),
            "{what}: {canary} in stderr:\n{}",
            r.stderr
        );
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for canary in CANARIES {
                assert!(
                    !text.contains(canary),
                    "{what}: {canary} in {}",
                    path.display()
                );
            }
        }
    }
    r
}

/// Asserts the canaries travelled only in the one header meant for them, never in a URL.
fn assert_requests_clean(what: &str, server: &Server) {
    for req in server.seen() {
        for canary in CANARIES {
            assert!(
                !req.line.contains(canary),
                "{what}: {canary} in a URL: {}",
                req.line
            );
            for (k, v) in &req.headers {
                if v.contains(canary) {
                    let allowed = (k.eq_ignore_ascii_case("authorization")
                        && (*canary == KEY || *canary == GH_TOKEN))
                        || (k.eq_ignore_ascii_case("private-token") && *canary == GL_TOKEN);
                    assert!(allowed, "{what}: {canary} in header {k}");
                }
            }
            assert!(
                !String::from_utf8_lossy(&req.body).contains(canary),
                "{what}: {canary} in a request body"
            );
        }
    }
}

/// A loopback port with nothing listening.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn record(status: &str) -> String {
    format!(
        r#"{{"evalId": "e", "status": "{status}", "project": "cars", "versionId": "7", "createdAt": "2026-11-20T10:00:00Z"}}"#
    )
}

/// A Roboflow failure mode: how the stand-in answers the record and the metrics.
struct Mode {
    name: &'static str,
    record: fn() -> Reply,
    metrics: fn() -> Reply,
}

fn ok_record() -> Reply {
    Reply::json(200, &record("done"))
}

/// An error answer that echoes the API key, as a careless server might.
fn echo(status: u16) -> Reply {
    Reply::json(
        status,
        &format!(r#"{{"error": "refused", "message": "bad key {KEY}"}}"#),
    )
}

/// An error answer that echoes whatever token the request carried.
fn echo_back(req: &Seen, status: u16) -> Reply {
    let token = req
        .header("authorization")
        .map(|a| a.trim_start_matches("Bearer "))
        .or(req.header("private-token"))
        .unwrap_or("none");
    Reply::json(
        status,
        &format!(r#"{{"message": "bad token {token}", "error": "{token}"}}"#),
    )
}

/// Every way a Roboflow fetch can fail (and one way it succeeds), each echoing the key where a
/// server could.
fn roboflow_modes() -> Vec<Mode> {
    vec![
        Mode {
            name: "ok",
            record: ok_record,
            metrics: || Reply::json(200, &example("candidate")),
        },
        Mode {
            name: "401",
            record: || echo(401),
            metrics: || echo(401),
        },
        Mode {
            name: "403",
            record: || echo(403),
            metrics: || echo(403),
        },
        Mode {
            name: "404 not found",
            record: || {
                Reply::json(
                    404,
                    &format!(r#"{{"error": "model_eval_not_found", "message": "no {KEY}"}}"#),
                )
            },
            metrics: || Reply::json(404, r#"{"error": "model_eval_not_found"}"#),
        },
        Mode {
            name: "404 scope",
            record: || {
                Reply::json(
                    404,
                    &format!(
                        r#"{{"error": {{"type": "GraphMethodException", "message": "{KEY}"}}}}"#
                    ),
                )
            },
            metrics: || echo(404),
        },
        Mode {
            name: "400",
            record: ok_record,
            metrics: || echo(400),
        },
        Mode {
            name: "402",
            record: || echo(402),
            metrics: || echo(402),
        },
        Mode {
            name: "409 not done",
            record: || {
                Reply::json(
                    409,
                    &format!(r#"{{"error": "model_eval_not_done", "message": "{KEY}"}}"#),
                )
            },
            metrics: || Reply::json(409, r#"{"error": "model_eval_not_done"}"#),
        },
        Mode {
            name: "running",
            record: || Reply::json(200, &record("running")),
            metrics: || echo(409),
        },
        Mode {
            name: "failed",
            record: || Reply::json(200, &record("failed")),
            metrics: || echo(409),
        },
        Mode {
            name: "500 until retries run out",
            record: || echo(500),
            metrics: || echo(503),
        },
        Mode {
            name: "429",
            record: || echo(429).header("Retry-After", "0"),
            metrics: || echo(429),
        },
        Mode {
            name: "redirect",
            record: || {
                Reply::json(302, "")
                    .header("Location", &format!("https://elsewhere.invalid/?key={KEY}"))
            },
            metrics: || Reply::json(301, "").header("Location", &format!("/{KEY}")),
        },
        Mode {
            name: "html",
            record: || Reply::html(502, &format!("<html><body>502 {KEY}</body></html>")),
            metrics: || Reply::html(200, &format!("<html>{KEY}</html>")),
        },
        Mode {
            name: "not json",
            record: || Reply::json(200, &format!("oops {KEY}")),
            metrics: || Reply::json(200, &format!("{{\"splits\": {KEY}")),
        },
        Mode {
            name: "cut off",
            record: ok_record,
            metrics: || Reply::json(200, &example("candidate")).cut_at(40),
        },
        Mode {
            name: "stall",
            record: || ok_record().delayed(Duration::from_millis(1500)),
            metrics: || {
                Reply::json(200, &example("candidate")).delayed(Duration::from_millis(1500))
            },
        },
        Mode {
            name: "another task",
            record: ok_record,
            metrics: || Reply::json(200, &example("segmentation-candidate")),
        },
        Mode {
            name: "too large",
            record: ok_record,
            metrics: || Reply::json(200, &" ".repeat(4096)),
        },
    ]
}

fn roboflow(mode: &Mode) -> Server {
    let (record, metrics) = (mode.record, mode.metrics);
    Server::start(move |req: &Seen, _| {
        if req.path.ends_with("/map-results") {
            metrics()
        } else if req.path.contains("/model-evals/") {
            record()
        } else {
            Reply::json(404, "{}")
        }
    })
}

const API_FLAGS: &[&str] = &["--retries", "1", "--timeout", "5s", "--max-body", "2KiB"];

/// Retries and timeout for a mode: a stalling server gets a short timeout and no retry.
fn api_flags(mode: &Mode) -> &'static [&'static str] {
    if mode.name == "stall" {
        &["--retries", "0", "--timeout", "300ms"]
    } else {
        &API_FLAGS[..4]
    }
}

#[test]
fn no_canary_leaks_from_check_or_fetch_in_any_failure_mode() {
    // The modes run side by side: most of each run is waiting on a socket or a timer.
    std::thread::scope(|s| {
        for mode in roboflow_modes() {
            s.spawn(move || check_and_fetch(&mode));
        }
    });
}

fn check_and_fetch(mode: &Mode) {
    {
        let server = roboflow(mode);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (json, md, xml) = (d.join("r.json"), d.join("r.md"), d.join("r.xml"));
        let summary = write(d, "summary.md", "");
        let outputs = write(d, "outputs.txt", "");
        let what = format!("check, {}", mode.name);
        let max_body = if mode.name == "too large" {
            "2KiB"
        } else {
            "1MiB"
        };
        let r = run_clean(
            &what,
            canary_cmd(&server.url())
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_OUTPUT", &outputs)
                .args([
                    "check",
                    "--policy",
                    "policies/detection.yaml",
                    "--today",
                    "2026-11-26",
                ])
                .args([
                    "--baseline",
                    "examples/evals/baseline.json",
                    "--candidate",
                    "rf:ws/cand",
                ])
                .args([
                    "--json",
                    json.to_str().unwrap(),
                    "--markdown",
                    md.to_str().unwrap(),
                ])
                .args(["--junit", xml.to_str().unwrap(), "--wait", "300ms"])
                .args(api_flags(mode))
                .args(["--max-body", max_body]),
            d,
        );
        match mode.name {
            "ok" => assert_eq!(r.code, 1, "{what}: {}", r.stderr),
            "409 not done" | "running" => assert_eq!(r.code, 5, "{what}: {}", r.stderr),
            "another task" => assert_eq!(r.code, 6, "{what}: {}", r.stderr),
            _ => assert_eq!(r.code, 4, "{what}: {}", r.stderr),
        }
        assert_requests_clean(&what, &server);

        let what = format!("fetch, {}", mode.name);
        let saved = d.join("saved.json");
        run_clean(
            &what,
            canary_cmd(&server.url())
                .args(["fetch", "rf:ws/cand", "-o", saved.to_str().unwrap()])
                .args(api_flags(mode))
                .args(["--max-body", max_body]),
            d,
        );
        run_clean(
            &format!("{what}, to stdout"),
            canary_cmd(&server.url())
                .args(["fetch", "rf:ws/cand"])
                .args(api_flags(mode))
                .args(["--max-body", max_body]),
            d,
        );
        assert_requests_clean(&what, &server);
    }
}

#[test]
fn no_canary_leaks_when_nothing_answers_or_the_run_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let closed = closed_port();
    let policy = "policies/detection.yaml";
    let bad_policy = write(d, "bad.yaml", "version: 1\nsplits: {valid: {map50: 70}}\n");
    let report_in_missing_dir = d.join("no/such/dir/r.json");
    let md = write(d, "r.md", "## ✅ evalgate: passed\n");
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "check, closed port",
            vec![
                "check",
                "--policy",
                policy,
                "--candidate",
                "rf:ws/c",
                "--baseline",
                "rf:ws/b",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "",
        ),
        (
            "fetch, closed port",
            vec![
                "fetch".into(),
                "rf:ws/c".into(),
                "-o".into(),
                d.join("f.json").display().to_string(),
            ],
            "",
        ),
        (
            "check, no workspace",
            vec!["check", "--policy", policy, "--candidate", "rf:c"]
                .into_iter()
                .map(String::from)
                .collect(),
            "",
        ),
        (
            "check, bad policy",
            vec![
                "check".into(),
                "--policy".into(),
                bad_policy.clone(),
                "--candidate".into(),
                "rf:ws/c".into(),
            ],
            "",
        ),
        (
            "check, unwritable report",
            vec![
                "check".into(),
                "--policy".into(),
                policy.into(),
                "--candidate".into(),
                "rf:ws/c".into(),
                "--json".into(),
                report_in_missing_dir.display().to_string(),
            ],
            "",
        ),
        (
            "check, usage error",
            vec![
                "check",
                "--policy",
                policy,
                "--candidate",
                "rf:ws/c",
                "--frobnicate",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "",
        ),
        (
            "check, plain http beyond 127.0.0.1",
            vec![
                "check",
                "--policy",
                policy,
                "--candidate",
                "rf:ws/c",
                "--api-url",
                "http://127.0.0.2:9",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "",
        ),
        (
            "check, key pasted into the URL",
            vec![
                "check".into(),
                "--policy".into(),
                policy.into(),
                "--candidate".into(),
                "rf:ws/c".into(),
                "--api-url".into(),
                format!("https://u:{KEY}@127.0.0.1:9/?api_key={KEY}#{GH_TOKEN}"),
            ],
            "",
        ),
        (
            "comment, closed port",
            vec!["comment", "--markdown", &md, "--pr", "7"]
                .into_iter()
                .map(String::from)
                .collect(),
            "",
        ),
        (
            "comment, closed port, required",
            vec!["comment", "--markdown", &md, "--pr", "7", "--require"]
                .into_iter()
                .map(String::from)
                .collect(),
            "",
        ),
        (
            "comment, gitlab, closed port",
            vec!["comment", "--markdown", &md, "--gitlab"]
                .into_iter()
                .map(String::from)
                .collect(),
            "",
        ),
        (
            "comment, no markdown",
            vec![
                "comment".into(),
                "--markdown".into(),
                d.join("none.md").display().to_string(),
                "--pr".into(),
                "7".into(),
            ],
            "",
        ),
        (
            "comment, bad key",
            vec!["comment", "--markdown", &md, "--pr", "7", "--key", "a -->"]
                .into_iter()
                .map(String::from)
                .collect(),
            "",
        ),
        (
            "comment, outside a PR",
            vec!["comment", "--markdown", &md, "--require"]
                .into_iter()
                .map(String::from)
                .collect(),
            "github",
        ),
        (
            "comment, plain http beyond 127.0.0.1",
            vec!["comment", "--markdown", &md, "--pr", "7"]
                .into_iter()
                .map(String::from)
                .collect(),
            "http://127.0.0.2:9",
        ),
    ];
    for (what, args, special) in cases {
        let url = if special.starts_with("http") {
            special.to_owned()
        } else {
            closed.clone()
        };
        let mut cmd = canary_cmd(&url);
        cmd.args(&args).args(
            API_FLAGS
                .iter()
                .take(if args[0] == "comment" { 4 } else { 6 }),
        );
        if special == "github" {
            cmd.env_remove("CI_MERGE_REQUEST_IID");
        }
        let r = run_clean(what, &mut cmd, d);
        assert_ne!(r.code, 0, "{what} should fail: {}", r.stderr);
    }
    // A key the HTTP header cannot carry is refused without being shown.
    let r = run_clean(
        "check, key with a line break",
        canary_cmd(&closed)
            .env("ROBOFLOW_API_KEY", format!("{KEY}\nsecond line"))
            .args(candidate_check(policy, "rf:ws/c", &[])),
        d,
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
}

/// Every way posting a comment can fail, on GitHub and GitLab.
#[test]
fn no_canary_leaks_from_comment_in_any_failure_mode() {
    type Handler = fn(&Seen) -> Reply;
    let list: Handler = |_| Reply::json(200, "[]");
    let modes: Vec<(&str, Handler)> = vec![
        ("ok", |req| match req.method.as_str() {
            "GET" if req.path.ends_with("/user") => Reply::json(200, r#"{"username": "bot"}"#),
            "GET" => Reply::json(200, "[]"),
            _ => Reply::json(201, r#"{"id": 5}"#),
        }),
        ("401", |req| echo_back(req, 401)),
        ("403", |req| echo_back(req, 403)),
        ("404", |req| echo_back(req, 404)),
        ("422 on write", |req| {
            if req.method == "GET" {
                Reply::json(200, "[]")
            } else {
                echo_back(req, 422)
            }
        }),
        ("500 until retries run out", |req| echo_back(req, 500)),
        ("rate limited", |req| {
            echo_back(req, 403).header("Retry-After", "0")
        }),
        ("429", |req| echo_back(req, 429).header("Retry-After", "0")),
        ("redirect", |req| {
            let token = req.header("private-token").unwrap_or(GH_TOKEN);
            Reply::json(302, "").header("Location", &format!("https://elsewhere.invalid/{token}"))
        }),
        ("html", |req| {
            let r = echo_back(req, 502);
            Reply::html(
                502,
                &format!("<html>{}</html>", String::from_utf8_lossy(&r.body)),
            )
        }),
        ("not json", |req| {
            let r = echo_back(req, 200);
            Reply::json(200, &format!("oops {}", String::from_utf8_lossy(&r.body)))
        }),
        ("cut off", |_| {
            Reply::json(200, "[{\"id\": 1, \"body\": \"xxxxxxxxxxxxxxxxxxxxxxxx\"}]").cut_at(10)
        }),
        ("stall", |_| {
            Reply::json(200, "[]").delayed(Duration::from_millis(1500))
        }),
        ("a next page on another origin", |req| {
            if req.method == "GET" && !req.path.ends_with("/user") {
                Reply::json(200, "[]")
                    .header(
                        "Link",
                        "<https://elsewhere.invalid/next?page=2>; rel=\"next\"",
                    )
                    .header("X-Next-Page", "x/../../evil")
            } else if req.path.ends_with("/user") {
                Reply::json(200, r#"{"username": "bot"}"#)
            } else {
                Reply::json(201, r#"{"id": 5}"#)
            }
        }),
        ("a list where an object belongs", list),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let md = write(d, "r.md", "## ❌ evalgate: failed\n");
    let event = write(
        d,
        "event.json",
        r#"{"number": 7, "pull_request": {"number": 7}}"#,
    );
    let (md, event) = (md.as_str(), event.as_str());
    std::thread::scope(|s| {
        for (name, handler) in modes {
            s.spawn(move || comment_mode(name, handler, md, event, d));
        }
    });
}

/// Posts through one failure mode on GitHub and GitLab, with and without `--require`.
fn comment_mode(name: &str, handler: fn(&Seen) -> Reply, md: &str, event: &str, d: &Path) {
    let server = Server::start(move |req: &Seen, _| handler(req));
    for (platform, extra) in [("github", vec![]), ("gitlab", vec!["--gitlab"])] {
        for require in [false, true] {
            let what = format!("comment on {platform}, {name}, require {require}");
            let mut cmd = canary_cmd(&server.url());
            cmd.env("GITHUB_EVENT_PATH", event)
                .args(["comment", "--markdown", md])
                .args(if name == "stall" {
                    ["--retries", "0", "--timeout", "300ms"]
                } else {
                    ["--retries", "1", "--timeout", "5s"]
                })
                .args(&extra);
            if require {
                cmd.arg("--require");
            }
            let r = run_clean(&what, &mut cmd, d);
            if name == "ok" {
                assert_eq!(r.code, 0, "{what}: {}", r.stderr);
            }
        }
    }
    assert_requests_clean(name, &server);
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://user:{KEY}@127.0.0.1:9/?token={GH_TOKEN}");
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["check", "--help"],
        &["check", "-h"],
        &["help", "check"],
        &["fetch", "--help"],
        &["help", "fetch"],
        &["comment", "--help"],
        &["help", "comment"],
        &["--version"],
        &["check"],
        &["fetch"],
    ] {
        let what = format!("evalgate {}", args.join(" "));
        let r = run_clean(
            &what,
            canary_cmd(&url)
                .env("ROBOFLOW_WORKSPACE", KEY)
                .env("ROBOFLOW_API_URL", &url)
                .args(args),
            dir.path(),
        );
        assert!(r.code == 0 || r.code == 2, "{what}: {}", r.stderr);
    }
}

/// Servers that echo the key or token in a successful (2xx) answer of the wrong shape: the
/// parse error would quote the body's text, so it is redacted.
#[test]
fn no_canary_leaks_from_a_2xx_body_that_echoes_it() {
    let metrics_echo: Vec<fn() -> Reply> = vec![
        || {
            Reply::json(
                200,
                &format!(r#"{{"splits": {{"valid": {{"map50": "{KEY}"}}}}}}"#),
            )
        },
        || Reply::json(200, &format!(r#"{{"taskType": "{KEY}", "splits": {{}}}}"#)),
        || Reply::json(200, &format!(r#"{{"error": "{KEY}", "message": "{KEY}"}}"#)),
        || {
            Reply::json(
                200,
                &format!(r#"{{"error": "model_eval_not_done", "message": "{KEY}"}}"#),
            )
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, metrics) in metrics_echo.into_iter().enumerate() {
        let server = roboflow(&Mode {
            name: "echo",
            record: ok_record,
            metrics,
        });
        run_clean(
            &format!("check, 2xx echo {i}"),
            canary_cmd(&server.url()).args(candidate_check(
                "policies/detection.yaml",
                "rf:ws/c",
                &["--retries", "0"],
            )),
            dir.path(),
        );
    }
    let server = Server::start(|req: &Seen, _| {
        if req.method == "GET" {
            Reply::json(200, &format!(r#"[{{"id": "{GH_TOKEN}"}}]"#))
        } else {
            Reply::json(201, &format!(r#"{{"id": "{GH_TOKEN}"}}"#))
        }
    });
    let md = write(dir.path(), "r.md", "x");
    run_clean(
        "comment, 2xx echo",
        canary_cmd(&server.url()).args([
            "comment",
            "--markdown",
            &md,
            "--pr",
            "7",
            "--retries",
            "0",
        ]),
        dir.path(),
    );
}
