//! Noise-aware verdicts: a drop rule that the per-image data can test fails only when the
//! drop is over its threshold **and** the paired bootstrap says the candidate is worse, at the
//! policy's significance after correction across every tested check of the gate.
//!
//! The statistics themselves live in [`crate::stats`]; this module pairs the evals' images,
//! asks for one estimate per tested check (precision, recall and F1 from per-image counts,
//! mAP from a local evaluation's matching), corrects once over all of them, and writes what
//! it found into the checks.

use std::collections::{BTreeMap, BTreeSet};

use super::check::{Evidence, NoiseTest, Status};
use super::{Check, GateError, NotComparable, RuleKind};
use crate::model::{
    Eval, ImageOutcome, ImageOutcomes, MatchedDetections, Metric, NoiseData, Size, Task, noise_data,
};
use crate::policy::Statistics;
use crate::stats::map::{MapMetric, MapQuantity, PairError, compare_matched};
use crate::stats::{
    CountMetric, Counts, Estimate, EvalCounts, PairedCounts, Quantity, Resampling, adjust, compare,
};

/// Images shown per failing class check in JSON; Markdown shows fewer.
pub const MAX_EVIDENCE: usize = 100;

fn count_metric(metric: Metric) -> Option<CountMetric> {
    match metric {
        Metric::Precision => Some(CountMetric::Precision),
        Metric::Recall => Some(CountMetric::Recall),
        Metric::F1 => Some(CountMetric::F1),
        _ => None,
    }
}

/// Whether the check is a drop comparison that a noise test can soften or confirm.
fn comparison(c: &Check) -> bool {
    matches!(c.rule, RuleKind::MaxDrop | RuleKind::MaxDropRel)
        // Only a comparison can be softened by noise: a check that failed for want of data
        // (support that cannot be shown, say) stays as it is.
        && c.reason == super::Reason::Compared
        && c.candidate().is_some()
        && c.baseline().is_some()
        && matches!(c.status, Status::Pass | Status::Fail | Status::Warn)
}

/// Whether the gate tests this check from per-image counts.
fn tested(task: Task, c: &Check) -> bool {
    comparison(c)
        && c.size.is_none()
        && c.metric.and_then(|m| noise_data(task, m)) == Some(NoiseData::ImageOutcomes)
}

/// Whether the gate tests this check from both evals' matching.
fn tested_map(task: Task, c: &Check, baseline: &Eval, candidate: &Eval) -> bool {
    comparison(c)
        && c.metric.and_then(|m| noise_data(task, m)) == Some(NoiseData::MatchedDetections)
        && baseline.panels.matched.contains_key(&*c.split)
        && candidate.panels.matched.contains_key(&*c.split)
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
    let mut found: Vec<(usize, Estimate, NoiseData)> = Vec::new();
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
                found.push((i, e, NoiseData::ImageOutcomes));
            }
        }
    }
    test_map(stats, task, baseline, candidate, checks, &mut found)?;
    // One correction over every tested check, whatever its data.
    let p: Vec<f64> = found.iter().map(|(_, e, _)| e.p_value).collect();
    let adjusted = adjust(&p, stats.correction);
    let mut tests = Vec::with_capacity(found.len());
    for ((i, e, from), p_adjusted) in found.into_iter().zip(adjusted) {
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
        let (evidence, worse_images) = match (&check.class, check.status, from) {
            (Some(class), Status::Fail, NoiseData::ImageOutcomes) => {
                let split = &splits[&*check.split];
                split
                    .classes
                    .binary_search_by(|n| n.as_str().cmp(class))
                    .map(|c| evidence(split, c, check.metric))
                    .unwrap_or_default()
            }
            (Some(class), Status::Fail, NoiseData::MatchedDetections) => {
                let (b, c) = (
                    &baseline.panels.matched[&*check.split],
                    &candidate.panels.matched[&*check.split],
                );
                b.class(class)
                    .map(|k| map_evidence(b, c, k, check.size, check.metric))
                    .unwrap_or_default()
            }
            _ => (Vec::new(), 0),
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
            worse_images,
        });
        check.set_test(tests.len() - 1);
    }
    Ok(tests)
}

/// Tests the mAP drop checks of every split where both evals carry the matching, adding
/// one estimate per testable check to `found`.
fn test_map(
    stats: &Statistics,
    task: Task,
    baseline: &Eval,
    candidate: &Eval,
    checks: &[Check],
    found: &mut Vec<(usize, Estimate, NoiseData)>,
) -> Result<(), GateError> {
    let wanted: BTreeSet<&str> = checks
        .iter()
        .filter(|c| tested_map(task, c, baseline, candidate))
        .map(|c| &*c.split)
        .collect();
    for name in wanted {
        let (b, c) = (
            &*baseline.panels.matched[name],
            &*candidate.panels.matched[name],
        );
        pair_matchings(name, b, c)?;
        // A class the matching does not name keeps its fixed-threshold verdict. A coco:
        // source's classes are its matching's, so only an eval built otherwise has one.
        let (indices, quantities): (Vec<usize>, Vec<MapQuantity>) = (0..checks.len())
            .filter(|&i| {
                tested_map(task, &checks[i], baseline, candidate) && &*checks[i].split == name
            })
            .filter_map(|i| {
                let check = &checks[i];
                let class = match &check.class {
                    None => None,
                    Some(class) => Some(b.class(class)?),
                };
                let metric = MapMetric::of(check.metric?)?;
                Some((
                    i,
                    MapQuantity {
                        class,
                        size: check.size,
                        metric,
                    },
                ))
            })
            .unzip();
        let resampling = Resampling::new(b.images().len(), stats.resamples, stats.seed);
        let estimates = compare_matched(b, c, &resampling, &quantities).map_err(|e| match e {
            PairError::DifferentClasses => not_comparable(name, b, c),
            e => GateError::ImageData(format!("split {name:?}: {e}")),
        })?;
        // An untestable quantity (no ground truth in the scope) keeps its verdict.
        for (i, estimate) in indices.into_iter().zip(estimates) {
            if let Ok(e) = estimate {
                found.push((i, e, NoiseData::MatchedDetections));
            }
        }
    }
    Ok(())
}

/// Refuses two matchings of a split that are not of the same images and categories: each
/// model must be evaluated against the same ground truth.
fn pair_matchings(
    split: &str,
    b: &MatchedDetections,
    c: &MatchedDetections,
) -> Result<(), GateError> {
    if b.images() != c.images() {
        // Both are sorted and distinct.
        let only = |x: &[u64], y: &[u64]| -> Vec<u64> {
            x.iter()
                .copied()
                .filter(|id| y.binary_search(id).is_err())
                .collect()
        };
        let (only_b, only_c) = (only(b.images(), c.images()), only(c.images(), b.images()));
        return Err(images_differ(split, &only_b, &only_c, false));
    }
    if b.classes() != c.classes() {
        return Err(not_comparable(split, b, c));
    }
    Ok(())
}

/// Two evals' images of `split` do not pair: how many are only in each, and a few of their ids.
fn images_differ<T: ToString>(
    split: &str,
    only_baseline: &[T],
    only_candidate: &[T],
    duplicates: bool,
) -> GateError {
    GateError::ImagesDiffer {
        split: split.to_owned(),
        only_baseline: only_baseline.len(),
        only_candidate: only_candidate.len(),
        examples: only_baseline
            .iter()
            .chain(only_candidate)
            .take(3)
            .map(ToString::to_string)
            .collect(),
        duplicates,
    }
}

fn not_comparable(split: &str, b: &MatchedDetections, c: &MatchedDetections) -> GateError {
    let only = |x: &[String], y: &[String]| x.iter().filter(|n| !y.contains(n)).count();
    GateError::NotComparable(NotComparable::Categories {
        split: split.to_owned(),
        only_baseline: only(b.classes(), c.classes()),
        only_candidate: only(c.classes(), b.classes()),
    })
}

/// For a failing mAP check of class `class`, the images where the class lost true positives
/// at IoU 0.5 (0.75 for map75), worst first, with each side's false negatives (ground truth
/// no detection matched) and false positives there, among the detections the evaluation
/// keeps (up to 100 per image, at any score).
fn map_evidence(
    b: &MatchedDetections,
    c: &MatchedDetections,
    class: usize,
    size: Option<Size>,
    metric: Option<Metric>,
) -> (Vec<Evidence>, usize) {
    let (t50, t75) = b.t50_t75();
    let t = if metric == Some(Metric::Map75) {
        t75
    } else {
        t50
    };
    let per_image = |m: &MatchedDetections| -> Vec<(u32, u32, u32)> {
        // (ground truth, true positives, false positives) per image position.
        let slab = m.slab(class, size);
        let mut out = vec![(0u32, 0u32, 0u32); m.images().len()];
        for &(i, n) in &slab.ground_truth {
            out[i as usize].0 = n;
        }
        for ((&i, &matched), &counted) in slab.image.iter().zip(&slab.matched).zip(&slab.counted) {
            let cell = &mut out[i as usize];
            if matched >> t & 1 == 1 {
                cell.1 += 1;
            } else if counted >> t & 1 == 1 {
                cell.2 += 1;
            }
        }
        out
    };
    let (pb, pc) = (per_image(b), per_image(c));
    let mut worse: Vec<(u32, usize)> = (0..pb.len())
        .filter_map(|i| {
            let lost = pb[i].1.saturating_sub(pc[i].1);
            (lost > 0).then_some((lost, i))
        })
        .collect();
    // Most lost first, then by image id.
    worse.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let total = worse.len();
    let names = b.image_names();
    let shown = worse
        .into_iter()
        .take(MAX_EVIDENCE)
        .map(|(_, i)| {
            let id = b.images()[i].to_string();
            let name = names.get(i).filter(|n| !n.is_empty()).cloned();
            Evidence {
                image_name: name.unwrap_or_else(|| id.clone()),
                image_id: id,
                baseline_fn: pb[i].0.saturating_sub(pb[i].1),
                baseline_fp: pb[i].2,
                candidate_fn: pc[i].0.saturating_sub(pc[i].1),
                candidate_fp: pc[i].2,
            }
        })
        .collect();
    (shown, total)
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
        let duplicates = b_ids.len() != b.images.len() || c_ids.len() != c.images.len();
        return Err(images_differ(split, &only_b, &only_c, duplicates));
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
    let rows = |o: &ImageOutcomes, order: &mut dyn Iterator<Item = usize>| rows(o, &classes, order);
    // Both in the baseline's id order.
    let order: Vec<(&String, usize, usize)> =
        b_ids.iter().map(|(id, &bi)| (id, bi, c_ids[id])).collect();
    let baseline_rows = rows(b, &mut order.iter().map(|o| o.1));
    let candidate_rows = rows(c, &mut order.iter().map(|o| o.2));
    let n = order.len();
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

/// Each image's per-class counts, in `order`, over the columns `classes` (sorted names).
fn rows(
    o: &ImageOutcomes,
    classes: &[String],
    order: &mut dyn Iterator<Item = usize>,
) -> Vec<Vec<Counts>> {
    // The eval's class index → the column.
    let column: Vec<usize> = o
        .classes
        .iter()
        .map(|n| classes.binary_search(n).unwrap_or(usize::MAX))
        .collect();
    order
        .map(|i| per_class(&o.images[i], &column, classes.len()))
        .collect()
}

fn flat(rows: &[Vec<Counts>]) -> Vec<Counts> {
    rows.iter().flatten().copied().collect()
}

/// Each image's split-level counts, as the source reports them, in `order`.
fn split_counts(o: &ImageOutcomes, order: &mut dyn Iterator<Item = usize>) -> Vec<Counts> {
    order
        .map(|i| {
            let im = &o.images[i];
            Counts {
                tp: clamp(im.tp),
                fp: clamp(im.fp),
                fn_: clamp(im.fn_),
            }
        })
        .collect()
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
fn evidence(split: &Split, class: usize, metric: Option<Metric>) -> (Vec<Evidence>, usize) {
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
    let total = worse.len();
    let shown = worse
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
        .collect();
    (shown, total)
}

/// What one eval's data can detect for one noise-tested drop rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// The split.
    pub split: String,
    /// The class, for a class rule.
    pub class: Option<String>,
    /// The object size, for a size rule (mAP only).
    pub size: Option<Size>,
    /// The metric.
    pub metric: Metric,
    /// `max_drop` or `max_drop_rel`.
    pub rule: RuleKind,
    /// The rule's threshold as a drop in points at this eval's value (`max_drop_rel` times
    /// the value); 0 for `auto`.
    pub threshold: f64,
    /// Whether the rule is `max_drop: auto`.
    pub auto: bool,
    /// The policy line of the threshold.
    pub line: u32,
    /// The eval's value.
    pub value: Option<f64>,
    /// Images in the split.
    pub images: usize,
    /// The bootstrap standard error of the metric, or why there is none.
    pub std_error: Result<f64, String>,
    /// The smallest drop the gate detects with [`CALIBRATION_POWER`] at the level one check
    /// is tested at ([`Calibration::level`]).
    pub detectable: Option<f64>,
    /// The significance one check is tested at: the policy's, divided by the number of
    /// tested rules under Holm or Benjamini–Hochberg (their first rejection).
    pub level: f64,
}

/// The power `calibrate` asks for.
pub const CALIBRATION_POWER: f64 = 0.8;

/// The correlation of the two models' per-image results that `calibrate` assumes: models
/// that share a dataset and most of a training recipe fail on many of the same images.
/// docs/statistics.md says how the answer moves with it.
pub const CALIBRATION_CORRELATION: f64 = 0.5;

/// For each noise-tested drop rule of `policy` on `eval`, the smallest drop the gate can
/// detect, so that a rule that cannot work shows before a merge depends on it.
///
/// Precision, recall and F1 rules are calibrated from the per-image outcomes; mAP rules, at
/// every scope, from the matching of a split that carries it (a `coco:` source's), and are
/// left out where the split has none, as the gate then keeps their fixed threshold.
pub fn calibrate(
    policy: &crate::policy::Policy,
    eval: &Eval,
) -> Result<Vec<Calibration>, GateError> {
    let Some(stats) = policy.statistics else {
        return Ok(Vec::new());
    };
    let eval = eval.read_at(policy.operating_point.map(|p| p.value));
    let task = eval.task;
    let mut rules: Vec<Rule> = Vec::new();
    super::plan_each(policy, None, &eval, &mut |item| {
        let super::Item::Rule {
            split,
            scope,
            metric,
            rule,
            min_support,
            ..
        } = item
        else {
            return;
        };
        // A class under its `min_support` is skipped by the gate: not a rule it tests.
        if let (Some(class), Some(min)) = (scope.class(), min_support) {
            let support = eval.owner(&split, Some(class)).ok().and_then(|o| o.support);
            if support.is_some_and(|n| n < min.value) {
                return;
            }
        }
        let data = match noise_data(task, metric) {
            Some(NoiseData::ImageOutcomes) if scope.size().is_none() => NoiseData::ImageOutcomes,
            Some(NoiseData::MatchedDetections)
                if eval.panels.matched.contains_key(split.as_str()) =>
            {
                NoiseData::MatchedDetections
            }
            _ => return,
        };
        for (kind, field) in [
            (RuleKind::MaxDrop, rule.max_drop),
            (RuleKind::MaxDropRel, rule.max_drop_rel),
        ] {
            if let Some(field) = field {
                rules.push(Rule {
                    split: split.clone(),
                    class: scope.class().map(str::to_owned),
                    size: scope.size(),
                    metric,
                    kind,
                    field,
                    auto: rule.auto && kind == RuleKind::MaxDrop,
                    data,
                });
            }
        }
    });
    let map_errors = map_std_errors(&stats, &eval, &rules)?;
    let mut by_split: BTreeMap<String, (EvalCounts, Vec<String>)> = BTreeMap::new();
    let mut measured = Vec::with_capacity(rules.len());
    for (i, r) in rules.into_iter().enumerate() {
        let (images, std_error) = match r.data {
            NoiseData::MatchedDetections => (
                eval.panels.matched[r.split.as_str()].images().len(),
                map_errors[&i].clone(),
            ),
            NoiseData::ImageOutcomes => count_std_error(
                &stats,
                &eval,
                &mut by_split,
                &r.split,
                r.class.as_deref(),
                r.metric,
            )?,
        };
        measured.push((r, images, std_error));
    }
    // The gate corrects over the checks its tests estimate, mAP ones included: not a rule
    // whose scope has no value here (no ground truth in it); one whose value does not vary
    // over this eval's replicates still varies in a comparison and counts.
    let has_value = |r: &Rule| {
        eval.owner(&r.split, r.class.as_deref())
            .ok()
            .and_then(|o| match r.size {
                None => o.metrics.get(r.metric),
                Some(size) => o.size(size).get(r.metric),
            })
            .is_some()
    };
    let tested = measured.iter().filter(|(r, _, _)| has_value(r)).count();
    let level = match stats.correction {
        crate::stats::Correction::None => stats.significance,
        _ => stats.significance / tested.max(1) as f64,
    };
    let mut out = Vec::with_capacity(measured.len());
    for (r, images, std_error) in measured {
        let value = eval
            .owner(&r.split, r.class.as_deref())
            .ok()
            .and_then(|o| match r.size {
                None => o.metrics.get(r.metric),
                Some(size) => o.size(size).get(r.metric),
            });
        let threshold = match r.kind {
            RuleKind::MaxDropRel => r.field.value * value.unwrap_or(0.0),
            _ => r.field.value,
        };
        out.push(Calibration {
            detectable: std_error.as_ref().ok().and_then(|&se| {
                crate::stats::min_detectable_drop(
                    se,
                    level,
                    CALIBRATION_POWER,
                    CALIBRATION_CORRELATION,
                )
            }),
            split: r.split,
            class: r.class,
            size: r.size,
            metric: r.metric,
            rule: r.kind,
            threshold,
            auto: r.auto,
            line: r.field.line,
            value,
            images,
            std_error,
            level,
        });
    }
    Ok(out)
}

/// One drop threshold `calibrate` looks at.
struct Rule {
    split: String,
    class: Option<String>,
    size: Option<Size>,
    metric: Metric,
    kind: RuleKind,
    field: crate::policy::Field<f64>,
    auto: bool,
    data: NoiseData,
}

/// The images and the standard error of a precision, recall or F1 rule, from the split's
/// per-image outcomes (read once per split into `by_split`).
fn count_std_error(
    stats: &Statistics,
    eval: &Eval,
    by_split: &mut BTreeMap<String, (EvalCounts, Vec<String>)>,
    split: &str,
    class: Option<&str>,
    metric: Metric,
) -> Result<(usize, Result<f64, String>), GateError> {
    if !by_split.contains_key(split) {
        let outcomes = eval
            .panels
            .images
            .get(split)
            .ok_or_else(|| GateError::NoImageData {
                split: split.to_owned(),
                role: "calibrated",
            })?;
        let mut classes = outcomes.classes.clone();
        classes.sort();
        classes.dedup();
        let n = outcomes.images.len();
        let counts = EvalCounts::new(
            n,
            classes.len(),
            flat(&rows(outcomes, &classes, &mut (0..n))),
            Some(split_counts(outcomes, &mut (0..n))),
        )
        .map_err(|e| GateError::ImageData(format!("split {split:?}: {e}")))?;
        by_split.insert(split.to_owned(), (counts, classes));
    }
    let (counts, classes) = &by_split[split];
    let m = count_metric(metric).expect("testable metrics count");
    let quantity = match class {
        None => Some(Quantity::Split(m)),
        Some(c) => classes
            .binary_search_by(|x| x.as_str().cmp(c))
            .ok()
            .map(|i| Quantity::Class(i, m)),
    };
    let resampling = Resampling::new(counts.images(), stats.resamples, stats.seed);
    let std_error = match quantity {
        None => Err("the per-image outcomes do not name this class".to_owned()),
        Some(q) => crate::stats::std_errors(counts, &resampling, &[q])
            .map_err(|e| GateError::ImageData(format!("split {split:?}: {e}")))?
            .pop()
            .expect("one quantity")
            .map_err(|e| e.to_string()),
    };
    Ok((counts.images(), std_error))
}

/// The standard error of every mAP rule of `rules` (by position), from its split's matching:
/// one bootstrap per split, over all of that split's rules at once.
fn map_std_errors(
    stats: &Statistics,
    eval: &Eval,
    rules: &[Rule],
) -> Result<BTreeMap<usize, Result<f64, String>>, GateError> {
    let mut out = BTreeMap::new();
    let splits: BTreeSet<&str> = rules
        .iter()
        .filter(|r| r.data == NoiseData::MatchedDetections)
        .map(|r| r.split.as_str())
        .collect();
    for split in splits {
        let matched = &*eval.panels.matched[split];
        let mut asked: Vec<(usize, MapQuantity)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.data != NoiseData::MatchedDetections || r.split != split {
                continue;
            }
            let class = match &r.class {
                None => None,
                Some(c) => match matched.class(c) {
                    Some(k) => Some(k),
                    None => {
                        out.insert(i, Err("the matching does not name this class".to_owned()));
                        continue;
                    }
                },
            };
            let metric = MapMetric::of(r.metric).expect("matching metrics are mAP");
            asked.push((
                i,
                MapQuantity {
                    class,
                    size: r.size,
                    metric,
                },
            ));
        }
        let quantities: Vec<MapQuantity> = asked.iter().map(|(_, q)| *q).collect();
        let resampling = Resampling::new(matched.images().len(), stats.resamples, stats.seed);
        let found = crate::stats::map::std_errors(matched, &resampling, &quantities)
            .map_err(|e| GateError::ImageData(format!("split {split:?}: {e}")))?;
        for ((i, _), se) in asked.into_iter().zip(found) {
            let se = se.map_err(|e| match e {
                crate::stats::Untestable::Undefined { .. } => {
                    "no ground truth in this scope".to_owned()
                }
                e => e.to_string(),
            });
            out.insert(i, se);
        }
    }
    Ok(out)
}
