//! Report files: checked before the run, written after it.
//!
//! The rules (docs/reports.md, "Where reports go"):
//! - a new path or an existing regular file is written atomically: a temporary file beside it,
//!   renamed onto it once complete, keeping an existing file's mode;
//! - a symbolic link is followed, and its final target written atomically as above (the link
//!   stays a link);
//! - anything else that exists (a character device such as `/dev/null`, a FIFO, `/dev/stdout`,
//!   `/dev/fd/N` as process substitution gives it) is written through in place: no temporary
//!   file, no rename, nothing replaced;
//! - two reports, or a report and an input, that resolve to the same file are a usage error;
//! - a report that could not be written whole (stdout closed, a reader gone) is exit 7;
//! - SIGINT or SIGTERM while reports are written removes the temporary files and exits 130
//!   or 143.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use evalgate::GateReport;
use evalgate::report::{Format, ReportContext};

use super::exit::{Failure, Kind};

/// Where one report goes.
pub(crate) struct Output {
    pub(crate) format: Format,
    /// The path as given; `None` is stdout.
    pub(crate) path: Option<PathBuf>,
    dest: Dest,
}

enum Dest {
    Stdout,
    /// Exists and is not a regular file: opened and written, never replaced.
    InPlace(PathBuf),
    /// A regular file (new or existing, links resolved), replaced by a rename.
    Atomic {
        target: PathBuf,
        /// An existing file's permission bits, which the new one keeps.
        mode: Option<u32>,
    },
}

/// What a destination or an input is, to tell when two are the same.
#[derive(PartialEq, Eq)]
enum Identity {
    /// An existing file: device and inode.
    Node(u64, u64),
    /// A file that does not exist yet: its resolved path.
    Path(PathBuf),
}

impl Output {
    /// Checks every requested report path and returns the plan. Fails with exit 7 when a
    /// directory is missing or not writable or stdout is closed, and with exit 2 when two
    /// reports share a destination or a report would overwrite one of the `inputs`.
    pub(crate) fn plan(
        requested: &[(Format, Option<&Path>)],
        inputs: &[&Path],
    ) -> Result<Vec<Output>, Failure> {
        // From the first probe on, a signal removes what evalgate created.
        signals::install();
        let mut plan: Vec<Output> = Vec::new();
        let mut taken: Vec<Identity> = inputs.iter().filter_map(|p| node(p)).collect();
        let n_inputs = taken.len();
        for (format, path) in requested {
            let Some(path) = path else { continue };
            let (dest, identity, shown) = if path.as_os_str() == "-" {
                let identity = stdout_node().ok_or_else(|| {
                    Failure::new(
                        Kind::ReportNotWritten,
                        format!(
                            "the {} report goes to stdout (-), but stdout is closed; give a file path",
                            format.name()
                        ),
                    )
                })?;
                (Dest::Stdout, identity, "stdout".to_owned())
            } else {
                let dest = destination(path)?;
                let identity = match &dest {
                    Dest::InPlace(p) => node(p),
                    Dest::Atomic { target, .. } => {
                        Some(node(target).unwrap_or_else(|| Identity::Path(resolve(target))))
                    }
                    Dest::Stdout => None,
                }
                .unwrap_or_else(|| Identity::Path(path.to_path_buf()));
                (dest, identity, path.display().to_string())
            };
            if let Some(i) = taken.iter().position(|t| *t == identity) {
                let what = if i < n_inputs {
                    format!(
                        "the {} report would overwrite the input {shown}",
                        format.name()
                    )
                } else {
                    format!("two reports would both be written to {shown}")
                };
                return Err(Failure::new(Kind::Usage, what));
            }
            taken.push(identity);
            plan.push(Output {
                format: *format,
                path: (path.as_os_str() != "-").then(|| path.to_path_buf()),
                dest,
            });
        }
        Ok(plan)
    }
}

/// The input among `inputs` that writing `output` would replace, if any (the same file by
/// device and inode, links followed).
pub(crate) fn overwritten_input<'a>(output: &Path, inputs: &[&'a Path]) -> Option<&'a Path> {
    let out = node(output)?;
    inputs
        .iter()
        .copied()
        .find(|i| node(i).as_ref() == Some(&out))
}

/// The device and inode of an existing file (links followed).
fn node(path: &Path) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path)
            .ok()
            .map(|m| Identity::Node(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        path.canonicalize().ok().map(Identity::Path)
    }
}

/// What stdout is, or `None` when it is closed.
fn stdout_node() -> Option<Identity> {
    let file = stdout_file()?;
    if reopened_null(&file) {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Not every stdout has metadata worth comparing (a socket does); it is still open.
        Some(
            file.metadata()
                .map(|m| Identity::Node(m.dev(), m.ino()))
                .unwrap_or_else(|_| Identity::Path(PathBuf::from("-"))),
        )
    }
    #[cfg(not(unix))]
    {
        drop(file);
        Some(Identity::Path(PathBuf::from("-")))
    }
}

/// Whether `stdout` is the `/dev/null` that Rust's runtime opens, read-write, in place of a
/// standard stream that was closed when the process started (`>&-`): a report written there
/// would be lost without an error. A shell's `>/dev/null` opens it write-only.
fn reopened_null(stdout: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let is_null = stdout
            .metadata()
            .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == libc::makedev(1, 3));
        // SAFETY: F_GETFL on an open descriptor has no other effect.
        let flags = unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_GETFL) };
        is_null && flags >= 0 && flags & libc::O_ACCMODE == libc::O_RDWR
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stdout;
        false
    }
}

/// A handle on stdout whose write errors are reported. Rust's own `Stdout` treats a closed
/// stdout as a sink that accepts everything, which would lose the report silently.
fn stdout_file() -> Option<File> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(File::from)
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsHandle;
        io::stdout()
            .as_handle()
            .try_clone_to_owned()
            .ok()
            .map(File::from)
    }
}

/// Decides how `path` is written, and checks that it can be.
fn destination(path: &Path) -> Result<Dest, Failure> {
    let not_written = |m: String| Failure::new(Kind::ReportNotWritten, m);
    let (resolved, through_fd) = follow_links(path);
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(not_written(format!(
            "report {}: is a directory; give a file path",
            path.display()
        ))),
        // `/dev/stdout` and `/dev/fd/N` name an open file of this process, whatever it is:
        // writing through keeps what the caller connected (a pipe, a file, a terminal).
        Ok(m) if !m.is_file() || through_fd => {
            probe_in_place(path)?;
            Ok(Dest::InPlace(path.to_path_buf()))
        }
        Ok(m) => {
            probe_dir(path, &resolved)?;
            Ok(Dest::Atomic {
                target: resolved,
                mode: mode_of(&m),
            })
        }
        // A new file, or a link to one.
        Err(_) => {
            probe_dir(path, &resolved)?;
            Ok(Dest::Atomic {
                target: resolved,
                mode: None,
            })
        }
    }
}

/// The file a chain of symbolic links ends at (the path itself when it is none), and whether
/// the chain passes through `/proc/…/fd` or `/dev/fd`, which name open files of a process.
fn follow_links(path: &Path) -> (PathBuf, bool) {
    let fd_path = |p: &Path| {
        let s = p.to_string_lossy();
        s.starts_with("/dev/fd/")
            || s.starts_with("/dev/std")
            || (s.starts_with("/proc/") && s.contains("/fd/"))
    };
    let mut at = path.to_path_buf();
    let mut through_fd = fd_path(&at);
    // The kernel's own limit on links followed.
    for _ in 0..40 {
        let Ok(meta) = fs::symlink_metadata(&at) else {
            break;
        };
        if !meta.file_type().is_symlink() {
            break;
        }
        let Ok(to) = fs::read_link(&at) else { break };
        at = if to.is_absolute() {
            to
        } else {
            dir_of(&at).join(to)
        };
        through_fd |= fd_path(&at);
    }
    (at, through_fd)
}

/// `path` with its directory resolved (the file itself need not exist yet): `r.xml` and
/// `./r.xml` are one destination.
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

#[cfg(unix)]
fn mode_of(m: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_: &fs::Metadata) -> Option<u32> {
    None
}

/// Proves that a file can be created beside `target` (and then removes it).
fn probe_dir(path: &Path, target: &Path) -> Result<(), Failure> {
    let dir = dir_of(target);
    signals::Temp::probe(dir).map(drop).map_err(|e| {
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

/// Checks that an existing non-regular file may be written, without opening it: opening a
/// FIFO and closing it again would hand its reader an end of file before the report.
fn probe_in_place(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| write_failure(path, &io::Error::other("the path holds a NUL byte")))?;
        // SAFETY: `c` is a valid NUL-terminated path.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
            return Err(write_failure(path, &io::Error::last_os_error()));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Renders every report and writes it; returns whether one went to stdout (by any name).
/// The Markdown is rendered on first use, once for both its file and the job summary.
pub(crate) fn write_all(
    outputs: &[Output],
    report: &GateReport,
    ctx: &ReportContext,
    markdown: &OnceLock<String>,
) -> Result<bool, Failure> {
    write_with(outputs, |o, out| match o.format {
        Format::Markdown => out.write_all(
            markdown
                .get_or_init(|| evalgate::report::render_markdown(report, ctx))
                .as_bytes(),
        ),
        _ => o.format.render(report, ctx, out),
    })
}

/// Writes `bytes` to `path` by the same rules as a report (`init -o`).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let output = Output {
        format: Format::Json,
        path: Some(path.to_path_buf()),
        dest: destination(path)?,
    };
    write_one(&output, bytes)
}

/// Writes `bytes` to the planned `output` (the `fetch -o` file).
pub(crate) fn write_one(output: &Output, bytes: &[u8]) -> Result<(), Failure> {
    write_with(std::slice::from_ref(output), |_, out| out.write_all(bytes)).map(drop)
}

fn write_with(
    outputs: &[Output],
    render: impl Fn(&Output, &mut dyn Write) -> io::Result<()> + Sync,
) -> Result<bool, Failure> {
    signals::install();
    // Render every file into a temporary beside it (streamed: the JSON of 100,000 checks is
    // tens of megabytes) before any is put in place, so that a failure leaves the previous
    // reports (or none), not a mix of this run's and the last one's. Destinations that are
    // written through come after the temporaries are complete and before they are renamed.
    let mut staged = Vec::new();
    for o in outputs {
        if let Dest::Atomic { target, mode } = &o.dest {
            let shown = o.path.as_deref().unwrap_or(target);
            let tmp = signals::Temp::beside(target, *mode).map_err(|e| write_failure(shown, &e))?;
            staged.push((o, shown, target, tmp));
        }
    }
    // Each temporary is rendered and synced on a thread of its own: at 10,000 classes the
    // JSON and the JUnit file take tens of milliseconds each, and a sync waits for the disk.
    let stage = |(o, shown, _, tmp): &(&Output, &Path, &PathBuf, signals::Temp)| {
        let mut w = io::BufWriter::new(Writeback::new(tmp.file()));
        render(o, &mut w)
            .and_then(|()| w.flush())
            .map_err(|e| write_failure(shown, &e))?;
        drop(w);
        tmp.file().sync_all().map_err(|e| write_failure(shown, &e))
    };
    let rendered: Vec<Result<(), Failure>> = std::thread::scope(|scope| {
        let others: Vec<_> = staged
            .iter()
            .skip(1)
            .map(|s| scope.spawn(|| stage(s)))
            .collect();
        let first = staged.first().map(stage);
        first
            .into_iter()
            .chain(others.into_iter().map(|h| {
                // A panic while rendering stays a panic (exit 101), not a report error.
                h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            }))
            .collect()
    });
    // The first report's error, in the order the reports were asked for.
    rendered.into_iter().collect::<Result<(), Failure>>()?;
    let mut to_stdout = false;
    for o in outputs {
        match &o.dest {
            Dest::Stdout => {
                to_stdout = true;
                let file = stdout_file()
                    .ok_or_else(|| Failure::new(Kind::ReportNotWritten, "stdout is closed"))?;
                write_through(o, file, &render).map_err(|e| {
                    Failure::new(
                        Kind::ReportNotWritten,
                        format!("write the {} report to stdout: {e}", o.format.name()),
                    )
                })?;
            }
            Dest::InPlace(path) => {
                // `/dev/stdout` by another name: the summary then goes to stderr.
                to_stdout |= node(path).is_some_and(|n| Some(n) == stdout_node());
                let file = fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| write_failure(path, &e))?;
                write_through(o, file, &render).map_err(|e| write_failure(path, &e))?;
            }
            Dest::Atomic { .. } => {}
        }
    }
    for (_, shown, target, tmp) in staged {
        tmp.persist(target).map_err(|e| write_failure(shown, &e))?;
    }
    Ok(to_stdout)
}

/// A temporary report that has the kernel start writing it to disk every few megabytes, so
/// that the sync before its rename waits for the last few only, not for all 42 MB of a
/// 10,000-class JSON report at once.
struct Writeback<'f> {
    file: &'f File,
    written: u64,
    /// Where the range not yet handed to the kernel starts.
    pending: u64,
}

impl<'f> Writeback<'f> {
    const EVERY: u64 = 4 << 20;

    fn new(file: &'f File) -> Writeback<'f> {
        Writeback {
            file,
            written: 0,
            pending: 0,
        }
    }
}

impl Write for Writeback<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.pending >= Self::EVERY {
            start_writeback(self.file, self.pending, self.written - self.pending);
            self.pending = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, from: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(from), Ok(len)) = (i64::try_from(from), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range reads nothing but its integer arguments. Its result is ignored:
    // where it fails (a file system without it), the sync does all the work, as it would
    // anyway.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

fn write_through(
    o: &Output,
    file: File,
    render: &impl Fn(&Output, &mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut w = io::BufWriter::new(file);
    render(o, &mut w)?;
    w.flush()
}

fn write_failure(path: &Path, e: &io::Error) -> Failure {
    Failure::new(
        Kind::ReportNotWritten,
        format!("report {}: {e}", path.display()),
    )
}

/// Temporary report files that a signal must not leave behind.
mod signals {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    /// A temporary file beside its target, removed on drop, on SIGINT and on SIGTERM.
    pub(super) struct Temp {
        /// `None` once persisted.
        file: Option<tempfile::NamedTempFile>,
        #[cfg(unix)]
        slot: usize,
    }

    impl Temp {
        /// An empty temporary file beside `target`, with `mode` (an existing report's) or
        /// else the usual 0666 less the umask: a report is an ordinary file that CI uploads
        /// and other users read, not a private temporary.
        pub(super) fn beside(target: &Path, mode: Option<u32>) -> io::Result<Temp> {
            Temp::create(super::dir_of(target), ".evalgate-", mode)
        }

        /// An empty file in `dir` that proves a report can be created there; removed on drop.
        pub(super) fn probe(dir: &Path) -> io::Result<Temp> {
            Temp::create(dir, ".evalgate-probe", None)
        }

        fn create(dir: &Path, prefix: &str, mode: Option<u32>) -> io::Result<Temp> {
            let mut builder = tempfile::Builder::new();
            builder.prefix(prefix);
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
            #[cfg(unix)]
            {
                // Created and registered with the signals held back, so that no signal can
                // come between the two and leave the file unknown to the handler.
                let _held = imp::Held::new();
                let file = builder.tempfile_in(dir)?;
                if let Some(mode) = mode {
                    use std::os::unix::fs::PermissionsExt;
                    file.as_file()
                        .set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                let slot = imp::register(file.path());
                Ok(Temp {
                    file: Some(file),
                    slot,
                })
            }
            #[cfg(not(unix))]
            {
                let _ = mode;
                Ok(Temp {
                    file: Some(builder.tempfile_in(dir)?),
                })
            }
        }

        pub(super) fn file(&self) -> &File {
            self.file
                .as_ref()
                .expect("a temporary is used only before it is persisted")
                .as_file()
        }

        /// Renames the file onto `target`.
        pub(super) fn persist(mut self, target: &Path) -> io::Result<()> {
            match self.file.take() {
                Some(file) => file.persist(target).map(drop).map_err(|e| e.error),
                None => Ok(()),
            }
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            #[cfg(unix)]
            imp::unregister(self.slot);
        }
    }

    /// Installs the handlers (once).
    pub(super) fn install() {
        #[cfg(unix)]
        imp::install();
    }

    #[cfg(unix)]
    mod imp {
        use std::ffi::{CString, c_char, c_int};
        use std::path::Path;
        use std::sync::Once;
        use std::sync::atomic::{AtomicPtr, Ordering};

        /// More than the reports one run writes.
        const SLOTS: usize = 16;
        static TEMPS: [AtomicPtr<c_char>; SLOTS] =
            [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

        /// Remembers `path` for the handler; returns its slot (`SLOTS` when all are taken,
        /// which only costs the cleanup of that one file).
        pub(super) fn register(path: &Path) -> usize {
            use std::os::unix::ffi::OsStrExt;
            let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
                return SLOTS;
            };
            // Leaked on purpose: the handler may read it at any moment, and a run writes a
            // handful of reports.
            let ptr = c.into_raw();
            for (i, slot) in TEMPS.iter().enumerate() {
                if slot
                    .compare_exchange(
                        std::ptr::null_mut(),
                        ptr,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
                {
                    return i;
                }
            }
            SLOTS
        }

        pub(super) fn unregister(slot: usize) {
            if let Some(s) = TEMPS.get(slot) {
                s.store(std::ptr::null_mut(), Ordering::SeqCst);
            }
        }

        extern "C" fn on_signal(sig: c_int) {
            // Only async-signal-safe calls here: unlink and _exit.
            for slot in &TEMPS {
                let p = slot.load(Ordering::SeqCst);
                if !p.is_null() {
                    // SAFETY: `p` is a leaked, NUL-terminated CString that is never freed.
                    unsafe {
                        libc::unlink(p);
                    }
                }
            }
            // SAFETY: _exit ends the process at once, as a signal handler may.
            unsafe { libc::_exit(128 + sig) }
        }

        pub(super) fn install() {
            static ONCE: Once = Once::new();
            ONCE.call_once(|| {
                for sig in [libc::SIGINT, libc::SIGTERM] {
                    // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only calls
                    // async-signal-safe functions.
                    unsafe {
                        libc::signal(sig, on_signal as extern "C" fn(c_int) as libc::sighandler_t);
                    }
                }
            });
        }

        /// SIGINT and SIGTERM held back while it lives.
        pub(super) struct Held(libc::sigset_t);

        impl Held {
            pub(super) fn new() -> Held {
                // SAFETY: plain libc calls on a zeroed, then initialised, signal set.
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    let mut old: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGINT);
                    libc::sigaddset(&mut set, libc::SIGTERM);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
                    Held(old)
                }
            }
        }

        impl Drop for Held {
            fn drop(&mut self) {
                // SAFETY: restores the mask saved by `new`.
                unsafe {
                    libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
                }
            }
        }
    }
}

/// Writes a command's whole output to stdout; a closed or full stdout is exit 7.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(Kind::ReportNotWritten, format!("write to stdout: {e}")))
}
