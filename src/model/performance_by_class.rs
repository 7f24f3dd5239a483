//! Roboflow's `performance-by-class` body → each class's values at its F1-optimal threshold.
//!
//! `{"taskType": …, "split": "valid", "classes": [{"className": "car", "map50": …,
//! "precision": …, "recall": …, "f1": …, "optimalThreshold": …}]}`. Semantic-segmentation
//! entries carry `iou` and `classID` in place of the `map*` fields. A class absent from the
//! split has `map50: null` (and P/R/F1 of 0, which must not read as a collapse).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::saved_eval::{bad, fraction, shape_error};
use super::{ClassPerformance, ParseEvalError, Prf};

#[derive(Deserialize)]
struct Body {
    split: Option<String>,
    classes: Option<Classes>,
}

/// The documented list, or an object keyed by name as `map-results` may have it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Classes {
    List(Vec<Entry>),
    Map(BTreeMap<String, Entry>),
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    class_name: Option<String>,
    map50: Option<f64>,
    map50_95: Option<f64>,
    map75: Option<f64>,
    iou: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
    optimal_threshold: Option<f64>,
}

/// A parsed `performance-by-class` body: the split it says it is for, and its classes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassPerformanceBody {
    /// The body's `split`, when it has one.
    pub split: Option<String>,
    /// Class name → entry.
    pub classes: BTreeMap<String, ClassPerformance>,
}

/// Parses a `performance-by-class` body; `path` names it in messages
/// (`performanceByClass.valid`).
pub fn parse_performance_by_class(
    bytes: &[u8],
    path: &str,
) -> Result<ClassPerformanceBody, ParseEvalError> {
    let body: Body = serde_json::from_slice(bytes).map_err(|e| shape_error(path, &e))?;
    let entries: Vec<(String, Entry)> = match body.classes {
        None => {
            return Err(bad(
                path,
                "no classes list: this is not a performance-by-class body",
            ));
        }
        Some(Classes::List(list)) => list
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let at = format!("{path}.classes[{i}]");
                match &entry.class_name {
                    Some(name) => Ok((name.clone(), entry)),
                    None => Err(bad(&at, "the entry has no className")),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(Classes::Map(map)) => map.into_iter().collect(),
    };
    let mut classes = BTreeMap::new();
    for (name, entry) in entries {
        let at = format!("{path}.classes[{name:?}]");
        for (value, field) in [
            (entry.map50, "map50"),
            (entry.map50_95, "map50_95"),
            (entry.map75, "map75"),
            (entry.iou, "iou"),
        ] {
            fraction(value, &at, field)?;
        }
        let perf = ClassPerformance {
            metrics: Prf {
                precision: fraction(entry.precision, &at, "precision")?,
                recall: fraction(entry.recall, &at, "recall")?,
                f1: fraction(entry.f1, &at, "f1")?,
            },
            optimal_threshold: fraction(entry.optimal_threshold, &at, "optimalThreshold")?,
            // Detection marks an absent class with `map50: null`; semantic segmentation has
            // `iou` in its place.
            present: entry.map50.is_some() || entry.iou.is_some(),
        };
        if classes.insert(name, perf).is_some() {
            return Err(bad(&at, "the class is named twice"));
        }
    }
    Ok(ClassPerformanceBody {
        split: body.split,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_docs_example_with_an_absent_class() {
        let body = include_bytes!(
            "../../tests/fixtures/roboflow/docs-performance-by-class-object-detection.json"
        );
        let parsed = parse_performance_by_class(body, "performanceByClass.test").unwrap();
        assert_eq!(parsed.split.as_deref(), Some("test"));
        let rims = &parsed.classes["Car-rims"];
        assert!(rims.present);
        assert_eq!(rims.metrics.recall, Some(0.85));
        assert_eq!(rims.optimal_threshold, Some(0.37));
        let note = &parsed.classes["music-note"];
        assert!(
            !note.present,
            "map50: null marks a class absent from the split"
        );
        assert_eq!(note.metrics.f1, Some(0.0));
    }

    #[test]
    fn semantic_segmentation_entries_carry_iou_and_class_id() {
        let body = br#"{"taskType": "semantic-segmentation", "split": "valid", "classes": [
            {"className": "road", "classID": 1, "iou": 0.8, "precision": 0.9, "recall": 0.85, "f1": 0.87, "optimalThreshold": 0.5},
            {"className": "sky", "classID": 2, "iou": null, "precision": 0, "recall": 0, "f1": 0}]}"#;
        let parsed = parse_performance_by_class(body, "p").unwrap();
        assert!(parsed.classes["road"].present);
        assert_eq!(parsed.classes["road"].metrics.f1, Some(0.87));
        assert!(!parsed.classes["sky"].present);
    }

    #[test]
    fn refuses_bad_entries_naming_them() {
        let p = "performanceByClass.valid";
        let err = parse_performance_by_class(br#"{"classes": [{"recall": 0.5}]}"#, p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "performanceByClass.valid.classes[0]: the entry has no className"
        );
        let body = br#"{"classes": [{"className": "a"}, {"className": "a"}]}"#;
        let err = parse_performance_by_class(body, p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "performanceByClass.valid.classes[\"a\"]: the class is named twice"
        );
        let body = br#"{"classes": [{"className": "a", "map75": 75}]}"#;
        assert_eq!(
            parse_performance_by_class(body, p).unwrap_err(),
            ParseEvalError::OutOfRange {
                path: "performanceByClass.valid.classes[\"a\"].map75".into(),
                value: 75.0
            }
        );
        let err = parse_performance_by_class(br#"{"split": "valid"}"#, p).unwrap_err();
        assert!(
            err.to_string().contains("not a performance-by-class body"),
            "{err}"
        );
    }
}
