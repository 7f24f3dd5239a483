//! Where a renderer's bytes go: the report's output, written in large pieces, keeping the
//! first error for the end so that a renderer need not check every write.

use std::io;

/// A report's output and the first error writing to it.
pub(super) struct Output<'o> {
    out: &'o mut dyn io::Write,
    error: Option<io::Error>,
}

impl<'o> Output<'o> {
    pub(super) fn new(out: &'o mut dyn io::Write) -> Output<'o> {
        Output { out, error: None }
    }

    /// Writes `bytes`, unless an earlier write failed.
    pub(super) fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(bytes)
        {
            self.error = Some(e);
        }
    }

    /// Writes what is left in `buf`, flushes, and returns the first error.
    pub(super) fn finish(mut self, buf: &[u8]) -> io::Result<()> {
        self.write(buf);
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}
