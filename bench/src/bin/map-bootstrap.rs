//! The paired mAP bootstrap on two prediction files, for scripts/bench-map-bootstrap.sh: each
//! stage timed on its own (read and evaluate both, read the matching, the resamples), every
//! scope evalgate writes, on the threads asked for.
//!
//!     map-bootstrap GT.json BASELINE.json CANDIDATE.json [RESAMPLES] [THREADS]

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use evalgate::coco::bootstrap::{
    MapQuantity, MatchedDetections, compare_matched, matched_detections,
};
use evalgate::coco::{GroundTruth, IouType, Named};
use evalgate::stats::Resampling;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(gt), Some(b), Some(c)) = (args.get(1), args.get(2), args.get(3)) else {
        return Err(
            "usage: map-bootstrap GT.json BASELINE.json CANDIDATE.json [RESAMPLES] [THREADS]"
                .into(),
        );
    };
    let resamples: usize = args.get(4).map_or(Ok(1000), |s| s.parse())?;
    let threads: NonZeroUsize = args
        .get(5)
        .map_or(Ok(NonZeroUsize::new(2).unwrap()), |s| s.parse())?;

    let bytes = std::fs::read(gt)?;
    let truth = GroundTruth::read(
        Named {
            name: gt,
            bytes: &bytes,
        },
        IouType::Bbox,
    )?;
    let (mut evaluated, mut read) = (Duration::ZERO, Duration::ZERO);
    // One model at a time, each evaluation dropped once its matching is read: hotcoco's
    // per-image records are the bulk of the memory, and the bootstrap needs only the arrays.
    let mut matched = |path: &String| -> Result<MatchedDetections, Box<dyn std::error::Error>> {
        let start = Instant::now();
        let bytes = std::fs::read(path)?;
        let predictions = truth.predictions(Named {
            name: path,
            bytes: &bytes,
        })?;
        let evaluation = truth.evaluate(predictions)?;
        evaluated += start.elapsed();
        let start = Instant::now();
        let out = matched_detections(&evaluation)?;
        read += start.elapsed();
        Ok(out)
    };
    let baseline = matched(b)?;
    let candidate = matched(c)?;

    let quantities = MapQuantity::every(baseline.classes().len());
    let resampling = Resampling::new(baseline.images().len(), resamples, 1).with_threads(threads);
    let start = Instant::now();
    let estimates = compare_matched(&baseline, &candidate, &resampling, &quantities)?;
    let resampled = start.elapsed();

    let tested = estimates.iter().filter(|e| e.is_ok()).count();
    let split = estimates[2]
        .as_ref()
        .map(|e| (e.delta, e.ci_low, e.ci_high));
    println!(
        "{} images, {} classes, {} quantities ({tested} testable), {resamples} resamples, {threads} threads",
        baseline.images().len(),
        baseline.classes().len(),
        quantities.len(),
    );
    println!("split map75 Δ and 95% interval: {split:?}");
    println!(
        "evaluate both (excluding the ground truth's read): {:8.2} s",
        evaluated.as_secs_f64()
    );
    println!("read the matching: {:8.2} s", read.as_secs_f64());
    println!("bootstrap: {:8.2} s", resampled.as_secs_f64());
    Ok(())
}
