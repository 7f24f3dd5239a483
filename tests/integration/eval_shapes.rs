//! Roboflow's documented shapes end to end: `perClass` as an object or a list in either task,
//! a segmentation split without mIoU, and "not finished" from files and the API alike.

use crate::server::{Reply, Server};
use crate::{Run, candidate_check, check_args, evalgate, finish, read_json, run, write};

const SEG_POLICY: &str = "policies/segmentation.yaml";
const SEG_BASELINE: &str = "examples/evals/segmentation-baseline.json";
const SEG_CANDIDATE: &str = "examples/evals/segmentation-candidate.json";

/// The example candidate with `perClass` rewritten as a list of entries with `className`
/// and `classID`, the shape of Roboflow's performance-by-class.
fn as_list(path: &str) -> String {
    let text = std::fs::read_to_string(crate::repo(path)).unwrap();
    let mut body: serde_json::Value = serde_json::from_str(&text).unwrap();
    for split in body["splits"].as_object_mut().unwrap().values_mut() {
        let classes = split["perClass"].as_object().unwrap().clone();
        let list: Vec<serde_json::Value> = classes
            .into_iter()
            .enumerate()
            .map(|(i, (name, mut metrics))| {
                metrics["className"] = name.into();
                metrics["classID"] = i.into();
                metrics
            })
            .collect();
        split["perClass"] = list.into();
    }
    body.to_string()
}

fn check(policy: &str, baseline: &str, candidate: &str, json: &str) -> Run {
    run(&check_args(policy, baseline, candidate, &["--json", json]))
}

fn checks(json: &str) -> serde_json::Value {
    let report = read_json(json);
    report["checks"].clone()
}

#[test]
fn a_per_class_list_gates_exactly_like_an_object_in_both_tasks() {
    let dir = tempfile::tempdir().unwrap();
    for (policy, baseline, candidate) in [
        (SEG_POLICY, SEG_BASELINE, SEG_CANDIDATE),
        (
            "policies/detection.yaml",
            "examples/evals/baseline.json",
            "examples/evals/candidate.json",
        ),
    ] {
        let list = write(dir.path(), "list.json", &as_list(candidate));
        let a = dir.path().join("object.json").display().to_string();
        let b = dir.path().join("list-report.json").display().to_string();
        let by_object = check(policy, baseline, candidate, &a);
        let by_list = check(policy, baseline, &list, &b);
        assert_eq!(by_list.code, by_object.code, "{}", by_list.stderr);
        assert!(by_list.code <= 1, "{}", by_list.stderr);
        let (a, b) = (checks(&a), checks(&b));
        assert!(!a.as_array().unwrap().is_empty());
        assert_eq!(a, b, "{policy}");
    }
}

#[test]
fn a_list_entry_without_a_name_or_a_name_twice_is_exit_4_naming_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let unnamed = write(
        dir.path(),
        "unnamed.json",
        r#"{"taskType": "semantic-segmentation", "splits": {"valid": {"mIoU": 0.7,
            "perClass": [{"className": "road", "iou": 0.9}, {"classID": 2, "iou": 0.5}]}}}"#,
    );
    let r = check(SEG_POLICY, SEG_BASELINE, &unnamed, "-");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        format!(
            "error: candidate: {unnamed}: splits.valid.perClass[1]: no \"className\"; every entry of a perClass list must name its class\n"
        )
    );
    let twice = write(
        dir.path(),
        "twice.json",
        r#"{"taskType": "semantic-segmentation", "splits": {"valid": {"mIoU": 0.7,
            "perClass": [{"className": "road", "iou": 0.9}, {"className": "sky"}, {"className": "road", "iou": 0.1}]}}}"#,
    );
    let r = check(SEG_POLICY, SEG_BASELINE, &twice, "-");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("splits.valid.perClass[2]: className \"road\" again (first at perClass[0])"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_segmentation_split_without_miou_is_said_on_stderr_and_not_read_as_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(crate::repo(SEG_CANDIDATE))
        .unwrap()
        .replace("\"mIoU\": 0.718, ", "");
    let candidate = write(dir.path(), "no-miou.json", &text);
    let json = dir.path().join("r.json").display().to_string();
    let r = check(SEG_POLICY, SEG_BASELINE, &candidate, &json);
    assert!(
        r.stderr.contains(&format!(
            "warning: candidate: {candidate}: splits.valid has semantic-segmentation metrics but neither \"miou\" nor \"mIoU\": its mIoU is missing, not read"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("warning:").count(), 1, "{}", r.stderr);
    // The policy's default for a missing metric decides; the value is never taken as 0.
    let miou: Vec<serde_json::Value> = checks(&json)
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metric"] == "miou")
        .cloned()
        .collect();
    assert!(!miou.is_empty());
    assert!(miou.iter().all(|c| c["candidate"].is_null()), "{miou:?}");
    let report = read_json(&json);
    let notes = &report["candidate"]["notes"];
    assert_eq!(notes.as_array().map(Vec::len), Some(1), "{notes}");
    assert!(
        notes[0]
            .as_str()
            .unwrap()
            .starts_with("splits.valid has semantic-segmentation metrics but neither"),
        "{notes}"
    );
    assert!(report["baseline"].get("notes").is_none());
    let md = dir.path().join("r.md").display().to_string();
    let xml = dir.path().join("r.xml").display().to_string();
    run(&check_args(
        SEG_POLICY,
        SEG_BASELINE,
        &candidate,
        &["--markdown", &md, "--junit", &xml],
    ));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("- ⚠️ candidate: splits.valid has semantic-segmentation metrics but neither"),
        "{md}"
    );
    assert!(!md.contains("- ⚠️ baseline"), "{md}");
    // JUnit carries it as a numbered property of the run.
    let xml = std::fs::read_to_string(xml).unwrap();
    assert!(
        xml.contains("<property name=\"evalgate.candidate.note.1\" value=\"splits.valid has semantic-segmentation metrics but neither"),
        "{xml}"
    );
    assert!(!xml.contains("evalgate.baseline.note"), "{xml}");
    // The baseline has its mIoU: no note for it.
    let r = check(SEG_POLICY, SEG_BASELINE, SEG_CANDIDATE, &json);
    assert!(!r.stderr.contains("warning:"), "{}", r.stderr);
}

#[test]
fn a_file_not_known_to_be_finished_is_exit_5_even_beside_its_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = r#""splits": {"valid": {"map50": 0.9, "map50_95": 0.7}}"#;
    for (status, code, says) in [
        (
            r#""status": "running", "#,
            5,
            "the eval is not finished yet: its status is \"running\"",
        ),
        (
            r#""status": null, "#,
            5,
            "the eval is not finished yet: its status is null",
        ),
        (
            r#""status": "failed", "#,
            4,
            "the eval's status is \"failed\"",
        ),
    ] {
        let path = write(dir.path(), "e.json", &format!("{{{status}{metrics}}}"));
        let r = run(&candidate_check("policies/detection.yaml", &path, &[]));
        assert_eq!(r.code, code, "{status}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{status}: {}", r.stderr);
    }
    let record = write(
        dir.path(),
        "record.json",
        r#"{"evalId": "e1", "project": "cars", "versionId": "4"}"#,
    );
    let r = run(&candidate_check("policies/detection.yaml", &record, &[]));
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("its record has no \"status\""),
        "{}",
        r.stderr
    );
}

#[test]
fn an_api_record_without_a_status_is_not_finished() {
    let example = std::fs::read_to_string(crate::repo("examples/evals/candidate.json")).unwrap();
    let server = Server::start(move |req, _| match req.path.as_str() {
        "/ws/model-evals/cand" => Reply::json(
            200,
            r#"{"evalId": "cand", "project": "cars", "versionId": "7"}"#,
        ),
        "/ws/model-evals/cand/map-results" => Reply::json(200, &example),
        _ => Reply::json(404, r#"{"error": "model_eval_not_found"}"#),
    });
    let r = finish(
        evalgate()
            .args(check_args(
                "policies/detection.yaml",
                "examples/evals/baseline.json",
                "rf:ws/cand",
                &[],
            ))
            .env("ROBOFLOW_API_KEY", "k-123")
            .env("ROBOFLOW_API_URL", server.url())
            .env_remove("ROBOFLOW_WORKSPACE")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY"),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("not finished"), "{}", r.stderr);
}

#[test]
fn the_markdown_report_shows_a_few_notes_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let splits: Vec<String> = (0..7)
        .map(|i| format!(r#""s{i}": {{"precision": 0.8, "perClass": {{"road": {{"iou": 0.9}}}}}}"#))
        .collect();
    let body = format!(
        r#"{{"taskType": "semantic-segmentation", "splits": {{{}}}}}"#,
        splits.join(", ")
    );
    let eval = write(dir.path(), "e.json", &body);
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\ntask: semantic-segmentation\nsplits:\n  '*':\n    classes:\n      '*': {iou: {min: 0.5}}\n",
    );
    let md = dir.path().join("r.md").display().to_string();
    let r = run(&candidate_check(&policy, &eval, &["--markdown", &md]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("warning: candidate:").count(),
        7,
        "{}",
        r.stderr
    );
    let md = std::fs::read_to_string(md).unwrap();
    assert_eq!(md.matches("- ⚠️ candidate: splits.s").count(), 5, "{md}");
    assert!(
        md.contains("- ⚠️ candidate: 2 more; the JSON report lists every note"),
        "{md}"
    );
}
