//! The panels beyond map-results (confidence sweep, performance by class, confusion matrix):
//! which requests a policy makes against the loopback stand-in of the API, what `fetch`
//! saves, and what `check` refuses when an eval lacks what the policy needs.

use crate::http::{CANARY, api, api_check, api_fetch, healthy, stand_in};
use crate::server::{Reply, Seen, Server};
use crate::{candidate_check, check_args, example, finish, outcome, read_json, write};

/// A fixed operating point and a confusion rule on `valid`: the sweep and one matrix.
const AT_40: &str = r#"version: 1
task: object-detection
operating_point: {confidence: 0.40}
splits:
  valid:
    map50: {min: 0.10}
    recall: {min: 0.10}
confusions:
  - split: valid
    actual: "*"
    predicted: background
    max: 0.95
"#;

/// Support on every split at `optimal`: the sweep first, then each split's matrix at its own
/// F1-optimal threshold; performance by class for the class-level rule.
const OPTIMAL_ALL: &str = r#"version: 1
task: object-detection
operating_point: {confidence: optimal}
splits:
  "*":
    map50: {min: 0.10}
    classes:
      "*":
        min_support: 5
        recall: {max_drop: 0.5}
"#;

/// The requests the server saw for one eval, without the eval's prefix, sorted: the panels
/// come in parallel, in no fixed order.
fn asked(server: &Server, eval: &str) -> Vec<String> {
    let mut paths = crate::http::asked(server, eval);
    paths.sort();
    paths
}

#[test]
fn a_policy_that_needs_no_panel_makes_only_todays_two_requests() {
    let server = healthy();
    let r = api_check(
        &server,
        "policies/detection.yaml",
        "rf:ws/base",
        "rf:ws/cand",
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    for eval in ["base", "cand"] {
        assert_eq!(asked(&server, eval), ["", "/map-results"], "{eval}");
    }
    assert_eq!(server.seen().len(), 4);
}

#[test]
fn a_fixed_confidence_with_confusions_asks_the_sweep_and_one_matrix_per_eval() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", AT_40);
    let r = api_check(&server, &policy, "rf:ws/base", "rf:ws/cand", &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    for eval in ["base", "cand"] {
        assert_eq!(
            asked(&server, eval),
            [
                "",
                "/confidence-sweep",
                "/confusion-matrix?split=valid&confidence=40",
                "/map-results"
            ],
            "{eval}"
        );
    }
}

#[test]
fn optimal_asks_each_splits_matrix_at_its_threshold_after_the_sweep() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", OPTIMAL_ALL);
    let r = api_check(&server, &policy, "rf:ws/base", "rf:ws/cand", &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    // The stand-in's split curve peaks at 0.62 (base) and 0.55 (cand), from its formula.
    let expected = |t: u32| {
        vec![
            String::new(),
            "/confidence-sweep".into(),
            format!("/confusion-matrix?split=test&confidence={t}"),
            format!("/confusion-matrix?split=valid&confidence={t}"),
            "/map-results".into(),
            "/performance-by-class?split=test".into(),
            "/performance-by-class?split=valid".into(),
        ]
    };
    let sweep_f1_peak = |skill: f64| {
        (0..100)
            .max_by(|&a, &b| {
                let f1 = |i: u32| {
                    let t = f64::from(i) / 100.0;
                    let p = (0.3 + 0.65 * t + skill).clamp(0.0, 1.0);
                    let r = (0.98 - 0.9 * t * t + skill).clamp(0.0, 1.0);
                    ((2.0 * p * r / (p + r)) * 10_000.0).round()
                };
                // The first maximum, as the stand-in picks it.
                f1(a).total_cmp(&f1(b)).then(b.cmp(&a))
            })
            .unwrap()
    };
    assert_eq!(asked(&server, "base"), expected(sweep_f1_peak(0.0)));
    assert_eq!(asked(&server, "cand"), expected(sweep_f1_peak(-0.03)));
    // Each matrix was asked for once its eval's sweep had come back.
    let seen = server.seen();
    for eval in ["base", "cand"] {
        let at = |what: &str| {
            seen.iter()
                .position(|s| {
                    s.path
                        .starts_with(&format!("/ws/model-evals/{eval}/{what}"))
                })
                .unwrap()
        };
        assert!(at("confidence-sweep") < at("confusion-matrix"), "{eval}");
    }
}

#[test]
fn a_refused_confidence_or_split_is_exit_4_saying_which_and_what_is_allowed() {
    let server = Server::start(|req: &Seen, _| {
        if req.path.contains("confidence=40") {
            return Reply::json(
                400,
                &std::fs::read_to_string(crate::repo(
                    "tests/fixtures/roboflow/sdk-test-error-400-invalid-confidence.json",
                ))
                .unwrap(),
            );
        }
        stand_in(req)
    });
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", AT_40);
    let r = api_check(&server, &policy, "rf:ws/base", "rf:ws/cand", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("(invalid_confidence: out of range): confusion-matrix refused confidence 40; it takes a whole percent from 0 to 100"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("/confusion-matrix?split=valid&confidence=40"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(CANARY));

    // The stand-in refuses a split the API does not have, as the API does.
    let server = healthy();
    let policy = write(
        dir.path(),
        "split.yaml",
        &AT_40.replace("  - split: valid", "  - split: validation"),
    );
    let r = api_check(&server, &policy, "rf:ws/base", "rf:ws/cand", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "(invalid_split: Invalid split): confusion-matrix refused split \"validation\"; it takes train, valid, test or all"
        ),
        "{}",
        r.stderr
    );
    // With the key in the query, the message names the request without its URL.
    let r = finish(
        api(&server)
            .env("ROBOFLOW_AUTH", "query")
            .args(["check", "--policy", &policy])
            .args(["--baseline", "rf:ws/base", "--candidate", "rf:ws/cand"]),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("(confusion-matrix?split=validation&confidence=40)"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(CANARY));
    for seen in server.seen() {
        if seen.path.contains("confusion-matrix") && seen.path.contains("api_key") {
            assert!(seen.path.contains("&api_key="), "{}", seen.path);
        }
    }
}

#[test]
fn fetch_then_an_offline_check_gives_the_live_result() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("at40.yaml", AT_40), ("optimal.yaml", OPTIMAL_ALL)] {
        let policy = write(dir.path(), name, text);
        let live = dir.path().join(format!("{name}.live.json"));
        let r = api_check(
            &server,
            &policy,
            "rf:ws/base",
            "rf:ws/cand",
            &["--json", live.to_str().unwrap()],
        );
        assert!(r.code <= 1, "{name}: {}", r.stderr);
        let mut saved = Vec::new();
        for eval in ["base", "cand"] {
            let file = dir.path().join(format!("{name}.{eval}.json"));
            let r = api_fetch(&server, &policy, eval, &file);
            assert_eq!(r.code, 0, "{name}: {}", r.stderr);
            saved.push(file.to_str().unwrap().to_owned());
        }
        let offline = dir.path().join(format!("{name}.offline.json"));
        let requests = server.seen().len();
        let r = crate::run(&check_args(
            &policy,
            &saved[0],
            &saved[1],
            &["--today", "2026-11-26", "--json", offline.to_str().unwrap()],
        ));
        assert!(r.code <= 1, "{name}: {}", r.stderr);
        assert_eq!(server.seen().len(), requests, "offline means no request");
        assert_eq!(outcome(&live), outcome(&offline), "{name}");
    }
}

#[test]
fn fetch_without_a_policy_saves_every_panel_verbatim() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cand.json");
    let r = finish(api(&server).args(["fetch", "rf:ws/cand", "-o", file.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = read_json(&file);
    assert_eq!(doc["evalgate"]["format"], 2);
    assert_eq!(doc["evalgate"]["evalId"], "cand");
    // Each panel as the server sent it.
    let served = |target: &str| -> serde_json::Value {
        let seen = Seen {
            line: String::new(),
            method: "GET".into(),
            path: format!("/ws/model-evals/cand/{target}"),
            headers: Vec::new(),
            body: Vec::new(),
        };
        serde_json::from_slice(&stand_in(&seen).body).unwrap()
    };
    assert_eq!(doc["confidenceSweep"], served("confidence-sweep"));
    for split in ["test", "valid"] {
        assert_eq!(
            doc["performanceByClass"][split],
            served(&format!("performance-by-class?split={split}"))
        );
        let optimal = (doc["confidenceSweep"]["splits"][split]["optimalThreshold"]
            .as_f64()
            .unwrap()
            * 100.0)
            .round();
        let matrices = doc["confusionMatrix"][split].as_array().unwrap();
        let at: Vec<f64> = matrices
            .iter()
            .map(|m| m["confidenceThreshold"].as_f64().unwrap())
            .collect();
        // By confidence: the F1-optimal threshold is above 0.50 for the stand-in's curves.
        assert!(optimal > 50.0, "{optimal}");
        assert_eq!(at, [0.5, optimal / 100.0], "{split}");
        assert_eq!(
            matrices[0],
            served(&format!("confusion-matrix?split={split}&confidence=50"))
        );
    }
    assert_eq!(doc["splits"].as_object().unwrap().len(), 2);
    // Such a file serves any policy offline.
    let policy = write(dir.path(), "p.yaml", OPTIMAL_ALL);
    let r = crate::run(&candidate_check(&policy, file.to_str().unwrap(), &[]));
    assert!(r.code <= 1, "{}", r.stderr);
}

#[test]
fn an_eval_without_a_needed_panel_is_exit_4_saying_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", AT_40);
    let r = crate::run(&check_args(
        &policy,
        "examples/evals/baseline.json",
        "examples/evals/candidate.json",
        &[],
    ));
    assert_eq!(r.code, 4, "{}", r.stderr);
    let expected = format!(
        "candidate: examples/evals/candidate.json: the eval lacks the confidence sweep and the confusion matrix of split \"valid\" at confidence 0.40, which policy {policy} needs; for a Roboflow eval, save it with what the policy needs: evalgate fetch --policy {policy} rf:WORKSPACE/EVAL_ID -o FILE; for one written by evalgate eval, gate the predictions themselves: --ground-truth GT.json and coco:PRED.json on both sides"
    );
    assert!(r.stderr.contains(&expected), "{}", r.stderr);

    // A saved eval that names itself is named in the advice; one panel short is one named.
    let mut doc: serde_json::Value = serde_json::from_str(&example("candidate")).unwrap();
    doc["evalgate"] = serde_json::json!({"format": 2, "workspace": "ws", "evalId": "cand"});
    doc["confidenceSweep"] = serde_json::json!({"splits": {}});
    let file = write(dir.path(), "cand.json", &doc.to_string());
    let r = crate::run(&candidate_check(&policy, &file, &[]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the eval lacks the confusion matrix of split \"valid\" at confidence 0.40, which policy {policy} needs; save the eval with what the policy needs: evalgate fetch --policy {policy} rf:ws/cand -o FILE"
        )),
        "{}",
        r.stderr
    );
    // A name that is not a plain identifier is not repeated.
    doc["evalgate"]["workspace"] = serde_json::json!("ws\n::error::forged");
    let file = write(dir.path(), "named.json", &doc.to_string());
    let r = crate::run(&candidate_check(&policy, &file, &[]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("rf:WORKSPACE/EVAL_ID -o FILE"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("forged"), "{}", r.stderr);
    // `fetch --policy` of such a file refuses to save it, too.
    let out = dir.path().join("out.json");
    let r = crate::run(&[
        "fetch",
        "--policy",
        &policy,
        &file,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(!out.exists());
}

#[test]
fn a_panel_that_is_not_one_is_exit_4_and_the_key_never_reaches_a_saved_file() {
    // The sweep answered with another panel's body: refused, naming the panel, nothing saved.
    let server = Server::start(|req: &Seen, _| {
        if req.path.ends_with("/confidence-sweep") {
            return Reply::json(
                200,
                &std::fs::read_to_string(crate::repo(
                    "tests/fixtures/roboflow/docs-performance-by-class-object-detection.json",
                ))
                .unwrap(),
            );
        }
        stand_in(req)
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cand.json");
    let r = finish(api(&server).args(["fetch", "rf:ws/cand", "-o", out.to_str().unwrap()]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "eval: rf:ws/cand: confidenceSweep: no splits object: this is not a confidence-sweep body"
        ),
        "{}",
        r.stderr
    );
    assert!(!out.exists());

    // A server that echoes the key in a panel: the saved file has it redacted.
    let server = Server::start(|req: &Seen, _| {
        let mut reply = stand_in(req);
        if req.path.contains("/confusion-matrix") {
            let text = String::from_utf8(reply.body).unwrap();
            reply.body = text
                .replacen(
                    "\"split\"",
                    &format!("\"note\": \"{CANARY}\", \"split\""),
                    1,
                )
                .into_bytes();
        }
        reply
    });
    let policy = write(dir.path(), "p.yaml", AT_40);
    let r = finish(
        api(&server)
            .args(["fetch", "--policy", &policy, "rf:ws/cand", "-o"])
            .arg(&out),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let saved = std::fs::read_to_string(&out).unwrap();
    assert!(saved.contains("\"note\""), "{saved}");
    assert!(!saved.contains(CANARY), "{saved}");
}
