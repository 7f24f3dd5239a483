//! No secret in any output, however a hostile server echoes it: JSON-escaped, percent-encoded,
//! as an HTML entity, split by a NUL, a TAB or a zero-width space, in an error body, in a
//! retried response, or as the whole body of a 200. All three secrets are set in every run,
//! so that a server of one API echoing another API's secret is covered too.

use std::process::Command;

use crate::server::{Reply, Seen, Server};
use crate::{Run, check_args, evalgate, example, finish, write};

const RF: &str = "rfkey-Canary-7Hq2ZkP9";
const GH: &str = "ghs_canaryTok3nXyZ42";
const GL: &str = "glpat-canaryTok3nQw7";
const ALL: [&str; 3] = [RF, GH, GL];

/// The ways a server can write `secret` inside a JSON string so that it decodes to the secret,
/// or to the secret with a character slipped in.
fn forms(secret: &str) -> Vec<String> {
    let (head, tail) = secret.split_at(1);
    let (a, b) = secret.split_at(5);
    vec![
        format!("\\u{:04x}{tail}", u32::from(head.as_bytes()[0])),
        format!("{a}\\u0000{b}"),
        format!("{a}\\t{b}"),
        format!("{a}\\n{b}"),
        format!("{a}\\u200b{b}"),
        format!("%{:02X}{tail}", head.as_bytes()[0]),
        format!("&#{};{tail}", head.as_bytes()[0]),
        secret.to_owned(),
    ]
}

/// Every secret in one form, for one message.
fn echo(form: usize) -> String {
    ALL.iter()
        .map(|s| forms(s)[form].clone())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn n_forms() -> usize {
    forms(RF).len()
}

/// `text` with what could hide a secret from a plain search undone: whitespace, control and
/// zero-width characters dropped, `\uXXXX`, `%XX` and `&#NN;` decoded.
fn squash(text: &str) -> String {
    let decoded = decode(text);
    decoded
        .chars()
        .filter(|c| {
            !(c.is_whitespace()
                || c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{FEFF}' | '\u{2060}'))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        match encoded(&b[i..]) {
            Some((c, len)) => {
                out.push(c);
                i += len;
            }
            None => {
                let c = text[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The character `\uXXXX`, `%XX` or `&#NN;` at the start of `b`, and its length.
fn encoded(b: &[u8]) -> Option<(char, usize)> {
    let hex = |s: &[u8]| u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok();
    let (value, len) = match b {
        [b'\\', b'u', rest @ ..] if rest.len() >= 4 => (hex(&rest[..4])?, 6),
        [b'%', rest @ ..] if rest.len() >= 2 => (hex(&rest[..2])?, 3),
        [b'&', b'#', rest @ ..] => {
            let end = rest.iter().take(8).position(|&c| c == b';')?;
            (
                std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?,
                end + 3,
            )
        }
        _ => return None,
    };
    Some((char::from_u32(value)?, len))
}

fn assert_clean(what: &str, texts: &[&str]) {
    for text in texts {
        for secret in ALL {
            assert!(
                !squash(text).contains(secret),
                "{what}: {secret} shows in {text}"
            );
        }
    }
}

fn with_secrets(c: &mut Command) -> &mut Command {
    c.env("ROBOFLOW_API_KEY", RF)
        .env("GITHUB_TOKEN", GH)
        .env("GITLAB_TOKEN", GL)
        .env_remove("ROBOFLOW_WORKSPACE")
        .env_remove("ROBOFLOW_AUTH")
}

const RECORD: &str = r#"{"evalId": "cand", "status": "done", "project": "cars", "versionId": "7"}"#;

/// A Roboflow stand-in whose every answer to the eval is `reply(path, nth)`.
fn roboflow(reply: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Server {
    Server::start(move |req: &Seen, nth| reply(&req.path, nth))
}

fn check(server: &Server, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let mut c = evalgate();
    with_secrets(&mut c)
        .env("ROBOFLOW_API_URL", server.url())
        .args(check_args(
            "policies/detection.yaml",
            "examples/evals/baseline.json",
            "rf:ws/cand",
            &["--today", "2026-11-26", "--json", json.to_str().unwrap()],
        ))
        .args(extra);
    let r = finish(&mut c);
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    assert_clean("the JSON report", &[&report]);
    r
}

fn fetch(server: &Server) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("saved.json");
    let mut c = evalgate();
    with_secrets(&mut c)
        .env("ROBOFLOW_API_URL", server.url())
        // Map-results only: the stand-ins here answer every path with one body.
        .args([
            "fetch",
            "--policy",
            "policies/detection.yaml",
            "rf:ws/cand",
            "-o",
        ])
        .arg(&out);
    let r = finish(&mut c);
    let saved = std::fs::read_to_string(&out).unwrap_or_default();
    assert_clean("the saved eval", &[&saved]);
    r
}

#[test]
fn roboflow_error_bodies_never_show_a_secret() {
    for form in 0..n_forms() {
        let message = echo(form);
        let server = roboflow(move |_, _| {
            Reply::json(
                400,
                &format!(r#"{{"error": "bad_request", "message": "your key {message} is wrong"}}"#),
            )
        });
        for r in [check(&server, &[]), fetch(&server)] {
            assert_eq!(r.code, 4, "form {form}: {}", r.stderr);
            assert!(r.stderr.contains("[redacted]"), "form {form}: {}", r.stderr);
            assert_clean(&format!("form {form}"), &[&r.stdout, &r.stderr]);
        }
    }
}

#[test]
fn retry_progress_lines_never_show_a_secret() {
    for form in 0..n_forms() {
        let message = echo(form);
        let server = roboflow(move |path, nth| match (path, nth) {
            (_, 0) => Reply::json(
                503,
                &format!(r#"{{"error": "unavailable", "message": "busy, {message}"}}"#),
            ),
            ("/ws/model-evals/cand", _) => Reply::json(200, RECORD),
            _ => Reply::json(200, &example("candidate")),
        });
        let r = check(&server, &["--retries", "1"]);
        assert!(r.code <= 1, "form {form}: {}", r.stderr);
        assert!(r.stderr.contains("retry 1 in"), "{}", r.stderr);
        assert!(r.stderr.contains("[redacted]"), "form {form}: {}", r.stderr);
        assert_clean(&format!("form {form}"), &[&r.stdout, &r.stderr]);
    }
}

#[test]
fn a_200_body_that_is_a_secret_is_not_quoted() {
    for form in 0..n_forms() {
        for endpoint in ["/ws/model-evals/cand", "/ws/model-evals/cand/map-results"] {
            let body = format!("\"{}\"", echo(form));
            let server = roboflow(move |path, _| match path {
                p if p == endpoint => Reply::json(200, &body),
                "/ws/model-evals/cand" => Reply::json(200, RECORD),
                _ => Reply::json(200, &example("candidate")),
            });
            for r in [check(&server, &[]), fetch(&server)] {
                assert_eq!(r.code, 4, "{endpoint}, form {form}: {}", r.stderr);
                assert_clean(&format!("{endpoint}, form {form}"), &[&r.stdout, &r.stderr]);
            }
        }
    }
}

#[test]
fn a_class_named_after_the_key_reaches_no_report() {
    let mut eval: serde_json::Value = serde_json::from_str(&example("candidate")).unwrap();
    let classes = eval["splits"]["valid"]["perClass"].as_object_mut().unwrap();
    let first = classes.values().next().unwrap().clone();
    classes.insert(RF.to_owned(), first);
    // Escaped in the body, so that only a decoding redaction finds it.
    let body = eval.to_string().replace(RF, &forms(RF)[0]);
    let server = roboflow(move |path, _| match path {
        "/ws/model-evals/cand" => Reply::json(200, RECORD),
        _ => Reply::json(200, &body),
    });
    let r = check(&server, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    assert_clean("check", &[&r.stdout, &r.stderr]);
    let r = fetch(&server);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A GitHub (or GitLab) stand-in that answers every request with `reply`.
fn comment(gitlab: bool, require: bool, reply: impl Fn() -> Reply + Send + Sync + 'static) -> Run {
    let server = Server::start(move |_, _| reply());
    let dir = tempfile::tempdir().unwrap();
    let md = write(dir.path(), "r.md", "## ✅ evalgate: passed\n");
    let mut c = evalgate();
    with_secrets(&mut c);
    if gitlab {
        c.env("GITLAB_CI", "true")
            .env("CI_API_V4_URL", format!("{}/api/v4", server.url()))
            .env("CI_PROJECT_ID", "42")
            .env("CI_MERGE_REQUEST_IID", "3")
            .args(["comment", "--author", "bot"]);
    } else {
        let event = write(dir.path(), "event.json", r#"{"number": 7}"#);
        c.env("GITHUB_REPOSITORY", "octo/cars")
            .env("GITHUB_EVENT_PATH", event)
            .env("GITHUB_API_URL", server.url())
            .arg("comment");
    }
    c.args(["--markdown", &md, "--retries", "1"]);
    if require {
        c.arg("--require");
    }
    finish(&mut c)
}

#[test]
fn comment_errors_never_show_a_secret() {
    for gitlab in [false, true] {
        for form in 0..n_forms() {
            for status in [403, 500] {
                let message = echo(form);
                let r = comment(gitlab, status == 403, move || {
                    Reply::json(
                        status,
                        &format!(r#"{{"message": "token {message} refused"}}"#),
                    )
                });
                assert_ne!(
                    r.code, 0,
                    "gitlab {gitlab}, form {form}, {status}: {}",
                    r.stderr
                );
                assert!(r.stderr.contains("[redacted]"), "{}", r.stderr);
                assert_clean(
                    &format!("gitlab {gitlab}, form {form}, {status}"),
                    &[&r.stdout, &r.stderr],
                );
            }
            // Degraded to a warning (no --require), the warning is clean too.
            let message = echo(form);
            let r = comment(gitlab, false, move || {
                Reply::json(403, &format!(r#"{{"message": "token {message} refused"}}"#))
            });
            assert_eq!(r.code, 0, "{}", r.stderr);
            assert_clean("the warning", &[&r.stdout, &r.stderr]);
            // A list of comments that is a JSON string: the parse error quotes nothing.
            let body = format!("\"{}\"", echo(form));
            let r = comment(gitlab, true, move || Reply::json(200, &body));
            assert_eq!(r.code, 7, "{}", r.stderr);
            assert!(r.stderr.contains("unexpected response"), "{}", r.stderr);
            assert_clean(
                &format!("gitlab {gitlab}, form {form}"),
                &[&r.stdout, &r.stderr],
            );
        }
    }
}

#[test]
fn api_urls_holding_a_secret_in_their_path_are_refused_unshown() {
    for url in [
        format!("https://api.roboflow.com/{RF}"),
        format!("https://api.roboflow.com/v1/{}", forms(RF)[5]),
        "https://api.roboflow.com/huUF720inUcymARwqAGK/".to_owned(),
    ] {
        let mut c = evalgate();
        with_secrets(&mut c)
            .env("ROBOFLOW_API_URL", &url)
            .args(["fetch", "rf:ws/x"]);
        let r = finish(&mut c);
        assert_eq!(r.code, 2, "{url}: {}", r.stderr);
        assert!(
            r.stderr.contains("looks like it holds a secret"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("huUF720"), "{}", r.stderr);
        assert_clean(&url, &[&r.stdout, &r.stderr]);
    }
    let dir = tempfile::tempdir().unwrap();
    let md = write(dir.path(), "r.md", "## ok\n");
    let event = write(dir.path(), "event.json", r#"{"number": 7}"#);
    let mut c = evalgate();
    with_secrets(&mut c)
        .env("GITHUB_REPOSITORY", "octo/cars")
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_API_URL", format!("https://api.github.com/{GH}"))
        .args(["comment", "--markdown", &md, "--require"]);
    let r = finish(&mut c);
    assert_ne!(r.code, 0);
    assert_clean("GITHUB_API_URL", &[&r.stdout, &r.stderr]);
}

#[test]
fn the_forms_decode_to_the_secret() {
    // The test's own decoder must see through every form, or the tests above prove nothing.
    for form in forms(RF) {
        let json: String = serde_json::from_str(&format!("\"{form}\"")).unwrap();
        assert!(squash(&json).contains(RF), "{form:?} → {json:?}");
    }
}
