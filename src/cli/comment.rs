//! `evalgate comment`: posts the Markdown report as the PR's (or MR's) one evalgate comment.

use std::path::Path;

use evalgate::comment::{
    self, CommentError, GITHUB_MAX_BYTES, GITHUB_MAX_CHARS, GITLAB_MAX_CHARS, Posted, Settings,
    Target,
};
use evalgate::http::Secret;
use evalgate::report::annotations::escape_data;

use super::args::CommentArgs;
use super::exit::{self, Failure, Kind};
use super::redact::say;

pub(crate) fn run(args: &CommentArgs) -> Result<u8, Failure> {
    let usage = |m: String| Failure::new(Kind::Usage, m);
    let marker = comment::marker(&args.key).map_err(|e| usage(e.to_string()))?;
    let markdown = read_markdown(&args.markdown)?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let in_actions = env("GITHUB_ACTIONS").as_deref() == Some("true");
    let gitlab = args.gitlab || (!args.github && env("GITLAB_CI").as_deref() == Some("true"));

    let (target, token_var, full_report, max_chars, max_bytes) = if gitlab {
        let mr = match args
            .pr
            .or_else(|| env("CI_MERGE_REQUEST_IID").and_then(|v| v.parse().ok()))
        {
            Some(mr) => mr,
            None => {
                return not_a_review(
                    args,
                    "CI_MERGE_REQUEST_IID is not set (not a merge-request pipeline) and --pr was not given",
                );
            }
        };
        let target = Target::GitLab {
            api_url: env("CI_API_V4_URL").ok_or_else(|| usage("CI_API_V4_URL is not set; run inside GitLab CI or set it to https://HOST/api/v4".into()))?,
            project: env("CI_PROJECT_ID").ok_or_else(|| usage("CI_PROJECT_ID is not set; run inside GitLab CI or set it".into()))?,
            mr,
            author: args.author.clone(),
        };
        (
            target,
            "GITLAB_TOKEN",
            env("CI_JOB_URL"),
            GITLAB_MAX_CHARS,
            usize::MAX,
        )
    } else {
        let repo = env("GITHUB_REPOSITORY").ok_or_else(|| {
            usage(
                "GITHUB_REPOSITORY is not set; run inside GitHub Actions or set it to owner/repo"
                    .into(),
            )
        })?;
        let pr = match args
            .pr
            .or_else(|| env("GITHUB_EVENT_PATH").and_then(|p| pr_from_event(Path::new(&p))))
        {
            Some(pr) => pr,
            None => {
                return not_a_review(
                    args,
                    "the event is not a pull request (no number in GITHUB_EVENT_PATH) and --pr was not given",
                );
            }
        };
        let run_url = match (env("GITHUB_SERVER_URL"), env("GITHUB_RUN_ID")) {
            (Some(server), Some(run)) => Some(format!(
                "{}/{repo}/actions/runs/{run}",
                server.trim_end_matches('/')
            )),
            _ => None,
        };
        let target = Target::GitHub {
            api_url: env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned()),
            repo,
            pr,
            author: args
                .author
                .clone()
                .unwrap_or_else(|| "github-actions[bot]".to_owned()),
        };
        (
            target,
            "GITHUB_TOKEN",
            run_url,
            GITHUB_MAX_CHARS,
            GITHUB_MAX_BYTES,
        )
    };
    let token = env(token_var).and_then(Secret::new).ok_or_else(|| {
        usage(format!(
            "{token_var} is not set; the comment needs a token that may write {}",
            if gitlab {
                "merge-request notes (the api scope; CI_JOB_TOKEN cannot)"
            } else {
                "pull-request comments"
            }
        ))
    })?;
    let body = comment::compose(
        &marker,
        &markdown,
        max_chars,
        max_bytes,
        full_report.as_deref(),
    );
    let settings = Settings {
        token,
        timeout: args.timeout.into(),
        retries: args.retries,
    };
    match comment::post(&target, settings, &marker, &body) {
        Ok(Posted::Created { id }) => {
            say!("evalgate: created comment {id}");
            Ok(exit::PASS)
        }
        Ok(Posted::Updated { id }) => {
            say!("evalgate: updated comment {id}");
            Ok(exit::PASS)
        }
        Err(CommentError::Denied {
            status,
            url,
            message,
        }) => {
            let fix = if gitlab {
                "GITLAB_TOKEN needs the api scope on this project (a project access token; CI_JOB_TOKEN cannot write notes), and MR pipelines from forks do not get the parent's variables".to_owned()
            } else {
                format!(
                    "on pull requests from forks the GITHUB_TOKEN is read-only: post the comment from a workflow_run workflow ({}/ci.md#pull-requests-from-forks); otherwise give the job `permissions: pull-requests: write`",
                    evalgate::DOCS_URL
                )
            };
            let text =
                format!("cannot write the comment (HTTP {status} from {url}: {message}); {fix}");
            if args.require {
                return Err(Failure::new(Kind::ReportNotWritten, text));
            }
            if in_actions {
                println!(
                    "::warning title=evalgate comment::{}",
                    escape_data(&super::redact::clean(&text))
                );
            } else {
                say!("warning: {text}");
            }
            Ok(exit::PASS)
        }
        Err(e) => Err(Failure::new(
            Kind::ReportNotWritten,
            format!("comment: {e}"),
        )),
    }
}

/// Outside a PR or MR there is nothing to comment on: a warning, or an error with `--require`.
fn not_a_review(args: &CommentArgs, why: &str) -> Result<u8, Failure> {
    if args.require {
        return Err(Failure::new(
            Kind::Usage,
            format!("no comment posted: {why}"),
        ));
    }
    say!("warning: no comment posted: {why}");
    Ok(exit::PASS)
}

/// The report is cut to the platform's limit anyway; reading more than this is a mistake.
const MAX_MARKDOWN_BYTES: usize = 16 << 20;

fn read_markdown(path: &Path) -> Result<String, Failure> {
    super::policy_file::read_capped(path, MAX_MARKDOWN_BYTES)
        .and_then(|b| String::from_utf8(b).map_err(|_| std::io::Error::other("not UTF-8 text")))
        .map_err(|e| {
            Failure::new(
                Kind::Usage,
                format!(
                    "--markdown {}: {e}; write it with `evalgate check --markdown FILE` first",
                    path.display()
                ),
            )
        })
}

/// The PR number of a `pull_request`, `pull_request_target` or `issue_comment` event.
fn pr_from_event(path: &Path) -> Option<u64> {
    let bytes = super::policy_file::read_capped(path, MAX_MARKDOWN_BYTES).ok()?;
    let event: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    event
        .pointer("/pull_request/number")
        .or_else(|| {
            event
                .pointer("/issue/pull_request")
                .and(event.pointer("/issue/number"))
        })
        .or_else(|| event.get("number"))
        .and_then(serde_json::Value::as_u64)
}
