//! pycocotools' `summarize` over hotcoco's accumulated precision, for every scope evalgate
//! gates, and the map-results JSON those numbers are written as.
//!
//! pycocotools reports a scope's AP as the mean of the precision entries that are not −1
//! (−1 marks "no ground truth here") over its slice of the `[T, R, K, A, M]` array at
//! maxDets 100: all ten IoU thresholds for map50_95, the first for map50, the sixth for
//! map75; every category for the split, one for a class; area range `all`, `small`,
//! `medium` or `large`. A slice with nothing but −1 has no value (`null`).

use serde_json::{Map, Value, json};

use hotcoco::COCOeval;

use super::CocoError;
use crate::model::{Classes, Metric, Metrics, ScopeMetrics, Size, SplitEval, Task, parse_eval};

/// The metrics of every scope, from an evaluator that has run `evaluate` and `accumulate`.
pub(super) fn split_eval(engine: &COCOeval) -> Result<SplitEval, CocoError> {
    let acc = engine
        .accumulated()
        .ok_or_else(|| CocoError::Engine("nothing was accumulated".to_owned()))?;
    let p = &engine.params;
    let missing = |what: &str| CocoError::Engine(format!("hotcoco's parameters have no {what}"));
    let t50 = p.iou_thr_idx(0.5).ok_or_else(|| missing("IoU 0.5"))?;
    let t75 = p.iou_thr_idx(0.75).ok_or_else(|| missing("IoU 0.75"))?;
    let m = p
        .max_dets
        .iter()
        .position(|&d| d == 100)
        .ok_or_else(|| missing("maxDets 100"))?;
    let area = |label: &str| p.area_range_idx(label).ok_or_else(|| missing(label));
    let areas = [
        area("all")?,
        area("small")?,
        area("medium")?,
        area("large")?,
    ];
    let shape = acc.shape;
    let all_t: Vec<usize> = (0..shape.t).collect();

    // Mean of the entries > −1 over IoU rows `ts`, every recall point, categories `ks`.
    let mean = |ts: &[usize], ks: &[usize], a: usize| -> Option<f64> {
        let (mut sum, mut n) = (0.0, 0usize);
        for &t in ts {
            for r in 0..shape.r {
                for &k in ks {
                    let v = acc.precision[acc.precision_idx(t, r, k, a, m)];
                    if v > -1.0 {
                        sum += v;
                        n += 1;
                    }
                }
            }
        }
        (n > 0).then(|| sum / n as f64)
    };
    let metrics = |ks: &[usize], a: usize| {
        let mut out = Metrics::default();
        out.set(Metric::Map50, mean(&[t50], ks, a));
        out.set(Metric::Map50_95, mean(&all_t, ks, a));
        out.set(Metric::Map75, mean(&[t75], ks, a));
        out
    };
    let scope = |ks: &[usize]| ScopeMetrics {
        metrics: metrics(ks, areas[0]),
        sizes: [
            metrics(ks, areas[1]),
            metrics(ks, areas[2]),
            metrics(ks, areas[3]),
        ],
        // Counted from the IoU-0.5 matching (`operating::Iou50Matching::set_support`), which
        // pycocotools' summary does not read.
        support: None,
    };
    let every_k: Vec<usize> = (0..shape.k).collect();
    let gt = engine.coco_gt();
    let classes: Classes = acc
        .cat_ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            let name = gt
                .get_cat(*id)
                .map_or_else(|| format!("category {id}"), |c| c.name.clone());
            (name, scope(&[k]))
        })
        .collect();
    Ok(SplitEval {
        overall: scope(&every_k),
        classes,
    })
}

fn metrics_json(m: &Metrics) -> Map<String, Value> {
    let mut out = Map::new();
    // Precision, recall and F1 at an operating point come from a confidence sweep, which
    // a local evaluation does not write.
    let written = Task::ObjectDetection.metrics(crate::model::ScopeKind::Split);
    for metric in written.iter().filter(|m| !m.at_operating_point()) {
        out.insert(metric.name().to_owned(), json!(m.get(*metric)));
    }
    out
}

fn scope_json(s: &ScopeMetrics) -> Value {
    let mut out = metrics_json(&s.metrics);
    let sizes: Map<String, Value> = Size::ALL
        .iter()
        .map(|size| {
            (
                size.name().to_owned(),
                Value::Object(metrics_json(s.size(*size))),
            )
        })
        .collect();
    out.insert("byObjectSize".to_owned(), Value::Object(sizes));
    Value::Object(out)
}

/// One split in the map-results shape (docs/evals.md): `map50`, `map50_95`, `map75`,
/// `byObjectSize`, and `perClass` by class name with its own `byObjectSize`; `null` where
/// pycocotools has −1.
pub fn split_json(split: &SplitEval) -> Value {
    let mut out = match scope_json(&split.overall) {
        Value::Object(m) => m,
        _ => unreachable!("scope_json builds an object"),
    };
    let classes: Map<String, Value> = split
        .classes
        .iter()
        .map(|(name, s)| (name.clone(), scope_json(s)))
        .collect();
    out.insert("perClass".to_owned(), Value::Object(classes));
    Value::Object(out)
}

/// An eval file holding `split` under `name`: a new one, or `existing` (an eval file's
/// bytes) with that split added or replaced and everything else kept.
pub fn write_split(
    existing: Option<&[u8]>,
    name: &str,
    split: &SplitEval,
) -> Result<Vec<u8>, String> {
    let mut doc = match existing {
        None => json!({"taskType": "object-detection-like", "splits": {}}),
        Some(bytes) => {
            let eval = parse_eval(bytes).map_err(|e| {
                format!("is not an eval evalgate can add a split to ({e}); choose another -o file")
            })?;
            if eval.task != Task::ObjectDetection {
                return Err(format!(
                    "is a {} eval; a COCO evaluation is object detection, so it cannot go in this file",
                    eval.task
                ));
            }
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            serde_json::from_slice(bytes).map_err(|e| e.to_string())?
        }
    };
    doc.get_mut("splits")
        .and_then(Value::as_object_mut)
        .ok_or("has no \"splits\" object")?
        .insert(name.to_owned(), split_json(split));
    let mut out = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}
