//! `evalgate fetch`: saves an eval with its metadata, so a gate can be replayed offline and a
//! bug report can carry the data.

use std::io::Write;

use evalgate::model::META_KEY;

use super::args::FetchArgs;
use super::load::Loader;
use super::output::write_atomically;
use super::{Failure, exit};

pub(crate) fn run(args: &FetchArgs) -> Result<u8, Failure> {
    let (loader, sources) = Loader::new(&args.api, &[("eval", args.source.as_str())])?;
    if let Some(path) = &args.output {
        super::output::Output::plan(
            &[(evalgate::report::Format::Json, Some(path.as_path()))],
            &[std::path::Path::new(&args.source)],
        )?;
    }
    // Parsing before saving: a broken or unfinished eval is refused here, not at gate time.
    let loaded = loader.load("eval", &sources[0])?;
    let mut doc: serde_json::Value = serde_json::from_slice(&loaded.bytes)
        .map_err(|e| Failure::new(exit::EVAL_UNAVAILABLE, format!("eval: {}: {e}", sources[0])))?;
    let meta = serde_json::to_value(&loaded.eval.meta)
        .map_err(|e| Failure::new(exit::EVAL_UNAVAILABLE, e.to_string()))?;
    if let (Some(obj), false) = (doc.as_object_mut(), loaded.eval.meta == Default::default()) {
        obj.insert(META_KEY.to_owned(), meta);
    }
    let mut text = serde_json::to_vec_pretty(&doc)
        .map_err(|e| Failure::new(exit::EVAL_UNAVAILABLE, e.to_string()))?;
    text.push(b'\n');
    match &args.output {
        Some(path) if path.as_os_str() != "-" => write_atomically(path, &text)?,
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)
                .and_then(|()| out.flush())
                .map_err(|e| {
                    Failure::new(
                        exit::REPORT_NOT_WRITTEN,
                        format!("write the eval to stdout: {e}"),
                    )
                })?;
        }
    }
    Ok(exit::PASS)
}
