//! The policy YAML as a tree of positioned nodes.
//!
//! The YAML library stops at its first error, so deserializing straight into typed structs
//! would report one problem per run. Instead the YAML is read into this untyped tree (each
//! node knows its line and column) and `validate` walks it, collecting every problem.
//! Only malformed YAML (and the resource budget) stops early. This file is the only one that
//! knows the YAML library.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::diagnostic::{Code, Diagnostic, Span};

/// Policy files larger than this are refused before parsing.
pub const MAX_POLICY_BYTES: usize = 1 << 20;

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) span: Span,
    pub(crate) kind: Kind,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    Map(Vec<(Key, Node)>),
    Seq(Vec<Node>),
}

#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) span: Span,
}

impl Kind {
    /// How this node reads to a user in a "found …" message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Kind::Null => "null".into(),
            Kind::Bool(b) => format!("boolean {b}"),
            Kind::Number(n) => format!("number {n}"),
            Kind::Str(s) => format!("string {s:?}"),
            Kind::Map(_) => "a mapping".into(),
            Kind::Seq(_) => "a list".into(),
        }
    }
}

fn span_of(loc: &serde_saphyr::Location) -> Span {
    let s = loc.span();
    Span {
        line: u32::try_from(loc.line()).unwrap_or(u32::MAX),
        column: u32::try_from(loc.column()).unwrap_or(u32::MAX),
        offset: s.byte_offset().and_then(|o| usize::try_from(o).ok()),
        len: s.byte_len().and_then(|l| usize::try_from(l).ok()),
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Kind>>()? {
            items.push(Node {
                span: span_of(&item.referenced),
                kind: item.value,
            });
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            // The YAML library tells `1` from `1.0` and `"1"`, and `null` from `~`; the policy
            // reads every key as text, where they are one key and the later would override
            // the earlier.
            let line = span_of(&key.referenced).line;
            if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == key.value.0) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate mapping key: {} (lines {} and {line}; keys like `1` and `1.0`, `\"1\"` and `1`, or `null` and `~` are the same key)",
                    key.value.0, first.span.line
                )));
            }
            let value = map.next_value::<Spanned<Kind>>()?;
            entries.push((
                Key {
                    name: key.value.0,
                    span: span_of(&key.referenced),
                },
                Node {
                    span: span_of(&value.referenced),
                    kind: value.value,
                },
            ));
        }
        Ok(Kind::Map(entries))
    }
}

/// A mapping key. YAML allows any scalar as a key (`0.5:`, `true:`); the policy reads them all
/// as text so that validation, not the parser, reports what is wrong with them.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
            fn visit_none<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses YAML text into a node tree, within a resource budget.
pub(crate) fn parse(text: &str) -> Result<Node, Diagnostic> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(Diagnostic::error(
            Code::PolicyTooLarge,
            format!("the policy is larger than {MAX_POLICY_BYTES} bytes, the limit for a policy"),
            None,
        ));
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_POLICY_BYTES),
            max_depth: 32,
            max_nodes: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
        },
        strict_booleans: true,
    };
    let spanned: Spanned<Kind> =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| {
            let span = e.location().map(|l| span_of(&l));
            let inner = e.without_snippet();
            let message = plain_message(&inner.to_string());
            Diagnostic::error(Code::YamlSyntax, message, span)
        })?;
    Ok(Node {
        span: span_of(&spanned.referenced),
        kind: spanned.value,
    })
}

/// The YAML library's message without the position it appends (the diagnostic shows it)
/// and without advice about its own options, which users cannot set.
fn plain_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or(text).trim();
    let mut msg = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    for library_advice in [
        ", set DuplicateKeyPolicy",
        " rejected by the configured policy",
    ] {
        if let Some(i) = msg.find(library_advice) {
            msg = &msg[..i];
        }
    }
    msg.trim_end_matches(':').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let node = parse("version: 1\nsplits:\n  valid:\n    map50: 0.85\n").unwrap();
        let Kind::Map(top) = &node.kind else { panic!() };
        assert_eq!(top[1].0.name, "splits");
        assert_eq!((top[1].0.span.line, top[1].0.span.column), (2, 1));
        let Kind::Map(splits) = &top[1].1.kind else {
            panic!()
        };
        let Kind::Map(valid) = &splits[0].1.kind else {
            panic!()
        };
        assert_eq!(valid[0].0.name, "map50");
        assert_eq!((valid[0].1.span.line, valid[0].1.span.column), (4, 12));
        assert!(matches!(valid[0].1.kind, Kind::Number(n) if n == 0.85));
    }

    #[test]
    fn refuses_alias_bombs_and_deep_nesting() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let err = parse(&bomb).unwrap_err();
        assert_eq!(err.code, Code::YamlSyntax);
        let deep = format!("a: {}{}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(parse(&deep).unwrap_err().code, Code::YamlSyntax);
    }

    #[test]
    fn rejects_duplicate_keys() {
        let err = parse("version: 1\nversion: 2\n").unwrap_err();
        assert_eq!(err.span.map(|s| s.line), Some(2), "{err:?}");
        assert_eq!(err.message, "duplicate mapping key: version");
        for (text, key) in [
            ("a:\n  1: {min: 0.95}\n  1.0: {min: 0.1}\n", "1"),
            ("a:\n  \"1\": x\n  1: y\n", "1"),
            ("a:\n  null: x\n  ~: y\n", "null"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.code, Code::YamlSyntax, "{text:?}");
            assert!(
                err.message
                    .starts_with(&format!("duplicate mapping key: {key} (lines 2 and 3;")),
                "{text:?}: {}",
                err.message
            );
        }
        let err = parse("min: 1e400\n").unwrap_err();
        assert!(!err.message.contains("policy"), "{}", err.message);
    }
}
