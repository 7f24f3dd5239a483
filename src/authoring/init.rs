//! `evalgate init`: a starting policy written from an existing eval.

use std::fmt::Write as _;

use crate::model::{Eval, Metric, ScopeKind, Size, Task};

/// The per-class rule `init` writes: drops larger than this fail a class.
pub const CLASS_MAX_DROP: f64 = 0.05;

/// Writes a commented policy (version 1) that the eval it came from passes, with
/// `margin` of slack: split floors at each value minus the margin (rounded down), a
/// `max_drop` of `margin` on every split metric, size floors that warn, a `"*"` class rule, and
/// floors for every class with a value.
pub fn generate(eval: &Eval, source: &str, margin: f64) -> String {
    let mut y = String::new();
    let task = eval.task;
    let class_metric = match task {
        Task::ObjectDetection => Metric::Map50,
        Task::SemanticSegmentation => Metric::Iou,
    };
    let _ = writeln!(
        y,
        "# evalgate policy, written by `evalgate init` from {}",
        yaml_comment(source)
    );
    let _ = writeln!(
        y,
        "# with a margin of {margin}: every floor sits {margin} below the value that eval had."
    );
    let _ = writeln!(
        y,
        "# Commit it, then tighten or loosen rules as you learn what matters. Every key:"
    );
    let _ = writeln!(y, "# {}/policy.md", crate::DOCS_URL);
    let _ = writeln!(y, "version: 1");
    let _ = writeln!(y, "task: {}", task.name());
    y.push('\n');
    y.push_str("defaults:\n  severity: fail                 # a failed rule fails the gate; `severity: warn` only reports\n\n");
    y.push_str("missing:\n");
    y.push_str("  baseline: floors_only          # without a baseline, drop rules are skipped and floors still apply\n");
    y.push_str("  class: fail                    # a class the baseline had must not vanish\n");
    y.push_str(
        "  metric: fail                   # a value the baseline had must not turn null\n\n",
    );
    y.push_str("splits:\n");
    for (name, split) in &eval.splits {
        let _ = writeln!(y, "  {}:", yaml_key(name, false));
        for &metric in task.metrics(ScopeKind::Split) {
            if let Some(v) = split.overall.metrics.get(metric) {
                let _ = writeln!(
                    y,
                    "    {metric}: {{min: {}, max_drop: {margin}}}{}",
                    floor(v, margin),
                    pad_comment(&format!("was {v:.4}"))
                );
            }
        }
        if task.has_sizes() {
            let sizes: Vec<(Size, f64)> = Size::ALL
                .iter()
                .filter_map(|&s| split.overall.size(s).get(Metric::Map50_95).map(|v| (s, v)))
                .collect();
            if !sizes.is_empty() {
                y.push_str(
                    "    sizes:                       # per object size: reported, not gating\n",
                );
                for (size, v) in sizes {
                    let _ = writeln!(
                        y,
                        "      {size}: {{map50_95: {{min: {}, severity: warn}}}}",
                        floor(v, margin)
                    );
                }
            }
        }
        if split.classes.is_empty() {
            continue;
        }
        y.push_str("    classes:\n");
        let _ = writeln!(
            y,
            "      \"*\":                         # every class, including ones added later\n        {class_metric}: {{max_drop: {CLASS_MAX_DROP}}}"
        );
        for (class, scope) in &split.classes {
            if let Some(v) = scope.metrics.get(class_metric) {
                let _ = writeln!(
                    y,
                    "      {}: {{{class_metric}: {{min: {}}}}}",
                    yaml_key(class, true),
                    floor(v, margin)
                );
            }
        }
    }
    y.push_str("\n# waivers:                       # accountable, expiring exceptions\n");
    y.push_str("#   - split: valid\n#     class: some-class\n#     metric: map50\n#     reason: why the regression is accepted\n#     until: 2027-01-31\n");
    y
}

/// `value − margin`, rounded down to three decimals and never below zero, so that the eval
/// the policy came from clears it despite rounding.
fn floor(value: f64, margin: f64) -> String {
    let v = ((value - margin) * 1000.0).floor() / 1000.0;
    format!("{}", v.max(0.0))
}

fn pad_comment(text: &str) -> String {
    format!("  # {text}")
}

/// A YAML mapping key that reads back as exactly `name`. Class keys (`class_key`) are globs
/// when they hold glob characters, so those are escaped with a backslash; split keys are not.
fn yaml_key(name: &str, class_key: bool) -> String {
    let globby = class_key && name.contains(['*', '?', '[', ']', '{', '}']);
    let mut escaped = String::with_capacity(name.len());
    for c in name.chars() {
        if globby && matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && escaped
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            escaped.as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off"
        );
    if plain {
        escaped
    } else {
        // A JSON string is a valid YAML double-quoted scalar, escapes included.
        serde_json::to_string(&escaped).unwrap_or_else(|_| format!("{escaped:?}"))
    }
}

fn yaml_comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Gate, GateOptions, GateReport, Status, Verdict};
    use crate::model::Eval;
    use crate::model::parse_eval;
    use crate::policy::Policy;
    use crate::policy::parse_policy;

    fn today() -> GateOptions {
        GateOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap())
    }

    fn evaluate(
        policy: &Policy,
        baseline: Option<&Eval>,
        candidate: &Eval,
        options: &GateOptions,
    ) -> GateReport {
        Gate::new(policy, baseline, candidate)
            .and_then(|g| g.evaluate(options))
            .unwrap()
    }

    #[test]
    fn the_eval_passes_its_own_policy_and_a_worse_one_fails() {
        let body = include_bytes!("../../examples/evals/baseline.json");
        let eval = parse_eval(body).unwrap();
        let text = generate(&eval, "examples/evals/baseline.json", 0.02);
        let (policy, warnings) = parse_policy(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert!(warnings.is_empty(), "{warnings:?}");
        let names = policy.check_names(eval.task, &[&eval]);
        assert!(names.is_empty(), "{names:?}");
        let alone = evaluate(&policy, None, &eval, &today());
        assert_eq!(alone.verdict, Verdict::Pass, "{:#?}", alone.checks);
        let against_itself = evaluate(&policy, Some(&eval), &eval, &today());
        assert_eq!(against_itself.verdict, Verdict::Pass);
        assert!(
            against_itself
                .checks
                .iter()
                .all(|c| c.status != Status::Fail)
        );

        // 0.021 lower everywhere is more than the margin.
        let worse = String::from_utf8(body.to_vec())
            .unwrap()
            .replace("\"map50_95\": 0.741", "\"map50_95\": 0.719");
        let worse = parse_eval(worse.as_bytes()).unwrap();
        let r = evaluate(&policy, Some(&eval), &worse, &today());
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn names_round_trip_and_are_not_globs() {
        for name in [
            "Car-rims",
            "[unk]",
            "a*b",
            "true",
            "has space",
            "日本",
            "quote\"d",
            "back\\slash",
            "[back\\slash]",
            "1.5",
            "",
        ] {
            let yaml = format!("k:\n  {}: 1\n", yaml_key(name, true));
            let node = crate::policy::node::parse(&yaml).unwrap();
            let crate::policy::node::Kind::Map(top) = node.kind else {
                panic!()
            };
            let crate::policy::node::Kind::Map(inner) = &top[0].1.kind else {
                panic!()
            };
            let pattern = crate::policy::ClassPattern::new(&inner[0].0.name).unwrap();
            assert!(pattern.matches(name), "{name:?} as {:?}", inner[0].0.name);
            assert!(!pattern.matches("a-different-class"), "{name:?}");
        }
    }

    #[test]
    fn split_names_are_written_as_they_are() {
        let eval = parse_eval(br#"{"splits": {"val[1]": {"map50": 0.8}}}"#).unwrap();
        let text = generate(&eval, "e.json", 0.02);
        let (policy, _) = parse_policy(&text).unwrap();
        assert!(policy.check_names(eval.task, &[&eval]).is_empty(), "{text}");
        assert_eq!(
            evaluate(&policy, None, &eval, &today()).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn writes_segmentation_policies_too() {
        let eval = parse_eval(include_bytes!(
            "../../examples/evals/segmentation-baseline.json"
        ))
        .unwrap();
        let text = generate(&eval, "seg.json", 0.01);
        let (policy, _) = parse_policy(&text).unwrap();
        assert_eq!(
            evaluate(&policy, Some(&eval), &eval, &today()).verdict,
            Verdict::Pass
        );
        assert!(
            text.contains("miou: {min: 0.702, max_drop: 0.01}"),
            "{text}"
        );
        assert!(!text.contains("sizes"), "{text}");
    }
}
