//! `evalgate fetch`: saves an eval with its metadata, so a gate can be replayed offline and a
//! bug report can carry the data.

use std::io::Write;

use evalgate::model::{EvalMeta, META_KEY};
use evalgate::source::Source;

use super::args::FetchArgs;
use super::exit::{self, Failure, Kind};
use super::load::Loader;
use super::output::write_one;

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
    let (loader, sources) = Loader::new(&args.api, &[("eval", args.source.as_str())])?;
    // Parsing before saving: a broken or unfinished eval is refused here, not at gate time.
    let loaded = loader.load("eval", &sources[0])?;
    let text = with_meta(
        &loaded.bytes,
        &loaded.eval.meta,
        matches!(sources[0], Source::Roboflow(_)),
    )
    .map_err(|e| Failure::new(Kind::EvalUnavailable, format!("eval: {}: {e}", sources[0])))?;
    // What `check` will read, read now: a saved file that cannot be gated is no use.
    evalgate::model::parse_eval(&text).map_err(|e| {
        Failure::new(
            Kind::EvalUnavailable,
            format!(
                "eval: {}: the file to save would not load ({}); nothing was written",
                sources[0],
                evalgate::http::elide_quoted(&e.to_string())
            ),
        )
    })?;
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

/// The body with `meta` added as the first key of its top-level object, leaving the rest as
/// the server sent it: rebuilding the document would cost many times its size in memory.
/// A body that already holds an `evalgate` key has it replaced (the record is what the server
/// says about the eval now). Files keep whatever metadata they already hold.
fn with_meta(body: &[u8], meta: &EvalMeta, fetched: bool) -> Result<Vec<u8>, String> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut out = Vec::with_capacity(body.len() + 256);
    if !fetched || *meta == EvalMeta::default() {
        out.extend_from_slice(body);
    } else {
        let start = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .filter(|&i| body[i] == b'{')
            .ok_or("the body is not a JSON object")?;
        let meta = serde_json::to_string(meta).map_err(|e| e.to_string())?;
        if has_meta_key(body) {
            out.extend_from_slice(&without_meta(body, &meta)?);
        } else {
            let rest = &body[start + 1..];
            let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
            out.extend_from_slice(&body[..=start]);
            out.extend_from_slice(
                format!("\"{META_KEY}\":{meta}{}", if empty { "" } else { "," }).as_bytes(),
            );
            out.extend_from_slice(rest);
        }
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(out)
}

/// Whether the top-level object has an `evalgate` key (once or more).
fn has_meta_key(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Top {
        #[serde(rename = "evalgate")]
        meta: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_slice::<Top>(body) {
        Ok(top) => top.meta.is_some(),
        // Twice is "duplicate field"; anything else the parser reports later.
        Err(e) => e.to_string().contains(META_KEY),
    }
}

/// The top-level object rebuilt with `meta` as its `evalgate` key and every other member's
/// value copied as it was sent.
fn without_meta(body: &[u8], meta: &str) -> Result<Vec<u8>, String> {
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
    let Members(members) = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body is not a JSON object ({})",
            evalgate::http::elide_quoted(&e.to_string())
        )
    })?;
    let mut out = Vec::with_capacity(body.len() + meta.len() + 16);
    out.extend_from_slice(format!("{{\"{META_KEY}\":{meta}").as_bytes());
    for (key, value) in members.iter().filter(|(k, _)| k != META_KEY) {
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

    #[test]
    fn metadata_goes_first_and_the_body_is_untouched() {
        let meta = EvalMeta {
            eval_id: Some("e1".into()),
            ..EvalMeta::default()
        };
        let out = with_meta(b" {\"splits\": {}}", &meta, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            " {\"evalgate\":{\"evalId\":\"e1\"},\"splits\": {}}\n"
        );
        let out = with_meta(b"{}", &meta, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"evalgate\":{\"evalId\":\"e1\"}}\n"
        );
        let out = with_meta(b"{\"splits\": {}}", &meta, false).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\"splits\": {}}\n");
        // A body that already has the key gets it replaced, once.
        for body in [
            &b"{\"evalgate\": {\"evalId\": \"old\"}, \"splits\": {}}"[..],
            b"{\"splits\": {}, \"evalgate\": 3, \"evalgate\": null}",
        ] {
            let out = String::from_utf8(with_meta(body, &meta, true).unwrap()).unwrap();
            assert_eq!(out, "{\"evalgate\":{\"evalId\":\"e1\"},\"splits\":{}}\n");
        }
    }
}
