//! The paired bootstrap at the size the noise-aware gate targets: 5,000 images × 100 classes ×
//! 2,000 resamples, every class's precision, recall and F1 plus the split level and the macro
//! means (306 quantities) on one set of replicates, on two threads.

use std::num::NonZeroUsize;

use evalgate::stats::{Counts, EvalCounts, CountMetric, PairedCounts, Quantity, Resampling, compare};

fn main() {
    divan::main();
}

const IMAGES: usize = 5_000;
const CLASSES: usize = 100;
const RESAMPLES: usize = 2_000;

/// SplitMix64, so the data is the same on every run without a dependency.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u32 {
        (self.next() % n) as u32
    }
}

/// A baseline and a candidate that finds a little less. `present(image, class)` says whether a
/// cell has objects (and predictions) at all.
fn pair(present: impl Fn(&mut Mix, usize, usize) -> bool) -> PairedCounts {
    let mut rng = Mix(1);
    let mut base = Vec::with_capacity(IMAGES * CLASSES);
    let mut cand = Vec::with_capacity(IMAGES * CLASSES);
    for i in 0..IMAGES {
        for c in 0..CLASSES {
            if !present(&mut rng, i, c) {
                base.push(Counts::default());
                cand.push(Counts::default());
                continue;
            }
            let gt = 1 + rng.below(4);
            let tp = gt - rng.below(2).min(gt);
            let fp = rng.below(2);
            let lost = u32::from(tp > 0 && rng.below(10) == 0);
            base.push(Counts {
                tp,
                fp,
                fn_: gt - tp,
            });
            cand.push(Counts {
                tp: tp - lost,
                fp,
                fn_: gt - tp + lost,
            });
        }
    }
    let eval = |cells| EvalCounts::new(IMAGES, CLASSES, cells, None).expect("shapes fit");
    PairedCounts::new(eval(base), eval(cand)).expect("paired")
}

fn quantities() -> Vec<Quantity> {
    let metrics = [CountMetric::Precision, CountMetric::Recall, CountMetric::F1];
    let mut qs: Vec<Quantity> = metrics.iter().map(|&m| Quantity::Split(m)).collect();
    for c in 0..CLASSES {
        qs.extend(metrics.iter().map(|&m| Quantity::Class(c, m)));
    }
    qs.extend(metrics.iter().map(|&m| Quantity::Macro(m)));
    qs
}

fn resampling() -> Resampling {
    Resampling::new(IMAGES, RESAMPLES, 1).with_threads(NonZeroUsize::new(2).expect("2 > 0"))
}

/// Detection data as it comes: an image holds objects of a few classes (here each class with
/// probability 4%, a long-tailed mix), so about 4 of the 100 cells of an image are non-zero.
#[divan::bench(sample_count = 10)]
fn typical(bencher: divan::Bencher<'_, '_>) {
    let data = pair(|rng, _, c| rng.below(1000) < 80 * (c as u32 % 4 + 1) / 5 / 2);
    let qs = quantities();
    let resampling = resampling();
    bencher.bench(|| compare(&data, &resampling, &qs).expect("shapes fit"));
}

/// The worst case: every class on every image (500,000 non-zero cells).
#[divan::bench(sample_count = 5)]
fn dense(bencher: divan::Bencher<'_, '_>) {
    let data = pair(|_, _, _| true);
    let qs = quantities();
    let resampling = resampling();
    bencher.bench(|| compare(&data, &resampling, &qs).expect("shapes fit"));
}

/// Drawing the replicates alone (ChaCha8, 10 million bounded draws).
#[divan::bench(sample_count = 10)]
fn draws(bencher: divan::Bencher<'_, '_>) {
    let resampling = resampling();
    bencher.bench(|| resampling.map(|_, w| w[0]));
}

/// The typical data with only the three split-level quantities: what the 303 others cost.
#[divan::bench(sample_count = 10)]
fn typical_split_only(bencher: divan::Bencher<'_, '_>) {
    let data = pair(|rng, _, c| rng.below(1000) < 80 * (c as u32 % 4 + 1) / 5 / 2);
    let qs = [CountMetric::Precision, CountMetric::Recall, CountMetric::F1].map(Quantity::Split);
    let resampling = resampling();
    bencher.bench(|| compare(&data, &resampling, &qs).expect("shapes fit"));
}

/// The whole noise-tested gate at the target size: two evals of 5,000 images × 100 classes
/// read from their per-image outcomes, paired by image id, 303 tested drop rules (split and
/// every class × precision, recall, F1), corrected, with evidence for the failures.
#[divan::bench(sample_count = 5)]
fn gate_typical(bencher: divan::Bencher<'_, '_>) {
    use evalgate::gate::{Gate, GateOptions};
    use evalgate::model::{Curve, ImageOutcome, ImageOutcomes, Percent, Prf, Sweep};
    let mut rng = Mix(1);
    let names: Vec<String> = (0..CLASSES).map(|c| format!("class-{c:03}")).collect();
    let per_class = names
        .iter()
        .map(|n| format!("\"{n}\": {{\"map50\": 0.5}}"))
        .collect::<Vec<_>>()
        .join(", ");
    let body = format!(r#"{{"splits": {{"valid": {{"map50": 0.5, "perClass": {{{per_class}}}}}}}}}"#);
    let mut base = evalgate::parse_eval(body.as_bytes()).expect("parses");
    let mut cand = base.clone();
    let (mut b_images, mut c_images) = (Vec::new(), Vec::new());
    for i in 0..IMAGES {
        let (mut bt, mut ct) = (Vec::new(), Vec::new());
        let (mut bs, mut cs) = ([0u64; 3], [0u64; 3]);
        for c in 0..CLASSES as u32 {
            if rng.below(1000) >= 80 * (c % 4 + 1) / 5 / 2 {
                continue;
            }
            let gt = 1 + rng.below(4);
            let tp = gt - rng.below(2).min(gt);
            let fp = rng.below(2);
            let lost = u32::from(tp > 0 && rng.below(10) == 0);
            let bg = CLASSES as u32;
            for (t, tp, sum) in [(&mut bt, tp, &mut bs), (&mut ct, tp - lost, &mut cs)] {
                t.extend([[c, c, tp], [c, bg, gt - tp], [bg, c, fp]]);
                sum[0] += u64::from(tp);
                sum[1] += u64::from(fp);
                sum[2] += u64::from(gt - tp);
            }
        }
        let outcome = |confusion: Vec<[u32; 3]>, s: [u64; 3]| ImageOutcome {
            id: format!("img-{i}"),
            name: format!("{i}.jpg"),
            tp: s[0],
            fp: s[1],
            fn_: s[2],
            confusion,
        };
        b_images.push(outcome(bt, bs));
        c_images.push(outcome(ct, cs));
    }
    for (eval, images) in [(&mut base, b_images), (&mut cand, c_images)] {
        let prf = Prf { precision: Some(0.8), recall: Some(0.8), f1: Some(0.8) };
        let curve = Curve {
            per_threshold: [(Percent::new(40).expect("0..=100"), prf)].into_iter().collect(),
            optimal_threshold: Some(0.4),
            optimal: Some(prf),
        };
        let sweep = Sweep {
            overall: curve.clone(),
            classes: names.iter().map(|n| (n.clone(), curve.clone())).collect(),
        };
        eval.panels.sweep = Some([("valid".to_owned(), sweep)].into_iter().collect());
        eval.panels.images.insert(
            "valid".to_owned(),
            ImageOutcomes { confidence: Percent::new(40), classes: names.clone(), images },
        );
    }
    let policy = "version: 1\noperating_point: {confidence: 0.40}\nstatistics: {resamples: 2000}\nsplits:\n  valid:\n    precision: {max_drop: auto}\n    recall: {max_drop: auto}\n    f1: {max_drop: auto}\n    classes:\n      \"*\":\n        precision: {max_drop: auto}\n        recall: {max_drop: auto}\n        f1: {max_drop: auto}\n";
    let (policy, _) = evalgate::parse_policy(policy).expect("valid");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
    bencher.bench(|| {
        let gate = Gate::new(&policy, Some(&base), &cand).expect("comparable");
        let report = gate.evaluate(&GateOptions::new(today)).expect("judged");
        assert_eq!(report.tests.len(), 303);
        report
    });
}
