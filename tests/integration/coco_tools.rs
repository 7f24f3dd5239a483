//! `coco:` evals in the commands that take one eval: `calibrate` (mAP rules calibrated from
//! the matching), `policy check` and `policy explain`.

use std::path::Path;

use evalgate::coco::bootstrap::{MapQuantity, MatchedDetections, matched_detections};
use evalgate::stats::Resampling;
use evalgate::stats::map::{std_errors, std_errors_weighted};
use serde_json::Value;

use super::{read_json, repo, run, write};

const GATE: &str = "tests/fixtures/coco-gate";

fn matching(gt: &Path, preds: &Path) -> MatchedDetections {
    use evalgate::coco::{IouType, Named, evaluate};
    let (g, p) = (std::fs::read(gt).unwrap(), std::fs::read(preds).unwrap());
    let ev = evaluate(
        Named {
            name: gt.to_str().unwrap(),
            bytes: &g,
        },
        Named {
            name: preds.to_str().unwrap(),
            bytes: &p,
        },
        IouType::Bbox,
    )
    .unwrap();
    matched_detections(&ev).unwrap()
}

fn reference() -> Value {
    read_json(repo("tests/fixtures/coco/std-error-reference.json"))
}

#[test]
fn map_std_errors_are_the_numpy_reference_on_its_weights() {
    use evalgate::stats::Untestable;
    let boot = read_json(repo("tests/fixtures/coco/bootstrap-reference.json"));
    let weights: Vec<Vec<u32>> = serde_json::from_value(boot["weights"].clone()).unwrap();
    let reference = reference();
    let root = repo("tests/fixtures/coco");
    for side in ["baseline", "candidate"] {
        let m = matching(
            &root.join("bootstrap-gt.json"),
            &root.join(format!("bootstrap-{side}.json")),
        );
        let quantities = MapQuantity::every(m.classes().len());
        let got = std_errors_weighted(&m, &weights, &quantities).unwrap();
        let want = reference["std_errors"][side].as_object().unwrap();
        assert_eq!(want.len(), quantities.len());
        let (mut tested, mut undefined, mut flat) = (0, 0, 0);
        for (q, got) in quantities.iter().zip(&got) {
            let key = format!(
                "{}|{}|{}",
                q.class.map_or("", |k| m.classes()[k].as_str()),
                q.size.map_or("", |s| s.name()),
                q.metric.metric().name()
            );
            let w = &want[&key];
            match (got, w["untestable"].as_str()) {
                (Ok(se), None) => {
                    let ws = w["std_error"].as_f64().unwrap();
                    assert!(
                        (se - ws).abs() <= 1e-12,
                        "{side} {key}: evalgate {se}, NumPy {ws}"
                    );
                    tested += 1;
                }
                (Err(Untestable::Undefined { .. }), Some("undefined")) => undefined += 1,
                (Err(Untestable::NoSpread), Some("no spread")) => flat += 1,
                _ => panic!("{side} {key}: evalgate {got:?}, NumPy {w}"),
            }
        }
        // A class without ground truth is undefined at every size; a rare one is left out of
        // some replicates (fewer than 200 in the fixture), which the test covers too.
        assert!(
            tested >= 40 && undefined == 12,
            "{side}: {tested} {undefined} {flat}"
        );
        assert_eq!(tested + undefined + flat, 60);
    }
    let partial = reference["std_errors"]["baseline"]
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e["resamples"].as_u64().is_some_and(|n| n < 200))
        .count();
    assert!(partial >= 3, "{partial}");
}

#[test]
fn map_std_errors_are_their_resamplings_weights_on_any_thread_count() {
    use std::num::NonZeroUsize;
    let root = repo("tests/fixtures/coco");
    let m = matching(
        &root.join("bootstrap-gt.json"),
        &root.join("bootstrap-baseline.json"),
    );
    let quantities = MapQuantity::every(m.classes().len());
    let images = m.images().len();
    let resampling =
        |threads| Resampling::new(images, 300, 7).with_threads(NonZeroUsize::new(threads).unwrap());
    let one = std_errors(&m, &resampling(1), &quantities).unwrap();
    let three = std_errors(&m, &resampling(3), &quantities).unwrap();
    assert_eq!(one, three);
    let weights: Vec<Vec<u32>> = (0..300)
        .map(|r| {
            let mut w = vec![0; images];
            resampling(1).weights(r, &mut w);
            w
        })
        .collect();
    assert_eq!(one, std_errors_weighted(&m, &weights, &quantities).unwrap());
    assert!(one.iter().filter(|e| e.is_ok()).count() >= 40);
    // The resampling must be over the matching's images.
    assert!(std_errors(&m, &Resampling::new(images + 1, 10, 7), &quantities).is_err());
}

fn calibrate_json(policy: &str, gt: &str, eval: &str) -> Value {
    let r = run(&[
        "calibrate",
        "--policy",
        policy,
        "--ground-truth",
        gt,
        "--eval",
        eval,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// (z₁₋α + z₀.₈) · SE · √(2(1 − ρ)), the normal quantiles from scipy (the fixture), α the
/// policy's 0.05 over `rules` tested rules.
fn detectable(se: f64, rules: usize) -> f64 {
    let z = reference();
    let z_level = z["z_one_minus_level"][rules.to_string()].as_f64().unwrap();
    let z_power = z["z_power_0.8"].as_f64().unwrap();
    (z_level + z_power) * se * (2.0 * (1.0 - 0.5_f64)).sqrt()
}

#[test]
fn calibrate_a_coco_eval_covers_its_map_rules_at_every_scope() {
    let (gt, preds) = (format!("{GATE}/gt.json"), format!("{GATE}/candidate.json"));
    let policy = format!("{GATE}/policy.yaml");
    let found = calibrate_json(&policy, &gt, &format!("coco:{preds}"));
    let rules = found["rules"].as_array().unwrap();
    let scopes: Vec<(&str, Option<&str>, Option<&str>, &str)> = rules
        .iter()
        .map(|r| {
            (
                r["split"].as_str().unwrap(),
                r["class"].as_str(),
                r["size"].as_str(),
                r["metric"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [
            ("test", None, None, "map50"),
            ("test", None, Some("small"), "map50_95"),
            ("test", Some("car"), None, "map50"),
            ("test", Some("truck"), None, "map50"),
            ("test", Some("truck"), Some("large"), "map50"),
        ]
    );
    // The standard errors are the library's, on the policy's resamples and seed (the
    // library's is checked against NumPy above).
    let m = matching(&repo(&gt), &repo(&preds));
    let class = |r: &Value| {
        r["class"]
            .as_str()
            .map(|c| m.classes().iter().position(|k| k == c).unwrap())
    };
    let quantities: Vec<MapQuantity> = rules
        .iter()
        .map(|r| MapQuantity {
            class: class(r),
            size: r["size"].as_str().map(|s| {
                *evalgate::model::Size::ALL
                    .iter()
                    .find(|z| z.name() == s)
                    .unwrap()
            }),
            metric: evalgate::coco::bootstrap::MapMetric::of(
                evalgate::model::Metric::ALL
                    .iter()
                    .copied()
                    .find(|x| x.name() == r["metric"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap(),
        })
        .collect();
    let want = std_errors(&m, &Resampling::new(m.images().len(), 1000, 1), &quantities).unwrap();
    for (r, want) in rules.iter().zip(want) {
        let se = r["std_error"].as_f64().unwrap();
        assert_eq!(se, want.unwrap(), "{r}");
        assert!(se > 0.0);
        // Holm over the five mAP rules: each is tested at 0.05 / 5.
        assert!((r["level"].as_f64().unwrap() - 0.01).abs() < 1e-15, "{r}");
        let d = r["detectable_drop"].as_f64().unwrap();
        assert!((d - detectable(se, 5)).abs() <= 1e-12 * d, "{r}");
        assert_eq!(r["images"], 240);
        assert!(r["untestable"].is_null());
    }
    // The values are pycocotools' (scripts/coco-gate-fixture.py), the lines the policy's.
    let expected = read_json(repo(&format!("{GATE}/expected.json")));
    for r in rules {
        let key = format!(
            "{}|{}|{}",
            r["class"].as_str().unwrap_or(""),
            r["size"].as_str().unwrap_or(""),
            r["metric"].as_str().unwrap()
        );
        let want = expected["candidate"][&key].as_f64().unwrap();
        let got = r["value"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9,
            "{key}: {got} vs pycocotools {want}"
        );
    }
    assert_eq!(rules[2]["threshold"], 0.005);
    assert_eq!(rules[2]["line"], 13);
    assert_eq!(rules[3]["auto"], true);

    // The baseline finds every object at IoU 0.5 on every image: its map50 does not vary
    // under resampling, so those rules are untestable, and say so.
    let found = calibrate_json(&policy, &gt, &format!("coco:{GATE}/baseline.json"));
    let split = &found["rules"][0];
    assert!(split["std_error"].is_null() && split["detectable_drop"].is_null());
    assert!(
        split["untestable"]
            .as_str()
            .unwrap()
            .contains("every bootstrap replicate gives the same value"),
        "{split}"
    );
}

#[test]
fn calibrate_text_names_each_scope_and_counts_the_map_rules() {
    let r = run(&[
        "calibrate",
        "--policy",
        &format!("{GATE}/policy.yaml"),
        "--ground-truth",
        &format!("{GATE}/gt.json"),
        "--eval",
        &format!("coco:{GATE}/candidate.json"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("each tested at 0.01 (the policy's significance over 5 tested rules)"),
        "{}",
        r.stdout
    );
    let rows: Vec<&str> = r.stdout.lines().skip(3).collect();
    assert_eq!(rows.len(), 5, "{}", r.stdout);
    for (row, (scope, rule, line)) in rows.iter().zip([
        ("test ", "max_drop 2.0 pt", 7),
        ("test / small ", "max_drop 2.0 pt", 10),
        ("test / class \"car\" ", "max_drop 0.5 pt", 13),
        ("test / class \"truck\" ", "max_drop: auto", 15),
        ("test / class \"truck\" / large ", "max_drop 2.0 pt", 18),
    ]) {
        assert!(row.starts_with(scope), "{row}");
        assert!(row.contains(rule), "{row}");
        assert!(row.contains(" 240 "), "{row}");
        assert!(row.ends_with(&format!("(policy line {line})")), "{row}");
        assert!(!row.contains("untestable"), "{row}");
    }
    assert!(rows[3].contains("drops smaller than this pass as noise"));
    assert!(rows[2].contains("cannot work"), "{}", rows[2]);
}

#[test]
fn calibrate_a_coco_eval_covers_recall_from_its_per_image_outcomes_too() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        "version: 1\ntask: object-detection\nstatistics: {significance: 0.05, correction: holm, resamples: 500, seed: 3}\noperating_point: {confidence: 0.5}\nsplits:\n  test:\n    recall: {max_drop: 0.02}\n    map50_95: {max_drop_rel: 0.05}\n",
    );
    let found = calibrate_json(
        &policy,
        &format!("{GATE}/gt.json"),
        &format!("coco:{GATE}/candidate.json"),
    );
    let rules = found["rules"].as_array().unwrap();
    let metrics: Vec<&str> = rules
        .iter()
        .map(|r| r["metric"].as_str().unwrap())
        .collect();
    // In the gate's order of metrics, not the policy's.
    assert_eq!(metrics, ["map50_95", "recall"]);
    for r in rules {
        // Both count: Holm over two rules.
        assert!((r["level"].as_f64().unwrap() - 0.025).abs() < 1e-15, "{r}");
        let se = r["std_error"].as_f64().expect("testable");
        assert!(se > 0.0 && se < 0.2, "{r}");
        let d = r["detectable_drop"].as_f64().unwrap();
        assert!((d - detectable(se, 2)).abs() <= 1e-12 * d, "{r}");
        assert_eq!(r["images"], 240);
    }
    // max_drop_rel is a drop in points at the eval's value.
    let value = rules[0]["value"].as_f64().unwrap();
    let threshold = rules[0]["threshold"].as_f64().unwrap();
    assert!((threshold - 0.05 * value).abs() < 1e-15, "{}", rules[0]);
}

#[test]
fn a_saved_eval_has_no_matching_so_calibrate_leaves_map_rules_out() {
    let dir = tempfile::tempdir().unwrap();
    let saved = saved_candidate(dir.path());
    let r = run(&[
        "calibrate",
        "--policy",
        &format!("{GATE}/policy.yaml"),
        "--eval",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("on mAP at any scope for a coco: eval"),
        "{}",
        r.stderr
    );
}

/// The usage errors of `check`'s --ground-truth, on each command that takes one eval.
#[test]
fn ground_truth_usage_errors_are_checks_on_every_one_eval_command() {
    let gt = format!("{GATE}/gt.json");
    let preds = format!("coco:{GATE}/candidate.json");
    let policy = format!("{GATE}/policy.yaml");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--ground-truth", "valid=v.json", "--eval", &preds],
            "split \"test\" has predictions but no ground truth",
        ),
        (
            vec![
                "--ground-truth",
                &gt,
                "--ground-truth",
                "valid=v.json",
                "--eval",
                &preds,
            ],
            "split \"valid\" has ground truth but no predictions",
        ),
        (
            vec![
                "--ground-truth",
                &gt,
                "--ground-truth",
                &gt,
                "--eval",
                &preds,
            ],
            "names split \"test\" twice",
        ),
        (
            vec!["--eval", &preds],
            "a coco: source is evaluated against ground truth; add --ground-truth",
        ),
        (
            vec![
                "--ground-truth",
                &gt,
                "--eval",
                "examples/evals/candidate.json",
            ],
            "is read only for coco: sources; write --eval coco:PRED.json",
        ),
        (
            vec!["--ground-truth", "=x.json", "--eval", &preds],
            "write [SPLIT=]GT.json",
        ),
    ];
    for command in [
        vec!["calibrate", "--policy", &policy],
        vec!["policy", "check", &policy],
        vec!["policy", "explain", &policy],
    ] {
        for (args, says) in &cases {
            let r = run(&[&command[..], &args[..]].concat());
            assert_eq!(r.code, 2, "{command:?} {args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(says),
                "{command:?} {args:?}: {}",
                r.stderr
            );
            assert!(r.stdout.is_empty(), "{command:?} {args:?}: {}", r.stdout);
        }
    }
    // policy check takes --eval as optional: --ground-truth alone is the same mistake.
    let r = run(&["policy", "check", &policy, "--ground-truth", &gt]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("write --eval coco:PRED.json"),
        "{}",
        r.stderr
    );
}

#[test]
fn explain_marks_map_rules_noise_tested_on_a_coco_eval() {
    let policy = format!("{GATE}/policy.yaml");
    let r = run(&[
        "policy",
        "explain",
        &policy,
        "--ground-truth",
        &format!("{GATE}/gt.json"),
        "--eval",
        &format!("coco:{GATE}/candidate.json"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let coco: Value = serde_json::from_str(&r.stdout).unwrap();
    // The same eval saved as a file has no matching: the rules keep their fixed threshold
    // unless both evals of `check` are coco: sources.
    let dir = tempfile::tempdir().unwrap();
    let saved = saved_candidate(dir.path());
    let r = run(&[
        "policy",
        "explain",
        &policy,
        "--eval",
        saved.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file: Value = serde_json::from_str(&r.stdout).unwrap();
    let (coco, file) = (
        coco["rules"].as_array().unwrap(),
        file["rules"].as_array().unwrap(),
    );
    assert_eq!(coco.len(), 5);
    assert_eq!(file.len(), 5);
    for (c, f) in coco.iter().zip(file) {
        assert_eq!(c["noise_tested"], true, "{c}");
        assert!(f.get("noise_tested").is_none(), "{f}");
        // The same rule otherwise.
        for key in ["split", "scope", "class", "size", "metric", "max_drop"] {
            assert_eq!(c[key], f[key], "{key}: {c} {f}");
        }
    }
    let r = run(&[
        "policy",
        "explain",
        &policy,
        "--ground-truth",
        &format!("{GATE}/gt.json"),
        "--eval",
        &format!("coco:{GATE}/candidate.json"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("test /"))
        .collect();
    assert_eq!(rows.len(), 5, "{}", r.stdout);
    for row in rows {
        assert!(row.ends_with(", noise-tested"), "{row}");
    }
}

#[test]
fn policy_check_runs_the_name_checks_on_a_coco_eval() {
    let gt = format!("{GATE}/gt.json");
    let preds = format!("coco:{GATE}/candidate.json");
    let r = run(&[
        "policy",
        "check",
        &format!("{GATE}/policy.yaml"),
        "--ground-truth",
        &gt,
        "--eval",
        &preds,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.ends_with("policy.yaml: valid\n"), "{}", r.stdout);
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo(&format!("{GATE}/policy.yaml"))).unwrap();
    let policy = write(dir.path(), "p.yaml", &text.replace("car:", "bus:"));
    let r = run(&[
        "policy",
        "check",
        &policy,
        "--ground-truth",
        &gt,
        "--eval",
        &preds,
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("error[unknown-class]: class \"bus\" is in neither eval"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("p.yaml:12:7"), "{}", r.stderr);
}

#[test]
fn init_starts_a_policy_from_a_coco_eval_with_its_operating_point_and_support() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("evalgate.yaml");
    let (gt, preds) = (
        "examples/coco/gt.json",
        "coco:examples/coco/baseline-predictions.json",
    );
    let r = run(&[
        "init",
        "--ground-truth",
        gt,
        "--from",
        preds,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The hint is a command that works as written.
    assert!(
        r.stderr.contains(&format!(
            "evalgate policy check {} --ground-truth {gt} --eval {preds}`",
            out.display()
        )),
        "{}",
        r.stderr
    );
    let policy = std::fs::read_to_string(&out).unwrap();
    // The sweep gives the F1-optimal confidence and P/R rules; the matching, each class's
    // ground truth for min_support.
    for line in [
        "operating_point:",
        "the F1-optimal confidence of split test",
        "recall: {max_drop: 0.02}",
        "car: {map50: {min: ",
        "# 15 ground-truth instances: skipped under min_support",
    ] {
        assert!(policy.contains(line), "{line}: {policy}");
    }
    let r = run(&[
        "policy",
        "check",
        out.to_str().unwrap(),
        "--ground-truth",
        gt,
        "--eval",
        preds,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The same usage errors, naming init's own flag.
    let r = run(&["init", "--from", preds]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("add --ground-truth [SPLIT=]GT.json"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "init",
        "--ground-truth",
        gt,
        "--from",
        "examples/evals/baseline.json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("write --from coco:PRED.json"),
        "{}",
        r.stderr
    );
}

#[test]
fn init_never_writes_over_its_own_inputs_even_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let gt = dir.path().join("gt.json");
    let preds = dir.path().join("preds.json");
    std::fs::copy(repo("examples/coco/gt.json"), &gt).unwrap();
    std::fs::copy(repo("examples/coco/baseline-predictions.json"), &preds).unwrap();
    let (gt_text, preds_text) = (std::fs::read(&gt).unwrap(), std::fs::read(&preds).unwrap());
    let from = format!("coco:{}", preds.display());
    for target in [&gt, &preds] {
        let r = run(&[
            "init",
            "--ground-truth",
            gt.to_str().unwrap(),
            "--from",
            &from,
            "-o",
            target.to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("is the input {}", target.display())),
            "{}",
            r.stderr
        );
    }
    assert_eq!(std::fs::read(&gt).unwrap(), gt_text);
    assert_eq!(std::fs::read(&preds).unwrap(), preds_text);
}

#[test]
fn calibrate_refuses_a_policy_that_names_what_the_eval_lacks() {
    // A split the eval has no ground truth for, and a misspelt class: without the name checks
    // their rules would drop out of the table and of the level's count, and read as fine.
    let dir = tempfile::tempdir().unwrap();
    for (what, body) in [
        (
            "split \"valid\"",
            "  valid:\n    map50: {max_drop: 0.01}\n  test:\n    map50: {max_drop: 0.01}\n",
        ),
        (
            "class \"Truck\"",
            "  test:\n    classes:\n      Truck:\n        map50: {max_drop: 0.01}\n",
        ),
    ] {
        let policy = write(
            dir.path(),
            "p.yaml",
            &format!("version: 1\nstatistics: {{resamples: 200}}\nsplits:\n{body}"),
        );
        let r = run(&[
            "calibrate",
            "--policy",
            &policy,
            "--ground-truth",
            "tests/fixtures/coco-gate/gt.json",
            "--eval",
            "coco:tests/fixtures/coco-gate/baseline.json",
        ]);
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("{what} is in neither eval")),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn auto_on_an_untested_map_rule_does_not_claim_a_test() {
    // Saved evals carry no matching: `auto` on mAP is then a threshold of 0, and the words
    // must not speak of significance.
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\nstatistics: {resamples: 200}\nsplits:\n  valid:\n    classes:\n      license-plate:\n        map50: {max_drop: auto}\n",
    );
    let r = run(&[
        "check",
        "--policy",
        &policy,
        "--baseline",
        "examples/evals/baseline.json",
        "--candidate",
        "examples/evals/candidate.json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.contains("not noise-tested, so any drop fails"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("significant"), "{}", r.stdout);
}

#[test]
fn calibrate_counts_the_rules_the_gate_tests() {
    // car has 15 ground-truth instances: under `min_support: 20` the gate skips its check, so
    // calibrate neither lists it nor counts it towards the correction (Holm over 3, not 4).
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\nstatistics: {resamples: 200}\nsplits:\n  test:\n    map50: {max_drop: 0.01}\n    classes:\n      \"*\":\n        map50: {max_drop: 0.01}\n        min_support: 20\n",
    );
    let args = [
        "calibrate",
        "--policy",
        &policy,
        "--ground-truth",
        "examples/coco/gt.json",
        "--eval",
        "coco:examples/coco/baseline-predictions.json",
    ];
    let r = run(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = doc["rules"].as_array().unwrap();
    let classes: Vec<&str> = rules.iter().filter_map(|r| r["class"].as_str()).collect();
    assert_eq!(classes, ["person", "truck"], "{doc}");
    for r in rules {
        assert!(
            (r["level"].as_f64().unwrap() - 0.05 / 3.0).abs() < 1e-15,
            "{r}"
        );
    }
    let r = run(&args);
    assert!(r.stdout.contains("over 3 tested rules"), "{}", r.stdout);
}

/// The coco-gate candidate as `evalgate eval` saves it: its mAP, without the matching.
fn saved_candidate(dir: &Path) -> std::path::PathBuf {
    let saved = dir.join("candidate.json");
    let r = run(&[
        "eval",
        "--ground-truth",
        &format!("{GATE}/gt.json"),
        "--predictions",
        &format!("{GATE}/candidate.json"),
        "-o",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    saved
}
