//! Local COCO evaluation: ground truth and a model's predictions in, an [`Eval`] out, with
//! pycocotools' numbers.
//!
//! The matching and accumulation are hotcoco's (a port of pycocotools' `COCOeval`); this
//! module reads the files (`read.rs`: Roboflow exports as they are, refusals named by record),
//! hands hotcoco what it needs, and takes pycocotools' summary means over hotcoco's precision
//! array for every scope evalgate gates (`summary.rs`): the split, each object size, each
//! class, and each class × size. It does no I/O: the caller reads the files (with a size cap)
//! and passes their bytes.
//!
//! [`Evaluation::eval_imgs`] keeps hotcoco's per-image matching, so that resampling images
//! (the paired mAP bootstrap of [`bootstrap`]) can reuse it without matching again, and
//! [`Evaluation::iou50_matching`] reads its IoU-0.5 matching for precision, recall and F1 at a
//! confidence ([`operating`]).

pub mod bootstrap;
pub mod operating;
mod read;
mod summary;

use std::collections::BTreeMap;
use std::fmt;

use hotcoco::{COCO, COCOeval, EvalImg};

use crate::model::{Eval, EvalMeta, SplitEval, Task};

pub use summary::{split_json, write_split};

/// What is compared: boxes, or masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IouType {
    /// Box IoU (`bbox`).
    #[default]
    Bbox,
    /// Mask IoU (`segm`): polygons and RLE.
    Segm,
}

impl IouType {
    /// The name pycocotools gives it.
    pub fn name(self) -> &'static str {
        match self {
            IouType::Bbox => "bbox",
            IouType::Segm => "segm",
        }
    }

    fn hotcoco(self) -> hotcoco::IouType {
        match self {
            IouType::Bbox => hotcoco::IouType::Bbox,
            IouType::Segm => hotcoco::IouType::Segm,
        }
    }
}

impl fmt::Display for IouType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A file's name (for messages) and its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    /// How the file is named in messages (its path).
    pub name: &'a str,
    /// Its contents.
    pub bytes: &'a [u8],
}

/// Why an evaluation could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CocoError {
    /// A file is not JSON, not COCO, or holds a record evalgate refuses.
    #[error("{file}: {at}: {message}")]
    Input {
        /// The file, as named by the caller.
        file: String,
        /// Where: the record (`annotations[3]`, `result 17`) and/or line and column.
        at: String,
        /// What is wrong, and what to do.
        message: String,
    },
    /// hotcoco refused the inputs (a mask it cannot decode, say).
    #[error("the evaluation failed: {0}")]
    Engine(String),
}

/// One evaluation: the metrics of one split, and the matching they came from.
pub struct Evaluation {
    split: SplitEval,
    engine: COCOeval,
}

impl fmt::Debug for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Evaluation")
            .field("split", &self.split)
            .finish_non_exhaustive()
    }
}

impl Evaluation {
    /// The split's metrics, as evalgate gates them.
    pub fn split(&self) -> &SplitEval {
        &self.split
    }

    /// The split's metrics, keeping nothing else.
    pub fn into_split(self) -> SplitEval {
        self.split
    }

    /// hotcoco's per-image, per-category, per-area-range matching (pycocotools'
    /// `evalImgs`): which detection matched which ground truth at every IoU threshold,
    /// with scores and ignore flags. Ground-truth ids are positions in the file's
    /// `annotations` plus one; detection ids are positions in the results file plus one.
    pub fn eval_imgs(&self) -> &[Option<EvalImg>] {
        self.engine.eval_imgs()
    }

    /// The hotcoco evaluator itself (parameters, accumulated arrays).
    pub fn engine(&self) -> &COCOeval {
        &self.engine
    }

    /// Each evaluated category's name, in the engine's category order (the order of its
    /// arrays).
    fn class_names(&self) -> Vec<String> {
        let gt = self.engine.coco_gt();
        self.engine
            .params
            .cat_ids
            .iter()
            .map(|id| {
                gt.get_cat(*id)
                    .map_or_else(|| format!("category {id}"), |c| c.name.clone())
            })
            .collect()
    }
}

/// A ground truth read once, to evaluate one or more prediction files against.
pub struct GroundTruth {
    read: read::GroundTruth,
    coco: std::sync::Arc<COCO>,
    iou: IouType,
}

impl fmt::Debug for GroundTruth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroundTruth")
            .field("images", &self.read.images.len())
            .field("iou", &self.iou)
            .finish_non_exhaustive()
    }
}

impl GroundTruth {
    /// Reads a COCO dataset (images, annotations, categories; anything else is skipped, so
    /// Roboflow's export with its string `info.year` reads as it is) for evaluation by `iou`.
    pub fn read(file: Named<'_>, iou: IouType) -> Result<GroundTruth, CocoError> {
        let mut read = read::ground_truth(file.name, file.bytes, iou)?;
        let dataset = std::mem::take(&mut read.dataset);
        Ok(GroundTruth {
            read,
            coco: std::sync::Arc::new(COCO::from_dataset(dataset)),
            iou,
        })
    }

    /// Reads `file`, a pycocotools results file (a JSON array of detections), against this
    /// ground truth. The file's bytes can be dropped once this returns.
    ///
    /// Refused, where pycocotools would evaluate silently: a detection on a category the
    /// ground truth does not have (pycocotools drops it), a box with a NaN or a negative
    /// size, a NaN score. Refused as pycocotools refuses: a detection on an image that is
    /// not in the ground truth, a polygon of fewer than 3 points under `segm`.
    pub fn predictions(&self, file: Named<'_>) -> Result<Predictions, CocoError> {
        read::results(file.name, file.bytes, &self.read, &self.coco, self.iou).map(Predictions)
    }

    /// Evaluates `predictions` as pycocotools' `COCOeval` would, with its default parameters
    /// (IoU 0.50:0.95, 101 recall points, at most 100 detections per image and category,
    /// COCO's area ranges).
    pub fn evaluate(&self, predictions: Predictions) -> Result<Evaluation, CocoError> {
        let dt = self
            .coco
            .load_res_anns(predictions.0)
            .map_err(|e| CocoError::Engine(e.to_string()))?;
        let mut engine = COCOeval::new(self.coco.clone(), dt, self.iou.hotcoco());
        engine
            .evaluate()
            .map_err(|e| CocoError::Engine(e.to_string()))?;
        engine.accumulate();
        let split = summary::split_eval(&engine)?;
        Ok(Evaluation { split, engine })
    }
}

/// A model's detections, read and checked against a [`GroundTruth`].
pub struct Predictions(Vec<hotcoco::Annotation>);

impl Predictions {
    /// How many detections there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Predictions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Predictions({} detections)", self.0.len())
    }
}

/// [`GroundTruth::read`], then [`GroundTruth::evaluate`].
pub fn evaluate(
    ground_truth: Named<'_>,
    predictions: Named<'_>,
    iou: IouType,
) -> Result<Evaluation, CocoError> {
    let gt = GroundTruth::read(ground_truth, iou)?;
    let predictions = gt.predictions(predictions)?;
    gt.evaluate(predictions)
}

/// An eval of splits evaluated locally.
pub fn eval_of(splits: BTreeMap<String, SplitEval>) -> Eval {
    Eval {
        task: Task::ObjectDetection,
        splits,
        meta: EvalMeta::default(),
        notes: Vec::new(),
        panels: crate::model::Panels::default(),
        read_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Metric, Size};

    const GT: &str = r#"{"images": [{"id": 1, "width": 200, "height": 200}, {"id": 2, "width": 200, "height": 200}],
      "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}, {"id": 3, "name": "van"}],
      "annotations": [
        {"id": 0, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400, "iscrowd": 0},
        {"id": 0, "image_id": 1, "category_id": 2, "bbox": [50, 50, 100, 100], "area": 10000, "iscrowd": 0},
        {"id": 7, "image_id": 2, "category_id": 1, "bbox": [0, 0, 40, 40], "area": 1600, "iscrowd": 0}]}"#;
    const DT: &str = r#"[
      {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
      {"image_id": 1, "category_id": 2, "bbox": [60, 60, 100, 100], "score": 0.8},
      {"image_id": 2, "category_id": 1, "bbox": [100, 100, 40, 40], "score": 0.95},
      {"image_id": 2, "category_id": 2, "bbox": [0, 0, 30, 30], "score": 0.3}]"#;

    fn run() -> Evaluation {
        let named = |name, text: &'static str| Named {
            name,
            bytes: text.as_bytes(),
        };
        evaluate(named("gt", GT), named("dt", DT), IouType::Bbox).unwrap()
    }

    #[test]
    fn the_summary_is_hotcocos_own_for_the_scopes_it_has() {
        let ev = run();
        let mut engine = run().engine;
        engine.summarize_lines();
        let stats = engine.stats().unwrap().to_vec();
        let o = &ev.split().overall;
        let ours = [
            o.metrics.get(Metric::Map50_95),
            o.metrics.get(Metric::Map50),
            o.metrics.get(Metric::Map75),
            o.size(Size::Small).get(Metric::Map50_95),
            o.size(Size::Medium).get(Metric::Map50_95),
            o.size(Size::Large).get(Metric::Map50_95),
        ];
        for (mine, theirs) in ours.iter().zip(&stats) {
            match mine {
                Some(v) => assert!((v - theirs).abs() < 1e-15, "{v} {theirs}"),
                None => assert_eq!(*theirs, -1.0),
            }
        }
        // van has no ground truth: every value is missing, not zero.
        let van = &ev.split().classes["van"];
        assert_eq!(van.metrics.get(Metric::Map50), None);
        assert_eq!(van.size(Size::Small).get(Metric::Map50), None);
        // car: one of two found, small found, medium missed.
        let car = &ev.split().classes["car"];
        assert!(car.size(Size::Small).get(Metric::Map50).unwrap() > 0.99);
        assert_eq!(car.size(Size::Medium).get(Metric::Map50), Some(0.0));
        assert_eq!(car.size(Size::Large).get(Metric::Map50), None);
    }

    #[test]
    fn the_matching_is_kept_with_ids_that_point_back_into_the_files() {
        let ev = run();
        // Image 1, car, area "all": the one ground truth (annotations[0], id 1 here although
        // the file says 0) matched by the first detection (result 0, id 1) at every IoU.
        let cell = ev
            .eval_imgs()
            .iter()
            .flatten()
            .find(|e| e.image_id == 1 && e.category_id == 1 && e.area_rng == [0.0, 1e10])
            .expect("a record for image 1, car");
        assert_eq!(cell.gt_ids, [1]);
        assert_eq!(cell.dt_ids, [1]);
        assert!((0..10).all(|t| cell.dt_matched[(t, 0)]));
        assert_eq!(cell.dt_scores, [0.9]);
    }
}
