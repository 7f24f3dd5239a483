//! Problems found in a policy, as plain data. The binary decides how to show them.

use std::fmt;

/// A position in the policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Byte offset of the start, when known.
    pub offset: Option<usize>,
    /// Length in bytes, when known.
    pub len: Option<usize>,
}

impl Span {
    /// The bytes of `text` this span covers: as the parser reported them, or else from the
    /// line and column to the end of the token there. Always a valid, non-empty range of
    /// `text` (unless `text` is empty), on character boundaries, so that a renderer can draw it.
    pub fn byte_range(&self, text: &str) -> std::ops::Range<usize> {
        let start = self
            .offset
            .filter(|o| *o <= text.len() && text.is_char_boundary(*o))
            .unwrap_or_else(|| {
                let line_start: usize = text
                    .split_inclusive('\n')
                    .take(self.line.saturating_sub(1) as usize)
                    .map(str::len)
                    .sum();
                let line = &text[line_start.min(text.len())..];
                line_start
                    + line
                        .char_indices()
                        .nth(self.column.saturating_sub(1) as usize)
                        .map_or(line.len(), |(i, _)| i)
            });
        let start = start.min(text.len());
        let rest = &text[start..];
        let len = self
            .len
            .filter(|l| *l > 0 && start + l <= text.len() && text.is_char_boundary(start + l))
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
}

/// A diagnostic's stable code: its kebab-case name is what users see and search for, and
/// docs/diagnostics.md has a section for each (a test keeps them in step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `yaml-syntax`.
    YamlSyntax,
    /// `policy-too-large`.
    PolicyTooLarge,
    /// `empty-policy`.
    EmptyPolicy,
    /// `wrong-type`.
    WrongType,
    /// `unknown-key`.
    UnknownKey,
    /// `missing-version`.
    MissingVersion,
    /// `unsupported-version`.
    UnsupportedVersion,
    /// `invalid-value`.
    InvalidValue,
    /// `not-a-fraction`.
    NotAFraction,
    /// `empty-rule`.
    EmptyRule,
    /// `min-above-max`.
    MinAboveMax,
    /// `unknown-metric`.
    UnknownMetric,
    /// `metric-not-in-task`.
    MetricNotInTask,
    /// `sizes-not-in-task`.
    SizesNotInTask,
    /// `no-operating-point`.
    NoOperatingPoint,
    /// `field-not-for-metric`.
    FieldNotForMetric,
    /// `auto-without-statistics`.
    AutoWithoutStatistics,
    /// `invalid-glob`.
    InvalidGlob,
    /// `invalid-date`.
    InvalidDate,
    /// `missing-field`.
    MissingField,
    /// `unknown-split`.
    UnknownSplit,
    /// `unknown-class`.
    UnknownClass,
    /// `glob-matches-nothing`.
    GlobMatchesNothing,
    /// `waiver-expired`.
    WaiverExpired,
    /// `waiver-expiring`.
    WaiverExpiring,
    /// `shadowed-rule`.
    ShadowedRule,
    /// `duplicate-rule`.
    DuplicateRule,
}

impl Code {
    /// Every code, in the order docs/diagnostics.md lists them.
    pub const ALL: [Code; 27] = [
        Code::YamlSyntax,
        Code::PolicyTooLarge,
        Code::EmptyPolicy,
        Code::WrongType,
        Code::UnknownKey,
        Code::MissingVersion,
        Code::UnsupportedVersion,
        Code::InvalidValue,
        Code::NotAFraction,
        Code::EmptyRule,
        Code::MinAboveMax,
        Code::UnknownMetric,
        Code::MetricNotInTask,
        Code::SizesNotInTask,
        Code::NoOperatingPoint,
        Code::FieldNotForMetric,
        Code::AutoWithoutStatistics,
        Code::InvalidGlob,
        Code::InvalidDate,
        Code::MissingField,
        Code::UnknownSplit,
        Code::UnknownClass,
        Code::GlobMatchesNothing,
        Code::WaiverExpired,
        Code::WaiverExpiring,
        Code::ShadowedRule,
        Code::DuplicateRule,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Code::YamlSyntax => "yaml-syntax",
            Code::PolicyTooLarge => "policy-too-large",
            Code::EmptyPolicy => "empty-policy",
            Code::WrongType => "wrong-type",
            Code::UnknownKey => "unknown-key",
            Code::MissingVersion => "missing-version",
            Code::UnsupportedVersion => "unsupported-version",
            Code::InvalidValue => "invalid-value",
            Code::NotAFraction => "not-a-fraction",
            Code::EmptyRule => "empty-rule",
            Code::MinAboveMax => "min-above-max",
            Code::UnknownMetric => "unknown-metric",
            Code::MetricNotInTask => "metric-not-in-task",
            Code::SizesNotInTask => "sizes-not-in-task",
            Code::InvalidGlob => "invalid-glob",
            Code::InvalidDate => "invalid-date",
            Code::MissingField => "missing-field",
            Code::UnknownSplit => "unknown-split",
            Code::UnknownClass => "unknown-class",
            Code::GlobMatchesNothing => "glob-matches-nothing",
            Code::WaiverExpired => "waiver-expired",
            Code::WaiverExpiring => "waiver-expiring",
            Code::ShadowedRule => "shadowed-rule",
            Code::DuplicateRule => "duplicate-rule",
            Code::NoOperatingPoint => "no-operating-point",
            Code::FieldNotForMetric => "field-not-for-metric",
            Code::AutoWithoutStatistics => "auto-without-statistics",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiagnosticLevel {
    /// The policy cannot be used.
    Error,
    /// The policy works, but probably not as its author meant.
    Warning,
}

/// One problem with a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: DiagnosticLevel,
    /// Its stable code.
    pub code: Code,
    /// What is wrong, as a lowercase sentence fragment.
    pub message: String,
    /// Where, when it can be pinned down.
    pub span: Option<Span>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn error(code: Code, message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            level: DiagnosticLevel::Error,
            code,
            message: message.into(),
            span,
            help: None,
        }
    }

    pub(crate) fn warning(code: Code, message: impl Into<String>, span: Option<Span>) -> Self {
        Diagnostic {
            level: DiagnosticLevel::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this diagnostic makes the policy unusable.
    pub fn is_error(&self) -> bool {
        self.level == DiagnosticLevel::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.span {
            write!(f, "line {}, column {}: ", s.line, s.column)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

impl Diagnostic {
    /// The diagnostic as a rustc-style code frame pointing at its place in `text` (the policy
    /// file, named `path`), with ANSI colours when `styled`.
    pub fn render(&self, text: &str, path: &str, styled: bool) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
        let level = match self.level {
            DiagnosticLevel::Error => Level::ERROR,
            DiagnosticLevel::Warning => Level::WARNING,
        };
        let mut g = Group::with_title(
            level
                .primary_title(self.message.as_str())
                .id(self.code.name()),
        );
        g = match self.span {
            Some(span) => g.element(
                Snippet::source(text)
                    .path(path)
                    .annotation(AnnotationKind::Primary.span(span.byte_range(text))),
            ),
            None => g.element(Level::NOTE.message(format!("in {path}"))),
        };
        if let Some(help) = &self.help {
            g = g.element(Level::HELP.message(help.as_str()));
        }
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        renderer.render(&[g])
    }
}

/// A policy that cannot be used, with every problem found in it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{} in the policy", count(.diagnostics))]
pub struct PolicyError {
    /// Every diagnostic, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

fn count(diags: &[Diagnostic]) -> String {
    let n = diags.iter().filter(|d| d.is_error()).count();
    if n == 1 {
        "1 error".into()
    } else {
        format!("{n} errors")
    }
}

/// Gathers diagnostics while validation keeps going.
#[derive(Default)]
pub(crate) struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    /// `Ok` with the warnings when there is no error, else every diagnostic.
    pub(crate) fn finish<T>(mut self, value: T) -> Result<(T, Vec<Diagnostic>), PolicyError> {
        self.list
            .sort_by_key(|d| d.span.map_or((0, 0), |s| (s.line, s.column)));
        if self.has_errors() {
            Err(PolicyError {
                diagnostics: self.list,
            })
        } else {
            Ok((value, self.list))
        }
    }
}

/// The closest candidate to a misspelled `name`, if one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lowered = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let score = strsim::normalized_damerau_levenshtein(&lowered, &c.to_lowercase())
                .max(strsim::jaro_winkler(&lowered, &c.to_lowercase()) - 0.1);
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let metrics = ["map50", "map50_95", "map75"];
        assert_eq!(did_you_mean("map50-95", metrics), Some("map50_95"));
        assert_eq!(did_you_mean("mAP50", metrics), Some("map50"));
        assert_eq!(did_you_mean("recall", metrics), None);
        assert_eq!(
            did_you_mean("Car-rim", ["Car-rims", "music-note"]),
            Some("Car-rims")
        );
        assert_eq!(did_you_mean("bus", ["Car-rims", "music-note"]), None);
    }
}

#[cfg(test)]
mod code_tests {
    use super::Code;

    /// Every code has its section in docs/diagnostics.md, in order, and the doc has no other.
    #[test]
    fn docs_list_every_code() {
        let doc = include_str!("../../docs/diagnostics.md");
        let documented: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("## `")?.strip_suffix('`'))
            .collect();
        let ours: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(documented, ours);
    }
}
