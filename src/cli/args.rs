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
    after_help = format!("Exit codes: 0 pass, 1 regression, 2 usage error, 3 invalid policy, 4 eval not loaded, 5 eval not finished, 6 not comparable, 7 report not written (`evalgate check --help` says more).\n\nDocumentation: {}", evalgate::DOCS_URL)
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Judge a candidate eval against a baseline under a policy.
    #[command(after_help = check_help())]
    Check(CheckArgs),
    /// Evaluate a model's COCO predictions against COCO ground truth, locally, and write the
    /// eval (pycocotools' numbers, on hotcoco).
    #[command(after_help = help(NO_ENV, EVAL_EXAMPLES))]
    Eval(EvalArgs),
    /// Save an eval (metrics and metadata) as a file that `check` accepts.
    #[command(after_help = help(ROBOFLOW_ENV, FETCH_EXAMPLES))]
    Fetch(FetchArgs),
    /// Post the Markdown report as the pull request's evalgate comment, or update it.
    #[command(after_help = help(COMMENT_ENV, COMMENT_EXAMPLES))]
    Comment(CommentArgs),
    /// Write a starting policy from an existing eval (e.g. the model in production).
    #[command(after_help = help(ROBOFLOW_ENV, INIT_EXAMPLES))]
    Init(InitArgs),
    /// For one eval, the smallest drop each noise-tested rule of a policy can detect.
    #[command(after_help = help(ROBOFLOW_ENV, CALIBRATE_EXAMPLES))]
    Calibrate(CalibrateArgs),
    /// Check, explain and compare policies; print the policy JSON Schema.
    #[command(subcommand, after_help = help(ROBOFLOW_ENV, POLICY_EXAMPLES))]
    Policy(PolicyCommand),
    /// Print a shell completion script.
    #[command(after_help = help(NO_ENV, COMPLETIONS_EXAMPLES))]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), or write every page to a directory.
    #[command(after_help = help(NO_ENV, MAN_EXAMPLES))]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CalibrateArgs {
    /// The policy whose noise-tested rules to calibrate (it needs a `statistics` block).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,

    /// The eval: rf:WORKSPACE/EVAL_ID, rf:EVAL_ID with --workspace, a saved eval file, -, or
    /// coco:[SPLIT=]PRED.json,… (COCO predictions, evaluated against --ground-truth).
    #[arg(long, value_name = "SRC")]
    pub(crate) eval: String,

    #[command(flatten)]
    pub(crate) local: LocalEvalArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

const CALIBRATE_EXAMPLES: &str = "  evalgate calibrate --policy policies/operating-point.yaml --eval rf:my-workspace/huUF720inUcymARwqAGK
  evalgate calibrate --policy policy.yaml --eval production.json --format json

  # What a local test set can detect, mAP rules included
  evalgate calibrate --policy evalgate.yaml --ground-truth test/_annotations.coco.json --eval coco:production-preds.json";

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The page to print: none for evalgate(1), `check` for evalgate-check(1), `policy diff`
    /// for evalgate-policy-diff(1).
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub(crate) command: Vec<String>,

    /// Write every page (evalgate.1, evalgate-check.1, …) into this directory instead,
    /// creating it.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

/// What `rf:` sources read from the environment.
const ROBOFLOW_ENV: &[(&str, &str)] = &[
    (
        "ROBOFLOW_API_KEY",
        "The Roboflow API key, for rf: sources (required for them). It is read only from the environment, so it never shows in a process list or a shell history.",
    ),
    ("ROBOFLOW_WORKSPACE", "The default of --workspace."),
    ("ROBOFLOW_API_URL", "The default of --api-url."),
    ("ROBOFLOW_AUTH", "The default of --roboflow-auth."),
];

const NO_ENV: &[(&str, &str)] = &[];

const CHECK_ENV: &[(&str, &str)] = &[
    (
        "GITHUB_ACTIONS",
        "`true` turns on --github (set by GitHub Actions).",
    ),
    (
        "GITHUB_STEP_SUMMARY, GITHUB_OUTPUT",
        "Where --github appends the job summary and writes the step outputs.",
    ),
    (
        "GITHUB_WORKSPACE",
        "What --github makes the annotations' policy paths relative to.",
    ),
];

const COMMENT_ENV: &[(&str, &str)] = &[
    (
        "GITHUB_TOKEN",
        "On GitHub: a token that may write pull-request comments (required).",
    ),
    (
        "GITHUB_REPOSITORY, GITHUB_EVENT_PATH",
        "On GitHub: the repository (owner/repo), and the event whose pull request is commented on (unless --pr).",
    ),
    (
        "GITHUB_API_URL, GITHUB_SERVER_URL, GITHUB_RUN_ID",
        "On GitHub: the API (default https://api.github.com), and the run the comment links to.",
    ),
    (
        "GITHUB_ACTIONS",
        "`true`: a comment that cannot be written is a workflow warning.",
    ),
    (
        "GITLAB_CI",
        "`true` posts to GitLab (as --gitlab), unless --github.",
    ),
    (
        "GITLAB_TOKEN",
        "On GitLab: a token with the api scope on the project (required; CI_JOB_TOKEN cannot write notes).",
    ),
    (
        "CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, CI_JOB_URL",
        "On GitLab: the API, the project, the merge request (unless --pr), and the job the note links to.",
    ),
];

const CHECK_EXAMPLES: &str = "  # Gate the candidate against production, both fetched from Roboflow
  ROBOFLOW_API_KEY=... evalgate check --policy evalgate.yaml \\
    --baseline rf:my-workspace/PRODUCTION_EVAL_ID --candidate rf:my-workspace/CANDIDATE_EVAL_ID \\
    --wait 20m --junit evalgate.xml --markdown evalgate.md --json evalgate.json

  # From saved evals, with the Markdown report on stdout
  evalgate check --policy evalgate.yaml --baseline production.json --candidate candidate.json --markdown -

  # Two models' COCO predictions on the same ground truth, evaluated here
  evalgate check --policy evalgate.yaml --ground-truth test/_annotations.coco.json \\
    --baseline coco:production-preds.json --candidate coco:candidate-preds.json";

const EVAL_EXAMPLES: &str = "  # A Roboflow export's test split and a model's predictions on it
  evalgate eval --ground-truth test/_annotations.coco.json --predictions predictions.json -o candidate.json

  # Masks, and a second split in the same eval file
  evalgate eval --ground-truth valid.json --predictions valid-preds.json --iou-type segm --split valid -o candidate.json";

const FETCH_EXAMPLES: &str =
    "  ROBOFLOW_API_KEY=... evalgate fetch rf:my-workspace/PRODUCTION_EVAL_ID -o production.json
  evalgate fetch rf:PRODUCTION_EVAL_ID --workspace my-workspace --wait 10m > production.json";

const COMMENT_EXAMPLES: &str =
    "  # In a GitHub Actions job, after `evalgate check --markdown evalgate.md`
  GITHUB_TOKEN=${{ github.token }} evalgate comment --markdown evalgate.md

  # Outside CI, on pull request 42 of owner/repo
  GITHUB_TOKEN=... GITHUB_REPOSITORY=owner/repo evalgate comment --markdown evalgate.md --pr 42";

const INIT_EXAMPLES: &str = "  ROBOFLOW_API_KEY=... evalgate init --from rf:my-workspace/PRODUCTION_EVAL_ID -o evalgate.yaml
  evalgate init --from production.json --margin 0.01 > evalgate.yaml
  evalgate init --ground-truth test/_annotations.coco.json --from coco:production-preds.json -o evalgate.yaml";

const POLICY_EXAMPLES: &str =
    "  evalgate policy check evalgate.yaml --eval rf:my-workspace/PRODUCTION_EVAL_ID
  evalgate policy explain evalgate.yaml --eval production.json
  evalgate policy diff --base-ref origin/main evalgate.yaml
  evalgate policy schema > policy-v1.json";

const POLICY_DIFF_EXAMPLES: &str =
    "  # What this branch changes in the policy on main (every rule is new where main has none)
  evalgate policy diff --base-ref origin/main evalgate.yaml --format markdown

  # Two files
  evalgate policy diff old.yaml evalgate.yaml";

const COMPLETIONS_EXAMPLES: &str = "  mkdir -p ~/.local/share/bash-completion/completions
  evalgate completions bash > ~/.local/share/bash-completion/completions/evalgate";

const MAN_EXAMPLES: &str = "  evalgate man --dir ~/.local/share/man/man1 && man evalgate-check
  evalgate man policy diff > evalgate-policy-diff.1";

/// The exit codes as `check --help` ends with them; the same as docs/exit-codes.md.
const EXIT_CODES: &str =
    "  0    pass: no check failed (warnings, skips and waivers allowed), or --report-only
  1    regression: a check failed (with --strict, or warned)
  2    usage error: bad arguments
  3    invalid policy: it has errors, names what neither eval has, or judges nothing
  4    eval not loaded: missing, unreadable, malformed, or refused by the API
  5    eval not finished: still running after --wait
  6    not comparable: the evals, or an eval and the policy, differ in task
  7    report not written: its directory is missing or not writable
  101  panic: a bug in evalgate; please report it";

/// An `Environment:` section, then `Examples:`, then where the documentation is.
fn help(env: &[(&str, &str)], examples: &str) -> String {
    let mut out = String::from("Environment:\n");
    let colour = (
        "NO_COLOR",
        "Any value but empty turns colour off (it is off anyway when the output is not a terminal).",
    );
    for (name, what) in env.iter().chain([&colour]) {
        out.push_str(&format!("  {name}\n          {what}\n"));
    }
    out.push_str(&format!(
        "\nExamples:\n{examples}\n\nDocumentation: {}",
        evalgate::DOCS_URL
    ));
    out
}

fn check_help() -> String {
    let env: Vec<(&str, &str)> = ROBOFLOW_ENV.iter().chain(CHECK_ENV).copied().collect();
    format!(
        "{}\n\nExit codes ({}/exit-codes.md):\n{EXIT_CODES}",
        help(&env, CHECK_EXAMPLES),
        evalgate::DOCS_URL
    )
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The eval to start from: rf:WORKSPACE/EVAL_ID, a file, -, or coco:[SPLIT=]PRED.json,…
    /// (COCO predictions, evaluated against --ground-truth).
    #[arg(long, value_name = "SRC")]
    pub(crate) from: String,

    #[command(flatten)]
    pub(crate) local: LocalEvalArgs,

    /// How far below the eval's values the floors sit, and the largest drop allowed.
    // Negative numbers reach `fraction` and its message instead of reading as an option.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.02, value_parser = fraction, allow_negative_numbers = true)]
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
    #[command(after_help = help(ROBOFLOW_ENV, "  evalgate policy check evalgate.yaml\n  ROBOFLOW_API_KEY=... evalgate policy check evalgate.yaml --eval rf:my-workspace/PRODUCTION_EVAL_ID\n  evalgate policy check evalgate.yaml --ground-truth test/_annotations.coco.json --eval coco:predictions.json"))]
    Check(PolicyCheckArgs),
    /// Show, for each split, scope and metric, the thresholds that apply, the waivers, and
    /// their lines.
    #[command(after_help = help(ROBOFLOW_ENV, "  evalgate policy explain evalgate.yaml --eval production.json\n  evalgate policy explain evalgate.yaml --eval rf:my-workspace/PRODUCTION_EVAL_ID --format json\n  evalgate policy explain evalgate.yaml --ground-truth test/_annotations.coco.json --eval coco:predictions.json"))]
    Explain(ExplainArgs),
    /// List what changed between two policies; exit 1 when the gate was loosened.
    #[command(after_help = help(NO_ENV, POLICY_DIFF_EXAMPLES))]
    Diff(DiffArgs),
    /// Print the JSON Schema of policy version 1.
    #[command(after_help = help(NO_ENV, "  evalgate policy schema > policy-v1.json"))]
    Schema,
}

#[derive(Debug, Args)]
pub(crate) struct PolicyCheckArgs {
    /// The policy.
    pub(crate) policy: PathBuf,

    /// An eval to check the policy's names and rules against: rf:WORKSPACE/EVAL_ID, a saved
    /// eval file, -, or coco:[SPLIT=]PRED.json,… (evaluated against --ground-truth).
    #[arg(long, value_name = "SRC")]
    pub(crate) eval: Option<String>,

    #[command(flatten)]
    pub(crate) local: LocalEvalArgs,

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

    /// The eval whose splits and classes the policy is applied to: rf:WORKSPACE/EVAL_ID, a
    /// saved eval file, -, or coco:[SPLIT=]PRED.json,… (evaluated against --ground-truth).
    #[arg(long, value_name = "SRC")]
    pub(crate) eval: String,

    #[command(flatten)]
    pub(crate) local: LocalEvalArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub(crate) format: TextOrJson,

    /// Judge waivers as of this date instead of today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) today: Option<NaiveDate>,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// OLD and NEW, the policies before and after the change; with --base-ref, only NEW.
    #[arg(value_name = "POLICY", num_args = 1..=2, required = true)]
    pub(crate) policies: Vec<PathBuf>,
    /// Read the old policy from this git revision (`git show REV:NEW`); a revision without
    /// the file had no policy, so every rule is new and nothing is loosened.
    #[arg(long, value_name = "REV")]
    pub(crate) base_ref: Option<String>,
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

/// Which overlap COCO matching uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum IouArg {
    /// Box IoU.
    #[default]
    Bbox,
    /// Mask IoU (polygons and RLE).
    Segm,
}

impl IouArg {
    pub(crate) fn coco(self) -> evalgate::coco::IouType {
        match self {
            IouArg::Bbox => evalgate::coco::IouType::Bbox,
            IouArg::Segm => evalgate::coco::IouType::Segm,
        }
    }
}

/// How a command that takes one eval reads a `coco:` one.
#[derive(Debug, Args)]
pub(crate) struct LocalEvalArgs {
    /// The COCO ground truth of a split, [SPLIT=]GT.json (the split defaults to test), for
    /// a coco: eval; once per split, and the coco: eval names the same splits.
    #[arg(long, value_name = "[SPLIT=]FILE")]
    pub(crate) ground_truth: Vec<String>,

    #[command(flatten)]
    pub(crate) coco: CocoArgs,
}

/// How COCO files are read, for `eval` and for the `coco:` sources of the other commands.
#[derive(Clone, Debug, Args)]
pub(crate) struct CocoArgs {
    /// Compare boxes or masks.
    #[arg(long, value_enum, default_value_t = IouArg::Bbox)]
    pub(crate) iou_type: IouArg,

    /// The largest COCO file accepted (ground truth or predictions), in bytes (suffixes
    /// KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub(crate) max_coco_size: u64,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// The COCO ground truth: a dataset JSON with images, annotations and categories (a
    /// Roboflow export's _annotations.coco.json reads as it is).
    #[arg(long, value_name = "FILE")]
    pub(crate) ground_truth: PathBuf,

    /// The model's predictions: a pycocotools results file, a JSON array of
    /// {image_id, category_id, bbox or segmentation, score}.
    #[arg(long, value_name = "FILE")]
    pub(crate) predictions: PathBuf,

    /// The split the numbers are written under.
    #[arg(long, value_name = "NAME", default_value = "test", value_parser = split_name)]
    pub(crate) split: String,

    /// Write the eval here instead of stdout; an existing eval file keeps its other splits
    /// and gets this one added or replaced.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// A FIFO or device input must deliver its end within this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = positive_duration)]
    pub(crate) timeout: humantime::Duration,

    #[command(flatten)]
    pub(crate) coco: CocoArgs,
}

/// A split name: not empty, no `=` or `,` (they separate `coco:` source parts).
pub(crate) fn split_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['=', ',']) || text.chars().any(char::is_control) {
        return Err(format!(
            "{text:?} is not a split name; use a word such as test or valid"
        ));
    }
    Ok(text.to_owned())
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// The eval: rf:WORKSPACE/EVAL_ID, rf:EVAL_ID with --workspace, a file, or - for stdin.
    #[arg(value_name = "SRC")]
    pub(crate) source: String,

    /// Write it here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// Save what this policy needs beside map-results (confidence sweep, performance by
    /// class, confusion matrices); without it, every panel of every split.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) api: ApiArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[arg(long, value_name = "FILE", help = format!("The YAML policy ({}/policy.md)", evalgate::DOCS_URL))]
    pub(crate) policy: PathBuf,

    /// The eval under test: rf:WORKSPACE/EVAL_ID, a map-results JSON file, - for stdin, or
    /// coco:[SPLIT=]PRED.json,… (COCO predictions, evaluated against --ground-truth).
    #[arg(long, value_name = "SRC")]
    pub(crate) candidate: String,

    /// The eval to compare against (e.g. the model in production), as --candidate. Without
    /// it, drop rules follow `missing.baseline`.
    #[arg(long, value_name = "SRC")]
    pub(crate) baseline: Option<String>,

    /// The COCO ground truth of a split, [SPLIT=]GT.json (the split defaults to test), for
    /// coco: sources; once per split, and each coco: source names the same splits.
    #[arg(long, value_name = "[SPLIT=]FILE")]
    pub(crate) ground_truth: Vec<String>,

    #[command(flatten)]
    pub(crate) coco: CocoArgs,

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
    use super::{EXIT_CODES, parse_size};
    use crate::cli::exit;

    #[test]
    fn the_exit_codes_in_check_help_are_the_binarys() {
        let listed: Vec<(u8, &str)> = EXIT_CODES
            .lines()
            .filter_map(|l| {
                let (code, rest) = l.trim().split_once(' ')?;
                Some((code.parse().ok()?, rest.trim().split(':').next()?))
            })
            .collect();
        // 101 is Rust's panic code, listed for the reader, not one evalgate chooses.
        let mut expected = exit::table();
        expected.push((101, "panic"));
        assert_eq!(listed, expected);
    }

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
