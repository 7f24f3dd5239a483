//! The panels of a saved eval: what `evalgate fetch` adds to the map-results body beside its
//! `evalgate` metadata, each panel's body kept as the server sent it.
//!
//! ```text
//! {"evalgate": {…, "format": 2},
//!  "confidenceSweep": <confidence-sweep body>,
//!  "performanceByClass": {"valid": <performance-by-class?split=valid body>, …},
//!  "confusionMatrix": {"valid": [<confusion-matrix?split=valid&confidence=40 body>, …], …},
//!  "imagePredictions": {"valid": [<image-predictions?split=valid&confidence=40&offset=0 body>, …], …},
//!  "taskType": …, "splits": {…}}
//! ```
//!
//! docs/evals.md documents it. A body without these keys (a plain map-results body, a file
//! saved before panels existed) has no panels and costs nothing more to read.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::confidence_sweep::parse_confidence_sweep;
use super::confusion_matrix::parse_confusion_matrix;
use super::image_predictions::{join_image_pages, parse_image_predictions};
use super::map_results::key;
use super::performance_by_class::parse_performance_by_class;
use super::{EvalMeta, Panels, ParseEvalError};

/// The newest saved-eval format this evalgate reads and writes. Format 1 (no `format` key)
/// is the map-results body with `evalgate` metadata; format 2 adds the panels.
pub const FORMAT: u64 = 2;

/// The top-level key of the confidence sweep in a saved eval.
pub const SWEEP_KEY: &str = "confidenceSweep";
/// The top-level key of performance by class, per split.
pub const BY_CLASS_KEY: &str = "performanceByClass";
/// The top-level key of the confusion matrices, per split.
pub const CONFUSION_KEY: &str = "confusionMatrix";
/// The top-level key of the per-image outcomes, per split: every page, in order.
pub const IMAGES_KEY: &str = "imagePredictions";

/// The panels' bodies as the server sent them: what `evalgate fetch` saves, and what a live
/// `check` parses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PanelBodies {
    /// The `confidence-sweep` body.
    pub confidence_sweep: Option<Vec<u8>>,
    /// `performance-by-class` bodies by the split asked for.
    pub performance_by_class: BTreeMap<String, Vec<u8>>,
    /// `confusion-matrix` bodies by the split asked for, one per confidence.
    pub confusion_matrix: BTreeMap<String, Vec<Vec<u8>>>,
    /// `image-predictions` pages by the split asked for, in offset order (one confidence per
    /// split: the operating point's).
    pub image_predictions: BTreeMap<String, Vec<Vec<u8>>>,
}

impl PanelBodies {
    /// Whether no panel was fetched.
    pub fn is_empty(&self) -> bool {
        self.confidence_sweep.is_none()
            && self.performance_by_class.is_empty()
            && self.confusion_matrix.is_empty()
            && self.image_predictions.is_empty()
    }

    /// Parses every body, naming each in messages by where it sits in a saved eval.
    pub fn parse(&self) -> Result<Panels, ParseEvalError> {
        let mut panels = Panels::default();
        if let Some(body) = &self.confidence_sweep {
            panels.sweep = Some(parse_confidence_sweep(body, SWEEP_KEY)?);
        }
        for (split, body) in &self.performance_by_class {
            let at = format!("{BY_CLASS_KEY}.{}", key(split));
            let parsed = parse_performance_by_class(body, &at)?;
            same_split(&at, split, parsed.split.as_deref())?;
            panels.by_class.insert(split.clone(), parsed.classes);
        }
        for (split, bodies) in &self.confusion_matrix {
            let mut list: Vec<super::ConfusionMatrix> = Vec::with_capacity(bodies.len());
            for (i, body) in bodies.iter().enumerate() {
                let at = format!("{CONFUSION_KEY}.{}[{i}]", key(split));
                let parsed = parse_confusion_matrix(body, &at)?;
                same_split(&at, split, parsed.split.as_deref())?;
                if list
                    .iter()
                    .any(|m| m.confidence == parsed.matrix.confidence)
                {
                    return Err(bad(
                        &at,
                        &format!("a second matrix at confidence {}", parsed.matrix.confidence),
                    ));
                }
                list.push(parsed.matrix);
            }
            panels.confusion.insert(split.clone(), list);
        }
        for (split, bodies) in &self.image_predictions {
            let list_at = format!("{IMAGES_KEY}.{}", key(split));
            let mut pages = Vec::with_capacity(bodies.len());
            for (i, body) in bodies.iter().enumerate() {
                let at = format!("{list_at}[{i}]");
                let page = parse_image_predictions(body, &at)?;
                same_split(&at, split, page.split.as_deref())?;
                pages.push(page);
            }
            // The triples index the classes of the split's matrix at the same confidence.
            let classes = match pages.first() {
                Some(first) => match panels.matrix(split, first.confidence) {
                    Some(m) => m.classes.clone(),
                    None => {
                        return Err(bad(
                            &list_at,
                            &format!(
                                "no confusion matrix of split {split:?} at confidence {}, whose classes the images' confusion triples index; save the eval with evalgate fetch --policy",
                                first.confidence
                            ),
                        ));
                    }
                },
                None => Vec::new(),
            };
            let outcomes = join_image_pages(&pages, &classes, &list_at)?;
            panels.images.insert(split.clone(), outcomes);
        }
        Ok(panels)
    }

    /// The saved eval's panel members, each body as the server sent it, for splicing into the
    /// top-level object after `evalgate`: `,"confidenceSweep":…,…` (empty without panels).
    /// The bodies must have parsed ([`PanelBodies::parse`]): each is one JSON value.
    pub fn to_members(&self) -> Vec<u8> {
        let raw = |out: &mut Vec<u8>, body: &[u8]| {
            let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
            out.extend_from_slice(body.trim_ascii());
        };
        let name = |out: &mut Vec<u8>, name: &str| {
            out.extend_from_slice(
                serde_json::to_string(name)
                    .expect("a string serialises")
                    .as_bytes(),
            );
            out.push(b':');
        };
        let mut out = Vec::new();
        if let Some(body) = &self.confidence_sweep {
            out.push(b',');
            name(&mut out, SWEEP_KEY);
            raw(&mut out, body);
        }
        if !self.performance_by_class.is_empty() {
            out.push(b',');
            name(&mut out, BY_CLASS_KEY);
            out.push(b'{');
            for (i, (split, body)) in self.performance_by_class.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                name(&mut out, split);
                raw(&mut out, body);
            }
            out.push(b'}');
        }
        // Split → a list of bodies (matrices at several confidences, pages of images).
        let lists = |out: &mut Vec<u8>, key: &str, by_split: &BTreeMap<String, Vec<Vec<u8>>>| {
            if by_split.is_empty() {
                return;
            }
            out.push(b',');
            name(out, key);
            out.push(b'{');
            for (i, (split, bodies)) in by_split.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                name(out, split);
                out.push(b'[');
                for (j, body) in bodies.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    raw(out, body);
                }
                out.push(b']');
            }
            out.push(b'}');
        };
        lists(&mut out, CONFUSION_KEY, &self.confusion_matrix);
        lists(&mut out, IMAGES_KEY, &self.image_predictions);
        out
    }
}

/// A panel body's `split`, when it has one, must be the split it is filed under.
fn same_split(at: &str, split: &str, said: Option<&str>) -> Result<(), ParseEvalError> {
    match said {
        Some(said) if said != split => Err(bad(
            at,
            &format!("the body is for split {said:?}, not {split:?}"),
        )),
        _ => Ok(()),
    }
}

/// The panel members of a saved eval as found, unparsed.
#[derive(Default)]
pub(super) struct SavedPanels<'de> {
    pub(super) sweep: Option<&'de RawValue>,
    pub(super) by_class: Option<&'de RawValue>,
    pub(super) confusion: Option<&'de RawValue>,
    pub(super) images: Option<&'de RawValue>,
}

impl SavedPanels<'_> {
    /// Parses what was found. Nothing found, nothing done.
    pub(super) fn parse(&self) -> Result<Panels, ParseEvalError> {
        if self.sweep.is_none()
            && self.by_class.is_none()
            && self.confusion.is_none()
            && self.images.is_none()
        {
            return Ok(Panels::default());
        }
        let mut bodies = PanelBodies {
            confidence_sweep: self.sweep.map(|r| r.get().as_bytes().to_vec()),
            ..PanelBodies::default()
        };
        if let Some(raw) = self.by_class {
            let map: BTreeMap<String, &RawValue> =
                serde_json::from_str(raw.get()).map_err(|e| shape_error(BY_CLASS_KEY, &e))?;
            bodies.performance_by_class = map
                .into_iter()
                .map(|(k, v)| (k, v.get().as_bytes().to_vec()))
                .collect();
        }
        if let Some(raw) = self.confusion {
            let map: BTreeMap<String, Vec<&RawValue>> =
                serde_json::from_str(raw.get()).map_err(|e| shape_error(CONFUSION_KEY, &e))?;
            bodies.confusion_matrix = map
                .into_iter()
                .map(|(k, v)| (k, v.iter().map(|b| b.get().as_bytes().to_vec()).collect()))
                .collect();
        }
        if let Some(raw) = self.images {
            let map: BTreeMap<String, Vec<&RawValue>> =
                serde_json::from_str(raw.get()).map_err(|e| shape_error(IMAGES_KEY, &e))?;
            bodies.image_predictions = map
                .into_iter()
                .map(|(k, v)| (k, v.iter().map(|b| b.get().as_bytes().to_vec()).collect()))
                .collect();
        }
        bodies.parse()
    }
}

/// The `evalgate` member: the record's metadata and the file's format.
#[derive(Deserialize)]
pub(super) struct MetaMember {
    #[serde(flatten)]
    pub(super) meta: EvalMeta,
    pub(super) format: Option<serde_json::Value>,
}

impl MetaMember {
    /// Refuses a file written by a newer evalgate, whose meaning this one would miss.
    pub(super) fn check_format(&self) -> Result<(), ParseEvalError> {
        match &self.format {
            None => Ok(()),
            Some(v) => match v.as_u64() {
                Some(n) if (1..=FORMAT).contains(&n) => Ok(()),
                Some(n) if n > FORMAT => Err(ParseEvalError::NewerFormat(n)),
                _ => Err(bad(
                    "evalgate.format",
                    &format!("{v} is not a format version (1 or {FORMAT})"),
                )),
            },
        }
    }
}

/// A panel that is not what its endpoint documents.
pub(super) fn bad(path: &str, why: &str) -> ParseEvalError {
    ParseEvalError::BadPanel {
        path: path.to_owned(),
        why: why.to_owned(),
    }
}

/// A panel whose JSON is not the documented shape, said without positions: they would count
/// from the panel's start, not the file's.
pub(super) fn shape_error(path: &str, e: &serde_json::Error) -> ParseEvalError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    bad(path, full.strip_suffix(&suffix).unwrap_or(&full))
}

/// A value that must be a fraction when present.
pub(super) fn fraction(
    value: Option<f64>,
    path: &str,
    field: &str,
) -> Result<Option<f64>, ParseEvalError> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(ParseEvalError::OutOfRange {
            path: format!("{path}.{field}"),
            value: v,
        }),
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Percent;

    fn bodies() -> PanelBodies {
        let mut b = PanelBodies {
            confidence_sweep: Some(
                include_bytes!("../../tests/fixtures/roboflow/docs-confidence-sweep.json").to_vec(),
            ),
            ..PanelBodies::default()
        };
        b.performance_by_class.insert(
            "test".into(),
            include_bytes!(
                "../../tests/fixtures/roboflow/docs-performance-by-class-object-detection.json"
            )
            .to_vec(),
        );
        b.confusion_matrix.insert(
            "test".into(),
            vec![
                include_bytes!("../../tests/fixtures/roboflow/docs-confusion-matrix.json")
                    .to_vec(),
                br#"{"split": "test", "confidenceThreshold": 0.37, "classes": ["Car-rims", "background"], "matrix": [[18, 2], [9, 0]]}"#.to_vec(),
            ],
        );
        b
    }

    #[test]
    fn members_splice_into_a_body_and_parse_back_to_the_same_panels() {
        let b = bodies();
        let direct = b.parse().unwrap();
        let mut file = br#"{"evalgate": {"evalId": "e", "format": 2}"#.to_vec();
        file.extend_from_slice(&b.to_members());
        file.extend_from_slice(br#","splits": {"test": {"map50": 0.5}}}"#);
        // The saved file is valid JSON in which each body is the server's, verbatim.
        let v: serde_json::Value = serde_json::from_slice(&file).unwrap();
        let sweep: serde_json::Value =
            serde_json::from_slice(b.confidence_sweep.as_ref().unwrap()).unwrap();
        assert_eq!(v[SWEEP_KEY], sweep);
        assert_eq!(v[CONFUSION_KEY]["test"][1]["confidenceThreshold"], 0.37);
        let eval = crate::model::parse_eval(&file).unwrap();
        assert_eq!(eval.panels, direct);
        assert_eq!(eval.meta.eval_id.as_deref(), Some("e"));
        let p = |n| Percent::new(n).unwrap();
        assert_eq!(eval.panels.matrix("test", p(37)).unwrap().row_sum(0), 20);
        assert_eq!(eval.panels.matrix("test", p(20)).unwrap().row_sum(0), 20);
        assert!(!eval.panels.by_class["test"]["music-note"].present);
        assert_eq!(
            eval.panels.sweep.as_ref().unwrap()["test"]
                .overall
                .optimal_threshold,
            Some(0.37)
        );
        assert!(PanelBodies::default().to_members().is_empty());
    }

    #[test]
    fn a_saved_eval_reads_at_an_operating_point() {
        let file = br#"{"evalgate": {"format": 2},
            "confidenceSweep": {"splits": {"valid": {
                "perThreshold": {"0.40": {"precision": 0.88, "recall": 0.81, "f1": 0.84}},
                "optimalThreshold": 0.4,
                "perClass": {"car": {"perThreshold": {"0.40": {"precision": 0.9, "recall": 0.85, "f1": 0.87}}}}}}},
            "confusionMatrix": {"valid": [{"confidenceThreshold": 0.4, "classes": ["car", "bus", "background"],
                "matrix": [[85, 2, 13], [1, 0, 0], [9, 0, 0]]}]},
            "splits": {"valid": {"map50": 0.93, "perClass": {"car": {"map50": 0.93}, "bus": {"map50": null}}}}}"#;
        let eval = crate::model::parse_eval(file).unwrap();
        let at = eval.read_at(Some(crate::model::OperatingPoint::Confidence(
            Percent::new(40).unwrap(),
        )));
        let valid = &at.splits["valid"];
        use crate::model::Metric;
        assert_eq!(valid.overall.metrics.get(Metric::Recall), Some(0.81));
        assert_eq!(
            valid.classes["car"].metrics.get(Metric::Precision),
            Some(0.9)
        );
        assert_eq!(valid.classes["car"].support, Some(100));
        assert_eq!(valid.classes["bus"].support, Some(1));
    }

    #[test]
    fn image_pages_are_saved_verbatim_and_join_with_the_matrix_at_their_confidence() {
        let mut b = bodies();
        let page = |offset: u64, id: &str| {
            format!(
                r#"{{"split": "test", "confidenceThreshold": 0.2, "totalImages": 2, "offset": {offset}, "limit": 1,
                "images": [{{"imageId": "{id}", "cluster": {{"id": 1}}, "stats": {{"truePositives": 1, "falsePositives": 0, "falseNegatives": 1}},
                "confusion": [[0, 0, 1], [1, 2, 1]]}}]}}"#
            )
            .into_bytes()
        };
        b.image_predictions
            .insert("test".into(), vec![page(0, "i1"), page(1, "i2")]);
        let mut file = br#"{"evalgate": {"format": 2}"#.to_vec();
        file.extend_from_slice(&b.to_members());
        file.extend_from_slice(br#","splits": {"test": {"map50": 0.5}}}"#);
        let v: serde_json::Value = serde_json::from_slice(&file).unwrap();
        assert_eq!(v[IMAGES_KEY]["test"][1]["images"][0]["cluster"]["id"], 1);
        let eval = crate::model::parse_eval(&file).unwrap();
        let images = &eval.panels.images["test"];
        // The matrix at 0.20 (the docs' example) has Car-rims and music-note.
        assert_eq!(images.classes, ["Car-rims", "music-note"]);
        assert_eq!(images.confidence, Percent::new(20));
        assert_eq!(images.images[1].id, "i2");
        assert_eq!(images.images[1].class_counts(1), (0, 0, 1));
        assert_eq!(eval.panels, b.parse().unwrap());

        // At a confidence no matrix of the split has, the triples index nothing known.
        let mut b = bodies();
        b.image_predictions.insert(
            "test".into(),
            vec![
                String::from_utf8(page(0, "i1"))
                    .unwrap()
                    .replace("0.2,", "0.3,")
                    .replace("\"totalImages\": 2", "\"totalImages\": 1")
                    .into_bytes(),
            ],
        );
        assert_eq!(
            b.parse().unwrap_err().to_string(),
            "imagePredictions.test: no confusion matrix of split \"test\" at confidence 0.30, whose classes the images' confusion triples index; save the eval with evalgate fetch --policy"
        );
        let mut b = bodies();
        b.image_predictions
            .insert("valid".into(), vec![page(0, "i1")]);
        assert_eq!(
            b.parse().unwrap_err().to_string(),
            "imagePredictions.valid[0]: the body is for split \"test\", not \"valid\""
        );
    }

    #[test]
    fn a_plain_body_and_a_format_1_file_have_no_panels() {
        for body in [
            &br#"{"splits": {"valid": {"map50": 0.5}}}"#[..],
            br#"{"evalgate": {"evalId": "e"}, "splits": {"valid": {"map50": 0.5}}}"#,
            br#"{"evalgate": {"evalId": "e", "format": 1}, "splits": {"valid": {"map50": 0.5}}}"#,
        ] {
            let eval = crate::model::parse_eval(body).unwrap();
            assert!(eval.panels.is_empty());
        }
    }

    #[test]
    fn refuses_a_newer_format_and_misfiled_panels() {
        let err =
            crate::model::parse_eval(br#"{"evalgate": {"format": 3}, "splits": {}}"#).unwrap_err();
        assert_eq!(err, ParseEvalError::NewerFormat(3));
        assert!(err.to_string().contains("update evalgate"), "{err}");
        let err = crate::model::parse_eval(br#"{"evalgate": {"format": "2"}, "splits": {}}"#)
            .unwrap_err();
        assert!(err.to_string().starts_with("evalgate.format: "), "{err}");
        let mut b = bodies();
        let body = b.performance_by_class.remove("test").unwrap();
        b.performance_by_class.insert("valid".into(), body);
        assert_eq!(
            b.parse().unwrap_err().to_string(),
            "performanceByClass.valid: the body is for split \"test\", not \"valid\""
        );
        let mut b = bodies();
        let list = b.confusion_matrix.get_mut("test").unwrap();
        list.push(list[0].clone());
        assert_eq!(
            b.parse().unwrap_err().to_string(),
            "confusionMatrix.test[2]: a second matrix at confidence 0.20"
        );
        let err =
            crate::model::parse_eval(br#"{"confusionMatrix": [], "splits": {}}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("confusionMatrix: invalid type"),
            "{err}"
        );
        let err = crate::model::parse_eval(
            br#"{"confusionMatrix": {"valid": [{"confidenceThreshold": 0.5, "classes": ["a", "background"], "matrix": [[1, 0], [0, 7]]}]}, "confusionMatrix": {}, "splits": {}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate field"), "{err}");
    }
}
