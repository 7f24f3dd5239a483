//! The reports: snapshots of each format, and their validity with hostile class names.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::xsd::Schema;
use crate::{check_args, detection_eval, example_check, repo, run, write};

/// Class names a labeller could type or a server could send.
const HOSTILE: &[&str] = &[
    "a|b",
    "`code` *bold* _em_ [link](http://x) ![img](y)",
    "<script>alert(1)</script>",
    "<details><summary>x</summary>",
    "@team please look",
    "#123 fixes",
    "line\nbreak\r\nand\ttab",
    "]]> & <!-- -->",
    "nul\u{0} esc\u{1b}[31m bell\u{7}",
    "\u{FFFE}\u{FFFF} \u{202E}reversed",
    "::error file=x::forged",
    "%0A %25",
    "日本語 🚗",
    "\\|",
    "",
];

/// Runs a check where every hostile class regressed, writing all three reports.
fn hostile_reports(dir: &Path) -> (String, String, String) {
    let long = "x".repeat(5000);
    let mut names: Vec<&str> = HOSTILE.to_vec();
    names.push(&long);
    let (_, md, xml, json, _) = crate::untrusted::gate(dir, &names);
    (md, xml, json)
}

fn junit_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let xsd = std::fs::read_to_string(repo(JUNIT_XSD)).expect("the JUnit XSD is committed");
        Schema::parse(&xsd)
    })
}

const JUNIT_XSD: &str = "tests/fixtures/junit/jenkins-xunit-junit-10.xsd";

fn xsd_valid(xml: &Path) {
    let text = std::fs::read_to_string(xml).unwrap();
    let errors = junit_schema().validate(&text);
    assert!(
        errors.is_empty(),
        "{} is not valid junit-10.xsd:\n{}",
        xml.display(),
        errors.join("\n")
    );
}

fn example_reports(dir: &Path) -> (String, String, String) {
    let (md, xml, json) = (dir.join("r.md"), dir.join("r.xml"), dir.join("r.json"));
    let r = run(&example_check(
        "detection",
        &[
            "--today",
            "2026-11-26",
            "--markdown",
            md.to_str().unwrap(),
            "--junit",
            xml.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    ));
    assert_eq!(r.code, 1, "{}", r.stderr);
    xsd_valid(&xml);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    (read(&md), read(&xml), read(&json))
}

#[test]
fn example_reports_match_their_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let (md, xml, json) = example_reports(dir.path());
    insta::assert_snapshot!("example_markdown", md);
    insta::assert_snapshot!("example_junit", xml);
    insta::assert_snapshot!("example_json", json);
}

#[test]
fn junit_stays_valid_with_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let (_, xml, _) = hostile_reports(dir.path());
    xsd_valid(&dir.path().join("r.xml"));
    // Every (classname, name) pair is unique.
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == b"testcase" =>
            {
                let attr = |k: &[u8]| {
                    e.attributes()
                        .map(Result::unwrap)
                        .find(|a| a.key.as_ref() == k)
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                        .unwrap()
                };
                pairs.push((attr(b"classname"), attr(b"name")));
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(pairs.len(), HOSTILE.len() + 2);
    let n = pairs.len();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), n, "duplicate (classname, name)");
}

/// Documents made from a valid report, each breaking one rule of the XSD or of XML 1.0
/// (`false`), or using what the XSD allows and evalgate does not write (`true`).
fn junit_variants(valid: &str) -> Vec<(&'static str, bool, String)> {
    let edits: &[(&str, bool, &str, &str)] = &[
        (
            "a testcase without a name",
            false,
            r#"<testcase name="map50 min" classname="valid"/>"#,
            r#"<testcase classname="valid"/>"#,
        ),
        (
            "a testsuite without errors",
            false,
            r#" errors="0" skipped="0""#,
            r#" skipped="0""#,
        ),
        (
            "an undeclared attribute",
            false,
            r#"<testcase name="map50 min""#,
            r#"<testcase status="pass" name="map50 min""#,
        ),
        (
            "a time that is no SUREFIRE_TIME",
            false,
            r#"<testsuite name="valid""#,
            r#"<testsuite time="1.2.3" name="valid""#,
        ),
        (
            "an undeclared element",
            false,
            r#"<testcase name="map50 min" classname="valid"/>"#,
            r#"<testcase name="map50 min" classname="valid"><passed/></testcase>"#,
        ),
        (
            "text in element-only content",
            false,
            "<properties>",
            "<properties>stray",
        ),
        (
            "an element inside a string element",
            false,
            "<system-out>warning",
            "<system-out><b/>warning",
        ),
        (
            "a testcase outside a testsuite",
            false,
            r#"errors="0">"#,
            r#"errors="0"><testcase name="x"/>"#,
        ),
        (
            "a property without a value",
            false,
            r#"<property name="evalgate.verdict" value="fail"/>"#,
            r#"<property name="evalgate.verdict"/>"#,
        ),
        (
            "a duplicate attribute",
            false,
            r#"<testcase name="map50 min""#,
            r#"<testcase name="map50 min" name="x""#,
        ),
        ("an unclosed root", false, "</testsuites>", ""),
        (
            "a NUL character reference",
            false,
            "warning: 0.4980",
            "warning: &#0;0.4980",
        ),
        (
            "a raw noncharacter",
            false,
            "warning: 0.4980",
            "warning: \u{FFFE}0.4980",
        ),
        (
            "an undeclared entity",
            false,
            "warning: 0.4980",
            "warning: &nbsp;0.4980",
        ),
        (
            "a root the schema does not declare",
            false,
            "<testsuites name=\"evalgate\"",
            "<report><testsuites name=\"evalgate\"",
        ),
        (
            "a time with grouped thousands",
            true,
            r#"<testsuite name="valid""#,
            r#"<testsuite time="1,234.567" name="valid""#,
        ),
        (
            "a rerun failure with a stack trace",
            true,
            r#"<testcase name="map50 min" classname="valid"/>"#,
            r#"<testcase name="map50 min" classname="valid"><rerunFailure type="t"><stackTrace>at x</stackTrace></rerunFailure><system-err>e</system-err></testcase>"#,
        ),
        (
            "a nested testsuite",
            true,
            r#"<testcase name="map50 min" classname="valid"/>"#,
            r#"<testsuite name="inner" tests="0" failures="0" errors="0"/><testcase name="map50 min" classname="valid"/>"#,
        ),
    ];
    edits
        .iter()
        .map(|(what, valid_after, from, to)| {
            assert!(
                valid.contains(from),
                "{what}: {from:?} is not in the report any more"
            );
            let mut doc = valid.replacen(from, to, 1);
            if *what == "a root the schema does not declare" {
                doc.push_str("</report>");
            }
            (*what, *valid_after, doc)
        })
        .collect()
}

#[test]
fn the_junit_schema_check_rejects_what_the_xsd_forbids() {
    let dir = tempfile::tempdir().unwrap();
    let (_, xml, _) = example_reports(dir.path());
    assert_eq!(junit_schema().validate(&xml), Vec::<String>::new());
    for (what, valid, doc) in junit_variants(&xml) {
        let errors = junit_schema().validate(&doc);
        assert_eq!(errors.is_empty(), valid, "{what}: {errors:?}\n{doc}");
    }
}

/// Whether xmllint, libxml2's validator, finds `xml` valid against the committed XSD.
fn xmllint_valid(xml: &Path) -> bool {
    let out = match Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(repo(JUNIT_XSD))
        .arg(xml)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("xmllint is required for this test: apt-get install libxml2-utils")
        }
        Err(e) => panic!("cannot run xmllint: {e}"),
    };
    // 1: not well-formed, 3 and 4: not valid; anything else means xmllint itself failed.
    match out.status.code() {
        Some(0) => true,
        Some(1 | 3 | 4) => false,
        code => panic!(
            "xmllint failed ({code:?}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The Rust check and xmllint give the same verdict on evalgate's reports and on every
/// variant above. Needs xmllint, so it is run by .ci/run, not by a plain `cargo test`.
#[test]
#[ignore = "needs xmllint (apt-get install libxml2-utils); .ci/run runs it"]
fn xmllint_agrees_with_the_rust_check() {
    let dir = tempfile::tempdir().unwrap();
    let (_, example, _) = example_reports(dir.path());
    assert!(
        xmllint_valid(&dir.path().join("r.xml")),
        "the example report"
    );
    let hostile_dir = tempfile::tempdir().unwrap();
    hostile_reports(hostile_dir.path());
    assert!(
        xmllint_valid(&hostile_dir.path().join("r.xml")),
        "the hostile report"
    );
    for (i, (what, valid, doc)) in junit_variants(&example).into_iter().enumerate() {
        let path = dir.path().join(format!("variant-{i}.xml"));
        std::fs::write(&path, &doc).unwrap();
        assert_eq!(xmllint_valid(&path), valid, "xmllint on {what}:\n{doc}");
        assert_eq!(junit_schema().validate(&doc).is_empty(), valid, "{what}");
    }
}

/// Every table in `md`, as rows of cell texts. Panics when untrusted text turned into HTML
/// or formatting.
pub(crate) fn tables(md: &str) -> Vec<Vec<Vec<String>>> {
    let mut tables = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cell: Option<String> = None;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => rows.clear(),
            Event::End(TagEnd::Table) => tables.push(std::mem::take(&mut rows)),
            Event::Start(Tag::TableHead | Tag::TableRow) => rows.push(Vec::new()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => rows.last_mut().unwrap().push(cell.take().unwrap()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                let allowed = [
                    "<details>",
                    "<summary>",
                    "</summary>",
                    "</details>",
                    "<sub>",
                    "</sub>",
                ];
                let rest = allowed
                    .iter()
                    .fold(h.to_string(), |acc, tag| acc.replace(tag, ""));
                assert!(!rest.contains('<'), "raw HTML got through: {h:?}");
            }
            Event::Start(Tag::Emphasis | Tag::Strong | Tag::Link { .. } | Tag::Image { .. })
                if cell.is_some() =>
            {
                panic!("a name turned into formatting: {event:?}");
            }
            _ => {}
        }
    }
    tables
}

#[test]
fn markdown_tables_keep_their_shape_with_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let (md, _, _) = hostile_reports(dir.path());
    let tables = tables(&md);
    // The top table, every failure (16 class failures do not fit the top ten), every class.
    assert_eq!(tables.len(), 3, "{md}");
    for table in &tables {
        let width = table[0].len();
        assert!(
            table.iter().all(|row| row.len() == width),
            "a row broke the table: {table:?}"
        );
    }
    // The per-class table shows each hostile name as one cell; control characters are shown
    // as escapes inside quotes, so that `line\nbreak` cannot pass for `line break`.
    assert_eq!(tables[2][0][0], "Class");
    let class_cells: Vec<&str> = tables[2]
        .iter()
        .skip(1)
        .map(|row| row[0].as_str())
        .collect();
    assert!(class_cells.contains(&"a|b"), "{class_cells:?}");
    assert!(
        class_cells.contains(&"<script>alert(1)</script>"),
        "{class_cells:?}"
    );
    assert!(
        class_cells.contains(&"\"line\\nbreak\\r\\nand\\ttab\""),
        "{class_cells:?}"
    );
    assert!(
        class_cells.contains(&"@\u{200B}team please look"),
        "{class_cells:?}"
    );
    let long = class_cells.iter().find(|c| c.starts_with("xxx")).unwrap();
    assert_eq!(long.chars().count(), 40, "long names are shortened");
    assert!(!md.contains("@team"), "a mention would ping");
    assert!(!md.contains("#123"), "an issue reference would link");
}

#[test]
fn markdown_stays_under_60000_characters_with_10000_classes() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..10_000).map(|i| format!("class-{i:05}")).collect();
    let base: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 0.9)).collect();
    // Every third class regressed, by an amount that grows with its number.
    let cand: Vec<(&str, f64)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.as_str(),
                if i % 3 == 0 {
                    0.8 - (i as f64) / 20_000.0
                } else {
                    0.9
                },
            )
        })
        .collect();
    let b = write(dir.path(), "b.json", &detection_eval(&base));
    let c = write(dir.path(), "c.json", &detection_eval(&cand));
    let p = write(
        dir.path(),
        "p.yaml",
        "version: 1\nsplits:\n  valid:\n    map50: 0.5\n    classes:\n      '*':\n        map50: {max_drop: 0.05}\n",
    );
    let md = dir.path().join("r.md");
    let r = run(&check_args(
        &p,
        &b,
        &c,
        &["--markdown", md.to_str().unwrap()],
    ));
    assert_eq!(r.code, 1);
    let text = std::fs::read_to_string(md).unwrap();
    let chars = text.chars().count();
    assert!(chars < 60_000, "{chars} characters");
    assert!(chars > 50_000, "the budget is used, not wasted: {chars}");
    assert!(text.contains("**3334 failed**"), "{}", &text[..400]);
    assert!(
        text.contains(
            "failing and warning checks left out to keep this report under 60000 characters"
        ),
        "{text}"
    );
    // The worst regression (the highest-numbered failing class) is kept.
    assert!(text.contains("| valid · class class-09999 · map50 |"));
    for table in tables(&text) {
        let width = table[0].len();
        assert!(table.iter().all(|row| row.len() == width));
    }
}

#[test]
fn json_keeps_names_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, json) = hostile_reports(dir.path());
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let classes: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["class"].as_str())
        .collect();
    for name in HOSTILE {
        assert!(classes.contains(name), "{name:?} missing from {classes:?}");
    }
    assert!(
        classes.iter().any(|c| c.len() == 5000),
        "JSON never shortens names"
    );
}
