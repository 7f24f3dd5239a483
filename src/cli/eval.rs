//! `evalgate eval`: COCO ground truth and predictions → an eval file, computed locally.
//! Also the COCO evaluation behind `check`'s `coco:` sources.

use std::path::Path;
use std::time::Duration;

use evalgate::coco::{self, GroundTruth, IouType, Named};
use evalgate::model::{MatchedDetections, SplitEval};
use evalgate::source::read_file;

use super::args::EvalArgs;
use super::exit::{self, Failure, Kind};
use super::output::{self, Output};

pub(crate) fn run(args: &EvalArgs) -> Result<u8, Failure> {
    // The destination first: a typo in -o should not cost an evaluation.
    let output = match &args.output {
        Some(path) => Output::plan(
            &[(evalgate::report::Format::Json, Some(path.as_path()))],
            &[args.ground_truth.as_path(), args.predictions.as_path()],
        )?
        .pop(),
        None => None,
    };
    let limits = Limits {
        max_bytes: args.coco.max_coco_size,
        timeout: args.timeout.into(),
    };
    let gt = read_ground_truth(
        "--ground-truth",
        &args.ground_truth,
        args.coco.iou_type.coco(),
        limits,
    )?;
    let split = evaluate("--predictions", &gt, &args.predictions, limits)?.into_split();
    let existing = match &args.output {
        Some(path) if path.is_file() => Some(read(path, limits, "-o")?),
        _ => None,
    };
    let bytes = coco::write_split(existing.as_deref(), &args.split, &split).map_err(|why| {
        let path = args
            .output
            .as_deref()
            .map_or("-".into(), |p| p.display().to_string());
        Failure::new(Kind::EvalUnavailable, format!("-o {path}: {why}"))
    })?;
    match &output {
        Some(o) => output::write_one(o, &bytes)?,
        None => output::write_stdout(&bytes)?,
    }
    Ok(exit::PASS)
}

/// How COCO files are read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_bytes: u64,
    pub(crate) timeout: Duration,
}

fn read(path: &Path, limits: Limits, role: &str) -> Result<Vec<u8>, Failure> {
    let fail = |what: String| {
        Failure::new(
            Kind::EvalUnavailable,
            format!("{role} {}: {what}", path.display()),
        )
    };
    if path.is_dir() {
        return Err(fail("is a directory, not a JSON file".into()));
    }
    let bytes =
        read_file(path, limits.max_bytes, limits.timeout).map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(fail(format!(
            "larger than {} bytes; raise --max-coco-size if the file really is that large",
            limits.max_bytes
        )));
    }
    if bytes.trim_ascii().is_empty() {
        return Err(fail("is empty; expected COCO JSON".into()));
    }
    Ok(bytes)
}

/// Reads and checks a ground-truth file.
pub(crate) fn read_ground_truth(
    role: &str,
    path: &Path,
    iou: IouType,
    limits: Limits,
) -> Result<GroundTruth, Failure> {
    let bytes = read(path, limits, role)?;
    let name = format!("{role} {}", path.display());
    GroundTruth::read(
        Named {
            name: &name,
            bytes: &bytes,
        },
        iou,
    )
    .map_err(|e| Failure::new(Kind::EvalUnavailable, e.to_string()))
}

/// Evaluates one predictions file against `gt`; with `keep_matching`, also reads the
/// matching for the mAP bootstrap before hotcoco's records are dropped.
pub(crate) fn evaluate(
    role: &str,
    gt: &GroundTruth,
    path: &Path,
    limits: Limits,
) -> Result<coco::Evaluation, Failure> {
    let name = format!("{role} {}", path.display());
    let fail = |e: coco::CocoError| {
        let message = match e {
            coco::CocoError::Input { .. } => e.to_string(),
            e => format!("{name}: {e}"),
        };
        Failure::new(Kind::EvalUnavailable, message)
    };
    let predictions = {
        // The file's bytes go before the matching starts: on COCO val they are 40 MB.
        let bytes = read(path, limits, role)?;
        gt.predictions(Named {
            name: &name,
            bytes: &bytes,
        })
        .map_err(fail)?
    };
    gt.evaluate(predictions).map_err(fail)
}

/// What the gate reads of an evaluation beyond its metrics: the matching of every area range
/// and IoU threshold for the paired mAP bootstrap (`map`), and the IoU-0.5 matching that
/// precision, recall and F1 at a confidence are counted from (`operating`). The evaluation is
/// dropped here, once they are read; `cancelled` says whether the other source failed
/// meanwhile (then nothing more is read).
pub(crate) fn matchings(
    role: &str,
    path: &Path,
    evaluation: coco::Evaluation,
    map: bool,
    operating: bool,
    cancelled: &dyn Fn() -> bool,
) -> Result<Matchings, Failure> {
    let fail = |e: coco::CocoError| {
        Failure::new(
            Kind::EvalUnavailable,
            format!("{role} {}: {e}", path.display()),
        )
    };
    if !map {
        let iou50 = operating
            .then(|| evaluation.iou50_matching())
            .transpose()
            .map_err(fail)?;
        return Ok(Matchings {
            split: evaluation.into_split(),
            full: None,
            iou50,
        });
    }
    // The full matching makes hotcoco build its per-image records of every area range (about
    // 0.9 GB per model at COCO val's size), which go with the evaluation: one source at a
    // time, the evaluation dropped before the next may start, so that the baseline and
    // candidate evaluated at once never hold both. The IoU-0.5 matching, read after it,
    // reuses those records.
    let _one = READING_MATCHING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cancelled() {
        let mut f = Failure::new(Kind::EvalUnavailable, "cancelled");
        f.cancelled = true;
        return Err(f);
    }
    let full = coco::bootstrap::matched_detections(&evaluation).map_err(fail)?;
    let iou50 = operating
        .then(|| evaluation.iou50_matching())
        .transpose()
        .map_err(fail)?;
    Ok(Matchings {
        split: evaluation.into_split(),
        full: Some(full),
        iou50,
    })
}

/// An evaluation's metrics and the matchings read from it.
pub(crate) struct Matchings {
    pub(crate) split: SplitEval,
    pub(crate) full: Option<MatchedDetections>,
    pub(crate) iou50: Option<coco::operating::Iou50Matching>,
}

static READING_MATCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
