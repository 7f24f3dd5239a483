//! The binary's side of the pipeline: arguments in, diagnostics and an exit code out. This
//! file only dispatches; each command has its own file, and exit codes are chosen in
//! `exit.rs` alone.

mod args;
mod calibrate;
mod check;
mod comment;
mod diag;
mod eval;
mod exit;
mod fetch;
mod github;
mod init;
mod load;
mod manual;
mod output;
mod policy;
mod policy_file;
mod redact;
mod summary;

use std::process::ExitCode;

use anstream::eprintln;
use clap::Parser;

use args::{Cli, Command, PolicyCommand};

pub(crate) fn main() -> ExitCode {
    fixed_mmap_threshold();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::Kind::Usage.code()
            } else {
                exit::PASS
            });
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Fetch(args) => fetch::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Comment(args) => comment::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Policy(PolicyCommand::Check(args)) => policy::check(&args),
        Command::Policy(PolicyCommand::Explain(args)) => policy::explain(&args),
        Command::Policy(PolicyCommand::Diff(args)) => policy::diff(&args),
        Command::Policy(PolicyCommand::Schema) => policy::schema(),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man(args) => manual::man(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("{}: {}", summary::error_label(), redact::clean(&f.message));
            ExitCode::from(f.kind.code())
        }
    }
}

/// Keeps glibc's malloc from raising its mmap threshold when a large block is freed.
///
/// By default glibc lifts the threshold to the size of each mapped block it frees: once the
/// two eval files' 7 MB buffers are freed, every later allocation under 7 MB comes from the
/// heap, and a vector growing there (the gate's 120,000 checks at 10,000 classes) is copied
/// at each doubling and its pages touched twice. Above a fixed threshold a growing block is
/// a mapping that `mremap` moves without copying.
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
