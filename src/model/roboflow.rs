//! Roboflow's `map-results` body → [`Eval`].
//!
//! The wire types mirror the JSON and ignore unknown fields, because the API grows. Detection
//! and semantic-segmentation fields live side by side in one set of wire types; `taskType`
//! decides which of them become metrics.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Eval, Metric, Metrics, ScopeMetrics, Size, SplitEval, Task};

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
}

#[derive(Deserialize)]
struct WireEval {
    #[serde(rename = "taskType")]
    task_type: Option<String>,
    splits: Option<BTreeMap<String, WireSplit>>,
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
    per_class: Option<BTreeMap<String, WireClass>>,
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
    let wire: WireEval = serde_json::from_slice(bytes).map_err(json_error)?;
    let task = match wire.task_type.as_deref() {
        None | Some("object-detection-like") => Task::ObjectDetection,
        Some("semantic-segmentation") => Task::SemanticSegmentation,
        Some(other) => return Err(ParseEvalError::UnsupportedTask(other.to_owned())),
    };
    let wire_splits = wire.splits.ok_or(ParseEvalError::NoSplits)?;
    let mut splits = BTreeMap::new();
    for (name, ws) in wire_splits {
        let path = format!("splits.{}", key(&name));
        let split = match task {
            Task::ObjectDetection => detection_split(&path, ws)?,
            Task::SemanticSegmentation => segmentation_split(&path, ws)?,
        };
        splits.insert(name, split);
    }
    Ok(Eval { task, splits })
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

struct Builder<'a> {
    path: &'a str,
    metrics: Metrics,
}

impl<'a> Builder<'a> {
    fn new(path: &'a str) -> Self {
        Builder {
            path,
            metrics: Metrics::default(),
        }
    }

    fn set(
        &mut self,
        metric: Metric,
        wire_name: &str,
        value: Option<f64>,
    ) -> Result<(), ParseEvalError> {
        if let Some(v) = value
            && !(0.0..=1.0).contains(&v)
        {
            return Err(ParseEvalError::OutOfRange {
                path: format!("{}.{wire_name}", self.path),
                value: v,
            });
        }
        self.metrics.set(metric, value);
        Ok(())
    }
}

fn map_metrics(
    path: &str,
    map50: Option<f64>,
    map50_95: Option<f64>,
    map75: Option<f64>,
) -> Result<Metrics, ParseEvalError> {
    let mut b = Builder::new(path);
    b.set(Metric::Map50, "map50", map50)?;
    b.set(Metric::Map50_95, "map50_95", map50_95)?;
    b.set(Metric::Map75, "map75", map75)?;
    Ok(b.metrics)
}

fn sizes(path: &str, wire: Option<WireSizes>) -> Result<[Metrics; 3], ParseEvalError> {
    let mut out = [Metrics::default(); 3];
    let Some(w) = wire else { return Ok(out) };
    for (size, bucket) in Size::ALL.into_iter().zip([w.small, w.medium, w.large]) {
        if let Some(m) = bucket {
            let p = format!("{path}.byObjectSize.{size}");
            out[size as usize] = map_metrics(&p, m.map50, m.map50_95, m.map75)?;
        }
    }
    Ok(out)
}

fn detection_split(path: &str, ws: WireSplit) -> Result<SplitEval, ParseEvalError> {
    let overall = ScopeMetrics {
        metrics: map_metrics(path, ws.map50, ws.map50_95, ws.map75)?,
        sizes: sizes(path, ws.by_object_size)?,
    };
    let mut classes = BTreeMap::new();
    for (name, wc) in ws.per_class.unwrap_or_default() {
        let p = format!("{path}.perClass[{name:?}]");
        let class = ScopeMetrics {
            metrics: map_metrics(&p, wc.map50, wc.map50_95, wc.map75)?,
            sizes: sizes(&p, wc.by_object_size)?,
        };
        classes.insert(name, class);
    }
    Ok(SplitEval { overall, classes })
}

fn segmentation_split(path: &str, ws: WireSplit) -> Result<SplitEval, ParseEvalError> {
    let mut b = Builder::new(path);
    b.set(Metric::Miou, "miou", ws.miou)?;
    b.set(Metric::Precision, "precision", ws.precision)?;
    b.set(Metric::Recall, "recall", ws.recall)?;
    b.set(Metric::F1, "f1", ws.f1)?;
    let overall = ScopeMetrics {
        metrics: b.metrics,
        sizes: Default::default(),
    };
    let mut classes = BTreeMap::new();
    for (name, wc) in ws.per_class.unwrap_or_default() {
        let p = format!("{path}.perClass[{name:?}]");
        let mut b = Builder::new(&p);
        b.set(Metric::Iou, "iou", wc.iou)?;
        b.set(Metric::Precision, "precision", wc.precision)?;
        b.set(Metric::Recall, "recall", wc.recall)?;
        b.set(Metric::F1, "f1", wc.f1)?;
        b.set(
            Metric::OptimalThreshold,
            "optimalThreshold",
            wc.optimal_threshold,
        )?;
        let class = ScopeMetrics {
            metrics: b.metrics,
            sizes: Default::default(),
        };
        classes.insert(name, class);
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
    }

    #[test]
    fn reports_json_errors_with_position() {
        let err = parse_eval(b"{\"splits\": {\"valid\": {\"map50\": \"high\"}}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1, column 37: invalid type: string \"high\", expected f64"
        );
        let err = parse_eval(b"<html>502 Bad Gateway</html>").unwrap_err();
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
