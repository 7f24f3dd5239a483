//! `evalgate check`: outputs are checked writable → policy → evals → the gate (comparability,
//! names, checks) → reports (written atomically, on failure too) → terminal summary.

use std::io::Write;
use std::path::Path;

use evalgate::gate::{Gate, GateError, GateOptions, Verdict};
use evalgate::report::{
    EvalInfo, Format, ReportContext, message, scope_label, split_label, test_label,
};

use super::args::CheckArgs;
use super::exit::{self, Failure};
use super::load::Loader;
use super::output::{self, Output};
use super::policy_file::{load_policy, read_policy};
use super::{diag, github, summary};

pub(crate) fn run(args: &CheckArgs) -> Result<u8, Failure> {
    // Every report path is checked before any eval is read: a typo in `--junit` should not
    // cost a fetch, and must never leave the run half done.
    let inputs: Vec<&Path> = [
        Some(args.policy.as_path()),
        Some(Path::new(&args.candidate)),
        args.baseline.as_deref().map(Path::new),
    ]
    .into_iter()
    .flatten()
    .filter(|p| p.as_os_str() != "-")
    .collect();
    let outputs = Output::plan(
        &[
            (Format::Junit, args.junit.as_deref()),
            (Format::Markdown, args.markdown.as_deref()),
            (Format::Json, args.json.as_deref()),
        ],
        &inputs,
    )?;

    let policy_name = args.policy.display().to_string();
    let policy_text = read_policy(&args.policy)?;
    let policy = load_policy(&policy_text, &policy_name)?;

    let mut roles = vec![("candidate", args.candidate.as_str())];
    roles.extend(args.baseline.as_deref().map(|b| ("baseline", b)));
    let (loader, sources) = Loader::new(&args.api, &roles)?;
    let with_roles: Vec<(&str, &evalgate::source::Source)> = ["candidate", "baseline"]
        .into_iter()
        .zip(&sources)
        .collect();
    let mut loaded = loader.load_all(&with_roles)?.into_iter().map(|l| l.eval);
    let candidate = loaded.next().expect("the candidate is always loaded");
    let baseline = loaded.next();
    let (candidate_src, baseline_src) = (&sources[0], sources.get(1));

    let options = GateOptions {
        strict: args.strict,
        today: args
            .today
            .unwrap_or_else(|| chrono::Utc::now().date_naive()),
        max_checks: args.max_checks,
    };
    let report = Gate::new(&policy, baseline.as_ref(), &candidate)
        .inspect(|gate| diag::print(gate.warnings(), &policy_text, &policy_name))
        .and_then(|gate| gate.evaluate(&options))
        .map_err(|e| gate_failure(e, &policy_text, &policy_name))?;
    let code = match report.verdict {
        Verdict::Fail if !args.report_only => exit::REGRESSION,
        Verdict::Pass | Verdict::Fail => exit::PASS,
    };
    let ctx = ReportContext {
        exit_code: code,
        policy: policy_name,
        baseline: baseline
            .as_ref()
            .zip(baseline_src)
            .map(|(e, s)| EvalInfo::new(s.to_string(), e)),
        candidate: EvalInfo::new(candidate_src.to_string(), &candidate),
    };
    let runner = github::Runner::detect(args.github);
    // Rendered once for both the report file and the job summary.
    let markdown = (runner.is_some() || outputs.iter().any(|o| o.format == Format::Markdown))
        .then(|| evalgate::report::render_markdown(&report, &ctx));
    let to_stdout = output::write_all(&outputs, &report, &ctx, markdown.as_deref())?;
    let annotations = match (&runner, &markdown) {
        (Some(runner), Some(md)) => runner.publish(&report, &ctx, &outputs, md)?,
        _ => Vec::new(),
    };

    // stdout belongs to a report written there; everything else goes to stderr then.
    let term: Box<dyn Write> = if to_stdout {
        Box::new(anstream::stderr())
    } else {
        Box::new(anstream::stdout())
    };
    let mut term = super::redact::Redacting::new(term);
    for line in annotations {
        let _ = writeln!(term, "{line}");
    }
    let _ = summary::print(&mut term, &report, &ctx, &outputs);
    Ok(code)
}

/// The gate's refusal in words: the name diagnostics against the policy text, and for a
/// gate that judged nothing, an example of a skipped check and what to do.
fn gate_failure(e: GateError, text: &str, name: &str) -> Failure {
    let mut hint = String::new();
    match &e {
        GateError::UnknownNames { diagnostics, .. } => diag::print(diagnostics, text, name),
        GateError::NothingEvaluated { report } => {
            if let Some(c) = report.checks.first() {
                hint = format!(
                    ", e.g. {} / {} / {}: {}",
                    split_label(&c.split),
                    scope_label(c),
                    test_label(c),
                    message(report, c)
                );
            }
            hint.push_str("; give the rules data to judge (drop rules need --baseline) or add rules that apply to these evals");
        }
        _ => {}
    }
    // The policy's name says nothing about why two evals differ.
    let context = if matches!(e, GateError::NotComparable(_)) {
        ""
    } else {
        name
    };
    let mut failure = Failure::of(context, e);
    failure.message.push_str(&hint);
    failure
}
