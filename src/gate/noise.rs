//! Noise-aware verdicts: a drop rule that the per-image data can test fails only when the
//! drop is over its threshold **and** the paired bootstrap says the candidate is worse, at the
//! policy's significance after correction across every tested check of the gate.
//!
//! The statistics themselves live in [`crate::stats`]; this module pairs the evals' images,
//! asks for one estimate per tested check, corrects, and writes what it found into the checks.

use std::collections::{BTreeMap, BTreeSet};

use super::check::{Evidence, NoiseTest, Status};
use super::{Check, GateError, RuleKind};
use crate::model::{Eval, ImageOutcome, ImageOutcomes, Metric, Task};
use crate::policy::Statistics;
use crate::stats::{
    CountMetric, Counts, EvalCounts, PairedCounts, Quantity, Resampling, adjust, compare,
};

/// Images shown per failing class check in JSON; Markdown shows fewer.
pub const MAX_EVIDENCE: usize = 100;

/// Whether a drop rule on `metric` is noise-tested for `task` evals: precision, recall and
/// F1 of detection, from the per-image outcomes.
pub fn noise_testable(task: Task, metric: Metric) -> bool {
    task == Task::ObjectDetection
        && matches!(metric, Metric::Precision | Metric::Recall | Metric::F1)
}

fn count_metric(metric: Metric) -> Option<CountMetric> {
    match metric {
        Metric::Precision => Some(CountMetric::Precision),
        Metric::Recall => Some(CountMetric::Recall),
        Metric::F1 => Some(CountMetric::F1),
        _ => None,
    }
}

/// Whether the gate tests this check for noise.
fn tested(task: Task, c: &Check) -> bool {
    matches!(c.rule, RuleKind::MaxDrop | RuleKind::MaxDropRel)
        && c.size.is_none()
        && c.metric.is_some_and(|m| noise_testable(task, m))
        && c.candidate().is_some()
        && c.baseline().is_some()
        && matches!(c.status, Status::Pass | Status::Fail | Status::Warn)
}

/// One split's images, paired by id: the counts, and what evidence needs.
struct Split {
    pair: PairedCounts,
    /// Union of both evals' class names, sorted; columns of the counts.
    classes: Vec<String>,
    /// Per paired image: id, name, and each eval's outcome.
    images: Vec<(String, String)>,
    baseline: Vec<Vec<Counts>>,
    candidate: Vec<Vec<Counts>>,
}

/// Tests every testable check of `checks` and returns what each test found, the checks
/// pointing at them. A check over its threshold whose drop is not significant becomes a
/// warning.
pub(crate) fn test(
    stats: &Statistics,
    task: Task,
    baseline: Option<&Eval>,
    candidate: &Eval,
    checks: &mut [Check],
) -> Result<Vec<NoiseTest>, GateError> {
    let Some(baseline) = baseline else {
        // No baseline: drop rules were skipped or failed by `missing.baseline`.
        return Ok(Vec::new());
    };
    let wanted: BTreeSet<&str> = checks
        .iter()
        .filter(|c| tested(task, c))
        .map(|c| &*c.split)
        .collect();
    let mut splits = BTreeMap::new();
    for split in wanted {
        splits.insert(split.to_owned(), pair_split(split, baseline, candidate)?);
    }
    // One estimate per check, computed per split on that split's replicates.
    let mut found: Vec<(usize, crate::stats::Estimate)> = Vec::new();
    for (name, split) in &splits {
        let indices: Vec<usize> = (0..checks.len())
            .filter(|&i| tested(task, &checks[i]) && &*checks[i].split == name.as_str())
            .collect();
        let quantities: Vec<Quantity> = indices
            .iter()
            .map(|&i| {
                let c = &checks[i];
                let m = c
                    .metric
                    .and_then(count_metric)
                    .expect("tested metrics count");
                match &c.class {
                    None => Quantity::Split(m),
                    Some(class) => Quantity::Class(
                        split
                            .classes
                            .binary_search_by(|n| n.as_str().cmp(class))
                            .unwrap_or(usize::MAX),
                        m,
                    ),
                }
            })
            .collect();
        // A class the per-image data does not know cannot be tested: its check keeps its
        // fixed-threshold verdict and carries no statistics, which reports show.
        let (indices, quantities): (Vec<usize>, Vec<Quantity>) = indices
            .iter()
            .zip(&quantities)
            .filter(|(_, q)| !matches!(q, Quantity::Class(usize::MAX, _)))
            .map(|(&i, &q)| (i, q))
            .unzip();
        let resampling = Resampling::new(split.pair.images(), stats.resamples, stats.seed);
        let estimates = compare(&split.pair, &resampling, &quantities)
            .map_err(|e| GateError::ImageData(format!("split {name:?}: {e}")))?;
        // An untestable quantity (undefined on every image) likewise keeps its verdict.
        for (i, estimate) in indices.into_iter().zip(estimates) {
            if let Ok(e) = estimate {
                found.push((i, e));
            }
        }
    }
    let p: Vec<f64> = found.iter().map(|(_, e)| e.p_value).collect();
    let adjusted = adjust(&p, stats.correction);
    let mut tests = Vec::with_capacity(found.len());
    for ((i, e), p_adjusted) in found.into_iter().zip(adjusted) {
        let significant = p_adjusted <= stats.significance && e.delta < 0.0;
        let check = &mut checks[i];
        let over = matches!(check.status, Status::Fail | Status::Warn);
        if over && !significant {
            // `auto` asks only whether the drop is real: within the noise it holds. A drop
            // over a fixed threshold that the data cannot confirm is worth a warning.
            check.status = if check.auto {
                Status::Pass
            } else {
                Status::Warn
            };
        }
        let evidence = match (&check.class, check.status) {
            (Some(class), Status::Fail) => {
                let split = &splits[&*check.split];
                split
                    .classes
                    .binary_search_by(|n| n.as_str().cmp(class))
                    .map(|c| evidence(split, c, check.metric))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        tests.push(NoiseTest {
            delta: e.delta,
            ci_low: e.ci_low,
            ci_high: e.ci_high,
            p_value: e.p_value,
            p_adjusted,
            significant,
            images: e.images,
            resamples: e.resamples,
            recomputed_baseline: e.baseline,
            recomputed_candidate: e.candidate,
            evidence,
        });
        check.set_test(tests.len() - 1);
    }
    Ok(tests)
}

/// Pairs a split's images by id, and turns each eval's outcomes into counts over one class
/// list (matched by name).
fn pair_split(split: &str, baseline: &Eval, candidate: &Eval) -> Result<Split, GateError> {
    fn get<'e>(
        e: &'e Eval,
        split: &str,
        role: &'static str,
    ) -> Result<&'e ImageOutcomes, GateError> {
        e.panels
            .images
            .get(split)
            .ok_or_else(|| GateError::NoImageData {
                split: split.to_owned(),
                role,
            })
    }
    let (b, c) = (
        get(baseline, split, "baseline")?,
        get(candidate, split, "candidate")?,
    );
    let by_id = |o: &ImageOutcomes| -> BTreeMap<String, usize> {
        o.images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.id.clone(), i))
            .collect()
    };
    let (b_ids, c_ids) = (by_id(b), by_id(c));
    let only_b: Vec<&String> = b_ids.keys().filter(|k| !c_ids.contains_key(*k)).collect();
    let only_c: Vec<&String> = c_ids.keys().filter(|k| !b_ids.contains_key(*k)).collect();
    if !only_b.is_empty() || !only_c.is_empty() || b_ids.len() != b.images.len() {
        return Err(GateError::ImagesDiffer {
            split: split.to_owned(),
            only_baseline: only_b.len(),
            only_candidate: only_c.len(),
            examples: only_b
                .iter()
                .chain(&only_c)
                .take(3)
                .map(|s| (*s).clone())
                .collect(),
            duplicates: b_ids.len() != b.images.len() || c_ids.len() != c.images.len(),
        });
    }
    if c_ids.len() != c.images.len() {
        return Err(GateError::ImagesDiffer {
            split: split.to_owned(),
            only_baseline: 0,
            only_candidate: 0,
            examples: Vec::new(),
            duplicates: true,
        });
    }
    let mut names: BTreeSet<&str> = b.classes.iter().map(String::as_str).collect();
    names.extend(c.classes.iter().map(String::as_str));
    let classes: Vec<String> = names.into_iter().map(str::to_owned).collect();
    let rows = |o: &ImageOutcomes, order: &mut dyn Iterator<Item = usize>| -> Vec<Vec<Counts>> {
        // The eval's class index → the union's column.
        let column: Vec<usize> = o
            .classes
            .iter()
            .map(|n| classes.binary_search(n).unwrap_or(usize::MAX))
            .collect();
        order
            .map(|i| per_class(&o.images[i], &column, classes.len()))
            .collect()
    };
    // Both in the baseline's id order.
    let order: Vec<(&String, usize, usize)> =
        b_ids.iter().map(|(id, &bi)| (id, bi, c_ids[id])).collect();
    let baseline_rows = rows(b, &mut order.iter().map(|o| o.1));
    let candidate_rows = rows(c, &mut order.iter().map(|o| o.2));
    let split_counts = |o: &ImageOutcomes, idx: &mut dyn Iterator<Item = usize>| -> Vec<Counts> {
        idx.map(|i| {
            let im = &o.images[i];
            Counts {
                tp: clamp(im.tp),
                fp: clamp(im.fp),
                fn_: clamp(im.fn_),
            }
        })
        .collect()
    };
    let n = order.len();
    let flat = |rows: &[Vec<Counts>]| rows.iter().flatten().copied().collect::<Vec<Counts>>();
    let shape = |e: crate::stats::ShapeError| GateError::ImageData(format!("split {split:?}: {e}"));
    let be = EvalCounts::new(
        n,
        classes.len(),
        flat(&baseline_rows),
        Some(split_counts(b, &mut order.iter().map(|o| o.1))),
    )
    .map_err(shape)?;
    let ce = EvalCounts::new(
        n,
        classes.len(),
        flat(&candidate_rows),
        Some(split_counts(c, &mut order.iter().map(|o| o.2))),
    )
    .map_err(shape)?;
    let pair = PairedCounts::new(be, ce).map_err(shape)?;
    Ok(Split {
        pair,
        images: order
            .iter()
            .map(|&(id, bi, _)| (id.clone(), b.images[bi].name.clone()))
            .collect(),
        classes,
        baseline: baseline_rows,
        candidate: candidate_rows,
    })
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn per_class(image: &ImageOutcome, column: &[usize], classes: usize) -> Vec<Counts> {
    let mut row = vec![Counts::default(); classes];
    for (own, &col) in column.iter().enumerate() {
        if col == usize::MAX {
            continue;
        }
        let (tp, fp, fn_) = image.class_counts(u32::try_from(own).unwrap_or(u32::MAX));
        row[col] = Counts {
            tp: clamp(tp),
            fp: clamp(fp),
            fn_: clamp(fn_),
        };
    }
    row
}

/// The images where the class fared worse in the candidate, worst first: for recall, more
/// false negatives; for precision, more false positives; for F1, more of both together.
fn evidence(split: &Split, class: usize, metric: Option<Metric>) -> Vec<Evidence> {
    let weight = |c: &Counts| -> i64 {
        match metric {
            Some(Metric::Recall) => i64::from(c.fn_),
            Some(Metric::Precision) => i64::from(c.fp),
            _ => i64::from(c.fn_) + i64::from(c.fp),
        }
    };
    let mut worse: Vec<(i64, usize)> = (0..split.images.len())
        .filter_map(|i| {
            let d = weight(&split.candidate[i][class]) - weight(&split.baseline[i][class]);
            (d > 0).then_some((d, i))
        })
        .collect();
    worse.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| split.images[a.1].1.cmp(&split.images[b.1].1))
    });
    worse
        .into_iter()
        .take(MAX_EVIDENCE)
        .map(|(_, i)| {
            let (b, c) = (split.baseline[i][class], split.candidate[i][class]);
            Evidence {
                image_id: split.images[i].0.clone(),
                image_name: split.images[i].1.clone(),
                baseline_fn: b.fn_,
                baseline_fp: b.fp,
                candidate_fn: c.fn_,
                candidate_fp: c.fp,
            }
        })
        .collect()
}
