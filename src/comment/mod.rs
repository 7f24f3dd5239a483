//! One PR or MR comment per gate, updated in place on every push.
//!
//! The comment starts with a hidden marker (`<!-- evalgate:KEY -->`). Posting lists the PR's
//! comments (every page), updates the first one that starts with the marker *and* was written
//! by the expected account, and creates one otherwise: a human comment that quotes the marker
//! is never edited. GitHub (issue comments API) and GitLab (merge-request notes API) work the
//! same way. Nothing here prints.

mod body;

use std::time::Duration;

use serde::Deserialize;

pub use body::{BadKey, GITHUB_MAX_BYTES, GITHUB_MAX_CHARS, GITLAB_MAX_CHARS, compose, marker};

use crate::http::{
    Attempt, Secret, Stopped, agent, endpoint, parse_error, parse_retry_after, path_segment,
    read_body, redact_bytes, retry, tame,
};

/// Lists longer than this many pages are not followed further (10,000 comments at 100 a page).
const MAX_PAGES: usize = 100;
/// A page of comments larger than this is refused.
const MAX_PAGE_BYTES: u64 = 32 << 20;

/// Where the comment goes.
#[derive(Clone, Debug)]
pub enum Target {
    /// A GitHub pull request.
    GitHub {
        /// `GITHUB_API_URL`, e.g. `https://api.github.com`.
        api_url: String,
        /// `owner/repo`.
        repo: String,
        /// The pull request number.
        pr: u64,
        /// The login whose comment is updated, e.g. `github-actions[bot]`.
        author: String,
    },
    /// A GitLab merge request.
    GitLab {
        /// `CI_API_V4_URL`, e.g. `https://gitlab.com/api/v4`.
        api_url: String,
        /// `CI_PROJECT_ID` (a number, or a `group/project` path).
        project: String,
        /// The merge request IID.
        mr: u64,
        /// The username whose note is updated; `None` asks GitLab whose the token is.
        author: Option<String>,
    },
}

/// How to talk to the platform.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The token.
    pub token: Secret,
    /// Per request.
    pub timeout: Duration,
    /// Retries for connection errors, 429, 5xx and rate-limit 403s.
    pub retries: u32,
}

/// What posting did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Posted {
    /// A new comment.
    Created {
        /// Its id.
        id: u64,
    },
    /// The existing comment was updated.
    Updated {
        /// Its id.
        id: u64,
    },
}

/// Why the comment could not be posted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommentError {
    /// The token may not read or write comments here (a fork PR's read-only token, a
    /// missing permission or scope).
    #[error("HTTP {status} from {url}: {message}")]
    Denied {
        /// 401, 403 or 404.
        status: u16,
        /// The request URL.
        url: String,
        /// The platform's message.
        message: String,
    },
    /// Any other refusal, or transient failures that outlasted the retries.
    #[error("{url}: {cause}")]
    Failed {
        /// The request URL.
        url: String,
        /// What failed.
        cause: String,
    },
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
}

struct Response {
    status: u16,
    body: Vec<u8>,
    link: Option<String>,
    next_page: Option<String>,
    retry_after: Option<Duration>,
}

struct Api {
    agent: ureq::Agent,
    settings: Settings,
    origin: String,
    /// `Authorization: Bearer …` for GitHub, `PRIVATE-TOKEN: …` for GitLab.
    auth: (&'static str, String),
    extra: Vec<(&'static str, &'static str)>,
}

impl Api {
    fn new(api_url: &str, settings: Settings, gitlab: bool) -> Result<Api, CommentError> {
        let var = if gitlab {
            "GITLAB_TOKEN"
        } else {
            "GITHUB_TOKEN"
        };
        let endpoint = endpoint(api_url, "token", var, &[&settings.token])
            .map_err(|e| CommentError::Config(format!("API URL {}: {}", e.shown, e.why)))?;
        let agent = agent(&endpoint, settings.timeout);
        let origin = endpoint.origin;
        let (auth, extra) = if gitlab {
            (
                ("PRIVATE-TOKEN", settings.token.expose().to_owned()),
                vec![],
            )
        } else {
            (
                (
                    "Authorization",
                    format!("Bearer {}", settings.token.expose()),
                ),
                vec![
                    ("Accept", "application/vnd.github+json"),
                    ("X-GitHub-Api-Version", "2022-11-28"),
                ],
            )
        };
        Ok(Api {
            agent,
            settings,
            origin,
            auth,
            extra,
        })
    }

    /// One request with retries; any status comes back, transport failures do not.
    fn send(
        &self,
        method: &str,
        url: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Response, CommentError> {
        // Links from the server are followed only on the API's own origin: the token must
        // not go anywhere else.
        if !url.starts_with(&format!("{}/", self.origin)) {
            return Err(CommentError::Failed {
                url: url.to_owned(),
                cause: format!("refusing to send the token outside {}", self.origin),
            });
        }
        // A POST that failed on the server side may still have created the comment: retrying
        // it could post a second one. Rate limits (429, and GitHub's 403 with Retry-After)
        // refuse before creating anything, so those are retried for every method; 5xx and
        // connection errors only for reads and in-place updates.
        let idempotent = method != "POST";
        let attempt = || match self.attempt(method, url, json) {
            Ok(r) if r.status == 429 || (r.status == 403 && r.retry_after.is_some()) => {
                Attempt::Again(status_text(&r), r.retry_after)
            }
            Ok(r) if r.status >= 500 && idempotent => {
                Attempt::Again(status_text(&r), r.retry_after)
            }
            Ok(r) => Attempt::Done(r),
            Err(cause) if idempotent => Attempt::Again(cause, None),
            Err(cause) => Attempt::Fail(cause),
        };
        retry(self.settings.retries, None, attempt, |_, _, _| {}).map_err(|s| {
            let cause = match s {
                Stopped::Failed(cause) => cause,
                Stopped::Exhausted { attempts, last } => {
                    format!("gave up after {attempts} attempts; last error: {last}")
                }
                Stopped::Cancelled => "stopped".to_owned(),
            };
            CommentError::Failed {
                url: url.to_owned(),
                cause: self.tame(&cause),
            }
        })
    }

    /// Server or transport text for a message: normalised, redacted, bounded.
    fn tame(&self, text: &str) -> String {
        tame(text, &[&self.settings.token])
    }

    fn attempt(
        &self,
        method: &str,
        url: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Response, String> {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header(self.auth.0, &self.auth.1);
        for (k, v) in &self.extra {
            req = req.header(*k, *v);
        }
        let result = match json {
            Some(value) => {
                let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
                let req = req
                    .header("Content-Type", "application/json")
                    .body(bytes)
                    .map_err(|e| e.to_string())?;
                self.agent.run(req)
            }
            None => {
                let req = req.body(()).map_err(|e| e.to_string())?;
                self.agent.run(req)
            }
        };
        let mut response = result.map_err(|e| e.to_string())?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = response.status().as_u16();
        let link = header("link");
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        let next_page = header("x-next-page").filter(|p| !p.is_empty());
        let body = read_body(&mut response, MAX_PAGE_BYTES).map_err(|e| {
            e.unwrap_or_else(|| format!("the response is larger than {MAX_PAGE_BYTES} bytes"))
        })?;
        // Nothing downstream may see the token, however the server echoed it.
        let body = redact_bytes(&body, &[&self.settings.token]).into_owned();
        Ok(Response {
            status,
            body,
            link,
            next_page,
            retry_after,
        })
    }

    /// Reads a JSON body. The error never quotes the body: a server decides what is in it.
    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<T, CommentError> {
        serde_json::from_slice(body).map_err(|e| CommentError::Failed {
            url: url.to_owned(),
            cause: format!("unexpected response: {}", parse_error(&e)),
        })
    }

    /// Updates the comment at `update` (its id and URL) with `update_method`, or creates one
    /// by POSTing to `create_url`.
    fn upsert(
        &self,
        update: Option<(u64, String)>,
        update_method: &str,
        create_url: &str,
        body: &str,
    ) -> Result<Posted, CommentError> {
        #[derive(Deserialize)]
        struct Created {
            id: u64,
        }
        let payload = serde_json::json!({ "body": body });
        match update {
            Some((id, url)) => {
                self.expect(
                    &url,
                    self.send(update_method, &url, Some(&payload))?,
                    &[200],
                )?;
                Ok(Posted::Updated { id })
            }
            None => {
                let r = self.send("POST", create_url, Some(&payload))?;
                let r = self.expect(create_url, r, &[200, 201])?;
                let created: Created = self.parse(create_url, &r.body)?;
                Ok(Posted::Created { id: created.id })
            }
        }
    }

    fn expect(&self, url: &str, response: Response, ok: &[u16]) -> Result<Response, CommentError> {
        if ok.contains(&response.status) {
            return Ok(response);
        }
        let message = self.tame(&error_message(&response.body));
        let message = if message.is_empty() {
            "no message".to_owned()
        } else {
            message
        };
        if matches!(response.status, 401 | 403 | 404) {
            Err(CommentError::Denied {
                status: response.status,
                url: url.to_owned(),
                message,
            })
        } else {
            Err(CommentError::Failed {
                url: url.to_owned(),
                cause: format!("HTTP {}: {message}", response.status),
            })
        }
    }
}

/// `HTTP 503` and the server's message, if it sent one (tamed by the caller).
fn status_text(r: &Response) -> String {
    match error_message(&r.body) {
        m if m.is_empty() => format!("HTTP {}", r.status),
        m => format!("HTTP {}: {m}", r.status),
    }
}

fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        message: Option<serde_json::Value>,
        error: Option<serde_json::Value>,
    }
    let text = match serde_json::from_slice::<Body>(body) {
        Ok(b) => match b.message.or(b.error) {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::from_utf8_lossy(body).into_owned(),
        },
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    text.trim().to_owned()
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

/// Creates or updates the comment of gate `key` with `body` (already composed with its marker).
pub fn post(
    target: &Target,
    settings: Settings,
    marker: &str,
    body: &str,
) -> Result<Posted, CommentError> {
    match target {
        Target::GitHub {
            api_url,
            repo,
            pr,
            author,
        } => github(api_url, repo, *pr, author, settings, marker, body),
        Target::GitLab {
            api_url,
            project,
            mr,
            author,
        } => gitlab(
            api_url,
            project,
            *mr,
            author.as_deref(),
            settings,
            marker,
            body,
        ),
    }
}

fn github(
    api_url: &str,
    repo: &str,
    pr: u64,
    author: &str,
    settings: Settings,
    marker: &str,
    body: &str,
) -> Result<Posted, CommentError> {
    #[derive(Deserialize)]
    struct User {
        login: String,
    }
    #[derive(Deserialize)]
    struct Comment {
        id: u64,
        body: Option<String>,
        user: Option<User>,
    }
    let Some((owner, name)) = repo
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
    else {
        return Err(CommentError::Config(format!(
            "{repo:?} is not an owner/repo name"
        )));
    };
    let api = Api::new(api_url, settings, false)?;
    let base = format!(
        "{}/repos/{}/{}",
        api_url.trim_end_matches('/'),
        path_segment(owner),
        path_segment(name)
    );
    let mut url = format!("{base}/issues/{pr}/comments?per_page=100");
    let mut found = None;
    for _ in 0..MAX_PAGES {
        let page = api.expect(&url, api.send("GET", &url, None)?, &[200])?;
        let comments: Vec<Comment> = api.parse(&url, &page.body)?;
        found = comments.into_iter().find(|c| {
            c.user.as_ref().is_some_and(|u| u.login == author)
                && c.body.as_deref().is_some_and(|b| b.starts_with(marker))
        });
        match (&found, page.link.as_deref().and_then(next_link)) {
            (None, Some(next)) => url = next,
            _ => break,
        }
    }
    let update = found.map(|c| (c.id, format!("{base}/issues/comments/{}", c.id)));
    api.upsert(
        update,
        "PATCH",
        &format!("{base}/issues/{pr}/comments"),
        body,
    )
}

fn gitlab(
    api_url: &str,
    project: &str,
    mr: u64,
    author: Option<&str>,
    settings: Settings,
    marker: &str,
    body: &str,
) -> Result<Posted, CommentError> {
    #[derive(Deserialize)]
    struct User {
        username: String,
    }
    #[derive(Deserialize)]
    struct Note {
        id: u64,
        body: Option<String>,
        author: Option<User>,
        #[serde(default)]
        system: bool,
    }
    let api = Api::new(api_url, settings, true)?;
    let api_url = api_url.trim_end_matches('/');
    let author = match author {
        Some(a) => a.to_owned(),
        None => {
            let url = format!("{api_url}/user");
            let r = api.expect(&url, api.send("GET", &url, None)?, &[200])?;
            api.parse::<User>(&url, &r.body)?.username
        }
    };
    let base = format!(
        "{api_url}/projects/{}/merge_requests/{mr}/notes",
        path_segment(project)
    );
    let first = format!("{base}?per_page=100&sort=asc&order_by=created_at");
    let mut url = first.clone();
    let mut found = None;
    for _ in 0..MAX_PAGES {
        let page = api.expect(&url, api.send("GET", &url, None)?, &[200])?;
        let notes: Vec<Note> = api.parse(&url, &page.body)?;
        found = notes.into_iter().find(|n| {
            !n.system
                && n.author.as_ref().is_some_and(|u| u.username == author)
                && n.body.as_deref().is_some_and(|b| b.starts_with(marker))
        });
        match (&found, page.next_page.as_deref()) {
            (None, Some(next)) if next.chars().all(|c| c.is_ascii_digit()) => {
                url = format!("{first}&page={next}");
            }
            _ => break,
        }
    }
    let update = found.map(|n| (n.id, format!("{base}/{}", n.id)));
    api.upsert(update, "PUT", &base, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_only_the_next_link() {
        let link = r#"<https://api.github.com/repos/o/r/issues/1/comments?page=3>; rel="next", <https://api.github.com/repos/o/r/issues/1/comments?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repos/o/r/issues/1/comments?page=3")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn error_messages_come_from_either_shape() {
        assert_eq!(
            error_message(br#"{"message": "Resource not accessible by integration"}"#),
            "Resource not accessible by integration"
        );
        assert_eq!(
            error_message(br#"{"error": "insufficient_scope"}"#),
            "insufficient_scope"
        );
        assert_eq!(error_message(b"<html>\n</html>"), "<html>\n</html>");
        assert_eq!(error_message(b""), "");
    }
}
