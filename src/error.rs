//! One error over every stage of the pipeline, so that a caller handles one type, and the
//! `evalgate` binary maps it to an exit code in one place.

use crate::comment::CommentError;
use crate::gate::GateError;
use crate::model::ParseEvalError;
use crate::policy::PolicyError;
use crate::source::{FetchError, SourceError};

/// What stopped the pipeline, by stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// An eval source could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// An eval could not be fetched from the API.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// An eval's bytes are not a usable eval.
    #[error(transparent)]
    Eval(#[from] ParseEvalError),
    /// The gate could not decide: the evals are not comparable, the policy names what they
    /// lack, or nothing could be judged.
    #[error(transparent)]
    Gate(#[from] GateError),
    /// A PR or MR comment could not be posted.
    #[error(transparent)]
    Comment(#[from] CommentError),
}
