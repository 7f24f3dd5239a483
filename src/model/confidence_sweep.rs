//! Roboflow's `confidence-sweep` body → a [`Sweep`] per split.
//!
//! Every split comes in one body: `{"splits": {"valid": {"perThreshold": {"0.40": {…}},
//! "optimalThreshold": …, "optimalMetrics": {…}, "perClass": {"car": {…}}}}}`. Unknown
//! fields are skipped, every value may be `null` or absent, and each value present must be
//! a fraction.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use super::map_results::key;
use super::saved_eval::{bad, fraction, shape_error};
use super::{Curve, ParseEvalError, Percent, Prf, Sweep};

// Keys are borrowed from the body where they can be: a sweep has a hundred thresholds per
// class, and an owned string for each is most of the parse.
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    splits: Option<BTreeMap<String, WireCurve<'a>>>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCurve<'a> {
    #[serde(borrow)]
    per_threshold: Option<Entries<Cow<'a, str>, Option<WirePrf>>>,
    optimal_threshold: Option<f64>,
    optimal_metrics: Option<WirePrf>,
    #[serde(borrow)]
    per_class: Option<Entries<String, Option<WireCurve<'a>>>>,
}

/// A JSON object's members in document order, without building a map.
struct Entries<K, V>(Vec<(K, V)>);

impl<K, V> Default for Entries<K, V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for Members<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Members(std::marker::PhantomData))
    }
}

/// Precision, recall and F1 as the panels send them.
#[derive(Clone, Copy, Default, Deserialize)]
pub(super) struct WirePrf {
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
}

impl WirePrf {
    /// Checked: each value present is a fraction.
    pub(super) fn check(self, path: &str) -> Result<Prf, ParseEvalError> {
        Ok(Prf {
            precision: fraction(self.precision, path, "precision")?,
            recall: fraction(self.recall, path, "recall")?,
            f1: fraction(self.f1, path, "f1")?,
        })
    }
}

/// Parses a `confidence-sweep` body; `path` names it in messages (`confidenceSweep`).
pub fn parse_confidence_sweep(
    bytes: &[u8],
    path: &str,
) -> Result<BTreeMap<String, Sweep>, ParseEvalError> {
    let body: Body<'_> = serde_json::from_slice(bytes).map_err(|e| shape_error(path, &e))?;
    let Some(splits) = body.splits else {
        return Err(bad(
            path,
            "no splits object: this is not a confidence-sweep body",
        ));
    };
    let mut out = BTreeMap::new();
    for (name, wire) in splits {
        let at = format!("{path}.splits.{}", key(&name));
        let mut sweep = Sweep {
            overall: curve(&wire, &at)?,
            classes: BTreeMap::new(),
        };
        for (class, wire) in wire.per_class.unwrap_or_default().0 {
            let at = format!("{at}.perClass[{class:?}]");
            let wire = wire.unwrap_or_default();
            let parsed = curve(&wire, &at)?;
            if sweep.classes.insert(class, parsed).is_some() {
                return Err(bad(&at, "the class is named twice"));
            }
        }
        out.insert(name, sweep);
    }
    Ok(out)
}

fn curve(wire: &WireCurve<'_>, path: &str) -> Result<Curve, ParseEvalError> {
    let mut per_threshold = BTreeMap::new();
    for (text, prf) in wire.per_threshold.iter().flat_map(|e| &e.0) {
        let at = format!("{path}.perThreshold[{text:?}]");
        let percent = threshold_key(text).ok_or_else(|| {
            bad(
                &at,
                "the key is not a confidence with at most two decimals, such as \"0.40\"",
            )
        })?;
        let prf = prf.unwrap_or_default().check(&at)?;
        if per_threshold.insert(percent, prf).is_some() {
            return Err(bad(
                &at,
                &format!("confidence {percent} appears twice, under two spellings"),
            ));
        }
    }
    Ok(Curve {
        per_threshold,
        optimal_threshold: fraction(wire.optimal_threshold, path, "optimalThreshold")?,
        optimal: wire
            .optimal_metrics
            .map(|m| m.check(&format!("{path}.optimalMetrics")))
            .transpose()?,
    })
}

/// A `perThreshold` key: a decimal fraction in [0, 1] with at most two decimals (`"0.40"`,
/// as the API writes them; `"0.4"` and `"1"` by hand).
fn threshold_key(text: &str) -> Option<Percent> {
    let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(decimals) || decimals.len() > 2 {
        return None;
    }
    Percent::from_fraction(text.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_docs_example() {
        let body = include_bytes!("../../tests/fixtures/roboflow/docs-confidence-sweep.json");
        let sweep = parse_confidence_sweep(body, "confidenceSweep").unwrap();
        assert_eq!(sweep.keys().collect::<Vec<_>>(), ["test", "train", "valid"]);
        let test = &sweep["test"];
        let p37 = Percent::new(37).unwrap();
        assert_eq!(test.overall.per_threshold.len(), 4);
        assert_eq!(test.overall.per_threshold[&p37].recall, Some(0.85));
        assert_eq!(
            test.overall.per_threshold[&Percent::new(0).unwrap()].f1,
            Some(0.039)
        );
        assert_eq!(test.overall.optimal_threshold, Some(0.37));
        assert_eq!(test.overall.optimal.unwrap().precision, Some(0.85));
        assert_eq!(test.classes["Car-rims"].per_threshold[&p37].f1, Some(0.85));
        // The docs' placeholders are splits with nothing known in them, not errors.
        assert_eq!(sweep["valid"], Sweep::default());
    }

    #[test]
    fn keys_are_two_decimal_confidences() {
        for (key, percent) in [
            ("0.40", 40),
            ("0.4", 40),
            ("1.00", 100),
            ("0", 0),
            ("0.07", 7),
        ] {
            assert_eq!(threshold_key(key), Percent::new(percent), "{key}");
        }
        for key in [
            "0.405", "1.01", "-0.1", ".5", "0.4x", "", "1e-1", "0,40", " 0.40",
        ] {
            assert_eq!(threshold_key(key), None, "{key:?}");
        }
        let body = br#"{"splits": {"valid": {"perThreshold": {"0.40": {}, "high": {}}}}}"#;
        let err = parse_confidence_sweep(body, "confidenceSweep").unwrap_err();
        assert_eq!(
            err.to_string(),
            "confidenceSweep.splits.valid.perThreshold[\"high\"]: the key is not a confidence with at most two decimals, such as \"0.40\""
        );
        let body = br#"{"splits": {"valid": {"perThreshold": {"0.40": {}, "0.4": {}}}}}"#;
        let err = parse_confidence_sweep(body, "s").unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
        let body = br#"{"splits": {"valid": {"perClass": {"a": {}, "a": {}}}}}"#;
        let err = parse_confidence_sweep(body, "s").unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.splits.valid.perClass[\"a\"]: the class is named twice"
        );
        // Escaped keys cannot be borrowed, and need not be.
        let body = br#"{"splits": {"valid": {"perThreshold": {"0.\u0034\u0030": {"f1": 0.5}}}}}"#;
        let sweep = parse_confidence_sweep(body, "s").unwrap();
        assert_eq!(
            sweep["valid"].overall.per_threshold[&Percent::new(40).unwrap()].f1,
            Some(0.5)
        );
    }

    #[test]
    fn values_must_be_fractions_and_may_be_missing() {
        let body = br#"{"splits": {"valid": {"perClass": {"car": {"perThreshold": {"0.50": {"precision": 0.9, "recall": 1.2}}}}}}}"#;
        let err = parse_confidence_sweep(body, "confidenceSweep").unwrap_err();
        assert_eq!(
            err,
            ParseEvalError::OutOfRange {
                path:
                    "confidenceSweep.splits.valid.perClass[\"car\"].perThreshold[\"0.50\"].recall"
                        .into(),
                value: 1.2
            }
        );
        let body = br#"{"splits": {"valid": {"optimalThreshold": -0.1}}}"#;
        assert!(matches!(
            parse_confidence_sweep(body, "s"),
            Err(ParseEvalError::OutOfRange { .. })
        ));
        let body = br#"{"extra": 1, "splits": {"valid": {"new": [1], "perThreshold": {"0.10": null, "0.20": {"f1": null, "more": "x"}}, "optimalMetrics": {"f1": 0.5}}}}"#;
        let sweep = parse_confidence_sweep(body, "s").unwrap();
        let valid = &sweep["valid"].overall;
        assert_eq!(valid.per_threshold.len(), 2);
        assert_eq!(
            valid.per_threshold[&Percent::new(20).unwrap()],
            Prf::default()
        );
        assert_eq!(valid.optimal_threshold, None);
        assert_eq!(valid.optimal.unwrap().f1, Some(0.5));
    }

    #[test]
    fn a_body_without_splits_is_refused() {
        let err = parse_confidence_sweep(br#"{"error": "x"}"#, "confidenceSweep").unwrap_err();
        assert!(
            err.to_string().contains("not a confidence-sweep body"),
            "{err}"
        );
        let err = parse_confidence_sweep(br#"{"splits": []}"#, "confidenceSweep").unwrap_err();
        assert!(err.to_string().starts_with("confidenceSweep: "), "{err}");
    }
}
