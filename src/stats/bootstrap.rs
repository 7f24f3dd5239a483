//! The paired bootstrap: observed difference, percentile interval and one-sided p-value.

use super::counts::{BLOCK, EvalCounts, PairedCounts, ShapeError};
use super::normal::normal_cdf;
use super::resample::Resampling;
use super::{CountMetric, Quantity};

/// The paired comparison of one quantity: Δ = candidate − baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// The baseline's value on all images.
    pub baseline: f64,
    /// The candidate's value on all images.
    pub candidate: f64,
    /// Observed Δ = candidate − baseline; negative is worse.
    pub delta: f64,
    /// Lower end of the 95% two-sided percentile interval of Δ (the 2.5th percentile of the
    /// replicates, linearly interpolated as NumPy's default).
    pub ci_low: f64,
    /// Upper end of the interval (the 97.5th percentile).
    pub ci_high: f64,
    /// Standard deviation of the replicates' Δ (the bootstrap standard error, n − 1 divisor).
    pub std_error: f64,
    /// One-sided p-value for "the candidate is worse than the baseline": Φ(Δ / SE), the normal
    /// approximation of the bootstrap distribution. Continuous, so not floored at
    /// 1/resamples; 1 when every replicate gives the same Δ ≥ 0.
    pub p_value: f64,
    /// The same p-value counted from the replicates, (#{Δ* ≥ 0} + 1) / (resamples + 1), for
    /// comparison: it cannot go below 1/(resamples + 1).
    pub p_percentile: f64,
    /// Images in both evals.
    pub images: usize,
    /// Replicates in which the quantity was defined for both models (the others are left out).
    pub resamples: usize,
}

/// Why a quantity could not be tested.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Untestable {
    /// The evals hold no images.
    #[error("no images to resample")]
    NoImages,
    /// A denominator is zero on all images: no predictions (precision), no ground-truth
    /// objects (recall), neither (F1), or, for a macro mean, no class defined for both models.
    #[error("{} on all images", match (baseline, candidate) {
        (true, true) => "undefined for both evals",
        (true, false) => "undefined for the baseline",
        _ => "undefined for the candidate",
    })]
    Undefined {
        /// Undefined for the baseline.
        baseline: bool,
        /// Undefined for the candidate.
        candidate: bool,
    },
    /// The quantity was defined in fewer than two replicates (or there were fewer than two).
    #[error("defined in only {usable} of the bootstrap replicates")]
    TooFewReplicates {
        /// Replicates where it was defined.
        usable: usize,
    },
    /// Every replicate gives the same value while the candidate is worse: the statistic rests
    /// on one image (or on images whose ratios agree exactly), so the bootstrap cannot measure
    /// its noise.
    #[error("every bootstrap replicate gives the same value: the data cannot measure the noise")]
    NoSpread,
}

impl Estimate {
    /// Summarises the replicates of Δ of a statistic computed elsewhere on the same
    /// [`Resampling`] (mAP from matched detections, say). Replicates that are NaN (the
    /// statistic undefined there) are left out.
    pub fn from_replicates(
        baseline: f64,
        candidate: f64,
        replicates: &[f64],
        images: usize,
    ) -> Result<Estimate, Untestable> {
        if images == 0 {
            return Err(Untestable::NoImages);
        }
        let mut sorted: Vec<f64> = replicates.iter().copied().filter(|x| !x.is_nan()).collect();
        let usable = sorted.len();
        if usable < 2 {
            return Err(Untestable::TooFewReplicates { usable });
        }
        sorted.sort_by(f64::total_cmp);
        let delta = candidate - baseline;
        let std_error = std_dev(&sorted);
        let p_value = if std_error > 0.0 {
            normal_cdf(delta / std_error)
        } else if delta >= 0.0 {
            1.0
        } else {
            return Err(Untestable::NoSpread);
        };
        let not_worse = sorted.len() - sorted.partition_point(|&x| x < 0.0);
        Ok(Estimate {
            baseline,
            candidate,
            delta,
            ci_low: percentile(&sorted, 0.025),
            ci_high: percentile(&sorted, 0.975),
            std_error,
            p_value,
            p_percentile: (not_worse + 1) as f64 / (usable + 1) as f64,
            images,
            resamples: usable,
        })
    }
}

/// The paired bootstrap of each quantity, in the order asked.
///
/// Every quantity is computed on the same replicates in one pass over the images, so hundreds
/// of checks cost little more than one.
pub fn compare(
    pair: &PairedCounts,
    resampling: &Resampling,
    quantities: &[Quantity],
) -> Result<Vec<Result<Estimate, Untestable>>, ShapeError> {
    let runs = replicate(pair, resampling, quantities, |b, c| c - b)?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let (b, c, deltas) = run?;
            Estimate::from_replicates(b, c, &deltas, pair.images())
        })
        .collect())
}

/// The bootstrap standard error of each quantity on one eval, as [`min_detectable_drop`]
/// wants.
///
/// [`min_detectable_drop`]: super::min_detectable_drop
pub fn std_errors(
    eval: &EvalCounts,
    resampling: &Resampling,
    quantities: &[Quantity],
) -> Result<Vec<Result<f64, Untestable>>, ShapeError> {
    let pair = PairedCounts::new(eval.clone(), eval.clone())?;
    let runs = replicate(&pair, resampling, quantities, |b, _| b)?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let (_, _, values) = run?;
            let usable: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
            if usable.len() < 2 {
                return Err(Untestable::TooFewReplicates {
                    usable: usable.len(),
                });
            }
            match std_dev(&usable) {
                0.0 => Err(Untestable::NoSpread),
                se => Ok(se),
            }
        })
        .collect())
}

type Run = Result<(f64, f64, Vec<f64>), Untestable>;

/// For each quantity: the observed values and `statistic(baseline, candidate)` in every
/// replicate (NaN where undefined).
fn replicate(
    pair: &PairedCounts,
    resampling: &Resampling,
    quantities: &[Quantity],
    statistic: impl Fn(f64, f64) -> f64 + Sync,
) -> Result<Vec<Run>, ShapeError> {
    if resampling.images() != pair.images() {
        return Err(ShapeError::Resampling {
            resampling: resampling.images(),
            images: pair.images(),
        });
    }
    for q in quantities {
        if let Quantity::Class(class, _) = *q
            && class >= pair.classes()
        {
            return Err(ShapeError::NoSuchClass {
                class,
                classes: pair.classes(),
            });
        }
    }
    let mut sums = vec![[0u64; 6]; pair.classes() + 1];
    pair.accumulate(None, &mut sums);
    let observed: Vec<Result<(f64, f64), Untestable>> = quantities
        .iter()
        .map(|&q| {
            if pair.images() == 0 {
                return Err(Untestable::NoImages);
            }
            match values(&sums, q) {
                (Some(b), Some(c)) => Ok((b, c)),
                (b, c) => Err(Untestable::Undefined {
                    baseline: b.is_none(),
                    candidate: c.is_none(),
                }),
            }
        })
        .collect();
    // Only the testable quantities are recomputed in each replicate.
    let tested: Vec<Quantity> = quantities
        .iter()
        .zip(&observed)
        .filter(|(_, o)| o.is_ok())
        .map(|(&q, _)| q)
        .collect();
    let per_replicate: Vec<Vec<f64>> = if tested.is_empty() {
        Vec::new()
    } else {
        resampling.map_blocks(BLOCK, |_, weights| {
            let mut sums = vec![vec![[0u64; 6]; pair.classes() + 1]; weights.len()];
            pair.accumulate_many(weights, &mut sums);
            sums.iter()
                .map(|sums| {
                    tested
                        .iter()
                        .map(|&q| match values(sums, q) {
                            (Some(b), Some(c)) => statistic(b, c),
                            _ => f64::NAN,
                        })
                        .collect()
                })
                .collect()
        })
    };
    let mut column = 0;
    Ok(observed
        .into_iter()
        .map(|o| {
            let (b, c) = o?;
            let series = per_replicate.iter().map(|r| r[column]).collect();
            column += 1;
            Ok((b, c, series))
        })
        .collect())
}

/// The baseline's and the candidate's value of `q` from pooled `sums` (columns: classes, then
/// the split level; each `[TP, FP, FN]` of the baseline, then of the candidate).
fn values(sums: &[[u64; 6]], q: Quantity) -> (Option<f64>, Option<f64>) {
    let of = |m: CountMetric, s: &[u64; 6]| (m.of(s[0], s[1], s[2]), m.of(s[3], s[4], s[5]));
    match q {
        Quantity::Split(m) => of(m, &sums[sums.len() - 1]),
        Quantity::Class(c, m) => of(m, &sums[c]),
        Quantity::Macro(m) => {
            let (mut b, mut c, mut n) = (0.0, 0.0, 0usize);
            for s in &sums[..sums.len() - 1] {
                if let (Some(vb), Some(vc)) = of(m, s) {
                    b += vb;
                    c += vc;
                    n += 1;
                }
            }
            if n == 0 {
                (None, None)
            } else {
                (Some(b / n as f64), Some(c / n as f64))
            }
        }
    }
}

/// Sample standard deviation (n − 1), two-pass; exactly 0 when all values are equal (a mean of
/// equal values need not round back to them).
fn std_dev(xs: &[f64]) -> f64 {
    if xs.iter().all(|&x| x == xs[0]) {
        return 0.0;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    (ss / (n - 1.0)).sqrt()
}

/// The `q` quantile of sorted values, linear between order statistics (NumPy's default,
/// Hyndman & Fan type 7).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}
