//! `evalgate eval` and `coco:` sources: pycocotools' numbers on the awkward cases under
//! tests/fixtures/coco/ (scripts/coco-fixtures.py writes the inputs, scripts/coco-reference.py
//! the expected values from pycocotools), and the refusals of untrusted input.

use std::path::Path;

use serde_json::Value;

use super::{repo, run};

const TOLERANCE: f64 = 1e-9;

/// Compares `got` with `want` key by key; returns how many numbers were compared.
fn compare(got: &Value, want: &Value, path: &str) -> usize {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let (gk, wk): (Vec<_>, Vec<_>) = (g.keys().collect(), w.keys().collect());
            assert_eq!(gk, wk, "{path}: keys differ");
            w.iter()
                .map(|(k, wv)| compare(&g[k], wv, &format!("{path}.{k}")))
                .sum()
        }
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= TOLERANCE,
                "{path}: evalgate {g}, pycocotools {w}"
            );
            1
        }
        (Value::Null, Value::Null) => 0,
        _ => panic!("{path}: evalgate wrote {got}, pycocotools has {want}"),
    }
}

fn eval_json(gt: &Path, preds: &Path, iou: &str) -> Value {
    let r = run(&[
        "eval",
        "--ground-truth",
        gt.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--iou-type",
        iou,
    ]);
    assert_eq!(r.code, 0, "{}: {}", preds.display(), r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["taskType"], "object-detection-like");
    doc["splits"]["test"].clone()
}

#[test]
fn every_number_is_pycocotools_on_every_case() {
    let root = repo("tests/fixtures/coco");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "the cases are missing: {cases:?}");
    let (mut numbers, mut segm, mut nulls) = (0, 0, 0);
    for case in &cases {
        let expected: Value =
            serde_json::from_slice(&std::fs::read(case.join("expected.json")).unwrap()).unwrap();
        for (file, by_iou) in expected["expected"].as_object().unwrap() {
            for (iou, want) in by_iou.as_object().unwrap() {
                let got = eval_json(&case.join("gt.json"), &case.join(file), iou);
                let name = format!(
                    "{}/{file} {iou}",
                    case.file_name().unwrap().to_string_lossy()
                );
                let n = compare(&got, want, &name);
                numbers += n;
                segm += if iou == "segm" { n } else { 0 };
                nulls += got.to_string().matches("null").count();
            }
        }
    }
    // Overall, 3 sizes, and per class with 3 sizes, 3 metrics each, over 21 evaluations.
    assert!(
        numbers > 700 && segm > 300 && nulls > 100,
        "{numbers} {segm} {nulls}"
    );
}

#[test]
fn score_ties_follow_file_order_as_in_pycocotools() {
    // The reversed file gives other numbers in pycocotools, and the same ones here.
    let case = repo("tests/fixtures/coco/ties");
    let forward = eval_json(
        &case.join("gt.json"),
        &case.join("predictions.json"),
        "bbox",
    );
    let reversed = eval_json(
        &case.join("gt.json"),
        &case.join("predictions-reversed.json"),
        "bbox",
    );
    assert_ne!(forward["map50_95"], reversed["map50_95"]);
}

#[test]
fn a_roboflow_export_reads_and_its_parent_category_is_null() {
    let case = repo("tests/fixtures/coco/roboflow");
    let got = eval_json(
        &case.join("gt.json"),
        &case.join("predictions.json"),
        "bbox",
    );
    let parent = &got["perClass"]["cars-parent"];
    assert_eq!(parent["map50_95"], Value::Null);
    assert_eq!(parent["byObjectSize"]["small"]["map50"], Value::Null);
    assert!(got["perClass"]["car"]["map50"].as_f64().unwrap() > 0.0);
    // Its boxes have `"segmentation": []`: there is nothing to evaluate masks on.
    let r = run(&[
        "eval",
        "--ground-truth",
        case.join("gt.json").to_str().unwrap(),
        "--predictions",
        case.join("predictions.json").to_str().unwrap(),
        "--iou-type",
        "segm",
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("annotations[0]") && r.stderr.contains("--iou-type bbox"),
        "{}",
        r.stderr
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

const GT: &str = r#"{"info": {"year": "2024"},
 "images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
 "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}],
 "annotations": [
  {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0,
   "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]]},
  {"id": 2, "image_id": 2, "category_id": 2, "bbox": [50, 50, 40, 40], "area": 1600, "iscrowd": 0,
   "segmentation": [[50, 50, 90, 50, 90, 90]]}]}"#;

const GOOD: &str = r#"{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9}"#;

/// Runs `eval` on GT and a predictions file holding `GOOD`, then `record`.
fn refuse(record: &str, extra: &[&str]) -> super::Run {
    let dir = tempfile::tempdir().unwrap();
    let gt = write(dir.path(), "gt.json", GT);
    let preds = write(dir.path(), "preds.json", &format!("[{GOOD},\n {record}]"));
    let mut args = vec!["eval", "--ground-truth", &gt, "--predictions", &preds];
    args.extend(extra);
    run(&args)
}

#[test]
fn untrusted_predictions_are_refused_with_the_file_and_record() {
    for (record, says) in [
        (
            r#"{"image_id": 1, "category_id": 7, "bbox": [1, 1, 5, 5], "score": 0.5}"#,
            "category_id 7 is not a category of the ground truth",
        ),
        (
            r#"{"image_id": 9, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5}"#,
            "image_id 9 is not in the ground truth",
        ),
        (
            r#"{"image_id": 1, "category_id": 1, "bbox": [1, 1, -5, 5], "score": 0.5}"#,
            "negative size",
        ),
        (
            r#"{"image_id": 1, "category_id": 1, "bbox": [1, 1, NaN, 5], "score": 0.5}"#,
            "NaN and Infinity are not JSON numbers",
        ),
        (
            r#"{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5], "score": 0.5}"#,
            "bbox has 3 numbers",
        ),
        (
            r#"{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}"#,
            "has no score",
        ),
        (
            r#"{"image_id": "1.jpg", "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5}"#,
            "is a string",
        ),
        (
            r#"{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5"#,
            "line 2",
        ),
    ] {
        let r = refuse(record, &[]);
        assert_eq!(r.code, 4, "{record}: {}", r.stderr);
        assert!(
            r.stderr.contains("--predictions ")
                && r.stderr.contains("preds.json: result 1")
                && r.stderr.contains(says),
            "{record}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn a_three_coordinate_polygon_is_refused_under_segm_only() {
    // A triangle (6 numbers) is a polygon.
    let r = refuse(GOOD, &["--iou-type", "segm"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Three numbers are not.
    let dir = tempfile::tempdir().unwrap();
    let gt = write(
        dir.path(),
        "gt.json",
        &GT.replace("[[50, 50, 90, 50, 90, 90]]", "[[50, 50, 90]]"),
    );
    let preds = write(dir.path(), "preds.json", &format!("[{GOOD}]"));
    let args = ["eval", "--ground-truth", &gt, "--predictions", &preds];
    let r = run(&[&args[..], &["--iou-type", "segm"]].concat());
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("--ground-truth ")
            && r.stderr.contains("gt.json: annotations[1]")
            && r.stderr.contains("3 coordinates"),
        "{}",
        r.stderr
    );
    // Box evaluation never reads the masks.
    assert_eq!(run(&args).code, 0);
}

#[test]
fn a_file_over_the_cap_is_refused_before_it_is_parsed() {
    let r = refuse(GOOD, &["--max-coco-size", "100"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("gt.json: larger than 100 bytes") && r.stderr.contains("--max-coco-size"),
        "{}",
        r.stderr
    );
}

#[test]
fn output_adds_or_replaces_a_split_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let gt = write(dir.path(), "gt.json", GT);
    let preds = write(dir.path(), "preds.json", &format!("[{GOOD}]"));
    let out = dir.path().join("eval.json");
    let out = out.to_str().unwrap();
    let eval = |split: &str, preds: &str| {
        run(&[
            "eval",
            "--ground-truth",
            &gt,
            "--predictions",
            preds,
            "--split",
            split,
            "-o",
            out,
        ])
    };
    assert_eq!(eval("valid", &preds).code, 0);
    assert_eq!(eval("test", &preds).code, 0);
    let doc: Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    let splits: Vec<&String> = doc["splits"].as_object().unwrap().keys().collect();
    assert_eq!(splits, ["test", "valid"]);
    // car found, bus missed: map50 is the mean of 1 and 0 (less pycocotools' epsilon).
    let map50 = |doc: &Value, split: &str| doc["splits"][split]["map50"].as_f64().unwrap();
    assert!((map50(&doc, "test") - 0.5).abs() < 1e-12);
    // Replacing test with an empty prediction set leaves valid as it was.
    let none = write(dir.path(), "none.json", "[]");
    assert_eq!(eval("test", &none).code, 0);
    let doc: Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    assert_eq!(map50(&doc, "test"), 0.0);
    assert!((map50(&doc, "valid") - 0.5).abs() < 1e-12);
    // The file is an eval the other commands read.
    let r = run(&["init", "--from", out]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("valid"), "{}", r.stdout);

    // -o onto something that is not an eval, or onto an input, writes nothing.
    let other = write(dir.path(), "other.json", "{\"not\": \"an eval\"}");
    let r = run(&[
        "eval",
        "--ground-truth",
        &gt,
        "--predictions",
        &preds,
        "-o",
        &other,
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("other.json"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        "{\"not\": \"an eval\"}"
    );
    let r = run(&[
        "eval",
        "--ground-truth",
        &gt,
        "--predictions",
        &preds,
        "-o",
        &preds,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

const EXAMPLE_CHECK: [&str; 9] = [
    "check",
    "--policy",
    "examples/coco/policy.yaml",
    "--ground-truth",
    "examples/coco/gt.json",
    "--baseline",
    "coco:examples/coco/baseline-predictions.json",
    "--candidate",
    "coco:examples/coco/candidate-predictions.json",
];

/// A JSON report without the two sources' names, which differ by design.
fn checks_of(report: &str) -> Value {
    let mut doc: Value = serde_json::from_str(report).unwrap();
    for side in ["baseline", "candidate"] {
        doc[side]["source"] = Value::Null;
    }
    doc
}

#[test]
fn check_gates_coco_predictions_as_it_gates_the_evals_they_make() {
    let r = run(&[&EXAMPLE_CHECK[..], &["--json", "-"]].concat());
    // The example's candidate drops a third of its truck detections.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let direct = checks_of(&r.stdout);
    let truck = direct["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "truck")
        .expect("a truck check");
    assert_eq!(truck["status"], "fail", "{truck}");

    // The same gate over the evals `evalgate eval` writes.
    let dir = tempfile::tempdir().unwrap();
    let mut saved = Vec::new();
    for side in ["baseline", "candidate"] {
        let out = dir.path().join(format!("{side}.json"));
        let preds = format!("examples/coco/{side}-predictions.json");
        let r = run(&[
            "eval",
            "--ground-truth",
            "examples/coco/gt.json",
            "--predictions",
            &preds,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        saved.push(out.to_str().unwrap().to_owned());
    }
    let r = run(&[
        "check",
        "--policy",
        "examples/coco/policy.yaml",
        "--baseline",
        &saved[0],
        "--candidate",
        &saved[1],
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(checks_of(&r.stdout), direct);
    // A policy on mAP only does not read the matching: no support, as in the saved evals.
    assert_eq!(truck["support"], Value::Null, "{truck}");

    // A saved baseline and a coco: candidate mix.
    let r = run(&[
        "check",
        "--policy",
        "examples/coco/policy.yaml",
        "--ground-truth",
        "test=examples/coco/gt.json",
        "--baseline",
        &saved[0],
        "--candidate",
        "coco:test=examples/coco/candidate-predictions.json",
        "--json",
        "-",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(checks_of(&r.stdout), direct);
}

#[test]
fn check_reads_one_ground_truth_per_split() {
    let gt = "examples/coco/gt.json";
    let preds = "examples/coco/baseline-predictions.json";
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: {max_drop: 0}\n  test:\n    map50: {max_drop: 0}\n",
    );
    let both = format!("coco:valid={preds},test={preds}");
    let r = run(&[
        "check",
        "--policy",
        &policy,
        "--ground-truth",
        &format!("valid={gt}"),
        "--ground-truth",
        &format!("test={gt}"),
        "--baseline",
        &both,
        "--candidate",
        &both,
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("2 checks (2 pass)"), "{}", r.stdout);
}

#[test]
fn a_split_on_one_side_only_is_a_usage_error() {
    let gt = "examples/coco/gt.json";
    let preds = "coco:examples/coco/baseline-predictions.json";
    let base = ["check", "--policy", "examples/coco/policy.yaml"];
    for (args, says) in [
        (
            vec![
                "--ground-truth",
                gt,
                "--baseline",
                preds,
                "--candidate",
                "coco:valid=x.json",
            ],
            "split \"valid\" has predictions but no ground truth",
        ),
        (
            vec![
                "--ground-truth",
                gt,
                "--ground-truth",
                "valid=v.json",
                "--candidate",
                preds,
            ],
            "split \"valid\" has ground truth but no predictions",
        ),
        (
            vec![
                "--ground-truth",
                gt,
                "--ground-truth",
                gt,
                "--candidate",
                preds,
            ],
            "names split \"test\" twice",
        ),
        (vec!["--candidate", preds], "add --ground-truth"),
        (
            vec![
                "--ground-truth",
                gt,
                "--candidate",
                "examples/evals/candidate.json",
            ],
            "read only for coco: sources",
        ),
        (
            vec!["--ground-truth", gt, "--candidate", "coco:"],
            "not a COCO source",
        ),
    ] {
        let r = run(&[&base[..], &args].concat());
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn broken_predictions_in_check_name_the_side_the_file_and_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.json",
        r#"[{"image_id": 1, "category_id": 99, "bbox": [1, 1, 2, 2], "score": 0.5}]"#,
    );
    let candidate = format!("coco:{bad}");
    let r = run(&[&EXAMPLE_CHECK[..7], &["--candidate", &candidate]].concat());
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("candidate: ") && r.stderr.contains("bad.json: result 0"),
        "{}",
        r.stderr
    );
    // A report never overwrites a COCO input.
    let r = run(&[&EXAMPLE_CHECK[..], &["--json", "examples/coco/gt.json"]].concat());
    assert_eq!(r.code, 2, "{}", r.stderr);
}

fn evaluation(gt: &Path, preds: &Path, iou: &str) -> evalgate::coco::Evaluation {
    use evalgate::coco::{IouType, Named, evaluate};
    let (g, p) = (std::fs::read(gt).unwrap(), std::fs::read(preds).unwrap());
    let iou = if iou == "segm" {
        IouType::Segm
    } else {
        IouType::Bbox
    };
    let (gt_name, preds_name) = (gt.to_str().unwrap(), preds.to_str().unwrap());
    evaluate(
        Named {
            name: gt_name,
            bytes: &g,
        },
        Named {
            name: preds_name,
            bytes: &p,
        },
        iou,
    )
    .unwrap()
}

/// Every (ground truth, predictions, IoU type) the fixtures' expected.json lists.
fn fixture_runs() -> Vec<(std::path::PathBuf, std::path::PathBuf, String)> {
    let root = repo("tests/fixtures/coco");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.join("expected.json").exists())
        .collect();
    cases.sort();
    let mut out = Vec::new();
    for case in cases {
        let expected: Value =
            serde_json::from_slice(&std::fs::read(case.join("expected.json")).unwrap()).unwrap();
        for (file, by_iou) in expected["expected"].as_object().unwrap() {
            for iou in by_iou.as_object().unwrap().keys() {
                out.push((case.join("gt.json"), case.join(file), iou.clone()));
            }
        }
    }
    out
}

#[test]
fn the_weighted_accumulate_at_unit_weights_is_the_summary_on_every_case() {
    use evalgate::coco::bootstrap::{MapQuantity, matched_detections, values};
    let (mut numbers, mut nulls) = (0, 0);
    for (gt, preds, iou) in fixture_runs() {
        let ev = evaluation(&gt, &preds, &iou);
        let matched = matched_detections(&ev).unwrap();
        let quantities = MapQuantity::every(matched.classes().len());
        let ones = vec![1; matched.images().len()];
        let values = values(&matched, &ones, &quantities);
        let split = ev.split();
        for (q, got) in quantities.iter().zip(&values) {
            let scope = match q.class {
                None => &split.overall,
                Some(k) => &split.classes[&matched.classes()[k]],
            };
            let metrics = match q.size {
                None => &scope.metrics,
                Some(size) => scope.size(size),
            };
            let want = metrics.get(q.metric.metric());
            let name = format!("{} {iou} {q:?}", preds.display());
            match (got, want) {
                (Some(g), Some(w)) => {
                    assert!((g - w).abs() <= 1e-12, "{name}: weighted {g}, summary {w}");
                    numbers += 1;
                }
                (None, None) => nulls += 1,
                _ => panic!("{name}: weighted {got:?}, summary {want:?}"),
            }
        }
    }
    assert!(numbers > 700 && nulls > 100, "{numbers} {nulls}");
}

fn bootstrap_pair() -> (
    evalgate::coco::bootstrap::MatchedDetections,
    evalgate::coco::bootstrap::MatchedDetections,
) {
    use evalgate::coco::bootstrap::matched_detections;
    let root = repo("tests/fixtures/coco");
    let gt = root.join("bootstrap-gt.json");
    let side = |name: &str| {
        let ev = evaluation(&gt, &root.join(format!("bootstrap-{name}.json")), "bbox");
        matched_detections(&ev).unwrap()
    };
    (side("baseline"), side("candidate"))
}

/// The fixture's key for a quantity: `class|size|metric`, empty for the split or all sizes.
fn reference_key(q: &evalgate::coco::bootstrap::MapQuantity, classes: &[String]) -> String {
    format!(
        "{}|{}|{}",
        q.class.map_or("", |k| classes[k].as_str()),
        q.size.map_or("", |s| s.name()),
        q.metric.metric().name()
    )
}

#[test]
fn the_paired_map_bootstrap_is_the_numpy_reference_on_its_weights() {
    use evalgate::coco::bootstrap::{MapQuantity, compare_weighted};
    use evalgate::stats::Untestable;
    let reference: Value = serde_json::from_slice(
        &std::fs::read(repo("tests/fixtures/coco/bootstrap-reference.json")).unwrap(),
    )
    .unwrap();
    let weights: Vec<Vec<u32>> = serde_json::from_value(reference["weights"].clone()).unwrap();
    let (baseline, candidate) = bootstrap_pair();
    assert_eq!(
        baseline.images().len(),
        reference["images"].as_u64().unwrap() as usize
    );
    let quantities = MapQuantity::every(baseline.classes().len());
    let got = compare_weighted(&baseline, &candidate, &weights, &quantities).unwrap();
    let estimates = reference["estimates"].as_object().unwrap();
    assert_eq!(estimates.len(), quantities.len());
    let (mut tested, mut undefined, mut partial) = (0, 0, 0);
    for (q, got) in quantities.iter().zip(&got) {
        let key = reference_key(q, baseline.classes());
        let want = &estimates[&key];
        match (got, want["untestable"].as_str()) {
            (Ok(e), None) => {
                let close = |field: &str, value: f64| {
                    let w = want[field].as_f64().unwrap();
                    assert!(
                        (value - w).abs() <= 1e-12,
                        "{key} {field}: evalgate {value}, NumPy {w}"
                    );
                };
                close("baseline", e.baseline);
                close("candidate", e.candidate);
                close("delta", e.delta);
                close("ci_low", e.ci_low);
                close("ci_high", e.ci_high);
                close("std_error", e.std_error);
                close("p_value", e.p_value);
                close("p_percentile", e.p_percentile);
                assert_eq!(
                    e.resamples as u64,
                    want["resamples"].as_u64().unwrap(),
                    "{key}"
                );
                partial += usize::from(e.resamples < weights.len());
                tested += 1;
            }
            (Err(Untestable::Undefined { .. }), Some("undefined")) => undefined += 1,
            _ => panic!("{key}: evalgate {got:?}, NumPy {want}"),
        }
    }
    // The fixture has a class with no ground truth, and a rare one some replicates lack.
    assert!(
        tested >= 40 && undefined >= 12 && partial >= 3,
        "{tested} {undefined} {partial}"
    );
}

#[test]
fn the_paired_map_bootstrap_is_its_resamplings_weights_on_any_thread_count() {
    use evalgate::coco::bootstrap::{MapQuantity, compare_matched, compare_weighted};
    use evalgate::stats::Resampling;
    use std::num::NonZeroUsize;
    let (baseline, candidate) = bootstrap_pair();
    let quantities = MapQuantity::every(baseline.classes().len());
    let images = baseline.images().len();
    let resampling =
        |threads| Resampling::new(images, 300, 7).with_threads(NonZeroUsize::new(threads).unwrap());
    let one = compare_matched(&baseline, &candidate, &resampling(1), &quantities).unwrap();
    let three = compare_matched(&baseline, &candidate, &resampling(3), &quantities).unwrap();
    assert_eq!(one, three);
    let weights: Vec<Vec<u32>> = (0..300)
        .map(|r| {
            let mut w = vec![0; images];
            resampling(1).weights(r, &mut w);
            w
        })
        .collect();
    let by_hand = compare_weighted(&baseline, &candidate, &weights, &quantities).unwrap();
    assert_eq!(one, by_hand);
    assert!(one.iter().filter(|e| e.is_ok()).count() >= 40);
    // Another seed draws other images.
    let other = compare_matched(
        &baseline,
        &candidate,
        &Resampling::new(images, 300, 8),
        &quantities,
    )
    .unwrap();
    assert_ne!(one, other);
}

#[test]
fn the_paired_map_bootstrap_refuses_evaluations_on_other_images() {
    use evalgate::coco::bootstrap::{MapQuantity, PairError, compare_matched};
    use evalgate::stats::Resampling;
    let (baseline, _) = bootstrap_pair();
    let root = repo("tests/fixtures/coco/ties");
    let other = evaluation(
        &root.join("gt.json"),
        &root.join("predictions.json"),
        "bbox",
    );
    let other = evalgate::coco::bootstrap::matched_detections(&other).unwrap();
    let q = MapQuantity::every(1);
    let err = compare_matched(&baseline, &other, &Resampling::new(40, 10, 1), &q).unwrap_err();
    assert!(matches!(err, PairError::DifferentImages { .. }), "{err}");
    let err = compare_matched(&baseline, &baseline, &Resampling::new(39, 10, 1), &q).unwrap_err();
    assert!(
        err.to_string()
            .contains("draws 39 images, but the evaluations have 40"),
        "{err}"
    );
}

/// Compares a ratio evalgate computed with pycocotools' (null: undefined).
fn same_ratio(got: Option<f64>, want: &Value, what: &str) {
    match (got, want.as_f64()) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= TOLERANCE,
            "{what}: evalgate {g}, pycocotools {w}"
        ),
        (None, None) => assert!(want.is_null(), "{what}: {want}"),
        _ => panic!("{what}: evalgate {got:?}, pycocotools {want}"),
    }
}

fn same_counts(got: evalgate::coco::operating::Tally, want: &Value, what: &str) {
    assert_eq!(
        [got.tp, got.fp, got.fn_],
        [&want["tp"], &want["fp"], &want["fn"]].map(|v| v.as_u64().unwrap()),
        "{what}"
    );
}

fn same_prf(got: evalgate::model::Prf, want: &Value, what: &str) {
    same_ratio(
        got.precision,
        &want["precision"],
        &format!("{what} precision"),
    );
    same_ratio(got.recall, &want["recall"], &format!("{what} recall"));
    same_ratio(got.f1, &want["f1"], &format!("{what} f1"));
}

/// One scope (the split or a class) against the reference: counts at every percent, the
/// sweep's ratios at the reference's confidences, and the F1-optimal threshold.
fn same_scope(
    counts: &dyn Fn(f64) -> evalgate::coco::operating::Tally,
    curve: &evalgate::model::Curve,
    want: &Value,
    what: &str,
) -> usize {
    use evalgate::model::Percent;
    let mut numbers = 0;
    for percent in 0..100u8 {
        let c = counts(f64::from(percent) / 100.0);
        let grid = &want["grid"];
        let p = usize::from(percent);
        assert_eq!(
            [c.tp, c.fp, c.fn_],
            [&grid["tp"][p], &grid["fp"][p], &grid["fn"][p]].map(|v| v.as_u64().unwrap()),
            "{what} at 0.{percent:02}"
        );
        numbers += 3;
    }
    assert_eq!(curve.per_threshold.len(), 100, "{what}");
    for (key, at) in want["at"].as_object().unwrap() {
        let confidence: f64 = key.parse().unwrap();
        same_counts(counts(confidence), at, &format!("{what} at {key}"));
        let percent = Percent::from_fraction(confidence).unwrap();
        same_prf(
            curve.per_threshold[&percent],
            at,
            &format!("{what} at {key}"),
        );
        numbers += 6;
    }
    let optimal = &want["optimal"];
    match optimal["threshold"].as_f64() {
        None => {
            assert!(optimal.is_null(), "{what}: {optimal}");
            assert_eq!(
                (curve.optimal_threshold, curve.optimal),
                (None, None),
                "{what}"
            );
        }
        Some(t) => {
            assert_eq!(curve.optimal_threshold, Some(t), "{what} optimal threshold");
            same_prf(curve.optimal.unwrap(), optimal, &format!("{what} optimal"));
            numbers += 4;
        }
    }
    numbers
}

#[test]
fn precision_recall_and_f1_at_a_confidence_are_pycocotools_matching_on_every_case() {
    use evalgate::model::Percent;
    let (mut numbers, mut undefined, mut ignored_crowd) = (0, 0, false);
    for (gt, preds, iou) in fixture_runs() {
        let case = gt.parent().unwrap();
        let reference: Value =
            serde_json::from_slice(&std::fs::read(case.join("operating.json")).unwrap()).unwrap();
        let file = preds.file_name().unwrap().to_str().unwrap();
        let want = &reference["expected"][file][iou.as_str()];
        let name = format!(
            "{}/{file} {iou}",
            case.file_name().unwrap().to_string_lossy()
        );
        assert!(
            want.is_object(),
            "{name}: no reference; run scripts/coco-operating-reference.py"
        );
        let matching = evaluation(&gt, &preds, &iou).iou50_matching().unwrap();
        let classes: Vec<&str> = want["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(matching.classes(), classes, "{name}");
        for (k, class) in classes.iter().enumerate() {
            assert_eq!(
                matching.support()[k],
                want["support"][class].as_u64().unwrap(),
                "{name} {class} support"
            );
        }
        let sweep = matching.sweep();
        numbers += same_scope(
            &|c| matching.counts_at(c).1,
            &sweep.overall,
            &want["split"],
            &name,
        );
        for (k, class) in classes.iter().enumerate() {
            let scope = &want["perClass"][class];
            numbers += same_scope(
                &|c| matching.counts_at(c).0[k],
                &sweep.classes[*class],
                scope,
                &format!("{name} {class}"),
            );
            undefined += scope["at"]
                .as_object()
                .unwrap()
                .values()
                .filter(|v| v["f1"].is_null())
                .count();
        }
        if case.ends_with("crowd") {
            // Crowd regions: detections on them are neither TP nor FP, so TP + FP is less
            // than the detections counted at 0.
            let counted = want["split"]["at"]["0.0"]["tp"].as_u64().unwrap()
                + want["split"]["at"]["0.0"]["fp"].as_u64().unwrap();
            let results: Value = serde_json::from_slice(&std::fs::read(&preds).unwrap()).unwrap();
            ignored_crowd = counted < results.as_array().unwrap().len() as u64;
        }

        let at = Percent::from_fraction(reference["image_confidence"].as_f64().unwrap()).unwrap();
        let outcomes = matching.images_at(at);
        assert_eq!(outcomes.confidence, Some(at));
        assert_eq!(outcomes.classes, classes, "{name}");
        let images = want["images"].as_array().unwrap();
        assert_eq!(outcomes.images.len(), images.len(), "{name}");
        for (got, want) in outcomes.images.iter().zip(images) {
            let what = format!("{name} image {}", want["id"]);
            assert_eq!(got.id, want["id"].to_string(), "{what}");
            assert_eq!(got.name, want["file_name"].as_str().unwrap(), "{what}");
            assert_eq!(
                [got.tp, got.fp, got.fn_],
                [&want["tp"], &want["fp"], &want["fn"]].map(|v| v.as_u64().unwrap()),
                "{what}"
            );
            for (k, class) in classes.iter().enumerate() {
                let (tp, fp, fn_) = got.class_counts(k as u32);
                let expected: Vec<u64> = want["perClass"].get(*class).map_or(vec![0, 0, 0], |v| {
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_u64().unwrap())
                        .collect()
                });
                assert_eq!(vec![tp, fp, fn_], expected, "{what} {class}");
                numbers += 3;
            }
            numbers += 3;
        }
    }
    assert!(ignored_crowd, "the crowd case ignores no detection");
    // A class without ground truth or detections above some confidence is undefined there.
    assert!(numbers > 25_000 && undefined > 10, "{numbers} {undefined}");
}

/// pycocotools' numbers for examples/coco (scripts/coco-operating-reference.py).
fn example_reference(side: &str) -> Value {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(repo("tests/fixtures/coco/example-operating.json")).unwrap(),
    )
    .unwrap();
    doc["expected"][format!("{side}-predictions.json")]["bbox"].clone()
}

/// `check` on the example with `policy`, the JSON report parsed.
fn example_check(policy: &str) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.yaml", policy);
    let mut args = EXAMPLE_CHECK.to_vec();
    args[2] = &policy;
    let r = run(&[&args[..], &["--json", "-"]].concat());
    let doc = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, doc, r.stderr)
}

fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {doc}"))
}

fn same_value(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_f64(), want.as_f64());
    assert!(
        matches!((g, w), (Some(g), Some(w)) if (g - w).abs() <= TOLERANCE),
        "{what}: evalgate {got}, pycocotools {want}"
    );
}

#[test]
fn check_reads_precision_recall_and_support_of_coco_sources_at_the_operating_point() {
    let (code, doc, stderr) = example_check(
        "version: 1\noperating_point: {confidence: 0.5}\nsplits:\n  test:\n    precision: {min: 0.9}\n    recall: {max_drop: 0.1}\n    classes:\n      \"*\":\n        min_support: 20\n        recall: {max_drop: 0.05}\n",
    );
    // Truck recall at 0.50 falls from 14 of 23 to 9 of 23.
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(doc["operating_point"]["confidence"], 0.5);
    assert_eq!(doc["operating_point"]["baseline"]["test"], 0.5);
    assert_eq!(doc["operating_point"]["candidate"]["test"], 0.5);
    let (base, cand) = (
        example_reference("baseline"),
        example_reference("candidate"),
    );
    let at = |r: &Value, class: Option<&str>, metric: &str| match class {
        None => r["split"]["at"]["0.5"][metric].clone(),
        Some(c) => r["perClass"][c]["at"]["0.5"][metric].clone(),
    };
    for (id, class, metric, status) in [
        ("test/precision/min", None, "precision", "pass"),
        ("test/recall/max_drop", None, "recall", "pass"),
        (
            "test/class/truck/recall/max_drop",
            Some("truck"),
            "recall",
            "fail",
        ),
        (
            "test/class/person/recall/max_drop",
            Some("person"),
            "recall",
            "pass",
        ),
        // 15 cars: fewer than min_support.
        (
            "test/class/car/recall/max_drop",
            Some("car"),
            "recall",
            "skip",
        ),
    ] {
        let c = check(&doc, id);
        assert_eq!(c["status"], status, "{c}");
        same_value(&c["baseline"], &at(&base, class, metric), id);
        same_value(&c["candidate"], &at(&cand, class, metric), id);
        assert!(c.get("statistics").is_none(), "{c}");
        if let Some(class) = class {
            assert_eq!(c["support"], base["support"][class], "{c}");
        }
    }
    assert!(
        check(&doc, "test/class/car/recall/max_drop")["message"]
            .as_str()
            .unwrap()
            .contains("insufficient support: 15")
    );
}

#[test]
fn noise_tests_of_coco_sources_run_on_their_local_per_image_outcomes() {
    let (code, doc, stderr) = example_check(
        "version: 1\noperating_point: {confidence: 0.5}\nstatistics: {resamples: 500, seed: 7}\nsplits:\n  test:\n    recall: {max_drop: 0.02}\n    classes:\n      truck:\n        recall: {max_drop: 0.05}\n",
    );
    assert_eq!(code, 1, "{stderr}");
    let (base, cand) = (
        example_reference("baseline"),
        example_reference("candidate"),
    );
    // The split's 6.5-point drop is within the noise of 20 images: a warning.
    let split = check(&doc, "test/recall/max_drop");
    assert_eq!(split["status"], "warn", "{split}");
    let truck = check(&doc, "test/class/truck/recall/max_drop");
    assert_eq!(truck["status"], "fail", "{truck}");
    for (c, scope) in [(split, &["split"][..]), (truck, &["perClass", "truck"][..])] {
        let s = &c["statistics"];
        assert_eq!(s["images"], 20, "{c}");
        assert_eq!(s["resamples"], 500, "{c}");
        let reference = |r: &Value| {
            scope.iter().fold(r, |v, k| &v[*k]).get("at").unwrap()["0.5"]["recall"].clone()
        };
        // Recounted from the per-image outcomes: the same as the sweep.
        same_value(&s["recomputed_baseline"], &reference(&base), "baseline");
        same_value(&s["recomputed_candidate"], &reference(&cand), "candidate");
    }
    assert_eq!(truck["statistics"]["significant"], true, "{truck}");
    assert_eq!(split["statistics"]["significant"], false, "{split}");
    // The images that lost trucks, by the ground truth's file names.
    let evidence: Vec<&str> = truck["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["image_name"].as_str().unwrap())
        .collect();
    assert!(
        !evidence.is_empty() && evidence.iter().all(|n| n.ends_with(".jpg")),
        "{evidence:?}"
    );
    for e in truck["evidence"].as_array().unwrap() {
        let id: u64 = e["image_id"].as_str().unwrap().parse().unwrap();
        let fn_of = |r: &Value| {
            let im = r["images"]
                .as_array()
                .unwrap()
                .iter()
                .find(|im| im["id"] == id)
                .unwrap();
            im["perClass"]
                .get("truck")
                .map_or(0, |c| c[2].as_u64().unwrap())
        };
        assert_eq!(e["baseline_fn"].as_u64(), Some(fn_of(&base)), "{e}");
        assert_eq!(e["candidate_fn"].as_u64(), Some(fn_of(&cand)), "{e}");
    }
}

#[test]
fn at_optimal_each_coco_source_is_read_at_its_own_f1_optimal_threshold() {
    let (code, doc, stderr) = example_check(
        "version: 1\noperating_point: {confidence: optimal}\nstatistics: {resamples: 200}\nsplits:\n  test:\n    f1: {min: 0.5, max_drop: 0.5}\n    optimal_threshold: {max_shift: 0.1}\n    classes:\n      \"*\":\n        recall: {min: 0.1}\n",
    );
    assert_eq!(code, 0, "{stderr}");
    let (base, cand) = (
        example_reference("baseline"),
        example_reference("candidate"),
    );
    for (side, r) in [("baseline", &base), ("candidate", &cand)] {
        let optimal = &r["split"]["optimal"];
        same_value(
            &doc["operating_point"][side]["test"],
            &optimal["threshold"],
            side,
        );
        same_value(&check(&doc, "test/f1/min")[side], &optimal["f1"], side);
        same_value(
            &check(&doc, "test/optimal_threshold/max_shift")[side],
            &optimal["threshold"],
            side,
        );
        // A class at its own F1-optimal threshold, as Roboflow's per-class table.
        for class in ["car", "person", "truck"] {
            let c = check(&doc, &format!("test/class/{class}/recall/min"));
            same_value(&c[side], &r["perClass"][class]["optimal"]["recall"], class);
        }
    }
    // The noise test's per-image outcomes are at each eval's own threshold too.
    let f1 = &check(&doc, "test/f1/max_drop")["statistics"];
    same_value(
        &f1["recomputed_baseline"],
        &base["split"]["optimal"]["f1"],
        "f1",
    );
    same_value(
        &f1["recomputed_candidate"],
        &cand["split"]["optimal"]["f1"],
        "f1",
    );
}

#[test]
fn a_confusion_rule_on_coco_sources_is_refused_before_anything_is_evaluated() {
    let (code, _, stderr) = example_check(
        "version: 1\noperating_point: {confidence: 0.5}\nsplits:\n  test:\n    recall: {min: 0.1}\nconfusions:\n  - {split: test, actual: truck, predicted: background, max: 0.5}\n",
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("confusion rule on split \"test\"")
            && stderr.contains("no confusion matrix")
            && stderr.contains("remove the rule"),
        "{stderr}"
    );
}

#[test]
fn image_file_names_from_the_ground_truth_reach_reports_only_escaped() {
    // 40 images of one car each; the candidate misses the first 20: a significant drop, with
    // those images as evidence, named to inject HTML, a mention and a link.
    let hostile = "<img src=x onerror=alert(1)>@team https://x.test/a.jpg";
    let images: Vec<Value> = (1..=40)
        .map(|i| {
            let name = if i <= 20 {
                format!("{hostile}{i}")
            } else {
                format!("{i}.jpg")
            };
            serde_json::json!({"id": i, "file_name": name, "width": 100, "height": 100})
        })
        .collect();
    let annotations: Vec<Value> = (1..=40)
        .map(|i| serde_json::json!({"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500, "iscrowd": 0}))
        .collect();
    let gt = serde_json::json!({"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "car"}]});
    let found = |from: u32| -> String {
        let dets: Vec<Value> = (from..=40)
            .map(|i| serde_json::json!({"image_id": i, "category_id": 1, "bbox": [10, 10, 50, 50], "score": 0.9}))
            .collect();
        Value::Array(dets).to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let gt = write(dir.path(), "gt.json", &gt.to_string());
    let base = write(dir.path(), "base.json", &found(1));
    let cand = write(dir.path(), "cand.json", &found(21));
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\noperating_point: {confidence: 0.5}\nstatistics: {resamples: 200}\nsplits:\n  test:\n    classes:\n      car:\n        recall: {max_drop: 0.05}\n",
    );
    let md = dir.path().join("report.md");
    let json = dir.path().join("report.json");
    let r = run(&[
        "check",
        "--policy",
        &policy,
        "--ground-truth",
        &gt,
        "--baseline",
        &format!("coco:{base}"),
        "--candidate",
        &format!("coco:{cand}"),
        "--markdown",
        md.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let evidence = doc["checks"][0]["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 20, "{doc}");
    assert_eq!(
        evidence[0]["image_name"],
        format!("{hostile}{}", evidence[0]["image_id"].as_str().unwrap())
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt;"), "{md}");
    assert!(
        !md.contains("<img") && !md.contains("@team") && !md.contains("https://"),
        "{md}"
    );
}

const GATE_CHECK: [&str; 9] = [
    "check",
    "--policy",
    "tests/fixtures/coco-gate/policy.yaml",
    "--ground-truth",
    "tests/fixtures/coco-gate/gt.json",
    "--baseline",
    "coco:tests/fixtures/coco-gate/baseline.json",
    "--candidate",
    "coco:tests/fixtures/coco-gate/candidate.json",
];

/// pycocotools' value of a check's scope (scripts/coco-gate-fixture.py).
fn pycocotools_value(expected: &Value, side: &str, check: &Value) -> f64 {
    let key = format!(
        "{}|{}|{}",
        check["class"].as_str().unwrap_or(""),
        check["size"].as_str().unwrap_or(""),
        check["metric"].as_str().unwrap()
    );
    expected[side][&key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key}"))
}

#[test]
fn check_noise_tests_map_drops_of_two_coco_sources_at_every_scope() {
    let expected: Value = serde_json::from_slice(
        &std::fs::read(repo("tests/fixtures/coco-gate/expected.json")).unwrap(),
    )
    .unwrap();
    let r = run(&[&GATE_CHECK[..], &["--json", "-"]].concat());
    // The candidate dropped 40% of its truck detections: a real regression.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["statistics"]["resamples"], 1000);
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5);
    let mut verdicts = Vec::new();
    for c in checks {
        let st = &c["statistics"];
        assert!(st.is_object(), "every mAP drop check is noise-tested: {c}");
        assert_eq!(
            (st["images"].as_u64(), st["resamples"].as_u64()),
            (Some(240), Some(1000))
        );
        // The observed difference is pycocotools' difference.
        let (b, k) = (
            pycocotools_value(&expected, "baseline", c),
            pycocotools_value(&expected, "candidate", c),
        );
        let delta = st["delta"].as_f64().unwrap();
        assert!(
            (delta - (k - b)).abs() < 1e-9,
            "{c}: Δ {delta}, pycocotools {}",
            k - b
        );
        let (lo, hi) = (
            st["ci_low"].as_f64().unwrap(),
            st["ci_high"].as_f64().unwrap(),
        );
        assert!(lo <= delta && delta <= hi, "{c}");
        let p = st["p_adjusted"].as_f64().unwrap();
        assert!(p >= st["p_value"].as_f64().unwrap(), "{c}");
        verdicts.push((
            c["class"].as_str().unwrap_or("-").to_owned(),
            c["size"].as_str().unwrap_or("-").to_owned(),
            c["status"].as_str().unwrap().to_owned(),
            st["significant"].as_bool().unwrap(),
        ));
    }
    let v = |class: &str, size: &str, status: &str, significant| {
        (
            class.to_owned(),
            size.to_owned(),
            status.to_owned(),
            significant,
        )
    };
    verdicts.sort();
    assert_eq!(
        verdicts,
        [
            v("-", "-", "fail", true),
            // Small objects are few: their drop is over the threshold, but not shown to be real.
            v("-", "small", "warn", false),
            // Two cars moved off their objects: over 0.5 pt, and within the noise.
            v("car", "-", "warn", false),
            v("truck", "-", "fail", true),
            v("truck", "large", "fail", true),
        ]
    );
    // Where to look: exactly the images whose truck detections were dropped, most first.
    let truck = checks
        .iter()
        .find(|c| c["class"] == "truck" && c["size"].is_null())
        .unwrap();
    let dropped = expected["trucks_dropped"].as_object().unwrap();
    assert_eq!(truck["worse_images"].as_u64(), Some(dropped.len() as u64));
    let evidence = truck["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), dropped.len().min(100));
    for pair in evidence.windows(2) {
        assert!(pair[0]["candidate_fn"].as_u64() >= pair[1]["candidate_fn"].as_u64());
    }
    for e in evidence {
        let id = e["image_id"].as_str().unwrap();
        let n = dropped[id].as_u64().unwrap();
        assert_eq!(
            (e["baseline_fn"].as_u64(), e["candidate_fn"].as_u64()),
            (Some(0), Some(n))
        );
        // Named by the ground truth's file name; image 5's is a number there, so by its id.
        let name = if id == "5" {
            "5".to_owned()
        } else {
            format!("frame-{id:0>4}.jpg")
        };
        assert_eq!(e["image_name"], name.as_str());
    }
}

#[test]
fn with_one_side_a_saved_eval_map_rules_keep_their_fixed_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("baseline.json");
    let r = run(&[
        "eval",
        "--ground-truth",
        "tests/fixtures/coco-gate/gt.json",
        "--predictions",
        "tests/fixtures/coco-gate/baseline.json",
        "-o",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut args = GATE_CHECK.to_vec();
    args[6] = saved.to_str().unwrap();
    let r = run(&[&args[..], &["--json", "-"]].concat());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    for c in doc["checks"].as_array().unwrap() {
        assert!(c.get("statistics").is_none_or(Value::is_null), "{c}");
        // Over its threshold with nothing to test it against: a failure, as without
        // statistics (`auto` is a threshold of 0).
        assert_eq!(c["status"], "fail", "{c}");
    }
}

#[test]
fn the_bootstrap_of_two_evaluations_reads_their_matchings_and_compares_them() {
    use evalgate::coco::bootstrap::{MapQuantity, compare, compare_matched};
    use evalgate::stats::Resampling;
    let root = repo("tests/fixtures/coco");
    let gt = root.join("bootstrap-gt.json");
    let side = |name: &str| evaluation(&gt, &root.join(format!("bootstrap-{name}.json")), "bbox");
    let (b, c) = (side("baseline"), side("candidate"));
    let (mb, mc) = bootstrap_pair();
    let q = MapQuantity::every(mb.classes().len());
    let resampling = Resampling::new(mb.images().len(), 100, 5);
    assert_eq!(
        compare(&b, &c, &resampling, &q).unwrap(),
        compare_matched(&mb, &mc, &resampling, &q).unwrap()
    );
    // The matching carries the ground truth's file names, in image order.
    let names: Vec<String> = mb.images().iter().map(|id| format!("{id}.jpg")).collect();
    assert_eq!(mb.image_names(), names);
}

#[test]
fn map_and_recall_drops_of_coco_sources_are_tested_under_one_correction() {
    // The gate of coco-gate/policy.yaml plus recall at an operating point: both matchings are
    // read from each evaluation, and Holm corrects the mAP and recall tests together.
    let policy = std::fs::read_to_string(repo("tests/fixtures/coco-gate/policy.yaml")).unwrap();
    let policy = policy
        .replace(
            "statistics:",
            "operating_point: {confidence: 0.5}\nstatistics:",
        )
        .replacen("  test:\n", "  test:\n    recall: {max_drop: 0.01}\n", 1);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", &policy);
    let mut args = GATE_CHECK.to_vec();
    args[2] = &path;
    let r = run(&[&args[..], &["--json", "-"]].concat());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 6, "{doc}");
    let tested: Vec<&Value> = checks.iter().map(|c| &c["statistics"]).collect();
    assert!(tested.iter().all(|s| s.is_object()), "{doc}");
    let recall = checks.iter().find(|c| c["metric"] == "recall").unwrap();
    // The recall drop is the trucks the candidate lost, counted at 0.5.
    assert!(
        recall["statistics"]["delta"].as_f64().unwrap() < 0.0,
        "{recall}"
    );
    // Holm over six tests: the smallest p is multiplied by six.
    let mut p: Vec<(f64, f64)> = tested
        .iter()
        .map(|s| {
            (
                s["p_value"].as_f64().unwrap(),
                s["p_adjusted"].as_f64().unwrap(),
            )
        })
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (smallest, adjusted) = p[0];
    assert!(
        (adjusted - (smallest * 6.0).min(1.0)).abs() <= 1e-12 * adjusted.max(1e-300),
        "{p:?}"
    );
    // The mAP verdicts are those of the mAP-only gate: the recall test takes a share of the
    // correction, not their meaning.
    let truck = checks
        .iter()
        .find(|c| c["class"] == "truck" && c["size"].is_null())
        .unwrap();
    assert_eq!(truck["status"], "fail");
    assert_eq!(truck["statistics"]["significant"], true);
}
