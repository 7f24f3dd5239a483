//! Roboflow's `confusion-matrix` body → a [`ConfusionMatrix`].
//!
//! `{"split": "valid", "confidenceThreshold": 0.4, "classes": ["car", …, "background"],
//! "matrix": [[…], …]}`: `matrix[actual][predicted]` counts (pixels for semantic
//! segmentation), the last row and column background.

use serde::Deserialize;

use super::saved_eval::{bad, fraction, shape_error};
use super::{ConfusionMatrix, MatrixError, ParseEvalError, Percent};

/// The name of the last row and column.
const BACKGROUND: &str = "background";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    split: Option<String>,
    confidence_threshold: Option<f64>,
    classes: Option<Vec<String>>,
    matrix: Option<Vec<Vec<serde_json::Number>>>,
}

/// A parsed `confusion-matrix` body: the split it says it is for, and the matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrixBody {
    /// The body's `split`, when it has one.
    pub split: Option<String>,
    /// The matrix, at the body's confidence to the nearest percent.
    pub matrix: ConfusionMatrix,
}

/// Parses a `confusion-matrix` body; `path` names it in messages (`confusionMatrix.valid[0]`).
pub fn parse_confusion_matrix(
    bytes: &[u8],
    path: &str,
) -> Result<ConfusionMatrixBody, ParseEvalError> {
    let body: Body = serde_json::from_slice(bytes).map_err(|e| shape_error(path, &e))?;
    let (Some(mut classes), Some(rows)) = (body.classes, body.matrix) else {
        return Err(bad(
            path,
            "no classes and matrix: this is not a confusion-matrix body",
        ));
    };
    let confidence = fraction(body.confidence_threshold, path, "confidenceThreshold")?
        .and_then(Percent::nearest)
        .ok_or_else(|| {
            bad(
                path,
                "no confidenceThreshold: a matrix means nothing without the confidence it was computed at",
            )
        })?;
    if classes.last().map(String::as_str) != Some(BACKGROUND) {
        return Err(bad(
            &format!("{path}.classes"),
            "the last class must be background (the row of false positives and the column of missed ground truth)",
        ));
    }
    classes.pop();
    let n = classes.len() + 1;
    if rows.len() != n {
        return Err(bad(
            &format!("{path}.matrix"),
            &format!("{} rows for {n} classes with background", rows.len()),
        ));
    }
    let mut counts = Vec::with_capacity(n * n);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != n {
            return Err(bad(
                &format!("{path}.matrix[{i}]"),
                &format!("{} columns for {n} classes with background", row.len()),
            ));
        }
        for (j, count) in row.iter().enumerate() {
            let count = count.as_u64().ok_or_else(|| {
                bad(
                    &format!("{path}.matrix[{i}][{j}]"),
                    &format!("{count} is not a count (a whole number, 0 or more)"),
                )
            })?;
            counts.push(count);
        }
    }
    let matrix = ConfusionMatrix::new(confidence, classes, counts).map_err(|e| match e {
        MatrixError::Duplicate(_) => bad(&format!("{path}.classes"), &e.to_string()),
        MatrixError::Shape { .. } => bad(&format!("{path}.matrix"), &e.to_string()),
    })?;
    Ok(ConfusionMatrixBody {
        split: body.split,
        matrix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_docs_example() {
        let body = include_bytes!("../../tests/fixtures/roboflow/docs-confusion-matrix.json");
        let parsed = parse_confusion_matrix(body, "confusionMatrix.test[0]").unwrap();
        assert_eq!(parsed.split.as_deref(), Some("test"));
        let m = parsed.matrix;
        assert_eq!(m.confidence, Percent::new(20).unwrap());
        assert_eq!(m.classes, ["Car-rims", "music-note"]);
        assert_eq!(m.row_sum(0), 20);
        // 80 false positives of Car-rims in the background row.
        assert_eq!(m.count(m.background(), 0), 80);
    }

    #[test]
    fn the_threshold_is_read_to_the_nearest_percent() {
        let body = br#"{"confidenceThreshold": 0.374, "classes": ["a", "background"], "matrix": [[1, 2], [3, 0]]}"#;
        let m = parse_confusion_matrix(body, "m").unwrap().matrix;
        assert_eq!(m.confidence.get(), 37);
        assert_eq!(m.counts, [1, 2, 3, 0]);
    }

    #[test]
    fn refuses_what_is_not_a_matrix_naming_where() {
        let cases: [(&[u8], &str); 8] = [
            (
                br#"{"confidenceThreshold": 0.5, "classes": ["a"], "matrix": [[1]]}"#,
                "m.classes: the last class must be background",
            ),
            (
                br#"{"classes": ["a", "background"], "matrix": [[1, 0], [0, 0]]}"#,
                "m: no confidenceThreshold",
            ),
            (
                br#"{"confidenceThreshold": 0.5, "classes": ["a", "background"], "matrix": [[1, 0]]}"#,
                "m.matrix: 1 rows for 2 classes",
            ),
            (
                br#"{"confidenceThreshold": 0.5, "classes": ["a", "background"], "matrix": [[1, 0], [0]]}"#,
                "m.matrix[1]: 1 columns for 2 classes",
            ),
            (
                br#"{"confidenceThreshold": 0.5, "classes": ["a", "background"], "matrix": [[1, -2], [0, 0]]}"#,
                "m.matrix[0][1]: -2 is not a count",
            ),
            (
                br#"{"confidenceThreshold": 0.5, "classes": ["a", "background"], "matrix": [[1, 0.5], [0, 0]]}"#,
                "m.matrix[0][1]: 0.5 is not a count",
            ),
            (
                br#"{"confidenceThreshold": 0.5, "classes": ["a", "a", "background"], "matrix": [[0,0,0],[0,0,0],[0,0,0]]}"#,
                "m.classes: class \"a\" is named twice",
            ),
            (br#"{"split": "valid"}"#, "m: no classes and matrix"),
        ];
        for (body, start) in cases {
            let err = parse_confusion_matrix(body, "m").unwrap_err().to_string();
            assert!(err.starts_with(start), "{err}");
        }
        let body = br#"{"confidenceThreshold": 40, "classes": ["background"], "matrix": [[0]]}"#;
        assert_eq!(
            parse_confusion_matrix(body, "m").unwrap_err(),
            ParseEvalError::OutOfRange {
                path: "m.confidenceThreshold".into(),
                value: 40.0
            }
        );
    }
}
