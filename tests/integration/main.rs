//! The one integration-test binary: the CLI end to end, the reports, the example policies.

mod action;
mod authoring;
mod ci;
mod cli;
mod coco;
mod coco_tools;
mod eval_shapes;
mod first_run;
mod http;
mod images;
mod limits;
mod markdown;
mod panels;
mod policies;
mod properties;
mod report_paths;
mod reports;
mod secrets;
mod server;
mod untrusted;
mod xsd;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The outcome of one `evalgate` run.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// `evalgate` from the repository root, with colour off and CI detection cleared.
pub(crate) fn evalgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_evalgate"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    // Tests that want a CI environment set it up themselves.
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_TOKEN",
        "GITHUB_REPOSITORY",
        "GITHUB_EVENT_PATH",
        "GITHUB_API_URL",
        "GITHUB_SERVER_URL",
        "GITHUB_RUN_ID",
        "GITLAB_CI",
        "GITLAB_TOKEN",
        "CI_API_V4_URL",
        "CI_PROJECT_ID",
        "CI_MERGE_REQUEST_IID",
        "CI_JOB_URL",
        "GITHUB_SHA",
        "GITHUB_WORKSPACE",
        "CI_PROJECT_URL",
        "CI_COMMIT_SHA",
        "CI_PROJECT_DIR",
    ] {
        c.env_remove(var);
    }
    c
}

pub(crate) fn run(args: &[&str]) -> Run {
    finish(evalgate().args(args))
}

pub(crate) fn finish(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("evalgate runs");
    Run {
        code: out.status.code().expect("evalgate exits, it is not killed"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A detection eval with one split `valid` and the given classes' map50.
pub(crate) fn detection_eval(classes: &[(&str, f64)]) -> String {
    let per_class: serde_json::Map<String, serde_json::Value> = classes
        .iter()
        .map(|(name, v)| {
            (
                (*name).to_owned(),
                serde_json::json!({"map50": v, "map50_95": v * 0.8}),
            )
        })
        .collect();
    serde_json::json!({
        "taskType": "object-detection-like",
        "splits": {"valid": {"map50": 0.9, "map50_95": 0.72, "perClass": per_class}}
    })
    .to_string()
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test input");
    path.display().to_string()
}

/// The JSON a test wrote or a report holds at `path`.
pub(crate) fn read_json(path: impl AsRef<Path>) -> serde_json::Value {
    let path = path.as_ref();
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A JSON report's verdict and checks, the part two runs of one gate must agree on.
pub(crate) fn outcome(json: &Path) -> serde_json::Value {
    let report = read_json(json);
    serde_json::json!({"verdict": report["verdict"], "checks": report["checks"]})
}

/// The text of `examples/evals/{name}.json`.
pub(crate) fn example(name: &str) -> String {
    std::fs::read_to_string(repo(&format!("examples/evals/{name}.json"))).unwrap()
}

/// `check` of a documented example, `policies/{example}.yaml` on its two evals in
/// examples/evals/, then `extra`.
pub(crate) fn example_check<'a>(example: &str, extra: &[&'a str]) -> Vec<&'a str> {
    let (policy, baseline, candidate) = match example {
        "detection" => (
            "policies/detection.yaml",
            "examples/evals/baseline.json",
            "examples/evals/candidate.json",
        ),
        "segmentation" => (
            "policies/segmentation.yaml",
            "examples/evals/segmentation-baseline.json",
            "examples/evals/segmentation-candidate.json",
        ),
        "operating-point" => (
            "policies/operating-point.yaml",
            "examples/evals/operating-point-baseline.json",
            "examples/evals/operating-point-candidate.json",
        ),
        other => panic!("no example {other:?}"),
    };
    check_args(policy, baseline, candidate, extra)
}

/// `check --policy policy --candidate candidate` with no baseline, then `extra`.
pub(crate) fn candidate_check<'a>(
    policy: &'a str,
    candidate: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["check", "--policy", policy, "--candidate", candidate];
    args.extend_from_slice(extra);
    args
}

/// `check --policy policy --baseline baseline --candidate candidate`, then `extra`.
pub(crate) fn check_args<'a>(
    policy: &'a str,
    baseline: &'a str,
    candidate: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "check",
        "--policy",
        policy,
        "--baseline",
        baseline,
        "--candidate",
        candidate,
    ];
    args.extend_from_slice(extra);
    args
}
