//! `evalgate policy check|explain|diff|schema`: reviewing a policy before it gates.

use std::path::Path;

use anstream::{eprintln, println};
use evalgate::authoring::{diff, explain, lint, schema};
use evalgate::gate::{Gate, GateError, plan};
use evalgate::model::Eval;
use evalgate::policy::{Diagnostic, Policy, parse_policy_partial};
use evalgate::source::Source;

use super::args::{DiffArgs, DiffFormat, ExplainArgs, PolicyCheckArgs, TextOrJson};
use super::diag;
use super::exit::{self, Failure, Kind};
use super::load::one_eval;
use super::output::write_stdout;
use super::policy_file::{load_policy, read_policy};
use evalgate::report::words::plural;

/// The eval of `--eval`, read for `policy` (named `name`).
/// `full_matching`: whether a coco: eval keeps the matching its mAP rules are tested on
/// (explain marks those rules from it; `policy check` reads names only).
fn load_eval(
    eval: &EvalArgs<'_>,
    src: &str,
    policy: &Policy,
    name: &str,
    full_matching: bool,
) -> Result<Eval, Failure> {
    let (loader, source) = one_eval(eval.api, eval.local, ("eval", src))?;
    let loader = if matches!(source, Source::Coco(_)) {
        // A coco: eval is computed here, with what the policy reads of it: the matching that
        // marks mAP rules noise-tested, the sweep of the operating point.
        let loader = loader.with_policy(policy, name);
        if full_matching {
            loader
        } else {
            loader.without_full_matching()
        }
    } else {
        // Every panel an `rf:` eval has, so that explain can show the operating point and
        // each confusion pair; a file is checked with whatever it holds.
        loader.with_plan(evalgate::source::Plan::everything())
    };
    Ok(loader.load("eval", &source)?.eval)
}

/// The flags that say how to read `--eval`.
struct EvalArgs<'a> {
    api: &'a super::args::ApiArgs,
    local: &'a super::args::LocalEvalArgs,
}

pub(crate) fn check(args: &PolicyCheckArgs) -> Result<u8, Failure> {
    let name = args.policy.display().to_string();
    let text = read_policy(&args.policy)?;
    let today = args
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    // A policy with errors is still checked against the eval as far as it validated, so that
    // one run lists every problem, not the validation errors first and the name errors after.
    let (policy, mut diags) = parse_policy_partial(&text);
    let valid = !diags.iter().any(Diagnostic::is_error);
    let mut unchecked = None;
    let from = EvalArgs {
        api: &args.api,
        local: &args.local,
    };
    if args.eval.is_none()
        && let Some(gt) = args.local.ground_truth.first()
    {
        return Err(Failure::new(
            Kind::Usage,
            format!(
                "--ground-truth {gt} is read only for coco: sources; write --eval coco:PRED.json to evaluate predictions against it"
            ),
        ));
    }
    if let Some(policy) = &policy {
        diags.extend(lint::waivers(policy, today));
        if let Some(src) = &args.eval {
            let eval = match load_eval(&from, src, policy, &name, false) {
                Ok(eval) => eval,
                Err(f) => {
                    print_sorted(&mut diags, &text, &name);
                    return Err(f);
                }
            };
            // Shadowing is judged on the whole policy only: a rule left out for an error
            // could make another look shadowed, or hide that it is.
            match Gate::new(policy, None, &eval) {
                Ok(gate) => {
                    diags.extend_from_slice(gate.warnings());
                    if valid {
                        diags.extend(lint::rules(&gate.plan()));
                        diags.extend(lint::confusions(policy, &[&eval]));
                    }
                }
                // Listed with the other findings below, in policy order.
                Err(GateError::UnknownNames { diagnostics, .. }) => {
                    diags.extend(diagnostics);
                    if valid {
                        diags.extend(lint::rules(&plan(policy, None, &eval)));
                        diags.extend(lint::confusions(policy, &[&eval]));
                    }
                }
                Err(e) if valid => {
                    print_sorted(&mut diags, &text, &name);
                    return Err(Failure::of(&name, e));
                }
                Err(e) => unchecked = Some(format!("names not checked against {src}: {e}")),
            }
        }
    }
    print_sorted(&mut diags, &text, &name);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(Failure::new(
            Kind::InvalidPolicy,
            format!(
                "{name}: {errors} {}{}",
                plural(errors, "error"),
                unchecked.map(|u| format!(" ({u})")).unwrap_or_default(),
            ),
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

/// Prints the diagnostics in policy order, each once: validation and the name check both
/// report a metric the task lacks.
fn print_sorted(diags: &mut Vec<Diagnostic>, text: &str, name: &str) {
    let mut unique: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    for d in diags.drain(..) {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique.sort_by_key(|d| d.span.map(|s| (s.line, s.column)));
    diag::print(&unique, text, name);
    *diags = unique;
}

pub(crate) fn explain(args: &ExplainArgs) -> Result<u8, Failure> {
    let name = args.policy.display().to_string();
    let text = read_policy(&args.policy)?;
    let policy = load_policy(&text, &name)?;
    let from = EvalArgs {
        api: &args.api,
        local: &args.local,
    };
    let eval = load_eval(&from, &args.eval, &policy, &name, true)?;
    let gate = Gate::new(&policy, None, &eval).map_err(|e| {
        if let GateError::UnknownNames { diagnostics, .. } = &e {
            diag::print(diagnostics, &text, &name);
        }
        Failure::of(&name, e)
    })?;
    diag::print(gate.warnings(), &text, &name);
    let items = gate.plan();
    let waivers = explain::Waivers {
        waivers: &policy.waivers,
        today: args
            .today
            .unwrap_or_else(|| chrono::Utc::now().date_naive()),
    };
    let point = explain::operating_point(&policy, &[("eval", &eval)]);
    let out = match args.format {
        TextOrJson::Text => explain::render_text(&items, waivers, point.as_ref()),
        TextOrJson::Json => explain::render_json(&items, waivers, point.as_ref())
            .map_err(|e| Failure::new(Kind::ReportNotWritten, e.to_string()))?,
    };
    write_stdout(out.as_bytes())?;
    Ok(exit::PASS)
}

pub(crate) fn diff(args: &DiffArgs) -> Result<u8, Failure> {
    let usage = |m: &str| Failure::new(Kind::Usage, m.to_owned());
    let (old, new_path) = match (&args.base_ref, args.policies.as_slice()) {
        (None, [old, new]) => {
            let name = old.display().to_string();
            (Some(load_policy(&read_policy(old)?, &name)?), new)
        }
        (Some(rev), [new]) => match git_show(rev, new)? {
            Some((name, text)) => (Some(load_policy(&text, &name)?), new),
            None => {
                eprintln!(
                    "{rev} has no {}: every rule is new, and nothing is loosened",
                    new.display()
                );
                (None, new)
            }
        },
        (None, _) => {
            return Err(usage(
                "give the old and the new policy, or --base-ref REV and the new one",
            ));
        }
        (Some(_), _) => {
            return Err(usage(
                "with --base-ref, give only the new policy; the old one is read from git",
            ));
        }
    };
    let new_name = new_path.display().to_string();
    let new = load_policy(&read_policy(new_path)?, &new_name)?;
    let changes = match &old {
        Some(old) => diff::diff(old, &new),
        None => diff::added(&new),
    };
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

/// The policy at `path` as of git revision `rev`, named `rev:path`; `None` when the revision
/// exists but has no such file (the change adds the policy). Any other git failure, an
/// unknown revision above all, is an error: it must not read as "no policy before".
fn git_show(rev: &str, path: &Path) -> Result<Option<(String, String)>, Failure> {
    let git = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .map_err(|e| {
                Failure::new(
                    Kind::Usage,
                    format!("--base-ref needs git, which could not be run: {e}"),
                )
            })
    };
    let failed = |what: &str, out: &std::process::Output| {
        Failure::new(
            Kind::Usage,
            format!(
                "--base-ref {rev}: {what}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
    };
    let commit = format!("{rev}^{{commit}}");
    let out = git(&[
        "rev-parse".as_ref(),
        "--verify".as_ref(),
        "--end-of-options".as_ref(),
        commit.as_ref(),
    ])?;
    if !out.status.success() {
        return Err(failed(
            "not a commit in this repository (fetch it first?)",
            &out,
        ));
    }
    let out = git(&[
        "ls-tree".as_ref(),
        "--full-name".as_ref(),
        "--name-only".as_ref(),
        "--end-of-options".as_ref(),
        commit.as_ref(),
        "--".as_ref(),
        path.as_os_str(),
    ])?;
    if !out.status.success() {
        return Err(failed(&format!("cannot look for {}", path.display()), &out));
    }
    let listed = String::from_utf8_lossy(&out.stdout);
    let Some(full_name) = listed.lines().next().map(str::to_owned) else {
        return Ok(None);
    };
    let object = format!("{commit}:{full_name}");
    let out = git(&["cat-file".as_ref(), "blob".as_ref(), object.as_ref()])?;
    if !out.status.success() {
        return Err(failed(&format!("cannot read {full_name}"), &out));
    }
    let name = format!("{rev}:{full_name}");
    let text = String::from_utf8(out.stdout).map_err(|e| {
        Failure::new(
            Kind::InvalidPolicy,
            format!(
                "policy: {name} is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(Some((name, text)))
}

pub(crate) fn schema() -> Result<u8, Failure> {
    write_stdout(schema::render().as_bytes())?;
    Ok(exit::PASS)
}
