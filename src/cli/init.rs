//! `evalgate init`: a starting policy from an eval.

use anstream::eprintln;
use evalgate::authoring::init;

use super::args::InitArgs;
use super::exit::{self, Failure, Kind};
use super::load::one_eval;
use super::output::write_atomically;

pub(crate) fn run(args: &InitArgs) -> Result<u8, Failure> {
    // Not even with --force: the policy would replace the eval or ground truth it is made from.
    let coco = super::load::coco_inputs(
        args.local
            .ground_truth
            .iter()
            .map(String::as_str)
            .chain([args.from.as_str()]),
    );
    let inputs: Vec<&std::path::Path> = std::iter::once(std::path::Path::new(&args.from))
        .chain(coco.iter().map(std::path::PathBuf::as_path))
        .collect();
    if let Some(path) = &args.output
        && let Some(input) = super::output::overwritten_input(path, &inputs)
    {
        return Err(Failure::new(
            Kind::Usage,
            format!(
                "-o {} is the input {}; write the policy to a file of its own",
                path.display(),
                input.display()
            ),
        ));
    }
    if let Some(path) = &args.output
        && path.exists()
        && !args.force
    {
        return Err(Failure::new(
            Kind::Usage,
            format!("{} exists; pass --force to replace it", path.display()),
        ));
    }
    let (loader, source) = one_eval(&args.api, &args.local, ("from", &args.from))?;
    // Every panel, so that the policy can start from the eval's F1-optimal threshold and
    // its classes' support (a coco: eval's sweep and matching give both).
    let loader = loader.with_plan(evalgate::source::Plan::everything());
    let eval = loader.load("eval", &source)?.eval;
    let text = init::generate(&eval, &source.to_string(), args.margin);
    let ground_truth: String = args
        .local
        .ground_truth
        .iter()
        .map(|g| format!(" --ground-truth {g}"))
        .collect();
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            write_atomically(path, text.as_bytes())?;
            eprintln!(
                "wrote {}: check it with `evalgate policy check {}{ground_truth} --eval {source}`, then commit it",
                path.display(),
                path.display(),
            );
        }
        _ => print!("{text}"),
    }
    Ok(exit::PASS)
}
