//! Every example policy parses and runs against the example evals with the outcome its
//! comments promise.

use crate::{candidate_check, check_args, example_check, read_json, run};

#[test]
fn every_example_policy_is_exercised() {
    let mut found: Vec<String> = std::fs::read_dir(crate::repo("policies"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "detection.yaml",
            "operating-point.yaml",
            "segmentation.yaml"
        ],
        "a new example policy needs a test here"
    );
}

#[test]
fn the_operating_point_example_is_valid_and_asks_for_the_panels_it_reads() {
    let r = run(&["policy", "check", "policies/operating-point.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn detection_example_catches_the_license_plate_regression() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let r = run(&example_check(
        "detection",
        &["--today", "2026-11-26", "--json", json.to_str().unwrap()],
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = read_json(json);
    let by_status = |s: &str| -> Vec<String> {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == s)
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        by_status("fail"),
        ["valid/class/license-plate/map50/max_drop"]
    );
    assert_eq!(
        by_status("waived"),
        ["valid/class/side-mirror/map50/max_drop"]
    );
    assert_eq!(by_status("skip"), ["valid/class/tail-light/map50/max_drop"]);
    // Without a baseline only the floors apply, and the example candidate clears them.
    let r = run(&candidate_check(
        "policies/detection.yaml",
        "examples/evals/candidate.json",
        &[],
    ));
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn segmentation_example_passes_and_needs_its_baseline() {
    let r = run(&example_check("segmentation", &[]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // `missing.baseline: fail`: without the baseline the drop rules fail.
    let r = run(&candidate_check(
        "policies/segmentation.yaml",
        "examples/evals/segmentation-candidate.json",
        &[],
    ));
    assert_eq!(r.code, 1, "{}", r.stdout);
    // Swapping in a degraded class fails it.
    let degraded =
        std::fs::read_to_string(crate::repo("examples/evals/segmentation-candidate.json"))
            .unwrap()
            .replace("\"iou\": 0.709", "\"iou\": 0.650");
    let dir = tempfile::tempdir().unwrap();
    let c = crate::write(dir.path(), "c.json", &degraded);
    let r = run(&check_args(
        "policies/segmentation.yaml",
        "examples/evals/segmentation-baseline.json",
        &c,
        &[],
    ));
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains(r#"valid / class "sidewalk" / iou max_drop"#),
        "{}",
        r.stdout
    );
}

#[test]
fn the_roboflow_docs_example_parses() {
    let dir = tempfile::tempdir().unwrap();
    let rules = "splits:\n  test:\n    map50: 0.9\n    sizes:\n      large: {map50: 0.5}\n    classes:\n      Car-rims:\n        sizes:\n          small: {map50_95: 0.6}\n";
    let eval = "tests/fixtures/roboflow/docs-map-results-object-detection.PARTIAL.json";
    // The example has no large objects: a floor on them cannot be checked, and fails closed.
    let p = crate::write(
        dir.path(),
        "p.yaml",
        &format!("version: 1\ntask: object-detection\n{rules}"),
    );
    let r = run(&candidate_check(&p, eval, &[]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "test / large / map50 min: no value in the candidate, and none in a baseline"
        ),
        "{}",
        r.stdout
    );
    // Saying that absent values are expected turns it into a skip.
    let p = crate::write(
        dir.path(),
        "p.yaml",
        &format!("version: 1\nmissing:\n  metric: skip\n{rules}"),
    );
    let r = run(&candidate_check(&p, eval, &[]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The skip is listed with its reason.
    assert_eq!(
        r.stdout,
        "evalgate: PASS: 3 checks (1 skip, 2 pass)\n  No check failed (2 passed, 1 skipped); test map50 92.4.\n  skip test / large / map50 min: no value in the candidate, and none in a baseline; missing.metric is skip\n"
    );
}

/// The example says that `severity: warn` on lane-marking softens the inherited `max_drop`
/// as well as the floor; it does.
#[test]
fn the_segmentation_examples_warn_covers_the_inherited_drop_rule() {
    let text = std::fs::read_to_string(crate::repo("policies/segmentation.yaml")).unwrap();
    assert!(
        text.contains("the 0.03 max_drop inherited from \"*\" warns too"),
        "{text}"
    );
    let worse = std::fs::read_to_string(crate::repo("examples/evals/segmentation-candidate.json"))
        .unwrap()
        .replace(
            "\"lane-marking\": {\"iou\": 0.530",
            "\"lane-marking\": {\"iou\": 0.480",
        );
    let dir = tempfile::tempdir().unwrap();
    let c = crate::write(dir.path(), "c.json", &worse);
    let args = [
        "check",
        "--policy",
        "policies/segmentation.yaml",
        "--baseline",
        "examples/evals/segmentation-baseline.json",
        "--candidate",
        &c,
    ];
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stdout);
    for rule in ["iou min", "iou max_drop"] {
        let line = format!("  warn valid / class \"lane-marking\" / {rule}:");
        assert!(r.stdout.contains(&line), "{line:?} in\n{}", r.stdout);
    }
    let mut strict = args.to_vec();
    strict.push("--strict");
    assert_eq!(run(&strict).code, 1);
}

#[test]
fn operating_point_example_catches_the_pedestrian_regression_beyond_the_noise() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let r = run(&example_check(
        "operating-point",
        &["--json", json.to_str().unwrap()],
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = read_json(&json);
    assert_eq!(report["verdict"], "fail");
    let check = |id: &str| -> &serde_json::Value {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id}: {report}"))
    };
    // Pedestrians: 245 of 305 found at 0.40, down from 282, over the same 300 images.
    let ped = check("valid/class/pedestrian/recall/max_drop");
    assert_eq!(ped["status"], "fail");
    assert_eq!(ped["baseline"], 0.9246);
    assert_eq!(ped["candidate"], 0.8033);
    let message = ped["message"].as_str().unwrap();
    assert!(
        message.contains("paired bootstrap over 300 images") && message.contains("significant"),
        "{message}"
    );
    assert_eq!(ped["statistics"]["images"], 300);
    assert_eq!(ped["statistics"]["significant"], true);
    // The panel's values are what the per-image outcomes add up to: no discrepancy noted.
    assert!(!message.contains("not the panel's"), "{message}");
    let recomputed = ped["statistics"]["recomputed_candidate"].as_f64().unwrap();
    assert!((recomputed - 245.0 / 305.0).abs() < 1e-12, "{recomputed}");
    assert_eq!(check("valid/recall/max_drop")["status"], "fail");
    assert_eq!(check("valid/class/pedestrian/recall/min")["status"], "fail");
    // Cars fared exactly as well: no drop, nothing to test.
    assert_eq!(check("valid/class/car/recall/max_drop")["status"], "pass");
    // Ten trucks are under min_support 25: skipped, not gated on chance.
    let truck = check("valid/class/truck/recall/max_drop");
    assert_eq!(truck["status"], "skip");
    assert!(
        truck["message"]
            .as_str()
            .unwrap()
            .contains("insufficient support"),
        "{truck}"
    );
    assert_eq!(check("valid/optimal_threshold/max_shift")["status"], "pass");
    for file in ["baseline", "candidate"] {
        let size = std::fs::metadata(crate::repo(&format!(
            "examples/evals/operating-point-{file}.json"
        )))
        .unwrap()
        .len();
        assert!(size < 200_000, "{file}: {size} bytes");
    }
}
