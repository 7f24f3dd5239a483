//! Loading evals for `check` and `fetch`: files, stdin and Roboflow, the latter concurrently,
//! and `coco:` predictions, evaluated against the ground truth (each source on its own thread).

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use evalgate::coco::IouType;
use evalgate::http::{Secret, elide_quoted};
use evalgate::model::{Eval, PanelBodies, ParseEvalError, Task, parse_eval};
use evalgate::policy::{MissingPanel, Needs, Policy};
use evalgate::source::{
    ApiConfig, Auth, Client, CocoFile, FetchError, Fetched, Plan, Progress, Source, SourceError,
};

use super::args::ApiArgs;
use super::exit::{Failure, Kind};
use super::redact::say;

/// Everything needed to read sources.
pub(crate) struct Loader {
    api: ApiArgs,
    client: Option<Client>,
    /// Set when one source fails for good, so that the others stop retrying and waiting.
    cancel: AtomicBool,
    /// The API key, to redact from anything a fetched body makes evalgate say.
    secret: Option<Secret>,
    /// The panels to fetch beside map-results.
    plan: Plan,
    /// What each eval must hold once loaded, when a policy says.
    needs: Option<PolicyNeeds>,

    /// What `coco:` sources are evaluated against.
    coco: Option<CocoSetup>,
}

/// What a policy needs of an eval, per task (known only once the eval is read).
struct PolicyNeeds {
    by_task: Vec<(Task, Needs)>,
    /// The policy file, for the message that says how to get what is missing.
    path: String,
    /// The split of each `confusions` rule, as written: a local eval has no confusion matrix.
    confusion_rules: Vec<String>,
}

impl Loader {
    /// Parses the sources and, when one is `rf:`, builds the API client.
    pub(crate) fn new(
        api: &ApiArgs,
        sources: &[(&str, &str)],
    ) -> Result<(Loader, Vec<Source>), Failure> {
        let mut parsed = Vec::new();
        for (role, text) in sources {
            let src = Source::parse(text, api.workspace.as_deref())
                .map_err(|e| Failure::new(Kind::Usage, format!("{role}: {e}")))?;
            parsed.push(src);
        }
        let stdin = parsed.iter().filter(|s| **s == Source::Stdin).count();
        if stdin > 1 {
            return Err(Failure::new(
                Kind::Usage,
                "--baseline and --candidate cannot both read stdin (-)",
            ));
        }
        let secret = std::env::var("ROBOFLOW_API_KEY").ok().and_then(Secret::new);
        let client = if parsed.iter().any(|s| matches!(s, Source::Roboflow(_))) {
            let config = ApiConfig {
                api_url: api.api_url.clone(),
                api_key: secret.clone(),
                timeout: api.timeout.into(),
                retries: api.retries,
                wait: api.wait.into(),
                max_body: api.max_body,
                auth: if api.roboflow_auth == "query" {
                    Auth::Query
                } else {
                    Auth::Header
                },
            };
            let role = sources
                .iter()
                .zip(&parsed)
                .find(|(_, s)| matches!(s, Source::Roboflow(_)))
                .map_or("", |((role, _), _)| role);
            Some(Client::new(config).map_err(|e| fetch_failure(role, None, &e))?)
        } else {
            None
        };
        Ok((
            Loader {
                api: api.clone(),
                client,
                cancel: AtomicBool::new(false),
                secret,
                plan: Plan::default(),
                needs: None,
                coco: None,
            },
            parsed,
        ))
    }

    /// Fetches what `policy` needs beside map-results, and refuses an eval that lacks it.
    pub(crate) fn with_policy(mut self, policy: &Policy, path: &str) -> Loader {
        // The task is known only once map-results is read: fetch for detection, which
        // needs the most, and check each eval against its own task.
        self.plan = Plan::for_needs(&policy.needs(None));
        self.needs = Some(PolicyNeeds {
            by_task: Task::ALL
                .into_iter()
                .map(|t| (t, policy.needs(Some(t))))
                .collect(),
            path: path.to_owned(),
            confusion_rules: policy
                .confusions
                .iter()
                .map(|c| match &c.split {
                    evalgate::policy::SplitSelector::All => "*".to_owned(),
                    evalgate::policy::SplitSelector::Name(n) => n.clone(),
                })
                .collect(),
        });
        self
    }

    /// Fetches these panels (for `fetch` without a policy: all of them).
    pub(crate) fn with_plan(mut self, plan: Plan) -> Loader {
        self.plan = plan;
        self
    }

    /// Loads every source at once (each on its own thread) and returns them in order.
    ///
    /// When several fail, the error reported is the first (in order) that is not "not
    /// finished yet": a bad key or a wrong eval id must not hide behind a wait.
    pub(crate) fn load_all(&self, sources: &[(&str, &Source)]) -> Result<Vec<Loaded>, Failure> {
        let results: Vec<Result<Loaded, Failure>> = thread::scope(|s| {
            let handles: Vec<_> = sources
                .iter()
                .map(|(role, src)| {
                    s.spawn(move || {
                        let result = self.load(role, src);
                        if matches!(&result, Err(f) if f.kind != Kind::EvalNotFinished) {
                            self.cancel.store(true, Ordering::SeqCst);
                        }
                        result
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut loaded = Vec::new();
        let mut failures = Vec::new();
        for result in results {
            match result {
                Ok(l) => loaded.push(l),
                Err(f) if f.cancelled => {}
                Err(f) => failures.push(f),
            }
        }
        let worst = failures
            .iter()
            .position(|f| f.kind != Kind::EvalNotFinished)
            .unwrap_or(0);
        if failures.is_empty() {
            Ok(loaded)
        } else {
            Err(failures.swap_remove(worst))
        }
    }

    /// Local evals without their full matching: for a caller that only reads names and
    /// values (about 0.9 GB not built at COCO val's size).
    pub(crate) fn without_full_matching(mut self) -> Loader {
        if let Some(c) = &mut self.coco {
            c.keep_matching = false;
        }
        self
    }

    /// The ground truth `coco:` sources are evaluated against.
    pub(crate) fn with_coco(mut self, coco: Option<CocoSetup>) -> Loader {
        self.coco = coco;
        self
    }

    /// Reads or fetches one source and parses it.
    pub(crate) fn load(&self, role: &str, src: &Source) -> Result<Loaded, Failure> {
        if let Source::Coco(files) = src {
            return self.load_coco(role, src, files);
        }
        let (bytes, fetched_meta, panels) = match src {
            Source::Roboflow(eval) => {
                let client = self.client.as_ref().ok_or_else(|| {
                    Failure::new(
                        Kind::EvalUnavailable,
                        format!("{role}: {src}: no API client"),
                    )
                })?;
                let progress = |p: Progress| report_progress(role, &p);
                let Fetched { body, meta, panels } = client
                    .fetch(eval, &self.plan, &progress, &self.cancel)
                    .map_err(|e| fetch_failure(role, Some(src), &e))?;
                (body, Some(meta), panels)
            }
            Source::Stdin if io::stdin().is_terminal() => {
                return Err(Failure::new(
                    Kind::Usage,
                    format!(
                        "{role}: - reads the eval from stdin, but stdin is a terminal; pipe the JSON in"
                    ),
                ));
            }
            _ => {
                // Only a stdin source takes stdin's lock: the two evals are read on threads of
                // their own, and a file source holding it would make the other wait for its
                // whole read.
                let read = |stdin: &mut dyn io::Read| {
                    src.read(stdin, self.api.max_body, self.api.timeout.into())
                };
                let bytes = match src {
                    Source::Stdin => read(&mut io::stdin().lock()),
                    _ => read(&mut io::empty()),
                }
                .map_err(|e| source_failure(role, src, &e))?;
                (bytes, None, PanelBodies::default())
            }
        };
        // A fetched body is the server's text: its parse errors say where, never what.
        let fetched = fetched_meta.is_some();
        let redact = |text: String| match &self.secret {
            Some(key) => key.redact(&text),
            None => text,
        };
        let fail = |what: String| {
            Failure::new(
                Kind::EvalUnavailable,
                redact(format!("{role}: {src}: {what}")),
            )
        };
        if bytes.is_empty() {
            return Err(fail(
                "empty input; expected the JSON body of a map-results response".into(),
            ));
        }
        let mut eval = parse_eval(&bytes).map_err(|e| match e {
            ParseEvalError::NotFinished(_) => Failure::new(
                Kind::EvalNotFinished,
                redact(format!(
                    "{role}: {src}: {e}; gate it once the evaluation has finished"
                )),
            ),
            e if fetched => fail(elide_quoted(&e.to_string())),
            e => fail(e.to_string()),
        })?;
        if let Some(meta) = fetched_meta {
            eval.meta = meta;
            eval.panels = panels
                .parse()
                .map_err(|e| fail(elide_quoted(&e.to_string())))?;
        }
        if let Some(needs) = &self.needs {
            let missing = needs
                .by_task
                .iter()
                .find(|(t, _)| *t == eval.task)
                .map(|(_, n)| n.missing_in(&eval))
                .unwrap_or_default();
            if !missing.is_empty() {
                return Err(fail(lacking(&missing, &eval, src, &needs.path)));
            }
        }
        // Said once per eval, before any report: the reports carry the same notes.
        for note in &eval.notes {
            say!("warning: {role}: {src}: {note}");
        }
        Ok(Loaded {
            eval,
            bytes,
            panels,
        })
    }
}

/// Why an eval that lacks panels the policy needs is refused, and how to get them.
fn lacking(missing: &[MissingPanel], eval: &Eval, src: &Source, policy: &str) -> String {
    let mut list: Vec<String> = missing.iter().map(ToString::to_string).collect();
    let last = list.pop().unwrap_or_default();
    let what = if list.is_empty() {
        last
    } else {
        format!("{} and {last}", list.join(", "))
    };
    match src {
        Source::Roboflow(_) => format!(
            "the API's answers lack {what}, which policy {policy} needs; the server did not return what evalgate asked for"
        ),
        _ => {
            // The file's own words, so only when they read as plain identifiers: nothing a
            // file says may shape a line of the log.
            fn plain(s: &Option<String>) -> Option<&str> {
                s.as_deref().filter(|s| {
                    !s.is_empty()
                        && s.len() <= 100
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                })
            }
            match (plain(&eval.meta.workspace), plain(&eval.meta.eval_id)) {
                (Some(ws), Some(id)) => format!(
                    "the eval lacks {what}, which policy {policy} needs; save the eval with what the policy needs: evalgate fetch --policy {policy} rf:{ws}/{id} -o FILE"
                ),
                // No Roboflow eval named: perhaps one `evalgate eval` wrote, which holds mAP only.
                _ => format!(
                    "the eval lacks {what}, which policy {policy} needs; for a Roboflow eval, save it with what the policy needs: evalgate fetch --policy {policy} rf:WORKSPACE/EVAL_ID -o FILE; for one written by evalgate eval, gate the predictions themselves: --ground-truth GT.json and coco:PRED.json on both sides"
                ),
            }
        }
    }
}

impl Loader {
    /// Evaluates a `coco:` source, split by split.
    fn load_coco(&self, role: &str, src: &Source, files: &[CocoFile]) -> Result<Loaded, Failure> {
        let setup = self.coco.as_ref().ok_or_else(|| {
            Failure::new(
                Kind::Usage,
                format!("{role}: {src}: a coco: source needs --ground-truth"),
            )
        })?;
        if let Some(needs) = &self.needs
            && let Some(split) = needs.confusion_rules.first()
        {
            return Err(Failure::new(
                Kind::EvalUnavailable,
                format!(
                    "{role}: {src}: policy {} has a confusion rule on split {split:?}, and a coco: source has no confusion matrix (pycocotools matches detections within their own category, so no object is ever counted as another class); gate confusions on Roboflow evals (rf: or a saved eval), or remove the rule",
                    needs.path
                ),
            ));
        }
        // Precision, recall and F1 come from the sweep, support from the matching, and the
        // per-image outcomes are made for the splits whose drop rules are noise-tested, at the
        // confidence the gate reads them at. Performance by class and the confusion matrix do
        // not apply: at `optimal` a class is read at its own sweep's optimum. Reading the
        // matching costs about what the evaluation does (hotcoco rebuilds its per-image
        // records for area `all`), so a policy that reads mAP only does not pay for it.
        let needs = self.needs.as_ref().and_then(|n| {
            n.by_task
                .iter()
                .find(|(t, _)| *t == Task::ObjectDetection)
                .map(|(_, n)| n)
        });
        // Without a policy (`init`), what the plan asks of a fetched eval.
        let beyond_map = needs.map_or(self.plan.sweep, |n| !n.is_empty());
        let mut splits = BTreeMap::new();
        let mut sweeps = BTreeMap::new();
        let mut images = BTreeMap::new();
        let mut matched = BTreeMap::new();
        for (split, gt_path) in &setup.ground_truths {
            if self.cancel.load(Ordering::SeqCst) {
                let mut f = Failure::new(Kind::EvalUnavailable, "cancelled");
                f.cancelled = true;
                return Err(f);
            }
            let file = files
                .iter()
                .find(|f| f.split.as_deref().unwrap_or(DEFAULT_SPLIT) == split)
                .expect("CocoSetup::new checked that every split has predictions");
            let in_role = |f: Failure| Failure::new(f.kind, format!("{role}: {}", f.message));
            let gt =
                super::eval::read_ground_truth("--ground-truth", gt_path, setup.iou, setup.limits)
                    .map_err(in_role)?;
            let evaluation =
                super::eval::evaluate(&format!("{role}:"), &gt, &file.path, setup.limits)?;
            // The full matching only for splits whose mAP drops are noise-tested, and only when
            // every eval is local (the test pairs two matchings): at COCO val's size it costs
            // hotcoco about 0.9 GB to hand over.
            let keeps = setup.keep_matching && needs.is_some_and(|n| n.keeps_matching(split));
            let super::eval::Matchings {
                split: mut eval,
                full,
                iou50: matching,
            } = super::eval::matchings(
                &format!("{role}:"),
                &file.path,
                evaluation,
                keeps,
                beyond_map,
                &|| self.cancel.load(Ordering::SeqCst),
            )?;
            if let Some(m) = full {
                matched.insert(split.clone(), std::sync::Arc::new(m));
            }
            if let Some(matching) = matching {
                matching.set_support(&mut eval);
                let sweep = matching.sweep();
                if let Some(n) = needs.filter(|n| n.images.iter().any(|s| s.matches(split)))
                    && let Some(at) = n.matrix_confidence(sweep.overall.optimal_threshold)
                {
                    images.insert(split.clone(), matching.images_at(at));
                }
                sweeps.insert(split.clone(), sweep);
            }
            splits.insert(split.clone(), eval);
        }
        let mut eval = evalgate::coco::eval_of(splits);
        eval.panels.sweep = beyond_map.then_some(sweeps);
        eval.panels.images = images;
        eval.panels.matched = matched;
        Ok(Loaded {
            eval,
            bytes: Vec::new(),
            panels: PanelBodies::default(),
        })
    }
}

/// The files `coco:` sources and `--ground-truth` name, which no report may overwrite.
pub(crate) fn coco_inputs<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<PathBuf> {
    texts
        .into_iter()
        .flat_map(|t| match t.strip_prefix("coco:") {
            Some(rest) => rest.split(',').collect::<Vec<_>>(),
            None => vec![t],
        })
        .filter_map(CocoFile::parse)
        .map(|f| f.path)
        .collect()
}

/// The split of a `--ground-truth` or `coco:` file that names none.
pub(crate) const DEFAULT_SPLIT: &str = "test";

/// What `coco:` sources are evaluated against: one ground truth per split.
pub(crate) struct CocoSetup {
    pub(crate) ground_truths: Vec<(String, PathBuf)>,
    pub(crate) iou: IouType,
    pub(crate) limits: super::eval::Limits,
    /// Whether the full matching is worth keeping: every source is `coco:`, so that mAP
    /// drops can be tested on two matchings (or calibrated on one). A caller with no
    /// baseline to compare clears it.
    pub(crate) keep_matching: bool,
}

impl CocoSetup {
    /// Checks `--ground-truth` against the `coco:` sources: every split on both sides, each
    /// once. `None` when there is neither.
    pub(crate) fn new(
        ground_truths: &[String],
        iou: IouType,
        limits: super::eval::Limits,
        sources: &[(&str, &Source)],
    ) -> Result<Option<CocoSetup>, Failure> {
        let usage = |m: String| Failure::new(Kind::Usage, m);
        let coco: Vec<(&str, &Source, &Vec<CocoFile>)> = sources
            .iter()
            .filter_map(|(role, s)| match s {
                Source::Coco(files) => Some((*role, *s, files)),
                _ => None,
            })
            .collect();
        if coco.is_empty() {
            // The roles are the flags that take a source: --candidate and --baseline, --eval.
            let write: String = match sources {
                [(first, _), rest @ ..] => std::iter::once(format!("--{first} coco:PRED.json"))
                    .chain(rest.iter().map(|(r, _)| format!(" (and --{r} coco:…)")))
                    .collect(),
                [] => "a coco: source".to_owned(),
            };
            return match ground_truths.first() {
                None => Ok(None),
                Some(gt) => Err(usage(format!(
                    "--ground-truth {gt} is read only for coco: sources; write {write} to evaluate predictions against it"
                ))),
            };
        }
        if ground_truths.is_empty() {
            let (role, src, _) = coco[0];
            return Err(usage(format!(
                "{role}: {src}: a coco: source is evaluated against ground truth; add --ground-truth [SPLIT=]GT.json"
            )));
        }
        let mut gts: Vec<(String, PathBuf)> = Vec::new();
        for text in ground_truths {
            let file = CocoFile::parse(text).ok_or_else(|| {
                usage(format!(
                    "--ground-truth {text:?}: write [SPLIT=]GT.json, e.g. test=_annotations.coco.json"
                ))
            })?;
            let split = file.split.unwrap_or_else(|| DEFAULT_SPLIT.to_owned());
            if gts.iter().any(|(s, _)| *s == split) {
                return Err(usage(format!(
                    "--ground-truth names split {split:?} twice; give one file per split"
                )));
            }
            gts.push((split, file.path));
        }
        for (role, src, files) in &coco {
            let mut seen: Vec<&str> = Vec::new();
            for f in files.iter() {
                let split = f.split.as_deref().unwrap_or(DEFAULT_SPLIT);
                if seen.contains(&split) {
                    return Err(usage(format!(
                        "{role}: {src}: split {split:?} has two predictions files; give one per split"
                    )));
                }
                seen.push(split);
                if !gts.iter().any(|(s, _)| s == split) {
                    return Err(usage(format!(
                        "{role}: {src}: split {split:?} has predictions but no ground truth; add --ground-truth {split}=GT.json or drop it"
                    )));
                }
            }
            if let Some((split, _)) = gts.iter().find(|(s, _)| !seen.contains(&s.as_str())) {
                return Err(usage(format!(
                    "{role}: {src}: split {split:?} has ground truth but no predictions here; add {split}=PRED.json to the coco: source, or drop that --ground-truth"
                )));
            }
        }
        Ok(Some(CocoSetup {
            ground_truths: gts,
            iou,
            limits,
            keep_matching: coco.len() == sources.len(),
        }))
    }
}

/// A loader for one eval (`calibrate`, `policy check`, `policy explain`, `init`), its source,
/// and the ground truth a `coco:` eval is evaluated against, checked as `check` checks it;
/// `flag` is the option that names the eval.
pub(crate) fn one_eval(
    api: &ApiArgs,
    local: &super::args::LocalEvalArgs,
    (flag, text): (&str, &str),
) -> Result<(Loader, Source), Failure> {
    let (coco, ground_truth) = (&local.coco, &local.ground_truth);
    let (loader, mut sources) = Loader::new(api, &[("eval", text)])?;
    let src = sources.pop().expect("one source");
    let limits = super::eval::Limits {
        max_bytes: coco.max_coco_size,
        timeout: api.timeout.into(),
    };
    let setup = CocoSetup::new(ground_truth, coco.iou_type.coco(), limits, &[(flag, &src)])?;
    Ok((loader.with_coco(setup), src))
}

/// A parsed eval, the bytes it came from and the panels fetched with it (which `fetch` saves).
pub(crate) struct Loaded {
    pub(crate) eval: Eval,
    pub(crate) bytes: Vec<u8>,
    pub(crate) panels: PanelBodies,
}

fn source_failure(role: &str, src: &Source, e: &SourceError) -> Failure {
    Failure::new(Kind::EvalUnavailable, format!("{role}: {src}: {e}"))
}

fn fetch_failure(role: &str, src: Option<&Source>, e: &FetchError) -> Failure {
    let code = match e {
        FetchError::NotFinished { .. } => Kind::EvalNotFinished,
        FetchError::BadUrl { .. } => Kind::Usage,
        _ => Kind::EvalUnavailable,
    };
    let at = src.map(|s| format!(" {s}:")).unwrap_or_default();
    let mut failure = Failure::new(code, format!("{role}:{at} {e}"));
    failure.cancelled = matches!(e, FetchError::Cancelled);
    failure
}

fn report_progress(role: &str, p: &Progress) {
    match p {
        Progress::Waiting { eval, waited, next } => say!(
            "{role}: {eval} is still running (waited {}); looking again in {}",
            humantime::format_duration(std::time::Duration::from_secs(waited.as_secs())),
            humantime::format_duration(*next)
        ),
        Progress::Retrying {
            eval,
            cause,
            after,
            attempt,
        } => say!(
            "{role}: {eval}: {cause}; retry {attempt} in {}",
            humantime::format_duration(std::time::Duration::from_millis(after.as_millis() as u64))
        ),
    }
}
