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
        let range = byte_range(text, span);
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

/// The bytes a span covers: as the parser reported them, or else from the line and column to
/// the end of the token there.
fn byte_range(text: &str, span: evalgate::policy::Span) -> std::ops::Range<usize> {
    let start = span.offset.filter(|o| *o <= text.len()).unwrap_or_else(|| {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(span.line.saturating_sub(1) as usize)
            .map(str::len)
            .sum();
        let line = &text[line_start.min(text.len())..];
        line_start
            + line
                .char_indices()
                .nth(span.column.saturating_sub(1) as usize)
                .map_or(line.len(), |(i, _)| i)
    });
    let start = start.min(text.len());
    let rest = &text[start..];
    let len = span
        .len
        .filter(|l| *l > 0 && start + l <= text.len())
        .unwrap_or_else(|| {
            rest.find(|c: char| c.is_whitespace() || matches!(c, ',' | '}' | ']' | ':'))
                .unwrap_or(rest.len())
        });
    // An empty span would draw nothing; mark the character there instead.
    let len = if len == 0 {
        rest.chars().next().map_or(0, char::len_utf8)
    } else {
        len
    };
    start..start + len
}
