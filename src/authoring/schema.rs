//! The JSON Schema of policy version 1, for editors (completion, hover docs, red squiggles).
//!
//! Built from the same tables the policy validator uses (its key lists, the metric and size
//! names, the allowed values), so that a key the validator accepts is one the schema offers.
//! The validator stays the authority: it also checks what a schema cannot (names against the
//! evals, `min` above `max`).

use serde_json::{Map, Value, json};

use crate::model::{Metric, Size};
use crate::policy::validate::{
    CONFUSION_KEYS, MISSING_KEYS, OPERATING_POINT_KEYS, RULE_KEYS, STATISTICS_KEYS, TOP_KEYS,
    WAIVER_KEYS,
};

/// Where the committed copy lives, relative to the repository root.
pub const SCHEMA_PATH: &str = "schema/policy-v1.json";

fn describe_metric(m: Metric) -> &'static str {
    match m {
        Metric::Map50 => "mAP at IoU 0.5 (object detection)",
        Metric::Map50_95 => "mAP averaged over IoU 0.5 to 0.95 (object detection)",
        Metric::Map75 => "mAP at IoU 0.75 (object detection)",
        Metric::Miou => "mean IoU over the foreground classes (semantic segmentation, split level)",
        Metric::Iou => "IoU of one class (semantic segmentation, class level)",
        Metric::Precision => {
            "precision at the operating point (object detection, split and class level), or pixel precision (semantic segmentation)"
        }
        Metric::Recall => {
            "recall at the operating point (object detection, split and class level), or pixel recall (semantic segmentation)"
        }
        Metric::F1 => {
            "F1 at the operating point (object detection, split and class level), or pixel F1 (semantic segmentation)"
        }
        Metric::OptimalThreshold => {
            "the confidence at which F1 peaks (object detection: split and class level, from the confidence sweep; semantic segmentation: class level); takes `max_shift`"
        }
    }
}

fn describe_rule_field(key: &str) -> &'static str {
    match key {
        "min" => "Fails when the candidate is below this value (a fraction in [0, 1]).",
        "max" => {
            "Fails when the candidate is above this value; e.g. a warn-level \"too good to be true\" guard."
        }
        "max_drop" => {
            "Fails when baseline − candidate is larger than this, in metric points (0.01 is one mAP point). `auto` (with `statistics`): fails on any significant drop."
        }
        "max_drop_rel" => {
            "Fails when (baseline − candidate) / baseline is larger than this fraction."
        }
        "max_shift" => {
            "optimal_threshold only: fails when |candidate − baseline| is larger than this (a confidence, a fraction)."
        }
        "severity" => "fail (the default) fails the gate; warn only reports.",
        _ => "",
    }
}

/// The schema (JSON Schema 2020-12).
pub fn schema() -> Value {
    let fraction = json!({"type": "number", "minimum": 0, "maximum": 1});
    let mut rule_fields = Map::new();
    for key in RULE_KEYS {
        let mut field = if *key == "severity" {
            json!({"enum": ["fail", "warn"]})
        } else if *key == "max_drop" {
            json!({"oneOf": [{"$ref": "#/$defs/fraction"}, {"const": "auto"}]})
        } else {
            json!({"$ref": "#/$defs/fraction"})
        };
        field["description"] = json!(describe_rule_field(key));
        rule_fields.insert((*key).to_owned(), field);
    }
    let mut metrics = Map::new();
    for m in Metric::ALL {
        metrics.insert(
            m.name().to_owned(),
            json!({"$ref": "#/$defs/rule", "description": describe_metric(m)}),
        );
    }
    let sizes: Map<String, Value> = Size::ALL
        .iter()
        .map(|s| (s.name().to_owned(), json!({"$ref": "#/$defs/metricRules"})))
        .collect();
    let with = |extra: &[(&str, Value)]| {
        let mut props = metrics.clone();
        for (k, v) in extra {
            props.insert((*k).to_owned(), v.clone());
        }
        json!({"type": "object", "additionalProperties": false, "properties": props})
    };
    let sizes_block = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": sizes,
        "description": "Rules per object size (object detection only)."
    });
    let classes_block = json!({
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/class"},
        "description": "Rules per class: an exact name, or a glob (*, ?, [..], {..}; \\ escapes). An exact name overrides a glob field by field."
    });
    let missing: Map<String, Value> = MISSING_KEYS
        .iter()
        .map(|k| {
            let v = match *k {
                "baseline" => json!({"enum": ["floors_only", "fail"], "default": "floors_only", "description": "No baseline eval, or it lacks the value: floors_only skips drop rules; fail fails them."}),
                "class" => json!({"enum": ["fail", "warn", "ignore"], "default": "fail", "description": "A class of the baseline that is gone from the candidate."}),
                _ => json!({"enum": ["fail", "warn", "skip"], "default": "fail", "description": "A value the candidate lacks where a floor or the baseline needs one."}),
            };
            ((*k).to_owned(), v)
        })
        .collect();
    let waiver_props: Map<String, Value> = WAIVER_KEYS
        .iter()
        .map(|k| {
            let v = match *k {
                "split" => json!({"type": "string", "description": "A split name, or \"*\"."}),
                "class" => json!({"type": "string", "description": "Narrows the waiver to a class name or glob."}),
                "metric" => json!({"enum": Metric::ALL.iter().map(|m| m.name()).collect::<Vec<_>>(), "description": "Narrows the waiver to one metric."}),
                "reason" => json!({"type": "string", "minLength": 1, "description": "Why the regression is accepted."}),
                _ => json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "The last day it waives (YYYY-MM-DD)."}),
            };
            ((*k).to_owned(), v)
        })
        .collect();
    let confusion_props: Map<String, Value> = CONFUSION_KEYS
        .iter()
        .map(|k| {
            let v = match *k {
                "split" => json!({"type": "string", "description": "A split name, or \"*\"."}),
                "actual" => json!({"type": "string", "description": "The ground-truth class: a name or a glob."}),
                "predicted" => json!({"type": "string", "description": "What it is predicted as: a class name, a glob, or `background` (missed)."}),
                "max_rise" => json!({"$ref": "#/$defs/fraction", "description": "How far the share of actual's ground truth predicted as `predicted` may grow over the baseline's, in points (0.02 is 2 points)."}),
                "max" => json!({"$ref": "#/$defs/fraction", "description": "The largest share allowed."}),
                _ => json!({"enum": ["fail", "warn"], "description": "fail (the default) fails the gate; warn only reports."}),
            };
            ((*k).to_owned(), v)
        })
        .collect();
    let operating_point: Map<String, Value> = OPERATING_POINT_KEYS
        .iter()
        .map(|k| {
            (
                (*k).to_owned(),
                json!({
                    "oneOf": [
                        {"type": "number", "minimum": 0, "maximum": 1},
                        {"const": "optimal"}
                    ],
                    "description": "The confidence precision, recall, F1 and confusions are read at, for both evals (a fraction with at most two decimals), or `optimal`: each eval at its own F1-optimal threshold."
                }),
            )
        })
        .collect();
    let statistics: Map<String, Value> = STATISTICS_KEYS
        .iter()
        .map(|k| {
            let v = match *k {
                "significance" => json!({"type": "number", "exclusiveMinimum": 0, "maximum": 0.5, "default": 0.05, "description": "Per gate, after correction: the chance of any false failure (holm) or the expected share of false failures (bh)."}),
                "correction" => json!({"enum": ["holm", "bh", "none"], "default": "holm", "description": "How p-values are adjusted for the number of noise-tested checks."}),
                "resamples" => json!({"type": "integer", "minimum": 100, "maximum": 100000, "default": 2000, "description": "Bootstrap replicates."}),
                _ => json!({"type": "integer", "minimum": 0, "default": 1, "description": "Same inputs, same seed: same verdict, on any machine and thread count."}),
            };
            ((*k).to_owned(), v)
        })
        .collect();
    let mut top = Map::new();
    for key in TOP_KEYS {
        let v = match *key {
            "version" => json!({"const": 1, "description": "The policy format version; required."}),
            "task" => {
                json!({"enum": ["object-detection", "semantic-segmentation"], "description": "The task both evals must have."})
            }
            "defaults" => {
                json!({"$ref": "#/$defs/ruleFields", "description": "Rule fields every rule starts from."})
            }
            "missing" => {
                json!({"type": "object", "additionalProperties": false, "properties": missing, "description": "How absent data is treated."})
            }
            "splits" => {
                json!({"type": "object", "additionalProperties": {"$ref": "#/$defs/split"}, "description": "Rules per split name, or \"*\" for every split."})
            }
            "operating_point" => {
                json!({"type": "object", "additionalProperties": false, "required": ["confidence"], "properties": operating_point, "description": "Where a detection model's precision, recall and F1 are read: required by rules on them and by `confusions`."})
            }
            "statistics" => {
                json!({"type": "object", "additionalProperties": false, "properties": statistics, "description": "Noise-tested drop rules: a drop on precision, recall or F1 fails only when a paired bootstrap over images finds it significant."})
            }
            "confusions" => {
                json!({"type": "array", "items": {"$ref": "#/$defs/confusion"}, "description": "Rules on the share of a class's ground truth predicted as another class or as background."})
            }
            _ => {
                json!({"type": "array", "items": {"$ref": "#/$defs/waiver"}, "description": "Accountable, expiring exceptions."})
            }
        };
        top.insert((*key).to_owned(), v);
    }
    // Editors read a `$schema` key as the schema to use; evalgate itself does not accept it,
    // so the comment form (`# yaml-language-server: $schema=...`) is the one to use.
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "evalgate policy, version 1",
        "description": format!("What a model must reach per split, object size and class, and how far it may fall behind the baseline. Reference: {}/policy.md.", crate::DOCS_URL),
        "type": "object",
        "additionalProperties": false,
        "required": ["version"],
        "properties": top,
        "$defs": {
            "fraction": fraction,
            "ruleFields": {"type": "object", "additionalProperties": false, "properties": rule_fields},
            "rule": {
                "description": "A bare number is a `min`; a mapping sets any rule fields.",
                "oneOf": [{"$ref": "#/$defs/fraction"}, {"$ref": "#/$defs/ruleFields"}]
            },
            "metricRules": {"type": "object", "additionalProperties": false, "properties": metrics},
            "split": with(&[("sizes", sizes_block.clone()), ("classes", classes_block)]),
            "class": with(&[
                ("sizes", sizes_block),
                ("min_support", json!({"type": "integer", "minimum": 0, "description": "Skips the class's checks (reason: insufficient support) when it has fewer ground-truth instances (pixels, for semantic segmentation) than this in either eval."})),
            ]),
            "confusion": {
                "type": "object",
                "additionalProperties": false,
                "required": ["split", "actual", "predicted"],
                "anyOf": [{"required": ["max_rise"]}, {"required": ["max"]}],
                "properties": confusion_props
            },
            "waiver": {
                "type": "object",
                "additionalProperties": false,
                "required": ["split", "reason", "until"],
                "properties": waiver_props
            }
        }
    })
}

/// The schema as the committed file holds it.
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}
