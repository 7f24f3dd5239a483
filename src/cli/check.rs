//! `evalgate check`: outputs are checked writable → policy → evals → the gate (comparability,
//! names, checks) → reports (written atomically, on failure too) → terminal summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use evalgate::gate::{Gate, GateError, GateOptions, Verdict};
use evalgate::report::{
    EvalInfo, Format, ReportContext, message, scope_label, split_label, test_label,
};

use super::args::CheckArgs;
use super::exit::{self, Failure};
use super::load::{CocoSetup, Loader};
use super::output::{self, Output};
use super::policy_file::{load_policy, read_policy_within};
use super::{diag, github, summary};

pub(crate) fn run(args: &CheckArgs) -> Result<u8, Failure> {
    // Every report path is checked before any eval is read: a typo in `--junit` should not
    // cost a fetch, and must never leave the run half done.
    let coco_files = super::load::coco_inputs(
        args.ground_truth
            .iter()
            .map(String::as_str)
            .chain([args.candidate.as_str()])
            .chain(args.baseline.as_deref())
            .filter(|t| t.starts_with("coco:") || args.ground_truth.iter().any(|g| g == t)),
    );
    let inputs: Vec<&Path> = [
        Some(args.policy.as_path()),
        Some(Path::new(&args.candidate)),
        args.baseline.as_deref().map(Path::new),
    ]
    .into_iter()
    .flatten()
    .chain(coco_files.iter().map(PathBuf::as_path))
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
    let policy_text = read_policy_within(&args.policy, args.api.timeout.into())?;
    let policy = load_policy(&policy_text, &policy_name)?;

    let mut roles = vec![("candidate", args.candidate.as_str())];
    roles.extend(args.baseline.as_deref().map(|b| ("baseline", b)));
    let (loader, sources) = Loader::new(&args.api, &roles)?;
    let loader = loader.with_policy(&policy, &policy_name);
    let with_roles: Vec<(&str, &evalgate::source::Source)> = ["candidate", "baseline"]
        .into_iter()
        .zip(&sources)
        .collect();
    let limits = super::eval::Limits {
        max_bytes: args.coco.max_coco_size,
        timeout: args.api.timeout.into(),
    };
    let coco = CocoSetup::new(
        &args.ground_truth,
        args.coco.iou_type.coco(),
        limits,
        &with_roles,
    )?
    .map(|mut c| {
        // Without a baseline no drop is compared, so no matching is paired.
        c.keep_matching &= args.baseline.is_some();
        c
    });
    let loader = loader.with_coco(coco);
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
    let links = ci_links(&args.policy, |name| std::env::var(name).ok());
    let ctx = ReportContext {
        exit_code: code,
        policy: policy_name,
        baseline: baseline
            .as_ref()
            .zip(baseline_src)
            .map(|(e, s)| EvalInfo::new(s.to_string(), e)),
        candidate: EvalInfo::new(candidate_src.to_string(), &candidate),
        policy_url: links.policy,
        run_url: links.run,
    };
    let runner = github::Runner::detect(args.github);
    // Rendered once for both the report file and the job summary.
    let markdown = OnceLock::new();
    let to_stdout = output::write_all(&outputs, &report, &ctx, &markdown)?;
    let annotations = match &runner {
        Some(runner) => {
            let md = markdown.get_or_init(|| evalgate::report::render_markdown(&report, &ctx));
            runner.publish(&report, &ctx, &outputs, md)?
        }
        None => Vec::new(),
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
    // The process ends next: freeing the evals and checks one allocation at a time (hundreds
    // of thousands at 10,000 classes) is work the kernel does at once when it exits.
    std::mem::forget((report, candidate, baseline));
    Ok(code)
}

/// Links to the policy file at the commit under test and to the CI run.
#[derive(Debug, Default, PartialEq)]
struct Links {
    policy: Option<String>,
    run: Option<String>,
}

/// What GitHub Actions (`GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_SHA`,
/// `GITHUB_RUN_ID`, `GITHUB_WORKSPACE`) or GitLab CI (`CI_PROJECT_URL`, `CI_COMMIT_SHA`,
/// `CI_JOB_URL`, `CI_PROJECT_DIR`) say about where the run is. Each value is checked for its
/// shape, so a Markdown link built from it cannot be broken out of; a policy outside the
/// repository gets no link.
fn ci_links(policy: &Path, env: impl Fn(&str) -> Option<String>) -> Links {
    let sha = |name: &str| {
        env(name)
            .filter(|s| (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let blob = |root: &str, base: String, sha: String, sep: &str| {
        let parts = github::relative_parts(Path::new(&env(root)?), policy)?;
        let path: Vec<String> = parts.iter().map(|p| percent_encode(p)).collect();
        Some(format!("{base}{sep}{sha}/{}", path.join("/")))
    };
    if let (Some(server), Some(repo)) = (
        env("GITHUB_SERVER_URL").and_then(web_url),
        env("GITHUB_REPOSITORY").filter(|r| {
            r.split('/').count() == 2
                && r.split('/').all(|p| {
                    !p.is_empty()
                        && !p.starts_with('.')
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                })
        }),
    ) {
        let base = format!("{server}/{repo}");
        let run = env("GITHUB_RUN_ID")
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .map(|id| format!("{base}/actions/runs/{id}"));
        let policy = sha("GITHUB_SHA").and_then(|s| blob("GITHUB_WORKSPACE", base, s, "/blob/"));
        return Links { policy, run };
    }
    if let Some(project) = env("CI_PROJECT_URL").and_then(web_url) {
        let run = env("CI_JOB_URL").and_then(web_url);
        let policy =
            sha("CI_COMMIT_SHA").and_then(|s| blob("CI_PROJECT_DIR", project, s, "/-/blob/"));
        return Links { policy, run };
    }
    Links::default()
}

/// `url` without a trailing `/` when it is an http(s) URL of plain characters only (no
/// spaces, quotes, brackets or parentheses that could end a Markdown link).
fn web_url(url: String) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/%".contains(&b);
    (!rest.is_empty() && !rest.starts_with('/') && rest.bytes().all(plain))
        .then(|| url.trim_end_matches('/').to_owned())
}

/// A path segment with everything but unreserved characters percent-encoded.
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    let context = if matches!(
        e,
        GateError::NotComparable(_)
            | GateError::ImagesDiffer { .. }
            | GateError::NoImageData { .. }
            | GateError::ImageData(_)
    ) {
        ""
    } else {
        name
    };
    let mut failure = Failure::of(context, e);
    failure.message.push_str(&hint);
    failure
}

#[cfg(test)]
mod tests {
    use super::{Links, ci_links};
    use std::collections::HashMap;
    use std::path::Path;

    fn links(vars: &[(&str, &str)], policy: &Path) -> Links {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ci_links(policy, |k| vars.get(k).cloned())
    }

    #[test]
    fn links_point_at_the_policy_line_and_the_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("gate policies")).unwrap();
        let policy = dir.path().join("gate policies/p#1.yaml");
        std::fs::write(&policy, "version: 1\n").unwrap();
        let root = dir.path().to_str().unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let github = links(
            &[
                ("GITHUB_SERVER_URL", "https://github.example/"),
                ("GITHUB_REPOSITORY", "octo/cars"),
                ("GITHUB_SHA", sha),
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_WORKSPACE", root),
            ],
            &policy,
        );
        assert_eq!(
            github.policy.as_deref(),
            Some(
                format!("https://github.example/octo/cars/blob/{sha}/gate%20policies/p%231.yaml")
                    .as_str()
            )
        );
        assert_eq!(
            github.run.as_deref(),
            Some("https://github.example/octo/cars/actions/runs/42")
        );
        let gitlab = links(
            &[
                ("CI_PROJECT_URL", "https://gitlab.example/group/cars"),
                ("CI_COMMIT_SHA", sha),
                ("CI_JOB_URL", "https://gitlab.example/group/cars/-/jobs/7"),
                ("CI_PROJECT_DIR", root),
            ],
            &policy,
        );
        assert_eq!(
            gitlab.policy.as_deref(),
            Some(
                format!(
                    "https://gitlab.example/group/cars/-/blob/{sha}/gate%20policies/p%231.yaml"
                )
                .as_str()
            )
        );
        assert_eq!(
            gitlab.run.as_deref(),
            Some("https://gitlab.example/group/cars/-/jobs/7")
        );
    }

    #[test]
    fn odd_values_give_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("p.yaml");
        std::fs::write(&policy, "version: 1\n").unwrap();
        let root = dir.path().to_str().unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        for (server, repo, sha, run) in [
            ("javascript:alert(1)", "octo/cars", sha, "1"),
            ("https://x.example/a)(b", "octo/cars", sha, "1"),
            ("https://x.example", "octo/cars/../../x", sha, "1"),
            ("https://x.example", "octo/c ars", sha, "1"),
        ] {
            let l = links(
                &[
                    ("GITHUB_SERVER_URL", server),
                    ("GITHUB_REPOSITORY", repo),
                    ("GITHUB_SHA", sha),
                    ("GITHUB_RUN_ID", run),
                    ("GITHUB_WORKSPACE", root),
                ],
                &policy,
            );
            assert_eq!(l, Links::default(), "{server} {repo}");
        }
        let l = links(
            &[
                ("GITHUB_SERVER_URL", "https://x.example"),
                ("GITHUB_REPOSITORY", "octo/cars"),
                ("GITHUB_SHA", "not-a-sha](x)"),
                ("GITHUB_RUN_ID", "1; rm"),
                ("GITHUB_WORKSPACE", root),
            ],
            &policy,
        );
        assert_eq!(l, Links::default());
        // A policy outside the workspace has no place in the repository.
        let elsewhere = tempfile::tempdir().unwrap();
        let l = links(
            &[
                ("GITHUB_SERVER_URL", "https://x.example"),
                ("GITHUB_REPOSITORY", "octo/cars"),
                ("GITHUB_SHA", sha),
                ("GITHUB_WORKSPACE", elsewhere.path().to_str().unwrap()),
            ],
            &policy,
        );
        assert_eq!(l.policy, None);
    }
}
