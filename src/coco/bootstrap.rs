//! The paired mAP bootstrap over images, on hotcoco's matching.
//!
//! Matching is the expensive part of COCO evaluation and does not depend on which images a
//! bootstrap replicate draws: a detection matches the same ground truth whether its image is
//! drawn once, twice or not at all. So the matching is read once from hotcoco's per-image
//! records ([`Evaluation::matched`]) into plain arrays ([`MatchedDetections`]): for every
//! category × area range, the detections in pycocotools' accumulate order (score descending,
//! ties in image order, at most 100 per image) with their image and, per IoU threshold,
//! whether each is a true positive, a false positive or ignored; and each image's count of
//! non-ignored ground truth. A replicate gives each image a multiplicity `w`, and AP is
//! accumulated as pycocotools does with every count weighted by `w`: cumulative TP and FP,
//! recall over the weighted ground-truth count, the precision envelope, precision at the 101
//! recall thresholds, then summarize's means. At unit weights that is pycocotools' accumulate
//! exactly.
//!
//! A weight of `w` is a detection counted `w` times at its rank. That equals pycocotools run on
//! the resampled set (each image repeated `w` times) except where tied scores of one category
//! fall on copies of different images, where pycocotools would interleave the copies: the
//! weighted form is the one Fouhey's bootstrapped COCOeval and the NumPy reference compute.

use std::fmt;

use super::Evaluation;
use crate::model::{Metric, Size};
use crate::stats::{Estimate, Resampling, Untestable};

/// The area ranges in the order the arrays keep them: `all`, then [`Size::ALL`].
const AREAS: [&str; 4] = ["all", "small", "medium", "large"];

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
    /// hotcoco's records are not in the shape pycocotools' defaults give.
    #[error("hotcoco's matching cannot be read: {0}")]
    Engine(String),
}

/// The detections of one category in one area range, in accumulate order.
#[derive(Debug, Default)]
struct Slab {
    /// Each detection's image position. Detections ignored at every threshold are left out:
    /// they move neither count, so they change no precision or recall.
    image: Vec<u32>,
    /// Bit `t`: a true positive at IoU threshold `t`.
    matched: Vec<u64>,
    /// Bit `t`: counted (a true or false positive, not ignored) at threshold `t`.
    counted: Vec<u64>,
    /// `(image position, non-ignored ground truth)` for each image with any.
    ground_truth: Vec<(u32, u32)>,
}

/// One evaluation's matching as plain arrays, read once from hotcoco's per-image records.
pub struct MatchedDetections {
    images: Vec<u64>,
    classes: Vec<String>,
    rec_thrs: Vec<f64>,
    thresholds: usize,
    t50: usize,
    t75: usize,
    /// `slabs[k * 4 + a]`, `a` in [`AREAS`] order.
    slabs: Vec<Slab>,
}

impl fmt::Debug for MatchedDetections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchedDetections")
            .field("images", &self.images.len())
            .field("classes", &self.classes.len())
            .finish_non_exhaustive()
    }
}

impl MatchedDetections {
    /// Reads `evaluation`'s matching. No detection is matched again.
    ///
    /// This asks hotcoco for its full per-image records, which it builds on first use and
    /// keeps with the evaluation (about 0.9 GB at COCO val's size): drop the evaluation once
    /// this returns, if nothing else needs it.
    pub fn new(evaluation: &Evaluation) -> Result<MatchedDetections, PairError> {
        let engine = evaluation.engine();
        let p = &engine.params;
        let missing = |what: &str| PairError::Engine(format!("its parameters have no {what}"));
        let t50 = p.iou_thr_idx(0.5).ok_or_else(|| missing("IoU 0.5"))?;
        let t75 = p.iou_thr_idx(0.75).ok_or_else(|| missing("IoU 0.75"))?;
        let thresholds = p.iou_thrs.len();
        if thresholds > 64 {
            return Err(PairError::Engine(format!(
                "{thresholds} IoU thresholds, more than the 64 evalgate supports"
            )));
        }
        let areas: Vec<[f64; 2]> = AREAS
            .iter()
            .map(|label| {
                p.area_range_idx(label)
                    .map(|a| p.area_ranges[a].range)
                    .ok_or_else(|| missing(label))
            })
            .collect::<Result<_, _>>()?;
        let max_det = p.max_det();
        let mut images = p.img_ids.clone();
        images.sort_unstable();
        images.dedup();
        let image_pos: std::collections::HashMap<u64, u32> = images
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u32))
            .collect();
        let cat_pos: std::collections::HashMap<u64, usize> = p
            .cat_ids
            .iter()
            .enumerate()
            .map(|(k, &id)| (id, k))
            .collect();
        let gt = engine.coco_gt();
        let classes = p
            .cat_ids
            .iter()
            .map(|id| {
                gt.get_cat(*id)
                    .map_or_else(|| format!("category {id}"), |c| c.name.clone())
            })
            .collect();

        // Each (category, area) slab's records, with its image position, to put in image
        // order: pycocotools concatenates a slab's per-image records in image order before
        // its stable score sort, and that order breaks score ties.
        let mut cells: Vec<Vec<(u32, &hotcoco::EvalImg)>> = (0..p.cat_ids.len() * AREAS.len())
            .map(|_| Vec::new())
            .collect();
        for e in evaluation.matched().iter().flatten() {
            let (Some(&k), Some(&i)) = (cat_pos.get(&e.category_id), image_pos.get(&e.image_id))
            else {
                continue;
            };
            let Some(a) = areas.iter().position(|r| {
                r[0].to_bits() == e.area_rng[0].to_bits()
                    && r[1].to_bits() == e.area_rng[1].to_bits()
            }) else {
                continue;
            };
            cells[k * AREAS.len() + a].push((i, e));
        }
        let slabs = cells
            .into_iter()
            .map(|mut records| {
                records.sort_by_key(|&(i, _)| i);
                let mut slab = Slab::default();
                let mut dets: Vec<(f64, u32, u64, u64)> = Vec::new();
                for (i, e) in records {
                    let n_gt = e.num_gt_in_denominator() as u32;
                    if n_gt > 0 {
                        slab.ground_truth.push((i, n_gt));
                    }
                    for d in 0..e.dt_scores.len().min(max_det) {
                        let (mut matched, mut counted) = (0u64, 0u64);
                        for t in 0..thresholds {
                            // pycocotools: tps = dtm & ~dtIg, fps = ~dtm & ~dtIg; a
                            // detection matched to an ignored ground truth is ignored.
                            if !e.dt_ignore[(t, d)] {
                                counted |= 1 << t;
                                if e.dt_matched[(t, d)] {
                                    matched |= 1 << t;
                                }
                            }
                        }
                        dets.push((e.dt_scores[d], i, matched, counted));
                    }
                }
                // Stable, so ties keep image order (then each record's own order), as
                // pycocotools' mergesort on `-score` does.
                dets.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
                for (_, i, matched, counted) in dets.into_iter().filter(|d| d.3 != 0) {
                    slab.image.push(i);
                    slab.matched.push(matched);
                    slab.counted.push(counted);
                }
                slab
            })
            .collect();
        Ok(MatchedDetections {
            images,
            classes,
            rec_thrs: p.rec_thrs.clone(),
            thresholds,
            t50,
            t75,
            slabs,
        })
    }

    /// Images, as ground-truth image ids in ascending order: the positions the weights index.
    pub fn images(&self) -> &[u64] {
        &self.images
    }

    /// Class names, in category order: the positions [`MapQuantity::class`] indexes.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Every slab's summed precision per threshold for image weights `weights`.
    fn sums(&self, weights: &[u32], scratch: &mut Scratch) -> Sums {
        let t_n = self.thresholds;
        let mut out = Sums {
            thresholds: t_n,
            sum: vec![0.0; self.slabs.len() * t_n],
            defined: vec![false; self.slabs.len()],
        };
        for (s, slab) in self.slabs.iter().enumerate() {
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
            let every = if t_n == 64 { u64::MAX } else { (1 << t_n) - 1 };
            // False positives at every threshold (most detections) add to one count shared by
            // all thresholds, instead of to each.
            let mut fp_every = 0u64;
            for ((&i, &m), &c) in slab.image.iter().zip(&slab.matched).zip(&slab.counted) {
                let w = u64::from(weights[i as usize]);
                if m == 0 && c == every {
                    fp_every += w;
                    continue;
                }
                if w == 0 {
                    continue;
                }
                let fps = c & !m;
                for t in 0..t_n {
                    scratch.fp[t] += w * (fps >> t & 1);
                }
                let mut tps = m;
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
                out.sum[s * t_n + t] = precision_sum(&mut scratch.curve[t], &self.rec_thrs);
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
    pub fn values(&self, weights: &[u32], quantities: &[MapQuantity]) -> Vec<Option<f64>> {
        assert_eq!(weights.len(), self.images.len(), "one weight per image");
        let sums = self.sums(weights, &mut Scratch::default());
        quantities.iter().map(|q| self.value(&sums, q)).collect()
    }

    fn value(&self, sums: &Sums, q: &MapQuantity) -> Option<f64> {
        let a = q.size.map_or(0, |s| {
            1 + Size::ALL.iter().position(|&x| x == s).unwrap_or(0)
        });
        let ts: &[usize] = match q.metric {
            MapMetric::Map50 => std::slice::from_ref(&self.t50),
            MapMetric::Map75 => std::slice::from_ref(&self.t75),
            MapMetric::Map50_95 => &[],
        };
        let all_t: Vec<usize>;
        let ts = if ts.is_empty() {
            all_t = (0..self.thresholds).collect();
            &all_t
        } else {
            ts
        };
        let (mut total, mut n) = (0.0, 0usize);
        let mut add = |k: usize| {
            let s = k * AREAS.len() + a;
            if sums.defined[s] {
                for &t in ts {
                    total += sums.sum[s * sums.thresholds + t];
                    n += self.rec_thrs.len();
                }
            }
        };
        match q.class {
            Some(k) => {
                assert!(
                    k < self.classes.len(),
                    "class {k} of {}",
                    self.classes.len()
                );
                add(k);
            }
            None => (0..self.classes.len()).for_each(add),
        }
        (n > 0).then(|| total / n as f64)
    }
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
    let images = baseline.images.len();
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
    if baseline.images != candidate.images {
        return Err(PairError::DifferentImages {
            baseline: baseline.images.len(),
            candidate: candidate.images.len(),
        });
    }
    if baseline.classes != candidate.classes {
        return Err(PairError::DifferentClasses);
    }
    let images = baseline.images.len();
    if resampled != images {
        return Err(PairError::Resampling {
            resampling: resampled,
            images,
        });
    }
    let classes = baseline.classes.len();
    if let Some(k) = quantities
        .iter()
        .filter_map(|q| q.class)
        .find(|&k| k >= classes)
    {
        return Err(PairError::Engine(format!(
            "class {k} was asked for, and there are {classes}"
        )));
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
    let b = baseline.sums(weights, &mut scratch);
    let c = candidate.sums(weights, &mut scratch);
    quantities
        .iter()
        .map(|q| match (baseline.value(&b, q), candidate.value(&c, q)) {
            // Two mAPs that are equal as numbers can differ in the last bits by the order of
            // their sums; a Δ that small is no difference, and counting it as a loss or a gain
            // would move the percentile p-value by a replicate.
            (Some(b), Some(c)) if (c - b).abs() <= SAME => 0.0,
            (Some(b), Some(c)) => c - b,
            _ => f64::NAN,
        })
        .collect()
}

/// Below this, a replicate's Δ is rounding: AP moves in steps no finer than
/// 1 / (101 · 10 · ground truth), far above it.
const SAME: f64 = 1e-12;

fn summarise(
    baseline: &MatchedDetections,
    candidate: &MatchedDetections,
    quantities: &[MapQuantity],
    replicates: &[Vec<f64>],
) -> Vec<Result<Estimate, Untestable>> {
    let images = baseline.images.len();
    let ones = vec![1; images];
    let b_obs = baseline.values(&ones, quantities);
    let c_obs = candidate.values(&ones, quantities);
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

/// [`MatchedDetections::new`] of both, then [`compare_matched`]: the paired mAP bootstrap of
/// two evaluations on the same ground truth.
///
/// To test several sets of quantities, or to free hotcoco's records before resampling, build
/// the [`MatchedDetections`] once and call [`compare_matched`].
pub fn compare(
    baseline: &Evaluation,
    candidate: &Evaluation,
    resampling: &Resampling,
    quantities: &[MapQuantity],
) -> Result<Vec<Result<Estimate, Untestable>>, PairError> {
    let b = MatchedDetections::new(baseline)?;
    let c = MatchedDetections::new(candidate)?;
    compare_matched(&b, &c, resampling, quantities)
}
