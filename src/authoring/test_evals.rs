//! Evals with panels for the authoring tools' tests, built in memory until a file format
//! carries them.

use crate::model::{ConfusionMatrix, Curve, Eval, Percent, Prf, Sweep, parse_eval};

pub(crate) fn pct(p: u8) -> Percent {
    Percent::new(p).unwrap()
}

pub(crate) fn prf(p: f64, r: f64) -> Prf {
    Prf {
        precision: Some(p),
        recall: Some(r),
        f1: Some(2.0 * p * r / (p + r)),
    }
}

/// A curve with P/R/F1 `at` confidence `point` (a percent), and its F1 optimum `optimal`.
pub(crate) fn curve(point: u8, at: Prf, optimal: Option<f64>) -> Curve {
    Curve {
        per_threshold: [(pct(point), at)].into_iter().collect(),
        optimal_threshold: optimal,
        optimal: optimal.map(|_| at),
    }
}

/// `body` (map-results) with a sweep for `split`: the split and each class in `classes`
/// read `at` confidence `point`, the split's F1 optimum at `optimal`.
pub(crate) fn with_sweep(
    mut eval: Eval,
    split: &str,
    point: u8,
    optimal: Option<f64>,
    overall: Prf,
    classes: &[(&str, Prf)],
) -> Eval {
    let sweep = Sweep {
        overall: curve(point, overall, optimal),
        classes: classes
            .iter()
            .map(|(c, v)| ((*c).to_owned(), curve(point, *v, None)))
            .collect(),
    };
    eval.panels
        .sweep
        .get_or_insert_with(Default::default)
        .insert(split.to_owned(), sweep);
    eval
}

/// `eval` with a confusion matrix for `split` at `point`: `counts` row-major over `classes`
/// and background.
pub(crate) fn with_matrix(
    mut eval: Eval,
    split: &str,
    point: u8,
    classes: &[&str],
    counts: &[u64],
) -> Eval {
    let m = ConfusionMatrix::new(
        pct(point),
        classes.iter().map(|c| (*c).to_owned()).collect(),
        counts.to_vec(),
    )
    .unwrap();
    eval.panels
        .confusion
        .entry(split.to_owned())
        .or_default()
        .push(m);
    eval
}

pub(crate) fn eval(body: &str) -> Eval {
    parse_eval(body.as_bytes()).unwrap()
}
