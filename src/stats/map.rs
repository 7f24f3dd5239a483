//! The paired mAP bootstrap over images, on a matching read once ([`MatchedDetections`]).
//!
//! A replicate gives each image a multiplicity `w`, and AP is accumulated as pycocotools does
//! with every count weighted by `w`: cumulative TP and FP, recall over the weighted
//! ground-truth count, the precision envelope, precision at the recall thresholds, then
//! summarize's means. At unit weights that is pycocotools' accumulate exactly.
//!
//! A weight of `w` is a detection counted `w` times at its rank. That equals pycocotools run on
//! the resampled set (each image repeated `w` times) except where tied scores of one category
//! fall on copies of different images, where pycocotools would interleave the copies: the
//! weighted form is the one Fouhey's bootstrapped COCOeval and the NumPy reference compute.

use super::{Estimate, Resampling, Untestable};
use crate::model::{AREA_RANGES, MatchedDetections, Metric, Size, area_range};

/// An mAP summary: which IoU thresholds the mean runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapMetric {
    /// IoU 0.5.
    Map50,
    /// IoU 0.50:0.95, all ten thresholds.
    Map50_95,
    /// IoU 0.75.
    Map75,
}

impl MapMetric {
    /// The three, in the order evalgate writes them.
    pub const ALL: [MapMetric; 3] = [MapMetric::Map50, MapMetric::Map50_95, MapMetric::Map75];

    /// The gate's metric of this name, if it is an mAP one.
    pub fn of(metric: Metric) -> Option<MapMetric> {
        match metric {
            Metric::Map50 => Some(MapMetric::Map50),
            Metric::Map50_95 => Some(MapMetric::Map50_95),
            Metric::Map75 => Some(MapMetric::Map75),
            _ => None,
        }
    }

    /// The gate's metric.
    pub fn metric(self) -> Metric {
        match self {
            MapMetric::Map50 => Metric::Map50,
            MapMetric::Map50_95 => Metric::Map50_95,
            MapMetric::Map75 => Metric::Map75,
        }
    }
}

/// One mAP number of a split: its metric, over one class or all, one object size or all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapQuantity {
    /// The class, as its position in [`MatchedDetections::classes`]; `None` for the split.
    pub class: Option<usize>,
    /// The object size; `None` for all sizes.
    pub size: Option<Size>,
    /// Which mAP.
    pub metric: MapMetric,
}

impl MapQuantity {
    /// Every scope evalgate writes (split, each size, each class, each class × size), each
    /// with the three metrics, for `classes` classes.
    pub fn every(classes: usize) -> Vec<MapQuantity> {
        let sizes = std::iter::once(None).chain(Size::ALL.iter().copied().map(Some));
        let scopes: Vec<(Option<usize>, Option<Size>)> = std::iter::once(None)
            .chain((0..classes).map(Some))
            .flat_map(|class| sizes.clone().map(move |size| (class, size)))
            .collect();
        scopes
            .into_iter()
            .flat_map(|(class, size)| {
                MapMetric::ALL.iter().map(move |&metric| MapQuantity {
                    class,
                    size,
                    metric,
                })
            })
            .collect()
    }
}

/// Why two evaluations cannot be compared image by image.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairError {
    /// Their ground truths hold different images.
    #[error(
        "the baseline and candidate were evaluated on different images ({baseline} and {candidate}); evaluate both against the same ground truth"
    )]
    DifferentImages {
        /// Images of the baseline's ground truth.
        baseline: usize,
        /// Images of the candidate's.
        candidate: usize,
    },
    /// Their ground truths have different categories.
    #[error(
        "the baseline and candidate were evaluated on different categories; evaluate both against the same ground truth"
    )]
    DifferentClasses,
    /// The resampling is not over these images.
    #[error("the resampling draws {resampling} images, but the evaluations have {images}")]
    Resampling {
        /// Images the resampling draws.
        resampling: usize,
        /// Images of the evaluations.
        images: usize,
    },
    /// A quantity names a class the evaluations do not have.
    #[error("class {class} was asked for, and there are {classes}")]
    UnknownClass {
        /// The position asked for.
        class: usize,
        /// Classes of the evaluations.
        classes: usize,
    },
}

/// Every slab's summed precision per threshold for image weights `weights`.
fn sums(m: &MatchedDetections, weights: &[u32], scratch: &mut Scratch) -> Sums {
    let t_n = m.thresholds();
    let slabs = m.slabs();
    let mut out = Sums {
        thresholds: t_n,
        sum: vec![0.0; slabs.len() * t_n],
        defined: vec![false; slabs.len()],
    };
    let every = if t_n == 64 { u64::MAX } else { (1 << t_n) - 1 };
    for (s, slab) in slabs.iter().enumerate() {
        let npig: u64 = slab
            .ground_truth
            .iter()
            .map(|&(i, n)| u64::from(weights[i as usize]) * u64::from(n))
            .sum();
        if npig == 0 {
            continue;
        }
        out.defined[s] = true;
        let npig = npig as f64;
        scratch.reset(t_n);
        // False positives at every threshold (most detections) add to one count shared by
        // all thresholds, instead of to each.
        let mut fp_every = 0u64;
        for ((&i, &matched), &counted) in slab.image.iter().zip(&slab.matched).zip(&slab.counted) {
            let w = u64::from(weights[i as usize]);
            if matched == 0 && counted == every {
                fp_every += w;
                continue;
            }
            if w == 0 {
                continue;
            }
            let fps = counted & !matched;
            for t in 0..t_n {
                scratch.fp[t] += w * (fps >> t & 1);
            }
            let mut tps = matched;
            while tps != 0 {
                let t = tps.trailing_zeros() as usize;
                tps &= tps - 1;
                scratch.tp[t] += w;
                let tp = scratch.tp[t] as f64;
                let fp = (scratch.fp[t] + fp_every) as f64;
                scratch.curve[t].push((tp / npig, tp / (tp + fp + f64::EPSILON)));
            }
        }
        for t in 0..t_n {
            out.sum[s * t_n + t] = precision_sum(&mut scratch.curve[t], m.rec_thrs());
        }
    }
    out
}

/// Every quantity's value at image weights `weights` (one per image); `None` where the
/// scope has no ground truth under these weights. At unit weights these are pycocotools'
/// numbers.
///
/// # Panics
/// If `weights` is not one per image, or a quantity names a class there is not.
pub fn values(
    matched: &MatchedDetections,
    weights: &[u32],
    quantities: &[MapQuantity],
) -> Vec<Option<f64>> {
    assert_eq!(
        weights.len(),
        matched.images().len(),
        "one weight per image"
    );
    let sums = sums(matched, weights, &mut Scratch::default());
    quantities
        .iter()
        .map(|q| value(matched, &sums, q))
        .collect()
}

fn value(m: &MatchedDetections, sums: &Sums, q: &MapQuantity) -> Option<f64> {
    let a = area_range(q.size);
    let (t50, t75) = m.t50_t75();
    let ts = match q.metric {
        MapMetric::Map50 => t50..t50 + 1,
        MapMetric::Map75 => t75..t75 + 1,
        MapMetric::Map50_95 => 0..m.thresholds(),
    };
    let recall_points = m.rec_thrs().len();
    let (mut total, mut n) = (0.0, 0usize);
    let mut add = |k: usize| {
        let s = k * AREA_RANGES + a;
        if sums.defined[s] {
            for t in ts.clone() {
                total += sums.sum[s * sums.thresholds + t];
                n += recall_points;
            }
        }
    };
    let classes = m.classes().len();
    match q.class {
        Some(k) => {
            assert!(k < classes, "class {k} of {classes}");
            add(k);
        }
        None => (0..classes).for_each(add),
    }
    (n > 0).then(|| total / n as f64)
}

/// Per (category, area) slab and threshold, the sum of the 101 interpolated precisions.
struct Sums {
    thresholds: usize,
    sum: Vec<f64>,
    defined: Vec<bool>,
}

#[derive(Default)]
struct Scratch {
    tp: Vec<u64>,
    fp: Vec<u64>,
    /// Per threshold, `(recall, precision)` at each true positive, in rank order.
    curve: Vec<Vec<(f64, f64)>>,
}

impl Scratch {
    fn reset(&mut self, thresholds: usize) {
        self.tp.clear();
        self.tp.resize(thresholds, 0);
        self.fp.clear();
        self.fp.resize(thresholds, 0);
        self.curve.resize_with(thresholds, Vec::new);
        self.curve.iter_mut().for_each(Vec::clear);
    }
}

/// The sum over `rec_thrs` of pycocotools' interpolated precision, from the curve at the
/// true positives (in rank order).
///
/// pycocotools takes the envelope (running maximum from the right) over every rank and reads
/// it at the first rank whose recall reaches each threshold. Only a true positive raises
/// recall or precision, so the first rank reaching a threshold is a true positive (or rank 0,
/// whose envelope is the first true positive's), and the envelope over the true positives is
/// the envelope over every rank there. A threshold no rank reaches reads 0.
fn precision_sum(curve: &mut [(f64, f64)], rec_thrs: &[f64]) -> f64 {
    for j in (0..curve.len().saturating_sub(1)).rev() {
        curve[j].1 = curve[j].1.max(curve[j + 1].1);
    }
    let mut sum = 0.0;
    let mut j = 0;
    for &thr in rec_thrs {
        while j < curve.len() && curve[j].0 < thr {
            j += 1;
        }
        match curve.get(j) {
            Some(&(_, pr)) => sum += pr,
            None => break,
        }
    }
    sum
}

/// The paired bootstrap of each quantity, in the order asked: Δ = candidate − baseline on
/// every replicate's image weights, summarised by [`Estimate::from_replicates`].
///
/// Both evaluations must be on the same ground truth. A replicate in which a quantity has no
/// ground truth (every image that holds it left out) is left out of that quantity's replicates.
/// The replicates are computed on `resampling`'s threads; the result does not depend on how
/// many there are.
pub fn compare_matched(
    baseline: &MatchedDetections,
    candidate: &MatchedDetections,
    resampling: &Resampling,
    quantities: &[MapQuantity],
) -> Result<Vec<Result<Estimate, Untestable>>, PairError> {
    check_pair(baseline, candidate, resampling.images(), quantities)?;
    let replicates = resampling.map(|_, weights| deltas(baseline, candidate, weights, quantities));
    Ok(summarise(baseline, candidate, quantities, &replicates))
}

/// [`compare_matched`] on replicates drawn elsewhere: `weights[r]` holds each image's
/// multiplicity in replicate `r`, in [`MatchedDetections::images`] order.
pub fn compare_weighted(
    baseline: &MatchedDetections,
    candidate: &MatchedDetections,
    weights: &[Vec<u32>],
    quantities: &[MapQuantity],
) -> Result<Vec<Result<Estimate, Untestable>>, PairError> {
    let images = baseline.images().len();
    if let Some(w) = weights.iter().find(|w| w.len() != images) {
        return Err(PairError::Resampling {
            resampling: w.len(),
            images,
        });
    }
    check_pair(baseline, candidate, images, quantities)?;
    let replicates: Vec<Vec<f64>> = weights
        .iter()
        .map(|w| deltas(baseline, candidate, w, quantities))
        .collect();
    Ok(summarise(baseline, candidate, quantities, &replicates))
}

fn check_pair(
    baseline: &MatchedDetections,
    candidate: &MatchedDetections,
    resampled: usize,
    quantities: &[MapQuantity],
) -> Result<(), PairError> {
    if baseline.images() != candidate.images() {
        return Err(PairError::DifferentImages {
            baseline: baseline.images().len(),
            candidate: candidate.images().len(),
        });
    }
    if baseline.classes() != candidate.classes() {
        return Err(PairError::DifferentClasses);
    }
    let images = baseline.images().len();
    if resampled != images {
        return Err(PairError::Resampling {
            resampling: resampled,
            images,
        });
    }
    let classes = baseline.classes().len();
    if let Some(class) = quantities
        .iter()
        .filter_map(|q| q.class)
        .find(|&k| k >= classes)
    {
        return Err(PairError::UnknownClass { class, classes });
    }
    Ok(())
}

/// One replicate's Δ of each quantity; NaN where either side has no ground truth in it.
fn deltas(
    baseline: &MatchedDetections,
    candidate: &MatchedDetections,
    weights: &[u32],
    quantities: &[MapQuantity],
) -> Vec<f64> {
    let mut scratch = Scratch::default();
    let b = sums(baseline, weights, &mut scratch);
    let c = sums(candidate, weights, &mut scratch);
    quantities
        .iter()
        .map(
            |q| match (value(baseline, &b, q), value(candidate, &c, q)) {
                // Two mAPs that are equal as numbers can differ in the last bits by the order of
                // their sums; a Δ that small is no difference, and counting it as a loss or a gain
                // would move the percentile p-value by a replicate.
                (Some(b), Some(c)) if (c - b).abs() <= SAME => 0.0,
                (Some(b), Some(c)) => c - b,
                _ => f64::NAN,
            },
        )
        .collect()
}

/// Below this, a replicate's Δ counts as no difference. The order of the sums alone moves an
/// mAP by a few units in the last place (about 1e-16); a real difference this small is
/// possible in principle (precisions are ratios of weighted counts, and two such ratios can
/// be within 1/n² of each other), but it is far below any drop a policy can mean.
const SAME: f64 = 1e-12;

fn summarise(
    baseline: &MatchedDetections,
    candidate: &MatchedDetections,
    quantities: &[MapQuantity],
    replicates: &[Vec<f64>],
) -> Vec<Result<Estimate, Untestable>> {
    let images = baseline.images().len();
    let ones = vec![1; images];
    let b_obs = values(baseline, &ones, quantities);
    let c_obs = values(candidate, &ones, quantities);
    (0..quantities.len())
        .map(|j| match (b_obs[j], c_obs[j]) {
            (Some(b), Some(c)) => {
                let deltas: Vec<f64> = replicates.iter().map(|r| r[j]).collect();
                Estimate::from_replicates(b, c, &deltas, images)
            }
            (b, c) => Err(Untestable::Undefined {
                baseline: b.is_none(),
                candidate: c.is_none(),
            }),
        })
        .collect()
}

/// The bootstrap standard error of each quantity of one evaluation, in the order asked: the
/// spread (standard deviation, n − 1) of its value over `resampling`'s replicates, as
/// [`super::std_errors`] gives it for per-image counts. It is what `calibrate` turns into the
/// smallest drop the paired test can detect.
///
/// A replicate in which a quantity has no ground truth is left out of that quantity's
/// replicates; a quantity with none at all is [`Untestable::Undefined`].
pub fn std_errors(
    matched: &MatchedDetections,
    resampling: &Resampling,
    quantities: &[MapQuantity],
) -> Result<Vec<Result<f64, Untestable>>, PairError> {
    check_pair(matched, matched, resampling.images(), quantities)?;
    let replicates = resampling.map(|_, weights| values(matched, weights, quantities));
    Ok(spread(matched, quantities, &replicates))
}

/// [`std_errors`] on replicates drawn elsewhere: `weights[r]` holds each image's multiplicity
/// in replicate `r`, in [`MatchedDetections::images`] order.
pub fn std_errors_weighted(
    matched: &MatchedDetections,
    weights: &[Vec<u32>],
    quantities: &[MapQuantity],
) -> Result<Vec<Result<f64, Untestable>>, PairError> {
    let images = matched.images().len();
    if let Some(w) = weights.iter().find(|w| w.len() != images) {
        return Err(PairError::Resampling {
            resampling: w.len(),
            images,
        });
    }
    check_pair(matched, matched, images, quantities)?;
    let replicates: Vec<Vec<Option<f64>>> = weights
        .iter()
        .map(|w| values(matched, w, quantities))
        .collect();
    Ok(spread(matched, quantities, &replicates))
}

fn spread(
    matched: &MatchedDetections,
    quantities: &[MapQuantity],
    replicates: &[Vec<Option<f64>>],
) -> Vec<Result<f64, Untestable>> {
    let images = matched.images().len();
    let observed = values(matched, &vec![1; images], quantities);
    (0..quantities.len())
        .map(|j| {
            if images == 0 {
                return Err(Untestable::NoImages);
            }
            if observed[j].is_none() {
                return Err(Untestable::Undefined {
                    baseline: true,
                    candidate: true,
                });
            }
            let usable: Vec<f64> = replicates.iter().filter_map(|r| r[j]).collect();
            if usable.len() < 2 {
                return Err(Untestable::TooFewReplicates {
                    usable: usable.len(),
                });
            }
            let n = usable.len() as f64;
            let mean = usable.iter().sum::<f64>() / n;
            let ss: f64 = usable.iter().map(|x| (x - mean) * (x - mean)).sum();
            // Replicates that agree to rounding (one image holds the whole scope) measure
            // no noise, as for counts.
            match (ss / (n - 1.0)).sqrt() {
                se if se <= SAME => Err(Untestable::NoSpread),
                se => Ok(se),
            }
        })
        .collect()
}
