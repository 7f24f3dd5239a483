//! Roboflow's `map-results` body → [`Eval`], in one pass.
//!
//! The JSON is read straight into the model: no intermediate structs, no maps of wire values,
//! and field names and `taskType` are borrowed from the input. Unknown fields are skipped at
//! every level, because the API grows.
//!
//! `taskType` may come after `splits`, so detection and semantic-segmentation fields are read
//! side by side while the task is unknown; once it is known, values of the other task are
//! dropped (a pass that runs only when such values were seen) and only an out-of-range value
//! of the eval's own task is an error.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::saved_eval::{FORMAT, MetaMember, SavedPanels};
use super::{Classes, Eval, Metric, Metrics, Note, ScopeMetrics, Size, SplitEval, Task};

/// Why bytes could not be read as an eval.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ParseEvalError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said, without its position suffix.
        message: String,
    },
    /// `taskType` names a task evalgate does not gate.
    #[error(
        "unsupported taskType {0:?}: evalgate reads \"object-detection-like\" and \"semantic-segmentation\" evals"
    )]
    UnsupportedTask(String),
    /// A metric is outside [0, 1].
    #[error("{path} is {value}, outside [0, 1]: every metric must be a fraction")]
    OutOfRange {
        /// Where the value is, e.g. `splits.valid.perClass["car"].map50`.
        path: String,
        /// The value found.
        value: f64,
    },
    /// A `perClass` entry that cannot be told apart from the others: a list entry without
    /// `className`, or a class named twice.
    #[error("{path}: {why}")]
    BadClass {
        /// Where, e.g. `splits.valid.perClass[3]`.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The body has no `splits` object.
    #[error("no \"splits\" object: this is not a map-results body")]
    NoSplits,
    /// An HTML page: a proxy, a login page or a gateway answered instead of the API.
    #[error("an HTML page, not JSON: a proxy, login page or gateway answered instead of the API")]
    Html,
    /// The body is an API error response, saved in place of the metrics.
    #[error("this is an API error response, not map-results: {0}")]
    Api(String),
    /// The eval is not known to be finished: a `model_eval_not_done` error body, or a body
    /// whose `status` is anything but `done` (or a saved eval record without one).
    #[error("the eval is not finished yet: {0}")]
    NotFinished(String),
    /// The body says the evaluation failed; it will never have metrics.
    #[error(
        "the eval's status is \"failed\": Roboflow could not evaluate this model; re-run the evaluation"
    )]
    EvalFailed,
    /// A panel (confidence sweep, performance by class, confusion matrix) that is not what
    /// its endpoint documents.
    #[error("{path}: {why}")]
    BadPanel {
        /// Where, e.g. `confusionMatrix.valid[0].classes`.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A saved eval written by a newer evalgate.
    #[error(
        "the file is saved eval format {0}, newer than this evalgate reads (up to {FORMAT}); update evalgate"
    )]
    NewerFormat(u64),
}

/// Parses the body of `GET /{workspace}/model-evals/{evalId}/map-results`.
///
/// A missing `taskType` means object detection (early API responses had none). Every metric
/// must be `null` or a number in [0, 1]. `perClass` may be an object keyed by class name or a
/// list of objects with `className` (the shape of `performance-by-class`).
pub fn parse_eval(bytes: &[u8]) -> Result<Eval, ParseEvalError> {
    // Editors on Windows save a byte-order mark; it carries no meaning in JSON.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.trim_ascii_start().starts_with(b"<") {
        return Err(ParseEvalError::Html);
    }
    let mut state = State::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let top = TopSeed(&mut state)
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top));
    let top = match top {
        Ok(top) => top,
        // A visitor that found a problem serde cannot phrase left it in `state`.
        Err(e) => return Err(state.fatal.take().unwrap_or_else(|| json_error(e))),
    };
    let Some(mut splits) = top.splits else {
        return Err(not_metrics(&top));
    };
    if let Some(member) = &top.evalgate {
        member.check_format()?;
    }
    let task = match top.task_type.as_ref().map(|t| &*t.0) {
        None | Some("object-detection-like") => Task::ObjectDetection,
        Some("semantic-segmentation") => Task::SemanticSegmentation,
        Some(other) => return Err(ParseEvalError::UnsupportedTask(other.to_owned())),
    };
    // Metrics come only from a finished eval: a body that says otherwise is not gated.
    match &top.status {
        None | Some(Status::Done) => {}
        Some(Status::Failed) => return Err(ParseEvalError::EvalFailed),
        Some(s @ (Status::Null | Status::Other(_))) => return Err(s.not_finished()),
    }
    let [bad_detection, bad_segmentation] = std::mem::take(&mut state.bad);
    let (bad, other_task_values) = match task {
        Task::ObjectDetection => (bad_detection, state.stored[SEGMENTATION]),
        Task::SemanticSegmentation => (bad_segmentation, state.stored[DETECTION]),
    };
    if let Some((path, value)) = bad {
        return Err(ParseEvalError::OutOfRange { path, value });
    }
    if other_task_values {
        for split in splits.values_mut() {
            keep_task(task, &mut split.overall);
            for class in split.classes.values_mut() {
                keep_task(task, class);
            }
        }
    }
    let notes = match task {
        Task::ObjectDetection => Vec::new(),
        Task::SemanticSegmentation => {
            // In split order, as everything else about an eval is.
            state.no_miou.sort_unstable();
            state
                .no_miou
                .into_iter()
                .map(|split| Note::NoMiou { split })
                .collect()
        }
    };
    let panels = top.panels.parse()?;
    Ok(Eval {
        task,
        splits,
        meta: top.evalgate.map(|m| m.meta).unwrap_or_default(),
        notes,
        panels,
        read_at: None,
    })
}

/// Clears what a scope holds for the other task.
fn keep_task(task: Task, scope: &mut ScopeMetrics) {
    for metric in Metric::ALL {
        if relevance(metric) != relevance_of_task(task) {
            scope.metrics.set(metric, None);
        }
    }
    if !task.has_sizes() {
        scope.sizes = Default::default();
    }
}

const DETECTION: usize = 0;
const SEGMENTATION: usize = 1;

/// Which task a metric belongs to, as an index into [`State::bad`] and [`State::stored`].
fn relevance(metric: Metric) -> usize {
    match metric {
        Metric::Map50 | Metric::Map50_95 | Metric::Map75 => DETECTION,
        _ => SEGMENTATION,
    }
}

fn relevance_of_task(task: Task) -> usize {
    match task {
        Task::ObjectDetection => DETECTION,
        Task::SemanticSegmentation => SEGMENTATION,
    }
}

/// What the visitors learn besides the values, shared by all of them.
#[derive(Default)]
struct State {
    /// The first value outside [0, 1] of each task, in document order, with its path.
    bad: [Option<(String, f64)>; 2],
    /// Whether any value of each task was stored.
    stored: [bool; 2],
    /// Splits with metrics but no `miou` or `mIoU` key.
    no_miou: Vec<String>,
    /// A problem found by a visitor that is better said than serde's words for it.
    fatal: Option<ParseEvalError>,
}

impl State {
    /// Stores a value, noting (not failing on) one outside [0, 1]: whether it matters depends
    /// on a task that may not be known yet.
    #[inline]
    fn put(
        &mut self,
        metrics: &mut Metrics,
        metric: Metric,
        value: Option<f64>,
        at: At<'_>,
        size: Option<Size>,
        field: Field,
    ) {
        let Some(v) = value else { return };
        let task = relevance(metric);
        self.stored[task] = true;
        if !(0.0..=1.0).contains(&v) && self.bad[task].is_none() {
            self.bad[task] = Some((at.path(size, field.wire_name()), v));
        }
        metrics.set(metric, value);
    }

    /// Records an error for [`parse_eval`] to return, and the serde error that stops the parse.
    fn fail<E: de::Error>(&mut self, error: ParseEvalError) -> E {
        let text = error.to_string();
        self.fatal = Some(error);
        E::custom(text)
    }
}

/// The top-level object, as far as it matters.
struct Top<'de> {
    task_type: Option<Text<'de>>,
    splits: Option<BTreeMap<String, SplitEval>>,
    // An error body (`{"error": "...", "message": "..."}`, or a nested `error` object) or an
    // eval record (`{"status": "running"}`) saved by mistake; read only to say so.
    error: Option<serde_json::Value>,
    message: Option<String>,
    status: Option<Status<'de>>,
    /// Whether the body has an `evalId`: an eval record rather than an error body.
    record: bool,
    /// Metadata that `evalgate fetch` stores beside the metrics.
    evalgate: Option<MetaMember>,
    /// The panels `evalgate fetch` stores beside the metrics, unparsed.
    panels: SavedPanels<'de>,
}

/// An eval's `status`; anything but `done` and `failed` means "not finished".
enum Status<'de> {
    Done,
    Failed,
    /// `null`: no status, which is not "done".
    Null,
    Other(Cow<'de, str>),
}

impl<'de> Deserialize<'de> for Status<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Text<'de>>::deserialize(d)? {
            None => Status::Null,
            Some(Text(s)) if s == "done" => Status::Done,
            Some(Text(s)) if s == "failed" => Status::Failed,
            Some(Text(s)) => Status::Other(s),
        })
    }
}

impl Status<'_> {
    fn not_finished(&self) -> ParseEvalError {
        ParseEvalError::NotFinished(match self {
            Status::Other(s) => format!("its status is {s:?}"),
            _ => "its status is null".to_owned(),
        })
    }
}

/// A string, borrowed from the input unless it holds escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Explains a body without `splits`: an error response or an eval record saved in its place.
fn not_metrics(top: &Top<'_>) -> ParseEvalError {
    use serde_json::Value;
    let code = match &top.error {
        Some(Value::String(code)) => Some(code.clone()),
        Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let nested = match &top.error {
        Some(Value::Object(o)) => o.get("message").and_then(Value::as_str),
        _ => None,
    };
    let message = top.message.as_deref().or(nested);
    let text = match (&code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        (None, Some(m)) => m.to_owned(),
        (None, None) => {
            return match &top.status {
                Some(s @ (Status::Null | Status::Other(_))) => s.not_finished(),
                Some(Status::Failed) => ParseEvalError::EvalFailed,
                // An eval record without a status is not known to be finished.
                None if top.record => {
                    ParseEvalError::NotFinished("its record has no \"status\"".into())
                }
                Some(Status::Done) | None => ParseEvalError::NoSplits,
            };
        }
    };
    if code.as_deref() == Some("model_eval_not_done") {
        ParseEvalError::NotFinished(text)
    } else {
        ParseEvalError::Api(text)
    }
}

pub(super) fn json_error(e: serde_json::Error) -> ParseEvalError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ParseEvalError::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Renders an object key for a path: bare when it reads unambiguously, quoted otherwise.
pub(super) fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// The path of a split in messages: `splits.valid`, `splits."a.b"`.
pub(super) fn split_path(split: &str) -> String {
    format!("splits.{}", key(split))
}

/// Where a value sits in the body, for error messages. Built only when a value is bad: an
/// eval has tens of thousands of classes and formatting each path up front costs more than
/// the parse.
#[derive(Clone, Copy)]
enum At<'a> {
    Split(&'a str),
    /// A class of a `perClass` object, by its key.
    Class(&'a str, &'a str),
    /// A class of a `perClass` list, by its index.
    Entry(&'a str, usize),
}

impl At<'_> {
    #[cold]
    fn path(self, size: Option<Size>, field: &str) -> String {
        let mut p = match self {
            At::Split(split) => split_path(split),
            At::Class(split, class) => format!("{}.perClass[{class:?}]", split_path(split)),
            At::Entry(split, index) => format!("{}.perClass[{index}]", split_path(split)),
        };
        if let Some(size) = size {
            p.push_str(&format!(".byObjectSize.{size}"));
        }
        format!("{p}.{field}")
    }
}

/// Every key evalgate reads, at any level; each level accepts some and skips the rest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Map50,
    Map50_95,
    Map75,
    Miou,
    Iou,
    Precision,
    Recall,
    F1,
    OptimalThreshold,
    ByObjectSize,
    PerClass,
    ClassName,
    Small,
    Medium,
    Large,
    TaskType,
    Splits,
    Error,
    Message,
    Status,
    EvalId,
    Evalgate,
    ConfidenceSweep,
    PerformanceByClass,
    ConfusionMatrix,
    ImagePredictions,
    Other,
}

impl Field {
    fn from_key(key: &[u8]) -> Field {
        // By length first: a key is compared with at most five names, not all of them.
        match (key.len(), key) {
            (5, b"map50") => Field::Map50,
            (5, b"map75") => Field::Map75,
            (5, b"small") => Field::Small,
            (5, b"large") => Field::Large,
            (5, b"error") => Field::Error,
            (8, b"map50_95") => Field::Map50_95,
            (8, b"perClass") => Field::PerClass,
            (8, b"taskType") => Field::TaskType,
            (8, b"evalgate") => Field::Evalgate,
            (12, b"byObjectSize") => Field::ByObjectSize,
            (6, b"medium") => Field::Medium,
            (6, b"recall") => Field::Recall,
            (6, b"splits") => Field::Splits,
            (6, b"status") => Field::Status,
            (6, b"evalId") => Field::EvalId,
            (4, b"miou" | b"mIoU") => Field::Miou,
            (3, b"iou") => Field::Iou,
            (2, b"f1") => Field::F1,
            (9, b"precision") => Field::Precision,
            (9, b"className") => Field::ClassName,
            (16, b"optimalThreshold") => Field::OptimalThreshold,
            (7, b"message") => Field::Message,
            (15, b"confidenceSweep") => Field::ConfidenceSweep,
            (15, b"confusionMatrix") => Field::ConfusionMatrix,
            (18, b"performanceByClass") => Field::PerformanceByClass,
            (16, b"imagePredictions") => Field::ImagePredictions,
            _ => Field::Other,
        }
    }

    /// The key as Roboflow spells it (the first spelling, for `miou`).
    fn wire_name(self) -> &'static str {
        match self {
            Field::Map50 => "map50",
            Field::Map50_95 => "map50_95",
            Field::Map75 => "map75",
            Field::Miou => "miou",
            Field::Iou => "iou",
            Field::Precision => "precision",
            Field::Recall => "recall",
            Field::F1 => "f1",
            Field::OptimalThreshold => "optimalThreshold",
            Field::ByObjectSize => "byObjectSize",
            Field::PerClass => "perClass",
            Field::ClassName => "className",
            Field::Small => "small",
            Field::Medium => "medium",
            Field::Large => "large",
            Field::TaskType => "taskType",
            Field::Splits => "splits",
            Field::Error => "error",
            Field::Message => "message",
            Field::Status => "status",
            Field::EvalId => "evalId",
            Field::Evalgate => "evalgate",
            Field::ConfidenceSweep => "confidenceSweep",
            Field::PerformanceByClass => "performanceByClass",
            Field::ConfusionMatrix => "confusionMatrix",
            Field::ImagePredictions => "imagePredictions",
            Field::Other => "",
        }
    }

    /// The metric a key holds at the split level.
    fn split_metric(self) -> Option<Metric> {
        Some(match self {
            Field::Map50 => Metric::Map50,
            Field::Map50_95 => Metric::Map50_95,
            Field::Map75 => Metric::Map75,
            Field::Miou => Metric::Miou,
            Field::Precision => Metric::Precision,
            Field::Recall => Metric::Recall,
            Field::F1 => Metric::F1,
            _ => return None,
        })
    }

    /// The metric a key holds for a class.
    fn class_metric(self) -> Option<Metric> {
        Some(match self {
            Field::Map50 => Metric::Map50,
            Field::Map50_95 => Metric::Map50_95,
            Field::Map75 => Metric::Map75,
            Field::Iou => Metric::Iou,
            Field::Precision => Metric::Precision,
            Field::Recall => Metric::Recall,
            Field::F1 => Metric::F1,
            Field::OptimalThreshold => Metric::OptimalThreshold,
            _ => return None,
        })
    }

    /// The metric a key holds in an object-size bucket.
    fn size_metric(self) -> Option<Metric> {
        Some(match self {
            Field::Map50 => Metric::Map50,
            Field::Map50_95 => Metric::Map50_95,
            Field::Map75 => Metric::Map75,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            // Keys are borrowed from the input as bytes: nothing is copied, and a key is only
            // compared with ASCII names, so it needs no UTF-8 check of its own.
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Field, E> {
                Ok(Field::from_key(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(Field::from_key(v.as_bytes()))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A metric's value: a number, or `null` for none.
struct Value(Option<f64>);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Value;
            // serde's own word for a number, so that errors read as before.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("f64")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value(Some(v as f64)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value(Some(v as f64)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value(None))
            }
        }
        // One dispatch on the next byte for both `null` and a number, where `Option<f64>`
        // takes two.
        d.deserialize_any(V)
    }
}

/// The keys an object has shown, so that a key given twice is an error as serde's derive
/// makes it: two values for one metric must not pass on whichever comes last.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn first<E: de::Error>(&mut self, field: Field) -> Result<(), E> {
        if field == Field::Other {
            return Ok(());
        }
        let bit = 1 << field as u32;
        if self.0 & bit != 0 {
            return Err(E::custom(format_args!(
                "duplicate field `{}`",
                field.wire_name()
            )));
        }
        self.0 |= bit;
        Ok(())
    }

    fn has(&self, field: Field) -> bool {
        self.0 & (1 << field as u32) != 0
    }
}

/// A seed that is its own visitor: `deserialize` hands the deserializer `self` through `$how`
/// (`deserialize_map` where only an object will do, `deserialize_any` where `null` or a list
/// will do too).
macro_rules! seed {
    ($seed:ty, $how:ident) => {
        impl<'de> DeserializeSeed<'de> for $seed {
            type Value = <Self as Visitor<'de>>::Value;
            fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.$how(self)
            }
        }
    };
}

struct TopSeed<'s>(&'s mut State);

seed!(TopSeed<'_>, deserialize_map);

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map-results object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut top = Top {
            task_type: None,
            splits: None,
            error: None,
            message: None,
            status: None,
            record: false,
            evalgate: None,
            panels: SavedPanels::default(),
        };
        let mut seen = Seen::default();
        while let Some(field) = map.next_key::<Field>()? {
            if matches!(
                field,
                Field::TaskType
                    | Field::Splits
                    | Field::Error
                    | Field::Message
                    | Field::Status
                    | Field::Evalgate
                    | Field::ConfidenceSweep
                    | Field::PerformanceByClass
                    | Field::ConfusionMatrix
                    | Field::ImagePredictions
            ) {
                seen.first(field)?;
            }
            match field {
                Field::TaskType => top.task_type = map.next_value()?,
                Field::Splits => top.splits = map.next_value_seed(SplitsSeed(&mut *self.0))?,
                Field::Error => top.error = map.next_value()?,
                Field::Message => top.message = map.next_value()?,
                Field::Status => top.status = Some(map.next_value()?),
                Field::Evalgate => top.evalgate = map.next_value()?,
                Field::ConfidenceSweep => top.panels.sweep = Some(map.next_value()?),
                Field::PerformanceByClass => top.panels.by_class = Some(map.next_value()?),
                Field::ConfusionMatrix => top.panels.confusion = Some(map.next_value()?),
                Field::ImagePredictions => top.panels.images = Some(map.next_value()?),
                Field::EvalId => {
                    map.next_value::<IgnoredAny>()?;
                    top.record = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// `splits`: split name → split, or `null` (no splits object).
struct SplitsSeed<'s>(&'s mut State);

seed!(SplitsSeed<'_>, deserialize_any);

impl<'de> Visitor<'de> for SplitsSeed<'_> {
    type Value = Option<BTreeMap<String, SplitEval>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of splits")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut splits = BTreeMap::new();
        // Splits usually list the same classes: size each split's list by the previous one.
        let mut hint = 0;
        while let Some(name) = map.next_key::<String>()? {
            let split = map.next_value_seed(SplitSeed {
                state: &mut *self.0,
                name: &name,
                hint,
            })?;
            hint = split.classes.len();
            match splits.entry(name) {
                Entry::Occupied(e) => {
                    let name = e.key();
                    return Err(de::Error::custom(format!("duplicate key {name:?}")));
                }
                Entry::Vacant(e) => {
                    e.insert(split);
                }
            }
        }
        Ok(Some(splits))
    }
}

struct SplitSeed<'s, 'n> {
    state: &'s mut State,
    name: &'n str,
    hint: usize,
}

seed!(SplitSeed<'_, '_>, deserialize_map);

impl<'de> Visitor<'de> for SplitSeed<'_, '_> {
    type Value = SplitEval;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a split's metrics object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SplitEval, A::Error> {
        let at = At::Split(self.name);
        let mut overall = ScopeMetrics::default();
        let mut classes = Classes::default();
        let mut seen = Seen::default();
        let mut has_metrics = false;
        while let Some(field) = map.next_key::<Field>()? {
            if let Some(metric) = field.split_metric() {
                seen.first(field)?;
                let value = map.next_value::<Value>()?.0;
                self.state
                    .put(&mut overall.metrics, metric, value, at, None, field);
                has_metrics = true;
                continue;
            }
            match field {
                Field::ByObjectSize => {
                    seen.first(field)?;
                    map.next_value_seed(SizesSeed {
                        state: &mut *self.state,
                        at,
                        sizes: &mut overall.sizes,
                    })?;
                }
                Field::PerClass => {
                    seen.first(field)?;
                    classes = map.next_value_seed(ClassesSeed {
                        state: &mut *self.state,
                        split: self.name,
                        hint: self.hint,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen.has(Field::Miou) && (has_metrics || !classes.is_empty()) {
            self.state.no_miou.push(self.name.to_owned());
        }
        Ok(SplitEval { overall, classes })
    }
}

/// `byObjectSize`: up to three buckets, or `null`. Fills `sizes` in place: a class's values
/// are written once, where they stay, rather than copied up through every level.
struct SizesSeed<'s, 'a, 'm> {
    state: &'s mut State,
    at: At<'a>,
    sizes: &'m mut [Metrics; 3],
}

seed!(SizesSeed<'_, '_, '_>, deserialize_any);

impl<'de> Visitor<'de> for SizesSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of object sizes")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(field) = map.next_key::<Field>()? {
            let size = match field {
                Field::Small => Size::Small,
                Field::Medium => Size::Medium,
                Field::Large => Size::Large,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            seen.first(field)?;
            map.next_value_seed(BucketSeed {
                state: &mut *self.state,
                at: self.at,
                size,
                metrics: &mut self.sizes[size as usize],
            })?;
        }
        Ok(())
    }
}

/// One object-size bucket, or `null`.
struct BucketSeed<'s, 'a, 'm> {
    state: &'s mut State,
    at: At<'a>,
    size: Size,
    metrics: &'m mut Metrics,
}

seed!(BucketSeed<'_, '_, '_>, deserialize_any);

impl<'de> Visitor<'de> for BucketSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object-size bucket's metrics object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field.size_metric() {
                Some(metric) => {
                    seen.first(field)?;
                    let value = map.next_value::<Value>()?.0;
                    let size = Some(self.size);
                    self.state
                        .put(self.metrics, metric, value, self.at, size, field);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `perClass`: an object keyed by class name, a list of objects with `className`, or `null`.
struct ClassesSeed<'s, 'n> {
    state: &'s mut State,
    split: &'n str,
    hint: usize,
}

seed!(ClassesSeed<'_, '_>, deserialize_any);

impl<'de> Visitor<'de> for ClassesSeed<'_, '_> {
    type Value = Classes;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of classes or a list of classes with \"className\"")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Classes::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut classes = Collect::with_capacity(self.hint);
        while let Some(name) = map.next_key::<String>()? {
            let (name, scope) = classes.push(name);
            map.next_value_seed(ClassSeed {
                state: &mut *self.state,
                at: At::Class(self.split, name),
                list: false,
                scope,
            })?;
            classes.check_order();
        }
        classes
            .finish()
            .map_err(|dup| self.state.fail(self.duplicate(dup, false)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut classes = Collect::with_capacity(self.hint);
        loop {
            let index = classes.entries.len();
            let (_, scope) = classes.push(String::new());
            let seed = ClassSeed {
                state: &mut *self.state,
                at: At::Entry(self.split, index),
                list: true,
                scope,
            };
            match seq.next_element_seed(seed)? {
                None => {
                    classes.entries.pop();
                    break;
                }
                Some(Some(name)) => {
                    classes.name_last(name);
                    classes.check_order();
                }
                Some(None) => {
                    let error = ParseEvalError::BadClass {
                        path: format!("{}.perClass[{index}]", split_path(self.split)),
                        why: "no \"className\"; every entry of a perClass list must name its class"
                            .into(),
                    };
                    return Err(self.state.fail(error));
                }
            }
        }
        classes
            .finish()
            .map_err(|dup| self.state.fail(self.duplicate(dup, true)))
    }
}

impl ClassesSeed<'_, '_> {
    fn duplicate(&self, dup: Duplicate, list: bool) -> ParseEvalError {
        let per_class = format!("{}.perClass", split_path(self.split));
        let name = dup.name;
        if list {
            ParseEvalError::BadClass {
                path: format!("{per_class}[{}]", dup.second),
                why: format!(
                    "className {name:?} again (first at perClass[{}]); each class may appear only once",
                    dup.first
                ),
            }
        } else {
            ParseEvalError::BadClass {
                path: per_class,
                why: format!(
                    "duplicate key {name:?} (entries {} and {}); each class may appear only once",
                    dup.first, dup.second
                ),
            }
        }
    }
}

/// Classes in the order they came, until the object or list ends.
///
/// Roboflow's classes usually come sorted; then duplicates show as neighbours and the list is
/// kept as it came. Unsorted input is sorted once.
struct Collect {
    entries: Vec<(String, ScopeMetrics)>,
    sorted: bool,
    /// A name given twice next to each other, found as the entries came.
    duplicate: Option<Duplicate>,
}

/// A class named twice: its name and both 0-based positions.
struct Duplicate {
    name: String,
    first: usize,
    second: usize,
}

impl Collect {
    fn with_capacity(n: usize) -> Collect {
        Collect {
            entries: Vec::with_capacity(n),
            sorted: true,
            duplicate: None,
        }
    }

    /// Adds a class with no values yet, for its visitor to fill in place.
    fn push(&mut self, name: String) -> (&str, &mut ScopeMetrics) {
        self.entries.push((name, ScopeMetrics::default()));
        let (name, scope) = self.entries.last_mut().expect("just pushed");
        (name, scope)
    }

    fn name_last(&mut self, name: String) {
        if let Some(last) = self.entries.last_mut() {
            last.0 = name;
        }
    }

    /// Compares the class just added with the one before it.
    #[inline]
    fn check_order(&mut self) {
        let n = self.entries.len();
        if n < 2 {
            return;
        }
        let (prev, last) = (&self.entries[n - 2].0, &self.entries[n - 1].0);
        match prev.as_str().cmp(last) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Greater => self.sorted = false,
            std::cmp::Ordering::Equal => {
                if self.duplicate.is_none() {
                    self.duplicate = Some(Duplicate {
                        name: last.clone(),
                        first: n - 2,
                        second: n - 1,
                    });
                }
            }
        }
    }

    fn finish(mut self) -> Result<Classes, Duplicate> {
        if let Some(dup) = self.duplicate.filter(|_| self.sorted) {
            return Err(dup);
        }
        if !self.sorted {
            // A stable sort of positions keeps the first of two equal names first.
            let mut order: Vec<usize> = (0..self.entries.len()).collect();
            order.sort_by(|&a, &b| self.entries[a].0.cmp(&self.entries[b].0));
            if let Some(w) = order
                .windows(2)
                .find(|w| self.entries[w[0]].0 == self.entries[w[1]].0)
            {
                return Err(Duplicate {
                    name: self.entries[w[0]].0.clone(),
                    first: w[0],
                    second: w[1],
                });
            }
        }
        if !self.sorted {
            self.entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        // A list grown by doubling can hold almost twice what it needs, for the eval's life.
        if self.entries.capacity() - self.entries.len() > self.entries.len() / 4 {
            self.entries.shrink_to_fit();
        }
        Ok(Classes::from_sorted(self.entries))
    }
}

/// One class, filled in place; its `className` when it is an entry of a list.
struct ClassSeed<'s, 'a, 'm> {
    state: &'s mut State,
    at: At<'a>,
    list: bool,
    scope: &'m mut ScopeMetrics,
}

seed!(ClassSeed<'_, '_, '_>, deserialize_map);

impl<'de> Visitor<'de> for ClassSeed<'_, '_, '_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a class's metrics object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name = None;
        let mut seen = Seen::default();
        while let Some(field) = map.next_key::<Field>()? {
            if let Some(metric) = field.class_metric() {
                seen.first(field)?;
                let value = map.next_value::<Value>()?.0;
                self.state
                    .put(&mut self.scope.metrics, metric, value, self.at, None, field);
                continue;
            }
            match field {
                Field::ByObjectSize => {
                    seen.first(field)?;
                    map.next_value_seed(SizesSeed {
                        state: &mut *self.state,
                        at: self.at,
                        sizes: &mut self.scope.sizes,
                    })?;
                }
                // In an object the key names the class; a `className` beside it is ignored.
                Field::ClassName if self.list => {
                    seen.first(field)?;
                    name = map.next_value()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lookup, Scope};

    const DETECTION: &str = r#"{
        "taskType": "object-detection-like",
        "somethingNew": {"ignored": true},
        "splits": {"test": {
            "map50": 0.9, "map50_95": 0.75, "map75": null,
            "byObjectSize": {"small": {"map50": 0.8, "map50_95": 0.6, "map75": 0.7}, "medium": null, "large": null},
            "perClass": {"Car-rims": {"map50": 0.92, "map50_95": null, "map75": 0.9,
                "byObjectSize": {"small": {"map50": 0.5, "map50_95": 0.4, "map75": 0.45}}}}
        }}
    }"#;

    #[test]
    fn reads_detection_values_and_nulls() {
        let eval = parse_eval(DETECTION.as_bytes()).unwrap();
        assert_eq!(eval.task, Task::ObjectDetection);
        assert_eq!(
            eval.lookup("test", &Scope::Split, Metric::Map50),
            Lookup::Value(0.9)
        );
        assert_eq!(
            eval.lookup("test", &Scope::Split, Metric::Map75),
            Lookup::NoValue
        );
        assert_eq!(
            eval.lookup("test", &Scope::Size(Size::Small), Metric::Map50_95),
            Lookup::Value(0.6)
        );
        assert_eq!(
            eval.lookup("test", &Scope::Size(Size::Medium), Metric::Map50),
            Lookup::NoValue
        );
        let car = Scope::Class("Car-rims".into());
        assert_eq!(
            eval.lookup("test", &car, Metric::Map50),
            Lookup::Value(0.92)
        );
        assert_eq!(eval.lookup("test", &car, Metric::Map50_95), Lookup::NoValue);
        let car_small = Scope::ClassSize("Car-rims".into(), Size::Small);
        assert_eq!(
            eval.lookup("test", &car_small, Metric::Map75),
            Lookup::Value(0.45)
        );
        assert_eq!(
            eval.lookup("test", &Scope::Class("bus".into()), Metric::Map50),
            Lookup::NoClass
        );
        assert_eq!(
            eval.lookup("valid", &Scope::Split, Metric::Map50),
            Lookup::NoSplit
        );
    }

    #[test]
    fn missing_task_type_means_detection() {
        let eval = parse_eval(br#"{"splits": {"valid": {"map50": 0.5}}}"#).unwrap();
        assert_eq!(eval.task, Task::ObjectDetection);
    }

    #[test]
    fn reads_segmentation_with_miou_alias() {
        let body = br#"{"taskType": "semantic-segmentation", "splits": {"valid": {
            "mIoU": 0.61, "precision": 0.7, "recall": 0.65, "f1": 0.67, "optimalThreshold": 0.4,
            "perClass": {"road": {"iou": 0.8, "classID": 3, "precision": 0.9, "recall": 0.85, "f1": 0.87, "optimalThreshold": 0.0}}}}}"#;
        let eval = parse_eval(body).unwrap();
        assert_eq!(eval.task, Task::SemanticSegmentation);
        assert_eq!(
            eval.lookup("valid", &Scope::Split, Metric::Miou),
            Lookup::Value(0.61)
        );
        let road = Scope::Class("road".into());
        // 0.0 is a real threshold (F1 peaks at argmax), not a missing value.
        assert_eq!(
            eval.lookup("valid", &road, Metric::OptimalThreshold),
            Lookup::Value(0.0)
        );
        assert_eq!(eval.lookup("valid", &road, Metric::Iou), Lookup::Value(0.8));
    }

    #[test]
    fn rejects_values_outside_unit_interval() {
        let err = parse_eval(br#"{"splits": {"valid": {"perClass": {"a b": {"map50": 1.5}}}}}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"splits.valid.perClass["a b"].map50 is 1.5, outside [0, 1]: every metric must be a fraction"#
        );
        let err = parse_eval(br#"{"splits": {"valid": {"map50_95": -0.1}}}"#).unwrap_err();
        assert!(matches!(err, ParseEvalError::OutOfRange { .. }), "{err}");
        let err = parse_eval(br#"{"splits": {"a.b": {"perClass": {"car": {"byObjectSize": {"small": {"map75": 2}}}}}}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"splits."a.b".perClass["car"].byObjectSize.small.map75 is 2, outside [0, 1]: every metric must be a fraction"#
        );
    }

    #[test]
    fn reports_json_errors_with_position() {
        let err = parse_eval(b"{\"splits\": {\"valid\": {\"map50\": \"high\"}}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1, column 37: invalid type: string \"high\", expected f64"
        );
        let err = parse_eval(b" <html>502 Bad Gateway</html>").unwrap_err();
        assert_eq!(err, ParseEvalError::Html);
        let err = parse_eval(b"oops").unwrap_err();
        assert!(
            matches!(
                err,
                ParseEvalError::Json {
                    line: 1,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_eval(br#"{"splits": {"valid": {"map50": 1e999}}}"#).unwrap_err();
        assert!(err.to_string().contains("number out of range"), "{err}");
    }

    #[test]
    fn rejects_duplicate_split_and_class_names() {
        let err = parse_eval(
            br#"{"splits": {"valid": {"perClass": {"a": {"map50": 0.1}, "a": {"map50": 0.9}}}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains(r#"duplicate key "a""#), "{err}");
        let err = parse_eval(br#"{"splits": {"valid": {}, "valid": {}}}"#).unwrap_err();
        assert!(
            err.to_string().contains(r#"duplicate key "valid""#),
            "{err}"
        );
    }

    #[test]
    fn explains_api_error_bodies_and_unfinished_evals() {
        let not_done = include_bytes!(
            "../../tests/fixtures/roboflow/sdk-test-error-409-model-eval-not-done.json"
        );
        assert!(matches!(
            parse_eval(not_done),
            Err(ParseEvalError::NotFinished(_))
        ));
        let running =
            include_bytes!("../../tests/fixtures/roboflow/docs-get-model-evaluation-running.json");
        assert_eq!(
            parse_eval(running),
            Err(ParseEvalError::NotFinished(
                "its status is \"running\"".into()
            ))
        );
        let not_found = include_bytes!(
            "../../tests/fixtures/roboflow/sdk-test-error-404-model-eval-not-found.json"
        );
        let err = parse_eval(not_found).unwrap_err();
        assert!(
            matches!(err, ParseEvalError::Api(ref m) if m.starts_with("model_eval_not_found")),
            "{err}"
        );
        let scope = include_bytes!(
            "../../tests/fixtures/roboflow/sdk-test-error-404-missing-scope-graphmethodexception.json"
        );
        assert_eq!(
            parse_eval(scope).unwrap_err().to_string(),
            "this is an API error response, not map-results: GraphMethodException: scope missing"
        );
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        assert!(parse_eval(b"\xEF\xBB\xBF{\"splits\": {}}").is_ok());
    }

    #[test]
    fn rejects_unknown_task_and_missing_splits() {
        let err = parse_eval(br#"{"taskType": "classification", "splits": {}}"#).unwrap_err();
        assert_eq!(
            err,
            ParseEvalError::UnsupportedTask("classification".into())
        );
        assert_eq!(
            parse_eval(br#"{"evals": []}"#).unwrap_err(),
            ParseEvalError::NoSplits
        );
    }

    // --- Both shapes of perClass, the task's own fields, the status, and notes. -------------

    const SEG_LIST: &str = r#"{"taskType": "semantic-segmentation", "splits": {"valid": {
        "mIoU": 0.61, "precision": 0.7, "recall": 0.65, "f1": 0.67,
        "perClass": [
            {"className": "road", "classID": 3, "iou": 0.8, "precision": 0.9, "recall": 0.85, "f1": 0.87, "optimalThreshold": 0.0},
            {"classID": 1, "iou": 0.5, "className": "sky"}
        ]}}}"#;

    #[test]
    fn reads_per_class_lists_like_objects_in_both_tasks() {
        let list = parse_eval(SEG_LIST.as_bytes()).unwrap();
        let object = parse_eval(br#"{"taskType": "semantic-segmentation", "splits": {"valid": {
            "mIoU": 0.61, "precision": 0.7, "recall": 0.65, "f1": 0.67,
            "perClass": {"sky": {"iou": 0.5}, "road": {"iou": 0.8, "precision": 0.9, "recall": 0.85, "f1": 0.87, "optimalThreshold": 0.0}}}}}"#)
        .unwrap();
        assert_eq!(list, object);
        let road = Scope::Class("road".into());
        assert_eq!(
            list.lookup("valid", &road, Metric::OptimalThreshold),
            Lookup::Value(0.0)
        );
        assert_eq!(
            list.lookup("valid", &Scope::Class("sky".into()), Metric::Iou),
            Lookup::Value(0.5)
        );

        let detection = parse_eval(
            br#"{"splits": {"test": {"map50": 0.9, "perClass": [
            {"className": "Car-rims", "map50": 0.92, "map50_95": 0.75, "map75": null,
             "precision": 0.85, "recall": 0.85, "f1": 0.85, "optimalThreshold": 0.37,
             "byObjectSize": {"small": {"map50": 0.5}}},
            {"className": "music-note", "map50": null, "map50_95": null, "map75": null}]}}}"#,
        )
        .unwrap();
        let car = Scope::ClassSize("Car-rims".into(), Size::Small);
        assert_eq!(
            detection.lookup("test", &car, Metric::Map50),
            Lookup::Value(0.5)
        );
        let note = Scope::Class("music-note".into());
        assert_eq!(
            detection.lookup("test", &note, Metric::Map50),
            Lookup::NoValue
        );
        // Segmentation's fields in a detection eval are not metrics of it.
        let car = Scope::Class("Car-rims".into());
        assert_eq!(
            detection.lookup("test", &car, Metric::Precision),
            Lookup::NoValue
        );
    }

    #[test]
    fn a_list_entry_needs_a_class_name_given_once() {
        let err = parse_eval(
            br#"{"splits": {"valid": {"perClass": [{"className": "a"}, {"map50": 0.5, "classID": 2}]}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"splits.valid.perClass[1]: no "className"; every entry of a perClass list must name its class"#
        );
        let err = parse_eval(br#"{"splits": {"valid": {"perClass": [{"className": null}]}}}"#)
            .unwrap_err();
        assert!(
            matches!(err, ParseEvalError::BadClass { ref path, .. } if path == "splits.valid.perClass[0]"),
            "{err}"
        );
        let err = parse_eval(
            br#"{"splits": {"valid": {"perClass": [{"className": "b"}, {"className": "a"}, {"className": "b"}]}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"splits.valid.perClass[2]: className "b" again (first at perClass[0]); each class may appear only once"#
        );
        let err = parse_eval(
            br#"{"splits": {"v": {"perClass": [{"className": "a"}, {"className": "a"}]}}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("splits.v.perClass[1]: className \"a\" again (first at perClass[0])"),
            "{err}"
        );
        let err =
            parse_eval(br#"{"splits": {"valid": {"perClass": [{"className": 3}]}}}"#).unwrap_err();
        assert!(matches!(err, ParseEvalError::Json { .. }), "{err}");
        let err = parse_eval(br#"{"splits": {"valid": {"perClass": 3}}}"#).unwrap_err();
        assert!(matches!(err, ParseEvalError::Json { .. }), "{err}");
    }

    #[test]
    fn names_a_duplicate_class_in_an_unsorted_object() {
        let err = parse_eval(
            br#"{"splits": {"valid": {"perClass": {"b": {}, "a": {"map50": 0.1}, "b": {"map50": 0.9}}}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"splits.valid.perClass: duplicate key "b" (entries 0 and 2); each class may appear only once"#
        );
        // Unsorted but unique: read and ordered by name.
        let eval =
            parse_eval(br#"{"splits": {"valid": {"perClass": {"b": {}, "a": {}, "c": {}}}}}"#)
                .unwrap();
        let names: Vec<&str> = eval.splits["valid"]
            .classes
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn task_type_after_the_splits_decides_which_fields_count() {
        // Segmentation, told last: detection values are dropped, and one outside [0, 1] is
        // no error because it is no metric of this eval.
        let late = br#"{"splits": {"valid": {"miou": 0.5, "map50": 7, "byObjectSize": {"small": {"map50": 0.3}},
            "perClass": {"road": {"iou": 0.8, "map50": 0.4}}}}, "taskType": "semantic-segmentation"}"#;
        let eval = parse_eval(late).unwrap();
        let early = parse_eval(br#"{"taskType": "semantic-segmentation", "splits": {"valid": {"miou": 0.5, "perClass": {"road": {"iou": 0.8}}}}}"#).unwrap();
        assert_eq!(eval, early);
        // Detection: segmentation values are dropped, and so is their range check.
        let eval = parse_eval(br#"{"splits": {"valid": {"map50": 0.5, "precision": 3, "perClass": {"a": {"iou": 0.2, "map50": 0.1}}}}}"#).unwrap();
        assert_eq!(
            eval,
            parse_eval(
                br#"{"splits": {"valid": {"map50": 0.5, "perClass": {"a": {"map50": 0.1}}}}}"#
            )
            .unwrap()
        );
        let err = parse_eval(br#"{"splits": {"valid": {"perClass": [{"className": "x y", "iou": 1.5}]}}, "taskType": "semantic-segmentation"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "splits.valid.perClass[0].iou is 1.5, outside [0, 1]: every metric must be a fraction"
        );
    }

    #[test]
    fn repeated_fields_are_errors_at_every_level() {
        for body in [
            r#"{"splits": {"v": {"map50": 0.1, "map50": 0.2}}}"#,
            r#"{"splits": {"v": {"miou": 0.1, "mIoU": 0.2}}}"#,
            r#"{"splits": {"v": {"perClass": {"a": {"iou": 0.1, "iou": 0.2}}}}}"#,
            r#"{"splits": {"v": {"byObjectSize": {"small": {}, "small": {}}}}}"#,
            r#"{"splits": {"v": {"byObjectSize": {"small": {"map75": 0.1, "map75": 0.1}}}}}"#,
            r#"{"splits": {"v": {"perClass": [{"className": "a", "className": "b"}]}}}"#,
            r#"{"taskType": "semantic-segmentation", "taskType": "object-detection-like", "splits": {}}"#,
        ] {
            let err = parse_eval(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("duplicate field"), "{body}: {err}");
        }
        // Unknown fields are skipped, repeated or not.
        assert!(
            parse_eval(br#"{"x": 1, "x": 2, "splits": {"v": {"classID": 1, "classID": 2}}}"#)
                .is_ok()
        );
    }

    #[test]
    fn a_status_other_than_done_is_not_finished_even_beside_splits() {
        let with = |status: &str| {
            parse_eval(
                format!(r#"{{"status": {status}, "splits": {{"valid": {{"map50": 0.5}}}}}}"#)
                    .as_bytes(),
            )
        };
        assert!(with(r#""done""#).is_ok());
        assert_eq!(
            with(r#""running""#),
            Err(ParseEvalError::NotFinished(
                "its status is \"running\"".into()
            ))
        );
        assert_eq!(
            with(r#""queued""#),
            Err(ParseEvalError::NotFinished(
                "its status is \"queued\"".into()
            ))
        );
        assert_eq!(
            with("null"),
            Err(ParseEvalError::NotFinished("its status is null".into()))
        );
        assert_eq!(with(r#""failed""#), Err(ParseEvalError::EvalFailed));
        // The eval's record saved in place of its metrics: no status is not "done".
        assert_eq!(
            parse_eval(br#"{"evalId": "e1", "project": "p"}"#),
            Err(ParseEvalError::NotFinished(
                "its record has no \"status\"".into()
            ))
        );
        assert_eq!(
            parse_eval(br#"{"evalId": "e1", "status": "failed"}"#),
            Err(ParseEvalError::EvalFailed)
        );
        let done =
            include_bytes!("../../tests/fixtures/roboflow/docs-get-model-evaluation-done.json");
        assert_eq!(parse_eval(done), Err(ParseEvalError::NoSplits));
    }

    #[test]
    fn notes_a_segmentation_split_without_miou() {
        let eval = parse_eval(
            br#"{"taskType": "semantic-segmentation", "splits": {
            "a": {"precision": 0.7},
            "b": {"miou": null, "precision": 0.7},
            "c": {"perClass": [{"className": "road", "iou": 0.8}]},
            "d": {},
            "e": {"mIoU": 0.5}}}"#,
        )
        .unwrap();
        assert_eq!(
            eval.notes,
            [
                Note::NoMiou { split: "a".into() },
                Note::NoMiou { split: "c".into() }
            ]
        );
        assert_eq!(
            eval.notes[0].to_string(),
            "splits.a has semantic-segmentation metrics but neither \"miou\" nor \"mIoU\": its mIoU is missing, not read; checks of miou follow the policy's missing: rules"
        );
        assert_eq!(
            eval.lookup("a", &Scope::Split, Metric::Miou),
            Lookup::NoValue
        );
        // Detection has no mIoU to miss.
        assert!(parse_eval(DETECTION.as_bytes()).unwrap().notes.is_empty());
    }

    #[test]
    fn reads_the_documented_per_class_list_and_a_handwritten_segmentation_one() {
        // Roboflow's performance-by-class `classes`, as the perClass of a map-results split.
        let doc: serde_json::Value = serde_json::from_slice(include_bytes!(
            "../../tests/fixtures/roboflow/docs-performance-by-class-object-detection.json"
        ))
        .unwrap();
        let body = serde_json::json!({"taskType": doc["taskType"], "splits": {"test": {"perClass": doc["classes"]}}});
        let eval = parse_eval(body.to_string().as_bytes()).unwrap();
        let car = Scope::Class("Car-rims".into());
        assert_eq!(
            eval.lookup("test", &car, Metric::Map50_95),
            Lookup::Value(0.7555258345429926)
        );
        let absent = Scope::Class("music-note".into());
        assert_eq!(eval.lookup("test", &absent, Metric::Map50), Lookup::NoValue);

        let seg = parse_eval(include_bytes!(
            "../../tests/fixtures/roboflow/handwritten-map-results-semantic-segmentation-list.json"
        ))
        .unwrap();
        let names: Vec<&str> = seg.splits["valid"]
            .classes
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["lane-marking", "road", "sidewalk"]);
        let lane = Scope::Class("lane-marking".into());
        assert_eq!(
            seg.lookup("valid", &lane, Metric::OptimalThreshold),
            Lookup::Value(0.0)
        );
        let sidewalk = Scope::Class("sidewalk".into());
        assert_eq!(seg.lookup("valid", &sidewalk, Metric::Iou), Lookup::NoValue);
        assert_eq!(
            seg.lookup("valid", &Scope::Split, Metric::Miou),
            Lookup::Value(0.705)
        );
        assert_eq!(
            seg.notes,
            [Note::NoMiou {
                split: "test".into()
            }]
        );
    }

    // --- Any eval, in any key order and either perClass shape, reads as what it says. -------

    use proptest::prelude::*;

    /// One metric value: none, `null`, or a fraction with up to six decimals (exact in JSON).
    fn value() -> impl Strategy<Value = Option<Option<u32>>> {
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(None)),
            4 => (0u32..=1_000_000).prop_map(|v| Some(Some(v))),
        ]
    }

    fn fraction(v: u32) -> f64 {
        f64::from(v) / 1e6
    }

    #[derive(Clone, Debug)]
    struct GenClass {
        name: String,
        values: Vec<(usize, Option<Option<u32>>)>,
        small: Option<Option<u32>>,
    }

    fn class() -> impl Strategy<Value = GenClass> {
        (
            prop_oneof![
                "[a-c]{1,3}",
                Just(String::new()),
                Just("a\"b\\c\u{1}".to_owned()),
                Just("ünï".to_owned())
            ],
            proptest::collection::vec((0usize..8, value()), 0..6),
            value(),
        )
            .prop_map(|(name, values, small)| GenClass {
                name,
                values,
                small,
            })
    }

    const CLASS_KEYS: [(&str, Metric); 8] = [
        ("map50", Metric::Map50),
        ("map50_95", Metric::Map50_95),
        ("map75", Metric::Map75),
        ("iou", Metric::Iou),
        ("precision", Metric::Precision),
        ("recall", Metric::Recall),
        ("f1", Metric::F1),
        ("optimalThreshold", Metric::OptimalThreshold),
    ];

    fn json_value(v: Option<u32>) -> String {
        v.map_or("null".into(), |v| format!("{}", fraction(v)))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn parses_to_what_the_body_says(
            segmentation in any::<bool>(),
            task_last in any::<bool>(),
            list in any::<bool>(),
            classes in proptest::collection::vec(class(), 0..8),
            reverse in any::<bool>(),
        ) {
            let task = if segmentation { Task::SemanticSegmentation } else { Task::ObjectDetection };
            // The expected model, built from the generated values without the parser.
            let mut expected: BTreeMap<String, ScopeMetrics> = BTreeMap::new();
            let mut unique = Vec::new();
            for c in &classes {
                if expected.contains_key(&c.name) {
                    continue;
                }
                let mut scope = ScopeMetrics::default();
                let mut keys = std::collections::BTreeSet::new();
                let mut fields = Vec::new();
                for (i, v) in &c.values {
                    let (key, metric) = CLASS_KEYS[*i];
                    let Some(v) = v else { continue };
                    if !keys.insert(key) {
                        continue;
                    }
                    fields.push(format!("{:?}: {}", key, json_value(*v)));
                    // Detection's precision, recall and F1 come from the confidence sweep,
                    // not from map-results.
                    let from_map_results =
                        task != Task::ObjectDetection || !metric.at_operating_point();
                    if from_map_results
                        && task.metrics(crate::model::ScopeKind::Class).contains(&metric)
                    {
                        scope.metrics.set(metric, v.map(fraction));
                    }
                }
                if let Some(v) = c.small {
                    fields.push(format!(r#""byObjectSize": {{"small": {{"map50": {}}}, "large": null}}"#, json_value(v)));
                    if task.has_sizes() {
                        scope.sizes[Size::Small as usize].set(Metric::Map50, v.map(fraction));
                    }
                }
                fields.push(r#""classID": 7"#.to_owned());
                let name = serde_json::to_string(&c.name).unwrap();
                let entry = if list {
                    fields.push(format!(r#""className": {name}"#));
                    format!("{{{}}}", fields.join(", "))
                } else {
                    format!("{name}: {{{}}}", fields.join(", "))
                };
                expected.insert(c.name.clone(), scope);
                unique.push(entry);
            }
            if reverse {
                unique.reverse();
            }
            let per_class = if list {
                format!("[{}]", unique.join(", "))
            } else {
                format!("{{{}}}", unique.join(", "))
            };
            let split_miou = if segmentation { r#""mIoU": 0.5, "#} else { "" };
            let splits = format!(r#""splits": {{"valid": {{{split_miou}"map50": 0.25, "perClass": {per_class}}}}}"#);
            let task_type = if segmentation { r#""taskType": "semantic-segmentation""# } else { r#""taskType": "object-detection-like""# };
            let body = if task_last {
                format!("{{{splits}, {task_type}}}")
            } else {
                format!("{{{task_type}, \"unknown\": [1, {{}}], {splits}}}")
            };
            let eval = parse_eval(body.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
            prop_assert_eq!(eval.task, task);
            let split = &eval.splits["valid"];
            prop_assert_eq!(&split.classes, &expected.into_iter().collect::<Classes>(), "{}", body);
            let overall = if segmentation { Metric::Miou } else { Metric::Map50 };
            let v = if segmentation { 0.5 } else { 0.25 };
            prop_assert_eq!(split.overall.metrics.get(overall), Some(v));
            prop_assert!(eval.notes.is_empty());
        }
    }
}
