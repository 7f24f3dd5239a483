//! Roboflow's `image-predictions` pages → one split's [`ImageOutcomes`].
//!
//! `{"split": "valid", "confidenceThreshold": 0.4, "totalImages": 1200, "offset": 1000,
//! "limit": 1000, "images": [{"imageId": …, "imageName": …, "stats": {"truePositives": …,
//! "falsePositives": …, "falseNegatives": …, …}, "confusion": [[actual, predicted, count], …],
//! …}, …]}`: one page of the split's images at one confidence. The `confusion` triples index
//! the split's confusion matrix's `classes` (background one past the last), so the pages are
//! joined with that matrix. Fields evalgate does not read (`cluster`, `augmentations`, the
//! per-image precision and recall) are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::saved_eval::{bad, fraction, shape_error};
use super::{ImageOutcome, ImageOutcomes, ParseEvalError, Percent};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    split: Option<String>,
    confidence_threshold: Option<f64>,
    total_images: Option<serde_json::Number>,
    offset: Option<serde_json::Number>,
    limit: Option<serde_json::Number>,
    images: Option<Vec<Image>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Image {
    image_id: Option<serde_json::Value>,
    image_name: Option<serde_json::Value>,
    stats: Option<Stats>,
    confusion: Option<Vec<Vec<serde_json::Number>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    true_positives: Option<serde_json::Number>,
    false_positives: Option<serde_json::Number>,
    false_negatives: Option<serde_json::Number>,
}

/// One parsed page of `image-predictions`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImagePredictionsPage {
    /// The body's `split`, when it has one.
    pub split: Option<String>,
    /// The confidence the outcomes were computed at, to the nearest percent.
    pub confidence: Percent,
    /// How many images the split has at all (over every page).
    pub total_images: u64,
    /// Where this page starts among them, when the body says.
    pub offset: Option<u64>,
    /// The page size the server used, when the body says.
    pub limit: Option<u64>,
    /// This page's images, in the order listed; their triples are not yet checked against
    /// any class list ([`join_image_pages`] does that).
    pub images: Vec<ImageOutcome>,
}

/// Parses one `image-predictions` page; `path` names it in messages
/// (`imagePredictions.valid[0]`).
pub fn parse_image_predictions(
    bytes: &[u8],
    path: &str,
) -> Result<ImagePredictionsPage, ParseEvalError> {
    let body: Body = serde_json::from_slice(bytes).map_err(|e| shape_error(path, &e))?;
    let Some(raw_images) = body.images else {
        return Err(bad(
            path,
            "no images list: this is not an image-predictions body",
        ));
    };
    let confidence = fraction(body.confidence_threshold, path, "confidenceThreshold")?
        .and_then(Percent::nearest)
        .ok_or_else(|| {
            bad(
                path,
                "no confidenceThreshold: per-image outcomes mean nothing without the confidence they were computed at",
            )
        })?;
    let total_images = count(body.total_images.as_ref(), &format!("{path}.totalImages"))?
        .ok_or_else(|| {
            bad(
                path,
                "no totalImages: without it nobody can tell whether every page is here",
            )
        })?;
    let offset = count(body.offset.as_ref(), &format!("{path}.offset"))?;
    let limit = count(body.limit.as_ref(), &format!("{path}.limit"))?;
    let mut images = Vec::with_capacity(raw_images.len());
    for (i, raw) in raw_images.into_iter().enumerate() {
        let at = format!("{path}.images[{i}]");
        let id = match raw.image_id {
            Some(serde_json::Value::String(id)) if !id.is_empty() => id,
            Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
                return Err(bad(
                    &at,
                    "no imageId: images are paired across evals by their id",
                ));
            }
            Some(other) => {
                return Err(bad(
                    &format!("{at}.imageId"),
                    &format!("{} is not an image id (a string)", kind(&other)),
                ));
            }
        };
        let name = match raw.image_name {
            Some(serde_json::Value::String(name)) if !name.is_empty() => name,
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::String(_)) => id.clone(),
            Some(other) => {
                return Err(bad(
                    &format!("{at}.imageName"),
                    &format!("{} is not an image name (a string)", kind(&other)),
                ));
            }
        };
        let stats = raw.stats.ok_or_else(|| {
            bad(
                &at,
                "no stats: the image's true positives, false positives and false negatives are needed",
            )
        })?;
        let stat = |n: Option<&serde_json::Number>, field: &str| {
            count(n, &format!("{at}.stats.{field}"))?.ok_or_else(|| {
                bad(
                    &format!("{at}.stats"),
                    &format!("no {field}: the image's counts are needed"),
                )
            })
        };
        let tp = stat(stats.true_positives.as_ref(), "truePositives")?;
        let fp = stat(stats.false_positives.as_ref(), "falsePositives")?;
        let fn_ = stat(stats.false_negatives.as_ref(), "falseNegatives")?;
        let mut confusion = Vec::new();
        for (j, triple) in raw.confusion.unwrap_or_default().iter().enumerate() {
            let at = format!("{at}.confusion[{j}]");
            let [a, p, c] = triple.as_slice() else {
                return Err(bad(
                    &at,
                    &format!(
                        "{} numbers, not an [actual, predicted, count] triple",
                        triple.len()
                    ),
                ));
            };
            let mut out = [0u32; 3];
            for (k, n) in [a, p, c].into_iter().enumerate() {
                out[k] = n
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| {
                        bad(
                            &format!("{at}[{k}]"),
                            &format!("{n} is not a whole number from 0 to {}", u32::MAX),
                        )
                    })?;
            }
            confusion.push(out);
        }
        images.push(ImageOutcome {
            id,
            name,
            tp,
            fp,
            fn_,
            confusion,
        });
    }
    Ok(ImagePredictionsPage {
        split: body.split,
        confidence,
        total_images,
        offset,
        limit,
        images,
    })
}

/// Joins a split's pages, in order, into its outcomes over `classes` (the split's confusion
/// matrix's, same eval, same confidence, without background); `path` names the pages'
/// list (`imagePredictions.valid`).
///
/// The pages must agree on the confidence and `totalImages`, follow one another (each page's
/// `offset`, when given, is where the previous one ended) and hold every image exactly once.
pub fn join_image_pages(
    pages: &[ImagePredictionsPage],
    classes: &[String],
    path: &str,
) -> Result<ImageOutcomes, ParseEvalError> {
    let Some(first) = pages.first() else {
        return Err(bad(path, "no pages: an empty list holds no image"));
    };
    let mut images: Vec<ImageOutcome> =
        Vec::with_capacity(first.total_images.min(1 << 20) as usize);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, page) in pages.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if page.confidence != first.confidence {
            return Err(bad(
                &at,
                &format!(
                    "computed at confidence {}, while the first page is at {}",
                    page.confidence, first.confidence
                ),
            ));
        }
        if page.total_images != first.total_images {
            return Err(bad(
                &format!("{at}.totalImages"),
                &format!(
                    "{} images, while the first page says {}: the split changed between pages; fetch it again",
                    page.total_images, first.total_images
                ),
            ));
        }
        let so_far = images.len() as u64;
        if let Some(offset) = page.offset
            && offset != so_far
        {
            return Err(bad(
                &format!("{at}.offset"),
                &format!(
                    "starts at image {offset}, but the pages before it end at {so_far}: a page is short, missing or out of order; fetch the eval again"
                ),
            ));
        }
        images.extend(page.images.iter().cloned());
    }
    for (i, image) in images.iter().enumerate() {
        if let Some(before) = seen.insert(&image.id, i) {
            return Err(bad(
                path,
                &format!(
                    "image {:?} is listed twice (images {before} and {i}): the pages overlap; fetch the eval again",
                    image.id
                ),
            ));
        }
    }
    if images.len() as u64 != first.total_images {
        return Err(bad(
            path,
            &format!(
                "the pages hold {} images of the {} totalImages says: a page is short or missing; fetch the eval again",
                images.len(),
                first.total_images
            ),
        ));
    }
    let limit = classes.len() as u64 + 1;
    for image in &images {
        for (j, triple) in image.confusion.iter().enumerate() {
            if let Some(&index) = triple[..2].iter().find(|&&x| u64::from(x) >= limit) {
                return Err(bad(
                    path,
                    &format!(
                        "image {:?}: confusion[{j}] has index {index}, past the {} classes and background of the split's confusion matrix",
                        image.id,
                        classes.len()
                    ),
                ));
            }
        }
    }
    Ok(ImageOutcomes {
        confidence: Some(first.confidence),
        classes: classes.to_vec(),
        images,
    })
}

/// A count that must be a whole number of 0 or more when present.
fn count(n: Option<&serde_json::Number>, path: &str) -> Result<Option<u64>, ParseEvalError> {
    n.map(|n| {
        n.as_u64().ok_or_else(|| {
            bad(
                path,
                &format!("{n} is not a count (a whole number, 0 or more)"),
            )
        })
    })
    .transpose()
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &[u8] = include_bytes!("../../tests/fixtures/roboflow/docs-image-predictions.json");
    const SDK: &[u8] = include_bytes!(
        "../../tests/fixtures/roboflow/sdk-test-image-predictions-live-regression.json"
    );

    fn classes(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_the_docs_example_ignoring_what_it_does_not_use() {
        let page = parse_image_predictions(DOCS, "imagePredictions.test[0]").unwrap();
        assert_eq!(page.split.as_deref(), Some("test"));
        assert_eq!(page.confidence.get(), 20);
        assert_eq!(page.total_images, 192);
        assert_eq!((page.offset, page.limit), (Some(0), Some(50)));
        let im = &page.images[0];
        assert_eq!(
            (im.id.as_str(), im.name.as_str()),
            ("1QKLCUsfAzFiCIb6YCJj", "abc.jpg")
        );
        assert_eq!((im.tp, im.fp, im.fn_), (2, 7, 0));
        assert_eq!(im.confusion, [[0, 0, 2], [2, 0, 7]]);
        // The docs' confusion matrix has two classes and background: index 2 is background.
        assert_eq!(im.class_counts(0), (2, 7, 0));
    }

    #[test]
    fn reads_the_sdk_body_without_confusion_triples() {
        let page = parse_image_predictions(SDK, "p").unwrap();
        let im = &page.images[0];
        assert_eq!((im.tp, im.fp, im.fn_), (7, 2, 1));
        assert!(im.confusion.is_empty());
        let joined = join_image_pages(&[page], &classes(&["a"]), "p").unwrap();
        assert_eq!(joined.images.len(), 1);
        assert_eq!(joined.confidence.map(Percent::get), Some(20));
    }

    #[test]
    fn a_missing_name_falls_back_to_the_id() {
        let body = br#"{"confidenceThreshold": 0.4, "totalImages": 1, "images": [{"imageId": "i9", "stats": {"truePositives": 0, "falsePositives": 0, "falseNegatives": 3}}]}"#;
        let page = parse_image_predictions(body, "p").unwrap();
        assert_eq!(page.images[0].name, "i9");
        assert_eq!(page.offset, None);
    }

    #[test]
    fn refuses_what_is_not_a_page_naming_where() {
        let ok_stats = r#""stats": {"truePositives": 1, "falsePositives": 0, "falseNegatives": 0}"#;
        let page = |images: &str| {
            format!(r#"{{"confidenceThreshold": 0.4, "totalImages": 1, "images": [{images}]}}"#)
        };
        let cases: Vec<(String, &str)> = vec![
            (page(&format!("{{{ok_stats}}}")), "p.images[0]: no imageId"),
            (
                page(&format!(r#"{{"imageId": 7, {ok_stats}}}"#)),
                "p.images[0].imageId: a number is not an image id",
            ),
            (page(r#"{"imageId": "a"}"#), "p.images[0]: no stats"),
            (
                page(r#"{"imageId": "a", "stats": {"truePositives": 1, "falsePositives": 0}}"#),
                "p.images[0].stats: no falseNegatives",
            ),
            (
                page(
                    r#"{"imageId": "a", "stats": {"truePositives": -1, "falsePositives": 0, "falseNegatives": 0}}"#,
                ),
                "p.images[0].stats.truePositives: -1 is not a count",
            ),
            (
                page(
                    r#"{"imageId": "a", "stats": {"truePositives": 1.5, "falsePositives": 0, "falseNegatives": 0}}"#,
                ),
                "p.images[0].stats.truePositives: 1.5 is not a count",
            ),
            (
                page(&format!(
                    r#"{{"imageId": "a", {ok_stats}, "confusion": [[0, 1]]}}"#
                )),
                "p.images[0].confusion[0]: 2 numbers, not an [actual, predicted, count] triple",
            ),
            (
                page(&format!(
                    r#"{{"imageId": "a", {ok_stats}, "confusion": [[0, 1, -3]]}}"#
                )),
                "p.images[0].confusion[0][2]: -3 is not a whole number",
            ),
            (
                r#"{"totalImages": 1, "images": []}"#.to_owned(),
                "p: no confidenceThreshold",
            ),
            (
                r#"{"confidenceThreshold": 0.4, "images": []}"#.to_owned(),
                "p: no totalImages",
            ),
            (
                r#"{"confidenceThreshold": 0.4, "totalImages": 1, "offset": -1, "images": []}"#
                    .to_owned(),
                "p.offset: -1 is not a count",
            ),
            (
                r#"{"confidenceThreshold": 0.4, "totalImages": 1}"#.to_owned(),
                "p: no images list",
            ),
            (
                r#"{"confidenceThreshold": 0.4, "totalImages": 1, "images": {}}"#.to_owned(),
                "p: invalid type: map",
            ),
        ];
        for (body, start) in cases {
            let err = parse_image_predictions(body.as_bytes(), "p")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(start), "{body}\n{err}");
        }
        assert_eq!(
            parse_image_predictions(
                br#"{"confidenceThreshold": 40, "totalImages": 0, "images": []}"#,
                "p"
            )
            .unwrap_err(),
            ParseEvalError::OutOfRange {
                path: "p.confidenceThreshold".into(),
                value: 40.0
            }
        );
    }

    /// A page of `ids` starting at `offset`, of `total` images at confidence 0.40.
    fn page_of(ids: &[&str], offset: Option<u64>, total: u64) -> ImagePredictionsPage {
        let images: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(
                    r#"{{"imageId": "{id}", "stats": {{"truePositives": 1, "falsePositives": 0, "falseNegatives": 1}}, "confusion": [[0, 0, 1], [0, 2, 1]]}}"#
                )
            })
            .collect();
        let offset = offset.map_or(String::new(), |o| format!(r#""offset": {o}, "#));
        let body = format!(
            r#"{{"confidenceThreshold": 0.4, "totalImages": {total}, {offset}"images": [{}]}}"#,
            images.join(",")
        );
        parse_image_predictions(body.as_bytes(), "p").unwrap()
    }

    #[test]
    fn pages_join_in_order_when_they_cover_every_image_once() {
        let pages = [
            page_of(&["a", "b"], Some(0), 5),
            page_of(&["c", "d"], Some(2), 5),
            page_of(&["e"], None, 5),
        ];
        let joined =
            join_image_pages(&pages, &classes(&["car", "bus"]), "imagePredictions.valid").unwrap();
        let ids: Vec<&str> = joined.images.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e"]);
        assert_eq!(joined.classes, ["car", "bus"]);
        assert_eq!(joined.confidence.map(Percent::get), Some(40));
    }

    #[test]
    fn a_short_overlapping_or_inconsistent_set_of_pages_is_refused() {
        let c = classes(&["car", "bus"]);
        let err = |pages: &[ImagePredictionsPage]| {
            join_image_pages(pages, &c, "imagePredictions.valid")
                .unwrap_err()
                .to_string()
        };
        // A short first page: the second starts where the first should have ended.
        assert_eq!(
            err(&[
                page_of(&["a"], Some(0), 4),
                page_of(&["c", "d"], Some(2), 4)
            ]),
            "imagePredictions.valid[1].offset: starts at image 2, but the pages before it end at 1: a page is short, missing or out of order; fetch the eval again"
        );
        // A short last page.
        assert_eq!(
            err(&[
                page_of(&["a", "b"], Some(0), 4),
                page_of(&["c"], Some(2), 4)
            ]),
            "imagePredictions.valid: the pages hold 3 images of the 4 totalImages says: a page is short or missing; fetch the eval again"
        );
        assert_eq!(
            err(&[
                page_of(&["a", "b"], Some(0), 4),
                page_of(&["b", "c"], Some(2), 4)
            ]),
            "imagePredictions.valid: image \"b\" is listed twice (images 1 and 2): the pages overlap; fetch the eval again"
        );
        assert_eq!(
            err(&[
                page_of(&["a", "b"], Some(0), 4),
                page_of(&["c", "d"], Some(2), 5)
            ]),
            "imagePredictions.valid[1].totalImages: 5 images, while the first page says 4: the split changed between pages; fetch it again"
        );
        assert_eq!(
            err(&[]),
            "imagePredictions.valid: no pages: an empty list holds no image"
        );
        // Index 2 is background for two classes; with one class it is past the end.
        assert_eq!(
            join_image_pages(&[page_of(&["a"], None, 1)], &classes(&["car"]), "q")
                .unwrap_err()
                .to_string(),
            "q: image \"a\": confusion[1] has index 2, past the 1 classes and background of the split's confusion matrix"
        );
    }
}
