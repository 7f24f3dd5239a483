//! `evalgate policy explain`: for every split, scope and metric the policy covers in an eval,
//! the thresholds that apply, the waiver that would excuse a failure, and the policy line each
//! one comes from. Built from the same plan the gate evaluates, and the same waiver matching,
//! so it cannot disagree with it.
//!
//! Scopes are named as the Markdown report's Scope column names them, each with its kind, so
//! that a class called `small` cannot pass for a size: `split` (the split as a whole),
//! `size small`, `class "car"`, `class "car" / size small`. A confusion rule is shown once per
//! (split, actual, predicted) pair it checks: `class "car" / confusion → background`.

use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;

use crate::gate::Item;
use crate::model::{Eval, Metric, NoiseData, OperatingPoint, Scope, Task, noise_data};
use crate::policy::{BACKGROUND, Field, Policy, Severity, Waiver};
use crate::report::split_label;

/// The policy's operating point, and where it puts each eval's splits; and its statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct PointShown {
    /// As the policy sets it; `None` for a policy with `statistics` and no operating point.
    pub point: Option<Field<OperatingPoint>>,
    /// Per eval (by role, e.g. `eval`), every split with the confidence it is read at: the
    /// policy's, or at `optimal` the split's F1-optimal threshold (`None` when the eval's
    /// confidence sweep does not give one).
    pub evals: Vec<(String, SplitConfidences)>,
    /// Whether precision, recall and F1 are read there too (detection), or only the
    /// confusion matrices (semantic segmentation keeps its map-results values).
    pub reads_prf: bool,
    /// The policy's `statistics`, with the task whose rules they test.
    pub statistics: Option<(crate::policy::Statistics, Task)>,
    /// Splits whose matching every eval carries (local COCO evaluations), where mAP drop
    /// rules are noise-tested.
    pub matched: Vec<String>,
}

impl PointShown {
    /// Whether the gate noise-tests this item's drop fields: precision, recall and F1 from
    /// per-image outcomes; mAP only where the eval carries its split's matching (a local
    /// COCO evaluation), as both evals of the gate must.
    pub fn noise_tested(&self, item: &Item) -> bool {
        let Some((_, task)) = self.statistics else {
            return false;
        };
        let Item::Rule {
            split,
            scope,
            metric,
            rule,
            ..
        } = item
        else {
            return false;
        };
        let drop = rule.max_drop.is_some() || rule.max_drop_rel.is_some();
        match noise_data(task, *metric) {
            Some(NoiseData::ImageOutcomes) => drop && scope.size().is_none(),
            Some(NoiseData::MatchedDetections) => drop && self.matched.iter().any(|s| s == split),
            None => false,
        }
    }

    /// What the text says of the item's noise test, if anything: an mAP drop rule on an eval
    /// without the matching is tested only when the gate's two evals are `coco:` sources.
    fn noise_words(&self, item: &Item) -> Option<&'static str> {
        if self.noise_tested(item) {
            return Some(", noise-tested");
        }
        let (_, task) = self.statistics?;
        match item {
            Item::Rule { metric, rule, .. }
                if noise_data(task, *metric) == Some(NoiseData::MatchedDetections)
                    && (rule.max_drop.is_some() || rule.max_drop_rel.is_some()) =>
            {
                Some(", noise-tested only when both evals are coco: sources")
            }
            _ => None,
        }
    }
}

/// Each split by name with the confidence it is read at, if known.
pub type SplitConfidences = Vec<(String, Option<f64>)>;

/// The operating point of `policy` applied to `evals`, with its statistics; `None` when the
/// policy has neither.
pub fn operating_point(policy: &Policy, evals: &[(&str, &Eval)]) -> Option<PointShown> {
    if policy.operating_point.is_none() && policy.statistics.is_none() {
        return None;
    }
    let point = policy.operating_point;
    let task = policy
        .task
        .or_else(|| evals.first().map(|(_, e)| e.task))
        .unwrap_or(Task::ObjectDetection);
    Some(PointShown {
        point,
        statistics: policy.statistics.map(|s| (s, task)),
        matched: evals
            .first()
            .map(|(_, e)| e.panels.matched.keys())
            .into_iter()
            .flatten()
            .filter(|s| evals.iter().all(|(_, e)| e.panels.matched.contains_key(*s)))
            .cloned()
            .collect(),
        reads_prf: evals.iter().any(|(_, e)| e.task == Task::ObjectDetection),
        evals: evals
            .iter()
            .map(|(role, eval)| {
                let splits = point.map_or_else(Vec::new, |point| {
                    eval.splits
                        .keys()
                        .map(|s| (s.clone(), eval.confidence_at(s, point.value)))
                        .collect()
                });
                ((*role).to_owned(), splits)
            })
            .collect(),
    })
}

fn point_text(point: OperatingPoint) -> String {
    match point {
        OperatingPoint::Confidence(p) => format!("confidence {p}"),
        OperatingPoint::Optimal => "optimal".to_owned(),
    }
}

/// The header above the rules: the operating point and, at `optimal`, each split's
/// threshold, since every P/R/F1 and confusion line below is read there.
fn render_point(out: &mut String, shown: &PointShown) {
    if let Some((st, _)) = shown.statistics {
        let correction = match st.correction {
            crate::stats::Correction::Holm => "after Holm",
            crate::stats::Correction::BenjaminiHochberg => "after Benjamini–Hochberg",
            crate::stats::Correction::None => "without correction",
        };
        let _ = writeln!(
            out,
            "statistics (line {}): drops marked noise-tested fail only when a paired bootstrap over images finds them significant at {} {correction} ({} resamples, seed {})",
            st.span.line, st.significance, st.resamples, st.seed
        );
    }
    let Some(point) = shown.point else {
        out.push('\n');
        return;
    };
    let line = point.line;
    match point.value {
        OperatingPoint::Confidence(_) => {
            let what = if shown.reads_prf {
                "precision, recall, F1 and confusions are read there"
            } else {
                "confusions are read there (precision, recall and F1 come from map-results)"
            };
            let _ = writeln!(
                out,
                "operating point: {} (line {line}): {what}\n",
                point_text(point.value)
            );
        }
        OperatingPoint::Optimal => {
            let _ = writeln!(
                out,
                "operating point: optimal (line {line}): each split of each eval at its own F1-optimal confidence"
            );
            let rows: Vec<(String, String)> = shown
                .evals
                .iter()
                .flat_map(|(role, splits)| {
                    splits.iter().map(move |(split, c)| {
                        (
                            format!("{role} / {}", split_label(split)),
                            match c {
                                Some(c) => format!("{c}"),
                                None => "unknown: the confidence sweep gives no F1-optimal threshold for this split".to_owned(),
                            },
                        )
                    })
                })
                .collect();
            let width = rows
                .iter()
                .map(|(p, _)| p.chars().count())
                .max()
                .unwrap_or(0);
            for (place, what) in rows {
                let pad = width - place.chars().count();
                let _ = writeln!(out, "  {place}{}  {what}", " ".repeat(pad));
            }
            out.push('\n');
        }
    }
}

/// What a policy's waivers do to the plan's checks, as of a date.
#[derive(Clone, Copy, Debug)]
pub struct Waivers<'a> {
    /// The policy's waivers, in file order.
    pub waivers: &'a [Waiver],
    /// The date they are judged against: a waiver whose `until` is before it has expired.
    pub today: NaiveDate,
}

/// The waiver that decides a check's fate if it fails: the first active one that covers it,
/// else the first expired one (which no longer waives, as the reports say).
fn waiver_for<'a>(w: Waivers<'a>, item: &Item) -> Option<&'a Waiver> {
    let (split, class, metric): (&str, Option<&str>, Option<Metric>) = match item {
        Item::Rule {
            split,
            scope,
            metric,
            ..
        } => (split, scope.class(), Some(*metric)),
        // Confusion checks have a class (the actual one) and no metric, as in the gate.
        Item::Confusion { split, actual, .. } => (split, Some(actual), None),
        Item::MissingSplit { split, .. } => (split, None, None),
        Item::MissingClass { split, class, .. } => (split, Some(class), None),
    };
    let mut covering = w.waivers.iter().filter(|x| x.covers(split, class, metric));
    let first = covering.clone().next();
    covering.find(|x| x.until >= w.today).or(first)
}

fn waiver_text(waiver: &Waiver, today: NaiveDate) -> String {
    if waiver.until >= today {
        format!("waived until {} (line {})", waiver.until, waiver.span.line)
    } else {
        format!(
            "a waiver expired on {} (line {}): not waived",
            waiver.until, waiver.span.line
        )
    }
}

/// The plan as text, one line per split × scope × metric and per confusion pair, under the
/// operating point when the policy has one.
pub fn render_text(plan: &[Item], waivers: Waivers<'_>, point: Option<&PointShown>) -> String {
    let rows: Vec<(String, String)> = plan
        .iter()
        .map(|item| {
            let mut what = what(item);
            if let Some(words) = point.and_then(|p| p.noise_words(item)) {
                what.push_str(words);
            }
            if let Some(w) = waiver_for(waivers, item) {
                what.push_str(", ");
                what.push_str(&waiver_text(w, waivers.today));
            }
            (place(item), what)
        })
        .collect();
    let width = rows
        .iter()
        .map(|(p, _)| p.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if let Some(shown) = point {
        render_point(&mut out, shown);
    }
    for (place, what) in rows {
        let pad = width - place.chars().count();
        let _ = writeln!(out, "{place}{}  {what}", " ".repeat(pad));
    }
    if plan.is_empty() {
        out.push_str("(no rule of the policy applies to this eval)\n");
    }
    out
}

fn place(item: &Item) -> String {
    match item {
        Item::Rule {
            split,
            scope,
            metric,
            ..
        } => format!("{} / {} / {metric}", split_label(split), scope_text(scope)),
        Item::Confusion {
            split,
            actual,
            predicted,
            ..
        } => format!(
            "{} / class {actual:?} / confusion → {}",
            split_label(split),
            predicted_text(predicted.as_deref())
        ),
        Item::MissingSplit { split, .. } => format!("{} / presence", split_label(split)),
        Item::MissingClass { split, class, .. } => {
            format!("{} / class {:?} / presence", split_label(split), class)
        }
    }
}

/// The scope as the Markdown report names it.
pub fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Split => "split".to_owned(),
        Scope::Size(s) => format!("size {s}"),
        Scope::Class(c) => format!("class {c:?}"),
        Scope::ClassSize(c, s) => format!("class {c:?} / size {s}"),
    }
}

/// The predicted side of a confusion pair: a class quoted, background by its keyword.
fn predicted_text(predicted: Option<&str>) -> String {
    match predicted {
        Some(p) => format!("{p:?}"),
        None => BACKGROUND.to_owned(),
    }
}

fn severity_text(severity: Option<Field<Severity>>) -> String {
    match severity {
        Some(s) => format!("severity {} (line {})", s.value.name(), s.line),
        None => "severity fail (default)".to_owned(),
    }
}

fn what(item: &Item) -> String {
    let field = |parts: &mut Vec<String>, name: &str, f: Option<Field<f64>>| {
        if let Some(f) = f {
            parts.push(format!("{name} {} (line {})", f.value, f.line));
        }
    };
    match item {
        Item::Rule {
            rule, min_support, ..
        } => {
            let mut parts: Vec<String> = Vec::new();
            field(&mut parts, "min", rule.min);
            field(&mut parts, "max", rule.max);
            match rule.max_drop {
                // `auto` is a threshold of 0 that only a significant drop crosses.
                Some(f) if rule.auto => parts.push(format!("max_drop auto (line {})", f.line)),
                f => field(&mut parts, "max_drop", f),
            }
            field(&mut parts, "max_drop_rel", rule.max_drop_rel);
            field(&mut parts, "max_shift", rule.max_shift);
            if parts.is_empty() {
                parts.push("no threshold: no check".to_owned());
            }
            if let Some(m) = min_support {
                parts.push(format!("min_support {} (line {})", m.value, m.line));
            }
            parts.push(severity_text(rule.severity));
            parts.join(", ")
        }
        Item::Confusion {
            max_rise,
            max,
            severity,
            matrix,
            line,
            ..
        } => {
            let mut parts: Vec<String> = Vec::new();
            field(&mut parts, "max_rise", *max_rise);
            field(&mut parts, "max", *max);
            parts.push(severity_text(*severity));
            parts.push(format!("confusion rule of line {line}"));
            let mut text = parts.join(", ");
            if matrix.is_none() {
                text.push_str(
                    "; the eval has no confusion matrix for this split at the operating point: fails",
                );
            }
            text
        }
        Item::MissingSplit { line, .. } => {
            format!("the candidate lacks this split: fails (line {line})")
        }
        Item::MissingClass { line, .. } => {
            format!("the candidate lacks this class: follows missing.class (line {line})")
        }
    }
}

#[derive(Serialize)]
struct JsonField<T> {
    value: T,
    line: Option<u32>,
}

#[derive(Serialize)]
struct JsonWaiver {
    until: String,
    line: u32,
    /// Expired waivers no longer waive.
    expired: bool,
}

#[derive(Serialize, Default)]
struct JsonItem<'a> {
    split: &'a str,
    /// `split`, `size SIZE`, `class "NAME"` or `class "NAME" / size SIZE`, as in the text and
    /// the Markdown report; `null` for presence entries.
    scope: Option<String>,
    class: Option<&'a str>,
    size: Option<&'static str>,
    /// `confusion` for confusion pairs; `None` for presence entries.
    metric: Option<&'static str>,
    /// A confusion pair's predicted class, or `background`.
    predicted: Option<&'a str>,
    min: Option<JsonField<f64>>,
    max: Option<JsonField<f64>>,
    /// A number, or `"auto"`.
    max_drop: Option<JsonField<serde_json::Value>>,
    max_drop_rel: Option<JsonField<f64>>,
    max_shift: Option<JsonField<f64>>,
    max_rise: Option<JsonField<f64>>,
    /// Whether the gate noise-tests the item's drop fields (`statistics`); left out when not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    noise_tested: bool,
    min_support: Option<JsonField<u64>>,
    /// `None` for a missing class, which follows `missing.class`.
    severity: Option<JsonField<&'static str>>,
    /// `rule` for metric rules, `confusion` for confusion pairs; `missing_split` or
    /// `missing_class` for presence entries.
    kind: &'static str,
    /// The line a confusion rule starts on.
    rule_line: Option<u32>,
    /// The confidence of the confusion matrix a pair is read from; `None` when the eval has
    /// none for the split at the operating point.
    matrix_confidence: Option<f64>,
    /// The waiver that would excuse a failure here, if any.
    waiver: Option<JsonWaiver>,
}

#[derive(Serialize)]
struct JsonPoint {
    /// A fraction, or `"optimal"`.
    confidence: serde_json::Value,
    line: u32,
    /// Per eval, per split, the confidence it is read at (`null`: unknown).
    read_at: serde_json::Map<String, serde_json::Value>,
}

/// The plan as JSON: `{"schema_version": 1, "operating_point": ..., "rules": [...]}`.
pub fn render_json(
    plan: &[Item],
    waivers: Waivers<'_>,
    point: Option<&PointShown>,
) -> serde_json::Result<String> {
    let num = |f: Option<Field<f64>>| {
        f.map(|f| JsonField {
            value: f.value,
            line: Some(f.line),
        })
    };
    let sev = |severity: Option<Field<Severity>>| match severity {
        Some(s) => JsonField {
            value: s.value.name(),
            line: Some(s.line),
        },
        None => JsonField {
            value: Severity::Fail.name(),
            line: None,
        },
    };
    let items: Vec<JsonItem<'_>> = plan
        .iter()
        .map(|item| match item {
            Item::Rule {
                split,
                scope,
                metric,
                rule,
                min_support,
                ..
            } => JsonItem {
                split,
                scope: Some(scope_text(scope)),
                class: scope.class(),
                size: scope.size().map(|s| s.name()),
                metric: Some(metric.name()),
                min: num(rule.min),
                max: num(rule.max),
                max_drop: rule.max_drop.map(|f| JsonField {
                    value: if rule.auto {
                        serde_json::json!("auto")
                    } else {
                        serde_json::json!(f.value)
                    },
                    line: Some(f.line),
                }),
                max_drop_rel: num(rule.max_drop_rel),
                max_shift: num(rule.max_shift),
                min_support: min_support.map(|m| JsonField {
                    value: m.value,
                    line: Some(m.line),
                }),
                severity: Some(sev(rule.severity)),
                kind: "rule",
                noise_tested: point.is_some_and(|p| p.noise_tested(item)),
                ..JsonItem::default()
            },
            Item::Confusion {
                split,
                actual,
                predicted,
                max_rise,
                max,
                severity,
                matrix,
                line,
            } => JsonItem {
                split,
                scope: Some(scope_text(&Scope::Class(actual.clone()))),
                class: Some(actual),
                metric: Some("confusion"),
                predicted: Some(predicted.as_deref().unwrap_or(BACKGROUND)),
                max: num(*max),
                max_rise: num(*max_rise),
                severity: Some(sev(*severity)),
                kind: "confusion",
                rule_line: Some(*line),
                matrix_confidence: matrix.map(|m| m.fraction()),
                ..JsonItem::default()
            },
            Item::MissingSplit { split, line, .. } | Item::MissingClass { split, line, .. } => {
                let class = match item {
                    Item::MissingClass { class, .. } => Some(class.as_str()),
                    _ => None,
                };
                JsonItem {
                    split,
                    class,
                    severity: class.is_none().then_some(JsonField {
                        value: Severity::Fail.name(),
                        line: Some(*line),
                    }),
                    kind: if class.is_some() {
                        "missing_class"
                    } else {
                        "missing_split"
                    },
                    ..JsonItem::default()
                }
            }
        })
        .zip(plan)
        .map(|(mut json, item)| {
            json.waiver = waiver_for(waivers, item).map(|w| JsonWaiver {
                until: w.until.to_string(),
                line: w.span.line,
                expired: w.until < waivers.today,
            });
            json
        })
        .collect();
    let point = point.and_then(|shown| Some((shown, shown.point?)));
    let point = point.map(|(shown, point)| JsonPoint {
        confidence: match point.value {
            OperatingPoint::Confidence(p) => serde_json::json!(p.fraction()),
            OperatingPoint::Optimal => serde_json::json!("optimal"),
        },
        line: point.line,
        read_at: shown
            .evals
            .iter()
            .map(|(role, splits)| {
                let splits: serde_json::Map<String, serde_json::Value> = splits
                    .iter()
                    .map(|(s, c)| (s.clone(), serde_json::json!(c)))
                    .collect();
                (role.clone(), serde_json::Value::Object(splits))
            })
            .collect(),
    });
    let mut text = serde_json::to_string_pretty(&serde_json::json!({
        "schema_version": 1,
        "operating_point": point,
        "rules": items,
    }))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authoring::test_evals::{eval, prf, with_matrix, with_sweep};
    use crate::gate::{Gate, GateOptions};
    use crate::policy::parse_policy;

    const TWO_SPLITS: &str = r#"{"splits": {
        "test": {"map50": 0.7, "perClass": {"car": {"map50": 0.7}, "person": {"map50": 0.6}}},
        "valid": {"map50": 0.8, "perClass": {"car": {"map50": 0.8}, "person": {"map50": 0.7}}}}}"#;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    /// valid: a sweep with its F1 optimum at 0.374 and a matrix at 37 (the nearest
    /// percent); test: neither.
    fn optimal_eval() -> Eval {
        let e = with_sweep(
            eval(TWO_SPLITS),
            "valid",
            37,
            Some(0.374),
            prf(0.9, 0.8),
            &[("car", prf(0.9, 0.8)), ("person", prf(0.8, 0.7))],
        );
        // car: 30 instances, person: 12.
        with_matrix(
            e,
            "valid",
            37,
            &["car", "person"],
            &[25, 1, 4, 2, 8, 2, 3, 1, 0],
        )
    }

    const POLICY: &str = "version: 1
operating_point: {confidence: optimal}
splits:
  valid:
    optimal_threshold: {max_shift: 0.1, severity: warn}
    classes:
      \"*\":
        min_support: 25
        recall: {max_drop: 0.05}
      person:
        min_support: 10
confusions:
  - split: \"*\"
    actual: \"*\"
    predicted: background
    max_rise: 0.02
  - {split: valid, actual: person, predicted: car, max: 0.1, severity: warn}
waivers:
  - {split: valid, class: person, reason: relabelling, until: 2027-01-31}
";

    fn explain(policy: &str, e: &Eval) -> (String, String) {
        let (policy, _) = parse_policy(policy).unwrap();
        let gate = Gate::new(&policy, None, e).unwrap();
        let plan = gate.plan();
        let waivers = Waivers {
            waivers: &policy.waivers,
            today: today(),
        };
        let point = operating_point(&policy, &[("eval", e)]);
        (
            render_text(&plan, waivers, point.as_ref()),
            render_json(&plan, waivers, point.as_ref()).unwrap(),
        )
    }

    #[test]
    fn shows_the_operating_point_support_shift_and_every_confusion_pair() {
        let (text, json) = explain(POLICY, &optimal_eval());
        assert_eq!(
            text,
            r#"operating point: optimal (line 2): each split of each eval at its own F1-optimal confidence
  eval / test   unknown: the confidence sweep gives no F1-optimal threshold for this split
  eval / valid  0.374

valid / split / optimal_threshold                max_shift 0.1 (line 5), severity warn (line 5)
valid / class "car" / recall                     max_drop 0.05 (line 9), min_support 25 (line 8), severity fail (default)
valid / class "person" / recall                  max_drop 0.05 (line 9), min_support 10 (line 11), severity fail (default), waived until 2027-01-31 (line 19)
test / class "*" / confusion → background        max_rise 0.02 (line 16), severity fail (default), confusion rule of line 13; the eval has no confusion matrix for this split at the operating point: fails
valid / class "car" / confusion → background     max_rise 0.02 (line 16), severity fail (default), confusion rule of line 13
valid / class "person" / confusion → background  max_rise 0.02 (line 16), severity fail (default), confusion rule of line 13, waived until 2027-01-31 (line 19)
valid / class "person" / confusion → "car"       max 0.1 (line 17), severity warn (line 17), confusion rule of line 17, waived until 2027-01-31 (line 19)
"#
        );
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            doc["operating_point"],
            serde_json::json!({"confidence": "optimal", "line": 2, "read_at": {"eval": {"test": null, "valid": 0.374}}})
        );
        let rules = doc["rules"].as_array().unwrap();
        assert_eq!(
            rules[0]["max_shift"],
            serde_json::json!({"value": 0.1, "line": 5})
        );
        assert_eq!(
            rules[2]["min_support"],
            serde_json::json!({"value": 10, "line": 11})
        );
        assert_eq!(
            rules[6],
            serde_json::json!({
                "split": "valid", "scope": "class \"person\"", "class": "person", "size": null,
                "metric": "confusion", "predicted": "car", "kind": "confusion", "rule_line": 17,
                "min": null, "max": {"value": 0.1, "line": 17}, "max_drop": null,
                "max_drop_rel": null, "max_shift": null, "max_rise": null, "min_support": null,
                "severity": {"value": "warn", "line": 17}, "matrix_confidence": 0.37,
                "waiver": {"until": "2027-01-31", "line": 19, "expired": false}
            })
        );
        assert_eq!(rules[3]["matrix_confidence"], serde_json::Value::Null);
        assert_eq!(rules[3]["predicted"], "background");
    }

    #[test]
    fn a_fixed_confidence_is_one_line_and_a_policy_without_one_has_none() {
        let policy = "version: 1\noperating_point: {confidence: 0.40}\nsplits:\n  valid:\n    recall: {min: 0.5}\n";
        let e = with_sweep(eval(TWO_SPLITS), "valid", 40, None, prf(0.9, 0.8), &[]);
        let (text, json) = explain(policy, &e);
        assert_eq!(
            text,
            "operating point: confidence 0.40 (line 2): precision, recall, F1 and confusions are read there\n\nvalid / split / recall  min 0.5 (line 5), severity fail (default)\n"
        );
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["operating_point"]["confidence"], 0.4);
        assert_eq!(doc["operating_point"]["read_at"]["eval"]["test"], 0.4);
        // `max_drop: auto` is shown as written.
        let auto = "version: 1\noperating_point: {confidence: 0.40}\nstatistics: {seed: 1}\nsplits:\n  valid:\n    recall: {max_drop: auto}\n";
        let (text, json) = explain(auto, &e);
        assert!(
            text.starts_with(
                "statistics (line 3): drops marked noise-tested fail only when a paired bootstrap over images finds them significant at 0.05 after Holm (2000 resamples, seed 1)\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "valid / split / recall  max_drop auto (line 6), severity fail (default), noise-tested\n"
            ),
            "{text}"
        );
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            doc["rules"][0]["max_drop"],
            serde_json::json!({"value": "auto", "line": 6})
        );
        assert_eq!(doc["rules"][0]["noise_tested"], true);
        // Semantic segmentation reads only its confusion matrices there.
        let seg = eval(include_str!(
            "../../examples/evals/segmentation-baseline.json"
        ));
        let (text, _) = explain(
            "version: 1\noperating_point: {confidence: 0.40}\nsplits:\n  valid:\n    miou: 0.5\n",
            &seg,
        );
        assert!(
            text.starts_with("operating point: confidence 0.40 (line 2): confusions are read there (precision, recall and F1 come from map-results)\n\n"),
            "{text}"
        );
        let (text, json) = explain("version: 1\nsplits:\n  valid:\n    map50: 0.5\n", &e);
        assert!(text.starts_with("valid / split / map50  min 0.5"), "{text}");
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(doc["operating_point"].is_null());
    }

    /// The plan's confusion items are the gate's confusion checks, one per field, with a
    /// baseline whose matrix has a class the candidate's lacks and a split without a matrix.
    #[test]
    fn confusion_items_are_the_gates_confusion_checks() {
        let (policy, _) = parse_policy(POLICY).unwrap();
        let cand = optimal_eval();
        let base = with_matrix(
            with_sweep(
                eval(TWO_SPLITS),
                "valid",
                37,
                Some(0.37),
                prf(0.9, 0.8),
                &[],
            ),
            "valid",
            37,
            &["bus", "car", "person"],
            &[5, 0, 0, 1, 0, 20, 1, 2, 0, 1, 9, 1, 0, 1, 1, 0],
        );
        let gate = Gate::new(&policy, Some(&base), &cand).unwrap();
        let report = gate.evaluate(&GateOptions::new(today())).unwrap();
        type Pair = (String, Option<String>, Option<String>, Option<u32>);
        let from_gate: Vec<Pair> = report
            .checks
            .iter()
            .filter(|c| c.metric.is_none())
            .map(|c| {
                (
                    c.split.to_string(),
                    c.class.as_deref().map(str::to_owned),
                    c.predicted().map(str::to_owned),
                    c.line(),
                )
            })
            .collect();
        let mut from_plan = Vec::new();
        for item in gate.plan() {
            if let Item::Confusion {
                split,
                actual,
                predicted,
                max_rise,
                max,
                ..
            } = item
            {
                for f in [max_rise, max].into_iter().flatten() {
                    let predicted = predicted.clone().unwrap_or_else(|| BACKGROUND.to_owned());
                    from_plan.push((
                        split.clone(),
                        Some(actual.clone()),
                        Some(predicted),
                        Some(f.line),
                    ));
                }
            }
        }
        assert_eq!(from_plan, from_gate);
        // bus is only in the baseline's matrix, and still one of the pairs.
        assert!(
            from_plan.iter().any(|p| p.1.as_deref() == Some("bus")),
            "{from_plan:?}"
        );
        assert_eq!(from_plan.len(), 5, "{from_plan:?}");
    }
    #[test]
    fn map_drop_rules_are_noise_tested_where_the_eval_carries_the_matching() {
        use crate::model::{MatchedDetections, MatchedParts, Slab};
        // Statistics and no operating point: an mAP-only policy still shows them.
        let policy = "version: 1\nstatistics: {seed: 1}\nsplits:\n  \"*\":\n    map50: {min: 0.5, max_drop: 0.02}\n    sizes:\n      small:\n        map75: {max_drop_rel: 0.1}\n";
        let plain = eval(TWO_SPLITS);
        let (text, json) = explain(policy, &plain);
        assert!(
            text.starts_with("statistics (line 2): drops marked noise-tested"),
            "{text}"
        );
        assert!(
            text.contains("test / split / map50        min 0.5 (line 5), max_drop 0.02 (line 5), severity fail (default), noise-tested only when both evals are coco: sources\n"),
            "{text}"
        );
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(doc["operating_point"].is_null());
        assert!(
            doc["rules"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r.get("noise_tested").is_none())
        );
        // With valid's matching (as a coco: source keeps it), valid's rules are tested.
        let matched = MatchedDetections::from_parts(MatchedParts {
            images: vec![1],
            image_names: Vec::new(),
            classes: vec!["car".into(), "person".into()],
            rec_thrs: vec![0.0, 1.0],
            thresholds: 2,
            t50: 0,
            t75: 1,
            slabs: vec![Slab::default(); 8],
        })
        .unwrap();
        let mut local = plain;
        local
            .panels
            .matched
            .insert("valid".into(), std::sync::Arc::new(matched));
        let (text, json) = explain(policy, &local);
        assert!(
            text.contains("valid / size small / map75  max_drop_rel 0.1 (line 8), severity fail (default), noise-tested\n"),
            "{text}"
        );
        assert!(text.contains("test / size small / map75   max_drop_rel 0.1 (line 8), severity fail (default), noise-tested only"), "{text}");
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        let tested: Vec<(&str, &str)> = doc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["noise_tested"] == true)
            .map(|r| (r["split"].as_str().unwrap(), r["metric"].as_str().unwrap()))
            .collect();
        assert_eq!(tested, [("valid", "map50"), ("valid", "map75")]);
    }
}
