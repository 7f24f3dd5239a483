//! The cost of precision, recall and F1 at a confidence on a local evaluation, for docs/coco.md:
//! each stage timed on its own (read and evaluate, read the IoU-0.5 matching, the confidence
//! sweep, the per-image outcomes at one confidence).
//!
//!     coco-operating GT.json PREDICTIONS.json [PERCENT]

use std::time::Instant;

use evalgate::coco::{GroundTruth, IouType, Named};
use evalgate::model::Percent;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(gt), Some(preds)) = (args.get(1), args.get(2)) else {
        return Err("usage: coco-operating GT.json PREDICTIONS.json [PERCENT]".into());
    };
    let percent: u8 = args.get(3).map_or(Ok(50), |s| s.parse())?;
    let at = Percent::new(percent).ok_or("PERCENT is 0 to 100")?;

    let start = Instant::now();
    let bytes = std::fs::read(gt)?;
    let truth = GroundTruth::read(
        Named {
            name: gt,
            bytes: &bytes,
        },
        IouType::Bbox,
    )?;
    let bytes = std::fs::read(preds)?;
    let predictions = truth.predictions(Named {
        name: preds,
        bytes: &bytes,
    })?;
    let evaluation = truth.evaluate(predictions)?;
    let evaluated = start.elapsed();

    let start = Instant::now();
    let matching = evaluation.iou50_matching()?;
    let matched = start.elapsed();
    let start = Instant::now();
    let sweep = matching.sweep();
    let swept = start.elapsed();
    let start = Instant::now();
    let images = matching.images_at(at);
    let imaged = start.elapsed();

    println!(
        "{} images, {} classes; split at {at}: {:?}; F1-optimal at {:?}",
        images.images.len(),
        matching.classes().len(),
        sweep.overall.per_threshold.get(&at),
        sweep.overall.optimal_threshold,
    );
    println!("read and evaluate: {:8.3} s", evaluated.as_secs_f64());
    println!("read the matching: {:8.3} s", matched.as_secs_f64());
    println!("sweep:             {:8.3} s", swept.as_secs_f64());
    println!("images at {at}:    {:8.3} s", imaged.as_secs_f64());
    Ok(())
}
