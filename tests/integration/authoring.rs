//! Writing policies: init, policy check/explain/diff/schema, completions and the man page.

use crate::{candidate_check, check_args, read_json, repo, run, write};

const BASELINE: &str = "examples/evals/baseline.json";
const CANDIDATE: &str = "examples/evals/candidate.json";

#[test]
fn init_writes_a_policy_its_eval_passes_and_a_worse_eval_fails() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("evalgate.yaml");
    let p = policy.to_str().unwrap();
    let r = run(&["init", "--from", BASELINE, "--margin", "0.02", "-o", p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("check it with `evalgate policy check"),
        "{}",
        r.stderr
    );
    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains("missing:\n  baseline: floors_only"), "{text}");
    assert!(text.contains("\"*\":"), "{text}");

    assert_eq!(run(&["policy", "check", p, "--eval", BASELINE]).code, 0);
    // Against itself, and alone: pass.
    assert_eq!(run(&check_args(p, BASELINE, BASELINE, &[])).code, 0);
    assert_eq!(run(&candidate_check(p, BASELINE, &[])).code, 0);
    // Lower every valid map50_95 by more than the margin: fail.
    let degraded = std::fs::read_to_string(repo(BASELINE))
        .unwrap()
        .replace("\"map50_95\": 0.741", "\"map50_95\": 0.715");
    let d = write(dir.path(), "degraded.json", &degraded);
    let r = run(&check_args(p, BASELINE, &d, &[]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("valid / map50_95 min: is 71.5, below the floor of 72.1"),
        "{}",
        r.stdout
    );

    // An existing file is kept unless --force.
    let r = run(&["init", "--from", BASELINE, "-o", p]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("exists; pass --force"), "{}", r.stderr);
    assert_eq!(
        run(&["init", "--from", BASELINE, "-o", p, "--force"]).code,
        0
    );
    assert_eq!(run(&["init", "--from", BASELINE, "--margin", "5"]).code, 2);
}

#[test]
fn policy_check_reports_every_problem() {
    let r = run(&[
        "policy",
        "check",
        "policies/detection.yaml",
        "--today",
        "2026-11-26",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "policies/detection.yaml: valid\n");

    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "evalgate.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: {min: 0.5}\n    classes:\n      '*': {map50: {min: 0.5}}\n      Car-rims: {map50: {min: 0.6}}\n      headlight: {map50: {min: 0.6}}\n      license-plate: {map50: {min: 0.6}}\n      side-mirror: {map50: {min: 0.6}}\n      wheel: {map50: {min: 0.6}}\n      wheels: {map50: {min: 0.6}}\n  '*':\n    map50: 0.5\nwaivers:\n  - {split: valid, reason: old, until: 2026-01-01}\n  - {split: valid, reason: soon, until: 2026-12-01}\n",
    );
    let r = run(&[
        "policy",
        "check",
        &p,
        "--eval",
        BASELINE,
        "--today",
        "2026-11-26",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    insta::assert_snapshot!("policy_check", r.stderr.replace(&p, "evalgate.yaml"));
}

#[test]
fn explain_shows_where_every_threshold_comes_from() {
    let r = run(&[
        "policy",
        "explain",
        "policies/detection.yaml",
        "--eval",
        CANDIDATE,
        "--today",
        "2026-11-26",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("explain_text", r.stdout);

    let r = run(&[
        "policy",
        "explain",
        "policies/detection.yaml",
        "--eval",
        CANDIDATE,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = doc["rules"].as_array().unwrap();
    let car = rules
        .iter()
        .find(|r| r["class"] == "Car-rims" && r["metric"] == "map50_95")
        .unwrap();
    assert_eq!(car["min"], serde_json::json!({"value": 0.7, "line": 26}));
    assert_eq!(
        car["severity"],
        serde_json::json!({"value": "fail", "line": 8})
    );

    // The explanation names exactly the checks the gate makes.
    let json = tempfile::NamedTempFile::new().unwrap();
    let r = run(&candidate_check(
        "policies/detection.yaml",
        CANDIDATE,
        &["--json", json.path().to_str().unwrap()],
    ));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let report = read_json(json.path());
    let checks = report["checks"].as_array().unwrap().len();
    let fields: usize = rules
        .iter()
        .map(|r| {
            ["min", "max", "max_drop", "max_drop_rel"]
                .iter()
                .filter(|f| !r[**f].is_null())
                .count()
        })
        .sum();
    assert_eq!(checks, fields);
}

#[test]
fn diff_lists_changes_and_exits_1_when_the_gate_was_loosened() {
    let dir = tempfile::tempdir().unwrap();
    let old = std::fs::read_to_string(repo("policies/detection.yaml")).unwrap();
    let loosened = old
        .replace(
            "map50_95: {min: 0.70, max_drop: 0.01}",
            "map50_95: {min: 0.60, max_drop: 0.01}",
        )
        .replace("map50: {max_drop: 0.05}", "map50: {max_drop: 0.08}")
        .replace(
            "    map50_95: {max_drop: 0.02}\n",
            "    map50_95: {max_drop: 0.01}\n    map50: 0.8\n",
        );
    let new = write(dir.path(), "new.yaml", &loosened);
    let r = run(&["policy", "diff", "policies/detection.yaml", &new]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("diff_text", r.stdout);
    let r = run(&[
        "policy",
        "diff",
        "policies/detection.yaml",
        &new,
        "--format",
        "markdown",
    ]);
    assert_eq!(r.code, 1);
    insta::assert_snapshot!("diff_markdown", r.stdout);

    let r = run(&[
        "policy",
        "diff",
        "policies/detection.yaml",
        "policies/detection.yaml",
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "no changes to the gate\n"));
    let tightened = write(
        dir.path(),
        "t.yaml",
        &old.replace("max_drop: 0.05", "max_drop: 0.03"),
    );
    let r = run(&[
        "policy",
        "diff",
        "policies/detection.yaml",
        &tightened,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["loosened"], false);
    assert_eq!(doc["changes"][0]["effect"], "tightened");
    let broken = write(dir.path(), "b.yaml", "version: 2\n");
    assert_eq!(
        run(&["policy", "diff", "policies/detection.yaml", &broken]).code,
        3
    );
}

#[test]
fn the_committed_schema_is_current_and_every_example_validates() {
    let r = run(&["policy", "schema"]);
    assert_eq!(r.code, 0);
    let committed =
        std::fs::read_to_string(repo(evalgate::authoring::schema::SCHEMA_PATH)).unwrap();
    assert!(
        r.stdout == committed,
        "schema/policy-v1.json is stale: run `cargo run -- policy schema > schema/policy-v1.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for entry in std::fs::read_dir(repo("policies")).unwrap() {
        let path = entry.unwrap().path();
        let doc: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    // It is a real check: a typo and a percentage are caught.
    let bad: serde_json::Value =
        serde_saphyr::from_str("version: 1\nsplits:\n  valid:\n    map50-95: 0.7\n    map50: 70\n")
            .unwrap();
    assert_eq!(validator.iter_errors(&bad).count(), 2);
}

#[test]
fn completions_and_man_page_come_from_the_cli() {
    let r = run(&["completions", "bash"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("evalgate") && r.stdout.contains("--candidate"),
        "{}",
        &r.stdout[..200]
    );
    let r = run(&["man"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with(".ie \\n(.g .ds Aq \\(aq") || r.stdout.contains(".TH evalgate"),
        "{}",
        &r.stdout[..200]
    );
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}

/// The operating-point keys on examples/evals/baseline.json, which has no panels.
const OPERATING_POINT_POLICY: &str = "version: 1
operating_point: {confidence: 0.40}
splits:
  valid:
    recall: {max_drop: 0.02}
    optimal_threshold: {max_shift: 0.10, severity: warn}
    classes:
      '*': {min_support: 25, map50: {max_drop: 0.05}}
      wheel: {min_support: 25}
confusions:
  - {split: valid, actual: '*', predicted: background, max_rise: 0.02}
  - {split: valid, actual: wheel, predicted: background, max: 0.10}
";

#[test]
fn policy_check_knows_min_support_and_overlapping_confusion_rules() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "evalgate.yaml", OPERATING_POINT_POLICY);
    let r = run(&["policy", "check", &p, "--eval", BASELINE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{p}: valid (2 warnings)\n"));
    insta::assert_snapshot!(
        "policy_check_operating_point",
        r.stderr.replace(&p, "evalgate.yaml")
    );
}

#[test]
fn explain_shows_the_operating_point_keys_and_names_every_check_the_gate_makes() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "evalgate.yaml", OPERATING_POINT_POLICY);
    let r = run(&["policy", "explain", &p, "--eval", BASELINE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("explain_operating_point", r.stdout);

    let r = run(&[
        "policy", "explain", &p, "--eval", BASELINE, "--format", "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["operating_point"]["confidence"], 0.4);
    let rules = doc["rules"].as_array().unwrap();
    // The eval has no confusion matrix: one entry per rule, which the gate fails.
    let confusions: Vec<&serde_json::Value> =
        rules.iter().filter(|r| r["kind"] == "confusion").collect();
    assert_eq!(confusions.len(), 2);
    assert_eq!(confusions[0]["class"], "*");
    assert!(confusions[0]["matrix_confidence"].is_null());

    let json = tempfile::NamedTempFile::new().unwrap();
    let r = run(&candidate_check(
        &p,
        BASELINE,
        &["--json", json.path().to_str().unwrap()],
    ));
    // Without panels, recall and the confusion shares are not there: refused before the
    // gate, naming what to fetch (the gate's own checks of such evals are unit-tested).
    assert_eq!(r.code, 4, "{}", r.stdout);
    assert!(
        r.stderr.contains("the eval lacks the confidence sweep"),
        "{}",
        r.stderr
    );
    assert!(!json.path().exists() || std::fs::read(json.path()).unwrap().is_empty());
}

#[test]
fn diff_knows_the_operating_point_keys() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.yaml", OPERATING_POINT_POLICY);
    let changed = OPERATING_POINT_POLICY
        .replace("{confidence: 0.40}", "{confidence: optimal}")
        .replace("max_shift: 0.10", "max_shift: 0.15")
        .replace("'*': {min_support: 25", "'*': {min_support: 40")
        .replace("wheel: {min_support: 25}", "wheel: {min_support: 10}")
        .replace("max_rise: 0.02}", "max_rise: 0.03}")
        .replace(
            "  - {split: valid, actual: wheel, predicted: background, max: 0.10}\n",
            "",
        );
    let new = write(dir.path(), "new.yaml", &changed);
    let r = run(&["policy", "diff", &old, &new]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("diff_operating_point_text", r.stdout);
    let r = run(&["policy", "diff", &old, &new, "--format", "markdown"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("diff_operating_point_markdown", r.stdout);
    // Lowering min_support alone checks more classes: tightened, exit 0.
    let lowered = write(
        dir.path(),
        "lowered.yaml",
        &OPERATING_POINT_POLICY.replace("'*': {min_support: 25", "'*': {min_support: 20"),
    );
    let r = run(&["policy", "diff", &old, &lowered]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .starts_with("tightened  valid / class \"*\" / min_support: 25 (line 8) → 20 (line 8)"),
        "{}",
        r.stdout
    );
}
