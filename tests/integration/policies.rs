//! Every example policy parses and runs against the example evals with the outcome its
//! comments promise.

use crate::run;

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
    let r = run(&[
        "check",
        "--policy",
        "policies/detection.yaml",
        "--baseline",
        "examples/evals/baseline.json",
        "--candidate",
        "examples/evals/candidate.json",
        "--today",
        "2026-11-26",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
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
    let r = run(&[
        "check",
        "--policy",
        "policies/detection.yaml",
        "--candidate",
        "examples/evals/candidate.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn segmentation_example_passes_and_needs_its_baseline() {
    let r = run(&[
        "check",
        "--policy",
        "policies/segmentation.yaml",
        "--baseline",
        "examples/evals/segmentation-baseline.json",
        "--candidate",
        "examples/evals/segmentation-candidate.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // `missing.baseline: fail`: without the baseline the drop rules fail.
    let r = run(&[
        "check",
        "--policy",
        "policies/segmentation.yaml",
        "--candidate",
        "examples/evals/segmentation-candidate.json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    // Swapping in a degraded class fails it.
    let degraded =
        std::fs::read_to_string(crate::repo("examples/evals/segmentation-candidate.json"))
            .unwrap()
            .replace("\"iou\": 0.709", "\"iou\": 0.650");
    let dir = tempfile::tempdir().unwrap();
    let c = crate::write(dir.path(), "c.json", &degraded);
    let r = run(&[
        "check",
        "--policy",
        "policies/segmentation.yaml",
        "--baseline",
        "examples/evals/segmentation-baseline.json",
        "--candidate",
        &c,
    ]);
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
    let r = run(&["check", "--policy", &p, "--candidate", eval]);
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
    let r = run(&["check", "--policy", &p, "--candidate", eval]);
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
