//! Policy diagnostics on the terminal, as rustc-style code frames.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use anstream::eprintln;
use evalgate::policy::{Diagnostic, DiagnosticLevel};

/// Prints each diagnostic to stderr with the policy line it points at.
pub(crate) fn print(diags: &[Diagnostic], text: &str, path: &str) {
    let renderer = Renderer::styled();
    for d in diags {
        eprintln!("{}\n", renderer.render(&[group(d, text, path)]));
    }
}

fn group<'a>(d: &'a Diagnostic, text: &'a str, path: &'a str) -> Group<'a> {
    let level = match d.level {
        DiagnosticLevel::Error => Level::ERROR,
        DiagnosticLevel::Warning => Level::WARNING,
    };
    let mut g = Group::with_title(level.primary_title(d.message.as_str()).id(d.code));
    if let Some(span) = d.span {
        let range = span.byte_range(text);
        g = g.element(
            Snippet::source(text)
                .path(path)
                .annotation(AnnotationKind::Primary.span(range)),
        );
    } else {
        g = g.element(Level::NOTE.message(format!("in {path}")));
    }
    if let Some(help) = &d.help {
        g = g.element(Level::HELP.message(help.as_str()));
    }
    g
}
