//! Noise-aware verdicts through [`Gate`]: per-image outcomes built by hand.

use std::collections::BTreeMap;

use super::*;
use crate::model::{Curve, ImageOutcome, ImageOutcomes, Percent, Prf, Sweep, parse_eval};
use crate::policy::parse_policy;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

/// An eval of split `valid`, one class `car`, whose images have the given (found, missed)
/// objects; image ids `img-0`, `img-1`, ….
fn eval(images: &[(u32, u32)]) -> Eval {
    let mut e = parse_eval(
        br#"{"splits": {"valid": {"map50": 0.8, "perClass": {"car": {"map50": 0.8}}}}}"#,
    )
    .unwrap();
    let (tp, fn_): (u64, u64) = images.iter().fold((0, 0), |(a, b), &(t, f)| {
        (a + u64::from(t), b + u64::from(f))
    });
    let recall = tp as f64 / (tp + fn_) as f64;
    let prf = Prf {
        precision: Some(1.0),
        recall: Some(recall),
        f1: Some(2.0 * recall / (1.0 + recall)),
    };
    let curve = Curve {
        per_threshold: [(Percent::new(40).unwrap(), prf)].into_iter().collect(),
        optimal_threshold: Some(0.4),
        optimal: Some(prf),
    };
    e.panels.sweep = Some(BTreeMap::from([(
        "valid".to_owned(),
        Sweep {
            overall: curve.clone(),
            classes: BTreeMap::from([("car".to_owned(), curve)]),
        },
    )]));
    e.panels.images.insert(
        "valid".to_owned(),
        ImageOutcomes {
            confidence: Percent::new(40),
            classes: vec!["car".into()],
            images: images
                .iter()
                .enumerate()
                .map(|(i, &(t, f))| ImageOutcome {
                    id: format!("img-{i}"),
                    name: format!("image {i}.jpg"),
                    tp: u64::from(t),
                    fp: 0,
                    fn_: u64::from(f),
                    confusion: vec![[0, 0, t], [0, 1, f]],
                })
                .collect(),
        },
    );
    e
}

fn gate(policy: &str, base: &Eval, cand: &Eval) -> Result<GateReport, GateError> {
    let (policy, _) = parse_policy(policy).unwrap();
    Gate::new(&policy, Some(base), cand)?.evaluate(&GateOptions::new(today()))
}

const STATS: &str = "version: 1\noperating_point: {confidence: 0.40}\nstatistics: {significance: 0.05, correction: holm, resamples: 2000, seed: 1}\n";

fn class_recall(rule: &str) -> String {
    format!(
        "{STATS}splits:\n  valid:\n    recall: {rule}\n    classes:\n      car:\n        recall: {rule}\n"
    )
}

/// `n` images of 5 objects, of which `missed` images miss one more in the candidate.
fn pair(n: usize, missed: usize) -> (Eval, Eval) {
    let base: Vec<(u32, u32)> = (0..n)
        .map(|i| if i % 5 == 0 { (4, 1) } else { (5, 0) })
        .collect();
    let mut cand = base.clone();
    for im in cand
        .iter_mut()
        .skip(1)
        .step_by((n / missed.max(1)).max(1))
        .take(missed)
    {
        if im.0 > 0 {
            *im = (im.0 - 1, im.1 + 1);
        }
    }
    (eval(&base), eval(&cand))
}

#[test]
fn identical_evals_never_fail_and_are_far_from_significant() {
    let (base, _) = pair(400, 0);
    let r = gate(&class_recall("{max_drop: auto}"), &base, &base).unwrap();
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.tests.len(), 2);
    for t in &r.tests {
        assert!(t.p_value >= 0.5 && !t.significant, "{t:?}");
        assert_eq!((t.delta, t.images, t.resamples), (0.0, 400, 2000));
    }
}

#[test]
fn a_uniform_five_point_recall_drop_over_2000_images_is_significant_and_fails() {
    // 2,000 images × 5 objects; 500 images lose one: recall falls 5 points.
    let (base, cand) = pair(2000, 500);
    let r = gate(&class_recall("{max_drop: 0.02}"), &base, &cand).unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    for c in &r.checks {
        let t = &r.tests[c.test().expect("tested")];
        assert!(t.significant && t.p_adjusted < 1e-3, "{t:?}");
        assert!((t.delta + 0.05).abs() < 1e-12, "{}", t.delta);
        assert!(
            t.ci_low < -0.05 && t.ci_high > -0.05 && t.ci_high < 0.0,
            "{t:?}"
        );
        assert_eq!(c.status, Status::Fail);
    }
    // The failing class check names the images where car got worse, by name.
    let class = r.checks.iter().find(|c| c.class.is_some()).unwrap();
    let t = &r.tests[class.test().unwrap()];
    assert_eq!((t.evidence.len(), t.worse_images), (100, 500));
    assert_eq!(t.evidence[0].image_name, "image 1.jpg");
    assert_eq!(
        (t.evidence[0].baseline_fn, t.evidence[0].candidate_fn),
        (0, 1)
    );
}

#[test]
fn a_drop_over_the_threshold_on_a_small_split_is_a_warning_not_a_failure() {
    // 20 images: one image loses one object of 100: a 1-point drop over a 0.5-point
    // threshold, well within the noise of 20 images.
    let (base, cand) = pair(20, 1);
    let r = gate(&class_recall("{max_drop: 0.005}"), &base, &cand).unwrap();
    assert!(r.checks.iter().all(|c| c.status == Status::Warn), "{r:#?}");
    assert_eq!(r.verdict, Verdict::Pass);
    let m = crate::report::message(&r, &r.checks[0]);
    assert!(
        m.contains("not significant at 0.05: a warning, not a failure"),
        "{m}"
    );
    // `auto` asks only whether the drop is real: within the noise it holds.
    let r = gate(&class_recall("{max_drop: auto}"), &base, &cand).unwrap();
    assert!(r.checks.iter().all(|c| c.status == Status::Pass), "{r:#?}");
    let m = crate::report::message(&r, &r.checks[0]);
    assert!(
        m.ends_with("not significant at 0.05: within the noise"),
        "{m}"
    );
}

#[test]
fn the_verdict_does_not_depend_on_the_order_images_are_listed_in() {
    let (base, cand) = pair(300, 40);
    let mut shuffled = cand.clone();
    shuffled
        .panels
        .images
        .get_mut("valid")
        .unwrap()
        .images
        .reverse();
    let a = gate(&class_recall("{max_drop: 0.01}"), &base, &cand).unwrap();
    let b = gate(&class_recall("{max_drop: 0.01}"), &base, &shuffled).unwrap();
    assert_eq!(a.tests.len(), b.tests.len());
    for (x, y) in a.tests.iter().zip(&b.tests) {
        assert_eq!(
            (x.delta, x.ci_low, x.ci_high, x.p_value),
            (y.delta, y.ci_low, y.ci_high, y.p_value)
        );
    }
}

#[test]
fn evals_of_different_images_are_not_comparable() {
    let (base, mut cand) = pair(50, 5);
    cand.panels.images.get_mut("valid").unwrap().images[3].id = "other".into();
    match gate(&class_recall("{max_drop: 0.01}"), &base, &cand) {
        Err(e @ GateError::ImagesDiffer { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(
                    "1 only in the baseline, 1 only in the candidate (e.g. \"img-3\", \"other\")"
                ),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn statistics_without_per_image_data_fail_instead_of_falling_back() {
    let (base, mut cand) = pair(50, 5);
    cand.panels.images.clear();
    match gate(&class_recall("{max_drop: 0.01}"), &base, &cand) {
        Err(GateError::NoImageData { split, role }) => {
            assert_eq!((split.as_str(), role), ("valid", "candidate"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn auto_without_statistics_is_a_policy_error_and_floors_are_not_tested() {
    let err = parse_policy(
        "version: 1\noperating_point: {confidence: 0.4}\nsplits:\n  valid:\n    recall: {max_drop: auto}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.diagnostics[0].code,
        crate::policy::Code::AutoWithoutStatistics
    );
    let (base, cand) = pair(2000, 500);
    let r = gate(
        &format!("{STATS}splits:\n  valid:\n    recall: {{min: 0.9}}\n"),
        &base,
        &cand,
    )
    .unwrap();
    assert!(r.tests.is_empty() && r.checks[0].test().is_none());
}

#[test]
fn calibrate_says_which_rules_the_data_can_enforce() {
    let policy = class_recall("{max_drop: 0.02}");
    let (policy, _) = parse_policy(&policy).unwrap();
    let (small, _) = pair(20, 0);
    let (large, _) = pair(2000, 0);
    let small = calibrate(&policy, &small).unwrap();
    let large = calibrate(&policy, &large).unwrap();
    assert_eq!(small.len(), 2);
    // Two tested rules under Holm: each is tested at 0.05 / 2.
    assert!(small.iter().all(|c| (c.level - 0.025).abs() < 1e-15));
    let (s, l) = (&small[1], &large[1]);
    assert_eq!(
        (s.class.as_deref(), s.images, l.images),
        (Some("car"), 20, 2000)
    );
    // The detectable drop shrinks as 1/√images: 100× the images, a tenth.
    let (ds, dl) = (s.detectable.unwrap(), l.detectable.unwrap());
    assert!(ds > 0.02 && dl < 0.02, "{ds} {dl}");
    let ratio = ds / dl;
    assert!((ratio - 10.0).abs() < 2.5, "{ratio}");
    // At ρ = 0.5 the paired difference has the standard error of one eval: the drop is
    // (z₀.₉₇₅ + z₀.₈) · SE (normal quantiles from scipy.stats.norm.ppf).
    let z = 1.959_963_984_540_054 + 0.841_621_233_572_914_3;
    let se = *s.std_error.as_ref().unwrap();
    assert!((ds - z * se).abs() < 1e-9 * ds, "{ds} vs {}", z * se);
}

#[test]
fn markdown_and_junit_show_the_interval_and_the_images_to_look_at() {
    use crate::report::{EvalInfo, Format, ReportContext, render_markdown};
    let (base, cand) = pair(2000, 500);
    let r = gate(&class_recall("{max_drop: 0.02}"), &base, &cand).unwrap();
    let ctx = ReportContext {
        exit_code: 1,
        policy: "policy.yaml".into(),
        baseline: Some(EvalInfo::new("base.json".into(), &base)),
        candidate: EvalInfo::new("cand.json".into(), &cand),
        policy_url: None,
        run_url: None,
    };
    let md = render_markdown(&r, &ctx);
    let t = &r.tests[0];
    let cell = format!(
        "**−5.0\u{a0}pt**\u{a0}[{},\u{a0}{}]",
        crate::report::number::pt(t.ci_low),
        crate::report::number::pt(t.ci_high)
    );
    assert!(md.contains(&cell), "{cell}\n{md}");
    assert!(
        md.contains("Precision, recall and F1 at confidence 0.40."),
        "{md}"
    );
    assert!(
        md.contains("noise-tested (2 checks, a paired bootstrap over 2000 images"),
        "{md}"
    );
    assert!(
        md.contains("- valid · class car · recall: image 1.jpg (FN 0 → 1, FP 0 → 0), image 1001.jpg (FN 0 → 1, FP 0 → 0), image 1005.jpg (FN 1 → 2, FP 0 → 0)"),
        "{md}"
    );
    let mut junit = Vec::new();
    Format::Junit.render(&r, &ctx, &mut junit).unwrap();
    let junit = String::from_utf8(junit).unwrap();
    assert!(
        md.contains(", and 495 more (the JSON report lists 100)"),
        "{md}"
    );
    assert!(
        junit.contains(
            r#"<property name="evalgate.operating_point" value="P/R/F1 at confidence 0.40"/>"#
        ),
        "{junit}"
    );
    assert!(
        junit.contains("paired bootstrap over 2000 images: Δ −5.0 pt ["),
        "{junit}"
    );
}

#[test]
fn a_check_failed_for_want_of_data_is_not_softened_by_the_noise_test() {
    // min_support with no confusion matrix: support unknown, so the class check fails
    // closed, however small the drop and whatever the bootstrap says.
    let policy = format!(
        "{STATS}splits:\n  valid:\n    classes:\n      car:\n        min_support: 10\n        recall: {{max_drop: 0.005}}\n"
    );
    let (base, cand) = pair(20, 1);
    let r = gate(&policy, &base, &cand).unwrap();
    let c = &r.checks[0];
    assert_eq!((c.status, c.reason), (Status::Fail, Reason::SupportUnknown));
    assert!(c.test().is_none());
}
