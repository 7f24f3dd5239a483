//! Bounded input: hostile policies and evals are refused quickly, in bounded memory, with the
//! documented exit code, and never crash (exit 101) or overflow the stack (a signal).
//! Long names in the Markdown report are covered by `reports.rs`; the 300-character cut of
//! messages and the 80-character cut of waiver reasons are here.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{candidate_check, check_args, detection_eval, evalgate, read_json, write};

/// The outcome of a run that may have died: its exit code, or `None` when a signal ended it.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Memory a hostile input may cost, as an address-space limit: far more than evalgate needs,
/// far less than reading without bounds would take.
const ADDRESS_SPACE_KIB: u64 = 2 << 20;

/// Runs `evalgate ARGS` under `ulimit -v`, so an unbounded allocation fails the test instead
/// of the machine.
fn run_bounded(args: &[&str]) -> Outcome {
    let eg = evalgate();
    let mut sh = Command::new("sh");
    sh.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(eg.get_program())
        .args(args);
    for (k, v) in eg.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = sh.output().expect("sh runs");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

/// Asserts evalgate ended by itself, with one of `codes`, within `limit`.
fn assert_exit(what: &str, o: &Outcome, codes: &[i32], limit: Duration) {
    let Some(code) = o.code else {
        panic!("{what}: killed by a signal (stack overflow?)\n{}", o.stderr);
    };
    assert_ne!(code, 101, "{what}: panicked\n{}", o.stderr);
    assert!(
        codes.contains(&code),
        "{what}: exit {code}, expected one of {codes:?}\n{}",
        o.stderr
    );
    assert!(
        o.took < limit,
        "{what}: took {:?}, more than {limit:?}",
        o.took
    );
}

fn check_policy(dir: &Path, policy: &str) -> Outcome {
    let p = write(dir, "policy.yaml", policy);
    run_bounded(&candidate_check(&p, "examples/evals/candidate.json", &[]))
}

const QUICK: Duration = Duration::from_secs(10);

#[test]
fn a_yaml_alias_bomb_is_refused_quickly() {
    // "Billion laughs": nine levels of nine aliases each, 9^9 strings if expanded.
    let mut bomb = String::from(
        "version: 1\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = "a".to_owned();
    for i in 0..9 {
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        prev = format!("l{i}");
    }
    let dir = tempfile::tempdir().unwrap();
    let o = check_policy(dir.path(), &bomb);
    assert_exit("alias bomb", &o, &[3], QUICK);
    assert!(o.stderr.contains("error[yaml-syntax]"), "{}", o.stderr);

    // Aliases past the budget, even of a small anchor, are refused too.
    let many = format!(
        "version: 1\nx: &x 1\nys: [{}]\n",
        vec!["*x"; 5000].join(", ")
    );
    let o = check_policy(dir.path(), &many);
    assert_exit("5,000 aliases", &o, &[3], QUICK);
    assert!(o.stderr.contains("error[yaml-syntax]"), "{}", o.stderr);
}

#[test]
fn a_policy_nested_5000_deep_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let n = 5000;
    for (what, text) in [
        (
            "flow sequences",
            format!("version: 1\nsplits: {}{}\n", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "flow mappings",
            format!(
                "version: 1\nsplits: {}1{}\n",
                "{a: ".repeat(n),
                "}".repeat(n)
            ),
        ),
        (
            "block mappings, 400 deep (5,000 would pass 1 MiB)",
            (0..n)
                .map(|i| format!("{:w$}k{i}:\n", "", w = (i % 400) * 2))
                .collect::<String>(),
        ),
    ] {
        let o = check_policy(dir.path(), &text);
        assert_exit(what, &o, &[3], QUICK);
        assert!(o.stderr.contains("error["), "{what}: {}", o.stderr);
    }
}

#[test]
fn a_policy_over_1_mib_is_refused_unparsed() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\nsplits:\n  valid:\n    map50: 0.5\n");
    while text.len() <= 1 << 20 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let o = check_policy(dir.path(), &text);
    assert_exit("1 MiB policy", &o, &[3], QUICK);
    assert!(o.stderr.contains("error[policy-too-large]"), "{}", o.stderr);

    // Exactly at the limit it is read (and this one is valid).
    text.truncate(1 << 20);
    let cut = text.rfind('\n').unwrap() + 1;
    text.truncate(cut);
    let o = check_policy(dir.path(), &text);
    assert_exit("policy under 1 MiB", &o, &[0, 1], QUICK);
}

/// `--policy` on something endless (a symlink to /dev/zero committed in a PR) stops at the
/// 1 MiB limit instead of reading until memory runs out (bounded here by `ulimit -v`).
#[test]
fn an_endless_policy_is_cut_at_1_mib() {
    let o = run_bounded(&candidate_check(
        "/dev/zero",
        "examples/evals/candidate.json",
        &[],
    ));
    assert_exit("/dev/zero policy", &o, &[3], QUICK);
    assert!(
        o.stderr.contains("is larger than 1048576 bytes"),
        "{}",
        o.stderr
    );
}

fn check_eval(dir: &Path, eval: &str, policy: &str) -> Outcome {
    let e = write(dir, "eval.json", eval);
    let p = write(dir, "policy.yaml", policy);
    run_bounded(&candidate_check(&p, &e, &[]))
}

const SPLIT_POLICY: &str = "version: 1\nsplits:\n  valid:\n    map50: 0.5\n";

#[test]
fn an_eval_nested_100000_deep_is_refused_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100_000;
    let deep_arrays = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    for (what, eval) in [
        ("a bare nested array", deep_arrays.clone()),
        (
            "nested in an unknown field",
            format!("{{\"extra\": {deep_objects}, \"splits\": {{\"valid\": {{\"map50\": 0.9}}}}}}"),
        ),
        (
            "nested in splits",
            format!("{{\"splits\": {{\"valid\": {deep_objects}}}}}"),
        ),
        (
            "nested in perClass",
            format!(
                "{{\"splits\": {{\"valid\": {{\"map50\": 0.9, \"perClass\": {{\"car\": {deep_arrays}}}}}}}}}"
            ),
        ),
        (
            "nested in an error body",
            format!("{{\"error\": {deep_objects}}}"),
        ),
    ] {
        let o = check_eval(dir.path(), &eval, SPLIT_POLICY);
        // Refused (4), or judged cleanly (0, 1) when the depth is in a field evalgate skips.
        assert_exit(what, &o, &[0, 1, 4], QUICK);
    }
}

#[test]
fn an_eval_with_200000_keys_is_read_or_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200_000;
    let keys = |f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>().join(",");

    // Unknown top-level fields are skipped.
    let eval = format!(
        "{{{}, \"splits\": {{\"valid\": {{\"map50\": 0.9}}}}}}",
        keys(&|i| format!("\"k{i}\": {i}"))
    );
    let o = check_eval(dir.path(), &eval, SPLIT_POLICY);
    assert_exit("200,000 unknown keys", &o, &[0], QUICK);

    // 200,000 classes: read; the split rule judges the split.
    let eval = format!(
        "{{\"splits\": {{\"valid\": {{\"map50\": 0.9, \"perClass\": {{{}}}}}}}}}",
        keys(&|i| format!("\"c{i}\": {{\"map50\": 0.5}}"))
    );
    let o = check_eval(dir.path(), &eval, SPLIT_POLICY);
    assert_exit("200,000 classes", &o, &[0], Duration::from_secs(30));
    assert!(o.stdout.contains("PASS: 1 check"), "{}", o.stdout);

    // 200,000 splits, one of them judged.
    let eval = format!(
        "{{\"splits\": {{{}, \"valid\": {{\"map50\": 0.9}}}}}}",
        keys(&|i| format!("\"s{i}\": {{}}"))
    );
    let o = check_eval(dir.path(), &eval, SPLIT_POLICY);
    assert_exit("200,000 splits", &o, &[0], Duration::from_secs(30));

    // 200,000 copies of one class: a duplicate is a broken eval.
    let eval = format!(
        "{{\"splits\": {{\"valid\": {{\"map50\": 0.9, \"perClass\": {{{}}}}}}}}}",
        keys(&|_| "\"car\": {\"map50\": 0.5}".to_owned())
    );
    let o = check_eval(dir.path(), &eval, SPLIT_POLICY);
    assert_exit("200,000 duplicate classes", &o, &[4], QUICK);
    assert!(
        o.stderr.contains("duplicate key \\\"car\\\"")
            || o.stderr.contains("duplicate key \"car\""),
        "{}",
        o.stderr
    );
}

#[test]
fn an_eval_over_the_body_cap_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let mut eval = String::from("{\"splits\": {\"valid\": {\"map50\": 0.9}}, \"pad\": \"");
    eval.push_str(&"x".repeat(3 << 20));
    eval.push_str("\"}");
    let e = write(dir.path(), "big.json", &eval);
    let o = run_bounded(&candidate_check(
        "policies/detection.yaml",
        &e,
        &["--max-body", "1MiB"],
    ));
    assert_exit("3 MiB eval, 1 MiB cap", &o, &[4], QUICK);
    assert!(
        o.stderr.contains("larger than 1048576 bytes"),
        "{}",
        o.stderr
    );
    // Endless input stops at the cap too.
    let o = run_bounded(&candidate_check(
        "policies/detection.yaml",
        "/dev/zero",
        &["--max-body", "1MiB"],
    ));
    assert_exit("/dev/zero eval", &o, &[4], QUICK);
}

#[test]
fn long_messages_and_waiver_reasons_are_cut_in_markdown_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gone = "g".repeat(2000);
    let reason = "r".repeat(500);
    let b = write(d, "b.json", &detection_eval(&[(&gone, 0.9), ("car", 0.9)]));
    let c = write(d, "c.json", &detection_eval(&[("car", 0.5)]));
    let p = write(
        d,
        "p.yaml",
        &format!(
            "version: 1\nsplits:\n  valid:\n    classes:\n      '*': {{map50: {{max_drop: 0.05}}}}\nwaivers:\n  - split: valid\n    class: car\n    reason: {reason}\n    until: 2020-01-01\n"
        ),
    );
    let (md, json) = (d.join("r.md"), d.join("r.json"));
    let o = run_bounded(&check_args(
        &p,
        &b,
        &c,
        &[
            "--markdown",
            md.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    ));
    assert_exit("long message", &o, &[1], QUICK);
    let md = std::fs::read_to_string(md).unwrap();
    let json = read_json(json);

    // The vanished class's message names it whole in JSON; Markdown cuts it at 300.
    let presence = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == "presence")
        .unwrap();
    let message = presence["message"].as_str().unwrap();
    assert!(message.contains(&gone), "{message}");
    // `class "` and 284 characters of the name make 291, then `…` and an eight-letter hash.
    let cut = |text: &str, kept: usize, c: char| {
        let at = text.find(&format!("{}…", c.to_string().repeat(kept)))?;
        let after = &text[at + kept + '…'.len_utf8()..];
        Some(after.chars().take(8).all(|c| c.is_ascii_lowercase()))
    };
    assert_eq!(cut(&md, 284, 'g'), Some(true), "{md}");
    assert!(
        !md.contains(&"g".repeat(285)),
        "a message longer than 300 characters"
    );

    // The expired waiver's reason: whole in JSON, cut to 80 in the Markdown.
    assert_eq!(json["waivers"][0]["reason"].as_str(), Some(reason.as_str()));
    assert_eq!(cut(&md, 71, 'r'), Some(true), "{md}");
    assert!(!md.contains(&"r".repeat(72)), "{md}");
}

/// A million empty classes (12 MB, well under the default 64 MiB input cap) under a `"*"`
/// class rule: a million checks, which must fit the 2 GiB address space with every report,
/// and a lower `--max-checks` refuses them with the count and the setting to raise.
#[test]
fn a_million_class_eval_fits_in_bounded_memory_and_the_check_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut eval = String::from(r#"{"splits": {"valid": {"map50": 0.5, "perClass": {"#);
    for i in 0..1_000_000 {
        if i > 0 {
            eval.push(',');
        }
        eval.push_str(&format!("\"{i}\": {{}}"));
    }
    eval.push_str("}}}}");
    let e = write(dir.path(), "eval.json", &eval);
    let p = write(
        dir.path(),
        "policy.yaml",
        "version: 1\nsplits:\n  valid:\n    classes:\n      '*':\n        map50: {min: 0.1}\n",
    );
    let json = dir.path().join("r.json");
    let md = dir.path().join("r.md");
    let xml = dir.path().join("r.xml");
    let o = run_bounded(&candidate_check(
        &p,
        &e,
        &[
            "--json",
            json.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
            "--junit",
            xml.to_str().unwrap(),
        ],
    ));
    // No class has a map50: a floor that cannot be checked fails (missing.metric: fail).
    assert_exit("a million classes", &o, &[1], Duration::from_secs(300));
    assert!(o.stdout.contains("1000000 checks"), "{}", o.stdout);

    let o = run_bounded(&candidate_check(&p, &e, &["--max-checks", "999999"]));
    // Debug builds parse 12 MB slowly; the bound is on ending at all, not on speed.
    assert_exit("over the check cap", &o, &[3], Duration::from_secs(120));
    assert!(
        o.stderr
            .contains("asks for 1000000 checks of these evals, more than the limit of 999999")
            && o.stderr.contains("--max-checks"),
        "{}",
        o.stderr
    );
}

#[test]
fn keys_of_different_types_with_the_same_text_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    for (first, second) in [("1", "1.0"), ("\"1\"", "1"), ("null", "~")] {
        let policy = format!(
            "version: 1\nsplits:\n  valid:\n    classes:\n      {first}: {{map50: {{min: 0.95}}}}\n      {second}: {{map50: {{min: 0.1}}}}\n"
        );
        let p = write(dir.path(), "p.yaml", &policy);
        let r = crate::run(&["policy", "check", &p]);
        assert_eq!(r.code, 3, "{first} / {second}: {}", r.stderr);
        assert!(r.stderr.contains("yaml-syntax"), "{}", r.stderr);
        assert!(
            r.stderr.contains("lines 5 and 6"),
            "{first} / {second}: {}",
            r.stderr
        );
    }
}

#[test]
fn dates_are_only_yyyy_mm_dd() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["2026-1-5", "+2026-01-16", "-2026-01-01", "2026-01-16T00:00"] {
        let today = format!("--today={bad}");
        let r = crate::run(&candidate_check(
            "policies/detection.yaml",
            "examples/evals/candidate.json",
            &[&today],
        ));
        assert_eq!(r.code, 2, "--today {bad}: {}", r.stderr);
        assert!(r.stderr.contains("YYYY-MM-DD"), "{}", r.stderr);
        let p = write(
            dir.path(),
            "p.yaml",
            &format!(
                "version: 1\nsplits:\n  valid:\n    map50: 0.5\nwaivers:\n  - split: valid\n    reason: r\n    until: {bad}\n"
            ),
        );
        let r = crate::run(&["policy", "check", &p]);
        assert_eq!(r.code, 3, "until: {bad}: {}", r.stderr);
        assert!(r.stderr.contains("invalid-date"), "{}", r.stderr);
    }
}

#[test]
fn an_empty_source_is_a_usage_error() {
    for role in ["--baseline", "--candidate"] {
        let mut args = vec![
            "check",
            "--policy",
            "policies/detection.yaml",
            "--baseline",
            "examples/evals/baseline.json",
            "--candidate",
            "examples/evals/candidate.json",
        ];
        let at = args.iter().position(|a| *a == role).unwrap();
        args[at + 1] = "";
        let r = crate::run(&args);
        assert_eq!(r.code, 2, "{role} \"\": {}", r.stderr);
        assert!(r.stderr.contains("the source is empty"), "{}", r.stderr);
    }
}

#[test]
fn the_percent_hint_is_for_percents_only() {
    let dir = tempfile::tempdir().unwrap();
    for (value, hint) in [
        ("70", "for 70% write `min: 0.7`"),
        ("85.5", "for 85.5% write `min: 0.855`"),
        ("1.1", "for 1.1% write `min: 0.011`"),
        (
            "1.0000000001",
            "a threshold lies between 0 and 1 (`min: 1` at most)",
        ),
        ("250", "a threshold lies between 0 and 1 (`min: 1` at most)"),
    ] {
        let p = write(
            dir.path(),
            "p.yaml",
            &format!("version: 1\nsplits:\n  valid:\n    map50: {{min: {value}}}\n"),
        );
        let r = crate::run(&["policy", "check", &p]);
        assert_eq!(r.code, 3, "{value}: {}", r.stderr);
        assert!(r.stderr.contains(hint), "{value}: {}", r.stderr);
        if !hint.starts_with("for ") {
            assert!(!r.stderr.contains("% write"), "{value}: {}", r.stderr);
        }
    }
}
