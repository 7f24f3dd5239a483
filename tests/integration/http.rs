//! `rf:` sources against a loopback stand-in of the Roboflow API: every status and body shape,
//! retries, waiting, timeouts, bad bodies, concurrency, and the key never leaking.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::server::{Reply, Seen, Server, panel};
use crate::{Run, candidate_check, check_args, evalgate, example, finish, read_json, repo};

pub(crate) const CANARY: &str = "canary-2f9c1e7d-key";
const POLICY: &str = "policies/detection.yaml";

pub(crate) fn record(id: &str, status: &str) -> String {
    format!(
        r#"{{"evalId": "{id}", "status": "{status}", "project": "cars", "versionId": "7", "modelId": null, "createdAt": "2026-11-20T10:00:00.000Z"}}"#
    )
}

/// A well-behaved API with a baseline eval `base` and a candidate eval `cand` in workspace `ws`.
pub(crate) fn healthy() -> Server {
    Server::start(|req: &Seen, _| stand_in(req))
}

const BASE_CLASSES: [&str; 5] = [
    "Car-rims",
    "headlight",
    "license-plate",
    "side-mirror",
    "wheel",
];
const CAND_CLASSES: [&str; 6] = [
    "Car-rims",
    "headlight",
    "license-plate",
    "side-mirror",
    "wheel",
    "tail-light",
];

/// What [`healthy`] answers: the examples' map-results, and panels for their splits and
/// classes in the documented shapes.
pub(crate) fn stand_in(req: &Seen) -> Reply {
    let splits = ["test", "valid"];
    // The key as a query parameter (ROBOFLOW_AUTH=query) is no part of what is asked.
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let query: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("api_key="))
        .collect();
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    };
    let panels = |eval: &str| {
        target.strip_prefix(&format!("/ws/model-evals/{eval}/"))?;
        match eval {
            "base" => panel(&target, &splits, &BASE_CLASSES, 0.0),
            _ => panel(&target, &splits, &CAND_CLASSES, -0.03),
        }
    };
    match target.as_str() {
        "/ws/model-evals/base" => Reply::json(200, &record("base", "done")),
        "/ws/model-evals/base/map-results" => Reply::json(200, &example("baseline")),
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
        "/ws/model-evals/cand/map-results" => Reply::json(200, &example("candidate")),
        _ => panels("base")
            .or_else(|| panels("cand"))
            .unwrap_or_else(|| {
                Reply::json(
                    404,
                    r#"{"error": "model_eval_not_found", "message": "Eval not found"}"#,
                )
            }),
    }
}

/// `evalgate` pointed at `server`, with the canary key and no proxy or workspace from the
/// machine's environment.
pub(crate) fn api(server: &Server) -> Command {
    let mut c = evalgate();
    c.env("ROBOFLOW_API_KEY", CANARY)
        .env("ROBOFLOW_API_URL", server.url())
        .env_remove("ROBOFLOW_WORKSPACE");
    without_proxy(&mut c);
    c
}

/// Clears the machine's proxy settings from `c`, so that requests go straight to loopback.
pub(crate) fn without_proxy(c: &mut Command) {
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(var);
    }
}

/// `evalgate check` against `server` on the examples' date, then `extra`.
pub(crate) fn api_check(
    server: &Server,
    policy: &str,
    baseline: &str,
    candidate: &str,
    extra: &[&str],
) -> Run {
    finish(
        api(server)
            .args(["check", "--policy", policy, "--today", "2026-11-26"])
            .args(["--baseline", baseline, "--candidate", candidate])
            .args(extra),
    )
}

fn check(server: &Server, baseline: &str, candidate: &str, extra: &[&str]) -> Run {
    api_check(server, POLICY, baseline, candidate, extra)
}

/// `evalgate fetch --policy policy rf:ws/{eval} -o out` against `server`.
pub(crate) fn api_fetch(server: &Server, policy: &str, eval: &str, out: &Path) -> Run {
    finish(api(server).args(["fetch", "--policy", policy]).args([
        &format!("rf:ws/{eval}"),
        "-o",
        out.to_str().unwrap(),
    ]))
}

/// The requests the server saw for one eval, without the eval's prefix, in arrival order.
pub(crate) fn asked(server: &Server, eval: &str) -> Vec<String> {
    let prefix = format!("/ws/model-evals/{eval}");
    server
        .seen()
        .iter()
        .filter_map(|s| s.path.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

/// Asserts the canary key is nowhere: not in output, not in any request line.
fn assert_no_leak(run: &Run, server: &Server) {
    assert!(
        !run.stdout.contains(CANARY),
        "key in stdout: {}",
        run.stdout
    );
    assert!(
        !run.stderr.contains(CANARY),
        "key in stderr: {}",
        run.stderr
    );
    for req in server.seen() {
        assert!(!req.line.contains(CANARY), "key in a URL: {}", req.line);
    }
}

#[test]
fn fetches_both_evals_with_the_key_in_a_header() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let md = dir.path().join("r.md");
    let r = check(
        &server,
        "rf:ws/base",
        "rf:ws/cand",
        &[
            "--json",
            json.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("evalgate: FAIL: 13 checks"),
        "{}",
        r.stdout
    );
    assert_no_leak(&r, &server);

    let seen = server.seen();
    assert_eq!(seen.len(), 4, "one GET per endpoint per eval: {seen:?}");
    for req in &seen {
        assert!(req.line.starts_with("GET "), "{}", req.line);
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {CANARY}").as_str())
        );
        assert!(
            req.header("user-agent").unwrap().starts_with("evalgate/"),
            "{req:?}"
        );
        assert!(
            req.header("accept-encoding").unwrap().contains("gzip"),
            "{req:?}"
        );
    }
    let report = read_json(&json);
    assert_eq!(report["candidate"]["source"], "rf:ws/cand");
    assert_eq!(report["candidate"]["eval_id"], "cand");
    assert_eq!(report["candidate"]["project"], "cars");
    assert_eq!(
        report["candidate"]["url"],
        "https://app.roboflow.com/ws/cars/evaluation/7"
    );
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("candidate [rf:ws/cand](https://app.roboflow.com/ws/cars/evaluation/7)"),
        "{text}"
    );
    for file in [&json, &md] {
        assert!(!std::fs::read_to_string(file).unwrap().contains(CANARY));
    }
}

#[test]
fn the_workspace_can_come_from_the_environment() {
    let server = healthy();
    let r = finish(
        api(&server)
            .env("ROBOFLOW_WORKSPACE", "ws")
            .args(check_args(POLICY, "rf:base", "rf:cand", &[])),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = finish(api(&server).args(candidate_check(POLICY, "rf:cand", &[])));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("set --workspace or ROBOFLOW_WORKSPACE"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_key_is_named() {
    let server = healthy();
    let r = finish(
        api(&server)
            .env_remove("ROBOFLOW_API_KEY")
            .args(candidate_check(POLICY, "rf:ws/cand", &[])),
    );
    assert_eq!(r.code, 4);
    assert_eq!(
        r.stderr,
        "error: candidate: ROBOFLOW_API_KEY is not set; rf: sources need an API key with the model-eval:read scope\n"
    );
    assert!(server.seen().is_empty(), "nothing is sent without a key");
}

#[test]
fn a_bare_word_suggests_rf() {
    let server = healthy();
    let r = check(
        &server,
        "examples/evals/baseline.json",
        "huUF720inUcymARwqAGK",
        &[],
    );
    assert_eq!(r.code, 4);
    assert!(r.stderr.contains("to fetch eval \"huUF720inUcymARwqAGK\" from Roboflow, write rf:WORKSPACE/huUF720inUcymARwqAGK"), "{}", r.stderr);
}

#[test]
fn client_errors_fail_at_once_with_what_to_check() {
    let cases: [(u16, &str, &str); 5] = [
        (
            401,
            r#"{"error": "unauthenticated", "message": "Invalid API key"}"#,
            "check ROBOFLOW_API_KEY: the key is missing, wrong or revoked",
        ),
        (
            403,
            r#"{"error": "forbidden"}"#,
            "the key has no access to workspace \"ws\"; it needs the model-eval:read scope",
        ),
        (
            404,
            r#"{"error": "model_eval_not_found", "message": "Eval 'cand' not found"}"#,
            "no eval \"cand\" in workspace \"ws\"",
        ),
        (
            404,
            r#"{"error": {"type": "GraphMethodException", "message": "scope missing"}}"#,
            "the key is valid but lacks the model-eval:read scope",
        ),
        (
            400,
            "<html><body><h1>400 Bad Request</h1></body></html>",
            "an HTML page, not JSON",
        ),
    ];
    for (status, body, hint) in cases {
        let body = body.to_owned();
        let server = Server::start(move |_, _| {
            if body.starts_with('<') {
                Reply::html(status, &body)
            } else {
                Reply::json(status, &body)
            }
        });
        let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
        assert_eq!(r.code, 4, "{status}: {}", r.stderr);
        assert!(r.stderr.contains(hint), "{status}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "HTTP {status} from {}/ws/model-evals/cand",
                server.url()
            )),
            "{}",
            r.stderr
        );
        assert_eq!(server.seen().len(), 2, "{status} is not retried");
        assert_no_leak(&r, &server);
    }
}

#[test]
fn an_unfinished_eval_exits_5_or_is_waited_for() {
    let server = Server::start(|req, nth| match req.path.as_str() {
        "/ws/model-evals/cand" if nth == 0 => Reply::json(200, &record("cand", "running")),
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
        "/ws/model-evals/cand/map-results" if nth == 0 => Reply::json(
            409,
            r#"{"error": "model_eval_not_done", "message": "Eval still running"}"#,
        ),
        "/ws/model-evals/cand/map-results" => Reply::json(200, &example("candidate")),
        _ => Reply::json(404, "{}"),
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the eval is not finished yet; pass --wait 10m to wait for it"),
        "{}",
        r.stderr
    );

    // The next look finds it done.
    let r = check(
        &server,
        "examples/evals/baseline.json",
        "rf:ws/cand",
        &["--wait", "30s"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn waiting_gives_up_after_the_deadline() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "running")),
        _ => Reply::json(
            409,
            r#"{"error": "model_eval_not_done", "message": "Eval still running"}"#,
        ),
    });
    let start = Instant::now();
    let r = check(
        &server,
        "examples/evals/baseline.json",
        "rf:ws/cand",
        &["--wait", "2s"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is still running (waited 0s); looking again in 1s"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("the eval is not finished yet after waiting"),
        "{}",
        r.stderr
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_failed_eval_exits_4() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "failed")),
        _ => Reply::json(409, r#"{"error": "model_eval_not_done"}"#),
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("status is \"failed\""), "{}", r.stderr);
}

#[test]
fn transient_failures_are_retried() {
    let server = Server::start(|req, nth| match (req.path.as_str(), nth) {
        (_, 0) => Reply::html(502, "<html>502 Bad Gateway</html>"),
        (_, 1) => Reply::json(503, "{}"),
        ("/ws/model-evals/cand", _) => Reply::json(200, &record("cand", "done")),
        _ => Reply::json(200, &example("candidate")),
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(server.seen().len(), 6);
    assert!(r.stderr.contains("HTTP 502 (an HTML page, not JSON: a proxy or gateway answered instead of the API); retry 1 in"), "{}", r.stderr);
    assert_no_leak(&r, &server);
}

#[test]
fn retry_after_is_honoured() {
    let server = Server::start(|req, nth| match (req.path.as_str(), nth) {
        (_, 0) => Reply::json(429, r#"{"error": "rate_limited"}"#).header("Retry-After", "1"),
        ("/ws/model-evals/cand", _) => Reply::json(200, &record("cand", "done")),
        _ => Reply::json(200, &example("candidate")),
    });
    let start = Instant::now();
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "the server asked for a second"
    );
    assert!(
        r.stderr.contains("HTTP 429 (rate_limited); retry 1 in 1s"),
        "{}",
        r.stderr
    );
}

#[test]
fn retries_run_out_with_the_last_cause() {
    let server = Server::start(|_, _| {
        Reply::json(503, r#"{"error": "unavailable", "message": "try later"}"#)
    });
    let r = check(
        &server,
        "examples/evals/baseline.json",
        "rf:ws/cand",
        &["--retries", "2"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("gave up after 3 attempts; last error: HTTP 503"),
        "{}",
        r.stderr
    );
    assert_eq!(server.seen().len(), 6);
}

#[test]
fn a_server_that_stalls_times_out() {
    let server = Server::start(|_, _| Reply::json(200, "{}").delayed(Duration::from_secs(5)));
    let start = Instant::now();
    let r = check(
        &server,
        "examples/evals/baseline.json",
        "rf:ws/cand",
        &["--timeout", "300ms", "--retries", "1"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("gave up after 2 attempts; last error: timeout"),
        "{}",
        r.stderr
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn bad_bodies_are_load_failures() {
    let truncated = Server::start(|req, _| match req.path.as_str() {
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
        _ => Reply::json(200, &example("candidate")).cut_at(100),
    });
    let r = check(
        &truncated,
        "examples/evals/baseline.json",
        "rf:ws/cand",
        &["--retries", "1"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("gave up after 2 attempts; last error: reading the body"),
        "{}",
        r.stderr
    );

    let html = Server::start(|req, _| match req.path.as_str() {
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
        _ => Reply::html(200, "<html><body>Sign in</body></html>"),
    });
    let r = check(&html, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("candidate: rf:ws/cand: an HTML page, not JSON"),
        "{}",
        r.stderr
    );

    let big = Server::start(|req, _| match req.path.as_str() {
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
        _ => Reply::json(200, &example("candidate")),
    });
    let r = check(&big, "rf:ws/cand", "rf:ws/cand", &["--max-body", "1KiB"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the response is larger than 1024 bytes; raise --max-body"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_server_echoing_the_key_does_not_leak_it() {
    let server = Server::start(|req, _| {
        let auth = req.header("authorization").unwrap_or_default().to_owned();
        Reply::json(
            400,
            &format!(r#"{{"error": "bad_request", "message": "you sent {auth}"}}"#),
        )
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 4);
    assert!(
        r.stderr.contains("you sent Bearer [redacted]"),
        "{}",
        r.stderr
    );
    assert_no_leak(&r, &server);
}

#[test]
fn the_two_evals_and_their_requests_run_concurrently() {
    let delay = Duration::from_millis(800);
    let server = Server::start(move |req, _| {
        let reply = match req.path.as_str() {
            "/ws/model-evals/base" => Reply::json(200, &record("base", "done")),
            "/ws/model-evals/base/map-results" => Reply::json(200, &example("baseline")),
            "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
            _ => Reply::json(200, &example("candidate")),
        };
        reply.delayed(delay)
    });
    let start = Instant::now();
    let r = check(&server, "rf:ws/base", "rf:ws/cand", &[]);
    let took = start.elapsed();
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Four requests one after another would take 3.2 s.
    assert!(took < delay * 5 / 2, "took {took:?}");
}

#[test]
fn plain_http_beyond_loopback_is_refused_before_any_request() {
    let r = finish(
        evalgate()
            .env("ROBOFLOW_API_KEY", CANARY)
            .args(candidate_check(
                POLICY,
                "rf:ws/cand",
                &["--api-url", "http://api.example.com"],
            )),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("plain http would send the API key unencrypted; use https"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(CANARY));
}

#[test]
fn fetch_saves_an_eval_that_check_replays() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("cand.json");
    let r = finish(api(&server).args(["fetch", "rf:ws/cand", "-o", saved.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = read_json(&saved);
    assert_eq!(doc["evalgate"]["evalId"], "cand");
    assert_eq!(doc["evalgate"]["workspace"], "ws");
    assert_eq!(doc["evalgate"]["versionId"], "7");
    assert!(!std::fs::read_to_string(&saved).unwrap().contains(CANARY));

    // Offline, the saved file gives the same verdict and keeps the eval's identity.
    let json = dir.path().join("r.json");
    let r = crate::run(&check_args(
        POLICY,
        "examples/evals/baseline.json",
        saved.to_str().unwrap(),
        &["--json", json.to_str().unwrap()],
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = read_json(&json);
    assert_eq!(
        report["candidate"]["url"],
        "https://app.roboflow.com/ws/cars/evaluation/7"
    );

    // To stdout, and refusing to save what is not an eval.
    let r = finish(api(&server).args(["fetch", "rf:ws/cand"]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("\"evalgate\""));
    let r = finish(api(&server).args([
        "fetch",
        "rf:ws/nope",
        "-o",
        dir.path().join("x.json").to_str().unwrap(),
    ]));
    assert_eq!(r.code, 4);
    assert!(!dir.path().join("x.json").exists());
}

#[test]
fn gzip_bodies_are_accepted() {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(example("candidate").as_bytes()).unwrap();
    let compressed = gz.finish().unwrap();
    let server = Server::start(move |req, _| match req.path.as_str() {
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
        _ => {
            let mut r = Reply::json(200, "").header("Content-Encoding", "gzip");
            r.body = compressed.clone();
            r
        }
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn a_409_on_the_record_also_means_not_finished() {
    let server = Server::start(|_, _| {
        Reply::json(
            409,
            r#"{"error": "model_eval_not_done", "message": "Eval still running"}"#,
        )
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 5, "{}", r.stderr);
}

#[test]
fn a_key_echoed_at_the_cut_is_still_redacted() {
    // The key straddles the 300-character cut of server messages.
    let server = Server::start(|_, _| {
        Reply::json(
            401,
            &format!(
                r#"{{"error": "unauthenticated", "message": "{}{CANARY}"}}"#,
                "x".repeat(290)
            ),
        )
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 4);
    assert!(
        !r.stderr.contains(&CANARY[..8]),
        "part of the key leaked: {}",
        r.stderr
    );
    assert_no_leak(&r, &server);
}

#[test]
fn an_api_url_holding_a_key_is_refused_without_echoing_it() {
    for url in [
        format!("https://api.roboflow.com/?api_key={CANARY}"),
        format!("https://user:{CANARY}@api.roboflow.com"),
        format!("https://api.roboflow.com/#{CANARY}"),
    ] {
        let r = finish(
            evalgate()
                .env("ROBOFLOW_API_KEY", "k")
                .env("ROBOFLOW_API_URL", &url)
                .args(["fetch", "rf:ws/x"]),
        );
        assert_eq!(r.code, 2, "{url}: {}", r.stderr);
        assert!(!r.stderr.contains(CANARY), "{}", r.stderr);
        assert!(
            r.stderr.contains("https://api.roboflow.com"),
            "{}",
            r.stderr
        );
    }
    let r = finish(
        evalgate()
            .env(
                "ROBOFLOW_API_URL",
                format!("https://api.roboflow.com/?api_key={CANARY}"),
            )
            .args(["check", "--help"]),
    );
    assert!(
        !r.stdout.contains(CANARY),
        "--help shows env values: {}",
        r.stdout
    );
}

#[test]
fn a_permanent_failure_is_not_hidden_behind_a_wait() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/ws/model-evals/running" => Reply::json(200, &record("running", "running")),
        "/ws/model-evals/running/map-results" => {
            Reply::json(409, r#"{"error": "model_eval_not_done"}"#)
        }
        "/ws/model-evals/denied" | "/ws/model-evals/denied/map-results" => {
            Reply::json(401, r#"{"error": "unauthenticated"}"#)
        }
        _ => Reply::json(404, r#"{"error": "model_eval_not_found"}"#),
    });
    for (baseline, candidate) in [
        ("rf:ws/running", "rf:ws/nope"),
        ("rf:ws/denied", "rf:ws/running"),
    ] {
        let start = Instant::now();
        let r = check(&server, baseline, candidate, &["--wait", "20s"]);
        assert_eq!(r.code, 4, "{baseline} {candidate}: {}", r.stderr);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the run waited {:?} for nothing",
            start.elapsed()
        );
        assert!(!r.stderr.contains("stopped: another eval"), "{}", r.stderr);
    }
}

#[test]
fn the_last_look_comes_at_the_deadline() {
    let server = Server::start(|req, nth| match req.path.as_str() {
        "/ws/model-evals/cand" if nth < 2 => Reply::json(200, &record("cand", "running")),
        "/ws/model-evals/cand" => Reply::json(200, &record("cand", "done")),
        _ => Reply::json(200, &example("candidate")),
    });
    // Looks at 0 s, 1 s and, the deadline, 2 s; it is done on the third.
    let r = check(
        &server,
        "examples/evals/baseline.json",
        "rf:ws/cand",
        &["--wait", "2s"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn an_unknown_status_is_not_done_and_redirects_are_not_followed() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/ws/model-evals/queued" => Reply::json(200, &record("queued", "queued")),
        "/ws/model-evals/queued/map-results" => Reply::json(200, &example("candidate")),
        _ => Reply::json(302, "").header("Location", "https://elsewhere.example/steal"),
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/queued", &[]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/moved", &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("redirect to https://elsewhere.example/steal"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("evalgate does not follow redirects"),
        "{}",
        r.stderr
    );
    let r = check(
        &server,
        "examples/evals/baseline.json",
        "rf:ws/x",
        &["--timeout", "0s"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn roboflow_auth_query_sends_the_key_as_a_parameter_and_prints_no_url() {
    let server = Server::start(|req: &Seen, nth| {
        let path = req.path.split('?').next().unwrap_or_default().to_owned();
        match (path.as_str(), nth) {
            (_, 0) => Reply::json(503, r#"{"message": "busy"}"#),
            ("/ws/model-evals/cand", _) => Reply::json(200, &record("cand", "done")),
            ("/ws/model-evals/cand/map-results", _) => Reply::json(200, &example("candidate")),
            _ => Reply::json(
                404,
                r#"{"error": "model_eval_not_found", "message": "Eval not found"}"#,
            ),
        }
    });
    let run = |candidate: &str| {
        finish(api(&server).env("ROBOFLOW_AUTH", "query").args(check_args(
            POLICY,
            "examples/evals/baseline.json",
            candidate,
            &["--today", "2026-11-26", "--retries", "1"],
        )))
    };
    let r = run("rf:ws/cand");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("retry 1 in"), "{}", r.stderr);
    for req in server.seen() {
        assert!(
            req.path.ends_with(&format!("?api_key={CANARY}")),
            "{}",
            req.line
        );
        assert_eq!(req.header("authorization"), None, "{req:?}");
    }
    let r = run("rf:ws/nope");
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("rf:ws/nope (record)") || r.stderr.contains("rf:ws/nope (map-results)"),
        "{}",
        r.stderr
    );
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains("127.0.0.1"), "a URL was printed: {text}");
        assert!(!text.contains(CANARY), "{text}");
    }
    // The documented setting, and only those two values.
    let help = crate::run(&["check", "--help"]);
    assert!(help.stdout.contains("ROBOFLOW_AUTH"), "{}", help.stdout);
    let r = finish(
        api(&server)
            .env("ROBOFLOW_AUTH", "cookie")
            .args(["fetch", "rf:ws/cand"]),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_401_to_the_header_names_roboflow_auth_query() {
    let server = Server::start(|_, _| {
        Reply::json(401, r#"{"error": "unauthenticated", "message": "bad key"}"#)
    });
    let r = check(&server, "examples/evals/baseline.json", "rf:ws/cand", &[]);
    assert_eq!(r.code, 4);
    assert!(r.stderr.contains("set ROBOFLOW_AUTH=query"), "{}", r.stderr);
    let r = finish(
        api(&server)
            .env("ROBOFLOW_AUTH", "query")
            .args(["fetch", "rf:ws/cand"]),
    );
    assert_eq!(r.code, 4);
    assert!(!r.stderr.contains("ROBOFLOW_AUTH=query"), "{}", r.stderr);
}

#[test]
fn fetch_never_saves_what_check_cannot_read() {
    // Every stored body the API could send as map-results, plus one that already carries an
    // `evalgate` key: whatever `fetch` saves, `check` loads.
    let mut bodies: Vec<(String, String)> = Vec::new();
    for dir in ["tests/fixtures/roboflow", "examples/evals"] {
        for entry in std::fs::read_dir(repo(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                bodies.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    let mut with_key: serde_json::Value = serde_json::from_str(&example("candidate")).unwrap();
    with_key["evalgate"] = serde_json::json!({"evalId": "stale", "workspace": "old"});
    bodies.push(("a body with an evalgate key".into(), with_key.to_string()));
    let mut saved_any = 0;
    for (name, body) in bodies {
        let server = Server::start(move |req: &Seen, _| match req.path.as_str() {
            "/ws/model-evals/e" => Reply::json(200, &record("e", "done")),
            _ => Reply::json(200, &body),
        });
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("e.json");
        // A policy that needs map-results only: these bodies are map-results bodies.
        let r = finish(api(&server).args([
            "fetch",
            "--policy",
            POLICY,
            "rf:ws/e",
            "-o",
            saved.to_str().unwrap(),
        ]));
        if r.code != 0 {
            assert!(
                !saved.exists(),
                "{name}: exit {} but a file was saved",
                r.code
            );
            continue;
        }
        saved_any += 1;
        for policy in ["policies/detection.yaml", "policies/segmentation.yaml"] {
            let c = crate::run(&candidate_check(policy, saved.to_str().unwrap(), &[]));
            assert!(
                ![4, 5].contains(&c.code),
                "{name}: fetch saved a file that check cannot load: {}",
                c.stderr
            );
        }
    }
    assert!(saved_any >= 4, "only {saved_any} bodies were saved");
    // The body's own key gave way to the record's.
    let server = Server::start(move |req: &Seen, _| match req.path.as_str() {
        "/ws/model-evals/e" => Reply::json(200, &record("e", "done")),
        _ => Reply::json(200, &with_key.to_string()),
    });
    let r = finish(api(&server).args(["fetch", "--policy", POLICY, "rf:ws/e"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let saved: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(saved["evalgate"]["evalId"], "e");
    assert_eq!(r.stdout.matches("\"evalgate\"").count(), 1, "{}", r.stdout);
}
