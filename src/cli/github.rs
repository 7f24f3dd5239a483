//! `check` inside GitHub Actions: the job summary, step outputs and annotations.

use std::io::Write;
use std::path::{Path, PathBuf};

use evalgate::GateReport;
use evalgate::report::{ReportContext, annotations};

use super::exit::{Failure, Kind};
use super::output::Output;

/// The runner's files, when running under GitHub Actions (or `--github`).
pub(crate) struct Runner {
    summary: Option<PathBuf>,
    outputs: Option<PathBuf>,
    /// `GITHUB_WORKSPACE`, which GitHub resolves an annotation's `file=` against.
    workspace: Option<PathBuf>,
}

impl Runner {
    /// `Some` under GitHub Actions (`GITHUB_ACTIONS=true`) or when forced with `--github`.
    pub(crate) fn detect(forced: bool) -> Option<Runner> {
        let on = forced || std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        let file = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        on.then(|| Runner {
            summary: file("GITHUB_STEP_SUMMARY"),
            outputs: file("GITHUB_OUTPUT"),
            workspace: file("GITHUB_WORKSPACE"),
        })
    }

    /// Appends the Markdown report to the job summary, writes the step outputs, and returns
    /// the annotation lines for stdout.
    pub(crate) fn publish(
        &self,
        report: &GateReport,
        ctx: &ReportContext,
        outputs: &[Output],
        markdown: &str,
    ) -> Result<Vec<String>, Failure> {
        let policy = self.workspace_path(Path::new(&ctx.policy));
        let mut lines = annotations::annotations(report, &policy);
        match &self.summary {
            // The report stays under 60,000 characters, far below the 1 MiB a step may add.
            Some(path) => append_block(path, markdown.as_bytes())?,
            None => lines.push("::warning title=evalgate::GITHUB_STEP_SUMMARY is not set (GitHub Enterprise before 3.6?); no job summary was written".to_owned()),
        }
        if let Some(path) = &self.outputs {
            let mut values = vec![
                ("verdict", report.verdict.name().to_owned()),
                ("exit-code", ctx.exit_code.to_string()),
            ];
            for o in outputs {
                if let Some(p) = &o.path {
                    values.push((o.format.name_lower(), p.display().to_string()));
                }
            }
            let mut text = String::new();
            for (name, value) in values {
                text.push_str(&output_entry(name, &value));
            }
            append(path, text.as_bytes())?;
        }
        Ok(lines)
    }
}

impl Runner {
    /// `path` as GitHub resolves an annotation's `file=`: relative to the workspace, with `/`
    /// separators. A path outside the workspace (or with no workspace known) stays as given.
    fn workspace_path(&self, path: &Path) -> String {
        let relative = self
            .workspace
            .as_deref()
            .and_then(|ws| relative_parts(ws, path))
            .map(|parts| parts.join("/"));
        relative.unwrap_or_else(|| path.display().to_string())
    }
}

/// The components of `path` relative to the directory `root`, when it is inside it.
pub(crate) fn relative_parts(root: &Path, path: &Path) -> Option<Vec<String>> {
    let root = root.canonicalize().ok()?;
    let file = path.canonicalize().ok()?;
    let rel = file.strip_prefix(&root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect(),
    )
}

/// Appends `bytes` as a block of its own: earlier steps may have left the summary without a
/// final newline, and Markdown glued to their last line would lose its heading.
fn append_block(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::{Read, Seek, SeekFrom};
    let tail = std::fs::File::open(path).ok().and_then(|mut f| {
        let len = f.metadata().ok()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(2))).ok()?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).ok()?;
        Some(tail)
    });
    let separator: &[u8] = match tail.as_deref() {
        None | Some([]) | Some([b'\n', b'\n']) => b"",
        Some([.., b'\n']) => b"\n",
        Some(_) => b"\n\n",
    };
    let mut block = Vec::with_capacity(separator.len() + bytes.len());
    block.extend_from_slice(separator);
    block.extend_from_slice(bytes);
    append(path, &block)
}

/// One `$GITHUB_OUTPUT` entry in the multi-line form, with a random delimiter that the value
/// does not contain (as @actions/core writes them), so no value can inject another output.
fn output_entry(name: &str, value: &str) -> String {
    loop {
        let delimiter = format!("ghadelimiter_{:032x}", fastrand::u128(..));
        if !value.contains(&delimiter) {
            return format!("{name}<<{delimiter}\n{value}\n{delimiter}\n");
        }
    }
}

fn append(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| {
            Failure::new(
                Kind::ReportNotWritten,
                format!("GitHub Actions file {}: {e}", path.display()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::{append_block, output_entry};

    #[test]
    fn the_summary_always_starts_a_fresh_block() {
        let dir = tempfile::tempdir().unwrap();
        for (before, after) in [
            ("", "## x\n"),
            ("| 1 | 2 |", "| 1 | 2 |\n\n## x\n"),
            ("| 1 | 2 |\n", "| 1 | 2 |\n\n## x\n"),
            ("done\n\n", "done\n\n## x\n"),
        ] {
            let path = dir.path().join("summary.md");
            std::fs::write(&path, before).unwrap();
            assert!(append_block(&path, b"## x\n").is_ok());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), after, "{before:?}");
        }
    }

    #[test]
    fn outputs_use_a_fresh_delimiter() {
        let entry = output_entry("junit", "a\nverdict=pass");
        let lines: Vec<&str> = entry.lines().collect();
        assert!(lines[0].starts_with("junit<<ghadelimiter_"));
        assert_eq!(lines[1..3], ["a", "verdict=pass"]);
        assert_eq!(lines[3], &lines[0]["junit<<".len()..]);
    }
}
