//! `evalgate init`: a starting policy from an eval.

use anstream::eprintln;
use evalgate::authoring::init;

use super::args::InitArgs;
use super::exit::{self, Failure, Kind};
use super::load::Loader;
use super::output::write_atomically;

pub(crate) fn run(args: &InitArgs) -> Result<u8, Failure> {
    if let Some(path) = &args.output
        && path.exists()
        && !args.force
    {
        return Err(Failure::new(
            Kind::Usage,
            format!("{} exists; pass --force to replace it", path.display()),
        ));
    }
    let (loader, sources) = Loader::new(&args.api, &[("eval", args.from.as_str())])?;
    // Every panel, so that the policy can start from the eval's F1-optimal threshold and
    // its classes' support.
    let loader = loader.with_plan(evalgate::source::Plan::everything());
    let eval = loader.load("eval", &sources[0])?.eval;
    let text = init::generate(&eval, &sources[0].to_string(), args.margin);
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            write_atomically(path, text.as_bytes())?;
            eprintln!(
                "wrote {}: check it with `evalgate policy check {} --eval {}`, then commit it",
                path.display(),
                path.display(),
                sources[0]
            );
        }
        _ => print!("{text}"),
    }
    Ok(exit::PASS)
}
