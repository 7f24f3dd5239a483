//! What the fuzz targets share: fixed inputs, and the invariants every result must keep.
//!
//! A target only panics (which libFuzzer records as a crash) when evalgate itself panics or
//! when one of these invariants breaks, so every crash is a bug worth a look.

use chrono::NaiveDate;
use evalgate::gate::{Gate, GateError, GateOptions, GateReport, Status, Verdict};
use evalgate::model::{Eval, EvalMeta, Metric, Task};
use evalgate::policy::{Diagnostic, Policy};
use evalgate::report::{EvalInfo, Format, MAX_MARKDOWN_CHARS, ReportContext};

/// The example evals, parsed once per call (cheap: a few hundred bytes each).
pub fn example_evals() -> Vec<(Eval, Eval)> {
    let parse = |bytes: &[u8]| evalgate::parse_eval(bytes).expect("the examples parse");
    vec![
        (
            parse(include_bytes!("../../examples/evals/baseline.json")),
            parse(include_bytes!("../../examples/evals/candidate.json")),
        ),
        (
            parse(include_bytes!(
                "../../examples/evals/segmentation-baseline.json"
            )),
            parse(include_bytes!(
                "../../examples/evals/segmentation-candidate.json"
            )),
        ),
    ]
}

/// A policy that judges every split, size and class of a detection eval.
pub const DETECTION_POLICY: &str = r#"version: 1
task: object-detection
missing: {baseline: fail, class: warn, metric: fail}
splits:
  "*":
    map50: {min: 0.5, max_drop: 0.02}
    map50_95: {max_drop_rel: 0.05, severity: warn}
    sizes:
      small: {map75: {min: 0.3, max: 0.99}}
    classes:
      "*":
        map50: {min: 0.4, max_drop: 0.05}
        sizes:
          large: {map50_95: {max_drop: 0.1}}
waivers:
  - split: "*"
    class: "a*"
    reason: fuzzing
    until: 2026-01-01
  - split: "*"
    metric: map50
    reason: expired
    until: 2020-01-01
"#;

/// A policy that judges every split and class of a semantic-segmentation eval.
pub const SEGMENTATION_POLICY: &str = r#"version: 1
task: semantic-segmentation
missing: {baseline: floors_only, class: fail, metric: warn}
splits:
  "*":
    miou: {min: 0.5, max_drop: 0.02}
    f1: {max_drop_rel: 0.05}
    classes:
      "*":
        iou: {min: 0.4, max_drop: 0.05}
        optimal_threshold: {max: 0.9}
"#;

/// The date waivers are judged on: fixed, so that a crash reproduces.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date")
}

/// Every metric of a parsed eval is a fraction.
pub fn assert_fractions(eval: &Eval) {
    for split in eval.splits.values() {
        let scopes = std::iter::once(&split.overall).chain(split.classes.values());
        for scope in scopes {
            for metrics in std::iter::once(&scope.metrics).chain(scope.sizes.iter()) {
                for m in Metric::ALL {
                    if let Some(v) = metrics.get(m) {
                        assert!((0.0..=1.0).contains(&v), "{m} = {v} is not a fraction");
                    }
                }
            }
        }
    }
}

/// Every split's classes are in name order, each once, and only a segmentation eval has
/// notes (about a split it has).
pub fn assert_eval_shape(eval: &Eval) {
    for split in eval.splits.values() {
        let names: Vec<&String> = split.classes.keys().collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "classes not sorted and unique");
        for name in names {
            assert!(split.classes.get(name).is_some(), "class {name:?} not found by name");
        }
    }
    for note in &eval.notes {
        assert_eq!(eval.task, Task::SemanticSegmentation, "a note on a detection eval");
        assert!(eval.splits.contains_key(note.split()), "a note on no split");
    }
}

/// The gate's own invariants: counts add up, nothing unevaluated passes, the verdict follows
/// the statuses.
pub fn assert_gate_invariants(report: &GateReport) {
    for status in Status::ALL {
        let n = report.checks.iter().filter(|c| c.status == status).count();
        assert_eq!(report.summary.get(status), n, "summary of {status}");
    }
    for c in &report.checks {
        if c.status == Status::Pass {
            assert!(c.candidate().is_some(), "{}: passed without a value", c.id());
            assert!(c.metric.is_some(), "{}: a presence check passed", c.id());
        }
    }
    let failed = report
        .checks
        .iter()
        .any(|c| c.status == Status::Fail || (report.strict && c.status == Status::Warn));
    assert_eq!(report.verdict == Verdict::Fail, failed, "verdict");
    let mut ids: Vec<String> = report.checks.iter().map(|c| c.id()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "check ids are unique");
}

/// Renders all three reports and checks that each stays valid.
pub fn render_all(report: &GateReport, ctx: &ReportContext) {
    let mut json = Vec::new();
    Format::Json
        .render(report, ctx, &mut json)
        .expect("JSON renders");
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("the JSON report parses");
    let checks = doc["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), report.checks.len());
    // The JSON lists checks in the one ranking, not in plan order.
    for (c, j) in report.ranked().into_iter().zip(checks) {
        assert_eq!(j["id"].as_str(), Some(c.id().as_str()), "JSON follows the ranking");
        assert_eq!(j["class"].as_str(), c.class.as_deref(), "JSON keeps names");
        assert_eq!(j["split"].as_str(), Some(&*c.split), "JSON keeps names");
    }

    let mut xml = Vec::new();
    Format::Junit
        .render(report, ctx, &mut xml)
        .expect("JUnit renders");
    let xml = String::from_utf8(xml).expect("JUnit is UTF-8");
    assert!(
        xml.chars().all(xml_char),
        "JUnit holds a character XML 1.0 forbids"
    );
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut testcases = 0;
    loop {
        match reader.read_event().expect("the JUnit report parses") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                if e.name().as_ref() == b"testcase" {
                    testcases += 1;
                }
                for a in e.attributes() {
                    let a = a.expect("a well-formed attribute");
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("an attribute value that unescapes");
                }
            }
            quick_xml::events::Event::Text(t) => {
                t.decode().expect("text that decodes");
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(testcases, report.checks.len(), "one testcase per check");

    let md = evalgate::report::render_markdown(report, ctx);
    let chars = md.chars().count();
    assert!(
        chars <= MAX_MARKDOWN_CHARS,
        "Markdown is {chars} characters"
    );
}

/// A character XML 1.0 allows.
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The report context `check` would build for these evals.
pub fn context(policy: &str, baseline: Option<&Eval>, candidate: &Eval, code: u8) -> ReportContext {
    let info = |source: &str, e: &Eval| EvalInfo::new(source.to_owned(), e);
    ReportContext {
        exit_code: code,
        policy: policy.to_owned(),
        baseline: baseline.map(|b| info("baseline.json", b)),
        candidate: info("candidate.json", candidate),
        policy_url: Some("https://github.com/o/r/blob/0123abc/policy.yaml".to_owned()),
        run_url: Some("https://github.com/o/r/actions/runs/1".to_owned()),
    }
}

/// Gates `candidate` against `baseline` under `policy` as `check` does, then renders.
pub fn gate_and_render(policy: &Policy, baseline: Option<&Eval>, candidate: &Eval) {
    // `check` stops on comparability and name errors; the gate must not panic on them.
    let Ok(gate) = Gate::new(policy, baseline, candidate) else {
        return;
    };
    for strict in [false, true] {
        let options = GateOptions {
            strict,
            ..GateOptions::new(today())
        };
        let report = match gate.evaluate(&options) {
            Ok(report) => report,
            Err(GateError::NothingEvaluated { report }) => {
                assert!(report.checks.iter().all(|c| c.status == Status::Skip));
                continue;
            }
            Err(GateError::TooManyChecks { .. }) => return,
            Err(e) => panic!("the gate refused an admitted pair: {e}"),
        };
        assert_gate_invariants(&report);
        let code = u8::from(report.verdict == Verdict::Fail);
        render_all(&report, &context("policy.yaml", baseline, candidate, code));
    }
}

/// The policy for an eval's task.
pub fn policy_for(task: Task) -> Policy {
    let text = match task {
        Task::ObjectDetection => DETECTION_POLICY,
        _ => SEGMENTATION_POLICY,
    };
    evalgate::parse_policy(text)
        .expect("the fixed policy is valid")
        .0
}

/// Metadata with every field set, so that the report code paths for links run too.
pub fn with_meta(mut eval: Eval) -> Eval {
    if eval.meta == EvalMeta::default() {
        eval.meta = EvalMeta {
            eval_id: Some("e/1?x#y".into()),
            workspace: Some("ws".into()),
            project: Some("p\n<script>".into()),
            version_id: Some("3".into()),
            created_at: Some("2026-01-01".into()),
        };
    }
    eval
}

/// Checks a diagnostic's span against the text and draws it as `evalgate check` does (a
/// mirror of `src/cli/diag.rs`, which is private to the binary): a span that points outside
/// the text or into a character would make the binary panic on an invalid policy.
pub fn render_diagnostics(diags: &[Diagnostic], text: &str) {
    for d in diags {
        if let Some(span) = d.span
            && let Some(o) = span.offset
        {
            assert!(o <= text.len(), "{}: offset {o} past the end", d.code);
            assert!(
                text.is_char_boundary(o),
                "{}: offset {o} inside a character",
                d.code
            );
            if let Some(l) = span.len {
                let end = o.saturating_add(l);
                assert!(
                    end > text.len() || text.is_char_boundary(end),
                    "{}: span end {end} inside a character",
                    d.code
                );
            }
        }
        let _ = d.render(text, "policy.yaml", false);
    }
}
