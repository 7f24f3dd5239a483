//! Policy diagnostics on the terminal, as rustc-style code frames.

use anstream::eprintln;
use evalgate::policy::Diagnostic;

/// Prints each diagnostic to stderr with the policy line it points at. Colours are dropped
/// when stderr is not a terminal or NO_COLOR is set.
pub(crate) fn print(diags: &[Diagnostic], text: &str, path: &str) {
    for d in diags {
        eprintln!("{}\n", super::redact::clean(&d.render(text, path, true)));
    }
}
