//! Roboflow's Model Evaluations API: two GETs per eval, patient with a flaky network, never
//! leaking the key.
//!
//! The key travels in an `Authorization: Bearer` header, never in a URL. Connection errors,
//! timeouts, 429 and 5xx are retried with capped exponential backoff and jitter, honouring
//! `Retry-After`; other 4xx fail at once with a message that says what to check. Bodies are
//! read up to a cap. Nothing here prints: progress goes to a callback.

use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::http::{Secret, agent, backoff, clean, endpoint, parse_retry_after};
use crate::model::{EvalMeta, path_segment};

/// The API's address unless told otherwise.
pub const DEFAULT_API_URL: &str = "https://api.roboflow.com";

const FIRST_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(30);
/// Error bodies are read only this far: enough for a message, never a page of HTML.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// One eval in Roboflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalRef {
    /// The workspace slug.
    pub workspace: String,
    /// The eval id.
    pub eval_id: String,
}

impl fmt::Display for EvalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rf:{}/{}", self.workspace, self.eval_id)
    }
}

/// How to talk to the API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Base URL, e.g. `https://api.roboflow.com`.
    pub api_url: String,
    /// The key; `None` fails every fetch with [`FetchError::NoKey`].
    pub api_key: Option<Secret>,
    /// Per request, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// Retries after the first attempt, for transient failures.
    pub retries: u32,
    /// How long to wait for an unfinished eval; zero fails at once.
    pub wait: Duration,
    /// The largest body accepted, in bytes.
    pub max_body: u64,
}

/// What happened while waiting, for the caller to show.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The eval is still running; the next look is after `next`.
    Waiting {
        /// The eval.
        eval: EvalRef,
        /// How long it has waited so far.
        waited: Duration,
        /// The pause before the next look.
        next: Duration,
    },
    /// A request failed in a way worth retrying.
    Retrying {
        /// The eval.
        eval: EvalRef,
        /// What failed.
        cause: String,
        /// The pause before the retry.
        after: Duration,
        /// Which retry this will be (1-based).
        attempt: u32,
    },
}

/// An eval as fetched: the map-results body and the eval's metadata.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The body of `map-results`, as the server sent it.
    pub body: Vec<u8>,
    /// From the eval's own record.
    pub meta: EvalMeta,
}

/// Why an eval could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No API key in the environment.
    #[error(
        "ROBOFLOW_API_KEY is not set; rf: sources need an API key with the model-eval:read scope"
    )]
    NoKey,
    /// The key holds characters an HTTP header cannot carry.
    #[error(
        "ROBOFLOW_API_KEY holds characters an HTTP header cannot carry (spaces, line breaks or non-ASCII); check how it was set"
    )]
    BadKey,
    /// Stopped because another fetch of the same run failed for good.
    #[error("stopped: another eval of this run could not be loaded")]
    Cancelled,
    /// The API URL is unusable.
    #[error("invalid API URL {url:?}: {why}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server refused, and retrying will not help.
    #[error("HTTP {status} from {url}{}: {hint}", server_text(.code, .message))]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The request URL (no secrets: the key is in a header).
        url: String,
        /// The API's error code, if it sent one.
        code: Option<String>,
        /// The API's message, if it sent one.
        message: Option<String>,
        /// What the user should check.
        hint: String,
    },
    /// Transient failures outlasted every retry.
    #[error("{url}: gave up after {attempts} attempts; last error: {cause}")]
    GaveUp {
        /// The request URL.
        url: String,
        /// How many requests were made.
        attempts: u32,
        /// The last failure.
        cause: String,
    },
    /// A body over the cap.
    #[error(
        "{url}: the response is larger than {limit} bytes; raise --max-body if this eval is really that large"
    )]
    TooLarge {
        /// The request URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// A failure that retrying cannot fix (a malformed URL, a redirect, most TLS errors).
    #[error("{url}: {cause}")]
    Transport {
        /// The request URL.
        url: String,
        /// What failed.
        cause: String,
    },
    /// The eval's record says it failed.
    #[error(
        "the eval's status is \"failed\": Roboflow could not evaluate this model; re-run the evaluation"
    )]
    EvalFailed,
    /// The eval is still running.
    #[error("the eval is not finished yet{}", waited_text(.waited))]
    NotFinished {
        /// How long evalgate waited, if it did.
        waited: Option<Duration>,
    },
    /// The eval's record is not the JSON the API documents.
    #[error("{url}: unexpected response: {why}")]
    BadRecord {
        /// The request URL.
        url: String,
        /// What was wrong.
        why: String,
    },
}

fn server_text(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(" ({c}: {m})"),
        (Some(c), None) => format!(" ({c})"),
        (None, Some(m)) => format!(" ({m})"),
        (None, None) => String::new(),
    }
}

fn waited_text(waited: &Option<Duration>) -> String {
    match waited {
        Some(w) => format!(
            " after waiting {}; wait longer with --wait",
            humantime::format_duration(Duration::from_secs(w.as_secs()))
        ),
        None => "; pass --wait 10m to wait for it".to_owned(),
    }
}

/// Talks to the API. Cheap to share between threads.
pub struct Client {
    agent: ureq::Agent,
    config: ApiConfig,
    key: Secret,
    base: String,
}

impl Client {
    /// Checks the configuration and builds a client.
    ///
    /// Plain `http` is refused except on loopback, where tests run: the key must not cross a
    /// network unencrypted.
    pub fn new(config: ApiConfig) -> Result<Client, FetchError> {
        let endpoint = endpoint(&config.api_url, "API key", "ROBOFLOW_API_KEY").map_err(|e| {
            FetchError::BadUrl {
                url: e.shown,
                why: e.why,
            }
        })?;
        // The URL first: a misconfigured URL is the same mistake with or without a key.
        let key = config.api_key.clone().ok_or(FetchError::NoKey)?;
        if !key.expose().chars().all(|c| c.is_ascii_graphic()) {
            return Err(FetchError::BadKey);
        }
        let agent = agent(&endpoint, config.timeout);
        let base = endpoint.base;
        Ok(Client {
            agent,
            config,
            key,
            base,
        })
    }

    /// Fetches an eval's metrics and record, waiting for it to finish if so configured.
    ///
    /// `cancel` is shared by every fetch of a run: a failure that retrying cannot fix sets it,
    /// and every other fetch then stops retrying and waiting, so one bad eval id does not keep
    /// the run waiting for another eval.
    pub fn fetch(
        &self,
        eval: &EvalRef,
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Fetched, FetchError> {
        let result = self.fetch_inner(eval, progress, cancel);
        if matches!(&result, Err(e) if !matches!(e, FetchError::NotFinished { .. } | FetchError::Cancelled))
        {
            cancel.store(true, Ordering::SeqCst);
        }
        result
    }

    fn fetch_inner(
        &self,
        eval: &EvalRef,
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Fetched, FetchError> {
        let start = Instant::now();
        let mut pause = FIRST_POLL;
        let prefix = format!(
            "{}/{}/model-evals/{}",
            self.base,
            path_segment(&eval.workspace),
            path_segment(&eval.eval_id)
        );
        let record_url = prefix.clone();
        let metrics_url = format!("{prefix}/map-results");
        loop {
            // The record and the metrics are independent: ask for both at once.
            let (record, metrics) = thread::scope(|s| {
                let record = s.spawn(|| self.get(eval, "record", &record_url, progress, cancel));
                let metrics = self.get(eval, "map-results", &metrics_url, progress, cancel);
                (record.join(), metrics)
            });
            let record = match record {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            let record = match record {
                // A 409 means "not done" on either endpoint.
                Err(Failure::Status { status: 409, .. }) => None,
                Err(e) => return Err(self.explain(eval, &record_url, &e)),
                Ok(body) => Some(parse_record(&record_url, &body)?),
            };
            let running = match record.as_ref().map(|r| r.status.as_deref()) {
                Some(Some("failed")) => return Err(FetchError::EvalFailed),
                // Only a finished eval's metrics are final; an unknown status is not "done".
                Some(Some("done") | None) => false,
                Some(Some(_)) | None => true,
            };
            if !running {
                match metrics {
                    Ok(body) => {
                        let meta = record.map_or_else(EvalMeta::default, |r| r.meta(eval));
                        return Ok(Fetched { body, meta });
                    }
                    // The record may lag behind: a 409 from the metrics also means not done.
                    Err(Failure::Status { status: 409, .. }) => {}
                    Err(e) => return Err(self.explain(eval, &metrics_url, &e)),
                }
            }
            let waited = start.elapsed();
            let Some(left) = self
                .config
                .wait
                .checked_sub(waited)
                .filter(|l| !l.is_zero())
            else {
                return Err(FetchError::NotFinished {
                    waited: (!self.config.wait.is_zero()).then_some(waited),
                });
            };
            // The last look comes at the deadline, not a full pause before it.
            let next = pause.min(left);
            progress(Progress::Waiting {
                eval: eval.clone(),
                waited,
                next,
            });
            if !sleep_unless(next, cancel) {
                return Err(FetchError::Cancelled);
            }
            pause = (pause * 3 / 2).min(MAX_POLL);
        }
    }

    /// One GET with retries. Returns the body of a 200, or why there is none.
    fn get(
        &self,
        eval: &EvalRef,
        what: &'static str,
        url: &str,
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<u8>, Failure> {
        let mut attempt = 0;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(Failure::Cancelled);
            }
            let failure = match self.attempt(url) {
                Ok(body) => return Ok(body),
                Err(f) => f,
            };
            let retry_after = match &failure {
                Failure::Status {
                    status,
                    retry_after,
                    ..
                } if is_transient(*status) => *retry_after,
                Failure::Network(_) => None,
                _ => return Err(failure),
            };
            if attempt >= self.config.retries {
                return Err(Failure::Exhausted {
                    attempts: attempt + 1,
                    last: Box::new(failure),
                });
            }
            attempt += 1;
            // A server's Retry-After is honoured, but never shorter than the backoff.
            let pause = retry_after.unwrap_or_default().max(backoff(attempt));
            progress(Progress::Retrying {
                eval: eval.clone(),
                cause: format!("{what}: {}", failure.describe()),
                after: pause,
                attempt,
            });
            if !sleep_unless(pause, cancel) {
                return Err(Failure::Cancelled);
            }
        }
    }

    fn attempt(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let mut response = self
            .agent
            .get(url)
            .header("Authorization", &format!("Bearer {}", self.key.expose()))
            .header("Accept", "application/json")
            .call()
            .map_err(classify)?;
        let status = response.status().as_u16();
        if status == 200 {
            return match response
                .body_mut()
                .with_config()
                .limit(self.config.max_body)
                .read_to_vec()
            {
                Ok(body) => Ok(body),
                Err(ureq::Error::BodyExceedsLimit(limit)) => Err(Failure::TooLarge(limit)),
                Err(e) => Err(Failure::Network(format!("reading the body: {e}"))),
            };
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let html = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("html"));
        let mut text = Vec::new();
        // An unreadable error body still leaves the status to go on.
        let _ = response
            .body_mut()
            .as_reader()
            .take(MAX_ERROR_BODY)
            .read_to_end(&mut text);
        // Redact before anything is cut to length: a cut could split the key and leave half.
        let text = self.key.redact(&String::from_utf8_lossy(&text));
        let (code, message) = envelope(text.as_bytes(), html);
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| clean(&self.key.redact(l)));
        Err(Failure::Status {
            status,
            retry_after,
            code,
            message: match (status, location) {
                (300..=399, Some(to)) => Some(format!("redirect to {to}")),
                _ => message,
            },
        })
    }

    /// Turns a failure into the error the user sees, with what to do about it.
    fn explain(&self, eval: &EvalRef, url: &str, failure: &Failure) -> FetchError {
        let url = url.to_owned();
        match failure {
            Failure::Status {
                status,
                code,
                message,
                ..
            } => {
                let nested_scope = code.as_deref() == Some("GraphMethodException");
                let hint = match (*status, code.as_deref()) {
                    (401, _) => "check ROBOFLOW_API_KEY: the key is missing, wrong or revoked".to_owned(),
                    (403, _) => format!("the key has no access to workspace {:?}; it needs the model-eval:read scope", eval.workspace),
                    (404, _) if nested_scope => "the key is valid but lacks the model-eval:read scope; create a key with that scope".to_owned(),
                    (404, _) => format!(
                        "no eval {:?} in workspace {:?}; check both (an eval of another workspace is reported as not found)",
                        eval.eval_id, eval.workspace
                    ),
                    (409, _) => "the eval is not finished yet".to_owned(),
                    (300..=399, _) => "evalgate does not follow redirects (they could carry the API key elsewhere); check --api-url".to_owned(),
                    (402 | 423, _) => "the workspace's plan or quota does not allow this; check billing in Roboflow".to_owned(),
                    (s, _) if is_transient(s) => "the server kept failing; try again later".to_owned(),
                    _ => "the request was refused; check the workspace, the eval id and the key".to_owned(),
                };
                FetchError::Refused {
                    status: *status,
                    url,
                    code: code.clone(),
                    message: message.clone(),
                    hint,
                }
            }
            Failure::Exhausted { attempts, last } => match last.as_ref() {
                Failure::Status { .. } => {
                    let cause = self.explain(eval, &url, last).to_string();
                    FetchError::GaveUp {
                        url,
                        attempts: *attempts,
                        cause,
                    }
                }
                other => FetchError::GaveUp {
                    url,
                    attempts: *attempts,
                    cause: self.key.redact(&other.describe()),
                },
            },
            Failure::TooLarge(limit) => FetchError::TooLarge { url, limit: *limit },
            Failure::Cancelled => FetchError::Cancelled,
            Failure::Network(cause) | Failure::Fatal(cause) => FetchError::Transport {
                url,
                cause: self.key.redact(cause),
            },
        }
    }
}

/// Why one request produced no body.
#[derive(Debug)]
enum Failure {
    /// A response other than 200.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        code: Option<String>,
        message: Option<String>,
    },
    /// A connection error, timeout or cut-off body: worth retrying.
    Network(String),
    /// A failure that retrying cannot fix.
    Fatal(String),
    /// The body is over the cap.
    TooLarge(u64),
    /// Retries ran out; the last failure.
    Exhausted { attempts: u32, last: Box<Failure> },
    /// Another fetch failed for good; this one stopped.
    Cancelled,
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Status {
                status,
                code,
                message,
                ..
            } => {
                format!("HTTP {status}{}", server_text(code, message))
            }
            Failure::Network(c) | Failure::Fatal(c) => c.clone(),
            Failure::TooLarge(limit) => format!("the body is larger than {limit} bytes"),
            Failure::Exhausted { last, .. } => last.describe(),
            Failure::Cancelled => "stopped".to_owned(),
        }
    }
}

/// Sleeps `pause`, waking early when `cancel` is set; false when cancelled.
fn sleep_unless(pause: Duration, cancel: &AtomicBool) -> bool {
    let until = Instant::now() + pause;
    while !cancel.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        thread::sleep((until - now).min(Duration::from_millis(50)));
    }
    false
}

fn is_transient(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

fn classify(e: ureq::Error) -> Failure {
    match e {
        ureq::Error::Timeout(_)
        | ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::BodyStalled
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::Protocol(_) => Failure::Network(e.to_string()),
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => Failure::Fatal(
            "the server answered with a redirect, which evalgate does not follow (it would carry the API key elsewhere); check --api-url".to_owned(),
        ),
        other => Failure::Fatal(other.to_string()),
    }
}

/// The API's error code and message from an error body: a flat `{"error": "code", "message":
/// "…"}`, a nested `{"error": {"type": …, "message": …}}`, or an HTML page from a proxy.
fn envelope(body: &[u8], html: bool) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<serde_json::Value>,
        message: Option<String>,
    }
    let looks_html = html || body.trim_ascii_start().starts_with(b"<");
    if looks_html {
        return (
            None,
            Some(
                "an HTML page, not JSON: a proxy or gateway answered instead of the API".to_owned(),
            ),
        );
    }
    let Ok(env) = serde_json::from_slice::<Envelope>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return (None, (!text.is_empty()).then(|| clean(text)));
    };
    match env.error {
        Some(serde_json::Value::String(code)) => {
            (Some(clean(&code)), env.message.map(|m| clean(&m)))
        }
        Some(serde_json::Value::Object(o)) => (
            o.get("type").and_then(|v| v.as_str()).map(clean),
            o.get("message")
                .and_then(|v| v.as_str())
                .map(clean)
                .or(env.message.map(|m| clean(&m))),
        ),
        _ => (None, env.message.map(|m| clean(&m))),
    }
}

#[derive(Deserialize)]
struct Record {
    status: Option<String>,
    #[serde(rename = "evalId")]
    eval_id: Option<String>,
    project: Option<String>,
    #[serde(rename = "versionId")]
    version_id: Option<serde_json::Value>,
    #[serde(rename = "createdAt")]
    created_at: Option<String>,
}

impl Record {
    fn meta(self, eval: &EvalRef) -> EvalMeta {
        EvalMeta {
            eval_id: Some(self.eval_id.unwrap_or_else(|| eval.eval_id.clone())),
            workspace: Some(eval.workspace.clone()),
            project: self.project,
            // Documented as a string ("4"); accept a number too.
            version_id: self.version_id.and_then(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            created_at: self.created_at,
        }
    }
}

fn parse_record(url: &str, body: &[u8]) -> Result<Record, FetchError> {
    serde_json::from_slice(body).map_err(|e| FetchError::BadRecord {
        url: url.to_owned(),
        why: if body.trim_ascii_start().starts_with(b"<") {
            "an HTML page, not JSON".to_owned()
        } else {
            e.to_string()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_error_envelope() {
        let flat = include_bytes!(
            "../../tests/fixtures/roboflow/sdk-test-error-404-model-eval-not-found.json"
        );
        assert_eq!(
            envelope(flat, false),
            (
                Some("model_eval_not_found".into()),
                Some("Eval 'x' not found".into())
            )
        );
        let nested = include_bytes!(
            "../../tests/fixtures/roboflow/sdk-test-error-404-missing-scope-graphmethodexception.json"
        );
        assert_eq!(
            envelope(nested, false),
            (
                Some("GraphMethodException".into()),
                Some("scope missing".into())
            )
        );
        let (code, message) = envelope(b"<html><body>502 Bad Gateway</body></html>", false);
        assert_eq!(code, None);
        assert!(message.unwrap().starts_with("an HTML page"));
        assert_eq!(
            envelope(b"upstream\nreset", false),
            (None, Some("upstream reset".into()))
        );
        assert_eq!(envelope(b"", false), (None, None));
    }

    #[test]
    fn refuses_plain_http_beyond_loopback() {
        let config = |url: &str| ApiConfig {
            api_url: url.into(),
            api_key: Secret::new("k".into()),
            timeout: Duration::from_secs(1),
            retries: 0,
            wait: Duration::ZERO,
            max_body: 1,
        };
        assert!(Client::new(config("https://api.roboflow.com")).is_ok());
        assert!(Client::new(config("http://127.0.0.1:9")).is_ok());
        let err = Client::new(config("http://api.roboflow.com"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("unencrypted"), "{err}");
        assert!(Client::new(config("ftp://x")).is_err());
        let no_key = ApiConfig {
            api_key: None,
            ..config("https://api.roboflow.com")
        };
        assert!(matches!(Client::new(no_key), Err(FetchError::NoKey)));
    }
}
