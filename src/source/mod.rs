//! Where evals come from: a file, standard input, Roboflow's API (`rf:`), or a model's COCO
//! predictions evaluated locally (`coco:`, see [`crate::coco`]).
//!
//! Every source is read with a size cap, so that a wrong path (a dataset, a log) or a runaway
//! server cannot make evalgate read gigabytes before failing, and anything but a regular file
//! (a FIFO, a device, a socket) within a time limit, so that a pipe nobody writes to cannot
//! hang a CI job.

mod roboflow;

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use roboflow::{
    ApiConfig, Auth, Client, DEFAULT_API_URL, EvalRef, FetchError, Fetched, MatrixAt, Plan,
    Progress,
};

/// A place to read an eval from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`).
    Stdin,
    /// A JSON file.
    File(PathBuf),
    /// An eval in Roboflow (`rf:WORKSPACE/EVAL_ID`).
    Roboflow(EvalRef),
    /// COCO predictions to evaluate against ground truth given elsewhere
    /// (`coco:[SPLIT=]PRED.json,…`), one file per split.
    Coco(Vec<CocoFile>),
}

/// One predictions file of a `coco:` source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CocoFile {
    /// The split it predicts, when named (`test=preds.json`).
    pub split: Option<String>,
    /// The pycocotools results file.
    pub path: PathBuf,
}

impl CocoFile {
    /// `[SPLIT=]PATH`: a split name is a word without `=` or `,`.
    pub fn parse(text: &str) -> Option<CocoFile> {
        let (split, path) = match text.split_once('=') {
            Some((split, path)) => (Some(split), path),
            None => (None, text),
        };
        let split_ok = split.is_none_or(|s| !s.is_empty() && !s.chars().any(char::is_control));
        (split_ok && !path.is_empty()).then(|| CocoFile {
            split: split.map(str::to_owned),
            path: PathBuf::from(path),
        })
    }
}

impl fmt::Display for CocoFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.split {
            Some(s) => write!(f, "{s}={}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

impl Source {
    /// Reads a source as written on the command line. `rf:EVAL_ID` takes its workspace from
    /// `workspace`.
    pub fn parse(text: &str, workspace: Option<&str>) -> Result<Source, SourceError> {
        if text.trim().is_empty() {
            return Err(SourceError::Empty);
        }
        if text == "-" {
            return Ok(Source::Stdin);
        }
        if let Some(rest) = text.strip_prefix("coco:") {
            let files: Option<Vec<CocoFile>> = rest.split(',').map(CocoFile::parse).collect();
            return match files {
                Some(files) => Ok(Source::Coco(files)),
                None => Err(SourceError::BadCoco(text.to_owned())),
            };
        }
        let Some(rest) = text.strip_prefix("rf:") else {
            return Ok(Source::File(PathBuf::from(text)));
        };
        let (ws, id) = match rest.split_once('/') {
            Some((ws, id)) => (Some(ws), id),
            None => (workspace, rest),
        };
        let valid = |s: &str| {
            !s.is_empty() && !s.contains(['/', '?', '#']) && !s.chars().any(char::is_whitespace)
        };
        if !valid(id) {
            return Err(SourceError::BadRef(text.to_owned()));
        }
        match ws {
            Some(ws) if valid(ws) => Ok(Source::Roboflow(EvalRef {
                workspace: ws.to_owned(),
                eval_id: id.to_owned(),
            })),
            Some(_) => Err(SourceError::BadRef(text.to_owned())),
            None => Err(SourceError::NoWorkspace(text.to_owned())),
        }
    }

    /// Reads a file or stdin source whole, up to `max_bytes`; a file that is not a regular
    /// file (a FIFO, a device) must deliver within `timeout`. Roboflow sources are fetched
    /// with a [`Client`] instead.
    pub fn read(
        &self,
        stdin: &mut dyn Read,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, SourceError> {
        let bytes = match self {
            Source::Stdin => read_capped(stdin, max_bytes)
                .map_err(|e| SourceError::Io(e.kind(), e.to_string()))?,
            Source::File(path) => {
                if path.is_dir() {
                    return Err(SourceError::IsDirectory);
                }
                read_file(path, max_bytes, timeout).map_err(|e| {
                    let word = path.to_str().filter(|p| !p.contains(['/', '\\', '.']));
                    match (e.kind(), word) {
                        (io::ErrorKind::NotFound, Some(word)) => {
                            SourceError::NotAFile(word.to_owned())
                        }
                        _ => SourceError::Io(e.kind(), e.to_string()),
                    }
                })?
            }
            Source::Roboflow(_) => return Err(SourceError::NeedsClient),
            Source::Coco(_) => return Err(SourceError::NeedsGroundTruth),
        };
        if bytes.len() as u64 > max_bytes {
            return Err(SourceError::TooLarge(max_bytes));
        }
        Ok(bytes)
    }
}

/// Reads at most `limit + 1` bytes of `reader`, so that something endless (`/dev/zero`, a
/// pipe that never closes) costs bounded memory and the caller can tell it was over.
pub fn read_capped(reader: &mut dyn Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The one capped reader of files: at most `limit + 1` bytes of `path`. A regular file is read
/// at once; anything else (a FIFO, a character device, `/dev/fd/N`) is opened and read on a
/// thread of its own and must reach its end within `timeout`, because a pipe with no writer
/// blocks forever.
pub fn read_file(path: &Path, limit: u64, timeout: Duration) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        // Sized once from the file's length: a 7 MB eval read by doubling a buffer is copied
        // about twice over and faults in twice the pages.
        let file = std::fs::File::open(path)?;
        let size = meta.len().min(limit).saturating_add(1);
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
        return Ok(buf);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    // The thread may stay blocked in open() or read(); the process ends without it.
    std::thread::spawn(move || {
        let result = std::fs::File::open(&owned).and_then(|mut f| read_capped(&mut f, limit));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "not a regular file, and it did not deliver its end within {} (a pipe nobody writes to?); give a file, or raise --timeout",
                humantime::format_duration(timeout)
            ),
        )),
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("-"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Roboflow(r) => write!(f, "{r}"),
            Source::Coco(files) => {
                f.write_str("coco:")?;
                for (i, file) in files.iter().enumerate() {
                    write!(f, "{}{file}", if i == 0 { "" } else { "," })?;
                }
                Ok(())
            }
        }
    }
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SourceError {
    /// An empty source (`--baseline ""`).
    #[error("the source is empty; give a file, - for stdin, or rf:WORKSPACE/EVAL_ID")]
    Empty,
    /// The OS refused (not found, permission denied, …).
    #[error("{1}")]
    Io(io::ErrorKind, String),
    /// A bare word that is no file: probably an eval id missing its `rf:`.
    #[error(
        "no such file; to fetch eval {0:?} from Roboflow, write rf:WORKSPACE/{0} (or rf:{0} with --workspace)"
    )]
    NotAFile(String),
    /// A directory was given where a file was expected.
    #[error("is a directory, not an eval file")]
    IsDirectory,
    /// The source is larger than the cap.
    #[error("larger than {0} bytes; raise --max-body if this eval is really that large")]
    TooLarge(u64),
    /// `rf:` without a usable workspace or id.
    #[error("{0:?} is not an eval reference; write rf:WORKSPACE/EVAL_ID")]
    BadRef(String),
    /// `rf:EVAL_ID` with no workspace to go with it.
    #[error(
        "{0:?} names no workspace; write rf:WORKSPACE/EVAL_ID, or set --workspace or ROBOFLOW_WORKSPACE"
    )]
    NoWorkspace(String),
    /// A Roboflow source was read like a file.
    #[error("a Roboflow source must be fetched, not read")]
    NeedsClient,
    /// `coco:` with an empty part, or an empty split name.
    #[error(
        "{0:?} is not a COCO source; write coco:PRED.json, or coco:SPLIT=PRED.json,SPLIT=PRED.json,… (one predictions file per split)"
    )]
    BadCoco(String),
    /// A `coco:` source was read like a file.
    #[error("a coco: source is evaluated against --ground-truth, not read")]
    NeedsGroundTruth,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_fifo_nobody_writes_to_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("eval.json");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(ok.success());
        let start = std::time::Instant::now();
        let err = read_file(&fifo, 10, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("raise --timeout"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        // A device that delivers is read like a file, within the cap.
        let zero = read_file(Path::new("/dev/zero"), 10, Duration::from_secs(5)).unwrap();
        assert_eq!(zero.len(), 11);
    }

    #[test]
    fn caps_what_it_reads() {
        let t = Duration::from_secs(1);
        let mut input: &[u8] = b"0123456789";
        assert_eq!(Source::Stdin.read(&mut input, 10, t).unwrap().len(), 10);
        let mut input: &[u8] = b"0123456789x";
        assert_eq!(
            Source::Stdin.read(&mut input, 10, t),
            Err(SourceError::TooLarge(10))
        );
    }

    #[test]
    fn names_missing_files_and_suggests_rf_for_bare_words() {
        let mut none: &[u8] = b"";
        let read = |s: &str, none: &mut &[u8]| {
            Source::parse(s, None)
                .unwrap()
                .read(none, 10, Duration::from_secs(1))
                .unwrap_err()
        };
        let err = read("no/such/eval.json", &mut none);
        assert!(
            matches!(err, SourceError::Io(io::ErrorKind::NotFound, _)),
            "{err}"
        );
        let err = read("huUF720inUcymARwqAGK", &mut none);
        assert_eq!(
            err.to_string(),
            "no such file; to fetch eval \"huUF720inUcymARwqAGK\" from Roboflow, write rf:WORKSPACE/huUF720inUcymARwqAGK (or rf:huUF720inUcymARwqAGK with --workspace)"
        );
        let err = read(".", &mut none);
        assert!(
            matches!(err, SourceError::IsDirectory | SourceError::Io(..)),
            "{err}"
        );
    }

    #[test]
    fn parses_eval_references() {
        let rf = |ws: &str, id: &str| {
            Source::Roboflow(EvalRef {
                workspace: ws.into(),
                eval_id: id.into(),
            })
        };
        assert_eq!(
            Source::parse("rf:acme/abc123", None),
            Ok(rf("acme", "abc123"))
        );
        assert_eq!(
            Source::parse("rf:abc123", Some("acme")),
            Ok(rf("acme", "abc123"))
        );
        assert_eq!(
            Source::parse("rf:other/abc123", Some("acme")),
            Ok(rf("other", "abc123"))
        );
        assert_eq!(
            Source::parse("rf:abc123", None),
            Err(SourceError::NoWorkspace("rf:abc123".into()))
        );
        for bad in [
            "rf:", "rf:acme/", "rf:/abc", "rf:a/b/c", "rf:a b", "rf:a?x=1",
        ] {
            assert!(
                matches!(Source::parse(bad, Some("ws")), Err(SourceError::BadRef(_))),
                "{bad}"
            );
        }
        assert_eq!(Source::parse("-", None), Ok(Source::Stdin));
        let coco = Source::parse("coco:valid=v.json,test=dir/t.json", None).unwrap();
        assert_eq!(
            coco,
            Source::Coco(vec![
                CocoFile {
                    split: Some("valid".into()),
                    path: "v.json".into()
                },
                CocoFile {
                    split: Some("test".into()),
                    path: "dir/t.json".into()
                },
            ])
        );
        assert_eq!(coco.to_string(), "coco:valid=v.json,test=dir/t.json");
        assert_eq!(
            Source::parse("coco:p.json", None),
            Ok(Source::Coco(vec![CocoFile {
                split: None,
                path: "p.json".into()
            }]))
        );
        for bad in [
            "coco:",
            "coco:a.json,",
            "coco:=a.json",
            "coco:test=",
            "coco:,a",
        ] {
            assert!(
                matches!(Source::parse(bad, None), Err(SourceError::BadCoco(_))),
                "{bad}"
            );
        }
        for empty in ["", " "] {
            assert_eq!(Source::parse(empty, None), Err(SourceError::Empty));
        }
        assert_eq!(
            Source::parse("e.json", None),
            Ok(Source::File("e.json".into()))
        );
    }
}
