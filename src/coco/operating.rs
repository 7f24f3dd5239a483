//! Precision, recall and F1 at a confidence, from a local evaluation's matching: the confidence
//! sweep, each class's support and the per-image outcomes that Roboflow's panels give for its
//! own evals, so that a policy's operating point reads the same way for both.
//!
//! The matching is pycocotools' at IoU 0.5, area range `all`, at most 100 detections per image
//! and category (its defaults), with its ignore rules: a detection matched to an ignored
//! (crowd) ground truth is neither a true nor a false positive, and an ignored ground truth is
//! never a false negative. A detection counts at confidence `c` when its score is at least `c`.
//!
//! Matching happens once, over every detection; the counts at `c` are then those of the
//! detections scoring at least `c`. That equals matching only those detections: within an image
//! and category, pycocotools matches greedily in descending score order, each detection taking
//! the best ground truth the ones before it left free, so a detection's match depends only on
//! the detections scoring above it (or tied with it and earlier in the file, which are on the
//! same side of any threshold). The detections at or above `c` are a prefix of that order,
//! the 100-detection cut of a prefix is a prefix of the cut, and a prefix matches as it would
//! alone.

use std::collections::{BTreeMap, HashMap};

use hotcoco::DtStatus;

use super::{CocoError, Evaluation};
use crate::model::{Curve, ImageOutcome, ImageOutcomes, Percent, Prf, SplitEval, Sweep};
use crate::stats::CountMetric;

/// The confidences a sweep holds: every percent from 0.00 to 0.99, as Roboflow's.
const SWEEP_PERCENTS: std::ops::RangeInclusive<u8> = 0..=99;

/// A scope's true positives, false positives and false negatives at one confidence, summed
/// over images (`stats::Counts` is one image's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Detections matched to a ground truth.
    pub tp: u64,
    /// Detections matched to none.
    pub fp: u64,
    /// Ground truth no detection matched.
    pub fn_: u64,
}

impl Tally {
    /// Precision, recall and F1; each undefined (`None`, never 0) where its denominator is 0:
    /// precision without detections, recall without ground truth, F1 without either.
    pub fn prf(self) -> Prf {
        // The statistics' definitions, so that the values the gate reads and the ones its noise
        // tests recompute are one computation.
        let of = |m: CountMetric| m.of(self.tp, self.fp, self.fn_);
        Prf {
            precision: of(CountMetric::Precision),
            recall: of(CountMetric::Recall),
            f1: of(CountMetric::F1),
        }
    }

    fn add(&mut self, other: Tally) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

/// One counted detection: neither ignored nor past the 100 of its image and category.
#[derive(Clone, Copy, Debug)]
struct Detection {
    score: f64,
    class: u32,
    image: u32,
    tp: bool,
}

/// A split's IoU-0.5 matching as plain arrays: what the sweep and the per-image outcomes are
/// counted from.
#[derive(Debug)]
pub struct Iou50Matching {
    /// Category names in category (id) order.
    classes: Vec<String>,
    /// Ground-truth images in the file's order: id and file name.
    images: Vec<(u64, String)>,
    /// Counted detections, score descending.
    detections: Vec<Detection>,
    /// Non-ignored ground truth per (image, class), sorted, each pair once.
    ground_truth: Vec<(u32, u32, u64)>,
    /// Non-ignored ground truth per class.
    support: Vec<u64>,
}

impl Evaluation {
    /// The matching at IoU 0.5 (area `all`, maxDets 100) that precision, recall and F1 at a
    /// confidence are counted from.
    ///
    /// hotcoco builds its per-image records for area `all` for this on first use (about 460
    /// bytes a detection; those of every area range if [`Evaluation::eval_imgs`] built them
    /// first) and keeps them with the evaluation: drop it once this returns, if nothing else
    /// needs it.
    pub fn iou50_matching(&self) -> Result<Iou50Matching, CocoError> {
        let engine = &self.engine;
        let p = &engine.params;
        let engine_err = |e: String| CocoError::Engine(e);
        // No label-error search: no detection scores infinity.
        let diag = engine
            .image_diagnostics(0.5, f64::INFINITY)
            .map_err(|e| engine_err(e.to_string()))?;
        if (diag.iou_thr - 0.5).abs() > 1e-9 {
            return Err(engine_err(format!(
                "hotcoco matched at IoU {} where 0.5 was asked for",
                diag.iou_thr
            )));
        }
        let gt = engine.coco_gt();
        let dt = engine.coco_dt();
        let class_of: HashMap<u64, u32> = p
            .cat_ids
            .iter()
            .enumerate()
            .map(|(k, &id)| (id, k as u32))
            .collect();
        let classes = self.class_names();
        let images: Vec<(u64, String)> = gt
            .dataset
            .images
            .iter()
            .map(|im| (im.id, im.file_name.clone()))
            .collect();
        let image_of: HashMap<u64, u32> = images
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i as u32))
            .collect();
        let place = |what: &str, id: u64, image: u64, category: u64| match (
            image_of.get(&image),
            class_of.get(&category),
        ) {
            (Some(&i), Some(&k)) => Ok((i, k)),
            _ => Err(engine_err(format!(
                "{what} {id} is on image {image}, category {category}, which the ground truth does not list"
            ))),
        };

        let index = &diag.annotations;
        let mut detections = Vec::with_capacity(index.dt_status.len());
        for (&id, &status) in &index.dt_status {
            let ann = dt
                .get_ann(id)
                .ok_or_else(|| engine_err(format!("detection {id} is not in the results")))?;
            let score = ann
                .score
                .ok_or_else(|| engine_err(format!("detection {id} has no score")))?;
            let (image, class) = place("detection", id, ann.image_id, ann.category_id)?;
            detections.push(Detection {
                score,
                class,
                image,
                tp: status == DtStatus::Tp,
            });
        }
        // Ties in any order: tied detections are on the same side of every threshold.
        detections.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));

        let mut per_cell: BTreeMap<(u32, u32), u64> = BTreeMap::new();
        // Every entry is a ground truth that counts toward recall, matched or missed.
        for &id in index.gt_status.keys() {
            let ann = gt
                .get_ann(id)
                .ok_or_else(|| engine_err(format!("ground truth {id} is not in the dataset")))?;
            *per_cell
                .entry(place("ground truth", id, ann.image_id, ann.category_id)?)
                .or_default() += 1;
        }
        let mut support = vec![0u64; p.cat_ids.len()];
        let ground_truth = per_cell
            .into_iter()
            .map(|((i, k), n)| {
                support[k as usize] += n;
                (i, k, n)
            })
            .collect();
        Ok(Iou50Matching {
            classes,
            images,
            detections,
            ground_truth,
            support,
        })
    }
}

impl Iou50Matching {
    /// Category names in category order: the classes [`Iou50Matching::counts_at`] indexes.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Each class's ground truth that counts toward recall (not crowd, not ignored), in
    /// category order: its support.
    pub fn support(&self) -> &[u64] {
        &self.support
    }

    /// Sets each class's support on `split` (whose classes are these, by name).
    pub fn set_support(&self, split: &mut SplitEval) {
        let by_name: HashMap<&str, u64> = self
            .classes
            .iter()
            .map(String::as_str)
            .zip(self.support.iter().copied())
            .collect();
        for (name, scope) in split.classes.iter_mut() {
            if let Some(&n) = by_name.get(name.as_str()) {
                scope.support = Some(n);
            }
        }
    }

    /// Each class's counts before any detection counts: all its ground truth missed.
    fn nothing_found(&self) -> Vec<Tally> {
        self.support
            .iter()
            .map(|&n| Tally {
                fn_: n,
                ..Tally::default()
            })
            .collect()
    }

    /// The counts of each class (category order) and of the split (pooled over classes) when
    /// the detections scoring at least `confidence` count.
    pub fn counts_at(&self, confidence: f64) -> (Vec<Tally>, Tally) {
        let mut classes = self.nothing_found();
        for d in self.detections.iter().take_while(|d| d.score >= confidence) {
            count(&mut classes[d.class as usize], d.tp);
        }
        let mut split = Tally::default();
        classes.iter().for_each(|c| split.add(*c));
        (classes, split)
    }

    /// The confidence sweep: precision, recall and F1 of the split (micro: counts pooled over
    /// classes) and of each class at every percent from 0.00 to 0.99, and the F1-optimal
    /// threshold of each (the lowest of the confidences that reach the highest F1).
    pub fn sweep(&self) -> Sweep {
        let k = self.classes.len();
        let mut split_curve = CurveBuilder::default();
        let mut class_curves: Vec<CurveBuilder> = (0..k).map(|_| CurveBuilder::default()).collect();
        let mut counts = self.nothing_found();
        let mut split = Tally {
            fn_: self.support.iter().sum(),
            ..Tally::default()
        };
        let mut next = 0;
        // From the highest confidence down, each detection is added once.
        for percent in SWEEP_PERCENTS.rev() {
            let at = Percent::new(percent).expect("below 100");
            let confidence = at.fraction();
            while let Some(d) = self.detections.get(next).filter(|d| d.score >= confidence) {
                count(&mut counts[d.class as usize], d.tp);
                count(&mut split, d.tp);
                next += 1;
            }
            split_curve.push(at, split);
            for (curve, c) in class_curves.iter_mut().zip(&counts) {
                curve.push(at, *c);
            }
        }
        Sweep {
            overall: split_curve.finish(),
            classes: self
                .classes
                .iter()
                .cloned()
                .zip(class_curves.into_iter().map(CurveBuilder::finish))
                .collect(),
        }
    }

    /// Every ground-truth image's outcome when the detections scoring at least `confidence`
    /// count: split-level TP/FP/FN, and per class `[c, c, tp]`, `[c, bg, fn]`, `[bg, c, fp]`
    /// triples (only those with a count), `bg` being one past the last class.
    pub fn images_at(&self, confidence: Percent) -> ImageOutcomes {
        let threshold = confidence.fraction();
        let mut cells: BTreeMap<(u32, u32), Tally> = self
            .ground_truth
            .iter()
            .map(|&(i, k, n)| {
                (
                    (i, k),
                    Tally {
                        fn_: n,
                        ..Tally::default()
                    },
                )
            })
            .collect();
        for d in self.detections.iter().take_while(|d| d.score >= threshold) {
            count(cells.entry((d.image, d.class)).or_default(), d.tp);
        }
        let bg = u32::try_from(self.classes.len()).unwrap_or(u32::MAX);
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        let mut images: Vec<ImageOutcome> = self
            .images
            .iter()
            .map(|(id, name)| ImageOutcome {
                id: id.to_string(),
                // An image without a file name is named by its id, as the mAP evidence names it.
                name: if name.is_empty() {
                    id.to_string()
                } else {
                    name.clone()
                },
                ..ImageOutcome::default()
            })
            .collect();
        for ((i, k), c) in cells {
            let image = &mut images[i as usize];
            image.tp += c.tp;
            image.fp += c.fp;
            image.fn_ += c.fn_;
            for (triple, n) in [([k, k], c.tp), ([k, bg], c.fn_), ([bg, k], c.fp)] {
                if n > 0 {
                    image.confusion.push([triple[0], triple[1], clamp(n)]);
                }
            }
        }
        ImageOutcomes {
            confidence: Some(confidence),
            classes: self.classes.clone(),
            images,
        }
    }
}

fn count(c: &mut Tally, tp: bool) {
    if tp {
        c.tp += 1;
        c.fn_ -= 1;
    } else {
        c.fp += 1;
    }
}

/// A curve, filled from the highest confidence down.
#[derive(Default)]
struct CurveBuilder {
    per_threshold: BTreeMap<Percent, Prf>,
    /// The best F1 so far (as 2·TP and its denominator, compared exactly), and where.
    best: Option<(u64, u64, Percent)>,
}

impl CurveBuilder {
    fn push(&mut self, at: Percent, c: Tally) {
        self.per_threshold.insert(at, c.prf());
        let (num, den) = (2 * c.tp, 2 * c.tp + c.fp + c.fn_);
        if den == 0 {
            return;
        }
        // Filled downwards, so "at least as good" keeps the lowest confidence of a tie.
        let better = self.best.is_none_or(|(bn, bd, _)| {
            u128::from(num) * u128::from(bd) >= u128::from(bn) * u128::from(den)
        });
        if better {
            self.best = Some((num, den, at));
        }
    }

    fn finish(self) -> Curve {
        let optimal = self.best.map(|(_, _, at)| at);
        Curve {
            optimal: optimal.and_then(|at| self.per_threshold.get(&at).copied()),
            optimal_threshold: optimal.map(Percent::fraction),
            per_threshold: self.per_threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(score: f64, class: u32, image: u32, tp: bool) -> Detection {
        Detection {
            score,
            class,
            image,
            tp,
        }
    }

    /// Three classes on two images: `a` with 2 ground truth, `b` with 1, `c` with nothing.
    fn matching(detections: Vec<Detection>) -> Iou50Matching {
        let mut detections = detections;
        detections.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));
        Iou50Matching {
            classes: vec!["a".into(), "b".into(), "c".into()],
            images: vec![(7, "7.jpg".into()), (9, "9.jpg".into())],
            detections,
            ground_truth: vec![(0, 0, 1), (1, 0, 1), (1, 1, 1)],
            support: vec![2, 1, 0],
        }
    }

    #[test]
    fn an_image_without_a_file_name_is_named_by_its_id() {
        let mut m = matching(vec![det(0.9, 0, 1, true)]);
        m.images[1].1 = String::new();
        let out = m.images_at(Percent::new(50).unwrap());
        let names: Vec<(&str, &str)> = out
            .images
            .iter()
            .map(|i| (i.id.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(names, [("7", "7.jpg"), ("9", "9")]);
    }

    #[test]
    fn a_detection_counts_from_its_own_score_down() {
        let m = matching(vec![det(0.5, 0, 0, true), det(0.49, 0, 1, false)]);
        let (classes, split) = m.counts_at(0.5);
        assert_eq!((classes[0].tp, classes[0].fp, classes[0].fn_), (1, 0, 1));
        assert_eq!((split.tp, split.fp, split.fn_), (1, 0, 2));
        let sweep = m.sweep();
        let at = |p| sweep.classes["a"].per_threshold[&Percent::new(p).unwrap()];
        assert_eq!(at(50).precision, Some(1.0));
        assert_eq!(at(49).precision, Some(0.5));
        // b: ground truth, no detection: recall 0, F1 0, precision undefined.
        let b = sweep.classes["b"].per_threshold[&Percent::new(0).unwrap()];
        assert_eq!((b.precision, b.recall, b.f1), (None, Some(0.0), Some(0.0)));
    }

    #[test]
    fn a_class_with_neither_ground_truth_nor_detections_is_undefined_not_zero() {
        let m = matching(vec![det(0.9, 0, 0, true)]);
        let c = &m.sweep().classes["c"];
        assert!(c.per_threshold.values().all(|v| *v == Prf::default()));
        assert_eq!((c.optimal_threshold, c.optimal), (None, None));
        // A false positive makes precision and F1 0, and recall stays undefined.
        let m = matching(vec![det(0.9, 2, 0, false)]);
        let c = m.sweep().classes["c"].per_threshold[&Percent::new(90).unwrap()];
        assert_eq!((c.precision, c.recall, c.f1), (Some(0.0), None, Some(0.0)));
    }

    #[test]
    fn of_equal_f1s_the_lowest_confidence_is_optimal_compared_exactly() {
        // At 0.80: 1 TP, 1 FN (F1 2/3). At 0.20: 2 TP, 2 FP, 0 FN: 4/6, the same F1 from
        // other counts. Below, nothing changes, so 0.00 is the lowest of the tie.
        let m = matching(vec![
            det(0.8, 0, 0, true),
            det(0.2, 0, 1, true),
            det(0.2, 0, 1, false),
            det(0.2, 0, 0, false),
        ]);
        let a = &m.sweep().classes["a"];
        let f1 = |p| a.per_threshold[&Percent::new(p).unwrap()].f1.unwrap();
        assert_eq!(f1(80), 2.0 / 3.0);
        assert_eq!(f1(20), 4.0 / 6.0);
        assert!(f1(81).abs() < 1e-12);
        assert_eq!(a.optimal_threshold, Some(0.0));
        assert_eq!(a.optimal.and_then(|p| p.recall), Some(1.0));
        // Had 0.20 been worse, the optimum would be the lowest confidence without it.
        let m = matching(vec![det(0.8, 0, 0, true), det(0.2, 0, 1, false)]);
        assert_eq!(m.sweep().classes["a"].optimal_threshold, Some(0.21));
    }

    #[test]
    fn per_image_outcomes_are_triples_over_the_classes_and_background() {
        let m = matching(vec![
            det(0.9, 0, 0, true),
            det(0.6, 2, 1, false),
            det(0.3, 1, 1, true),
        ]);
        let o = m.images_at(Percent::new(50).unwrap());
        assert_eq!(o.classes, ["a", "b", "c"]);
        assert_eq!(
            (o.images[0].id.as_str(), o.images[0].name.as_str()),
            ("7", "7.jpg")
        );
        assert_eq!(o.images[0].confusion, [[0, 0, 1]]);
        // Image 9 at 0.50: a and b missed (b's detection scores 0.30), c's detection is false.
        assert_eq!(o.images[1].confusion, [[0, 3, 1], [1, 3, 1], [3, 2, 1]]);
        assert_eq!((o.images[1].tp, o.images[1].fp, o.images[1].fn_), (0, 1, 2));
        assert_eq!(o.images[1].class_counts(2), (0, 1, 0));
    }
}
