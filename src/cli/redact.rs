//! The last pass over everything the binary prints: every secret of the environment is
//! redacted from each line, whatever step produced it, in whatever form a server echoed it.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::OnceLock;

use evalgate::http::{Secret, redact};

/// The environment variables that hold secrets evalgate sends.
pub(crate) const SECRET_VARS: [&str; 3] = ["ROBOFLOW_API_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN"];

fn secrets() -> &'static [Secret] {
    static SECRETS: OnceLock<Vec<Secret>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        SECRET_VARS
            .iter()
            .filter_map(|v| std::env::var(v).ok().and_then(Secret::new))
            .collect()
    })
}

/// `text` with every secret of the environment redacted.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    let secrets: Vec<&Secret> = secrets().iter().collect();
    redact(text, &secrets)
}

/// A writer that redacts each line before passing it on (a secret never spans lines once
/// control characters are escaped, and a split one is still found: see `evalgate::http`).
pub(crate) struct Redacting<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Redacting<W> {
    pub(crate) fn new(inner: W) -> Self {
        Redacting {
            inner,
            line: Vec::new(),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        let text = String::from_utf8_lossy(&self.line);
        let clean = clean(&text);
        self.inner.write_all(clean.as_bytes())?;
        self.line.clear();
        Ok(())
    }
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for chunk in buf.split_inclusive(|&b| b == b'\n') {
            self.line.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") {
                self.emit()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit()?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Redacting<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// `eprintln!` with the last pass.
macro_rules! say {
    ($($arg:tt)*) => {
        anstream::eprintln!("{}", $crate::cli::redact::clean(&format!($($arg)*)))
    };
}
pub(crate) use say;
