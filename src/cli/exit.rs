//! Exit codes and the failures that lead to them: the only place the numbers appear.
//! Documented in docs/exit-codes.md (a test keeps the two in step).
//!
//! 1 means "the model regressed" and nothing else; 2–7 mean "the gate could not tell".

use evalgate::Error;
use evalgate::gate::GateError;
use evalgate::model::ParseEvalError;
use evalgate::source::FetchError;

/// Every check passed (warnings allowed).
pub(crate) const PASS: u8 = 0;
/// At least one fail-severity check failed.
pub(crate) const REGRESSION: u8 = 1;

/// Why a run ended without a verdict. Each kind has one exit code ([`Kind::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Bad arguments (clap exits 2 as well).
    Usage,
    /// The policy is invalid, names what neither eval has, or judged nothing.
    InvalidPolicy,
    /// An eval could not be loaded.
    EvalUnavailable,
    /// An eval is not finished yet.
    EvalNotFinished,
    /// The evals, or an eval and the policy, are of different tasks.
    NotComparable,
    /// A report (or a comment) could not be written.
    ReportNotWritten,
}

impl Kind {
    /// Every kind, in the order of their codes.
    #[cfg(test)]
    pub(crate) const ALL: [Kind; 6] = [
        Kind::Usage,
        Kind::InvalidPolicy,
        Kind::EvalUnavailable,
        Kind::EvalNotFinished,
        Kind::NotComparable,
        Kind::ReportNotWritten,
    ];

    /// The exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Kind::Usage => 2,
            Kind::InvalidPolicy => 3,
            Kind::EvalUnavailable => 4,
            Kind::EvalNotFinished => 5,
            Kind::NotComparable => 6,
            Kind::ReportNotWritten => 7,
        }
    }

    /// Its name in docs/exit-codes.md and `check --help`.
    #[cfg(test)]
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Kind::Usage => "usage error",
            Kind::InvalidPolicy => "invalid policy",
            Kind::EvalUnavailable => "eval not loaded",
            Kind::EvalNotFinished => "eval not finished",
            Kind::NotComparable => "not comparable",
            Kind::ReportNotWritten => "report not written",
        }
    }

    /// What a library error means for the run.
    pub(crate) fn of(error: &Error) -> Kind {
        match error {
            Error::Policy(_) => Kind::InvalidPolicy,
            Error::Gate(GateError::NotComparable(_) | GateError::ImagesDiffer { .. }) => {
                Kind::NotComparable
            }
            Error::Gate(GateError::NoImageData { .. } | GateError::ImageData(_)) => {
                Kind::EvalUnavailable
            }
            Error::Gate(_) => Kind::InvalidPolicy,
            Error::Eval(ParseEvalError::NotFinished(_)) => Kind::EvalNotFinished,
            Error::Fetch(FetchError::NotFinished { .. }) => Kind::EvalNotFinished,
            Error::Fetch(FetchError::BadUrl { .. }) => Kind::Usage,
            Error::Source(_) | Error::Eval(_) | Error::Fetch(_) => Kind::EvalUnavailable,
            Error::Comment(_) => Kind::ReportNotWritten,
            _ => Kind::EvalUnavailable,
        }
    }
}

/// A failure that ends the run: what it means and what to tell the user.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: Kind,
    pub(crate) message: String,
    /// Stopped because another part of the run failed; that failure is the one to report.
    pub(crate) cancelled: bool,
}

impl Failure {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            cancelled: false,
        }
    }

    /// A library error, with `context` (a role, a file) in front of its message.
    pub(crate) fn of(context: &str, error: impl Into<Error>) -> Self {
        let error = error.into();
        let message = if context.is_empty() {
            error.to_string()
        } else {
            format!("{context}: {error}")
        };
        Failure {
            kind: Kind::of(&error),
            message,
            cancelled: matches!(error, Error::Fetch(FetchError::Cancelled)),
        }
    }
}

/// Every exit code evalgate chooses, with its meaning, in order: what docs/exit-codes.md and
/// `check --help` must list.
#[cfg(test)]
pub(crate) fn table() -> Vec<(u8, &'static str)> {
    let mut codes = vec![(PASS, "pass"), (REGRESSION, "regression")];
    codes.extend(Kind::ALL.iter().map(|k| (k.code(), k.meaning())));
    codes
}

#[cfg(test)]
mod tests {
    use super::table;

    /// docs/exit-codes.md has one table row per code, `| N | meaning |`.
    #[test]
    fn the_documented_codes_are_the_codes() {
        let doc = include_str!("../../docs/exit-codes.md");
        let documented: Vec<(u8, String)> = doc
            .lines()
            .filter_map(|l| {
                let mut cells = l.trim_start_matches('|').split('|').map(str::trim);
                let code = cells.next()?.parse().ok()?;
                Some((code, cells.next()?.to_owned()))
            })
            .filter(|(code, _)| *code != 101)
            .collect();
        let ours: Vec<(u8, String)> = table()
            .into_iter()
            .map(|(c, n)| (c, n.to_owned()))
            .collect();
        assert_eq!(documented, ours);
    }
}
