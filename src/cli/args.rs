//! The command line, declared with clap.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "evalgate",
    version,
    about = "A regression gate for computer-vision model evaluations",
    long_about = "A regression gate for computer-vision model evaluations.\n\nevalgate compares a candidate eval against a baseline under a YAML policy, writes JUnit, Markdown and JSON reports, and exits 1 when the model regressed.",
    after_help = "Exit codes: 0 pass, 1 regression, 2 usage error, 3 invalid policy, 4 eval not loaded, 5 eval not finished, 6 evals not comparable, 7 report not written."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Judge a candidate eval against a baseline under a policy.
    Check(CheckArgs),
    /// Save an eval (metrics and metadata) as a file that `check` accepts.
    Fetch(FetchArgs),
    /// Post the Markdown report as the pull request's evalgate comment, or update it.
    Comment(CommentArgs),
    /// Write a starting policy from an existing eval (e.g. the model in production).
    Init(InitArgs),
    /// Check, explain and compare policies; print the policy JSON Schema.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The eval to start from: rf:WORKSPACE/EVAL_ID, a file, or -.
    #[arg(long, value_name = "SRC")]
    pub(crate) from: String,

    /// How far below the eval's values the floors sit, and the largest drop allowed.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.02, value_parser = fraction)]
    pub(crate) margin: f64,

    /// Write the policy here instead of stdout (an existing file is not replaced without --force).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// Replace an existing --output file.
    #[arg(long)]
    pub(crate) force: bool,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a fraction in [0, 1), e.g. 0.02 for two points"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a policy (and, with --eval, its names, shadowed rules and waivers).
    Check(PolicyCheckArgs),
    /// Show, for each split, scope and metric, the thresholds that apply and their lines.
    Explain(ExplainArgs),
    /// List what changed between two policies; exit 1 when the gate was loosened.
    Diff(DiffArgs),
    /// Print the JSON Schema of policy version 1.
    Schema,
}

#[derive(Debug, Args)]
pub(crate) struct PolicyCheckArgs {
    /// The policy.
    pub(crate) policy: PathBuf,

    /// An eval to check the policy's names and rules against.
    #[arg(long, value_name = "SRC")]
    pub(crate) eval: Option<String>,

    /// Judge waivers as of this date instead of today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = today)]
    pub(crate) today: Option<NaiveDate>,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The policy.
    pub(crate) policy: PathBuf,

    /// The eval whose splits and classes the policy is applied to.
    #[arg(long, value_name = "SRC")]
    pub(crate) eval: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The policy before the change.
    pub(crate) old: PathBuf,
    /// The policy after the change.
    pub(crate) new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub(crate) format: DiffFormat,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum TextOrJson {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum DiffFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct CommentArgs {
    /// The Markdown report written by `check --markdown`.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: PathBuf,

    /// Tells this gate's comment apart from other gates' comments on the same pull request.
    #[arg(long, value_name = "KEY", default_value = "default")]
    pub(crate) key: String,

    /// The PR (or MR) number, instead of reading it from the event.
    #[arg(long, value_name = "N")]
    pub(crate) pr: Option<u64>,

    /// The account whose comment is updated [default: github-actions[bot] on GitHub, the
    /// token's own user on GitLab].
    #[arg(long, value_name = "LOGIN")]
    pub(crate) author: Option<String>,

    /// Fail (exit 7) when the comment cannot be written, instead of warning.
    #[arg(long)]
    pub(crate) require: bool,

    /// Post to GitHub (the default unless GITLAB_CI=true).
    #[arg(long, conflicts_with = "gitlab")]
    pub(crate) github: bool,

    /// Post to a GitLab merge request (automatic when GITLAB_CI=true).
    #[arg(long)]
    pub(crate) gitlab: bool,

    /// Per request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = positive_duration)]
    pub(crate) timeout: humantime::Duration,

    /// Retries for connection errors, 429, 5xx and rate limits.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) retries: u32,
}

/// How evals are read and fetched. The API key comes only from ROBOFLOW_API_KEY, never from
/// an argument, so that it cannot show up in a process list or a shell history.
#[derive(Clone, Debug, Args)]
pub(crate) struct ApiArgs {
    /// The workspace for `rf:EVAL_ID` sources.
    #[arg(
        long,
        env = "ROBOFLOW_WORKSPACE",
        value_name = "SLUG",
        hide_env_values = true
    )]
    pub(crate) workspace: Option<String>,

    /// The Roboflow API.
    // Values from the environment stay out of --help: a URL pasted from docs may hold a key.
    #[arg(long, env = "ROBOFLOW_API_URL", value_name = "URL", default_value = evalgate::source::DEFAULT_API_URL, hide_env_values = true)]
    pub(crate) api_url: String,

    /// Per request, from connecting to the last byte.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = positive_duration)]
    pub(crate) timeout: humantime::Duration,

    /// Retries for connection errors, timeouts, 429 and 5xx.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) retries: u32,

    /// Wait up to this long for an unfinished eval (e.g. 10m); 0 fails at once with exit 5.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub(crate) wait: humantime::Duration,

    /// The largest eval accepted, in bytes (suffixes KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub(crate) max_body: u64,

    /// How the API key is sent: `header` (Authorization: Bearer) or `query` (the api_key
    /// parameter Roboflow's own clients use; no URL is then printed).
    #[arg(long, env = "ROBOFLOW_AUTH", value_name = "HOW", default_value = "header", value_parser = ["header", "query"])]
    pub(crate) roboflow_auth: String,
}

fn today(text: &str) -> Result<NaiveDate, String> {
    evalgate::policy::parse_date(text)
        .ok_or_else(|| format!("{text:?} is not a date; write YYYY-MM-DD, e.g. 2026-12-31"))
}

fn positive_duration(text: &str) -> Result<humantime::Duration, String> {
    let d: humantime::Duration = text.parse().map_err(|e| format!("{e}"))?;
    if d.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(d)
}

fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map_or((t, ""), |i| t.split_at(i));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 64MiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}; use KiB, MiB or GiB")),
    };
    n.checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a usable size"))
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// The eval: rf:WORKSPACE/EVAL_ID, rf:EVAL_ID with --workspace, a file, or - for stdin.
    #[arg(value_name = "SRC")]
    pub(crate) source: String,

    /// Write it here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The YAML policy (docs/policy.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,

    /// The eval under test: rf:WORKSPACE/EVAL_ID, a map-results JSON file, or - for stdin.
    #[arg(long, value_name = "SRC")]
    pub(crate) candidate: String,

    /// The eval to compare against (e.g. the model in production). Without it, drop rules
    /// follow `missing.baseline`.
    #[arg(long, value_name = "SRC")]
    pub(crate) baseline: Option<String>,

    /// Write a JUnit XML report here (- for stdout).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,

    /// Write a Markdown report here (- for stdout).
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<PathBuf>,

    /// Write a JSON report here (- for stdout).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,

    /// Warnings fail the gate too.
    #[arg(long)]
    pub(crate) strict: bool,

    /// Exit 0 on a regression (the reports still say fail); errors still exit non-zero.
    #[arg(long)]
    pub(crate) report_only: bool,

    /// Judge waivers as of this date instead of today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = today)]
    pub(crate) today: Option<NaiveDate>,

    /// The most checks the gate may make (exit 3 beyond it), so that no eval can exhaust
    /// memory; each check takes under 100 bytes.
    #[arg(long, value_name = "N", default_value_t = evalgate::gate::DEFAULT_MAX_CHECKS)]
    pub(crate) max_checks: usize,

    /// Write the job summary, step outputs and annotations of GitHub Actions (automatic when
    /// GITHUB_ACTIONS=true).
    #[arg(long)]
    pub(crate) github: bool,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
