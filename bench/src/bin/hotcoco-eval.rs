//! A bare hotcoco run of the evaluation `evalgate eval` makes, for scripts/bench-coco.sh:
//! hotcoco's own reader, `load_res`, `evaluate`, `accumulate`, and the 12-number summary.
//!
//!     hotcoco-eval GT.json PREDICTIONS.json [bbox|segm]

use std::path::Path;

use hotcoco::{COCO, COCOeval, IouType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(gt), Some(dt)) = (args.get(1), args.get(2)) else {
        return Err("usage: hotcoco-eval GT.json PREDICTIONS.json [bbox|segm]".into());
    };
    let iou = match args.get(3).map(String::as_str) {
        None | Some("bbox") => IouType::Bbox,
        Some("segm") => IouType::Segm,
        Some(other) => return Err(format!("unknown IoU type {other:?}").into()),
    };
    let gt = COCO::new(Path::new(gt))?;
    let dt = gt.load_res(Path::new(dt))?;
    let mut ev = COCOeval::new(gt, dt, iou);
    ev.evaluate()?;
    ev.accumulate();
    let lines = ev.summarize_lines();
    println!("{}", lines.join("\n"));
    Ok(())
}
