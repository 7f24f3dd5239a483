//! `evalgate policy explain`: for every split, scope and metric the policy covers in an eval,
//! the thresholds that apply, the waiver that would excuse a failure, and the policy line each
//! one comes from. Built from the same plan the gate evaluates, and the same waiver matching,
//! so it cannot disagree with it.
//!
//! Scopes are named as the Markdown report's Scope column names them, each with its kind, so
//! that a class called `small` cannot pass for a size: `split` (the split as a whole),
//! `size small`, `class "car"`, `class "car" / size small`.

use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;

use crate::gate::Item;
use crate::model::{Metric, Scope};
use crate::policy::{Field, Rule, Severity, Waiver};
use crate::report::split_label;

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

/// The plan as text, one line per split × scope × metric.
pub fn render_text(plan: &[Item], waivers: Waivers<'_>) -> String {
    let rows: Vec<(String, String)> = plan
        .iter()
        .map(|item| {
            let mut what = what(item);
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

fn what(item: &Item) -> String {
    match item {
        Item::Rule { rule, .. } => {
            let mut parts: Vec<String> = Vec::new();
            let mut num = |name: &str, f: Option<Field<f64>>| {
                if let Some(f) = f {
                    parts.push(format!("{name} {} (line {})", f.value, f.line));
                }
            };
            num("min", rule.min);
            num("max", rule.max);
            num("max_drop", rule.max_drop);
            num("max_drop_rel", rule.max_drop_rel);
            if parts.is_empty() {
                parts.push("no threshold: no check".to_owned());
            }
            parts.push(match rule.severity {
                Some(s) => format!("severity {} (line {})", s.value.name(), s.line),
                None => "severity fail (default)".to_owned(),
            });
            parts.join(", ")
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

#[derive(Serialize)]
struct JsonItem<'a> {
    split: &'a str,
    /// `split`, `size SIZE`, `class "NAME"` or `class "NAME" / size SIZE`, as in the text and
    /// the Markdown report; `null` for presence entries.
    scope: Option<String>,
    class: Option<&'a str>,
    size: Option<&'static str>,
    /// `None` for presence entries.
    metric: Option<&'static str>,
    min: Option<JsonField<f64>>,
    max: Option<JsonField<f64>>,
    max_drop: Option<JsonField<f64>>,
    max_drop_rel: Option<JsonField<f64>>,
    /// `None` for a missing class, which follows `missing.class`.
    severity: Option<JsonField<&'static str>>,
    /// `rule` for metric rules; `missing_split` or `missing_class` for presence entries.
    kind: &'static str,
    /// The waiver that would excuse a failure here, if any.
    waiver: Option<JsonWaiver>,
}

/// The plan as JSON: `{"schema_version": 1, "rules": [...]}`.
pub fn render_json(plan: &[Item], waivers: Waivers<'_>) -> serde_json::Result<String> {
    let num = |f: Option<Field<f64>>| {
        f.map(|f| JsonField {
            value: f.value,
            line: Some(f.line),
        })
    };
    let sev = |rule: &Rule| match rule.severity {
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
                ..
            } => JsonItem {
                split,
                scope: Some(scope_text(scope)),
                class: scope.class(),
                size: scope.size().map(|s| s.name()),
                metric: Some(metric.name()),
                min: num(rule.min),
                max: num(rule.max),
                max_drop: num(rule.max_drop),
                max_drop_rel: num(rule.max_drop_rel),
                severity: Some(sev(rule)),
                kind: "rule",
                waiver: None,
            },
            Item::MissingSplit { split, line, .. } | Item::MissingClass { split, line, .. } => {
                let class = match item {
                    Item::MissingClass { class, .. } => Some(class.as_str()),
                    _ => None,
                };
                JsonItem {
                    split,
                    scope: None,
                    class,
                    size: None,
                    metric: None,
                    min: None,
                    max: None,
                    max_drop: None,
                    max_drop_rel: None,
                    severity: class.is_none().then_some(JsonField {
                        value: Severity::Fail.name(),
                        line: Some(*line),
                    }),
                    kind: if class.is_some() {
                        "missing_class"
                    } else {
                        "missing_split"
                    },
                    waiver: None,
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
    let mut text = serde_json::to_string_pretty(&serde_json::json!({
        "schema_version": 1,
        "rules": items,
    }))?;
    text.push('\n');
    Ok(text)
}
