//! The operating point, support and confusion checks, through [`Gate`] (which reads the evals
//! at the policy's operating point).

use std::collections::BTreeMap;

use super::*;
use crate::model::{ConfusionMatrix, Curve, OperatingPoint, Percent, Prf, Sweep, parse_eval};
use crate::policy::{Code, parse_policy};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn prf(p: f64, r: f64) -> Prf {
    Prf {
        precision: Some(p),
        recall: Some(r),
        f1: Some(2.0 * p * r / (p + r)),
    }
}

fn pct(p: u8) -> Percent {
    Percent::new(p).unwrap()
}

/// An eval of `valid` with classes `car` and `person`: split recall `r40` at confidence
/// 0.40 and `ropt` at its F1-optimal threshold `opt`; per class the same curve.
struct Spec {
    r40: f64,
    ropt: f64,
    opt: f64,
    /// Row-major counts over car, person, background.
    matrix: Option<[u64; 9]>,
}

fn eval(spec: &Spec) -> Eval {
    let mut e = parse_eval(
        br#"{"splits": {"valid": {"map50": 0.8, "perClass": {"car": {"map50": 0.8}, "person": {"map50": 0.7}}}}}"#,
    )
    .unwrap();
    let curve = Curve {
        per_threshold: [(pct(40), prf(0.9, spec.r40))].into_iter().collect(),
        optimal_threshold: Some(spec.opt),
        optimal: Some(prf(0.8, spec.ropt)),
    };
    let sweep = Sweep {
        overall: curve.clone(),
        classes: [
            ("car".to_owned(), curve.clone()),
            ("person".to_owned(), curve),
        ]
        .into_iter()
        .collect(),
    };
    e.panels.sweep = Some([("valid".to_owned(), sweep)].into_iter().collect());
    if let Some(m) = spec.matrix {
        let matrix =
            ConfusionMatrix::new(pct(40), vec!["car".into(), "person".into()], m.to_vec()).unwrap();
        e.panels.confusion = BTreeMap::from([("valid".to_owned(), vec![matrix])]);
    }
    e
}

const BASE: Spec = Spec {
    r40: 0.80,
    ropt: 0.85,
    opt: 0.37,
    matrix: Some([40, 2, 8, 3, 40, 7, 5, 5, 0]),
};

fn gate(policy: &str, base: &Eval, cand: &Eval) -> Result<GateReport, GateError> {
    let (policy, _) = parse_policy(policy).unwrap();
    Gate::new(&policy, Some(base), cand)?.evaluate(&GateOptions::new(today()))
}

fn ids(report: &GateReport) -> Vec<(String, Status)> {
    report.checks.iter().map(|c| (c.id(), c.status)).collect()
}

const FIXED: &str = "version: 1\noperating_point: {confidence: 0.40}\n";

#[test]
fn recall_at_a_fixed_confidence_is_gated_at_its_boundary() {
    let policy = format!("{FIXED}splits:\n  valid:\n    recall: {{max_drop: 0.02}}\n");
    for (r40, status) in [
        (0.78, Status::Pass),
        (0.7799, Status::Fail),
        (0.9, Status::Pass),
    ] {
        let cand = eval(&Spec { r40, ..BASE });
        let r = gate(&policy, &eval(&BASE), &cand).unwrap();
        assert_eq!(
            ids(&r),
            [("valid/recall/max_drop".to_owned(), status)],
            "{r40}"
        );
        let c = &r.checks[0];
        assert_eq!((c.baseline(), c.candidate()), (Some(0.80), Some(r40)));
    }
    let r = gate(&policy, &eval(&BASE), &eval(&BASE)).unwrap();
    let used = r.operating_point.unwrap();
    assert_eq!(used.point, OperatingPoint::Confidence(pct(40)));
    assert_eq!(used.candidate["valid"], 0.40);
}

#[test]
fn optimal_reads_each_eval_at_its_own_threshold_where_a_fixed_confidence_does_not() {
    // At 0.40 recall fell 10 points; at each model's own optimum it held.
    let cand = eval(&Spec {
        r40: 0.70,
        ropt: 0.85,
        opt: 0.25,
        ..BASE
    });
    let rule = "splits:\n  valid:\n    recall: {max_drop: 0.02}\n";
    let fixed = gate(&format!("{FIXED}{rule}"), &eval(&BASE), &cand).unwrap();
    assert_eq!(fixed.verdict, Verdict::Fail);
    let optimal = format!("version: 1\noperating_point: {{confidence: optimal}}\n{rule}");
    let r = gate(&optimal, &eval(&BASE), &cand).unwrap();
    assert_eq!(r.verdict, Verdict::Pass);
    let used = r.operating_point.unwrap();
    assert_eq!(used.candidate["valid"], 0.25);
    assert_eq!(used.baseline.unwrap()["valid"], 0.37);
}

#[test]
fn max_shift_bounds_how_far_the_optimal_threshold_moves_either_way() {
    let policy = format!("{FIXED}splits:\n  valid:\n    optimal_threshold: {{max_shift: 0.10}}\n");
    for (opt, status) in [
        (0.47, Status::Pass),
        (0.27, Status::Pass),
        (0.4701, Status::Fail),
        (0.2699, Status::Fail),
    ] {
        let cand = eval(&Spec { opt, ..BASE });
        let r = gate(&policy, &eval(&BASE), &cand).unwrap();
        assert_eq!(
            ids(&r),
            [("valid/optimal_threshold/max_shift".to_owned(), status)],
            "{opt}"
        );
    }
    let cand = eval(&Spec { opt: 0.52, ..BASE });
    let r = gate(&policy, &eval(&BASE), &cand).unwrap();
    assert_eq!(
        crate::report::words::change(&r.checks[0]),
        "moved 15.0 pt (37.0 → 52.0; allowed 10.0)"
    );
}

#[test]
fn classes_under_min_support_are_skipped_and_unknown_support_fails_closed() {
    let policy = format!(
        "{FIXED}splits:\n  valid:\n    classes:\n      \"*\":\n        min_support: 50\n        recall: {{max_drop: 0.01}}\n"
    );
    // car: 40 + 2 + 8 = 50 instances; person: 3 + 40 + 7 = 50.
    let cand = eval(&Spec { r40: 0.5, ..BASE });
    let r = gate(&policy, &eval(&BASE), &cand).unwrap();
    assert!(r.checks.iter().all(|c| c.status == Status::Fail), "{r:#?}");
    assert_eq!(r.checks[0].support(), Some(50));
    // One fewer person in the candidate: person is skipped, car still fails.
    let cand = eval(&Spec {
        r40: 0.5,
        matrix: Some([40, 2, 8, 3, 40, 6, 5, 5, 0]),
        ..BASE
    });
    let r = gate(&policy, &eval(&BASE), &cand).unwrap();
    assert_eq!(
        ids(&r),
        [
            ("valid/class/car/recall/max_drop".to_owned(), Status::Fail),
            (
                "valid/class/person/recall/max_drop".to_owned(),
                Status::Skip
            ),
        ]
    );
    let person = &r.checks[1];
    assert_eq!(person.reason, Reason::InsufficientSupport);
    assert_eq!(
        crate::report::message(&r, person),
        "insufficient support: 49 ground-truth instances in the candidate, 50 in the baseline; min_support is 50"
    );
    // Support that cannot be known is not "enough".
    let cand = eval(&Spec {
        r40: 0.9,
        matrix: None,
        ..BASE
    });
    let r = gate(&policy, &eval(&BASE), &cand).unwrap();
    assert!(
        r.checks
            .iter()
            .all(|c| c.status == Status::Fail && c.reason == Reason::SupportUnknown),
        "{r:#?}"
    );
}

#[test]
fn confusions_compare_shares_of_ground_truth_by_class_name() {
    let policy = format!(
        "{FIXED}confusions:\n  - split: valid\n    actual: person\n    predicted: background\n    max_rise: 0.02\n    max: 0.16\n"
    );
    // Baseline: 7 of 50 persons missed (14%). Candidate orders its classes the other way.
    let swapped = |person_missed: u64, person_right: u64| Spec {
        matrix: Some([person_right, 3, person_missed, 2, 40, 8, 5, 5, 0]),
        ..BASE
    };
    let mut cand = eval(&swapped(8, 42));
    cand.panels.confusion.get_mut("valid").unwrap()[0].classes =
        vec!["person".into(), "car".into()];
    // 8 of 53 = 15.09%: a rise of 1.09 points, under 16%.
    let r = gate(&policy, &eval(&BASE), &cand).unwrap();
    assert_eq!(
        ids(&r),
        [
            (
                "valid/class/person/predicted/background/confusion/max_rise".to_owned(),
                Status::Pass
            ),
            (
                "valid/class/person/predicted/background/confusion/max".to_owned(),
                Status::Pass
            ),
        ]
    );
    let c = &r.checks[0];
    let ctx = crate::report::ReportContext {
        exit_code: 0,
        policy: "p.yaml".into(),
        baseline: None,
        candidate: crate::report::EvalInfo::new("c.json".into(), &cand),
        policy_url: None,
        run_url: None,
    };
    let mut json = Vec::new();
    crate::report::Format::Json
        .render(&r, &ctx, &mut json)
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let first = &doc["checks"][0];
    assert_eq!(
        (
            &first["metric"],
            &first["class"],
            &first["predicted"],
            &first["support"]
        ),
        (
            &serde_json::json!("confusion"),
            &serde_json::json!("person"),
            &serde_json::json!("background"),
            &serde_json::json!(53)
        )
    );
    assert_eq!(first["rule"], "max_rise");
    assert_eq!(c.baseline(), Some(7.0 / 50.0));
    assert_eq!(c.candidate(), Some(8.0 / 53.0));
    assert_eq!((c.support(), c.baseline_support()), (Some(53), Some(50)));
    // 9 of 50 = 18%: a rise of 4 points, over both limits.
    let mut cand = eval(&swapped(9, 38));
    cand.panels.confusion.get_mut("valid").unwrap()[0].classes =
        vec!["person".into(), "car".into()];
    let r = gate(&policy, &eval(&BASE), &cand).unwrap();
    assert!(r.checks.iter().all(|c| c.status == Status::Fail));
    assert_eq!(
        crate::report::words::change(&r.checks[0]),
        "rose 4.0 pt (14.0 → 18.0; allowed 2.0)"
    );
}

#[test]
fn a_confusion_glob_expands_to_every_pair_but_the_diagonal() {
    let policy = format!(
        "{FIXED}confusions:\n  - split: \"*\"\n    actual: \"*\"\n    predicted: \"*\"\n    max_rise: 0.05\n    severity: warn\n"
    );
    let r = gate(&policy, &eval(&BASE), &eval(&BASE)).unwrap();
    assert_eq!(
        ids(&r),
        [
            (
                "valid/class/car/predicted/person/confusion/max_rise".to_owned(),
                Status::Pass
            ),
            (
                "valid/class/person/predicted/car/confusion/max_rise".to_owned(),
                Status::Pass
            ),
        ]
    );
    assert!(r.checks.iter().all(|c| c.severity == Severity::Warn));
}

#[test]
fn a_confusion_without_a_matrix_fails_closed() {
    let policy = format!(
        "{FIXED}confusions:\n  - split: valid\n    actual: car\n    predicted: background\n    max: 0.5\n"
    );
    let cand = eval(&Spec {
        matrix: None,
        ..BASE
    });
    let r = gate(&policy, &eval(&BASE), &cand).unwrap();
    let c = &r.checks[0];
    assert_eq!(
        (c.status, c.reason),
        (Status::Fail, Reason::NoConfusionMatrix)
    );
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn a_detection_policy_reading_recall_needs_an_operating_point() {
    let policy = "version: 1\ntask: object-detection\nsplits:\n  valid:\n    recall: {min: 0.5}\n";
    let err = parse_policy(policy).unwrap_err();
    assert_eq!(err.diagnostics[0].code, Code::NoOperatingPoint);
    // Without `task`, once the evals show it is detection.
    let (policy, _) =
        parse_policy("version: 1\nsplits:\n  valid:\n    recall: {min: 0.5}\n").unwrap();
    let e = eval(&BASE);
    match Gate::new(&policy, None, &e) {
        Err(GateError::UnknownNames { diagnostics, .. }) => {
            assert_eq!(diagnostics[0].code, Code::NoOperatingPoint);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_confusion_class_in_neither_eval_is_a_name_error_with_a_suggestion() {
    let (policy, _) = parse_policy(&format!(
        "{FIXED}confusions:\n  - split: valid\n    actual: persn\n    predicted: background\n    max: 0.5\n"
    ))
    .unwrap();
    let e = eval(&BASE);
    match Gate::new(&policy, None, &e) {
        Err(GateError::UnknownNames { diagnostics, .. }) => {
            assert_eq!(diagnostics[0].code, Code::UnknownClass);
            assert_eq!(
                diagnostics[0].help.as_deref(),
                Some("did you mean \"person\"?")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_policy_without_the_new_keys_reads_evals_as_they_are() {
    let (policy, _) = parse_policy("version: 1\nsplits:\n  valid:\n    map50: 0.5\n").unwrap();
    let e = parse_eval(br#"{"splits": {"valid": {"map50": 0.6}}}"#).unwrap();
    let g = Gate::new(&policy, None, &e).unwrap();
    assert!(matches!(g.candidate, Cow::Borrowed(_)));
    let r = g.evaluate(&GateOptions::new(today())).unwrap();
    assert!(r.operating_point.is_none() && r.checks[0].support().is_none());
    assert!(policy.needs(None).is_empty());
}
