//! `evalgate check` end to end: every exit code, the terminal output, stdin and stdout.

use std::io::Write;
use std::process::Stdio;

use crate::{
    candidate_check, check_args, detection_eval, evalgate, example_check, finish, read_json, run,
    write,
};

const POLICY: &str = "policies/detection.yaml";
const BASELINE: &str = "examples/evals/baseline.json";
const CANDIDATE: &str = "examples/evals/candidate.json";

#[test]
fn exit_0_when_the_candidate_passes() {
    let r = run(&example_check("segmentation", &[]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "evalgate: PASS: 7 checks (7 pass)\n  All 7 checks passed; valid miou 71.8 (+0.6 pt).\n"
    );
}

#[test]
fn exit_1_on_a_regression_with_a_readable_summary() {
    let r = run(&example_check("detection", &["--today", "2026-11-26"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("summary_regression", r.stdout);
    assert_eq!(r.stderr, "");
}

#[test]
fn report_only_exits_0_but_the_reports_still_say_fail() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let r = run(&example_check(
        "detection",
        &["--report-only", "--json", json.to_str().unwrap()],
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("--report-only: exiting 0 although the gate failed"),
        "{}",
        r.stdout
    );
    let report = read_json(json);
    assert_eq!(report["verdict"], "fail");
    assert_eq!(report["exit_code"], 0);
}

#[test]
fn strict_makes_warnings_fail() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: {min: 0.95, severity: warn}\n",
    );
    let eval = write(dir.path(), "e.json", &detection_eval(&[]));
    let r = run(&candidate_check(&policy, &eval, &[]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .starts_with("evalgate: PASS with warnings: 1 check (1 warn)"),
        "{}",
        r.stdout
    );
    let r = run(&candidate_check(&policy, &eval, &["--strict"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
}

#[test]
fn exit_2_on_usage_errors() {
    let r = run(&["check", "--policy", POLICY]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--candidate <SRC>"), "{}", r.stderr);
    let r = run(&check_args(POLICY, "-", "-", &[]));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: --baseline and --candidate cannot both read stdin (-)\n"
    );
    let r = run(&candidate_check(
        POLICY,
        CANDIDATE,
        &["--json", "-", "--markdown", "-"],
    ));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: two reports would both be written to stdout\n"
    );
    let r = run(&candidate_check(
        POLICY,
        CANDIDATE,
        &["--today", "31/12/2026"],
    ));
    assert_eq!(r.code, 2);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("r.xml");
    let b = format!("{}/./r.xml", dir.path().display());
    let r = run(&candidate_check(
        POLICY,
        CANDIDATE,
        &["--junit", a.to_str().unwrap(), "--json", &b],
    ));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        format!("error: two reports would both be written to {b}\n")
    );
    let r = run(&candidate_check(
        POLICY,
        CANDIDATE,
        &["--json", "./examples/evals/candidate.json"],
    ));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: the JSON report would overwrite the input ./examples/evals/candidate.json\n"
    );
}

#[test]
fn exit_3_when_the_policy_checks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  '*':\n    map50: 0.5\n",
    );
    let eval = write(dir.path(), "e.json", r#"{"splits": {}}"#);
    let r = run(&candidate_check(&policy, &eval, &[]));
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stderr.contains("no check could be evaluated: no rule applies to a split, object size or class these evals have"), "{}", r.stderr);

    // Drop rules without a baseline are all skipped: nothing was judged, so nothing passes.
    let drops = write(
        dir.path(),
        "d.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: {max_drop: 0.01}\n",
    );
    let eval = write(dir.path(), "v.json", &detection_eval(&[]));
    let md = dir.path().join("r.md");
    let r = run(&candidate_check(
        &drops,
        &eval,
        &["--markdown", md.to_str().unwrap()],
    ));
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stderr.contains("no check could be evaluated: its only check was skipped, e.g. valid / split / map50 max_drop: no baseline eval; missing.baseline is floors_only; give the rules data to judge (drop rules need --baseline)"), "{}", r.stderr);
    assert!(!md.exists(), "no report claims anything");
}

#[test]
fn exit_3_with_every_policy_problem_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "evalgate.yaml",
        "version: 1\nsplits:\n  valid:\n    map50-95: {min: 0.7}\n    map50: {min: 70}\n    classes:\n      '*':\n        map50: {max_dorp: 0.05}\n",
    );
    let r = run(&candidate_check(&policy, CANDIDATE, &[]));
    assert_eq!(r.code, 3);
    assert_eq!(r.stdout, "");
    insta::assert_snapshot!("policy_errors", r.stderr.replace(&policy, "evalgate.yaml"));
}

#[test]
fn exit_3_when_the_policy_names_what_neither_eval_has() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "evalgate.yaml",
        "version: 1\nsplits:\n  vaild:\n    map50: 0.5\n  valid:\n    classes:\n      Car-rim: {map50: 0.5}\n      'truck*': {map50: 0.5}\n",
    );
    let r = run(&check_args(&policy, BASELINE, CANDIDATE, &[]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    insta::assert_snapshot!(
        "policy_unknown_names",
        r.stderr.replace(&policy, "evalgate.yaml")
    );
}

#[test]
fn exit_3_when_the_policy_cannot_be_read() {
    let r = run(&candidate_check("no/such/policy.yaml", CANDIDATE, &[]));
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .starts_with("error: policy: cannot read no/such/policy.yaml: "),
        "{}",
        r.stderr
    );
}

#[test]
fn exit_4_when_an_eval_cannot_be_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&candidate_check(POLICY, "no-such-eval.json", &[]));
    assert_eq!(r.code, 4);
    assert!(
        r.stderr
            .starts_with("error: candidate: no-such-eval.json: No such file or directory"),
        "{}",
        r.stderr
    );

    let broken = write(
        dir.path(),
        "broken.json",
        "{\"splits\": {\"valid\": {\"map50\": \"high\"}}}",
    );
    let r = run(&[
        "check",
        "--policy",
        POLICY,
        "--candidate",
        CANDIDATE,
        "--baseline",
        &broken,
    ]);
    assert_eq!(r.code, 4);
    assert_eq!(
        r.stderr,
        format!(
            "error: baseline: {broken}: line 1, column 37: invalid type: string \"high\", expected f64\n"
        )
    );

    let percent = write(
        dir.path(),
        "percent.json",
        r#"{"splits": {"valid": {"map50": 91.2}}}"#,
    );
    let r = run(&candidate_check(POLICY, &percent, &[]));
    assert_eq!(r.code, 4);
    assert_eq!(
        r.stderr,
        format!(
            "error: candidate: {percent}: splits.valid.map50 is 91.2, outside [0, 1]: every metric must be a fraction\n"
        )
    );

    let empty = write(dir.path(), "empty.json", "");
    let r = run(&candidate_check(POLICY, &empty, &[]));
    assert_eq!(r.code, 4);
    assert!(r.stderr.contains("empty input"), "{}", r.stderr);
}

#[test]
fn exit_5_when_an_eval_is_not_finished() {
    let r = run(&candidate_check(
        POLICY,
        "tests/fixtures/roboflow/sdk-test-error-409-model-eval-not-done.json",
        &[],
    ));
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "error: candidate: tests/fixtures/roboflow/sdk-test-error-409-model-eval-not-done.json: the eval is not finished yet: model_eval_not_done: Eval still running; gate it once the evaluation has finished\n"
    );
    // Another API error body saved in place of the metrics is a load failure.
    let r = run(&candidate_check(
        POLICY,
        "tests/fixtures/roboflow/sdk-test-error-404-model-eval-not-found.json",
        &[],
    ));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("this is an API error response, not map-results: model_eval_not_found: Eval 'x' not found"), "{}", r.stderr);
}

#[test]
fn exit_6_when_the_evals_measure_different_tasks() {
    let r = run(&check_args(
        "policies/segmentation.yaml",
        "examples/evals/segmentation-baseline.json",
        CANDIDATE,
        &[],
    ));
    assert_eq!(r.code, 6);
    assert_eq!(
        r.stderr,
        "error: the evals cannot be compared: the policy is for semantic-segmentation evals but the candidate's task is object-detection\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let any = write(dir.path(), "any.yaml", "version: 1\n");
    let r = run(&check_args(
        &any,
        "examples/evals/segmentation-baseline.json",
        CANDIDATE,
        &[],
    ));
    assert_eq!(r.code, 6);
}

#[test]
fn exit_7_before_reading_any_eval_when_a_report_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing-dir/report.xml");
    // The candidate does not exist either: the report path must be checked first.
    let r = run(&candidate_check(
        POLICY,
        "no-such-eval.json",
        &["--junit", target.to_str().unwrap()],
    ));
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("create the directory or choose another path"),
        "{}",
        r.stderr
    );
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left behind"
    );
}

#[test]
fn reads_the_candidate_from_stdin_and_writes_a_report_to_stdout() {
    let mut child = evalgate()
        .args(check_args(POLICY, BASELINE, "-", &["--json", "-"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(crate::repo(CANDIDATE)).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    // stdout is the report alone; the summary moved to stderr.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["candidate"]["source"], "-");
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("evalgate: FAIL")
    );
}

#[test]
fn writes_reports_on_failure_and_replaces_old_ones_whole() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("report.md");
    std::fs::write(&md, "stale report from an earlier run").unwrap();
    let r = run(&example_check(
        "detection",
        &["--markdown", md.to_str().unwrap()],
    ));
    assert_eq!(r.code, 1);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("## ❌ evalgate: failed"), "{text}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["report.md"], "no temporary file left behind");
}

#[test]
fn untrusted_names_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "evil\n::error::forged\u{1b}[31m";
    let base = write(dir.path(), "b.json", &detection_eval(&[(hostile, 0.9)]));
    let cand = write(dir.path(), "c.json", &detection_eval(&[(hostile, 0.1)]));
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    classes:\n      '*': {map50: {max_drop: 0.05}}\n",
    );
    let mut cmd = evalgate();
    cmd.args(check_args(&policy, &base, &cand, &[]));
    let r = finish(&mut cmd);
    assert_eq!(r.code, 1);
    assert!(!r.stdout.contains('\u{1b}'), "{:?}", r.stdout);
    assert!(
        r.stdout.lines().all(|l| !l.starts_with("::")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("class \"evil\\n:\u{200B}:error:\u{200B}:forged\\u{1b}[31m\""),
        "{}",
        r.stdout
    );
}

#[test]
fn help_and_version_exit_0() {
    assert_eq!(run(&["--version"]).code, 0);
    let r = run(&["check", "--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--report-only"));
}

#[test]
fn a_waiver_for_a_metric_the_task_lacks_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: 0.5\nwaivers:\n  - split: valid\n    metric: miou\n    reason: r\n    until: 2030-01-01\n  - split: valid\n    class: 'truck*'\n    reason: r\n    until: 2030-01-01\n",
    );
    let r = run(&candidate_check(&policy, CANDIDATE, &[]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("error[metric-not-in-task]: object-detection evals have no miou; this waiver would never apply"), "{}", r.stderr);
    assert!(r.stderr.contains("warning[glob-matches-nothing]: waiver class pattern \"truck*\" matches no class in the evals; it waives nothing"), "{}", r.stderr);
}
