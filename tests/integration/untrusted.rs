//! Untrusted names in every output but JSON: capped with a stable hash, shown so that distinct
//! names look distinct, never a link or a reference in Markdown, with the scope kind spelled
//! out; plus the JUnit and Actions details real consumers trip on.

use std::collections::HashSet;
use std::path::Path;

use crate::reports::tables;
use crate::{Run, check_args, detection_eval, evalgate, example_check, finish, repo, write};

/// Runs `check` on two evals of `names` (each regressing from 0.9 to 0.5) with a per-class
/// `max_drop` rule, under GitHub Actions, with every report.
pub(crate) fn gate(dir: &Path, names: &[&str]) -> (Run, String, String, String, String) {
    let base: Vec<(&str, f64)> = names.iter().map(|n| (*n, 0.9)).collect();
    let cand: Vec<(&str, f64)> = names.iter().map(|n| (*n, 0.5)).collect();
    let b = write(dir, "b.json", &detection_eval(&base));
    let c = write(dir, "c.json", &detection_eval(&cand));
    let p = write(
        dir,
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: 0.5\n    classes:\n      '*':\n        map50: {max_drop: 0.05}\n",
    );
    let (md, xml, json, summary) = (
        dir.join("r.md"),
        dir.join("r.xml"),
        dir.join("r.json"),
        dir.join("summary.md"),
    );
    let r = finish(
        evalgate()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(check_args(
                &p,
                &b,
                &c,
                &[
                    "--markdown",
                    md.to_str().unwrap(),
                    "--junit",
                    xml.to_str().unwrap(),
                    "--json",
                    json.to_str().unwrap(),
                ],
            )),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    (r, read(&md), read(&xml), read(&json), read(&summary))
}

#[test]
fn a_huge_name_is_capped_everywhere_but_json() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "n".repeat(2 << 20);
    let (r, md, xml, json, summary) = gate(dir.path(), &[&huge, "car"]);
    // Two megabytes of name: a bounded log, bounded reports, the whole name in JSON.
    assert!(
        r.stdout.len() < 20_000,
        "{} bytes of terminal output",
        r.stdout.len()
    );
    assert!(r.stderr.len() < 20_000);
    assert!(md.len() < 100_000 && summary.len() < 100_000);
    assert!(xml.len() < 100_000, "{} bytes of JUnit", xml.len());
    assert!(json.contains(&huge));
    // The annotation title and message are cut, with the hash that tells names apart.
    let annotations: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(annotations.len(), 2, "{annotations:#?}");
    assert!(annotations.iter().all(|a| a.len() < 2_000));
    assert!(
        annotations.iter().any(|a| a.contains('…')),
        "{annotations:#?}"
    );
}

#[test]
fn distinct_names_render_distinctly() {
    let shared = "s".repeat(79);
    let (a, b) = (format!("{shared}a-tail-one"), format!("{shared}b-tail-two"));
    let names = [
        "new\nline",
        "new line",
        "",
        " ",
        "  ",
        a.as_str(),
        b.as_str(),
        "car",
    ];
    let dir = tempfile::tempdir().unwrap();
    let (r, md, xml, _, _) = gate(dir.path(), &names);

    // Markdown: the per-class table has one distinct cell per name.
    let tables = tables(&md);
    let classes = tables
        .iter()
        .find(|t| t[0].iter().any(|h| h == "Class"))
        .expect("a table of every class");
    let col = classes[0].iter().position(|h| h == "Class").unwrap();
    let cells: Vec<String> = classes.iter().skip(1).map(|row| row[col].clone()).collect();
    let distinct: HashSet<&String> = cells.iter().collect();
    assert_eq!(distinct.len(), names.len(), "{cells:#?}");

    // JUnit: (classname, name) stays unique, as GitLab keeps only the first of a pair.
    let doc = roxmltree_free::testcases(&xml);
    let unique: HashSet<&(String, String)> = doc.iter().collect();
    assert_eq!(unique.len(), doc.len(), "{doc:#?}");

    // The terminal summary and the annotations tell them apart too.
    let worst: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("fail"))
        .collect();
    let distinct: HashSet<&&str> = worst.iter().collect();
    assert_eq!(distinct.len(), worst.len(), "{worst:#?}");
    let titles: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .filter_map(|l| l.split(",title=").nth(1))
        .collect();
    let distinct: HashSet<&&str> = titles.iter().collect();
    assert_eq!(distinct.len(), titles.len(), "{titles:#?}");
}

/// The few things read from the JUnit XML, without an XML crate: each testcase's
/// `(classname, name)`, attributes unescaped.
mod roxmltree_free {
    pub(super) fn testcases(xml: &str) -> Vec<(String, String)> {
        let attr = |tag: &str, name: &str| -> String {
            let key = format!(" {name}=\"");
            let start = tag.find(&key).map(|i| i + key.len()).unwrap_or(0);
            let end = tag[start..].find('"').map_or(start, |e| start + e);
            tag[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#10;", "\n")
                .replace("&amp;", "&")
        };
        xml.split("<testcase ")
            .skip(1)
            .map(|t| {
                let tag = &t[..t.find('>').unwrap_or(t.len())];
                (attr(tag, "classname"), attr(tag, "name"))
            })
            .collect()
    }

    pub(super) fn property_names(xml: &str) -> Vec<String> {
        xml.split("<property ")
            .skip(1)
            .filter_map(|t| {
                let start = t.find("name=\"")? + 6;
                Some(t[start..start + t[start..].find('"')?].to_owned())
            })
            .collect()
    }
}

#[test]
fn markdown_makes_no_link_and_no_reference() {
    let names = [
        "https://evil.example/x",
        "see www.evil.example",
        "ftp://files.example",
        "[x](https://evil.example)",
        "fixes GH-12",
        "octo/cars#1",
        "https://github.com/octo/cars/issues/1",
        "mail me@evil.example",
        "deadbeefcafe1234",
        "@team",
    ];
    let dir = tempfile::tempdir().unwrap();
    let (_, md, _, _, summary) = gate(dir.path(), &names);
    let marker = evalgate::comment::marker("default").unwrap();
    let comment = evalgate::comment::compose(&marker, &md, 65_536, 262_144, None);
    for (what, text) in [
        ("report", &md),
        ("job summary", &summary),
        ("comment", &comment),
    ] {
        assert_inert(what, text);
    }

    // `policy diff` Markdown shows class names from the policies.
    let old = write(
        dir.path(),
        "old.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: 0.5\n",
    );
    let new = write(
        dir.path(),
        "new.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: 0.5\n    classes:\n      'https://evil.example GH-3 o/r#4 www.x.io': {map50: 0.4}\n",
    );
    let r = crate::run(&["policy", "diff", &old, &new, "--format", "markdown"]);
    assert_inert("policy diff", &r.stdout);
}

/// What GitHub's Markdown (cmark-gfm with autolinks, plus references) would turn into a link,
/// looked for in the text a reader sees.
fn assert_inert(what: &str, md: &str) {
    let mut text = String::new();
    // Code blocks (the chart) are shown literally: GitHub links nothing inside them.
    let mut in_code = false;
    for event in pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::ENABLE_TABLES) {
        match event {
            pulldown_cmark::Event::Start(pulldown_cmark::Tag::CodeBlock(_)) => in_code = true,
            pulldown_cmark::Event::End(pulldown_cmark::TagEnd::CodeBlock) => in_code = false,
            pulldown_cmark::Event::Text(_) if in_code => {}
            pulldown_cmark::Event::Start(pulldown_cmark::Tag::Link { .. }) => {
                panic!("{what}: a Markdown link in {md}")
            }
            pulldown_cmark::Event::Text(t) | pulldown_cmark::Event::Code(t) => {
                text.push_str(&t);
                text.push(' ');
            }
            pulldown_cmark::Event::Html(h) | pulldown_cmark::Event::InlineHtml(h) => {
                // Only evalgate's own tags.
                assert!(
                    [
                        "<details>",
                        "<summary>",
                        "</summary>",
                        "</details>",
                        "<sub>",
                        "</sub>",
                        "<!-- evalgate:"
                    ]
                    .iter()
                    .any(|t| h.trim_start().starts_with(t)),
                    "{what}: HTML {h}"
                );
            }
            _ => {}
        }
    }
    for live in [
        "://", "www.", "GH-1", "GH-3", "#1", "#4", "@evil", "@team", "deadbee",
    ] {
        assert!(
            !text.contains(live),
            "{what}: {live:?} would link in {text}"
        );
    }
    // No seven hex digits in a row outside evalgate's own numbers.
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() && !c.is_ascii_digit() || (run > 0 && c.is_ascii_hexdigit())
        {
            run + 1
        } else {
            0
        };
        assert!(run < 7, "{what}: a SHA-like run in {text}");
    }
}

#[test]
fn the_scope_kind_is_unambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let (_, md, _, _, _) = gate(dir.path(), &["small", "overall", "split"]);
    let tables = tables(&md);
    let top = tables
        .iter()
        .find(|t| t[0].iter().any(|h| h == "Check"))
        .expect("the top table");
    let col = top[0].iter().position(|h| h == "Check").unwrap();
    let checks: Vec<&str> = top.iter().skip(1).map(|r| r[col].as_str()).collect();
    for class in ["small", "overall", "split"] {
        let want = format!("valid · class {class} · map50");
        assert!(checks.contains(&want.as_str()), "{want} in {checks:?}");
    }
    // The split's own check names no scope word a class could take.
    assert!(checks.contains(&"valid · map50"), "{checks:?}");
}

#[test]
fn the_unit_note_fits_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("r.md");
    let r = crate::run(&example_check(
        "segmentation",
        &["--markdown", md.to_str().unwrap()],
    ));
    assert!(r.code <= 1, "{}", r.stderr);
    let text = std::fs::read_to_string(md).unwrap();
    assert!(!text.contains("mAP"), "{text}");
    assert!(text.contains("0.01 of IoU"), "{text}");
}

#[test]
fn junit_property_names_are_unique_across_suites() {
    // xunitparser gathers every suite's properties into one map and refuses a repeated name.
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("r.xml");
    let r = crate::run(&example_check(
        "detection",
        &["--junit", xml.to_str().unwrap()],
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(text.matches("<testsuite ").count() >= 2, "{text}");
    let names = roxmltree_free::property_names(&text);
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert!(names.contains(&"evalgate.verdict".to_owned()));
}

#[test]
fn annotations_name_the_policy_relative_to_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let r = finish(
        evalgate()
            .current_dir(repo("policies"))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", repo(""))
            .env("GITHUB_STEP_SUMMARY", dir.path().join("s.md"))
            .args(check_args(
                "detection.yaml",
                "../examples/evals/baseline.json",
                "../examples/evals/candidate.json",
                &["--today", "2026-11-26"],
            )),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let error = r.stdout.lines().find(|l| l.starts_with("::error")).unwrap();
    assert!(
        error.starts_with("::error file=policies/detection.yaml,line="),
        "{error}"
    );
}
