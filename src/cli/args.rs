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
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The YAML policy (docs/policy.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,

    /// The eval under test: a map-results JSON file, or - for stdin.
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
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) today: Option<NaiveDate>,
}
