//! Noise tests for eval comparisons: a paired bootstrap over images.
//!
//! The noise that matters when two evals of a fixed split are compared is which images happen to
//! be in the split. Both evals are scored on the same images, so each bootstrap replicate draws
//! one multiset of images (with replacement) and computes the metric for both models on it; the
//! statistic is the difference inside the replicate (Everingham et al., IJCV 2015; Efron &
//! Tibshirani, *An Introduction to the Bootstrap*, 1993). docs/statistics.md describes the method,
//! its assumptions and a worked example.
//!
//! The pieces:
//! - [`EvalCounts`]: one eval's true positives, false positives and false negatives per image
//!   and class (and per image at split level); [`PairedCounts`] pairs two of them.
//! - [`Resampling`]: the replicates, fixed by a seed; shareable by every check of a gate.
//! - [`compare`]: the observed difference, its 95% interval and a one-sided p-value for each
//!   [`Quantity`]; [`Estimate::from_replicates`] does the same for a statistic computed
//!   elsewhere on the same replicates.
//! - [`adjust`]: Holm or Benjamini–Hochberg adjusted p-values.
//! - [`std_errors`] and [`min_detectable_drop`]: what one eval's data can detect.
//!
//! ```
//! use evalgate::stats::{Counts, EvalCounts, CountMetric, PairedCounts, Quantity, Resampling, compare};
//!
//! // Three images, one class: the candidate misses one more object on the third image.
//! let cells = |fns: [u32; 3]| -> Vec<Counts> {
//!     fns.iter().map(|&f| Counts { tp: 4 - f, fp: 0, fn_: f }).collect()
//! };
//! let baseline = EvalCounts::new(3, 1, cells([0, 1, 1]), None)?;
//! let candidate = EvalCounts::new(3, 1, cells([0, 1, 2]), None)?;
//! let pair = PairedCounts::new(baseline, candidate)?;
//! let resampling = Resampling::new(pair.images(), 2000, 1);
//! let recall = compare(&pair, &resampling, &[Quantity::Split(CountMetric::Recall)])?;
//! let estimate = recall[0].as_ref().expect("testable");
//! assert!((estimate.delta - (-1.0 / 12.0)).abs() < 1e-12);
//! assert!(estimate.ci_low < estimate.delta && estimate.ci_high <= 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bootstrap;
mod correction;
mod counts;
pub mod map;
mod normal;
mod power;
mod resample;

#[cfg(test)]
mod tests;

pub use bootstrap::{Estimate, Untestable, compare, std_errors};
pub use correction::{Correction, adjust};
pub use counts::{Counts, EvalCounts, PairedCounts, ShapeError};
pub use power::min_detectable_drop;
pub use resample::Resampling;

/// A detection metric computed from pooled counts: precision, recall or F1 as the gate's
/// [`crate::model::Metric`] names them, here only where counts define them.
///
/// A ratio whose denominator is zero is undefined (see [`Untestable::Undefined`]), never 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CountMetric {
    /// TP / (TP + FP); undefined when there are no predictions.
    Precision,
    /// TP / (TP + FN); undefined when there are no ground-truth objects.
    Recall,
    /// 2·TP / (2·TP + FP + FN); undefined when there are neither predictions nor objects.
    F1,
}

impl CountMetric {
    /// The metric of pooled counts, `None` when its denominator is zero.
    pub fn of(self, tp: u64, fp: u64, fn_: u64) -> Option<f64> {
        let (num, den) = match self {
            CountMetric::Precision => (tp, tp + fp),
            CountMetric::Recall => (tp, tp + fn_),
            CountMetric::F1 => (2 * tp, 2 * tp + fp + fn_),
        };
        // Integer sums are exact, and IEEE division is correctly rounded: the value depends only
        // on the exact ratio, never on the order in which images were added.
        (den > 0).then(|| num as f64 / den as f64)
    }
}

/// What a check tests: a metric at split level, of one class, or averaged over classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantity {
    /// The metric of the split-level counts pooled over images (micro).
    Split(CountMetric),
    /// The metric of one class's counts pooled over images; the index is the class's column in
    /// [`EvalCounts`].
    Class(usize, CountMetric),
    /// The mean over classes of each class's metric (macro). A class counts only where its
    /// metric is defined for both models, in the observed data and in each replicate.
    Macro(CountMetric),
}
