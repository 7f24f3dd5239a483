//! evalgate: a regression gate for computer-vision model evaluations.
//!
//! The library is a pipeline: [`source`] reads eval bytes, [`model`] parses them into an
//! [`Eval`], [`policy`] reads the YAML policy, [`gate`] compares the two evals under the policy,
//! and [`report`] renders the result as JSON, JUnit XML or Markdown. It never prints and never
//! exits; the `evalgate` binary does both.
//!
//! [`Gate`] is the one way to a verdict: it checks that the evals are comparable and that the
//! policy's names exist in them, and it never passes a gate that judged nothing.
//!
//! ```
//! use evalgate::{Gate, GateOptions, Verdict, parse_eval, parse_policy};
//!
//! let (policy, _warnings) = parse_policy(
//!     "version: 1\nsplits:\n  valid:\n    map50_95: {min: 0.70, max_drop: 0.01}\n",
//! )?;
//! let baseline = parse_eval(br#"{"splits": {"valid": {"map50_95": 0.74}}}"#)?;
//! let candidate = parse_eval(br#"{"splits": {"valid": {"map50_95": 0.71}}}"#)?;
//! let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
//! let report = Gate::new(&policy, Some(&baseline), &candidate)?.evaluate(&GateOptions::new(today))?;
//! // 0.71 clears the 0.70 floor but dropped 0.03, more than the allowed 0.01.
//! assert_eq!(report.verdict, Verdict::Fail);
//! # Ok::<(), evalgate::Error>(())
//! ```
#![deny(missing_docs)]
#![warn(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::exit,
    clippy::unwrap_used
)]

pub mod authoring;
pub mod coco;
pub mod comment;
mod error;
pub mod gate;
pub mod http;
pub mod model;
pub mod policy;
pub mod report;
pub mod source;
pub mod stats;

/// evalgate's home. The Action's installer (action/install.sh) downloads release archives
/// from its `/releases/download/`; a test keeps the two in step.
pub const HOME_URL: &str = "https://github.com/evalgate/evalgate";

/// The documentation (the repository's docs/ on its default branch), for help texts, error
/// messages and generated policies: a binary installed by the Action has no docs/ beside it.
pub const DOCS_URL: &str = "https://github.com/evalgate/evalgate/blob/main/docs";

pub use error::Error;
pub use gate::{Check, Gate, GateError, GateOptions, GateReport, Status, Verdict};
pub use model::{Eval, parse_eval};
pub use policy::{Policy, parse_policy};
pub use report::{Format, ReportContext};
