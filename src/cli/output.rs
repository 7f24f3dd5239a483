//! Report files: checked before the run, written atomically after it.

use std::io::Write;
use std::path::{Path, PathBuf};

use evalgate::GateReport;
use evalgate::report::{Format, ReportContext};

use super::exit::{Failure, Kind};

/// Where one report goes.
pub(crate) struct Output {
    pub(crate) format: Format,
    /// `None` is stdout.
    pub(crate) path: Option<PathBuf>,
}

impl Output {
    /// Checks every requested report path and returns the plan. Fails with exit 7 when a
    /// directory is missing or not writable, and with exit 2 when two reports share a
    /// destination or a report would overwrite one of the `inputs`.
    pub(crate) fn plan(
        requested: &[(Format, Option<&Path>)],
        inputs: &[&Path],
    ) -> Result<Vec<Output>, Failure> {
        let mut plan: Vec<Output> = Vec::new();
        // The same file can be spelled `r.xml` and `./r.xml`: compare resolved paths.
        let mut taken: Vec<Option<PathBuf>> = inputs
            .iter()
            .filter_map(|p| p.canonicalize().ok())
            .map(Some)
            .collect();
        let n_inputs = taken.len();
        for (format, path) in requested {
            let Some(path) = path else { continue };
            let path = if path.as_os_str() == "-" {
                None
            } else {
                Some(path.to_path_buf())
            };
            if let Some(p) = &path {
                probe(p)?;
            }
            let resolved = path.as_deref().map(resolve);
            if let Some(i) = taken.iter().position(|t| *t == resolved) {
                let dest = path
                    .as_ref()
                    .map_or("stdout".to_owned(), |p| p.display().to_string());
                let what = if i < n_inputs {
                    format!(
                        "the {} report would overwrite the input {dest}",
                        format.name()
                    )
                } else {
                    format!("two reports would both be written to {dest}")
                };
                return Err(Failure::new(Kind::Usage, what));
            }
            taken.push(resolved);
            plan.push(Output {
                format: *format,
                path,
            });
        }
        Ok(plan)
    }
}

/// `path` with its directory resolved (the file itself need not exist yet).
fn resolve(path: &Path) -> PathBuf {
    let dir = dir_of(path)
        .canonicalize()
        .unwrap_or_else(|_| dir_of(path).to_path_buf());
    match path.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    }
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Proves that a file can be created next to `path` (and then removes it).
fn probe(path: &Path) -> Result<(), Failure> {
    if path.is_dir() {
        return Err(Failure::new(
            Kind::ReportNotWritten,
            format!(
                "report {}: is a directory; give a file path",
                path.display()
            ),
        ));
    }
    let dir = dir_of(path);
    tempfile::Builder::new()
        .prefix(".evalgate-probe")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            Failure::new(
                Kind::ReportNotWritten,
                format!(
                    "report {}: cannot write in {}: {e}; create the directory or choose another path",
                    path.display(),
                    dir.display()
                ),
            )
        })
}

/// Renders every report and writes it; returns whether one went to stdout.
pub(crate) fn write_all(
    outputs: &[Output],
    report: &GateReport,
    ctx: &ReportContext,
    markdown: Option<&str>,
) -> Result<bool, Failure> {
    let render = |o: &Output, out: &mut dyn Write| match (o.format, markdown) {
        (Format::Markdown, Some(text)) => out.write_all(text.as_bytes()),
        _ => o.format.render(report, ctx, out),
    };
    // Render every file into a temporary beside it (streamed: the JSON of 100,000 checks is
    // tens of megabytes) before any is put in place, so that a failure leaves the previous
    // reports (or none), not a mix of this run's and the last one's.
    let mut staged = Vec::new();
    let mut stdout = None;
    for o in outputs {
        match &o.path {
            None => {
                let mut buf = Vec::new();
                render(o, &mut buf).map_err(|e| render_failure(o, &e))?;
                stdout = Some(buf);
            }
            Some(path) => {
                let mut tmp = temp_beside(path)?;
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                render(o, &mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| write_failure(path, &e))?;
                drop(w);
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| write_failure(path, &e))?;
                staged.push((path, tmp));
            }
        }
    }
    for (path, tmp) in staged {
        tmp.persist(path)
            .map_err(|e| write_failure(path, &e.error))?;
    }
    if let Some(bytes) = &stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
            .and_then(|()| out.flush())
            .map_err(|e| {
                Failure::new(
                    Kind::ReportNotWritten,
                    format!("write the report to stdout: {e}"),
                )
            })?;
    }
    Ok(stdout.is_some())
}

fn render_failure(o: &Output, e: &std::io::Error) -> Failure {
    Failure::new(
        Kind::ReportNotWritten,
        format!("render the {} report: {e}", o.format.name()),
    )
}

fn write_failure(path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        Kind::ReportNotWritten,
        format!("report {}: {e}", path.display()),
    )
}

/// An empty temporary file beside `path`, to be renamed into place once written.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile, Failure> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".evalgate-");
    // Temporary files are private (0600) by default; a report is an ordinary file that CI
    // uploads and other users read, so it gets the usual 0666 less the umask.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder
        .tempfile_in(dir_of(path))
        .map_err(|e| write_failure(path, &e))
}

/// Writes through a temporary file renamed into place: a reader sees the old file or the new
/// one, never half of one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| write_failure(path, &e))?;
    tmp.persist(path)
        .map_err(|e| write_failure(path, &e.error))?;
    Ok(())
}
