//! What an eval holds beyond its mAP: the confidence sweep, performance by class and the
//! confusion matrix (Roboflow's panels of those names), per split, and what the gate reads
//! from them at an operating point.
//!
//! An eval read from a plain map-results body has none of these; an eval saved by
//! `evalgate fetch` has what its policy needed (docs/evals.md).

use std::collections::BTreeMap;
use std::fmt;

use std::sync::Arc;

use super::{Eval, MatchedDetections, Metric, Metrics, Task};

/// A confidence in whole percent (0 to 100): the unit of the API's `confidence` parameter.
/// The sweep's two-decimal keys (`"0.40"`) and policy values (`0.40`) map onto it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u8);

impl Percent {
    /// A percent from 0 to 100.
    pub fn new(percent: u8) -> Option<Percent> {
        (percent <= 100).then_some(Percent(percent))
    }

    /// A fraction with at most two decimals (`0.4`, `0.40`, `0.37`), as policies and the
    /// sweep's keys write it; `None` for anything finer or outside [0, 1].
    pub fn from_fraction(fraction: f64) -> Option<Percent> {
        let scaled = fraction * 100.0;
        let rounded = scaled.round();
        if !(0.0..=100.0).contains(&rounded) || (scaled - rounded).abs() > 1e-6 {
            return None;
        }
        // In [0, 100] and integral, so the cast is exact.
        Percent::new(rounded as u8)
    }

    /// The nearest percent to a fraction in [0, 1] (an F1-optimal threshold of 0.374 asks
    /// the confusion matrix at 37).
    pub fn nearest(fraction: f64) -> Option<Percent> {
        let rounded = (fraction * 100.0).round();
        (0.0..=100.0)
            .contains(&rounded)
            .then_some(Percent(rounded as u8))
    }

    /// Whole percent, as the API's `confidence` parameter takes it.
    pub fn get(self) -> u8 {
        self.0
    }

    /// As a fraction.
    pub fn fraction(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// The API's two-decimal spelling, as in the sweep's keys: `0.40`.
impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Precision, recall and F1 at one threshold; each may be `null` in the source.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Prf {
    /// Precision.
    pub precision: Option<f64>,
    /// Recall.
    pub recall: Option<f64>,
    /// F1.
    pub f1: Option<f64>,
}

/// One curve of the confidence sweep: a split's, or one class's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curve {
    /// P/R/F1 at each threshold the sweep has (typically every percent from 0 to 99).
    pub per_threshold: BTreeMap<Percent, Prf>,
    /// The confidence at which F1 peaks, a fraction.
    pub optimal_threshold: Option<f64>,
    /// P/R/F1 at that confidence.
    pub optimal: Option<Prf>,
}

/// The confidence sweep of one split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sweep {
    /// The split as a whole.
    pub overall: Curve,
    /// Per class, by name.
    pub classes: BTreeMap<String, Curve>,
}

/// One class's entry in performance by class: its values at its own F1-optimal threshold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassPerformance {
    /// P/R/F1 at the class's F1-optimal threshold.
    pub metrics: Prf,
    /// That threshold, a fraction.
    pub optimal_threshold: Option<f64>,
    /// Whether the class has instances in the split. The API marks an absent class with
    /// `map50: null` and reports its P/R/F1 as 0, which must not read as a collapse.
    pub present: bool,
}

/// A confusion matrix: `count(actual, predicted)` over the classes and background.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    /// The confidence the matrix was computed at.
    pub confidence: Percent,
    /// The class names in the matrix's order, without the trailing `background`.
    pub classes: Vec<String>,
    /// Row-major, `(classes.len() + 1)²` counts; the last row and column are background
    /// (the background row holds false positives, its column missed ground truth).
    pub counts: Vec<u64>,
}

/// Why a confusion matrix is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    /// The matrix is not square over the classes and background.
    #[error("the matrix is not {n}×{n} ({classes} classes and background)")]
    Shape {
        /// Rows and columns expected.
        n: usize,
        /// Classes named.
        classes: usize,
    },
    /// A class named twice.
    #[error("class {0:?} is named twice")]
    Duplicate(String),
}

impl ConfusionMatrix {
    /// Checks the shape and that names are unique; `classes` excludes background.
    pub fn new(
        confidence: Percent,
        classes: Vec<String>,
        counts: Vec<u64>,
    ) -> Result<ConfusionMatrix, MatrixError> {
        let n = classes.len() + 1;
        if counts.len() != n * n {
            return Err(MatrixError::Shape {
                n,
                classes: classes.len(),
            });
        }
        let mut sorted: Vec<&String> = classes.iter().collect();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(MatrixError::Duplicate(w[0].clone()));
        }
        Ok(ConfusionMatrix {
            confidence,
            classes,
            counts,
        })
    }

    /// The index of a class (not background).
    pub fn index(&self, class: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == class)
    }

    /// The index of background's row and column.
    pub fn background(&self) -> usize {
        self.classes.len()
    }

    /// `matrix[actual][predicted]`.
    pub fn count(&self, actual: usize, predicted: usize) -> u64 {
        self.counts[actual * (self.classes.len() + 1) + predicted]
    }

    /// A class's ground truth, matched or missed: its support.
    pub fn row_sum(&self, actual: usize) -> u64 {
        let n = self.classes.len() + 1;
        self.counts[actual * n..(actual + 1) * n].iter().sum()
    }

    /// The share of `actual`'s ground truth predicted as `predicted`; `None` when the class
    /// has no ground truth.
    pub fn share(&self, actual: usize, predicted: usize) -> Option<f64> {
        let total = self.row_sum(actual);
        (total > 0).then(|| self.count(actual, predicted) as f64 / total as f64)
    }
}

/// One image's outcome at one confidence (an entry of Roboflow's image predictions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageOutcome {
    /// The image's id (Roboflow's source image id): what pairs images across evals.
    pub id: String,
    /// Its file name, for people.
    pub name: String,
    /// Split-level true positives, false positives and false negatives (`stats`).
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
    /// `[actual, predicted, count]` triples indexing [`ImageOutcomes::classes`] and, one past
    /// the last class, background.
    pub confusion: Vec<[u32; 3]>,
}

/// Every image of one split at one confidence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageOutcomes {
    /// The confidence the outcomes were computed at.
    pub confidence: Option<Percent>,
    /// The class names the `confusion` triples index, in order, without background (the
    /// split's confusion matrix's classes).
    pub classes: Vec<String>,
    /// The images, in the order the source listed them.
    pub images: Vec<ImageOutcome>,
}

impl ImageOutcome {
    /// True positives, false positives and false negatives of class `c` on this image:
    /// TP = `confusion[c][c]`, FN = the rest of row `c` (missed or taken for another class),
    /// FP = the rest of column `c` (background or another class taken for it).
    pub fn class_counts(&self, c: u32) -> (u64, u64, u64) {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for &[actual, predicted, count] in &self.confusion {
            let n = u64::from(count);
            match (actual == c, predicted == c) {
                (true, true) => tp += n,
                (true, false) => fn_ += n,
                (false, true) => fp += n,
                (false, false) => {}
            }
        }
        (tp, fp, fn_)
    }
}

/// What the other panels of one eval hold, per split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panels {
    /// The confidence sweep per split; `None` when the eval came without one.
    pub sweep: Option<BTreeMap<String, Sweep>>,
    /// Performance by class, for each split it was fetched for: class name → entry.
    pub by_class: BTreeMap<String, BTreeMap<String, ClassPerformance>>,
    /// Confusion matrices per split, each at its own confidence.
    pub confusion: BTreeMap<String, Vec<ConfusionMatrix>>,
    /// Per-image outcomes per split, at the operating point.
    pub images: BTreeMap<String, ImageOutcomes>,
    /// A local COCO evaluation's matching per split, kept only for splits whose mAP drop
    /// rules are noise-tested. Never saved: the gate copies evals, hence the `Arc`.
    pub matched: BTreeMap<String, Arc<MatchedDetections>>,
}

impl Panels {
    /// Whether there is nothing beyond map-results.
    pub fn is_empty(&self) -> bool {
        self.sweep.is_none()
            && self.by_class.is_empty()
            && self.confusion.is_empty()
            && self.images.is_empty()
    }

    /// The split's confusion matrix at `confidence`.
    pub fn matrix(&self, split: &str, confidence: Percent) -> Option<&ConfusionMatrix> {
        self.confusion
            .get(split)?
            .iter()
            .find(|m| m.confidence == confidence)
    }
}

/// The confidence at which a detection model's precision, recall and F1 are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatingPoint {
    /// One confidence for both evals, as the model is deployed.
    Confidence(Percent),
    /// Each eval, each split, at its own F1-optimal threshold (as Roboflow's summary).
    Optimal,
}

impl fmt::Display for OperatingPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatingPoint::Confidence(p) => write!(f, "confidence {p}"),
            OperatingPoint::Optimal => f.write_str("the F1-optimal confidence"),
        }
    }
}

/// Where an eval was read: the operating point, and the confidence it meant per split.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadAt {
    /// As the policy asked.
    pub point: OperatingPoint,
    /// The confidence used per split, a fraction; absent for a split whose sweep has no
    /// F1-optimal threshold (at `optimal`).
    pub confidence: BTreeMap<String, f64>,
}

impl Eval {
    /// The confidence a split is read at under `point`: the policy's, or the split's
    /// F1-optimal threshold from the sweep.
    pub fn confidence_at(&self, split: &str, point: OperatingPoint) -> Option<f64> {
        match point {
            OperatingPoint::Confidence(p) => Some(p.fraction()),
            OperatingPoint::Optimal => {
                self.panels
                    .sweep
                    .as_ref()?
                    .get(split)?
                    .overall
                    .optimal_threshold
            }
        }
    }

    /// The confusion matrix a split's confusion and support checks read under `point`: at
    /// the policy's confidence, or at the split's F1-optimal threshold to the nearest
    /// percent. Without an operating point any matrix serves for support (row sums do not
    /// depend on the confidence), and `default` is asked for first.
    pub fn matrix_at(
        &self,
        split: &str,
        point: Option<OperatingPoint>,
    ) -> Option<&ConfusionMatrix> {
        match point {
            Some(p) => {
                let confidence = Percent::nearest(self.confidence_at(split, p)?)?;
                self.panels.matrix(split, confidence)
            }
            None => {
                let list = self.panels.confusion.get(split)?;
                list.iter()
                    .find(|m| m.confidence == DEFAULT_MATRIX_CONFIDENCE)
                    .or_else(|| list.first())
            }
        }
    }

    /// The eval with precision, recall, F1 and `optimal_threshold` of every split and class
    /// read from the panels at `point` (detection only: semantic segmentation keeps its
    /// map-results values), and every class's support from its split's confusion matrix.
    ///
    /// Values the panels lack stay absent; the gate's `missing:` rules decide what that
    /// means.
    pub fn read_at(&self, point: Option<OperatingPoint>) -> Eval {
        let mut eval = self.clone();
        let mut read_at = point.map(|p| ReadAt {
            point: p,
            confidence: BTreeMap::new(),
        });
        for (name, split) in &mut eval.splits {
            if let Some(matrix) = self.matrix_at(name, point) {
                for (class, scope) in split.classes.iter_mut() {
                    scope.support = matrix.index(class).map(|i| matrix.row_sum(i));
                }
            }
            let Some(point) = point else { continue };
            if let (Some(r), Some(c)) = (read_at.as_mut(), self.confidence_at(name, point)) {
                r.confidence.insert(name.clone(), c);
            }
            if self.task != Task::ObjectDetection {
                continue;
            }
            let sweep = self.panels.sweep.as_ref().and_then(|s| s.get(name));
            let by_class = self.panels.by_class.get(name);
            set_prf(
                &mut split.overall.metrics,
                sweep.and_then(|s| at(&s.overall, point)),
                sweep.and_then(|s| s.overall.optimal_threshold),
            );
            // A class is read at the split's confidence, as the model is deployed; at
            // `optimal` that is each class at its own F1-optimal threshold, as Roboflow's
            // performance by class reports it.
            let split_percent = self
                .confidence_at(name, point)
                .and_then(Percent::from_fraction);
            for (class, scope) in split.classes.iter_mut() {
                let curve = sweep.and_then(|s| s.classes.get(class.as_str()));
                let perf = by_class
                    .and_then(|b| b.get(class.as_str()))
                    .filter(|p| p.present);
                let prf = match point {
                    OperatingPoint::Confidence(_) => curve
                        .zip(split_percent)
                        .and_then(|(c, p)| c.per_threshold.get(&p).copied()),
                    OperatingPoint::Optimal => perf
                        .map(|p| p.metrics)
                        .or_else(|| curve.and_then(|c| c.optimal)),
                };
                let optimal = curve
                    .and_then(|c| c.optimal_threshold)
                    .or_else(|| perf.and_then(|p| p.optimal_threshold));
                set_prf(&mut scope.metrics, prf, optimal);
            }
        }
        eval.read_at = read_at;
        eval
    }
}

/// The confidence of the matrix fetched for support when the policy has no operating point.
pub const DEFAULT_MATRIX_CONFIDENCE: Percent = Percent(50);

fn at(curve: &Curve, point: OperatingPoint) -> Option<Prf> {
    match point {
        OperatingPoint::Confidence(p) => curve.per_threshold.get(&p).copied(),
        OperatingPoint::Optimal => curve.optimal,
    }
}

fn set_prf(metrics: &mut Metrics, prf: Option<Prf>, optimal: Option<f64>) {
    let prf = prf.unwrap_or_default();
    metrics.set(Metric::Precision, prf.precision);
    metrics.set(Metric::Recall, prf.recall);
    metrics.set(Metric::F1, prf.f1);
    metrics.set(Metric::OptimalThreshold, optimal);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ScopeMetrics, SplitEval};

    fn prf(p: f64, r: f64, f: f64) -> Prf {
        Prf {
            precision: Some(p),
            recall: Some(r),
            f1: Some(f),
        }
    }

    fn curve(points: &[(u8, Prf)], optimal: Option<(f64, Prf)>) -> Curve {
        Curve {
            per_threshold: points
                .iter()
                .map(|(p, v)| (Percent::new(*p).unwrap(), *v))
                .collect(),
            optimal_threshold: optimal.map(|o| o.0),
            optimal: optimal.map(|o| o.1),
        }
    }

    fn eval() -> Eval {
        let classes = ["bus", "car"]
            .into_iter()
            .map(|c| (c.to_owned(), ScopeMetrics::default()))
            .collect();
        let mut splits = BTreeMap::new();
        splits.insert(
            "valid".to_owned(),
            SplitEval {
                overall: ScopeMetrics::default(),
                classes,
            },
        );
        let sweep = Sweep {
            overall: curve(
                &[(37, prf(0.8, 0.7, 0.75)), (40, prf(0.85, 0.6, 0.7))],
                Some((0.37, prf(0.8, 0.7, 0.75))),
            ),
            classes: [(
                "car".to_owned(),
                curve(
                    &[(40, prf(0.9, 0.5, 0.64))],
                    Some((0.25, prf(0.7, 0.8, 0.75))),
                ),
            )]
            .into_iter()
            .collect(),
        };
        let matrix = ConfusionMatrix::new(
            Percent::new(40).unwrap(),
            vec!["car".into(), "bus".into()],
            // car: 8 right, 1 as bus, 3 missed; bus: 2 as car, 5 right, 0 missed.
            vec![8, 1, 3, 2, 5, 0, 4, 1, 0],
        )
        .unwrap();
        let mut e = Eval {
            task: Task::ObjectDetection,
            splits,
            meta: Default::default(),
            notes: Vec::new(),
            panels: Panels::default(),
            read_at: None,
        };
        e.panels.sweep = Some([("valid".to_owned(), sweep)].into_iter().collect());
        e.panels.confusion.insert("valid".into(), vec![matrix]);
        e
    }

    #[test]
    fn percents_are_exact_two_decimal_fractions() {
        assert_eq!(Percent::from_fraction(0.4).map(Percent::get), Some(40));
        assert_eq!(Percent::from_fraction(0.29).map(Percent::get), Some(29));
        assert_eq!(Percent::from_fraction(1.0).map(Percent::get), Some(100));
        assert_eq!(Percent::from_fraction(0.405), None);
        assert_eq!(Percent::from_fraction(1.01), None);
        assert_eq!(Percent::from_fraction(-0.01), None);
        assert_eq!(Percent::nearest(0.374).map(Percent::get), Some(37));
        assert_eq!(Percent::new(7).unwrap().to_string(), "0.07");
        assert_eq!(Percent::new(100).unwrap().to_string(), "1.00");
    }

    #[test]
    fn a_fixed_confidence_reads_the_sweep_at_that_key_for_split_and_classes() {
        let e = eval().read_at(Some(OperatingPoint::Confidence(Percent::new(40).unwrap())));
        let valid = &e.splits["valid"];
        assert_eq!(valid.overall.metrics.get(Metric::Recall), Some(0.6));
        assert_eq!(
            valid.overall.metrics.get(Metric::OptimalThreshold),
            Some(0.37)
        );
        let car = &valid.classes["car"];
        assert_eq!(car.metrics.get(Metric::Precision), Some(0.9));
        assert_eq!(car.metrics.get(Metric::OptimalThreshold), Some(0.25));
        // A class the sweep lacks has no values, rather than zeros.
        assert_eq!(valid.classes["bus"].metrics.get(Metric::Recall), None);
        assert_eq!(e.read_at.unwrap().confidence["valid"], 0.4);
    }

    #[test]
    fn optimal_reads_each_split_and_class_at_its_own_threshold() {
        let mut base = eval();
        base.panels.by_class.insert(
            "valid".into(),
            [(
                "bus".to_owned(),
                ClassPerformance {
                    metrics: prf(0.6, 0.5, 0.55),
                    optimal_threshold: Some(0.3),
                    present: true,
                },
            )]
            .into_iter()
            .collect(),
        );
        let e = base.read_at(Some(OperatingPoint::Optimal));
        let valid = &e.splits["valid"];
        assert_eq!(valid.overall.metrics.get(Metric::Recall), Some(0.7));
        // From the sweep's per-class optimum, and from performance by class.
        assert_eq!(valid.classes["car"].metrics.get(Metric::Recall), Some(0.8));
        assert_eq!(valid.classes["bus"].metrics.get(Metric::F1), Some(0.55));
        assert_eq!(
            valid.classes["bus"].metrics.get(Metric::OptimalThreshold),
            Some(0.3)
        );
        // The confusion matrix is asked at the optimal threshold (37), which this eval lacks.
        assert!(valid.classes["car"].support.is_none());
    }

    #[test]
    fn support_is_the_row_sum_matched_by_name() {
        let e = eval().read_at(Some(OperatingPoint::Confidence(Percent::new(40).unwrap())));
        let valid = &e.splits["valid"];
        assert_eq!(valid.classes["car"].support, Some(12));
        assert_eq!(valid.classes["bus"].support, Some(7));
        let m = e.panels.matrix("valid", Percent::new(40).unwrap()).unwrap();
        let (car, bg) = (m.index("car").unwrap(), m.background());
        assert_eq!(m.share(car, bg), Some(0.25));
        // Without an operating point, any matrix gives support.
        let e = eval().read_at(None);
        assert_eq!(e.splits["valid"].classes["bus"].support, Some(7));
        assert_eq!(
            e.splits["valid"].classes["bus"].metrics.get(Metric::Recall),
            None
        );
    }

    #[test]
    fn a_matrix_must_be_square_with_unique_names() {
        let p = Percent::new(50).unwrap();
        assert_eq!(
            ConfusionMatrix::new(p, vec!["a".into()], vec![1, 2, 3]),
            Err(MatrixError::Shape { n: 2, classes: 1 })
        );
        assert_eq!(
            ConfusionMatrix::new(p, vec!["a".into(), "a".into()], vec![0; 9]),
            Err(MatrixError::Duplicate("a".into()))
        );
    }
}
