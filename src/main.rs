//! The `evalgate` binary: parses arguments, runs the library's pipeline, renders diagnostics
//! and maps the outcome to an exit code (src/cli/exit.rs).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
