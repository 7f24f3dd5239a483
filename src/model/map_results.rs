//! Roboflow's `map-results` body → [`Eval`].
//!
//! The wire types mirror the JSON and ignore unknown fields, because the API grows. Detection
//! and semantic-segmentation fields live side by side in one set of wire types; `taskType`
//! decides which of them become metrics.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::Deserialize;

use super::{Eval, EvalMeta, Metric, Metrics, ScopeMetrics, Size, SplitEval, Task};

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
    /// The body has no `splits` object.
    #[error("no \"splits\" object: this is not a map-results body")]
    NoSplits,
    /// An HTML page: a proxy, a login page or a gateway answered instead of the API.
    #[error("an HTML page, not JSON: a proxy, login page or gateway answered instead of the API")]
    Html,
    /// The body is an API error response, saved in place of the metrics.
    #[error("this is an API error response, not map-results: {0}")]
    Api(String),
    /// The eval has not finished: a `model_eval_not_done` error body, or the eval's own
    /// record with `status: running`.
    #[error("the eval is not finished yet: {0}")]
    NotFinished(String),
}

#[derive(Deserialize)]
struct WireEval {
    #[serde(rename = "taskType")]
    task_type: Option<String>,
    splits: Option<Unique<WireSplit>>,
    // An error body (`{"error": "...", "message": "..."}`, or a nested `error` object) or an
    // eval record (`{"status": "running"}`) saved by mistake; read only to say so.
    error: Option<serde_json::Value>,
    message: Option<String>,
    status: Option<String>,
    /// Metadata that `evalgate fetch` stores beside the metrics.
    evalgate: Option<EvalMeta>,
}

/// A JSON object whose keys must be unique. serde keeps the last of two equal keys; a class
/// listed twice with different values must not pass on whichever happens to come last.
struct Unique<V>(BTreeMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Unique<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<V> {
            type Value = Unique<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Unique<V>, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    match out.entry(key) {
                        Entry::Occupied(e) => {
                            let key = e.key();
                            return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
                        }
                        Entry::Vacant(e) => {
                            e.insert(map.next_value()?);
                        }
                    }
                }
                Ok(Unique(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct WireSplit {
    map50: Option<f64>,
    map50_95: Option<f64>,
    map75: Option<f64>,
    #[serde(rename = "byObjectSize")]
    by_object_size: Option<WireSizes>,
    #[serde(alias = "mIoU")]
    miou: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
    #[serde(rename = "perClass")]
    per_class: Option<Unique<WireClass>>,
}

#[derive(Deserialize)]
struct WireSizes {
    small: Option<WireMap>,
    medium: Option<WireMap>,
    large: Option<WireMap>,
}

#[derive(Deserialize)]
struct WireMap {
    map50: Option<f64>,
    map50_95: Option<f64>,
    map75: Option<f64>,
}

#[derive(Deserialize)]
struct WireClass {
    map50: Option<f64>,
    map50_95: Option<f64>,
    map75: Option<f64>,
    #[serde(rename = "byObjectSize")]
    by_object_size: Option<WireSizes>,
    iou: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
    #[serde(rename = "optimalThreshold")]
    optimal_threshold: Option<f64>,
}

/// Parses the body of `GET /{workspace}/model-evals/{evalId}/map-results`.
///
/// A missing `taskType` means object detection (early API responses had none). Every metric
/// must be `null` or a number in [0, 1].
pub fn parse_eval(bytes: &[u8]) -> Result<Eval, ParseEvalError> {
    // Editors on Windows save a byte-order mark; it carries no meaning in JSON.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.trim_ascii_start().starts_with(b"<") {
        return Err(ParseEvalError::Html);
    }
    let wire: WireEval = serde_json::from_slice(bytes).map_err(json_error)?;
    if wire.splits.is_none() {
        return Err(not_metrics(&wire));
    }
    let task = match wire.task_type.as_deref() {
        None | Some("object-detection-like") => Task::ObjectDetection,
        Some("semantic-segmentation") => Task::SemanticSegmentation,
        Some(other) => return Err(ParseEvalError::UnsupportedTask(other.to_owned())),
    };
    let Some(Unique(wire_splits)) = wire.splits else {
        return Err(ParseEvalError::NoSplits);
    };
    let mut splits = BTreeMap::new();
    for (name, ws) in wire_splits {
        let split = match task {
            Task::ObjectDetection => detection_split(&name, ws)?,
            Task::SemanticSegmentation => segmentation_split(&name, ws)?,
        };
        splits.insert(name, split);
    }
    Ok(Eval {
        task,
        splits,
        meta: wire.evalgate.unwrap_or_default(),
    })
}

/// Explains a body without `splits`: an error response or an eval record saved in its place.
fn not_metrics(wire: &WireEval) -> ParseEvalError {
    use serde_json::Value;
    let code = match &wire.error {
        Some(Value::String(code)) => Some(code.clone()),
        Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let nested = match &wire.error {
        Some(Value::Object(o)) => o.get("message").and_then(Value::as_str),
        _ => None,
    };
    let message = wire.message.as_deref().or(nested);
    let text = match (&code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        (None, Some(m)) => m.to_owned(),
        (None, None) if wire.status.as_deref() == Some("running") => {
            return ParseEvalError::NotFinished("its status is \"running\"".into());
        }
        (None, None) => return ParseEvalError::NoSplits,
    };
    if code.as_deref() == Some("model_eval_not_done") {
        ParseEvalError::NotFinished(text)
    } else {
        ParseEvalError::Api(text)
    }
}

fn json_error(e: serde_json::Error) -> ParseEvalError {
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
fn key(name: &str) -> String {
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

/// Where a value sits in the body, for error messages. Built only when a value is bad: an
/// eval has tens of thousands of classes and formatting each path up front costs more than
/// the parse.
#[derive(Clone, Copy)]
enum At<'a> {
    Split(&'a str),
    Class(&'a str, &'a str),
}

impl At<'_> {
    fn path(self, size: Option<Size>, field: &str) -> String {
        let mut p = match self {
            At::Split(split) => format!("splits.{}", key(split)),
            At::Class(split, class) => format!("splits.{}.perClass[{class:?}]", key(split)),
        };
        if let Some(size) = size {
            p.push_str(&format!(".byObjectSize.{size}"));
        }
        format!("{p}.{field}")
    }
}

fn put(
    metrics: &mut Metrics,
    metric: Metric,
    value: Option<f64>,
    at: At<'_>,
    size: Option<Size>,
    wire_name: &str,
) -> Result<(), ParseEvalError> {
    if let Some(v) = value
        && !(0.0..=1.0).contains(&v)
    {
        return Err(ParseEvalError::OutOfRange {
            path: at.path(size, wire_name),
            value: v,
        });
    }
    metrics.set(metric, value);
    Ok(())
}

fn map_metrics(
    at: At<'_>,
    size: Option<Size>,
    [map50, map50_95, map75]: [Option<f64>; 3],
) -> Result<Metrics, ParseEvalError> {
    let mut m = Metrics::default();
    put(&mut m, Metric::Map50, map50, at, size, "map50")?;
    put(&mut m, Metric::Map50_95, map50_95, at, size, "map50_95")?;
    put(&mut m, Metric::Map75, map75, at, size, "map75")?;
    Ok(m)
}

fn sizes(at: At<'_>, wire: Option<WireSizes>) -> Result<[Metrics; 3], ParseEvalError> {
    let mut out = [Metrics::default(); 3];
    let Some(w) = wire else { return Ok(out) };
    for (size, bucket) in Size::ALL.into_iter().zip([w.small, w.medium, w.large]) {
        if let Some(m) = bucket {
            out[size as usize] = map_metrics(at, Some(size), [m.map50, m.map50_95, m.map75])?;
        }
    }
    Ok(out)
}

fn detection_split(name: &str, ws: WireSplit) -> Result<SplitEval, ParseEvalError> {
    let at = At::Split(name);
    let overall = ScopeMetrics {
        metrics: map_metrics(at, None, [ws.map50, ws.map50_95, ws.map75])?,
        sizes: sizes(at, ws.by_object_size)?,
    };
    // Collected from a map already in order: built in one pass, with no searches.
    let classes = ws
        .per_class
        .map(|u| u.0)
        .unwrap_or_default()
        .into_iter()
        .map(|(class, wc)| {
            let at = At::Class(name, &class);
            let scope = ScopeMetrics {
                metrics: map_metrics(at, None, [wc.map50, wc.map50_95, wc.map75])?,
                sizes: sizes(at, wc.by_object_size)?,
            };
            Ok((class, scope))
        })
        .collect::<Result<BTreeMap<_, _>, ParseEvalError>>()?;
    Ok(SplitEval { overall, classes })
}

fn segmentation_split(name: &str, ws: WireSplit) -> Result<SplitEval, ParseEvalError> {
    let at = At::Split(name);
    let mut m = Metrics::default();
    put(&mut m, Metric::Miou, ws.miou, at, None, "miou")?;
    put(
        &mut m,
        Metric::Precision,
        ws.precision,
        at,
        None,
        "precision",
    )?;
    put(&mut m, Metric::Recall, ws.recall, at, None, "recall")?;
    put(&mut m, Metric::F1, ws.f1, at, None, "f1")?;
    let overall = ScopeMetrics {
        metrics: m,
        sizes: Default::default(),
    };
    let mut classes = BTreeMap::new();
    for (class, wc) in ws.per_class.map(|u| u.0).unwrap_or_default() {
        let at = At::Class(name, &class);
        let mut m = Metrics::default();
        put(&mut m, Metric::Iou, wc.iou, at, None, "iou")?;
        put(
            &mut m,
            Metric::Precision,
            wc.precision,
            at,
            None,
            "precision",
        )?;
        put(&mut m, Metric::Recall, wc.recall, at, None, "recall")?;
        put(&mut m, Metric::F1, wc.f1, at, None, "f1")?;
        put(
            &mut m,
            Metric::OptimalThreshold,
            wc.optimal_threshold,
            at,
            None,
            "optimalThreshold",
        )?;
        let scope = ScopeMetrics {
            metrics: m,
            sizes: Default::default(),
        };
        classes.insert(class, scope);
    }
    Ok(SplitEval { overall, classes })
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
}
