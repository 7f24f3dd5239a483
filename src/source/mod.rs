//! Where evals come from: a file, or standard input.
//!
//! A source is read with a size cap, so that a wrong path (a dataset, a log) cannot make
//! evalgate read gigabytes before failing.

use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;

/// Evals larger than this are refused: about 60,000 classes of detection metrics.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// A place to read an eval from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`).
    Stdin,
    /// A JSON file.
    File(PathBuf),
}

impl Source {
    /// Reads a source as written on the command line.
    pub fn parse(text: &str) -> Source {
        if text == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(text))
        }
    }

    /// Reads the whole source, up to `max_bytes`.
    pub fn read(&self, stdin: &mut dyn Read, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let mut buf = Vec::new();
        let reader: &mut dyn Read = match self {
            Source::Stdin => stdin,
            Source::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| SourceError::Io(e.kind(), e.to_string()))?;
                if file.metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(SourceError::IsDirectory);
                }
                return read_capped(&mut io::BufReader::new(file), max_bytes, buf);
            }
        };
        read_capped(reader, max_bytes, std::mem::take(&mut buf))
    }
}

fn read_capped(
    reader: &mut dyn Read,
    max_bytes: u64,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, SourceError> {
    reader
        .take(max_bytes + 1)
        .read_to_end(&mut buf)
        .map_err(|e| SourceError::Io(e.kind(), e.to_string()))?;
    if buf.len() as u64 > max_bytes {
        return Err(SourceError::TooLarge(max_bytes));
    }
    Ok(buf)
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("-"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why a source could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SourceError {
    /// The OS refused (not found, permission denied, …).
    #[error("{1}")]
    Io(io::ErrorKind, String),
    /// A directory was given where a file was expected.
    #[error("is a directory, not an eval file")]
    IsDirectory,
    /// The source is larger than the cap.
    #[error("larger than {} MiB; evals that large are refused", .0 >> 20)]
    TooLarge(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_what_it_reads() {
        let mut input: &[u8] = b"0123456789";
        assert_eq!(Source::Stdin.read(&mut input, 10).unwrap().len(), 10);
        let mut input: &[u8] = b"0123456789x";
        assert_eq!(
            Source::Stdin.read(&mut input, 10),
            Err(SourceError::TooLarge(10))
        );
    }

    #[test]
    fn names_missing_files_and_directories() {
        let mut none: &[u8] = b"";
        let err = Source::parse("no/such/eval.json")
            .read(&mut none, 10)
            .unwrap_err();
        assert!(
            matches!(err, SourceError::Io(io::ErrorKind::NotFound, _)),
            "{err}"
        );
        let err = Source::parse(".").read(&mut none, 10).unwrap_err();
        assert!(
            matches!(err, SourceError::IsDirectory | SourceError::Io(..)),
            "{err}"
        );
    }
}
