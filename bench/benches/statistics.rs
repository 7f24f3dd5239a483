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
