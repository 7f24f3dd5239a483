//! The binary's side of the pipeline: arguments in, diagnostics and an exit code out.
//!
//! `check` runs: outputs are checked writable → policy → evals → comparability → names →
//! gate → reports (written atomically, on failure too) → terminal summary.

mod args;
mod authoring;
mod comment;
mod diag;
mod exit;
mod fetch;
mod github;
mod load;
mod output;
mod summary;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anstream::eprintln;
use clap::Parser;
use evalgate::gate::{self, GateOptions, Status, Verdict};
use evalgate::model::Eval;
use evalgate::policy::{Policy, parse_policy};
use evalgate::report::{EvalInfo, Format, ReportContext, scope_label, split_label, test_label};

use args::{CheckArgs, Cli, Command, PolicyCommand};
use load::Loader;
use output::Output;

/// A failure that ends the run: its exit code and what to tell the user.
pub(crate) struct Failure {
    code: u8,
    message: String,
    /// Stopped because another part of the run failed; that failure is the one to report.
    cancelled: bool,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            cancelled: false,
        }
    }
}

pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::PASS
            });
        }
    };
    let result = match cli.command {
        Command::Check(args) => check(&args),
        Command::Fetch(args) => fetch::run(&args),
        Command::Comment(args) => comment::run(&args),
        Command::Init(args) => authoring::init(&args),
        Command::Policy(PolicyCommand::Check(args)) => authoring::check(&args),
        Command::Policy(PolicyCommand::Explain(args)) => authoring::explain(&args),
        Command::Policy(PolicyCommand::Diff(args)) => authoring::diff(&args),
        Command::Policy(PolicyCommand::Schema) => authoring::schema(),
        Command::Completions { shell } => authoring::completions(shell),
        Command::Man => authoring::man(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("{}: {}", summary::error_label(), f.message);
            ExitCode::from(f.code)
        }
    }
}

fn check(args: &CheckArgs) -> Result<u8, Failure> {
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

    let task = gate::comparable(&policy, baseline.as_ref(), &candidate).map_err(|e| {
        Failure::new(
            exit::NOT_COMPARABLE,
            format!("the evals cannot be compared: {e}"),
        )
    })?;
    let evals: Vec<&Eval> = baseline.iter().chain([&candidate]).collect();
    let name_diags = policy.check_names(task, &evals);
    diag::print(&name_diags, &policy_text, &policy_name);
    let errors = name_diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(Failure::new(
            exit::INVALID_POLICY,
            format!(
                "{policy_name}: the policy names what neither eval has ({errors} {})",
                plural(errors, "error")
            ),
        ));
    }

    let today = args
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let options = GateOptions {
        strict: args.strict,
        today,
    };
    let report = gate::evaluate(&policy, baseline.as_ref(), &candidate, &options);
    // A gate that judged nothing must not pass: say why instead of writing a report.
    if report.checks.iter().all(|c| c.status == Status::Skip) {
        let why = match report.checks.first() {
            None => "no rule applies to a split, object size or class these evals have".to_owned(),
            Some(c) => format!(
                "{}, e.g. {} / {} / {}: {}",
                match report.checks.len() {
                    1 => "its only check was skipped".to_owned(),
                    n => format!("all {n} checks were skipped"),
                },
                split_label(&c.split),
                scope_label(c),
                test_label(c),
                evalgate::report::message(&report, c)
            ),
        };
        return Err(Failure::new(
            exit::INVALID_POLICY,
            format!(
                "{policy_name}: no check could be evaluated: {why}; give the rules data to judge (drop rules need --baseline) or add rules that apply to these evals"
            ),
        ));
    }
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
    let mut term: Box<dyn Write> = if to_stdout {
        Box::new(anstream::stderr())
    } else {
        Box::new(anstream::stdout())
    };
    for line in annotations {
        let _ = writeln!(term, "{line}");
    }
    let _ = summary::print(&mut term, &report, &ctx, &outputs);
    Ok(code)
}

fn read_policy(path: &Path) -> Result<String, Failure> {
    let limit = evalgate::policy::MAX_POLICY_BYTES;
    let bytes = read_capped(path, limit).map_err(|e| {
        Failure::new(
            exit::INVALID_POLICY,
            format!("policy: cannot read {}: {e}", path.display()),
        )
    })?;
    if bytes.len() > limit {
        // Only the size matters now; the parser reports it as `policy-too-large`.
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::new(
            exit::INVALID_POLICY,
            format!(
                "policy: {} is not UTF-8 text (byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads at most `limit + 1` bytes, so that a path to something endless (`/dev/zero`, a pipe
/// that never closes) costs a bounded amount of memory and the caller can tell it was over.
pub(crate) fn read_capped(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn load_policy(text: &str, name: &str) -> Result<Policy, Failure> {
    match parse_policy(text) {
        Ok((policy, warnings)) => {
            diag::print(&warnings, text, name);
            Ok(policy)
        }
        Err(e) => {
            diag::print(&e.diagnostics, text, name);
            Err(Failure::new(
                exit::INVALID_POLICY,
                format!("{name}: {e}; see docs/policy.md"),
            ))
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// `1 check`, `2 checks`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {}", plural(n, noun))
}
