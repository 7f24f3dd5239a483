//! `evalgate fetch`: saves an eval with its metadata and the panels a policy needs, so a gate
//! can be replayed offline and a bug report can carry the data.

use std::io::Write;

use evalgate::model::{
    BY_CLASS_KEY, CONFUSION_KEY, EvalMeta, FORMAT, IMAGES_KEY, META_KEY, PanelBodies, SWEEP_KEY,
};
use evalgate::source::{Plan, Source};

use super::args::FetchArgs;
use super::exit::{self, Failure, Kind};
use super::load::Loader;
use super::output::write_one;
use super::policy_file::{load_policy, read_policy_within};

pub(crate) fn run(args: &FetchArgs) -> Result<u8, Failure> {
    // The destination first: a typo in -o should not cost a fetch.
    let output = match &args.output {
        Some(path) => super::output::Output::plan(
            &[(evalgate::report::Format::Json, Some(path.as_path()))],
            &[std::path::Path::new(&args.source)],
        )?
        .pop(),
        None => None,
    };
    let policy = match &args.policy {
        Some(path) => {
            let name = path.display().to_string();
            let text = read_policy_within(path, args.api.timeout.into())?;
            Some((load_policy(&text, &name)?, name))
        }
        None => None,
    };
    let (loader, sources) = Loader::new(&args.api, &[("eval", args.source.as_str())])?;
    let loader = match &policy {
        Some((policy, name)) => loader.with_policy(policy, name),
        None => loader.with_plan(Plan::everything()),
    };
    // Parsing before saving: a broken or unfinished eval is refused here, not at gate time.
    let loaded = loader.load("eval", &sources[0])?;
    let text = with_meta(
        &loaded.bytes,
        &loaded.eval.meta,
        matches!(sources[0], Source::Roboflow(_)),
        &loaded.panels,
    )
    .map_err(|e| Failure::new(Kind::EvalUnavailable, format!("eval: {}: {e}", sources[0])))?;
    // What `check` will read, read now: a saved file that cannot be gated is no use.
    let saved = evalgate::model::parse_eval(&text).map_err(|e| {
        Failure::new(
            Kind::EvalUnavailable,
            format!(
                "eval: {}: the file to save would not load ({}); nothing was written",
                sources[0],
                evalgate::http::elide_quoted(&e.to_string())
            ),
        )
    })?;
    if saved.panels != loaded.eval.panels {
        return Err(Failure::new(
            Kind::EvalUnavailable,
            format!(
                "eval: {}: the file to save would not read back the panels fetched; nothing was written",
                sources[0]
            ),
        ));
    }
    match &output {
        Some(output) => write_one(output, &text)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)
                .and_then(|()| out.flush())
                .map_err(|e| {
                    Failure::new(
                        Kind::ReportNotWritten,
                        format!("write the eval to stdout: {e}"),
                    )
                })?;
        }
    }
    Ok(exit::PASS)
}

/// The body with `meta` (and the saved-eval format) added as the first key of its top-level
/// object and the panels after it, leaving the rest as the server sent it: rebuilding the
/// document would cost many times its size in memory. A body that already holds an
/// `evalgate` or panel key has it replaced (the record is what the server says about the eval
/// now). Files keep whatever metadata and panels they already hold.
fn with_meta(
    body: &[u8],
    meta: &EvalMeta,
    fetched: bool,
    panels: &PanelBodies,
) -> Result<Vec<u8>, String> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut out = Vec::with_capacity(body.len() + 256);
    if !fetched {
        out.extend_from_slice(body);
    } else {
        let start = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .filter(|&i| body[i] == b'{')
            .ok_or("the body is not a JSON object")?;
        let meta = serde_json::to_string(meta).map_err(|e| e.to_string())?;
        // The format first, so that a reader sees it before anything it may not understand.
        let meta = match meta.strip_prefix("{}") {
            Some(_) => format!("{{\"format\":{FORMAT}}}"),
            None => format!("{{\"format\":{FORMAT},{}", &meta[1..]),
        };
        let mut members = format!("\"{META_KEY}\":{meta}").into_bytes();
        members.extend_from_slice(&panels.to_members());
        if has_reserved_key(body) {
            out.extend_from_slice(&without_reserved(body, &members)?);
        } else {
            let rest = &body[start + 1..];
            let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
            out.extend_from_slice(&body[..=start]);
            out.extend_from_slice(&members);
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(rest);
        }
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(out)
}

/// The keys of a saved eval that evalgate writes itself.
const RESERVED: [&str; 5] = [META_KEY, SWEEP_KEY, BY_CLASS_KEY, CONFUSION_KEY, IMAGES_KEY];

/// Whether the top-level object has an `evalgate` or panel key (once or more).
fn has_reserved_key(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Top {
        #[serde(rename = "evalgate")]
        meta: Option<serde::de::IgnoredAny>,
        #[serde(rename = "confidenceSweep")]
        sweep: Option<serde::de::IgnoredAny>,
        #[serde(rename = "performanceByClass")]
        by_class: Option<serde::de::IgnoredAny>,
        #[serde(rename = "confusionMatrix")]
        confusion: Option<serde::de::IgnoredAny>,
        #[serde(rename = "imagePredictions")]
        images: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_slice::<Top>(body) {
        Ok(top) => {
            top.meta.is_some()
                || top.sweep.is_some()
                || top.by_class.is_some()
                || top.confusion.is_some()
                || top.images.is_some()
        }
        // Twice is "duplicate field"; anything else the parser reports later.
        Err(e) => RESERVED.iter().any(|k| e.to_string().contains(k)),
    }
}

/// The top-level object rebuilt with `members` (the `evalgate` key and the panels) first and
/// every other member's value copied as it was sent.
fn without_reserved(body: &[u8], members: &[u8]) -> Result<Vec<u8>, String> {
    use serde_json::value::RawValue;
    struct Members<'a>(Vec<(String, &'a RawValue)>);
    impl<'de> serde::Deserialize<'de> for Members<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Members<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Members<'de>, A::Error> {
                    let mut members = Vec::new();
                    while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                        members.push(entry);
                    }
                    Ok(Members(members))
                }
            }
            d.deserialize_map(V)
        }
    }
    let Members(kept) = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body is not a JSON object ({})",
            evalgate::http::elide_quoted(&e.to_string())
        )
    })?;
    let mut out = Vec::with_capacity(body.len() + members.len() + 16);
    out.push(b'{');
    out.extend_from_slice(members);
    for (key, value) in kept.iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())) {
        out.push(b',');
        out.extend_from_slice(
            serde_json::to_string(key)
                .map_err(|e| e.to_string())?
                .as_bytes(),
        );
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> EvalMeta {
        EvalMeta {
            eval_id: Some("e1".into()),
            ..EvalMeta::default()
        }
    }

    fn save(body: &[u8], fetched: bool, panels: &PanelBodies) -> String {
        String::from_utf8(with_meta(body, &meta(), fetched, panels).unwrap()).unwrap()
    }

    #[test]
    fn metadata_goes_first_and_the_body_is_untouched() {
        let none = PanelBodies::default();
        assert_eq!(
            save(b" {\"splits\": {}}", true, &none),
            " {\"evalgate\":{\"format\":2,\"evalId\":\"e1\"},\"splits\": {}}\n"
        );
        assert_eq!(
            save(b"{}", true, &none),
            "{\"evalgate\":{\"format\":2,\"evalId\":\"e1\"}}\n"
        );
        assert_eq!(
            String::from_utf8(with_meta(b"{}", &EvalMeta::default(), true, &none).unwrap())
                .unwrap(),
            "{\"evalgate\":{\"format\":2}}\n"
        );
        assert_eq!(
            save(b"{\"splits\": {}}", false, &none),
            "{\"splits\": {}}\n"
        );
        // A body that already has the key gets it replaced, once.
        for body in [
            &b"{\"evalgate\": {\"evalId\": \"old\"}, \"splits\": {}}"[..],
            b"{\"splits\": {}, \"evalgate\": 3, \"evalgate\": null}",
        ] {
            assert_eq!(
                save(body, true, &none),
                "{\"evalgate\":{\"format\":2,\"evalId\":\"e1\"},\"splits\":{}}\n"
            );
        }
    }

    #[test]
    fn panels_follow_the_metadata_verbatim_and_replace_any_already_there() {
        let mut panels = PanelBodies {
            confidence_sweep: Some(b"{\"splits\": {\"valid\": {}}}\n".to_vec()),
            ..PanelBodies::default()
        };
        panels.confusion_matrix.insert(
            "valid".into(),
            vec![
                b"{\"confidenceThreshold\": 0.4, \"classes\": [\"background\"], \"matrix\": [[0]]}"
                    .to_vec(),
            ],
        );
        let expected = "{\"evalgate\":{\"format\":2,\"evalId\":\"e1\"},\"confidenceSweep\":{\"splits\": {\"valid\": {}}},\"confusionMatrix\":{\"valid\":[{\"confidenceThreshold\": 0.4, \"classes\": [\"background\"], \"matrix\": [[0]]}]},\"splits\": {}}\n";
        assert_eq!(save(b"{\"splits\": {}}", true, &panels), expected);
        let stale = b"{\"confidenceSweep\": {\"splits\": {}}, \"splits\": {}}";
        let out = save(stale, true, &panels);
        assert_eq!(out.matches("confidenceSweep").count(), 1, "{out}");
        let eval = evalgate::model::parse_eval(out.as_bytes()).unwrap();
        assert!(eval.panels.sweep.unwrap().contains_key("valid"));
    }
}
