//! `evalgate calibrate`: for one eval, the smallest drop each noise-tested rule can detect,
//! so that a rule the data cannot enforce shows before a merge depends on it.

use std::fmt::Write as _;
use std::io::Write as _;

use evalgate::gate::{
    CALIBRATION_CORRELATION, CALIBRATION_POWER, Calibration, Gate, GateError, calibrate,
};
use evalgate::report::number::pt;
use evalgate::report::split_label;
use evalgate::report::words::plural;
use evalgate::stats::Correction;

use super::args::{CalibrateArgs, TextOrJson};
use super::exit::{self, Failure, Kind};
use super::load::one_eval;
use super::policy_file::{load_policy, read_policy_within};

pub(crate) fn run(args: &CalibrateArgs) -> Result<u8, Failure> {
    let name = args.policy.display().to_string();
    let text = read_policy_within(&args.policy, args.api.timeout.into())?;
    let policy = load_policy(&text, &name)?;
    if policy.statistics.is_none() {
        return Err(Failure::new(
            Kind::InvalidPolicy,
            format!(
                "{name}: the policy has no `statistics` block, so no rule is noise-tested; add one (docs/statistics.md) to see what its rules can detect"
            ),
        ));
    }
    let (loader, source) = one_eval(&args.api, &args.local, ("eval", &args.eval))?;
    // The policy says what a coco: eval must carry: per-image outcomes for P/R/F1 rules, the
    // matching for mAP rules.
    let loader = loader.with_policy(&policy, &name);
    let loaded = loader.load("eval", &source)?;
    // The gate's name checks first: a rule on a split or class the eval lacks would otherwise
    // drop out of the table and of the count its level is divided by, and read as fine.
    Gate::new(&policy, None, &loaded.eval)
        .map_err(|e| {
            if let GateError::UnknownNames { diagnostics, .. } = &e {
                super::diag::print(diagnostics, &text, &name);
            }
            Failure::of(&name, e)
        })
        .map(|gate| super::diag::print(gate.warnings(), &text, &name))?;
    let found =
        calibrate(&policy, &loaded.eval).map_err(|e| Failure::of(&format!("eval: {source}"), e))?;
    if found.is_empty() {
        return Err(Failure::new(
            Kind::InvalidPolicy,
            format!(
                "{name}: no drop rule of this policy is noise-tested on this eval (calibrate covers max_drop and max_drop_rel on detection precision, recall and F1 at split or class level, and on mAP at any scope for a coco: eval)"
            ),
        ));
    }
    let out = match args.format {
        TextOrJson::Text => text_table(
            &found,
            policy
                .statistics
                .map_or(Correction::Holm, |st| st.correction),
        ),
        TextOrJson::Json => json(&found),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::new(Kind::ReportNotWritten, format!("write to stdout: {e}")))?;
    Ok(exit::PASS)
}

fn scope(c: &Calibration) -> String {
    let split = split_label(&c.split);
    match (&c.class, c.size) {
        (None, None) => split,
        (None, Some(size)) => format!("{split} / {size}"),
        (Some(class), None) => format!("{split} / class {class:?}"),
        (Some(class), Some(size)) => format!("{split} / class {class:?} / {size}"),
    }
}

fn text_table(found: &[Calibration], correction: Correction) -> String {
    let mut s = String::new();
    let level = found.first().map_or(0.0, |c| c.level);
    let why = match correction {
        Correction::None => "the policy's significance, uncorrected".to_owned(),
        _ => {
            // The rules with a value here: those are what the gate corrects over.
            let tested = found.iter().filter(|c| c.value.is_some()).count();
            format!(
                "the policy's significance over {tested} tested {}",
                plural(tested, "rule")
            )
        }
    };
    let _ = writeln!(
        s,
        "The smallest drop each noise-tested rule detects with {:.0}% power, each tested at {} ({why}), assuming the two models' per-image results correlate at ρ = {}:\n",
        CALIBRATION_POWER * 100.0,
        p_level(level),
        CALIBRATION_CORRELATION
    );
    let rows: Vec<[String; 6]> = found
        .iter()
        .map(|c| {
            let rule = if c.auto {
                "max_drop: auto".to_owned()
            } else {
                format!("{} {} pt", c.rule, pt(c.threshold))
            };
            let (detectable, verdict) = match (&c.std_error, c.detectable) {
                (Ok(_), Some(d)) if c.auto => (
                    format!("{} pt", pt(d)),
                    "drops smaller than this pass as noise".to_owned(),
                ),
                (Ok(_), Some(d)) if d > c.threshold => (
                    format!("{} pt", pt(d)),
                    "cannot work: a drop of the threshold's size will rarely be significant"
                        .to_owned(),
                ),
                (Ok(_), Some(d)) => (format!("{} pt", pt(d)), "ok".to_owned()),
                (Err(why), _) => ("–".to_owned(), format!("untestable: {why}")),
                (Ok(_), None) => ("–".to_owned(), "untestable".to_owned()),
            };
            [
                scope(c),
                c.metric.to_string(),
                rule,
                c.images.to_string(),
                detectable,
                format!("{verdict} (policy line {})", c.line),
            ]
        })
        .collect();
    let header = ["scope", "metric", "rule", "images", "detectable", ""];
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count();
                l.push_str(c);
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        l.trim_end().to_owned()
    };
    let _ = writeln!(s, "{}", line(&header));
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        let _ = writeln!(s, "{}", line(&cells));
    }
    s
}

fn p_level(level: f64) -> String {
    let s = format!("{level:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn json(found: &[Calibration]) -> String {
    let rows: Vec<serde_json::Value> = found
        .iter()
        .map(|c| {
            serde_json::json!({
                "split": c.split,
                "class": c.class,
                "size": c.size.map(|s| s.name()),
                "metric": c.metric.name(),
                "rule": c.rule.name(),
                "auto": c.auto,
                "threshold": c.threshold,
                "line": c.line,
                "value": c.value,
                "images": c.images,
                "std_error": c.std_error.as_ref().ok(),
                "untestable": c.std_error.as_ref().err(),
                "detectable_drop": c.detectable,
                "level": c.level,
                "power": CALIBRATION_POWER,
                "correlation": CALIBRATION_CORRELATION,
            })
        })
        .collect();
    let mut text =
        serde_json::to_string_pretty(&serde_json::json!({ "rules": rows })).unwrap_or_default();
    text.push('\n');
    text
}
