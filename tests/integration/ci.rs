//! CI integration: `check` under GitHub Actions, and `comment` against loopback stand-ins of
//! the GitHub and GitLab APIs.

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::server::{Reply, Seen, Server};
use crate::{detection_eval, evalgate, example_check, finish, write};

const TOKEN: &str = "ghs_canaryToken4f1e";

/// GitHub comments held by the stand-in: id, author login, body.
type Comments = Arc<Mutex<Vec<(u64, String, String)>>>;
/// GitLab notes held by the stand-in: id, author username, system, body.
type Notes = Arc<Mutex<Vec<(u64, String, bool, String)>>>;

/// The values of a `$GITHUB_OUTPUT` file written in the `name<<DELIM` form.
fn outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(head) = lines.next() {
        let (name, delim) = head.split_once("<<").expect("multi-line form");
        let mut value = Vec::new();
        for line in lines.by_ref() {
            if line == delim {
                break;
            }
            value.push(line);
        }
        out.push((name.to_owned(), value.join("\n")));
    }
    out
}

#[test]
fn check_under_github_actions_writes_summary_outputs_and_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let output = dir.path().join("output");
    std::fs::write(&summary, "## an earlier step\n").unwrap();
    let junit = dir.path().join("r.xml");
    let r = finish(
        evalgate()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output)
            .args(example_check(
                "detection",
                &["--today", "2026-11-26", "--junit", junit.to_str().unwrap()],
            )),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        // A block of its own, after a blank line.
        summary.starts_with("## an earlier step\n\n## ❌ evalgate: failed"),
        "appended: {summary}"
    );
    assert_eq!(
        outputs(&std::fs::read_to_string(&output).unwrap()),
        [
            ("verdict".into(), "fail".into()),
            ("exit-code".into(), "1".into()),
            ("junit".into(), junit.display().to_string())
        ]
    );
    let annotations: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(
        annotations,
        [
            "::error file=policies/detection.yaml,line=24,title=evalgate%3A valid / class \"license-plate\" / map50 max_drop::0.9510 → 0.8720 (-0.0790), max_drop 0.0500",
            "::warning file=policies/detection.yaml,line=21,title=evalgate%3A valid / small / map50_95 max_drop::0.5520 → 0.4980 (-0.0540), max_drop 0.0300",
            "::warning file=policies/detection.yaml,line=21,title=evalgate%3A valid / small / map50_95 min::0.4980 < min 0.5000",
        ]
    );
}

#[test]
fn annotations_are_capped_and_forge_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = (0..14).map(|i| format!("class-{i:02}")).collect();
    names.push("::error::forged".into());
    names.push("x\n::add-mask::secret%0A".into());
    let base: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 0.9)).collect();
    let cand: Vec<(&str, f64)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), 0.8 - i as f64 / 100.0))
        .collect();
    let b = write(dir.path(), "b.json", &detection_eval(&base));
    let c = write(dir.path(), "c.json", &detection_eval(&cand));
    let p = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    classes:\n      '*': {map50: {max_drop: 0.05}}\n",
    );
    let r = finish(evalgate().args([
        "check",
        "--github",
        "--policy",
        &p,
        "--baseline",
        &b,
        "--candidate",
        &c,
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let commands: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 11, "{commands:#?}");
    assert!(
        commands[..9]
            .iter()
            .all(|l| l.starts_with(&format!("::error file={p},line=5,title="))),
        "{commands:#?}"
    );
    assert_eq!(
        commands[9],
        format!("::error file={p},title=evalgate::and 7 more failing checks; see the job summary")
    );
    // No line the runner reads as a command other than ours; names are escaped inside them.
    assert!(
        r.stdout.lines().all(|l| !l.starts_with("::")
            || l.starts_with("::error file=")
            || l.starts_with("::warning ")),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("::add-mask::"), "{}", r.stdout);
    assert!(!r.stdout.contains("::error::forged"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("::warning title=evalgate::GITHUB_STEP_SUMMARY is not set"),
        "{}",
        r.stdout
    );
}

/// A stand-in for GitHub's issue-comments API holding `comments` (`id`, `login`, `body`).
fn github(comments: Vec<(u64, &str, String)>, deny_writes: bool) -> (Server, Comments) {
    let store: Comments = Arc::new(Mutex::new(
        comments
            .into_iter()
            .map(|(id, l, b)| (id, l.to_owned(), b))
            .collect(),
    ));
    let state = store.clone();
    let server = Server::start(move |req: &Seen, _| {
        let mut comments = state.lock().unwrap();
        let base = "/repos/octo/cars/issues";
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", p) if p.starts_with(&format!("{base}/7/comments?per_page=100")) => {
                let page: usize = p
                    .split("page=")
                    .nth(2)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let items: Vec<serde_json::Value> = comments.iter().skip((page - 1) * 100).take(100)
                    .map(|(id, login, body)| json!({"id": id, "body": body, "user": {"login": login, "type": "User"}}))
                    .collect();
                let mut reply = Reply::json(200, &serde_json::Value::Array(items).to_string());
                if page * 100 < comments.len() {
                    let host = req.header("host").unwrap_or_default().to_owned();
                    reply = reply.header(
                        "Link",
                        &format!(
                            "<http://{host}{base}/7/comments?per_page=100&page={}>; rel=\"next\"",
                            page + 1
                        ),
                    );
                }
                reply
            }
            (_, _) if deny_writes => Reply::json(
                403,
                r#"{"message": "Resource not accessible by integration"}"#,
            ),
            ("PATCH", p) if p.starts_with(&format!("{base}/comments/")) => {
                let id: u64 = p.rsplit('/').next().unwrap().parse().unwrap();
                let body = req.json()["body"].as_str().unwrap().to_owned();
                let c = comments.iter_mut().find(|c| c.0 == id).unwrap();
                c.2 = body;
                Reply::json(200, &json!({"id": id}).to_string())
            }
            ("POST", p) if p == format!("{base}/7/comments") => {
                let id = 10_000 + comments.len() as u64;
                comments.push((
                    id,
                    "github-actions[bot]".into(),
                    req.json()["body"].as_str().unwrap().to_owned(),
                ));
                Reply::json(201, &json!({"id": id}).to_string())
            }
            _ => Reply::json(404, r#"{"message": "Not Found"}"#),
        }
    });
    (server, store)
}

fn comment_cmd(server: &Server, markdown: &str, extra: &[&str]) -> crate::Run {
    let dir = tempfile::tempdir().unwrap();
    let md = write(dir.path(), "r.md", markdown);
    let event = write(
        dir.path(),
        "event.json",
        r#"{"action": "synchronize", "number": 7, "pull_request": {"number": 7}}"#,
    );
    let mut c = evalgate();
    c.env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_REPOSITORY", "octo/cars")
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_API_URL", server.url())
        .args(["comment", "--markdown", &md]);
    c.args(extra);
    let r = finish(&mut c);
    assert!(
        !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
        "token leaked: {}{}",
        r.stdout,
        r.stderr
    );
    r
}

#[test]
fn updates_the_marker_comment_on_page_two_of_150() {
    let mut comments: Vec<(u64, &str, String)> = (1..=150)
        .map(|i| (i, "someone", format!("comment {i}")))
        .collect();
    comments[120] = (
        121,
        "github-actions[bot]",
        "<!-- evalgate:default -->\nold report".into(),
    );
    let (server, store) = github(comments, false);
    let r = comment_cmd(&server, "## ✅ evalgate: passed\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "evalgate: updated comment 121\n");
    let store = store.lock().unwrap();
    assert_eq!(store.len(), 150, "nothing new posted");
    assert_eq!(
        store[120].2,
        "<!-- evalgate:default -->\n## ✅ evalgate: passed\n"
    );
    let seen = server.seen();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["GET", "GET", "PATCH"]);
    for req in &seen {
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(req.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(req.header("x-github-api-version"), Some("2022-11-28"));
        assert!(req.header("user-agent").unwrap().starts_with("evalgate/"));
        assert!(!req.line.contains(TOKEN));
    }
}

#[test]
fn creates_a_comment_when_none_is_ours_and_never_edits_a_human_one() {
    let human = "<!-- evalgate:default -->\nI quoted the bot".to_owned();
    let other_gate = "<!-- evalgate:segmentation -->\nanother gate".to_owned();
    let (server, store) = github(
        vec![
            (1, "alice", human.clone()),
            (2, "github-actions[bot]", other_gate.clone()),
        ],
        false,
    );
    let r = comment_cmd(&server, "## ❌ evalgate: failed\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "evalgate: created comment 10002\n");
    let store = store.lock().unwrap();
    assert_eq!(store[0].2, human);
    assert_eq!(store[1].2, other_gate);
    assert_eq!(
        store[2].2,
        "<!-- evalgate:default -->\n## ❌ evalgate: failed\n"
    );
}

#[test]
fn a_read_only_token_degrades_to_a_warning_unless_required() {
    let (server, _) = github(vec![], true);
    let r = comment_cmd(&server, "## report\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("warning: cannot write the comment (HTTP 403 from "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Resource not accessible by integration"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("workflow_run"), "{}", r.stderr);
    let r = comment_cmd(&server, "## report\n", &["--require"]);
    assert_eq!(r.code, 7, "{}", r.stderr);
}

#[test]
fn an_oversized_report_is_cut_to_the_limit() {
    let (server, store) = github(vec![], false);
    let mut md = String::from(
        "## ❌ evalgate: failed\n\n<details><summary>rows</summary>\n\n| class | status |\n|---|---|\n",
    );
    while md.len() < 300_000 {
        md.push_str("| class-🚗 | ❌ fail |\n");
    }
    md.push_str("</details>\n");
    let r = comment_cmd(&server, &md, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let body = store.lock().unwrap()[0].2.clone();
    assert!(
        body.chars().count() <= 65_536 && body.len() <= 262_144,
        "{} chars, {} bytes",
        body.chars().count(),
        body.len()
    );
    assert!(body.starts_with("<!-- evalgate:default -->\n## ❌ evalgate: failed"));
    assert!(body.contains("cut to fit the comment size limit"));
    assert_eq!(
        body.matches("<details>").count(),
        body.matches("</details>").count()
    );
}

#[test]
fn outside_a_pull_request_there_is_nothing_to_comment_on() {
    let (server, _) = github(vec![], false);
    let dir = tempfile::tempdir().unwrap();
    let md = write(dir.path(), "r.md", "x");
    let push = write(dir.path(), "event.json", r#"{"ref": "refs/heads/main"}"#);
    let r = finish(
        evalgate()
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", "octo/cars")
            .env("GITHUB_EVENT_PATH", &push)
            .env("GITHUB_API_URL", server.url())
            .args(["comment", "--markdown", &md]),
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .contains("no comment posted: the event is not a pull request"),
        "{}",
        r.stderr
    );
    assert!(server.seen().is_empty());
    // --pr names it explicitly (the workflow_run recipe).
    let r = finish(
        evalgate()
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", "octo/cars")
            .env("GITHUB_API_URL", server.url())
            .args([
                "comment",
                "--markdown",
                &md,
                "--pr",
                "7",
                "--key",
                "nightly",
            ]),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        server.seen().last().unwrap().json()["body"]
            .as_str()
            .unwrap()
            .starts_with("<!-- evalgate:nightly -->")
    );
    // Missing settings are usage errors.
    let r = finish(
        evalgate()
            .env("GITHUB_REPOSITORY", "octo/cars")
            .env("GITHUB_API_URL", server.url())
            .args(["comment", "--markdown", &md, "--pr", "7"]),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("GITHUB_TOKEN is not set"), "{}", r.stderr);
    let r = finish(evalgate().args(["comment", "--markdown", &md, "--pr", "7", "--key", "a -->"]));
    assert_eq!(r.code, 2);
}

/// A stand-in for GitLab's merge-request notes API.
fn gitlab(notes: Vec<(u64, &str, bool, String)>, deny_writes: bool) -> (Server, Notes) {
    let store: Notes = Arc::new(Mutex::new(
        notes
            .into_iter()
            .map(|(id, u, s, b)| (id, u.to_owned(), s, b))
            .collect(),
    ));
    let state = store.clone();
    let server = Server::start(move |req: &Seen, _| {
        let mut notes = state.lock().unwrap();
        let base = "/api/v4/projects/42/merge_requests/3/notes";
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v4/user") => Reply::json(200, r#"{"username": "project_42_bot"}"#),
            ("GET", p) if p.starts_with(&format!("{base}?per_page=100")) => {
                let page: usize = p
                    .split("&page=")
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let items: Vec<serde_json::Value> = notes.iter().skip((page - 1) * 100).take(100)
                    .map(|(id, user, system, body)| json!({"id": id, "body": body, "system": system, "author": {"username": user}}))
                    .collect();
                let next = if page * 100 < notes.len() {
                    (page + 1).to_string()
                } else {
                    String::new()
                };
                Reply::json(200, &serde_json::Value::Array(items).to_string())
                    .header("X-Next-Page", &next)
            }
            (_, _) if deny_writes => Reply::json(403, r#"{"message": "403 Forbidden"}"#),
            ("PUT", p) if p.starts_with(&format!("{base}/")) => {
                let id: u64 = p.rsplit('/').next().unwrap().parse().unwrap();
                let body = req.json()["body"].as_str().unwrap().to_owned();
                notes.iter_mut().find(|n| n.0 == id).unwrap().3 = body;
                Reply::json(200, &json!({"id": id}).to_string())
            }
            ("POST", p) if p == base => {
                let id = 900 + notes.len() as u64;
                notes.push((
                    id,
                    "project_42_bot".into(),
                    false,
                    req.json()["body"].as_str().unwrap().to_owned(),
                ));
                Reply::json(201, &json!({"id": id}).to_string())
            }
            _ => Reply::json(404, r#"{"message": "404 Not Found"}"#),
        }
    });
    (server, store)
}

fn gitlab_cmd(server: &Server, extra: &[&str]) -> crate::Run {
    let dir = tempfile::tempdir().unwrap();
    let md = write(dir.path(), "r.md", "## ✅ evalgate: passed\n");
    let mut c = evalgate();
    c.env("GITLAB_CI", "true")
        .env("GITLAB_TOKEN", TOKEN)
        .env("CI_API_V4_URL", format!("{}/api/v4", server.url()))
        .env("CI_PROJECT_ID", "42")
        .env("CI_MERGE_REQUEST_IID", "3")
        .args(["comment", "--markdown", &md]);
    c.args(extra);
    let r = finish(&mut c);
    assert!(
        !r.stdout.contains(TOKEN) && !r.stderr.contains(TOKEN),
        "token leaked"
    );
    r
}

#[test]
fn gitlab_updates_its_own_note_across_pages() {
    let mut notes: Vec<(u64, &str, bool, String)> = (1..=130)
        .map(|i| (i, "dev", false, format!("note {i}")))
        .collect();
    notes[5] = (
        6,
        "project_42_bot",
        true,
        "<!-- evalgate:default -->\na system note".into(),
    );
    notes[6] = (
        7,
        "dev",
        false,
        "<!-- evalgate:default -->\nquoted by a human".into(),
    );
    notes[110] = (
        111,
        "project_42_bot",
        false,
        "<!-- evalgate:default -->\nold".into(),
    );
    let (server, store) = gitlab(notes, false);
    let r = gitlab_cmd(&server, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "evalgate: updated comment 111\n");
    let store = store.lock().unwrap();
    assert_eq!(
        store[110].3,
        "<!-- evalgate:default -->\n## ✅ evalgate: passed\n"
    );
    assert_eq!(store[6].3, "<!-- evalgate:default -->\nquoted by a human");
    for req in server.seen() {
        assert_eq!(req.header("private-token"), Some(TOKEN));
        assert!(!req.line.contains(TOKEN));
    }
}

#[test]
fn gitlab_creates_a_note_and_degrades_on_403() {
    let (server, store) = gitlab(vec![(1, "dev", false, "hello".into())], false);
    let r = gitlab_cmd(&server, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(store.lock().unwrap().len(), 2);
    let (denied, _) = gitlab(vec![], true);
    let r = gitlab_cmd(&denied, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("GITLAB_TOKEN needs the api scope"),
        "{}",
        r.stderr
    );
    let r = gitlab_cmd(&denied, &["--require"]);
    assert_eq!(r.code, 7);
}

#[test]
fn the_job_summary_starts_a_block_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    // An earlier step left a table without a final newline.
    std::fs::write(&summary, "| 1 | 2 |").unwrap();
    let r = finish(
        evalgate()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(example_check("detection", &["--today", "2026-11-26"])),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("| 1 | 2 |\n\n## ❌ evalgate: failed\n"),
        "{text}"
    );
}
