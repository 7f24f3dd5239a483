//! The PR comment (the Markdown report) as GitHub renders it: snapshots of the layout, and
//! its structure checked with a real GFM parser (comrak, with the table and autolink
//! extensions that cmark-gfm uses on GitHub).

use std::path::Path;

use comrak::nodes::{AstNode, NodeValue};
use comrak::{Arena, Options, parse_document};

use crate::{check_args, evalgate, finish, write};

/// Runs `check` and returns the Markdown report, with the exit code it expects.
fn markdown(args: &[&str], code: i32, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("r.md");
    let mut cmd = evalgate();
    cmd.arg("check")
        .args(args)
        .args(["--today", "2026-11-26", "--markdown"])
        .arg(&md);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = finish(&mut cmd);
    assert_eq!(r.code, code, "{}{}", r.stdout, r.stderr);
    std::fs::read_to_string(md).unwrap()
}

fn eval(split_map50_95: f64, classes: &[(String, Option<f64>)]) -> String {
    let per_class: serde_json::Map<String, serde_json::Value> = classes
        .iter()
        .map(|(name, v)| (name.clone(), serde_json::json!({"map50": v})))
        .collect();
    serde_json::json!({
        "splits": {"valid": {"map50": 0.9, "map50_95": split_map50_95, "perClass": per_class}}
    })
    .to_string()
}

/// 300 classes, 225 of which lose between 6 and 16 points of map50, and a split whose
/// map50_95 falls 2.9 points against an allowance of 2.0: the case where the split-level
/// failure must not drown among the class failures. Deterministic.
fn three_hundred_classes(dir: &Path, names: &[String]) -> (String, String, String) {
    let base: Vec<(String, Option<f64>)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), Some(0.60 + (i % 37) as f64 / 100.0)))
        .collect();
    let cand: Vec<(String, Option<f64>)> = base
        .iter()
        .enumerate()
        .map(|(i, (n, b))| {
            let b = b.unwrap();
            let c = if i % 4 == 0 {
                b + 0.01
            } else {
                b - 0.06 - (i % 11) as f64 / 100.0
            };
            (n.clone(), Some(c))
        })
        .collect();
    let p = write(
        dir,
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    map50_95: {max_drop: 0.02}\n    map50: {min: 0.85}\n    classes:\n      '*':\n        map50: {max_drop: 0.05}\n",
    );
    (
        p,
        write(dir, "b.json", &eval(0.483, &base)),
        write(dir, "c.json", &eval(0.454, &cand)),
    )
}

fn names_300() -> Vec<String> {
    (0..300)
        .map(|i| match i {
            150 => "a-class-name-from-a-labelling-tool-that-goes-on-and-on-forever".to_owned(),
            _ => format!("class-{i:03}"),
        })
        .collect()
}

#[test]
fn a_passing_gate() {
    let md = markdown(
        &[
            "--policy",
            "policies/detection.yaml",
            "--baseline",
            "examples/evals/baseline.json",
            "--candidate",
            "examples/evals/baseline.json",
        ],
        0,
        &[],
    );
    insta::assert_snapshot!("markdown_pass", md);
}

#[test]
fn the_segmentation_example() {
    let md = markdown(
        &[
            "--policy",
            "policies/segmentation.yaml",
            "--baseline",
            "examples/evals/segmentation-baseline.json",
            "--candidate",
            "examples/evals/segmentation-candidate.json",
        ],
        0,
        &[],
    );
    insta::assert_snapshot!("markdown_segmentation", md);
}

#[test]
fn three_hundred_classes_and_over_two_hundred_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (p, b, c) = three_hundred_classes(dir.path(), &names_300());
    let md = markdown(
        &["--policy", &p, "--baseline", &b, "--candidate", &c],
        1,
        &[],
    );
    // The temporary paths differ per run.
    let md = md.replace(dir.path().to_str().unwrap(), "TMP");
    assert!(md.chars().count() < 60_000);
    insta::assert_snapshot!("markdown_300_classes", md);
}

#[test]
fn waivers_and_skips_show_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let some = |n: &str, v: Option<f64>| (n.to_owned(), v);
    let b = write(
        d,
        "b.json",
        &eval(
            0.7,
            &[
                some("bus", Some(0.9)),
                some("car", Some(0.9)),
                some("kite", None),
                some("truck", Some(0.9)),
            ],
        ),
    );
    let c = write(
        d,
        "c.json",
        &eval(
            0.7,
            &[
                some("bus", Some(0.8)),
                some("car", Some(0.8)),
                some("kite", None),
                some("scooter", Some(0.7)),
            ],
        ),
    );
    let p = write(
        d,
        "p.yaml",
        "version: 1\nmissing:\n  class: ignore\nsplits:\n  valid:\n    map50_95: {min: 0.6}\n    classes:\n      '*':\n        map50: {max_drop: 0.05}\nwaivers:\n  - split: valid\n    class: car\n    reason: car boxes are being relabelled\n    until: 2027-01-31\n  - split: valid\n    class: bus\n    reason: a waiver nobody renewed\n    until: 2026-01-01\n",
    );
    let md = markdown(
        &["--policy", &p, "--baseline", &b, "--candidate", &c],
        1,
        &[],
    );
    let md = md.replace(d.to_str().unwrap(), "TMP");
    assert!(
        md.contains("waived until 2027-01-31 (policy line 11): car boxes are being relabelled"),
        "{md}"
    );
    for reason in [
        "new class: not in the baseline",
        "no value in either eval",
        "class &quot;truck&quot; is in the baseline but not in the candidate (missing.class is ignore)",
    ] {
        assert!(md.contains(reason), "{reason} missing from\n{md}");
    }
    insta::assert_snapshot!("markdown_waivers_and_skips", md);
}

/// What a GFM parser sees in the report.
struct Rendered {
    /// Top-level blocks: (kind, text).
    blocks: Vec<(&'static str, String)>,
    /// Per table: the header's column count and the raw cell count of every row.
    tables: Vec<(usize, Vec<usize>)>,
    /// Every link's destination.
    links: Vec<String>,
    /// All text, as a reader sees it.
    text: String,
}

fn text_of<'a>(node: &'a AstNode<'a>) -> String {
    let mut s = String::new();
    for n in node.descendants() {
        match &n.data().value {
            NodeValue::Text(t) => s.push_str(t),
            NodeValue::Code(c) => s.push_str(&c.literal),
            _ => {}
        }
    }
    s
}

/// Counts the cells of a table row as GitHub splits it: at `|` not escaped by a backslash.
fn raw_cells(line: &str) -> usize {
    let mut cells = 0;
    let mut escaped = false;
    for c in line.trim().chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => cells += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    cells - 1
}

fn render(md: &str) -> Rendered {
    let arena = Arena::new();
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.autolink = true;
    let root = parse_document(&arena, md, &options);
    let lines: Vec<&str> = md.lines().collect();
    let mut r = Rendered {
        blocks: Vec::new(),
        tables: Vec::new(),
        links: Vec::new(),
        text: text_of(root),
    };
    for block in root.children() {
        let kind = match &block.data().value {
            NodeValue::Heading(_) => "heading",
            NodeValue::Paragraph => "paragraph",
            NodeValue::Table(_) => "table",
            NodeValue::HtmlBlock(_) => "html",
            NodeValue::CodeBlock(_) => "code",
            NodeValue::List(_) => "list",
            _ => "other",
        };
        r.blocks.push((kind, text_of(block)));
    }
    for n in root.descendants() {
        match &n.data().value {
            NodeValue::Table(t) => {
                let rows = n
                    .children()
                    .map(|row| raw_cells(lines[row.data().sourcepos.start.line - 1]))
                    .collect();
                r.tables.push((t.num_columns, rows));
            }
            NodeValue::Link(l) => r.links.push(l.url.clone()),
            NodeValue::Image(_) => panic!("an image in the report"),
            _ => {}
        }
    }
    r
}

#[test]
fn the_comment_reads_right_in_a_gfm_renderer() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = names_300();
    // Names that GitHub would turn into links, mentions or references if they got through.
    let hostile = [
        "https://evil.example",
        "www.x.com",
        "a@b.co",
        "[x](https://e)",
        "owner/repo#1",
        "@org/team",
        "<https://angle.example>",
        "![i](https://img.example/x.png)",
    ];
    for (i, h) in hostile.iter().enumerate() {
        // Among the worst classes, so that they reach the top table and the chart.
        names[i * 4 + 3] = (*h).to_owned();
    }
    let (p, b, c) = three_hundred_classes(dir.path(), &names);
    let workspace = dir.path().to_str().unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let md = markdown(
        &["--policy", &p, "--baseline", &b, "--candidate", &c],
        1,
        &[
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "octo/cars"),
            ("GITHUB_SHA", sha),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_WORKSPACE", workspace),
        ],
    );
    let r = render(&md);

    // The verdict first, then the headline naming the split-level failure.
    assert_eq!(r.blocks[0], ("heading", "❌ evalgate: failed".to_owned()));
    assert_eq!(r.blocks[1].0, "paragraph");
    assert!(
        r.blocks[1]
            .1
            .starts_with("valid map50_95 fell 2.9 pt (48.3 → 45.4; allowed 2.0) · "),
        "{}",
        r.blocks[1].1
    );
    assert!(
        r.blocks[1].1.contains("class checks failed, worst"),
        "{}",
        r.blocks[1].1
    );

    // Tables: at most seven columns, every row as wide as its header, the top one ten rows.
    assert!(r.tables.len() >= 3, "{md}");
    for (columns, rows) in &r.tables {
        assert!(*columns <= 7, "{columns} columns");
        assert!(rows.iter().all(|n| n == columns), "{columns}: {rows:?}");
    }
    assert_eq!(r.tables[0].1.len(), 1 + 10, "the top table holds ten rows");

    // The only links are the policy lines and the run, built from the CI variables.
    let policy = format!("https://github.com/octo/cars/blob/{sha}/p.yaml");
    assert!(!r.links.is_empty());
    for link in &r.links {
        assert!(
            link == &policy
                || link.starts_with(&format!("{policy}#L"))
                || link == "https://github.com/octo/cars/actions/runs/42",
            "an unexpected link: {link}"
        );
    }
    assert!(r.links.contains(&format!("{policy}#L4")), "{:?}", r.links);
    // No mention or reference survives in the text GitHub would scan.
    for live in ["@b.co", "@org", "repo#1", "://evil", "www.x"] {
        assert!(!r.text.contains(live), "{live} survives");
    }
    // Every hostile name is still there for a reader, in the class table.
    assert!(
        r.text.contains("https:\u{200B}//evil.example"),
        "{}",
        r.text
    );

    // The chart: only safe characters reach the Mermaid source.
    let chart = md
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a chart");
    let axis = chart
        .lines()
        .find(|l| l.trim_start().starts_with("x-axis"))
        .unwrap();
    let labels = axis
        .trim()
        .trim_start_matches("x-axis [")
        .trim_end_matches(']');
    for label in labels.split(", ") {
        let inner = label
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
            .unwrap();
        assert!(
            inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " _-.".contains(c)),
            "{label}"
        );
    }
    assert!(chart.lines().count() == 6, "{chart}");
}

#[test]
fn annotations_and_the_terminal_summary_lead_with_the_split_level_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (p, b, c) = three_hundred_classes(dir.path(), &names_300());
    let summary = dir.path().join("summary.md");
    let r = finish(
        evalgate()
            .args(check_args(&p, &b, &c, &[]))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let errors: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 10, "{}", r.stdout);
    assert!(
        errors[0].contains("title=evalgate%3A valid / map50_95 max_drop::"),
        "{}",
        errors[0]
    );
    assert!(
        errors[9].contains("and 217 more failing checks"),
        "{}",
        errors[9]
    );
    // The terminal: the sentence, then the top five of the same ranking.
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("evalgate: FAIL"))
        .collect();
    assert!(
        lines[1].starts_with(
            "  valid map50_95 fell 2.9 pt (48.3 → 45.4; allowed 2.0) · 225 class checks failed"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("  fail valid / map50_95 max_drop: fell 2.9 pt"),
        "{}",
        lines[2]
    );
    assert!(lines[3].contains("class \"class-010\""), "{}", lines[3]);
    assert_eq!(lines[7], "  … and 221 more; see the reports");
}
