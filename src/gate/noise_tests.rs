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
    // Size and class × size rules too: their mAP drops are tested on local evals.
    for sizes in [
        "splits:\n  valid:\n    sizes:\n      small:\n        map50: {max_drop: auto}\n",
        "splits:\n  valid:\n    classes:\n      car:\n        sizes:\n          large:\n            map50: {max_drop: auto}\n",
    ] {
        let err = parse_policy(&format!("version: 1\n{sizes}")).unwrap_err();
        assert_eq!(
            err.diagnostics[0].code,
            crate::policy::Code::AutoWithoutStatistics,
            "{sizes}"
        );
        assert_eq!(
            err.diagnostics[0].span.map(|s| s.line),
            Some(if sizes.contains("car") { 8 } else { 6 })
        );
    }
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

// ---- mAP drop rules, tested from a local evaluation's matching ----

use std::sync::Arc;

use crate::model::{MatchedDetections, MatchedParts, Slab};
use crate::stats::Resampling;
use crate::stats::map::{MapMetric, MapQuantity, compare_matched, values};

/// One object of an image: its class, its size, and whether the model found it (a true
/// positive at every IoU threshold) or not (its detection is a false positive there).
type Object = (usize, Size, bool);

/// A matching of `images`, over classes `names`: ten IoU thresholds (0.5 first, 0.75 sixth)
/// and pycocotools' 101 recall points. Scores are spread pseudo-randomly, so that found and
/// missed objects interleave in rank and AP moves with every miss.
fn matching(images: &[Vec<Object>], names: &[&str]) -> MatchedDetections {
    let areas = [
        None,
        Some(Size::Small),
        Some(Size::Medium),
        Some(Size::Large),
    ];
    let mut slabs = Vec::new();
    for class in 0..names.len() {
        for area in areas {
            let mut dets: Vec<(u64, u32, u64)> = Vec::new();
            let mut slab = Slab::default();
            for (i, objects) in images.iter().enumerate() {
                let mine: Vec<(usize, &Object)> = objects
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.0 == class && area.is_none_or(|a| a == o.1))
                    .collect();
                if !mine.is_empty() {
                    slab.ground_truth.push((i as u32, mine.len() as u32));
                }
                for (j, o) in mine {
                    let score = (i as u64 * 7919 + j as u64 * 104_729) % 1000;
                    dets.push((score, i as u32, if o.2 { (1 << 10) - 1 } else { 0 }));
                }
            }
            // Score descending; ties in image order, as pycocotools' stable sort keeps them.
            dets.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            for (_, i, matched) in dets {
                slab.image.push(i);
                slab.matched.push(matched);
                slab.counted.push((1 << 10) - 1);
            }
            slabs.push(slab);
        }
    }
    MatchedDetections::from_parts(MatchedParts {
        images: (0..images.len() as u64).map(|i| 100 + i).collect(),
        image_names: (0..images.len())
            .map(|i| format!("frame {i}.jpg"))
            .collect(),
        classes: names.iter().map(|n| (*n).to_owned()).collect(),
        rec_thrs: (0..=100).map(|r| f64::from(r) / 100.0).collect(),
        thresholds: 10,
        t50: 0,
        t75: 5,
        slabs,
    })
    .unwrap()
}

/// An eval of split `valid` whose mAP numbers are the matching's own (as a coco: source's
/// are pycocotools' from the same matching), carrying the matching.
fn map_eval(m: MatchedDetections) -> Eval {
    let ones = vec![1; m.images().len()];
    let value = |class, size, metric| {
        values(
            &m,
            &ones,
            &[MapQuantity {
                class,
                size,
                metric,
            }],
        )[0]
        .map_or("null".to_owned(), |v| format!("{v:?}"))
    };
    let metrics = |class, size| {
        MapMetric::ALL
            .iter()
            .map(|&mm| format!("\"{}\": {}", mm.metric().name(), value(class, size, mm)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scope = |class| {
        let sizes: Vec<String> = Size::ALL
            .iter()
            .map(|&s| format!("\"{}\": {{{}}}", s.name(), metrics(class, Some(s))))
            .collect();
        format!(
            "{}, \"byObjectSize\": {{{}}}",
            metrics(class, None),
            sizes.join(", ")
        )
    };
    let classes: Vec<String> = m
        .classes()
        .iter()
        .enumerate()
        .map(|(k, n)| format!("\"{n}\": {{{}}}", scope(Some(k))))
        .collect();
    let json = format!(
        "{{\"splits\": {{\"valid\": {{{}, \"perClass\": {{{}}}}}}}}}",
        scope(None),
        classes.join(", ")
    );
    let mut e = parse_eval(json.as_bytes()).unwrap();
    e.panels.matched.insert("valid".into(), Arc::new(m));
    e
}

/// `n` images, each with three small cars and one medium bus; the candidate misses one
/// small car on `missed` of them, spread evenly.
fn map_pair(n: usize, missed: usize) -> (Eval, Eval) {
    let image = |miss: bool| -> Vec<Object> {
        vec![
            (0, Size::Small, !miss),
            (0, Size::Small, true),
            (0, Size::Small, true),
            (1, Size::Medium, true),
        ]
    };
    let step = (n / missed.max(1)).max(1);
    let base: Vec<Vec<Object>> = (0..n).map(|_| image(false)).collect();
    let cand: Vec<Vec<Object>> = (0..n)
        .map(|i| image(missed > 0 && i % step == 0 && i / step < missed))
        .collect();
    let names = ["car", "bus"];
    (
        map_eval(matching(&base, &names)),
        map_eval(matching(&cand, &names)),
    )
}

const MAP_STATS: &str =
    "version: 1\nstatistics: {significance: 0.05, correction: holm, resamples: 500, seed: 3}\n";

/// The same drop rule on map50 at every scope: split, size, class, class × size.
fn every_scope(rule: &str) -> String {
    format!(
        "{MAP_STATS}splits:\n  valid:\n    map50: {rule}\n    sizes:\n      small:\n        map50: {rule}\n    classes:\n      car:\n        map50: {rule}\n        sizes:\n          small:\n            map50: {rule}\n"
    )
}

#[test]
fn identical_matchings_pass_every_map_scope_far_from_significant() {
    let (base, _) = map_pair(200, 0);
    let r = gate(&every_scope("{max_drop: auto}"), &base, &base).unwrap();
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(r.checks.len(), 4);
    assert_eq!(r.tests.len(), 4, "every scope is tested");
    for t in &r.tests {
        assert!(t.p_value >= 0.5 && !t.significant, "{t:?}");
        assert_eq!((t.delta, t.ci_low, t.ci_high), (0.0, 0.0, 0.0));
        assert_eq!((t.images, t.resamples), (200, 500));
    }
}

#[test]
fn a_candidate_that_misses_cars_on_many_images_fails_significantly() {
    let (base, cand) = map_pair(400, 200);
    let r = gate(&every_scope("{max_drop: 0.02}"), &base, &cand).unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    for c in &r.checks {
        let t = &r.tests[c.test().expect("tested")];
        assert!(t.significant && t.p_adjusted < 1e-6, "{c:?} {t:?}");
        assert_eq!(c.status, Status::Fail);
        // The tested values are the ones the check compares.
        assert!((t.recomputed_baseline - c.baseline().unwrap()).abs() < 1e-12);
        assert!((t.recomputed_candidate - c.candidate().unwrap()).abs() < 1e-12);
        assert!(t.ci_low < t.delta && t.delta < t.ci_high && t.ci_high < 0.0);
    }
    // The failing class checks name the images where car lost a true positive, by file name.
    let class = r
        .checks
        .iter()
        .find(|c| c.class.is_some() && c.size.is_none())
        .unwrap();
    let t = &r.tests[class.test().unwrap()];
    assert_eq!((t.evidence.len(), t.worse_images), (100, 200));
    let e = &t.evidence[0];
    assert_eq!(
        (e.image_id.as_str(), e.image_name.as_str()),
        ("100", "frame 0.jpg")
    );
    assert_eq!(
        (e.baseline_fn, e.candidate_fn, e.baseline_fp, e.candidate_fp),
        (0, 1, 0, 1)
    );
    // The split-level check has no evidence: it is not about one class.
    let split = r
        .checks
        .iter()
        .find(|c| c.class.is_none() && c.size.is_none())
        .unwrap();
    assert!(r.tests[split.test().unwrap()].evidence.is_empty());
}

#[test]
fn a_map_drop_over_its_threshold_on_a_few_images_is_a_warning_and_auto_passes() {
    // 12 images; one misses a car: over a 0.1-point threshold, within the noise.
    let (base, cand) = map_pair(12, 1);
    let r = gate(&every_scope("{max_drop: 0.001}"), &base, &cand).unwrap();
    assert_eq!(r.verdict, Verdict::Pass);
    let over: Vec<&Check> = r.checks.iter().filter(|c| c.test().is_some()).collect();
    assert_eq!(over.len(), 4);
    for c in &over {
        let t = &r.tests[c.test().unwrap()];
        assert!(t.delta < -0.001 && !t.significant, "{t:?}");
        assert_eq!(c.status, Status::Warn, "{c:?}");
    }
    let m = crate::report::message(&r, over[0]);
    assert!(
        m.contains("not significant at 0.05: a warning, not a failure"),
        "{m}"
    );
    let r = gate(&every_scope("{max_drop: auto}"), &base, &cand).unwrap();
    assert!(r.checks.iter().all(|c| c.status == Status::Pass), "{r:#?}");
}

#[test]
fn the_gates_interval_for_size_and_class_by_size_is_the_bootstraps_own() {
    let (base, cand) = map_pair(150, 40);
    let policy = format!(
        "{MAP_STATS}splits:\n  valid:\n    sizes:\n      small:\n        map75: {{max_drop_rel: 0.01}}\n    classes:\n      car:\n        sizes:\n          small:\n            map50_95: {{max_drop: 0.01}}\n      bus:\n        sizes:\n          medium:\n            map50: {{max_drop: 0.01}}\n"
    );
    let r = gate(&policy, &base, &cand).unwrap();
    let (b, c) = (&base.panels.matched["valid"], &cand.panels.matched["valid"]);
    let quantities = [
        MapQuantity {
            class: None,
            size: Some(Size::Small),
            metric: MapMetric::Map75,
        },
        MapQuantity {
            class: Some(0),
            size: Some(Size::Small),
            metric: MapMetric::Map50_95,
        },
        MapQuantity {
            class: Some(1),
            size: Some(Size::Medium),
            metric: MapMetric::Map50,
        },
    ];
    let direct = compare_matched(b, c, &Resampling::new(150, 500, 3), &quantities).unwrap();
    let find = |class: Option<&str>, size: Size| {
        r.checks
            .iter()
            .find(|x| x.class.as_deref() == class && x.size == Some(size))
            .unwrap()
    };
    let checks = [
        find(None, Size::Small),
        find(Some("car"), Size::Small),
        find(Some("bus"), Size::Medium),
    ];
    for (check, want) in checks.iter().zip(&direct) {
        let want = want.as_ref().unwrap();
        let t = &r.tests[check.test().expect("tested")];
        assert_eq!(
            (t.delta, t.ci_low, t.ci_high, t.p_value, t.resamples),
            (
                want.delta,
                want.ci_low,
                want.ci_high,
                want.p_value,
                want.resamples
            )
        );
    }
    // Buses were all found by both: no drop, and so no significance.
    let bus = &r.tests[checks[2].test().unwrap()];
    assert_eq!((bus.delta, bus.significant), (0.0, false));
    assert_eq!(checks[2].status, Status::Pass);
    // Small cars lost: significant.
    assert!(r.tests[checks[1].test().unwrap()].significant);
}

#[test]
fn map_and_recall_checks_share_one_correction() {
    // Recall of the per-image counts, and map50 of the matching, in one gate.
    let (count_base, count_cand) = pair(300, 30);
    let (map_base, map_cand) = map_pair(300, 30);
    let join = |counts: Eval, map: Eval| {
        let mut e = map;
        e.panels.sweep = counts.panels.sweep;
        e.panels.images = counts.panels.images;
        e
    };
    let (base, cand) = (join(count_base, map_base), join(count_cand, map_cand));
    let policy = |rules: &str| format!("{STATS}splits:\n  valid:\n{rules}");
    let both = gate(
        &policy("    map50: {max_drop: 0.01}\n    recall: {max_drop: 0.01}\n"),
        &base,
        &cand,
    )
    .unwrap();
    let alone = gate(&policy("    map50: {max_drop: 0.01}\n"), &base, &cand).unwrap();
    assert_eq!((both.tests.len(), alone.tests.len()), (2, 1));
    let map_test = |r: &GateReport| {
        let c = r
            .checks
            .iter()
            .find(|c| c.metric == Some(Metric::Map50))
            .unwrap();
        r.tests[c.test().unwrap()].clone()
    };
    let (with, without) = (map_test(&both), map_test(&alone));
    assert_eq!(with.p_value, without.p_value);
    assert_eq!(without.p_adjusted, without.p_value);
    // Holm over both: the two p-values adjusted together.
    let ps: Vec<f64> = both.tests.iter().map(|t| t.p_value).collect();
    let adjusted = crate::stats::adjust(&ps, crate::stats::Correction::Holm);
    for (t, a) in both.tests.iter().zip(&adjusted) {
        assert_eq!(t.p_adjusted, *a);
    }
    assert!(with.p_adjusted > with.p_value, "{with:?}");
    // Markdown says what was tested.
    use crate::report::{EvalInfo, ReportContext, render_markdown};
    let ctx = || ReportContext {
        exit_code: 0,
        policy: "policy.yaml".into(),
        baseline: Some(EvalInfo::new("base.json".into(), &base)),
        candidate: EvalInfo::new("cand.json".into(), &cand),
        policy_url: None,
        run_url: None,
    };
    let md = render_markdown(&both, &ctx());
    assert!(
        md.contains("Drops of precision, recall, F1 and mAP are noise-tested (2 checks"),
        "{md}"
    );
    let md = render_markdown(&alone, &ctx());
    assert!(
        md.contains("Drops of mAP are noise-tested (1 check,"),
        "{md}"
    );
}

#[test]
fn without_the_matching_on_both_sides_map_rules_keep_their_fixed_thresholds() {
    let (base, cand) = map_pair(12, 1);
    let mut plain = base.clone();
    plain.panels.matched.clear();
    let r = gate(&every_scope("{max_drop: 0.001}"), &plain, &cand).unwrap();
    assert!(r.tests.is_empty());
    assert!(
        r.checks
            .iter()
            .all(|c| c.status == Status::Fail && c.test().is_none())
    );
    // Statistics never ask a Roboflow eval for what its API cannot give.
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn matchings_of_other_images_or_categories_are_not_comparable() {
    let (base, _) = map_pair(20, 0);
    let (other, _) = map_pair(21, 0);
    match gate(&every_scope("{max_drop: 0.01}"), &base, &other) {
        Err(e @ GateError::ImagesDiffer { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("0 only in the baseline, 1 only in the candidate (e.g. \"120\")"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    let image = vec![(0, Size::Small, true), (1, Size::Medium, true)];
    let renamed = map_eval(matching(&vec![image; 20], &["car", "van"]));
    match gate(&every_scope("{max_drop: 0.01}"), &base, &renamed) {
        Err(e @ GateError::NotComparable(NotComparable::Categories { .. })) => {
            let text = e.to_string();
            assert!(
                text.contains("different categories in split \"valid\" (1 only in the baseline, 1 only in the candidate)"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}
