//! What a new user meets first: help texts, man pages, the documentation's address, and the
//! diagnostics for the mistakes a first policy has.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::{candidate_check, evalgate, finish, repo, run, write};

const BASELINE: &str = "examples/evals/baseline.json";

fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let r = run(&all);
    assert_eq!(r.code, 0, "{all:?}: {}", r.stderr);
    r.stdout
}

/// The `Environment:` section of a help text.
fn environment(help: &str) -> &str {
    let start = help
        .find("\nEnvironment:\n")
        .expect("an Environment section");
    let rest = &help[start..];
    &rest[..rest
        .find("\nExamples:\n")
        .expect("an Examples section after it")]
}

#[test]
fn every_command_names_the_environment_it_reads() {
    let roboflow = [
        "ROBOFLOW_API_KEY",
        "ROBOFLOW_WORKSPACE",
        "ROBOFLOW_API_URL",
        "ROBOFLOW_AUTH",
    ];
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["check"],
            &[
                &roboflow[..],
                &[
                    "GITHUB_ACTIONS",
                    "GITHUB_STEP_SUMMARY",
                    "GITHUB_OUTPUT",
                    "GITHUB_WORKSPACE",
                ],
            ]
            .concat(),
        ),
        (&["fetch"], &roboflow),
        (&["init"], &roboflow),
        (&["policy"], &roboflow),
        (&["policy", "check"], &roboflow),
        (&["policy", "explain"], &roboflow),
        (
            &["comment"],
            &[
                "GITHUB_TOKEN",
                "GITHUB_REPOSITORY",
                "GITHUB_EVENT_PATH",
                "GITHUB_API_URL",
                "GITLAB_CI",
                "GITLAB_TOKEN",
                "CI_API_V4_URL",
                "CI_PROJECT_ID",
                "CI_MERGE_REQUEST_IID",
            ],
        ),
    ];
    for (args, vars) in cases {
        let text = help(args);
        let env = environment(&text);
        for var in *vars {
            assert!(
                env.contains(var),
                "`{args:?} --help` does not name {var}:\n{env}"
            );
        }
    }
    // Commands that read only NO_COLOR say that much; every command has examples and the
    // docs' address.
    for args in [
        &["policy", "diff"][..],
        &["policy", "schema"],
        &["completions"],
        &["man"],
    ] {
        let env = environment(&help(args)).to_owned();
        let vars: Vec<&str> = env
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .map(str::trim)
            .collect();
        assert_eq!(vars, ["NO_COLOR"], "{args:?}");
    }
    for args in [
        &["check"][..],
        &["fetch"],
        &["comment"],
        &["init"],
        &["policy"],
        &["policy", "check"],
        &["policy", "explain"],
        &["policy", "diff"],
        &["policy", "schema"],
        &["completions"],
        &["man"],
    ] {
        let text = help(args);
        let examples = &text[text.find("\nExamples:\n").unwrap()..];
        let command = format!("evalgate {}", args[0]);
        assert!(examples.contains(&command), "{args:?}: {examples}");
        assert!(text.contains(evalgate::DOCS_URL), "{args:?}: {text}");
    }
}

/// `(code, meaning)` from the first column and the second of docs/exit-codes.md's table.
fn documented_exit_codes() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(repo("docs/exit-codes.md")).unwrap();
    doc.lines()
        .skip_while(|l| !l.starts_with("| Code | Meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

#[test]
fn check_help_ends_with_the_documented_exit_codes() {
    let documented = documented_exit_codes();
    assert_eq!(documented.len(), 9, "{documented:?}");
    let text = help(&["check"]);
    let section = &text[text.find("\nExit codes").expect("an exit-code section")..];
    let listed: Vec<(String, String)> = section
        .lines()
        .skip(2)
        .map(|l| {
            let l = l.trim();
            let (code, rest) = l.split_once(' ').unwrap();
            let meaning = rest.trim().split(':').next().unwrap();
            (code.to_owned(), meaning.to_owned())
        })
        .collect();
    assert_eq!(listed, documented);
    assert!(text.trim_end().ends_with("please report it"), "{section}");
    assert!(section.contains(&format!("{}/exit-codes.md", evalgate::DOCS_URL)));
}

#[test]
fn the_docs_url_is_where_the_action_downloads_releases_from() {
    assert!(evalgate::DOCS_URL.starts_with(&format!("{}/", evalgate::HOME_URL)));
    let install = std::fs::read_to_string(repo("action/install.sh")).unwrap();
    let releases = format!("RELEASES=\"{}/releases/download\"", evalgate::HOME_URL);
    assert!(
        install.contains(&releases),
        "action/install.sh has no {releases}"
    );
    // What a user without a checkout sees points at the URL, not at a docs/ folder.
    let policy_md = format!("{}/policy.md", evalgate::DOCS_URL);
    let r = run(&["init", "--from", BASELINE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&policy_md), "{}", &r.stdout[..400]);
    assert!(help(&["check"]).contains(&policy_md));
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits: {valid: {mpa50: 0.5}}\n",
    );
    let r = run(&candidate_check(&p, BASELINE, &[]));
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains(&policy_md), "{}", r.stderr);
    let empty = write(dir.path(), "empty.yaml", "");
    let r2 = run(&["policy", "check", &empty]);
    assert!(r2.stderr.contains(&policy_md), "{}", r2.stderr);
    for r in [r, r2, run(&["policy", "check", &p])] {
        assert!(!r.stderr.contains(" docs/"), "{}", r.stderr);
    }
}

#[test]
fn man_pages_cover_every_command_and_reference_only_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let r = run(&["man", "--dir", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let expected: BTreeSet<String> = [
        "evalgate",
        "evalgate-check",
        "evalgate-eval",
        "evalgate-fetch",
        "evalgate-calibrate",
        "evalgate-comment",
        "evalgate-init",
        "evalgate-policy",
        "evalgate-policy-check",
        "evalgate-policy-explain",
        "evalgate-policy-diff",
        "evalgate-policy-schema",
        "evalgate-completions",
        "evalgate-man",
    ]
    .iter()
    .map(|n| format!("{n}.1"))
    .collect();
    assert_eq!(files, expected);
    let reference = regex::Regex::new(r"(evalgate(?:\\-[a-z]+)*)\(1\)").unwrap();
    let mut referenced = BTreeSet::new();
    for file in &files {
        let page = std::fs::read_to_string(out.join(file)).unwrap();
        let name = file.trim_end_matches(".1");
        assert!(
            page.contains(&format!(".TH {name} 1 ")),
            "{file}: {}",
            &page[..200]
        );
        for m in reference.captures_iter(&page) {
            let target = format!("{}.1", m[1].replace("\\-", "-"));
            assert!(
                files.contains(&target),
                "{file} refers to {target}, which is not generated"
            );
            referenced.insert(target);
        }
    }
    // Every page but the top one is reachable from its parent's SUBCOMMANDS.
    for file in files.iter().filter(|f| *f != "evalgate.1") {
        assert!(referenced.contains(file), "nothing refers to {file}");
    }

    // One page to stdout is the same page.
    let r = run(&["man", "policy", "diff"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        std::fs::read_to_string(out.join("evalgate-policy-diff.1")).unwrap()
    );
    assert_eq!(
        run(&["man"]).stdout,
        std::fs::read_to_string(out.join("evalgate.1")).unwrap()
    );
    let r = run(&["man", "policy", "difff"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("try one of: check, explain, diff, schema"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_negative_margin_reaches_the_range_check() {
    for args in [
        &["--margin", "-0.1"][..],
        &["--margin=-0.1"],
        &["--margin", "-0.5"],
    ] {
        let mut all = vec!["init", "--from", BASELINE];
        all.extend_from_slice(args);
        let r = run(&all);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(
            r.stderr.contains("is not a fraction in [0, 1)"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("unexpected argument"), "{}", r.stderr);
    }
}

/// The diagnostic codes on stderr, in order.
fn codes(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix("error[")
                .or_else(|| l.strip_prefix("warning["))
        })
        .map(|l| &l[..l.find(']').unwrap()])
        .collect()
}

#[test]
fn a_misspelt_split_is_the_only_error_its_classes_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "evalgate.yaml",
        "version: 1\nsplits:\n  vaild:\n    map50: 0.5\n    classes:\n      Car-rim: {map50: 0.5}\n      'head*': {map50: 0.5}\nwaivers:\n  - {split: vaild, class: Car-rim, reason: relabel, until: 2030-01-01}\n",
    );
    let r = run(&["policy", "check", &p, "--eval", BASELINE]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        codes(&r.stderr),
        ["unknown-split", "unknown-split"],
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean \"valid\"?"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("Car-rim\" is in neither"),
        "{}",
        r.stderr
    );
    let r = run(&candidate_check(&p, BASELINE, &[]));
    assert_eq!(r.code, 3);
    assert_eq!(
        codes(&r.stderr),
        ["unknown-split", "unknown-split"],
        "{}",
        r.stderr
    );

    // Under the right split, the same class typo is a class error.
    let fixed = std::fs::read_to_string(&p)
        .unwrap()
        .replace("vaild", "valid");
    std::fs::write(&p, fixed).unwrap();
    let r = run(&["policy", "check", &p, "--eval", BASELINE]);
    assert_eq!(
        codes(&r.stderr),
        ["unknown-class", "unknown-class"],
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("did you mean \"Car-rims\"?"),
        "{}",
        r.stderr
    );
}

#[test]
fn policy_check_lists_policy_and_name_errors_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "evalgate.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: {min: 1.5}\n    classes:\n      Car-rim: {map50: 0.5}\n      wheel: {mpa50: 0.5}\n",
    );
    let r = run(&["policy", "check", &p, "--eval", BASELINE]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let found = codes(&r.stderr);
    assert!(found.contains(&"unknown-class"), "{}", r.stderr);
    assert_eq!(found.len(), 3, "{}", r.stderr);
    assert!(r.stderr.ends_with(": 3 errors\n"), "{}", r.stderr);
    // Without --eval, the policy's own errors only.
    let r = run(&["policy", "check", &p]);
    assert_eq!(codes(&r.stderr).len(), 2, "{}", r.stderr);

    // A policy of another task is not checked for names, and says so.
    let other = write(
        dir.path(),
        "seg.yaml",
        "version: 1\ntask: semantic-segmentation\nsplits:\n  valid:\n    miou: {min: 1.5}\n",
    );
    let r = run(&["policy", "check", &other, "--eval", BASELINE]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "1 error (names not checked against {BASELINE}: the evals cannot be compared"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn explain_shows_waivers_as_of_the_date() {
    let explain = |today: &str| {
        let r = run(&[
            "policy",
            "explain",
            "policies/detection.yaml",
            "--eval",
            BASELINE,
            "--today",
            today,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let line = r
            .stdout
            .lines()
            .find(|l| l.contains("side-mirror"))
            .unwrap()
            .to_owned();
        (r.stdout, line)
    };
    let (all, line) = explain("2026-11-26");
    assert!(
        line.ends_with("waived until 2027-03-31 (line 31)"),
        "{line}"
    );
    assert_eq!(
        all.matches("waived").count(),
        1,
        "only side-mirror is waived:\n{all}"
    );
    assert!(all.contains("valid / split / map50 "), "{all}");
    assert!(all.contains("valid / size small / map50_95 "), "{all}");
    let (_, line) = explain("2027-04-01");
    assert!(
        line.ends_with("a waiver expired on 2027-03-31 (line 31): not waived"),
        "{line}"
    );

    let r = run(&[
        "policy",
        "explain",
        "policies/detection.yaml",
        "--eval",
        BASELINE,
        "--format",
        "json",
        "--today",
        "2026-11-26",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = doc["rules"].as_array().unwrap();
    let mirror = rules.iter().find(|r| r["class"] == "side-mirror").unwrap();
    assert_eq!(
        mirror["waiver"],
        serde_json::json!({"until": "2027-03-31", "line": 31, "expired": false})
    );
    let scopes: BTreeSet<&str> = rules.iter().filter_map(|r| r["scope"].as_str()).collect();
    assert!(
        scopes.contains("split") && scopes.contains("size small"),
        "{scopes:?}"
    );
    assert!(scopes.contains("class \"wheel\""), "{scopes:?}");
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=evalgate",
            "-c",
            "user.email=evalgate@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git is installed (the --base-ref tests run it)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn diff_against_a_base_ref_without_the_policy_finds_every_rule_new() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    std::fs::write(d.join("README"), "x\n").unwrap();
    git(d, &["add", "README"]);
    git(d, &["commit", "-q", "-m", "first"]);
    let policy = std::fs::read_to_string(repo("policies/detection.yaml")).unwrap();
    std::fs::write(d.join("evalgate.yaml"), &policy).unwrap();
    let diff = |args: &[&str]| {
        finish(
            evalgate()
                .current_dir(d)
                .args(["policy", "diff"])
                .args(args),
        )
    };

    // The PR that adds the policy: nothing was loosened, every rule is listed.
    let r = diff(&["--base-ref", "main", "evalgate.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("main has no evalgate.yaml: every rule is new"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("loosened"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("tightened  valid / class \"*\" / map50 / max_drop: added 0.05 (line 24)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("changed    waiver valid / class \"side-mirror\""),
        "{}",
        r.stdout
    );

    // Once main has it, a loosening PR exits 1.
    git(d, &["add", "evalgate.yaml"]);
    git(d, &["commit", "-q", "-m", "policy"]);
    std::fs::write(
        d.join("evalgate.yaml"),
        policy.replace("map50: 0.85 ", "map50: 0.80 "),
    )
    .unwrap();
    let r = diff(&["--base-ref", "main", "evalgate.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "loosened   valid / map50 / min: 0.85 (line 18) → 0.8 (line 18)\n"
    );

    // A revision that does not exist is an error, never "no policy before".
    let r = diff(&["--base-ref", "origin/main", "evalgate.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--base-ref origin/main: not a commit"),
        "{}",
        r.stderr
    );
    assert_eq!(diff(&["--base-ref", "main", "a.yaml", "b.yaml"]).code, 2);
    assert_eq!(diff(&["evalgate.yaml"]).code, 2);
}
