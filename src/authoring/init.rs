//! `evalgate init`: a starting policy written from an existing eval.

use std::fmt::Write as _;

use crate::model::{Eval, Metric, OperatingPoint, Percent, ScopeKind, Size, Task};

/// The per-class rule `init` writes: drops larger than this fail a class.
pub const CLASS_MAX_DROP: f64 = 0.05;

/// The `min_support` `init` writes when the eval's confusion matrix gives support: with 25
/// ground-truth instances one instance is 4 points of recall, less than [`CLASS_MAX_DROP`],
/// so a single detection that flips cannot fail a class on its own.
pub const MIN_SUPPORT: u64 = 25;

/// What a detection eval with panels adds to the policy.
struct FromPanels {
    /// The F1-optimal threshold of the first split that has one, rounded to a percent, with
    /// the split and the unrounded value.
    point: Option<(Percent, String, f64)>,
    /// The eval as the gate will read it under that point.
    read: Eval,
}

fn from_panels(eval: &Eval) -> Option<FromPanels> {
    if eval.task != Task::ObjectDetection || eval.panels.is_empty() {
        return None;
    }
    let point = eval.splits.keys().find_map(|split| {
        let t = eval.confidence_at(split, OperatingPoint::Optimal)?;
        Some((Percent::nearest(t)?, split.clone(), t))
    });
    let read = eval.read_at(point.as_ref().map(|p| OperatingPoint::Confidence(p.0)));
    Some(FromPanels { point, read })
}

/// Writes a commented policy (version 1) that the eval it came from passes, with
/// `margin` of slack: split floors at each value minus the margin (rounded down), a
/// `max_drop` of `margin` on every split metric, size floors that warn, a `"*"` class rule, and
/// floors for every class with a value.
///
/// A detection eval with panels (confidence sweep, confusion matrix) adds an operating point
/// at its F1-optimal threshold, precision and recall drop rules per split and a recall drop
/// rule per class read there, and [`MIN_SUPPORT`] where the confusion matrix counts classes.
pub fn generate(eval: &Eval, source: &str, margin: f64) -> String {
    let mut y = String::new();
    let task = eval.task;
    let panels = from_panels(eval);
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
    if let Some(FromPanels {
        point: Some((p, split, t)),
        ..
    }) = &panels
    {
        let _ = writeln!(
            y,
            "operating_point:\n  confidence: {p}               # the F1-optimal confidence of split {} in that eval ({t:.4}),\n                                 # rounded; set it to the confidence the model is deployed at",
            yaml_comment(split)
        );
    }
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
        let read = panels.as_ref().and_then(|p| {
            let point = p.point.as_ref()?.0;
            Some((point, p.read.splits.get(name)?))
        });
        if let Some((point, read)) = read {
            for metric in [Metric::Precision, Metric::Recall] {
                if let Some(v) = read.overall.metrics.get(metric) {
                    let rule = format!("    {metric}: {{max_drop: {margin}}}");
                    let _ = writeln!(y, "{rule:<33}# was {v:.4} at confidence {point}");
                }
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
        let read_classes = panels
            .as_ref()
            .and_then(|p| p.read.splits.get(name))
            .map(|s| &s.classes);
        let at_point = panels.as_ref().and_then(|p| p.point.as_ref()).is_some();
        if at_point
            && read_classes
                .is_some_and(|c| c.values().any(|s| s.metrics.get(Metric::Recall).is_some()))
        {
            let _ = writeln!(
                y,
                "        recall: {{max_drop: {CLASS_MAX_DROP}}}   # at the operating point"
            );
        }
        // Only when the matrix counts every class: a class it does not count would have
        // unknown support, which `missing.metric: fail` fails, and the eval its own policy.
        let supported =
            read_classes.is_some_and(|c| !c.is_empty() && c.values().all(|s| s.support.is_some()));
        if supported {
            let key = format!("        min_support: {MIN_SUPPORT}");
            let _ = writeln!(
                y,
                "{key:<35}# classes with fewer ground-truth instances are skipped:\n{:<35}# at {MIN_SUPPORT}, one instance is {} points of recall",
                "",
                100 / MIN_SUPPORT
            );
        }
        for (class, scope) in &split.classes {
            if let Some(v) = scope.metrics.get(class_metric) {
                let support = read_classes
                    .and_then(|c| c.get(class))
                    .and_then(|c| c.support)
                    .filter(|&n| supported && n < MIN_SUPPORT);
                let _ = writeln!(
                    y,
                    "      {}: {{{class_metric}: {{min: {}}}}}{}",
                    yaml_key(class, true),
                    floor(v, margin),
                    support
                        .map(|n| pad_comment(&format!(
                            "{n} ground-truth instances: skipped under min_support"
                        )))
                        .unwrap_or_default()
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

    const CLASSES: [&str; 5] = [
        "Car-rims",
        "headlight",
        "license-plate",
        "side-mirror",
        "wheel",
    ];

    /// examples/evals/baseline.json with panels: test's F1 optimum at 0.374 and a matrix at
    /// 37 that counts every class (wheel has 12 instances, the rest 30); valid's optimum at
    /// 0.41, a sweep at 0.37 too, and no matrix.
    fn with_panels(test_recall: f64) -> Eval {
        use crate::authoring::test_evals::{prf, with_matrix, with_sweep};
        let body = include_str!("../../examples/evals/baseline.json");
        let classes: Vec<(&str, crate::model::Prf)> = CLASSES
            .iter()
            .map(|c| (*c, prf(0.9, test_recall)))
            .collect();
        let e = with_sweep(
            parse_eval(body.as_bytes()).unwrap(),
            "test",
            37,
            Some(0.374),
            prf(0.88, test_recall),
            &classes,
        );
        let e = with_sweep(e, "valid", 37, Some(0.41), prf(0.86, 0.79), &classes);
        // Row-major over the five classes and background: each class right on the diagonal,
        // the rest of its row missed.
        let n = CLASSES.len() + 1;
        let mut counts = vec![0u64; n * n];
        for i in 0..CLASSES.len() {
            let total = if CLASSES[i] == "wheel" { 12 } else { 30 };
            counts[i * n + i] = total - 2;
            counts[i * n + n - 1] = 2;
        }
        with_matrix(e, "test", 37, &CLASSES, &counts)
    }

    #[test]
    fn an_eval_with_panels_gets_an_operating_point_recall_rules_and_min_support() {
        let eval = with_panels(0.8);
        let text = generate(&eval, "production.json", 0.02);
        insta::assert_snapshot!("init_with_panels", text);
        let (policy, warnings) = parse_policy(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(policy.check_names(eval.task, &[&eval]).is_empty());
        let alone = evaluate(&policy, None, &eval, &today());
        assert_eq!(alone.verdict, Verdict::Pass, "{:#?}", alone.checks);
        let itself = evaluate(&policy, Some(&eval), &eval, &today());
        assert!(itself.checks.iter().all(|c| c.status != Status::Fail));
        // wheel is under min_support: its class checks are skipped.
        let wheel: Vec<Status> = itself
            .checks
            .iter()
            .filter(|c| c.split.as_ref() == "test" && c.class.as_deref() == Some("wheel"))
            .map(|c| c.status)
            .collect();
        assert!(
            !wheel.is_empty() && wheel.iter().all(|s| *s == Status::Skip),
            "{wheel:?}"
        );
        // Recall at 0.37 down 0.021 on test: more than the margin at the split, and less than
        // the class rule's 0.05.
        let worse = with_panels(0.779);
        let r = evaluate(&policy, Some(&eval), &worse, &today());
        let failed: Vec<String> = r
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.id())
            .collect();
        assert_eq!(failed, ["test/recall/max_drop"]);
    }

    #[test]
    fn without_panels_or_for_segmentation_the_policy_reads_no_panel() {
        let plain = generate(
            &parse_eval(include_bytes!("../../examples/evals/baseline.json")).unwrap(),
            "e.json",
            0.02,
        );
        for key in ["operating_point", "recall:", "precision:", "min_support"] {
            assert!(!plain.contains(key), "{key}: {plain}");
        }
        // A matrix without a sweep: support, but no operating point to read recall at.
        let mut e = with_panels(0.8);
        e.panels.sweep = None;
        let text = generate(&e, "e.json", 0.02);
        assert!(
            !text.contains("operating_point") && !text.contains("recall:"),
            "{text}"
        );
        assert_eq!(text.matches("min_support: 25").count(), 1, "{text}");
        let (policy, _) = parse_policy(&text).unwrap();
        assert_eq!(
            evaluate(&policy, Some(&e), &e, &today()).verdict,
            Verdict::Pass
        );
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
