//! What an eval is, independent of any vendor's JSON.
//!
//! An [`Eval`] holds, per split, the split-level metrics, the metrics per object size, and the
//! metrics per class (with their own object sizes). A metric that is `null` or absent in the
//! source is simply absent here: the gate decides what absence means, the model does not.
//!
//! This module does no I/O; [`parse_eval`] turns bytes into an `Eval`.

mod confidence_sweep;
mod confusion_matrix;
mod image_predictions;
mod map_results;
mod matched;
mod panels;
mod performance_by_class;
mod roboflow_meta;
mod saved_eval;

use std::collections::BTreeMap;
use std::fmt;

pub use confidence_sweep::parse_confidence_sweep;
pub use confusion_matrix::{ConfusionMatrixBody, parse_confusion_matrix};
pub use image_predictions::{ImagePredictionsPage, join_image_pages, parse_image_predictions};
pub use map_results::{ParseEvalError, parse_eval};
pub use matched::{AREA_RANGES, MatchedDetections, MatchedError, MatchedParts, Slab, area_range};
pub use panels::{
    ClassPerformance, ConfusionMatrix, Curve, DEFAULT_MATRIX_CONFIDENCE, ImageOutcome,
    ImageOutcomes, MatrixError, OperatingPoint, Panels, Percent, Prf, ReadAt, Sweep,
};
pub use performance_by_class::{ClassPerformanceBody, parse_performance_by_class};
pub use roboflow_meta::{EvalMeta, META_KEY};
pub use saved_eval::{BY_CLASS_KEY, CONFUSION_KEY, FORMAT, IMAGES_KEY, PanelBodies, SWEEP_KEY};

/// The kind of model an eval measured. Decides which metrics exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Task {
    /// Object detection and instance segmentation (Roboflow's `object-detection-like`).
    ObjectDetection,
    /// Semantic segmentation: pixel-level IoU, precision, recall and F1.
    SemanticSegmentation,
}

impl Task {
    /// Every task, in documentation order.
    pub const ALL: [Task; 2] = [Task::ObjectDetection, Task::SemanticSegmentation];

    /// The name used in policies and reports.
    pub fn name(self) -> &'static str {
        match self {
            Task::ObjectDetection => "object-detection",
            Task::SemanticSegmentation => "semantic-segmentation",
        }
    }

    /// Parses a policy `task:` value.
    pub fn from_name(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The metrics a split, an object size, or a class has for this task.
    pub fn metrics(self, kind: ScopeKind) -> &'static [Metric] {
        use Metric::{F1, Iou, Map50, Map50_95, Map75, Miou, OptimalThreshold, Precision, Recall};
        match (self, kind) {
            // Precision, recall, F1 and the F1-optimal threshold come from the confidence
            // sweep, which has no object sizes.
            (Task::ObjectDetection, ScopeKind::Size) => &[Map50, Map50_95, Map75],
            (Task::ObjectDetection, _) => &[
                Map50,
                Map50_95,
                Map75,
                Precision,
                Recall,
                F1,
                OptimalThreshold,
            ],
            (Task::SemanticSegmentation, ScopeKind::Split) => &[Miou, Precision, Recall, F1],
            (Task::SemanticSegmentation, ScopeKind::Class) => {
                &[Iou, Precision, Recall, F1, OptimalThreshold]
            }
            (Task::SemanticSegmentation, ScopeKind::Size) => &[],
        }
    }

    /// Whether evals of this task report metrics per object size.
    pub fn has_sizes(self) -> bool {
        self == Task::ObjectDetection
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kind of scope a metric lives in; each has its own set of metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// The split as a whole.
    Split,
    /// An object-size bucket, of the split or of a class.
    Size,
    /// One class.
    Class,
}

/// A metric name, as written in policies and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// mAP at IoU 0.5.
    Map50,
    /// mAP averaged over IoU 0.5 to 0.95.
    Map50_95,
    /// mAP at IoU 0.75.
    Map75,
    /// Mean IoU over the foreground classes (semantic segmentation, split level).
    Miou,
    /// IoU of one class (semantic segmentation).
    Iou,
    /// Precision (detection: at the policy's operating point).
    Precision,
    /// Recall (detection: at the policy's operating point).
    Recall,
    /// F1 score (detection: at the policy's operating point).
    F1,
    /// The confidence at which F1 peaks: a class's (semantic segmentation), or a split's
    /// and a class's from the confidence sweep (detection).
    OptimalThreshold,
}

impl Metric {
    /// Whether a detection eval reads this metric from the confidence sweep at an operating
    /// point rather than from map-results.
    pub fn at_operating_point(self) -> bool {
        matches!(
            self,
            Metric::Precision | Metric::Recall | Metric::F1 | Metric::OptimalThreshold
        )
    }

    /// Every metric.
    pub const ALL: [Metric; 9] = [
        Metric::Map50,
        Metric::Map50_95,
        Metric::Map75,
        Metric::Miou,
        Metric::Iou,
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
        Metric::OptimalThreshold,
    ];

    /// The name used in policies and reports.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Map50 => "map50",
            Metric::Map50_95 => "map50_95",
            Metric::Map75 => "map75",
            Metric::Miou => "miou",
            Metric::Iou => "iou",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::OptimalThreshold => "optimal_threshold",
        }
    }

    /// Parses a metric name as written in a policy.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An object-size bucket (COCO area ranges, as Roboflow reports them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size {
    /// Small objects.
    Small,
    /// Medium objects.
    Medium,
    /// Large objects.
    Large,
}

impl Size {
    /// Every size, smallest first.
    pub const ALL: [Size; 3] = [Size::Small, Size::Medium, Size::Large];

    /// The name used in policies and reports.
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        }
    }

    /// Parses a size name.
    pub fn from_name(name: &str) -> Option<Size> {
        Size::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The values of one scope. Absent and `null` are the same here.
///
/// A fixed array rather than a map: an eval with 10,000 classes holds 40,000 of these.
#[derive(Clone, Copy)]
pub struct Metrics {
    // NaN marks "no value": the parser rejects NaN, so it never collides with data.
    values: [f64; Metric::ALL.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            values: [f64::NAN; Metric::ALL.len()],
        }
    }
}

impl Metrics {
    /// The value of `metric`, if the eval has one.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        let v = self.values[metric.index()];
        (!v.is_nan()).then_some(v)
    }

    /// Sets or clears the value of `metric`. NaN clears it.
    pub fn set(&mut self, metric: Metric, value: Option<f64>) {
        self.values[metric.index()] = value.unwrap_or(f64::NAN);
    }
}

/// Equal when the same metrics have the same values: "no value" equals "no value", which a
/// derived comparison of the NaN markers would deny.
impl PartialEq for Metrics {
    fn eq(&self, other: &Metrics) -> bool {
        Metric::ALL.iter().all(|m| self.get(*m) == other.get(*m))
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                Metric::ALL
                    .iter()
                    .filter_map(|m| self.get(*m).map(|v| (m.name(), v))),
            )
            .finish()
    }
}

/// Metrics for a scope, with its object-size buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeMetrics {
    /// The scope's own metrics.
    pub metrics: Metrics,
    /// Per object size; all empty for semantic segmentation.
    pub sizes: [Metrics; 3],
    /// Ground-truth instances (pixels, for semantic segmentation), matched or missed: the
    /// row sum of the class in its split's confusion matrix. Known for classes only, and
    /// only when the eval has that matrix.
    pub support: Option<u64>,
}

impl ScopeMetrics {
    /// The metrics of one size bucket.
    pub fn size(&self, size: Size) -> &Metrics {
        &self.sizes[size as usize]
    }
}

/// One split of an eval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplitEval {
    /// The split as a whole, with its object sizes.
    pub overall: ScopeMetrics,
    /// Per class, ordered by name.
    pub classes: Classes,
}

/// A split's classes, ordered by name, each once.
///
/// A sorted list rather than a tree: the parser builds it in one pass from input that is
/// almost always sorted already, and the gate walks it in order and looks names up by binary
/// search. It offers the reading part of `BTreeMap`'s interface (`get`, `contains_key`,
/// `keys`, `values`, `iter`, `len`, `is_empty`, `Index`, iteration by reference), plus
/// `values_mut` and `FromIterator`; names cannot change once it is built.
#[derive(Clone, Default, PartialEq)]
pub struct Classes {
    // Sorted by name, names unique.
    entries: Vec<(String, ScopeMetrics)>,
}

type Entry<'a> = (&'a String, &'a ScopeMetrics);

fn entry(e: &(String, ScopeMetrics)) -> Entry<'_> {
    (&e.0, &e.1)
}

impl Classes {
    /// From entries already sorted by name and unique (the parser's guarantee).
    pub(crate) fn from_sorted(entries: Vec<(String, ScopeMetrics)>) -> Classes {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Classes { entries }
    }

    /// The metrics of one class.
    pub fn get(&self, name: &str) -> Option<&ScopeMetrics> {
        self.entries
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Whether the split has this class.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// How many classes there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The class names, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(n, _)| n)
    }

    /// The classes' metrics, in name order.
    pub fn values(
        &self,
    ) -> impl DoubleEndedIterator<Item = &ScopeMetrics> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, m)| m)
    }

    /// The classes' metrics, to change in place (the names stay as they are).
    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut ScopeMetrics> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, m)| m)
    }

    /// Names and metrics, the metrics to change in place (the names stay as they are).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut ScopeMetrics)> {
        self.entries.iter_mut().map(|(n, m)| (&*n, m))
    }

    /// Names and metrics, in name order.
    pub fn iter(&self) -> ClassIter<'_> {
        self.entries.iter().map(entry)
    }
}

/// The iterator of [`Classes::iter`].
pub type ClassIter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, ScopeMetrics)>,
    fn(&'a (String, ScopeMetrics)) -> Entry<'a>,
>;

impl<'a> IntoIterator for &'a Classes {
    type Item = Entry<'a>;
    type IntoIter = ClassIter<'a>;
    fn into_iter(self) -> ClassIter<'a> {
        self.iter()
    }
}

/// As `BTreeMap` does: sorted by name, and of two equal names the last wins.
impl FromIterator<(String, ScopeMetrics)> for Classes {
    fn from_iter<I: IntoIterator<Item = (String, ScopeMetrics)>>(iter: I) -> Classes {
        let mut entries: Vec<(String, ScopeMetrics)> = iter.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        // `dedup_by` keeps the first of a run; move the last one's values into it.
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        Classes { entries }
    }
}

impl std::ops::Index<&str> for Classes {
    type Output = ScopeMetrics;
    fn index(&self, name: &str) -> &ScopeMetrics {
        self.get(name).expect("no such class")
    }
}

impl fmt::Debug for Classes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// One evaluation of one model.
#[derive(Clone, Debug, PartialEq)]
pub struct Eval {
    /// What kind of model was evaluated.
    pub task: Task,
    /// Splits by name (`train`, `valid`, `test` in practice), ordered by name.
    pub splits: BTreeMap<String, SplitEval>,
    /// What Roboflow's record of the eval says (id, project, version), when known.
    pub meta: EvalMeta,
    /// What a reader of the eval's reports should know about how it was read, in split
    /// order. Not errors: the eval is gated as it is.
    pub notes: Vec<Note>,
    /// The confidence sweep, performance by class and confusion matrices, when the eval
    /// came with them.
    pub panels: Panels,
    /// The operating point precision, recall and F1 were read at ([`Eval::read_at`]);
    /// `None` for an eval as parsed.
    pub read_at: Option<ReadAt>,
}

/// Something about an eval's input that is not an error but that changes how its checks
/// read. The CLI prints each on stderr; reports list them with the eval.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// A semantic-segmentation split has metrics but neither `miou` nor `mIoU`, so its mIoU
    /// is missing rather than a value; checks of it follow the policy's `missing:` rules.
    NoMiou {
        /// The split.
        split: String,
    },
}

impl Note {
    /// The split the note is about.
    pub fn split(&self) -> &str {
        match self {
            Note::NoMiou { split } => split,
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::NoMiou { split } => write!(
                f,
                "{} has semantic-segmentation metrics but neither \"miou\" nor \"mIoU\": its mIoU is missing, not read; checks of miou follow the policy's missing: rules",
                map_results::split_path(split)
            ),
        }
    }
}

/// What part of a split a check looks at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The split as a whole.
    Split,
    /// One object size of the split.
    Size(Size),
    /// One class.
    Class(String),
    /// One object size of one class.
    ClassSize(String, Size),
}

impl Scope {
    /// The class this scope is about, if any.
    pub fn class(&self) -> Option<&str> {
        match self {
            Scope::Class(c) | Scope::ClassSize(c, _) => Some(c),
            Scope::Split | Scope::Size(_) => None,
        }
    }

    /// The object size this scope is about, if any.
    pub fn size(&self) -> Option<Size> {
        match self {
            Scope::Size(s) | Scope::ClassSize(_, s) => Some(*s),
            Scope::Split | Scope::Class(_) => None,
        }
    }
}

/// The result of looking a value up in an eval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lookup {
    /// The eval has no such split.
    NoSplit,
    /// The split has no such class.
    NoClass,
    /// The scope exists but the metric is `null` or absent.
    NoValue,
    /// The value.
    Value(f64),
}

impl Lookup {
    /// The value, if there is one.
    pub fn value(self) -> Option<f64> {
        match self {
            Lookup::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl Eval {
    /// Looks up one metric of one scope of one split.
    pub fn lookup(&self, split: &str, scope: &Scope, metric: Metric) -> Lookup {
        match self.scope_metrics(split, scope) {
            Ok(metrics) => metrics.get(metric).map_or(Lookup::NoValue, Lookup::Value),
            Err(missing) => missing,
        }
    }

    /// The metrics of one scope of one split, or [`Lookup::NoSplit`] / [`Lookup::NoClass`].
    pub fn scope_metrics(&self, split: &str, scope: &Scope) -> Result<&Metrics, Lookup> {
        let owner = self.owner(split, scope.class())?;
        Ok(match scope.size() {
            Some(size) => owner.size(size),
            None => &owner.metrics,
        })
    }

    /// The metrics of a split as a whole (`class` `None`) or of one of its classes, with
    /// their object sizes.
    pub fn owner(&self, split: &str, class: Option<&str>) -> Result<&ScopeMetrics, Lookup> {
        let s = self.splits.get(split).ok_or(Lookup::NoSplit)?;
        match class {
            None => Ok(&s.overall),
            Some(c) => s.classes.get(c).ok_or(Lookup::NoClass),
        }
    }
}

/// Where a drop rule's noise test finds its per-image data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseData {
    /// Each image's true positives, false positives and false negatives at the operating
    /// point (Roboflow's image predictions): detection precision, recall and F1, at split
    /// and class level. A policy that tests them requires the data of every eval.
    ImageOutcomes,
    /// The matched detections of a local COCO evaluation ([`Panels::matched`]):
    /// detection mAP at every scope. Only `coco:` sources carry it; where either eval lacks
    /// it, the rule keeps its fixed threshold.
    MatchedDetections,
}

/// Where a drop rule on `metric` of `task` evals would be noise-tested from, if anywhere.
pub fn noise_data(task: Task, metric: Metric) -> Option<NoiseData> {
    if task != Task::ObjectDetection {
        return None;
    }
    match metric {
        Metric::Precision | Metric::Recall | Metric::F1 => Some(NoiseData::ImageOutcomes),
        Metric::Map50 | Metric::Map50_95 | Metric::Map75 => Some(NoiseData::MatchedDetections),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(map50: f64) -> ScopeMetrics {
        let mut s = ScopeMetrics::default();
        s.metrics.set(Metric::Map50, Some(map50));
        s
    }

    #[test]
    fn classes_are_sorted_unique_and_found_by_name() {
        let classes: Classes = [("car", 0.1), ("bus", 0.2), ("car", 0.3), ("", 0.4)]
            .into_iter()
            .map(|(n, v)| (n.to_owned(), scope(v)))
            .collect();
        let names: Vec<&str> = classes.keys().map(String::as_str).collect();
        assert_eq!(names, ["", "bus", "car"]);
        // As with a BTreeMap, the last of two equal names wins.
        assert_eq!(classes["car"].metrics.get(Metric::Map50), Some(0.3));
        assert_eq!(
            classes.get("").map(|s| s.metrics.get(Metric::Map50)),
            Some(Some(0.4))
        );
        assert!(classes.get("van").is_none() && !classes.contains_key("ca"));
        assert_eq!((classes.len(), classes.values().count()), (3, 3));
        assert_eq!(format!("{:?}", Classes::default()), "{}");
    }

    #[test]
    fn metrics_without_a_value_are_equal() {
        assert_eq!(Metrics::default(), Metrics::default());
        assert_ne!(scope(0.5).metrics, Metrics::default());
    }
}
