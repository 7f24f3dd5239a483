//! Roboflow's Model Evaluations API: the record and map-results of each eval, and the panels
//! a policy needs (confidence sweep, performance by class, confusion matrices, every page of
//! the per-image predictions), all at once,
//! patient with a flaky network, never leaking the key.
//!
//! The key travels in an `Authorization: Bearer` header by default, or, with
//! [`Auth::Query`], as the `api_key` query parameter Roboflow's own clients use; then no
//! request URL appears in any message. Connection errors, timeouts, 429 and 5xx are retried
//! (the one loop in [`crate::http`]); other 4xx fail at once with a message that says what to
//! check. Bodies are read up to a cap and the key is redacted from them before anything reads
//! them. Nothing here prints: progress goes to a callback.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::http::{
    Attempt, Secret, Stopped, agent, endpoint, parse_error, parse_retry_after, path_segment,
    read_body, redact_bytes, retry, sleep_unless, tame,
};
use crate::model::{EvalMeta, OperatingPoint, PanelBodies, Percent, parse_confidence_sweep};
use crate::policy::{Needs, SplitSelector};

/// The API's address unless told otherwise.
pub const DEFAULT_API_URL: &str = "https://api.roboflow.com";

const FIRST_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(30);
/// Error bodies are read only this far: enough for a message, never a page of HTML.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// Requests in flight at once, over every eval of a run. A gate of two evals that needs every
/// panel of three splits makes 12 at first (record, map-results, sweep and three panels
/// each): they fit in one round trip, and a policy over more splits still cannot flood the
/// API.
const MAX_IN_FLIGHT: usize = 16;
/// The page size asked of `image-predictions`: the largest the API serves.
const IMAGE_PAGE: u64 = 1000;
/// Pages of one split fetched at once, after the first (which says how many there are). The
/// requests of a run are bounded by [`MAX_IN_FLIGHT`] too.
const IMAGE_WORKERS: usize = 8;
/// The most images of one split evalgate reads: past this a `totalImages` is taken for a
/// broken answer, not a reason to make ten thousand requests.
const MAX_IMAGES: u64 = 10_000_000;
/// The splits `performance-by-class` takes (it refuses `all`).
const API_SPLITS: [&str; 3] = ["train", "valid", "test"];

/// What to fetch of an eval beyond its record and map-results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The confidence sweep (one response for every split).
    pub sweep: bool,
    /// Splits to fetch performance by class for; `"*"` is every split map-results has.
    pub by_class: Vec<SplitSelector>,
    /// Splits to fetch a confusion matrix for, and at which confidence.
    pub confusion: Vec<(SplitSelector, MatrixAt)>,
    /// Splits to fetch every page of the per-image predictions for, and at which confidence
    /// (always the confidence of a matrix of the same split: the triples index its classes).
    pub images: Vec<(SplitSelector, MatrixAt)>,
    /// Whether `"*"` covers only the splits the panels take (train, valid, test) rather than
    /// every split map-results has.
    pub api_splits_only: bool,
}

/// The confidence a confusion matrix is asked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixAt {
    /// This one.
    Percent(Percent),
    /// The split's F1-optimal threshold from the sweep, to the nearest percent.
    Optimal,
}

impl Plan {
    /// Exactly what a policy needs.
    pub fn for_needs(needs: &Needs) -> Plan {
        let at = match needs.point {
            Some(OperatingPoint::Optimal) => MatrixAt::Optimal,
            Some(OperatingPoint::Confidence(p)) => MatrixAt::Percent(p),
            None => MatrixAt::Percent(crate::model::DEFAULT_MATRIX_CONFIDENCE),
        };
        Plan {
            sweep: needs.sweep || at == MatrixAt::Optimal && !needs.confusion.is_empty(),
            by_class: needs.by_class.clone(),
            confusion: needs.confusion.iter().map(|s| (s.clone(), at)).collect(),
            images: needs.images.iter().map(|s| (s.clone(), at)).collect(),
            api_splits_only: false,
        }
    }

    /// Every panel of every split: the sweep, performance by class, and the confusion matrix
    /// at each split's F1-optimal threshold and at the default confidence (50), for each of
    /// train, valid and test that map-results has. Not the per-image predictions: they are
    /// many pages, and only a policy's noise tests say at which confidence they are needed.
    pub fn everything() -> Plan {
        Plan {
            sweep: true,
            by_class: vec![SplitSelector::All],
            confusion: vec![
                (SplitSelector::All, MatrixAt::Optimal),
                (
                    SplitSelector::All,
                    MatrixAt::Percent(crate::model::DEFAULT_MATRIX_CONFIDENCE),
                ),
            ],
            images: Vec::new(),
            api_splits_only: true,
        }
    }

    /// Whether only the record and map-results are fetched.
    pub fn is_empty(&self) -> bool {
        !self.sweep
            && self.by_class.is_empty()
            && self.confusion.is_empty()
            && self.images.is_empty()
    }

    fn needs_splits(&self) -> bool {
        let all = |s: &SplitSelector| *s == SplitSelector::All;
        self.by_class.iter().any(all)
            || self.confusion.iter().any(|(s, _)| all(s))
            || self.images.iter().any(|(s, _)| all(s))
    }
}

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
    /// How the key is sent.
    pub auth: Auth,
}

/// How the API key is sent (`ROBOFLOW_AUTH`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// An `Authorization: Bearer` header: the key never appears in a URL.
    #[default]
    Header,
    /// The `api_key` query parameter, as Roboflow's own clients send it. Request URLs then
    /// hold the key, so no message shows one.
    Query,
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

/// An eval as fetched: the map-results body, the eval's metadata and the panels' bodies.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The body of `map-results`, as the server sent it.
    pub body: Vec<u8>,
    /// From the eval's own record.
    pub meta: EvalMeta,
    /// The panels the plan asked for, as the server sent them.
    pub panels: PanelBodies,
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
        /// The request URL, or with [`Auth::Query`] what was requested (the URL holds the key).
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
    slots: Slots,
}

/// A counting semaphore: at most [`MAX_IN_FLIGHT`] requests at once, whichever eval they
/// are for.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn take(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// One request: where it goes, and how messages name it.
struct Request<'a> {
    eval: &'a EvalRef,
    /// `record`, `map-results`, or a panel with its parameters
    /// (`confusion-matrix?split=valid&confidence=40`).
    what: String,
    url: String,
    /// The panel and its parameters, for messages about a refused value.
    panel: Option<PanelRequest>,
}

/// A panel request: which one, for which split, at which confidence.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PanelRequest {
    Sweep,
    ByClass(String),
    Confusion(String, Percent),
    /// One page of a split's image predictions, by its offset.
    Images(String, Percent, u64),
}

impl PanelRequest {
    fn endpoint(&self) -> &'static str {
        match self {
            PanelRequest::Sweep => "confidence-sweep",
            PanelRequest::ByClass(_) => "performance-by-class",
            PanelRequest::Confusion(..) => "confusion-matrix",
            PanelRequest::Images(..) => "image-predictions",
        }
    }

    /// The path and query after the eval's URL, as messages show it.
    fn what(&self) -> String {
        let q = path_segment;
        match self {
            PanelRequest::Sweep => "confidence-sweep".to_owned(),
            PanelRequest::ByClass(split) => format!("performance-by-class?split={}", q(split)),
            PanelRequest::Confusion(split, at) => format!(
                "confusion-matrix?split={}&confidence={}",
                q(split),
                at.get()
            ),
            PanelRequest::Images(split, at, offset) => format!(
                "image-predictions?split={}&confidence={}&limit={IMAGE_PAGE}&offset={offset}",
                q(split),
                at.get()
            ),
        }
    }
}

type Outcome = Result<Vec<u8>, RequestFailure>;

impl Client {
    /// Checks the configuration and builds a client.
    ///
    /// Plain `http` is refused except on loopback, where tests run: the key must not cross a
    /// network unencrypted.
    pub fn new(config: ApiConfig) -> Result<Client, FetchError> {
        let known: Vec<&Secret> = config.api_key.iter().collect();
        let endpoint =
            endpoint(&config.api_url, "API key", "ROBOFLOW_API_KEY", &known).map_err(|e| {
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
            slots: Slots {
                free: Mutex::new(MAX_IN_FLIGHT),
                freed: Condvar::new(),
            },
        })
    }

    /// Fetches an eval's metrics and record, and the panels `plan` asks for, waiting for the
    /// eval to finish if so configured.
    ///
    /// Every request goes out at once, except those that need an answer first: a `"*"` split
    /// waits for map-results (which says what splits there are), a matrix at the F1-optimal
    /// threshold for the sweep (which says what that is).
    ///
    /// `cancel` is shared by every fetch of a run: a failure that retrying cannot fix sets it,
    /// and every other fetch then stops retrying and waiting, so one bad eval id does not keep
    /// the run waiting for another eval.
    pub fn fetch(
        &self,
        eval: &EvalRef,
        plan: &Plan,
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Fetched, FetchError> {
        let result = self.fetch_inner(eval, plan, progress, cancel);
        if matches!(&result, Err(e) if !matches!(e, FetchError::NotFinished { .. } | FetchError::Cancelled))
        {
            cancel.store(true, Ordering::SeqCst);
        }
        result
    }

    fn fetch_inner(
        &self,
        eval: &EvalRef,
        plan: &Plan,
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
        let record_req = Request {
            eval,
            what: "record".to_owned(),
            url: prefix.clone(),
            panel: None,
        };
        let metrics_req = Request {
            eval,
            what: "map-results".to_owned(),
            url: format!("{prefix}/map-results"),
            panel: None,
        };
        loop {
            let (record, metrics, panels) = self.round(
                eval,
                &prefix,
                plan,
                &record_req,
                &metrics_req,
                progress,
                cancel,
            );
            let record = match record {
                // A 409 means "not done" on either endpoint.
                Err(RequestFailure::Status { status: 409, .. }) => None,
                Err(e) => return Err(self.explain(&record_req, &e)),
                Ok(body) => Some(self.parse_record(&record_req, &body)?),
            };
            let running = match record.as_ref().map(|r| r.status.as_deref()) {
                Some(Some("failed")) => return Err(FetchError::EvalFailed),
                // Only a finished eval's metrics are final; an unknown or missing status is
                // not "done".
                Some(Some("done")) => false,
                Some(_) | None => true,
            };
            if !running {
                let body = match metrics {
                    Ok(body) => Some(body),
                    // The record may lag behind: a 409 from the metrics also means not done.
                    Err(RequestFailure::Status { status: 409, .. }) => None,
                    Err(e) => return Err(self.explain(&metrics_req, &e)),
                };
                let mut bodies = PanelBodies::default();
                let mut done = body.is_some();
                for (req, outcome) in panels {
                    let body = match outcome {
                        Ok(body) => body,
                        // A panel of an eval still being written is "not done" too.
                        Err(RequestFailure::Status { status: 409, .. }) => {
                            done = false;
                            continue;
                        }
                        Err(e) => return Err(self.explain(&req, &e)),
                    };
                    match req.panel {
                        Some(PanelRequest::Sweep) => bodies.confidence_sweep = Some(body),
                        Some(PanelRequest::ByClass(split)) => {
                            bodies.performance_by_class.insert(split, body);
                        }
                        Some(PanelRequest::Confusion(split, _)) => {
                            bodies.confusion_matrix.entry(split).or_default().push(body);
                        }
                        // In offset order: the panels are sorted.
                        Some(PanelRequest::Images(split, ..)) => {
                            bodies
                                .image_predictions
                                .entry(split)
                                .or_default()
                                .push(body);
                        }
                        None => {}
                    }
                }
                if let (true, Some(body)) = (done, body) {
                    let meta = record.map_or_else(EvalMeta::default, |r| r.meta(eval));
                    return Ok(Fetched {
                        body,
                        meta,
                        panels: bodies,
                    });
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
            if !sleep_unless(next, Some(cancel)) {
                return Err(FetchError::Cancelled);
            }
            pause = (pause * 3 / 2).min(MAX_POLL);
        }
    }

    /// One look at an eval: its record, its map-results and the panels of `plan`, each request
    /// as soon as what it depends on has come back.
    #[allow(clippy::too_many_arguments)]
    fn round<'e>(
        &self,
        eval: &'e EvalRef,
        prefix: &str,
        plan: &Plan,
        record_req: &Request<'_>,
        metrics_req: &Request<'_>,
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
    ) -> (Outcome, Outcome, Vec<(Request<'e>, Outcome)>) {
        let panel_req = |panel: PanelRequest| panel_request(eval, prefix, panel);
        thread::scope(|s| {
            let get = |req: Request<'e>| {
                s.spawn(move || {
                    let outcome = self.get(&req, progress, cancel);
                    (req, outcome)
                })
            };
            let record = s.spawn(|| self.get(record_req, progress, cancel));
            let metrics = s.spawn(|| self.get(metrics_req, progress, cancel));
            let sweep = plan.sweep.then(|| get(panel_req(PanelRequest::Sweep)));
            let mut asked = BTreeSet::new();
            let mut handles = Vec::new();
            let mut ask = |panel: PanelRequest, handles: &mut Vec<_>| {
                if asked.insert(panel.clone()) {
                    handles.push(get(panel_req(panel)));
                }
            };
            // A split's images come in pages; the first says how many more there are.
            let mut asked_images = BTreeSet::new();
            let mut image_handles = Vec::new();
            let mut ask_images = |split: &str, at: Percent, handles: &mut Vec<_>| {
                if asked_images.insert((split.to_owned(), at)) {
                    let split = split.to_owned();
                    handles.push(s.spawn(move || {
                        self.image_pages(eval, prefix, &split, at, progress, cancel)
                    }));
                }
            };
            for (sel, at) in &plan.images {
                if let (SplitSelector::Name(split), MatrixAt::Percent(p)) = (sel, at) {
                    ask_images(split, *p, &mut image_handles);
                }
            }
            // Named splits at a known confidence need nothing first.
            for sel in &plan.by_class {
                if let SplitSelector::Name(split) = sel {
                    ask(PanelRequest::ByClass(split.clone()), &mut handles);
                }
            }
            for (sel, at) in &plan.confusion {
                if let (SplitSelector::Name(split), MatrixAt::Percent(p)) = (sel, at) {
                    ask(PanelRequest::Confusion(split.clone(), *p), &mut handles);
                }
            }
            // `"*"` is every split map-results has.
            let metrics = if plan.needs_splits() {
                let metrics = join(metrics);
                let splits = metrics
                    .as_ref()
                    .ok()
                    .map(|b| split_names(b))
                    .unwrap_or_default();
                let splits = splits
                    .into_iter()
                    .filter(|s| !plan.api_splits_only || API_SPLITS.contains(&s.as_str()));
                for split in splits {
                    if plan.by_class.contains(&SplitSelector::All) {
                        ask(PanelRequest::ByClass(split.clone()), &mut handles);
                    }
                    for (sel, at) in &plan.confusion {
                        if let (SplitSelector::All, MatrixAt::Percent(p)) = (sel, at) {
                            ask(PanelRequest::Confusion(split.clone(), *p), &mut handles);
                        }
                    }
                    for (sel, at) in &plan.images {
                        if let (SplitSelector::All, MatrixAt::Percent(p)) = (sel, at) {
                            ask_images(&split, *p, &mut image_handles);
                        }
                    }
                }
                Ok(metrics)
            } else {
                Err(metrics)
            };
            // A matrix at the F1-optimal threshold waits for the sweep to say what it is.
            let mut sweep = sweep.map(join);
            let optimal = plan
                .confusion
                .iter()
                .filter(|(_, at)| *at == MatrixAt::Optimal);
            if let Some((_, Ok(body))) = &sweep {
                let thresholds = optimal_thresholds(body);
                for (sel, _) in optimal {
                    for (split, threshold) in &thresholds {
                        let api = !plan.api_splits_only || API_SPLITS.contains(&split.as_str());
                        if sel.matches(split)
                            && api
                            && let Some(p) = Percent::nearest(*threshold)
                        {
                            ask(PanelRequest::Confusion(split.clone(), p), &mut handles);
                        }
                    }
                }
                for (sel, at) in &plan.images {
                    if *at != MatrixAt::Optimal {
                        continue;
                    }
                    for (split, threshold) in &thresholds {
                        let api = !plan.api_splits_only || API_SPLITS.contains(&split.as_str());
                        if sel.matches(split)
                            && api
                            && let Some(p) = Percent::nearest(*threshold)
                        {
                            ask_images(split, p, &mut image_handles);
                        }
                    }
                }
            }
            let mut panels: Vec<(Request<'e>, Outcome)> = sweep.take().into_iter().collect();
            panels.extend(handles.into_iter().map(join));
            panels.extend(image_handles.into_iter().flat_map(join));
            // A saved eval lists each split's matrices by confidence, however they came in.
            panels.sort_by(|a, b| a.0.panel.cmp(&b.0.panel));
            let metrics = metrics.unwrap_or_else(join);
            (join(record), metrics, panels)
        })
    }

    /// Every page of a split's image predictions at `at`: the first, then all the others at
    /// once (so five pages cost two round trips), in offset order. A first page that fails
    /// is returned alone; one whose `totalImages` cannot be read too, and its parse says why.
    fn image_pages<'e>(
        &self,
        eval: &'e EvalRef,
        prefix: &str,
        split: &str,
        at: Percent,
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
    ) -> Vec<(Request<'e>, Outcome)> {
        let req = |offset| {
            panel_request(
                eval,
                prefix,
                PanelRequest::Images(split.to_owned(), at, offset),
            )
        };
        let first = req(0);
        let outcome = self.get(&first, progress, cancel);
        let (total, step) = match &outcome {
            Ok(body) => page_extent(body),
            Err(_) => (0, IMAGE_PAGE),
        };
        if total > MAX_IMAGES {
            let why = format!(
                "totalImages says {total} images, more than evalgate reads of one split ({MAX_IMAGES}); check the split"
            );
            return vec![(first, Err(RequestFailure::Fatal(why)))];
        }
        let offsets: Vec<u64> = (1..total.div_ceil(step)).map(|k| k * step).collect();
        let mut out = vec![(first, outcome)];
        if offsets.is_empty() {
            return out;
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut rest: Vec<(Request<'e>, Outcome)> = thread::scope(|s| {
            let workers: Vec<_> = (0..IMAGE_WORKERS.min(offsets.len()))
                .map(|_| {
                    s.spawn(|| {
                        let mut got = Vec::new();
                        while let Some(&offset) = offsets.get(next.fetch_add(1, Ordering::SeqCst)) {
                            let r = req(offset);
                            let outcome = self.get(&r, progress, cancel);
                            let failed = outcome.is_err();
                            got.push((r, outcome));
                            if failed {
                                break;
                            }
                        }
                        got
                    })
                })
                .collect();
            workers.into_iter().flat_map(join).collect()
        });
        rest.sort_by(|a, b| a.0.panel.cmp(&b.0.panel));
        out.extend(rest);
        out
    }

    /// How messages name a request: its URL, unless the URL holds the key.
    fn shown(&self, req: &Request<'_>) -> String {
        match self.config.auth {
            Auth::Header => req.url.clone(),
            Auth::Query => format!("{} ({})", req.eval, req.what),
        }
    }

    /// Server or transport text for a message: the request URL replaced by its name when it
    /// holds the key, then normalised, redacted and bounded.
    fn tame(&self, req: &Request<'_>, text: &str) -> String {
        let text = match self.config.auth {
            Auth::Header => std::borrow::Cow::Borrowed(text),
            Auth::Query => std::borrow::Cow::Owned(text.replace(&req.url, &self.shown(req))),
        };
        tame(&text, &[&self.key])
    }

    /// One GET with retries. Returns the body of a 200, or why there is none.
    fn get(
        &self,
        req: &Request<'_>,
        progress: &(dyn Fn(Progress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<Vec<u8>, RequestFailure> {
        let attempt = || match self.attempt(req) {
            Ok(body) => Attempt::Done(body),
            Err(
                f @ RequestFailure::Status {
                    status,
                    retry_after,
                    ..
                },
            ) if is_transient(status) => Attempt::Again(f, retry_after),
            Err(f @ RequestFailure::Network(_)) => Attempt::Again(f, None),
            Err(f) => Attempt::Fail(f),
        };
        let announce = |failure: &RequestFailure, after: Duration, attempt: u32| {
            progress(Progress::Retrying {
                eval: req.eval.clone(),
                cause: format!("{}: {}", req.what, failure.describe()),
                after,
                attempt,
            });
        };
        retry(self.config.retries, Some(cancel), attempt, announce).map_err(|s| match s {
            Stopped::Failed(f) => f,
            Stopped::Exhausted { attempts, last } => RequestFailure::Exhausted {
                attempts,
                last: Box::new(last),
            },
            Stopped::Cancelled => RequestFailure::Cancelled,
        })
    }

    fn attempt(&self, req: &Request<'_>) -> Result<Vec<u8>, RequestFailure> {
        // Held until the body is read: the bound is on connections, not on threads.
        let _slot = self.slots.take();
        let call = match self.config.auth {
            Auth::Header => self
                .agent
                .get(&req.url)
                .header("Authorization", &format!("Bearer {}", self.key.expose())),
            Auth::Query => self.agent.get(&format!(
                "{}{}api_key={}",
                req.url,
                if req.url.contains('?') { '&' } else { '?' },
                path_segment(self.key.expose())
            )),
        };
        let mut response = call
            .header("Accept", "application/json")
            .call()
            .map_err(|e| self.classify(req, e))?;
        let status = response.status().as_u16();
        if status == 200 {
            return match read_body(&mut response, self.config.max_body) {
                // Nothing downstream (parse errors, reports, a saved file) may see the key.
                Ok(body) => Ok(redact_bytes(&body, &[&self.key]).into_owned()),
                Err(None) => Err(RequestFailure::TooLarge(self.config.max_body)),
                Err(Some(e)) => Err(RequestFailure::Network(self.tame(req, &e))),
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
        // The raw bytes first, then each decoded string again (`tame`): an escaped key only
        // shows once the JSON is decoded.
        let text = redact_bytes(&text, &[&self.key]);
        let (code, message) = envelope(&text, html);
        let (code, message) = (
            code.map(|c| self.tame(req, &c)),
            message.map(|m| self.tame(req, &m)),
        );
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| self.tame(req, l));
        Err(RequestFailure::Status {
            status,
            retry_after,
            code,
            message: match (status, location) {
                (300..=399, Some(to)) => Some(format!("redirect to {to}")),
                _ => message,
            },
        })
    }

    fn classify(&self, req: &Request<'_>, e: ureq::Error) -> RequestFailure {
        match e {
            ureq::Error::Timeout(_)
            | ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::BodyStalled
            | ureq::Error::ConnectProxyFailed(_)
            | ureq::Error::Protocol(_) => RequestFailure::Network(self.tame(req, &e.to_string())),
            ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => RequestFailure::Fatal(
                "the server answered with a redirect, which evalgate does not follow (it would carry the API key elsewhere); check --api-url".to_owned(),
            ),
            other => RequestFailure::Fatal(self.tame(req, &other.to_string())),
        }
    }

    fn parse_record(&self, req: &Request<'_>, body: &[u8]) -> Result<Record, FetchError> {
        serde_json::from_slice(body).map_err(|e| FetchError::BadRecord {
            url: self.shown(req),
            why: if body.trim_ascii_start().starts_with(b"<") {
                "an HTML page, not JSON".to_owned()
            } else {
                parse_error(&e)
            },
        })
    }

    /// Turns a failure into the error the user sees, with what to do about it.
    fn explain(&self, req: &Request<'_>, failure: &RequestFailure) -> FetchError {
        let eval = req.eval;
        let url = self.shown(req);
        match failure {
            RequestFailure::Status {
                status,
                code,
                message,
                ..
            } => {
                let nested_scope = code.as_deref() == Some("GraphMethodException");
                let hint = match (*status, code.as_deref()) {
                    (401, _) if self.config.auth == Auth::Header => "check ROBOFLOW_API_KEY: the key is missing, wrong or revoked; if the key is right, the server may want it as a query parameter: set ROBOFLOW_AUTH=query".to_owned(),
                    (401, _) => "check ROBOFLOW_API_KEY: the key is missing, wrong or revoked".to_owned(),
                    (403, _) => format!("the key has no access to workspace {:?}; it needs the model-eval:read scope", eval.workspace),
                    (404, _) if nested_scope => "the key is valid but lacks the model-eval:read scope; create a key with that scope".to_owned(),
                    (404, _) => format!(
                        "no eval {:?} in workspace {:?}; check both (an eval of another workspace is reported as not found)",
                        eval.eval_id, eval.workspace
                    ),
                    (409, _) => "the eval is not finished yet".to_owned(),
                    (400, Some(code @ ("invalid_split" | "invalid_confidence"))) if req.panel.is_some() => {
                        refused_value(req.panel.as_ref().expect("a panel request"), code)
                    }
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
            RequestFailure::Exhausted { attempts, last } => match last.as_ref() {
                RequestFailure::Status { .. } => {
                    let cause = self.explain(req, last).to_string();
                    FetchError::GaveUp {
                        url,
                        attempts: *attempts,
                        cause,
                    }
                }
                other => FetchError::GaveUp {
                    url,
                    attempts: *attempts,
                    cause: other.describe(),
                },
            },
            RequestFailure::TooLarge(limit) => FetchError::TooLarge { url, limit: *limit },
            RequestFailure::Cancelled => FetchError::Cancelled,
            RequestFailure::Network(cause) | RequestFailure::Fatal(cause) => {
                FetchError::Transport {
                    url,
                    cause: cause.clone(),
                }
            }
        }
    }
}

/// Why one request produced no body.
#[derive(Debug)]
enum RequestFailure {
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
    Exhausted {
        attempts: u32,
        last: Box<RequestFailure>,
    },
    /// Another fetch failed for good; this one stopped.
    Cancelled,
}

impl RequestFailure {
    fn describe(&self) -> String {
        match self {
            RequestFailure::Status {
                status,
                code,
                message,
                ..
            } => {
                format!("HTTP {status}{}", server_text(code, message))
            }
            RequestFailure::Network(c) | RequestFailure::Fatal(c) => c.clone(),
            RequestFailure::TooLarge(limit) => format!("the body is larger than {limit} bytes"),
            RequestFailure::Exhausted { last, .. } => last.describe(),
            RequestFailure::Cancelled => "stopped".to_owned(),
        }
    }
}

/// A panel's request under the eval's URL.
fn panel_request<'e>(eval: &'e EvalRef, prefix: &str, panel: PanelRequest) -> Request<'e> {
    let what = panel.what();
    Request {
        eval,
        url: format!("{prefix}/{what}"),
        what,
        panel: Some(panel),
    }
}

/// How many images a split has, and the page size the server used, from the first page of
/// `image-predictions`: `(0, _)` when the body is not one (its parse says why, later).
fn page_extent(body: &[u8]) -> (u64, u64) {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        total_images: Option<u64>,
        limit: Option<u64>,
    }
    match serde_json::from_slice::<Page>(body) {
        Ok(p) => (
            p.total_images.unwrap_or(0),
            // A server that serves smaller pages than asked says so in `limit`.
            p.limit
                .filter(|l| (1..=IMAGE_PAGE).contains(l))
                .unwrap_or(IMAGE_PAGE),
        ),
        Err(_) => (0, IMAGE_PAGE),
    }
}

/// A thread's result; its panic goes on in the caller.
fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// What a 400 `invalid_split` or `invalid_confidence` refused, and what the endpoint takes.
fn refused_value(panel: &PanelRequest, code: &str) -> String {
    let endpoint = panel.endpoint();
    match (panel, code) {
        (PanelRequest::Confusion(_, at) | PanelRequest::Images(_, at, _), "invalid_confidence") => {
            format!(
                "{endpoint} refused confidence {}; it takes a whole percent from 0 to 100 (the policy's operating_point, or the split's F1-optimal threshold at `optimal`)",
                at.get()
            )
        }
        (PanelRequest::ByClass(split), _) => format!(
            "{endpoint} refused split {split:?}; it takes train, valid or test (per-class metrics are not summed over splits); name one of those in the policy"
        ),
        (PanelRequest::Confusion(split, _) | PanelRequest::Images(split, ..), _) => format!(
            "{endpoint} refused split {split:?}; it takes train, valid, test or all; name one of those in the policy"
        ),
        (PanelRequest::Sweep, _) => format!("{endpoint} refused the request ({code})"),
    }
}

/// The split names of a map-results body, read without building anything else; none when
/// the body is not one (its parse says why, later).
fn split_names(body: &[u8]) -> Vec<String> {
    #[derive(Deserialize)]
    struct Top {
        splits: Option<BTreeMap<String, serde::de::IgnoredAny>>,
    }
    serde_json::from_slice::<Top>(body)
        .ok()
        .and_then(|t| t.splits)
        .map(|s| s.into_keys().collect())
        .unwrap_or_default()
}

/// Each split's F1-optimal threshold from a confidence-sweep body; none when the body is not
/// one (its parse says why, later).
fn optimal_thresholds(body: &[u8]) -> Vec<(String, f64)> {
    parse_confidence_sweep(body, crate::model::SWEEP_KEY)
        .map(|splits| {
            splits
                .into_iter()
                .filter_map(|(name, s)| Some((name, s.overall.optimal_threshold?)))
                .collect()
        })
        .unwrap_or_default()
}

fn is_transient(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
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
        return (None, (!text.is_empty()).then(|| text.to_owned()));
    };
    match env.error {
        Some(serde_json::Value::String(code)) => (Some(code), env.message),
        Some(serde_json::Value::Object(o)) => (
            o.get("type").and_then(|v| v.as_str()).map(str::to_owned),
            o.get("message")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .or(env.message),
        ),
        _ => (None, env.message),
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
            (None, Some("upstream\nreset".into()))
        );
        assert_eq!(envelope(b"", false), (None, None));
    }

    #[test]
    fn a_refused_value_is_named_with_what_the_endpoint_takes() {
        let p40 = Percent::new(40).unwrap();
        assert_eq!(
            refused_value(&PanelRequest::ByClass("all".into()), "invalid_split"),
            "performance-by-class refused split \"all\"; it takes train, valid or test (per-class metrics are not summed over splits); name one of those in the policy"
        );
        assert_eq!(
            refused_value(
                &PanelRequest::Confusion("valid".into(), p40),
                "invalid_confidence"
            ),
            "confusion-matrix refused confidence 40; it takes a whole percent from 0 to 100 (the policy's operating_point, or the split's F1-optimal threshold at `optimal`)"
        );
        assert_eq!(
            PanelRequest::Confusion("a b".into(), p40).what(),
            "confusion-matrix?split=a%20b&confidence=40"
        );
    }

    #[test]
    fn a_plan_asks_what_the_needs_say() {
        let needs = Needs {
            sweep: false,
            by_class: Vec::new(),
            confusion: vec![SplitSelector::Name("valid".into())],
            images: Vec::new(),
            matched: Vec::new(),
            point: None,
        };
        let plan = Plan::for_needs(&needs);
        assert!(!plan.sweep);
        assert_eq!(
            plan.confusion,
            [(
                SplitSelector::Name("valid".into()),
                MatrixAt::Percent(crate::model::DEFAULT_MATRIX_CONFIDENCE)
            )]
        );
        let optimal = Plan::for_needs(&Needs {
            point: Some(OperatingPoint::Optimal),
            ..needs.clone()
        });
        assert!(
            optimal.sweep,
            "the matrix's confidence comes from the sweep"
        );
        assert_eq!(optimal.confusion[0].1, MatrixAt::Optimal);
        assert!(Plan::for_needs(&Needs::default()).is_empty());
        assert!(Plan::everything().api_splits_only);
        // Images at the matrix's confidence; never without a policy that tests noise.
        let noise = Plan::for_needs(&Needs {
            images: vec![SplitSelector::Name("valid".into())],
            point: Some(OperatingPoint::Optimal),
            ..needs
        });
        assert_eq!(
            noise.images,
            [(SplitSelector::Name("valid".into()), MatrixAt::Optimal)]
        );
        assert!(Plan::everything().images.is_empty());
    }

    #[test]
    fn image_pages_are_asked_by_offset_at_the_servers_page_size() {
        let p40 = Percent::new(40).unwrap();
        assert_eq!(
            PanelRequest::Images("valid".into(), p40, 2000).what(),
            "image-predictions?split=valid&confidence=40&limit=1000&offset=2000"
        );
        // Sorted by offset as a number, as a saved eval lists them.
        let mut pages = [2000, 10_000, 0, 1000].map(|o| PanelRequest::Images("v".into(), p40, o));
        pages.sort();
        assert_eq!(pages[1], PanelRequest::Images("v".into(), p40, 1000));
        assert_eq!(pages[3], PanelRequest::Images("v".into(), p40, 10_000));
        assert_eq!(
            page_extent(br#"{"totalImages": 5000, "limit": 1000, "images": []}"#),
            (5000, 1000)
        );
        // A server that serves smaller pages says so; a nonsense limit is not followed.
        assert_eq!(
            page_extent(br#"{"totalImages": 192, "limit": 50}"#),
            (192, 50)
        );
        assert_eq!(
            page_extent(br#"{"totalImages": 192, "limit": 0}"#),
            (192, 1000)
        );
        assert_eq!(
            page_extent(br#"{"totalImages": 192, "limit": 5000}"#),
            (192, 1000)
        );
        assert_eq!(page_extent(b"<html>"), (0, 1000));
        assert_eq!(page_extent(br#"{"totalImages": -1}"#), (0, 1000));
    }

    #[test]
    fn split_names_and_thresholds_come_from_the_bodies() {
        assert_eq!(
            split_names(br#"{"splits": {"valid": {"perClass": {}}, "test": null}}"#),
            ["test", "valid"]
        );
        assert!(split_names(b"<html>").is_empty());
        assert_eq!(
            optimal_thresholds(br#"{"splits": {"valid": {"optimalThreshold": 0.37}, "test": {}}}"#),
            [("valid".to_owned(), 0.37)]
        );
        assert!(optimal_thresholds(b"[]").is_empty());
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
            auth: Auth::Header,
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
