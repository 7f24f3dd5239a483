//! The exit codes: the only place the numbers appear. Documented in docs/exit-codes.md.
//!
//! 1 means "the model regressed" and nothing else; 2–7 mean "the gate could not tell".

/// Every check passed (warnings allowed).
pub(crate) const PASS: u8 = 0;
/// At least one fail-severity check failed.
pub(crate) const REGRESSION: u8 = 1;
/// Bad arguments (clap exits 2 as well).
pub(crate) const USAGE: u8 = 2;
/// The policy is invalid, or names what neither eval has.
pub(crate) const INVALID_POLICY: u8 = 3;
/// An eval could not be loaded.
pub(crate) const EVAL_UNAVAILABLE: u8 = 4;
/// An eval is not finished yet.
pub(crate) const EVAL_NOT_FINISHED: u8 = 5;
/// The evals, or an eval and the policy, are of different tasks.
pub(crate) const NOT_COMPARABLE: u8 = 6;
/// A report could not be written.
pub(crate) const REPORT_NOT_WRITTEN: u8 = 7;
