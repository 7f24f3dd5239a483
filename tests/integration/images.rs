//! The per-image predictions behind noise-tested rules: which pages a policy asks for, what
//! `fetch` saves and `check` replays, and what a short, overlapping or failed set of pages
//! does (exit 4), or images that differ between the evals (exit 6).

use crate::http::{CANARY, api, api_check, api_fetch, asked, healthy, stand_in};
use crate::server::{IMAGES, Reply, Seen, Server};
use crate::{Run, check_args, finish, outcome, read_json, write};

/// Noise-tested recall drops on `valid` at a fixed confidence: the sweep, the matrix and the
/// images of `valid` at 40.
const NOISE_40: &str = r#"version: 1
task: object-detection
operating_point: {confidence: 0.40}
statistics: {significance: 0.05, correction: holm, resamples: 200, seed: 1}
splits:
  valid:
    map50: {min: 0.10}
    recall: {max_drop: 0.02}
    classes:
      "*":
        recall: {max_drop: auto}
"#;

/// The same rules without a `statistics` block (so with fixed thresholds only).
fn without_statistics() -> String {
    NOISE_40
        .replace(
            "statistics: {significance: 0.05, correction: holm, resamples: 200, seed: 1}\n",
            "",
        )
        .replace(
            "{max_drop: auto}",
            "{max_drop: 0.05}\n        min_support: 5",
        )
}

fn check(server: &Server, policy: &str, extra: &[&str]) -> Run {
    api_check(server, policy, "rf:ws/base", "rf:ws/cand", extra)
}

fn page(offset: u64) -> String {
    format!("/image-predictions?split=valid&confidence=40&limit=1000&offset={offset}")
}

#[test]
fn a_noise_tested_policy_asks_the_first_page_then_the_rest_per_eval() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", NOISE_40);
    let json = dir.path().join("r.json");
    let r = check(&server, &policy, &["--json", json.to_str().unwrap()]);
    assert!(r.code <= 1, "{}", r.stderr);
    assert_eq!(IMAGES, 1_500, "two pages of 1,000");
    for eval in ["base", "cand"] {
        let seen = asked(&server, eval);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "".to_owned(),
                "/confidence-sweep".into(),
                "/confusion-matrix?split=valid&confidence=40".into(),
                page(0),
                page(1000),
                "/map-results".into(),
            ],
            "{eval}"
        );
        let at = |p: &str| seen.iter().position(|s| s == p).unwrap();
        assert!(at(&page(0)) < at(&page(1000)), "{eval}: {seen:?}");
    }
    // The noise test ran over every image of both pages.
    let report = read_json(&json);
    let split = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "valid/recall/max_drop")
        .unwrap();
    assert_eq!(split["statistics"]["images"], IMAGES, "{split}");
    assert!(
        split["message"]
            .as_str()
            .unwrap()
            .contains("paired bootstrap over 1500 images"),
        "{split}"
    );
}

#[test]
fn a_policy_without_statistics_asks_for_no_image() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", &without_statistics());
    let r = check(&server, &policy, &[]);
    assert!(r.code <= 1, "{}", r.stderr);
    assert!(
        !server
            .seen()
            .iter()
            .any(|s| s.path.contains("image-predictions")),
        "{:?}",
        server.seen()
    );
    // Nor does `fetch` without a policy.
    let out = dir.path().join("saved.json");
    let r = finish(api(&server).args(["fetch", "rf:ws/cand", "-o", out.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !server
            .seen()
            .iter()
            .any(|s| s.path.contains("image-predictions"))
    );
}

#[test]
fn fetch_saves_every_page_verbatim_and_an_offline_check_gives_the_live_result() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", NOISE_40);
    let live = dir.path().join("live.json");
    let r = check(&server, &policy, &["--json", live.to_str().unwrap()]);
    assert!(r.code <= 1, "{}", r.stderr);
    let mut saved = Vec::new();
    for eval in ["base", "cand"] {
        let file = dir.path().join(format!("{eval}.json"));
        let r = api_fetch(&server, &policy, eval, &file);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let doc = read_json(&file);
        let pages = doc["imagePredictions"]["valid"].as_array().unwrap();
        assert_eq!(pages.len(), 2, "{eval}");
        for (i, offset) in [0, 1000].into_iter().enumerate() {
            let seen = Seen {
                line: String::new(),
                method: "GET".into(),
                path: format!("/ws/model-evals/{eval}{}", page(offset)),
                headers: Vec::new(),
                body: Vec::new(),
            };
            let served: serde_json::Value = serde_json::from_slice(&stand_in(&seen).body).unwrap();
            assert_eq!(pages[i], served, "{eval} page {i}");
        }
        saved.push(file.to_str().unwrap().to_owned());
    }
    let offline = dir.path().join("offline.json");
    let requests = server.seen().len();
    let r = crate::run(&check_args(
        &policy,
        &saved[0],
        &saved[1],
        &["--today", "2026-11-26", "--json", offline.to_str().unwrap()],
    ));
    assert!(r.code <= 1, "{}", r.stderr);
    assert_eq!(server.seen().len(), requests, "offline means no request");
    assert_eq!(outcome(&live), outcome(&offline));
}

/// A stand-in whose second page of `valid` for the candidate is `second(target)`.
fn second_page_of_cand(second: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
    Server::start(move |req: &Seen, _| {
        if req
            .path
            .starts_with("/ws/model-evals/cand/image-predictions")
            && req.path.contains("offset=1000")
        {
            return second(&req.path);
        }
        stand_in(req)
    })
}

#[test]
fn a_short_or_overlapping_page_or_a_failed_one_is_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", NOISE_40);
    let classes = [
        "Car-rims",
        "headlight",
        "license-plate",
        "side-mirror",
        "wheel",
    ];
    // 400 images where 500 are left.
    let server = second_page_of_cand(move |target| {
        crate::server::image_page(
            &target.replace("limit=1000", "limit=400"),
            &classes,
            -0.03,
            IMAGES,
        )
    });
    let r = check(&server, &policy, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "candidate: rf:ws/cand: imagePredictions.valid: the pages hold 1400 images of the 1500 totalImages says: a page is short or missing; fetch the eval again"
        ),
        "{}",
        r.stderr
    );
    // The second page starts one image early, and says it starts where it should.
    let server = second_page_of_cand(move |target| {
        let mut reply = crate::server::image_page(
            &target.replace("offset=1000", "offset=999"),
            &classes,
            -0.03,
            IMAGES,
        );
        reply.body = String::from_utf8(reply.body)
            .unwrap()
            .replace("\"offset\":999", "\"offset\":1000")
            .into_bytes();
        reply
    });
    let r = check(&server, &policy, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    // A fetched body's own text is not repeated.
    assert!(
        r.stderr.contains(
            "candidate: rf:ws/cand: imagePredictions.valid: image \"…\" is listed twice (images 999 and 1000): the pages overlap"
        ),
        "{}",
        r.stderr
    );
    // A page that keeps failing is the eval unavailable, not a gate without the noise test.
    let server = second_page_of_cand(|_| {
        Reply::json(503, r#"{"error": "unavailable", "message": "try later"}"#)
    });
    let r = check(&server, &policy, &["--retries", "1"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "{}/ws/model-evals/cand{}: gave up after 2 attempts",
            server.url(),
            page(1000)
        )),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(CANARY));
}

#[test]
fn images_that_differ_between_the_evals_are_exit_6() {
    let server = Server::start(|req: &Seen, _| {
        let mut reply = stand_in(req);
        if req
            .path
            .starts_with("/ws/model-evals/cand/image-predictions")
        {
            reply.body = String::from_utf8(reply.body)
                .unwrap()
                .replace("\"img-00007\"", "\"img-other\"")
                .into_bytes();
        }
        reply
    });
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "p.yaml", NOISE_40);
    let r = check(&server, &policy, &[]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("valid"), "{}", r.stderr);
}

#[test]
fn a_saved_eval_without_its_images_is_exit_4_saying_how_to_get_them() {
    let server = healthy();
    let dir = tempfile::tempdir().unwrap();
    // Saved under a policy without statistics: the sweep and matrix, but no image.
    let plain = write(dir.path(), "plain.yaml", &without_statistics());
    let file = dir.path().join("cand.json");
    let r = finish(
        api(&server)
            .args(["fetch", "--policy", &plain, "rf:ws/cand", "-o"])
            .arg(&file),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let policy = write(dir.path(), "p.yaml", NOISE_40);
    let file = file.to_str().unwrap();
    let r = crate::run(&check_args(&policy, file, file, &[]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "{file}: the eval lacks the per-image predictions of split \"valid\" at confidence 0.40, which policy {policy} needs; save the eval with what the policy needs: evalgate fetch --policy {policy} rf:ws/cand -o FILE"
        )),
        "{}",
        r.stderr
    );
}
