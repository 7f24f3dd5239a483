//! The cost of each stage for evals of 10 to 10,000 classes × 3 splits.

use evalgate::report::{EvalInfo, Format, ReportContext};
use evalgate::{Eval, Gate, GateOptions, GateReport, Policy, parse_eval, parse_policy};

fn main() {
    divan::main();
}

const POLICY: &str = include_str!("../scale-policy.yaml");

/// A deterministic eval: the same `seed` gives the same values; `degrade` lowers them.
fn eval_json(classes: usize, seed: u64, degrade: f64) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut metrics = |out: &mut String| {
        let m50 = 0.55 + next() * 0.44 - next() * degrade;
        let m5095 = m50 * (0.6 + next() * 0.25);
        out.push_str(&format!(
            r#""map50": {m50:.6}, "map50_95": {m5095:.6}, "map75": {:.6}"#,
            (m50 + m5095) / 2.0
        ));
    };
    let mut out = String::from(r#"{"taskType": "object-detection-like", "splits": {"#);
    for (i, split) in ["train", "valid", "test"].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(r#""{split}": {{"#));
        metrics(&mut out);
        out.push_str(r#", "byObjectSize": {"small": {"#);
        metrics(&mut out);
        out.push_str(r#"}, "large": null}, "perClass": {"#);
        for c in 0..classes {
            if c > 0 {
                out.push(',');
            }
            out.push_str(&format!(r#""class-{c:06}": {{"#));
            metrics(&mut out);
            out.push_str(r#", "byObjectSize": {"small": {"#);
            metrics(&mut out);
            out.push_str("}}}");
        }
        out.push_str("}}");
    }
    out.push_str("}}");
    out
}

const SIZES: [usize; 3] = [10, 1_000, 10_000];

/// The eval that `scripts/gen-evals.py` writes (compact JSON, three size buckets), read from
/// the file named by `EVALGATE_BENCH_EVAL`; skipped when it is unset, so that `cargo bench`
/// never needs Python. `scripts/bench-parse.sh` makes the file and runs this.
#[divan::bench]
fn parse_file(bencher: divan::Bencher<'_, '_>) {
    let Some(path) = std::env::var_os("EVALGATE_BENCH_EVAL") else {
        return;
    };
    let body = std::fs::read(&path).expect("EVALGATE_BENCH_EVAL names a readable file");
    bencher
        .counter(divan::counter::BytesCount::new(body.len()))
        .bench(|| parse_eval(divan::black_box(&body)).expect("a valid eval"));
}

#[divan::bench(args = SIZES)]
fn parse(bencher: divan::Bencher<'_, '_>, classes: usize) {
    let body = eval_json(classes, 1, 0.0);
    bencher
        .counter(divan::counter::BytesCount::new(body.len()))
        .bench(|| parse_eval(divan::black_box(body.as_bytes())).expect("a valid eval"));
}

fn options() -> GateOptions {
    GateOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 11, 26).expect("a date"))
}

fn evaluate(policy: &Policy, base: Option<&Eval>, cand: &Eval, options: &GateOptions) -> GateReport {
    Gate::new(policy, base, cand)
        .and_then(|g| g.evaluate(options))
        .expect("a gate that judges")
}

#[divan::bench(args = SIZES)]
fn gate(bencher: divan::Bencher<'_, '_>, classes: usize) {
    let (policy, _) = parse_policy(POLICY).expect("a valid policy");
    let base = parse_eval(eval_json(classes, 1, 0.0).as_bytes()).expect("a valid eval");
    let cand = parse_eval(eval_json(classes, 1, 0.02).as_bytes()).expect("a valid eval");
    bencher.bench(|| evaluate(&policy, Some(&base), &cand, &options()));
}

fn render(bencher: divan::Bencher<'_, '_>, classes: usize, format: Format) {
    let (policy, _) = parse_policy(POLICY).expect("a valid policy");
    let base = parse_eval(eval_json(classes, 1, 0.0).as_bytes()).expect("a valid eval");
    let cand = parse_eval(eval_json(classes, 1, 0.02).as_bytes()).expect("a valid eval");
    let report = evaluate(&policy, Some(&base), &cand, &options());
    let ctx = ReportContext {
        exit_code: 1,
        policy: "policy.yaml".into(),
        baseline: Some(EvalInfo::new("base.json".into(), &base)),
        candidate: EvalInfo::new("cand.json".into(), &cand),
        policy_url: None,
        run_url: None,
    };
    // Into a sink that counts the bytes: growing a 42 MB vector (copies, first-touch page
    // faults) would be measured as rendering, and a report file never pays for it.
    bencher.bench(|| {
        let mut out = Counted(0);
        format
            .render(&report, &ctx, &mut out)
            .expect("rendering to a sink");
        out.0
    });
}

/// A writer that keeps nothing but the number of bytes written.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += divan::black_box(buf).len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[divan::bench(args = SIZES)]
fn render_json(bencher: divan::Bencher<'_, '_>, classes: usize) {
    render(bencher, classes, Format::Json);
}

#[divan::bench(args = SIZES)]
fn render_junit(bencher: divan::Bencher<'_, '_>, classes: usize) {
    render(bencher, classes, Format::Junit);
}

#[divan::bench(args = SIZES)]
fn render_markdown(bencher: divan::Bencher<'_, '_>, classes: usize) {
    render(bencher, classes, Format::Markdown);
}
