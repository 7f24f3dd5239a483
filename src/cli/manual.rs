//! `evalgate completions` and `evalgate man`: the shell completions and manual pages.

use anstream::eprintln;
use clap::CommandFactory;

use super::args::{Cli, ManArgs};
use super::exit::{self, Failure, Kind};
use super::output::{write_atomically, write_stdout};

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<u8, Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "evalgate", &mut out);
    write_stdout(&out)?;
    Ok(exit::PASS)
}

/// `evalgate man`: one page to stdout, or every page into `--dir`. The pages' SEE ALSO-style
/// references (`evalgate-check(1)`) name the files `--dir` writes.
pub(crate) fn man(args: &ManArgs) -> Result<u8, Failure> {
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let render = |cmd: &clap::Command| {
        let mut out = Vec::new();
        let man = clap_mangen::Man::new(cmd.clone())
            .source(format!("evalgate {}", env!("CARGO_PKG_VERSION")));
        man.render(&mut out).map(|()| (man.get_filename(), out))
    };
    let render_failed = |e: std::io::Error| {
        Failure::new(Kind::ReportNotWritten, format!("render the man page: {e}"))
    };
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(
                Kind::ReportNotWritten,
                format!("create {}: {e}", dir.display()),
            )
        })?;
        let mut pages = Vec::new();
        let mut stack = vec![root];
        while let Some(cmd) = stack.pop() {
            stack.extend(cmd.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
            pages.push(render(&cmd).map_err(render_failed)?);
        }
        pages.sort();
        for (name, bytes) in &pages {
            write_atomically(&dir.join(name), bytes)?;
        }
        eprintln!("wrote {} man pages to {}", pages.len(), dir.display());
        return Ok(exit::PASS);
    }
    let mut cmd = root;
    for (i, name) in args.command.iter().enumerate() {
        let path = args.command[..i].join(" ");
        cmd = cmd
            .find_subcommand(name)
            .filter(|c| !c.is_hide_set())
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
                Failure::new(
                    Kind::Usage,
                    format!(
                        "`evalgate {path}{}{name}` is no command; {}",
                        if path.is_empty() { "" } else { " " },
                        if known.is_empty() {
                            "it has no subcommands".to_owned()
                        } else {
                            format!("try one of: {}", known.join(", "))
                        }
                    ),
                )
            })?;
    }
    let (_, page) = render(&cmd).map_err(render_failed)?;
    write_stdout(&page)?;
    Ok(exit::PASS)
}
