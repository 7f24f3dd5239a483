//! Reading the policy file, for every command that takes one.

use std::io;
use std::path::Path;
use std::time::Duration;

use evalgate::policy::{Policy, parse_policy};

use super::diag;
use super::exit::{Failure, Kind};

/// The policy's text; a policy over the size limit is returned cut, for the parser to report
/// as `policy-too-large`.
pub(crate) fn read_policy(path: &Path) -> Result<String, Failure> {
    read_policy_within(path, DEFAULT_TIMEOUT)
}

/// As [`read_policy`], with `timeout` for a policy that is not a regular file (`--timeout`).
pub(crate) fn read_policy_within(path: &Path, timeout: Duration) -> Result<String, Failure> {
    let limit = evalgate::policy::MAX_POLICY_BYTES;
    let bytes = evalgate::source::read_file(path, limit as u64, timeout).map_err(|e| {
        Failure::new(
            Kind::InvalidPolicy,
            format!("policy: cannot read {}: {e}", path.display()),
        )
    })?;
    if bytes.len() > limit {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::new(
            Kind::InvalidPolicy,
            format!(
                "policy: {} is not UTF-8 text (byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads at most `limit + 1` bytes of a file given on the command line (see
/// `evalgate::source::read_file`); something that is not a regular file must deliver within
/// 30 seconds.
pub(crate) fn read_capped(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    evalgate::source::read_file(path, limit as u64, DEFAULT_TIMEOUT)
}

/// How long a FIFO or device given as a file may take, where no `--timeout` applies.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Parses the policy, printing its diagnostics against `text`.
pub(crate) fn load_policy(text: &str, name: &str) -> Result<Policy, Failure> {
    match parse_policy(text) {
        Ok((policy, warnings)) => {
            diag::print(&warnings, text, name);
            Ok(policy)
        }
        Err(e) => {
            diag::print(&e.diagnostics, text, name);
            Err(Failure::new(
                Kind::InvalidPolicy,
                format!("{name}: {e}; see {}/policy.md", evalgate::DOCS_URL),
            ))
        }
    }
}
