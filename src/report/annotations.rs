//! GitHub Actions workflow commands for a gate result: `::error` and `::warning` annotations
//! that point at the policy line of each failing rule.
//!
//! GitHub shows at most 10 annotations of each kind per step, so each kind is capped at 10:
//! the 9 worst and one that counts the rest. Every piece of text is escaped as the runner
//! expects, so no class name can end the command early or start another one.

use super::text::cap;
use super::{message, place_label, test_label};

/// Titles and messages are cut to this many characters (with a hash that keeps them
/// distinct): a 20 MB class name must not become 20 MB of log.
const MAX_TITLE_CHARS: usize = 200;
const MAX_MESSAGE_CHARS: usize = 400;
use crate::gate::{Check, GateReport, Status};

/// GitHub displays no more than this many annotations of one kind per step.
pub const MAX_ANNOTATIONS: usize = 10;

/// The annotation lines, errors first, each kind worst first.
pub fn annotations(report: &GateReport, policy: &str) -> Vec<String> {
    let worst = report.worst();
    let mut lines = Vec::new();
    for (status, command, noun) in [
        (Status::Fail, "error", "failing"),
        (Status::Warn, "warning", "warning"),
    ] {
        let of_kind: Vec<&&Check> = worst.iter().filter(|c| c.status == status).collect();
        let shown = if of_kind.len() > MAX_ANNOTATIONS {
            MAX_ANNOTATIONS - 1
        } else {
            of_kind.len()
        };
        for c in &of_kind[..shown] {
            let mut props = format!("file={}", escape_property(policy));
            if let Some(line) = c.line() {
                props.push_str(&format!(",line={line}"));
            }
            let title = format!("evalgate: {} / {}", place_label(c), test_label(c));
            let title = cap(&title, MAX_TITLE_CHARS, &title);
            props.push_str(&format!(",title={}", escape_property(&title)));
            lines.push(format!(
                "::{command} {props}::{}",
                escape_data(&{
                    let m = message(report, c);
                    cap(&m, MAX_MESSAGE_CHARS, &m).into_owned()
                })
            ));
        }
        if of_kind.len() > shown {
            lines.push(format!(
                "::{command} file={},title=evalgate::{}",
                escape_property(policy),
                escape_data(&format!(
                    "and {} more {noun} checks; see the job summary",
                    of_kind.len() - shown
                ))
            ));
        }
    }
    lines
}

/// Escapes a command's message: `%`, CR and LF as the runner expects, and `::` split by a
/// zero-width space so that it cannot read as a command separator.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace("::", ":\u{200B}:")
}

/// Escapes a command property (file, title): as [`escape_data`], plus `:` and `,`.
pub fn escape_property(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_runner_expects() {
        assert_eq!(
            escape_data("50% done\r\nnext ::error::x"),
            "50%25 done%0D%0Anext :\u{200B}:error:\u{200B}:x"
        );
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
