use super::*;
use crate::model::Size;
use crate::model::parse_eval;
use crate::policy::parse_policy;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

fn run(policy: &str, baseline: Option<&str>, candidate: &str) -> GateReport {
    run_with(policy, baseline, candidate, false)
}

fn run_with(policy: &str, baseline: Option<&str>, candidate: &str, strict: bool) -> GateReport {
    let (policy, _) = parse_policy(policy).unwrap();
    let baseline = baseline.map(|b| parse_eval(b.as_bytes()).unwrap());
    let candidate = parse_eval(candidate.as_bytes()).unwrap();
    let options = GateOptions {
        strict,
        ..GateOptions::new(today())
    };
    // The unit tests judge the raw evaluation, all-skipped gates included; the checks in
    // front of it are tested through `Gate` below.
    evaluate(&policy, baseline.as_ref(), &candidate, &options).unwrap()
}

fn split(map50_95: &str) -> String {
    format!(r#"{{"splits": {{"valid": {{"map50_95": {map50_95}}}}}}}"#)
}

fn msg(report: &GateReport, check: &Check) -> String {
    crate::report::message(report, check)
}

/// A check's id as `&str`, so that lists of ids compare with literals; leaked, test-only.
fn id(check: &Check) -> &'static str {
    check.id().leak()
}

fn only(report: &GateReport) -> &Check {
    assert_eq!(report.checks.len(), 1, "{:#?}", report.checks);
    &report.checks[0]
}

const FLOOR: &str = "version: 1\nsplits:\n  valid:\n    map50_95: 0.70\n";
const DROP: &str = "version: 1\nsplits:\n  valid:\n    map50_95: {max_drop: 0.01}\n";

#[test]
fn floor_boundaries() {
    for (value, status) in [
        ("0.70", Status::Pass),
        ("0.7000000001", Status::Pass),
        ("0.6999999999999", Status::Pass),
        ("0.6999", Status::Fail),
        ("0", Status::Fail),
        ("1", Status::Pass),
    ] {
        let r = run(FLOOR, None, &split(value));
        assert_eq!(only(&r).status, status, "candidate {value}");
    }
}

#[test]
fn a_drop_of_exactly_the_allowed_amount_passes_despite_float_noise() {
    // 0.75 - 0.74 is 0.010000000000000009 in binary.
    let r = run(DROP, Some(&split("0.75")), &split("0.74"));
    let c = only(&r);
    assert_eq!(c.status, Status::Pass, "{}", msg(&r, c));
    assert_eq!(msg(&r, c), "0.7500 → 0.7400 (-0.0100), max_drop 0.0100");
    let r = run(DROP, Some(&split("0.75")), &split("0.7399"));
    assert_eq!(only(&r).status, Status::Fail);
    assert_eq!(r.verdict, Verdict::Fail);
    // A rise is never a drop.
    let r = run(DROP, Some(&split("0.75")), &split("0.95"));
    assert_eq!(only(&r).status, Status::Pass);
}

#[test]
fn relative_drop() {
    let policy = "version: 1\nsplits:\n  valid:\n    map50_95: {max_drop_rel: 0.10}\n";
    assert_eq!(
        only(&run(policy, Some(&split("0.50")), &split("0.45"))).status,
        Status::Pass
    );
    assert_eq!(
        only(&run(policy, Some(&split("0.50")), &split("0.449"))).status,
        Status::Fail
    );
    // A zero baseline cannot drop.
    assert_eq!(
        only(&run(policy, Some(&split("0")), &split("0"))).status,
        Status::Pass
    );
}

#[test]
fn max_guards_against_too_good_to_be_true() {
    let policy = "version: 1\nsplits:\n  valid:\n    map50_95: {max: 0.99, severity: warn}\n";
    let r = run(policy, None, &split("0.995"));
    assert_eq!(only(&r).status, Status::Warn);
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(
        run_with(policy, None, &split("0.995"), true).verdict,
        Verdict::Fail
    );
}

#[test]
fn nulls_in_the_candidate_follow_missing_metric() {
    let r = run(FLOOR, Some(&split("0.8")), &split("null"));
    let c = only(&r);
    assert_eq!(
        (c.status, msg(&r, c).as_str()),
        (Status::Fail, "no value in the candidate (baseline 0.8000)")
    );
    let warn = format!("{FLOOR}missing:\n  metric: warn\n");
    assert_eq!(
        only(&run(&warn, Some(&split("0.8")), &split("null"))).status,
        Status::Warn
    );
    let skip = format!("{FLOOR}missing:\n  metric: skip\n");
    assert_eq!(
        only(&run(&skip, Some(&split("0.8")), &split("null"))).status,
        Status::Skip
    );
    // Null in both: nothing to judge, and nothing passes for it.
    let r = run(FLOOR, Some(&split("null")), &split("null"));
    assert_eq!(
        (only(&r).status, msg(&r, only(&r)).as_str()),
        (Status::Skip, "no value in either eval")
    );
    assert_eq!(r.summary.pass, 0);
}

#[test]
fn missing_baseline_skips_or_fails_drop_rules() {
    let r = run(DROP, None, &split("0.5"));
    assert_eq!(only(&r).status, Status::Skip);
    assert_eq!(
        msg(&r, only(&r)),
        "no baseline eval; missing.baseline is floors_only"
    );
    let strict = format!("{DROP}missing:\n  baseline: fail\n");
    let r = run(&strict, None, &split("0.5"));
    assert_eq!(only(&r).status, Status::Fail);
    let r = run(&strict, Some(&split("null")), &split("0.5"));
    assert_eq!(
        msg(&r, only(&r)),
        "no value in the baseline to compare against; missing.baseline is fail"
    );
}

const CLASSES: &str = "version: 1\nsplits:\n  valid:\n    classes:\n      '*':\n        map50: {max_drop: 0.05}\n      car:\n        map50: {min: 0.6}\n";

fn classes(pairs: &[(&str, &str)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(n, v)| format!(r#""{n}": {{"map50": {v}}}"#))
        .collect();
    format!(
        r#"{{"splits": {{"valid": {{"perClass": {{{}}}}}}}}}"#,
        body.join(",")
    )
}

#[test]
fn exact_class_rules_override_globs_field_by_field() {
    let r = run(
        CLASSES,
        Some(&classes(&[("car", "0.9"), ("bus", "0.8")])),
        &classes(&[("car", "0.7"), ("bus", "0.78")]),
    );
    let ids: Vec<(&str, Status)> = r.checks.iter().map(|c| (id(c), c.status)).collect();
    assert_eq!(
        ids,
        vec![
            ("valid/class/bus/map50/max_drop", Status::Pass),
            ("valid/class/car/map50/min", Status::Pass),
            ("valid/class/car/map50/max_drop", Status::Fail),
        ]
    );
    assert_eq!(r.checks[1].line(), Some(8));
    assert_eq!(r.checks[2].line(), Some(6));
}

#[test]
fn new_and_removed_classes() {
    let r = run(
        CLASSES,
        Some(&classes(&[("car", "0.9"), ("bus", "0.8")])),
        &classes(&[("car", "0.9"), ("tram", "0.1")]),
    );
    let got: Vec<(&str, Status, &str)> = r
        .checks
        .iter()
        .map(|c| (id(c), c.status, msg(&r, c).leak() as &str))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "valid/class/bus/presence",
                Status::Fail,
                "class \"bus\" is in the baseline but not in the candidate (missing.class is fail)"
            ),
            (
                "valid/class/car/map50/min",
                Status::Pass,
                "0.9000 ≥ min 0.6000"
            ),
            (
                "valid/class/car/map50/max_drop",
                Status::Pass,
                "0.9000 → 0.9000 (±0.0000), max_drop 0.0500"
            ),
            (
                "valid/class/tram/map50/max_drop",
                Status::Skip,
                "new class: not in the baseline"
            ),
        ]
    );
    let ignore = format!("{CLASSES}missing:\n  class: ignore\n");
    let r = run(&ignore, Some(&classes(&[("bus", "0.8")])), &classes(&[]));
    assert_eq!(only(&r).status, Status::Skip);
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn a_split_gone_from_the_candidate_fails() {
    let both = r#"{"splits": {"valid": {"map50_95": 0.8}, "test": {"map50_95": 0.8}}}"#;
    let policy =
        "version: 1\nsplits:\n  test:\n    map50_95: 0.5\n  '*':\n    map50_95: {max_drop: 0.1}\n";
    let r = run(policy, Some(both), &split("0.8"));
    let got: Vec<(&str, Status)> = r.checks.iter().map(|c| (id(c), c.status)).collect();
    assert_eq!(
        got,
        vec![
            ("test/presence", Status::Fail),
            ("valid/map50_95/max_drop", Status::Pass)
        ]
    );
    assert_eq!(
        msg(&r, &r.checks[0]),
        "split \"test\" is in the baseline but not in the candidate"
    );
}

#[test]
fn defaults_and_star_split_fill_in_fields() {
    let policy = "version: 1\ndefaults:\n  severity: warn\n  max_drop: 0.02\nsplits:\n  '*':\n    map50: 0.5\n  valid:\n    map50: {severity: fail}\n";
    let r = run(
        policy,
        Some(r#"{"splits": {"valid": {"map50": 0.9}}}"#),
        r#"{"splits": {"valid": {"map50": 0.4}}}"#,
    );
    let got: Vec<(RuleKind, Status, Severity, Option<u32>)> = r
        .checks
        .iter()
        .map(|c| (c.rule, c.status, c.severity, c.line()))
        .collect();
    assert_eq!(
        got,
        vec![
            (RuleKind::Min, Status::Fail, Severity::Fail, Some(7)),
            (RuleKind::MaxDrop, Status::Fail, Severity::Fail, Some(4)),
        ]
    );
}

#[test]
fn sizes_of_splits_and_classes() {
    let policy = "version: 1\nsplits:\n  valid:\n    sizes:\n      small: {map50: 0.5}\n    classes:\n      car:\n        sizes:\n          large: {map50: 0.9}\n";
    let eval = r#"{"splits": {"valid": {"byObjectSize": {"small": {"map50": 0.4}, "large": null},
        "perClass": {"car": {"map50": 0.9, "byObjectSize": {"large": {"map50": 0.95}}}}}}}"#;
    let r = run(policy, None, eval);
    let got: Vec<(&str, Status)> = r.checks.iter().map(|c| (id(c), c.status)).collect();
    assert_eq!(
        got,
        vec![
            ("valid/size/small/map50/min", Status::Fail),
            ("valid/class/car/size/large/map50/min", Status::Pass)
        ]
    );
    assert_eq!(r.checks[0].size, Some(Size::Small));
    assert_eq!(r.checks[1].class.as_deref(), Some("car"));
}

#[test]
fn waivers_excuse_until_they_expire() {
    let waive = |until: &str| {
        format!(
            "{DROP}waivers:\n  - split: valid\n    metric: map50_95\n    reason: relabelling\n    until: {until}\n"
        )
    };
    let r = run(&waive("2026-11-26"), Some(&split("0.8")), &split("0.7"));
    assert_eq!(only(&r).status, Status::Waived);
    assert_eq!(r.verdict, Verdict::Pass);
    assert!(
        msg(&r, only(&r)).ends_with("waived until 2026-11-26 (policy line 6): relabelling"),
        "{}",
        msg(&r, only(&r))
    );
    assert_eq!((r.waivers[0].matched, r.waivers[0].expired), (1, false));

    let r = run(&waive("2026-11-25"), Some(&split("0.8")), &split("0.7"));
    assert_eq!(only(&r).status, Status::Fail);
    assert!(
        msg(&r, only(&r)).ends_with("a waiver expired on 2026-11-25 (policy line 6)"),
        "{}",
        msg(&r, only(&r))
    );
    assert_eq!((r.waivers[0].matched, r.waivers[0].expired), (1, true));
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn a_waiver_narrowed_to_a_class_leaves_other_classes_alone() {
    let policy = format!(
        "{CLASSES}waivers:\n  - split: valid\n    class: bus\n    reason: r\n    until: 2030-01-01\n"
    );
    let r = run(
        &policy,
        Some(&classes(&[("car", "0.9"), ("bus", "0.9")])),
        &classes(&[("car", "0.1"), ("bus", "0.1")]),
    );
    let got: Vec<(&str, Status)> = r.checks.iter().map(|c| (id(c), c.status)).collect();
    assert_eq!(
        got,
        vec![
            ("valid/class/bus/map50/max_drop", Status::Waived),
            ("valid/class/car/map50/min", Status::Fail),
            ("valid/class/car/map50/max_drop", Status::Fail),
        ]
    );
}

#[test]
fn identical_evals_never_fail_a_drop_rule() {
    let eval = classes(&[("a", "0.3"), ("b", "null"), ("c", "1")]);
    let r = run(CLASSES, Some(&eval), &eval);
    assert!(
        r.checks.iter().all(|c| c.status != Status::Fail),
        "{:#?}",
        r.checks
    );
}

#[test]
fn worst_orders_failures_by_how_far_they_miss() {
    let r = run(
        CLASSES,
        Some(&classes(&[("a", "0.9"), ("b", "0.9"), ("c", "0.9")])),
        &classes(&[("a", "0.8"), ("b", "0.5"), ("c", "0.7")]),
    );
    let worst: Vec<Option<&str>> = r.worst().iter().map(|c| c.class.as_deref()).collect();
    assert_eq!(worst, vec![Some("b"), Some("c"), Some("a")]);
}

#[test]
fn the_ranking_puts_wider_scopes_first_and_measures_every_rule_in_points() {
    // Split: a relative drop of 10% allowed at 0.80 is 0.08 points; 0.80 → 0.70 is 0.02
    // past it. Class b misses its absolute drop by 0.35, a by 0.05, and a class
    // failure never outranks the split's, however large; a misses its floor by 0.03.
    let policy = "version: 1\nsplits:\n  valid:\n    map50_95: {max_drop_rel: 0.10}\n    classes:\n      '*':\n        map50: {max_drop: 0.05}\n      a:\n        map50: {min: 0.83}\n";
    let eval = |split: &str, a: &str, b: &str| {
        format!(
            r#"{{"splits": {{"valid": {{"map50_95": {split}, "perClass": {{"a": {{"map50": {a}}}, "b": {{"map50": {b}}}}}}}}}}}"#
        )
    };
    let r = run(
        policy,
        Some(&eval("0.80", "0.9", "0.9")),
        &eval("0.70", "0.8", "0.5"),
    );
    let ranked: Vec<&str> = r.ranked().iter().map(|c| id(c)).collect();
    assert_eq!(
        ranked,
        [
            "valid/map50_95/max_drop_rel",
            "valid/class/b/map50/max_drop",
            "valid/class/a/map50/max_drop",
            "valid/class/a/map50/min",
        ]
    );
    let rel = r.ranked()[0];
    assert!((rel.excess() - 0.02).abs() < 1e-12, "{}", rel.excess());
    // The plan order stays as it was, for reports that group by scope.
    assert_eq!(id(&r.checks[0]), "valid/map50_95/max_drop_rel");
    assert_eq!(id(&r.checks[1]), "valid/class/a/map50/min");
}

#[test]
fn check_ids_stay_unique_for_hostile_names() {
    let r = run(
        CLASSES,
        None,
        &classes(&[("a/size/small", "0.9"), ("a", "0.9"), ("100%", "0.9")]),
    );
    let mut ids: Vec<&str> = r.checks.iter().map(|c| id(c)).collect();
    assert!(
        ids.contains(&"valid/class/a%2Fsize%2Fsmall/map50/max_drop"),
        "{ids:?}"
    );
    assert!(
        ids.contains(&"valid/class/100%25/map50/max_drop"),
        "{ids:?}"
    );
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

#[test]
fn comparability() {
    let (policy, _) = parse_policy("version: 1\ntask: semantic-segmentation\n").unwrap();
    let det = parse_eval(br#"{"splits": {}}"#).unwrap();
    let seg = parse_eval(br#"{"taskType": "semantic-segmentation", "splits": {}}"#).unwrap();
    assert_eq!(
        comparable(&policy, Some(&seg), &seg),
        Ok(Task::SemanticSegmentation)
    );
    assert_eq!(
        comparable(&policy, None, &det).unwrap_err().to_string(),
        "the policy is for semantic-segmentation evals but the candidate's task is object-detection"
    );
    let (any, _) = parse_policy("version: 1\n").unwrap();
    assert_eq!(
        comparable(&any, Some(&seg), &det),
        Err(NotComparable::Tasks {
            baseline: Task::SemanticSegmentation,
            candidate: Task::ObjectDetection
        })
    );
}

#[test]
fn a_floor_with_no_value_anywhere_fails_closed() {
    let r = run(FLOOR, None, &split("null"));
    let c = only(&r);
    assert_eq!(
        (c.status, msg(&r, c).as_str()),
        (
            Status::Fail,
            "no value in the candidate, and none in a baseline"
        )
    );
    assert_eq!(r.verdict, Verdict::Fail);
    let skip = format!("{FLOOR}missing:\n  metric: skip\n");
    assert_eq!(only(&run(&skip, None, &split("null"))).status, Status::Skip);
    // A drop rule has nothing to compare: missing.baseline decides.
    assert_eq!(only(&run(DROP, None, &split("null"))).status, Status::Skip);
}

#[test]
fn star_covers_a_split_the_candidate_dropped() {
    let both = r#"{"splits": {"valid": {"map50_95": 0.8}, "test": {"map50_95": 0.8}}}"#;
    let policy = "version: 1\nsplits:\n  '*':\n    map50_95: {max_drop: 0.1}\n";
    let r = run(policy, Some(both), &split("0.8"));
    let got: Vec<(&str, Status)> = r.checks.iter().map(|c| (id(c), c.status)).collect();
    assert_eq!(
        got,
        vec![
            ("test/presence", Status::Fail),
            ("valid/map50_95/max_drop", Status::Pass)
        ]
    );
}

#[test]
fn a_class_named_like_a_glob_can_be_named_exactly() {
    let policy = "version: 1\nsplits:\n  valid:\n    classes:\n      '*': {map50: {min: 0.1}}\n      '[unk]': {map50: {min: 0.95}}\n";
    let r = run(policy, None, &classes(&[("[unk]", "0.5"), ("x", "0.5")]));
    let got: Vec<(&str, Status, Option<u32>)> = r
        .checks
        .iter()
        .map(|c| (id(c), c.status, c.line()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("valid/class/[unk]/map50/min", Status::Fail, Some(6)),
            ("valid/class/x/map50/min", Status::Pass, Some(5))
        ]
    );
}

#[test]
fn messages_show_more_digits_when_four_would_hide_the_failure() {
    let r = run(FLOOR, None, &split("0.69996"));
    assert_eq!(msg(&r, only(&r)), "0.69996 < min 0.7");
    let r = run(DROP, Some(&split("0.75")), &split("0.73996"));
    assert_eq!(only(&r).status, Status::Fail);
    assert!(
        msg(&r, only(&r)).starts_with("0.7500 → 0.7400 (-0.0100"),
        "{}",
        msg(&r, only(&r))
    );
    assert!(
        msg(&r, only(&r)).ends_with("max_drop 0.01"),
        "{}",
        msg(&r, only(&r))
    );
}

fn through_gate(
    policy: &str,
    baseline: Option<&str>,
    candidate: &str,
    max_checks: usize,
) -> Result<GateReport, GateError> {
    let (policy, _) = parse_policy(policy).unwrap();
    let baseline = baseline.map(|b| parse_eval(b.as_bytes()).unwrap());
    let candidate = parse_eval(candidate.as_bytes()).unwrap();
    let gate = Gate::new(&policy, baseline.as_ref(), &candidate)?;
    gate.evaluate(&GateOptions {
        max_checks,
        ..GateOptions::new(today())
    })
}

#[test]
fn the_gate_never_passes_when_every_check_is_skipped() {
    // Drop rules with no baseline: every check is skipped (missing.baseline: floors_only).
    let err = through_gate(DROP, None, &split("0.5"), DEFAULT_MAX_CHECKS).unwrap_err();
    let GateError::NothingEvaluated { report } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(report.summary.skip, 1);
    assert_eq!(
        err.to_string(),
        "no check could be evaluated: its only check was skipped"
    );
    // A policy for a split the evals lack judges nothing either, and is a name error first.
    let other = "version: 1\nsplits:\n  test:\n    map50: 0.5\n";
    let err = through_gate(other, None, &split("0.5"), DEFAULT_MAX_CHECKS).unwrap_err();
    assert!(
        matches!(err, GateError::UnknownNames { errors: 1, .. }),
        "{err:?}"
    );
    // With something judged, the same gate decides.
    let r = through_gate(DROP, Some(&split("0.5")), &split("0.5"), DEFAULT_MAX_CHECKS).unwrap();
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn the_gate_refuses_more_checks_than_its_limit_and_says_how_many() {
    let both = format!("{FLOOR}    map50: {{min: 0.1, max_drop: 0.5}}\n");
    let eval = r#"{"splits": {"valid": {"map50_95": 0.8, "map50": 0.9}}}"#;
    let err = through_gate(&both, Some(eval), eval, 2).unwrap_err();
    assert_eq!(err, GateError::TooManyChecks { count: 3, limit: 2 });
    assert!(err.to_string().contains("--max-checks"), "{err}");
    assert_eq!(
        through_gate(&both, Some(eval), eval, 3)
            .unwrap()
            .checks
            .len(),
        3
    );
}

#[test]
fn evals_of_different_tasks_are_refused_before_any_check() {
    let seg = r#"{"taskType": "semantic-segmentation", "splits": {"valid": {"miou": 0.5}}}"#;
    let err = through_gate(FLOOR, Some(seg), &split("0.5"), DEFAULT_MAX_CHECKS).unwrap_err();
    assert!(matches!(err, GateError::NotComparable(_)), "{err:?}");
}
