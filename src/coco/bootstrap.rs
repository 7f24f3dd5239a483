//! The paired mAP bootstrap over images, on hotcoco's matching.
//!
//! Matching is the expensive part of COCO evaluation and does not depend on which images a
//! bootstrap replicate draws: a detection matches the same ground truth whether its image is
//! drawn once, twice or not at all. So the matching is read once from hotcoco's per-image
//! records ([`Evaluation::eval_imgs`]) into plain arrays ([`MatchedDetections`], in `model`),
//! which [`crate::stats::map`] reweights replicate by replicate. This module does only the
//! reading, and the [`compare`] convenience; the other names are re-exported from where they
//! live.

use std::collections::HashMap;

use super::{CocoError, Evaluation};
use crate::model::{AREA_RANGES, MatchedParts, Slab};
use crate::stats::{Estimate, Resampling, Untestable};

pub use crate::model::MatchedDetections;
pub use crate::stats::map::{
    MapMetric, MapQuantity, PairError, compare_matched, compare_weighted, values,
};

/// The area ranges in slab order, by pycocotools' labels.
const AREAS: [&str; AREA_RANGES] = ["all", "small", "medium", "large"];

/// Reads `evaluation`'s matching. No detection is matched again.
///
/// This asks hotcoco for its full per-image records, which it builds on first use and keeps
/// with the evaluation (about 0.9 GB at COCO val's size): drop the evaluation once this
/// returns, if nothing else needs it.
pub fn matched_detections(evaluation: &Evaluation) -> Result<MatchedDetections, CocoError> {
    let engine = evaluation.engine();
    let p = &engine.params;
    let unread = |what: String| CocoError::Engine(format!("its matching cannot be read: {what}"));
    let missing = |what: &str| unread(format!("its parameters have no {what}"));
    let t50 = p.iou_thr_idx(0.5).ok_or_else(|| missing("IoU 0.5"))?;
    let t75 = p.iou_thr_idx(0.75).ok_or_else(|| missing("IoU 0.75"))?;
    let thresholds = p.iou_thrs.len();
    if thresholds > 64 {
        return Err(unread(format!(
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
    let image_pos: HashMap<u64, u32> = images
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i as u32))
        .collect();
    let cat_pos: HashMap<u64, usize> = p
        .cat_ids
        .iter()
        .enumerate()
        .map(|(k, &id)| (id, k))
        .collect();
    let gt = engine.coco_gt();
    let image_names = images
        .iter()
        .map(|&id| {
            gt.get_img(id)
                .map(|im| im.file_name.clone())
                .unwrap_or_default()
        })
        .collect();
    let classes = evaluation.class_names();

    // Each (category, area) slab's records, with its image position, to put in image
    // order: pycocotools concatenates a slab's per-image records in image order before its
    // stable score sort, and that order breaks score ties.
    let mut cells: Vec<Vec<(u32, &hotcoco::EvalImg)>> = (0..p.cat_ids.len() * AREAS.len())
        .map(|_| Vec::new())
        .collect();
    for e in evaluation.eval_imgs().iter().flatten() {
        let (Some(&k), Some(&i)) = (cat_pos.get(&e.category_id), image_pos.get(&e.image_id)) else {
            continue;
        };
        let Some(a) = areas.iter().position(|r| {
            r[0].to_bits() == e.area_rng[0].to_bits() && r[1].to_bits() == e.area_rng[1].to_bits()
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
                        // pycocotools: tps = dtm & ~dtIg, fps = ~dtm & ~dtIg; a detection
                        // matched to an ignored ground truth is ignored.
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
    MatchedDetections::from_parts(MatchedParts {
        images,
        image_names,
        classes,
        rec_thrs: p.rec_thrs.clone(),
        thresholds,
        t50,
        t75,
        slabs,
    })
    .map_err(|e| unread(e.to_string()))
}

/// [`matched_detections`] of both, then [`compare_matched`]: the paired mAP bootstrap of two
/// evaluations on the same ground truth.
///
/// To test several sets of quantities, or to free hotcoco's records before resampling, read
/// the [`MatchedDetections`] once and call [`compare_matched`].
pub fn compare(
    baseline: &Evaluation,
    candidate: &Evaluation,
    resampling: &Resampling,
    quantities: &[MapQuantity],
) -> Result<Vec<Result<Estimate, Untestable>>, BootstrapError> {
    let b = matched_detections(baseline)?;
    let c = matched_detections(candidate)?;
    Ok(compare_matched(&b, &c, resampling, quantities)?)
}

/// Why [`compare`] could not compare two evaluations.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// A matching could not be read.
    #[error(transparent)]
    Read(#[from] CocoError),
    /// The two cannot be paired.
    #[error(transparent)]
    Pair(#[from] PairError),
}
