//! `evalgate fetch`: saves an eval with its metadata, so a gate can be replayed offline and a
//! bug report can carry the data.

use std::io::Write;

use evalgate::model::{EvalMeta, META_KEY};
use evalgate::source::Source;

use super::args::FetchArgs;
use super::load::Loader;
use super::output::write_one;
use super::exit::{self, Failure, Kind};

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
/// Files keep whatever metadata they already hold.
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
        let rest = &body[start + 1..];
        let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
        out.extend_from_slice(&body[..=start]);
        out.extend_from_slice(
            format!("\"{META_KEY}\":{meta}{}", if empty { "" } else { "," }).as_bytes(),
        );
        out.extend_from_slice(rest);
    }
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
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
    }
}
