//! The policy-writing commands: `init`, `policy check|explain|diff|schema`, `completions`, `man`.

use std::io::Write;

use anstream::{eprintln, println};
use clap::CommandFactory;
use evalgate::authoring::{diff, explain, init, lint, schema};
use evalgate::gate::{Gate, GateError, plan};
use evalgate::model::Eval;

use super::args::{Cli, DiffArgs, DiffFormat, ExplainArgs, InitArgs, PolicyCheckArgs, TextOrJson};
use super::diag;
use super::exit::{self, Failure, Kind};
use super::load::Loader;
use super::output::write_atomically;
use super::policy_file::{load_policy, read_policy};
use evalgate::report::words::plural;

pub(crate) fn init(args: &InitArgs) -> Result<u8, Failure> {
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

fn load_eval(api: &super::args::ApiArgs, src: &str) -> Result<Eval, Failure> {
    let (loader, sources) = Loader::new(api, &[("eval", src)])?;
    Ok(loader.load("eval", &sources[0])?.eval)
}

pub(crate) fn check(args: &PolicyCheckArgs) -> Result<u8, Failure> {
    let name = args.policy.display().to_string();
    let text = read_policy(&args.policy)?;
    let policy = load_policy(&text, &name)?;
    let today = args
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let mut diags = lint::waivers(&policy, today);
    if let Some(src) = &args.eval {
        let eval = load_eval(&args.api, src)?;
        match Gate::new(&policy, None, &eval) {
            Ok(gate) => {
                diags.extend_from_slice(gate.warnings());
                diags.extend(lint::rules(&gate.plan()));
            }
            // Listed with the other findings below, in policy order; the rules are linted
            // all the same, so that one run shows every problem.
            Err(GateError::UnknownNames { diagnostics, .. }) => {
                diags.extend(diagnostics);
                diags.extend(lint::rules(&plan(&policy, None, &eval)));
            }
            Err(e) => return Err(Failure::of(&name, e)),
        }
    }
    diags.sort_by_key(|d| d.span.map(|s| (s.line, s.column)));
    diag::print(&diags, &text, &name);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(Failure::new(
            Kind::InvalidPolicy,
            format!("{name}: {errors} {}", plural(errors, "error")),
        ));
    }
    let warnings = diags.len();
    println!(
        "{name}: valid{}",
        if warnings == 0 {
            String::new()
        } else {
            format!(" ({warnings} {})", plural(warnings, "warning"))
        }
    );
    Ok(exit::PASS)
}

pub(crate) fn explain(args: &ExplainArgs) -> Result<u8, Failure> {
    let name = args.policy.display().to_string();
    let text = read_policy(&args.policy)?;
    let policy = load_policy(&text, &name)?;
    let eval = load_eval(&args.api, &args.eval)?;
    let gate = Gate::new(&policy, None, &eval).map_err(|e| {
        if let GateError::UnknownNames { diagnostics, .. } = &e {
            diag::print(diagnostics, &text, &name);
        }
        Failure::of(&name, e)
    })?;
    diag::print(gate.warnings(), &text, &name);
    let items = gate.plan();
    let out = match args.format {
        TextOrJson::Text => explain::render_text(&items),
        TextOrJson::Json => explain::render_json(&items)
            .map_err(|e| Failure::new(Kind::ReportNotWritten, e.to_string()))?,
    };
    write_stdout(out.as_bytes())?;
    Ok(exit::PASS)
}

pub(crate) fn diff(args: &DiffArgs) -> Result<u8, Failure> {
    let load = |path: &std::path::Path| {
        let name = path.display().to_string();
        let text = read_policy(path)?;
        load_policy(&text, &name)
    };
    let (old, new) = (load(&args.old)?, load(&args.new)?);
    let changes = diff::diff(&old, &new);
    let out = match args.format {
        DiffFormat::Text => diff::render_text(&changes),
        DiffFormat::Markdown => diff::render_markdown(&changes),
        DiffFormat::Json => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "schema_version": 1,
                "loosened": diff::loosens(&changes),
                "changes": changes,
            }))
            .map_err(|e| Failure::new(Kind::ReportNotWritten, e.to_string()))?;
            s.push('\n');
            s
        }
    };
    write_stdout(out.as_bytes())?;
    // 1 says "this change lets more through", as `check` says "this model regressed".
    Ok(if diff::loosens(&changes) {
        exit::REGRESSION
    } else {
        exit::PASS
    })
}

pub(crate) fn schema() -> Result<u8, Failure> {
    write_stdout(schema::render().as_bytes())?;
    Ok(exit::PASS)
}

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<u8, Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "evalgate", &mut out);
    write_stdout(&out)?;
    Ok(exit::PASS)
}

pub(crate) fn man() -> Result<u8, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::new(Kind::ReportNotWritten, format!("render the man page: {e}")))?;
    write_stdout(&out)?;
    Ok(exit::PASS)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(Kind::ReportNotWritten, format!("write to stdout: {e}")))
}
