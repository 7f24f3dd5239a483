//! Reading the policy file, for every command that takes one.

use std::io;
use std::path::Path;

use evalgate::policy::{Policy, parse_policy};

use super::diag;
use super::exit::{Failure, Kind};

/// The policy's text; a policy over the size limit is returned cut, for the parser to report
/// as `policy-too-large`.
pub(crate) fn read_policy(path: &Path) -> Result<String, Failure> {
    let limit = evalgate::policy::MAX_POLICY_BYTES;
    let bytes = read_capped(path, limit).map_err(|e| {
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

/// Reads at most `limit + 1` bytes, so that a path to something endless (`/dev/zero`, a pipe
/// that never closes) costs a bounded amount of memory and the caller can tell it was over.
pub(crate) fn read_capped(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

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
                format!("{name}: {e}; see docs/policy.md"),
            ))
        }
    }
}
