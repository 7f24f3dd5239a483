//! Untrusted text (class and split names, server and check messages) made safe for every
//! output but JSON, in one place that every renderer calls.
//!
//! - [`visible`] shows a name so that distinct names look distinct: a name that is empty,
//!   blank at either end, holds a control character or a run of spaces is quoted, with each
//!   such character written as an escape.
//! - [`cap`] bounds a string: past the limit it ends in `…` and a short hash of the whole
//!   string, so that two long names that share a beginning stay apart.
//! - [`escape_markdown`] makes text inert in GitHub's Markdown: no table break, HTML,
//!   formatting, link, autolink (`https://`, `www.`, e-mail), mention, or issue and commit
//!   reference (`#1`, `GH-1`, `owner/repo#1`, a SHA).

use std::borrow::Cow;
use std::fmt::Write as _;

/// The zero-width space that breaks what GitHub would otherwise link, as an entity.
const ZWSP: &str = "&#8203;";

/// A short hash of `text` that is the same in every run and on every platform (FNV-1a, 32
/// bits shown), to tell apart strings that were cut. Its eight letters avoid hex digits and
/// vowels, so that it never reads as a commit SHA (which GitHub would link) or a word.
pub fn short_hash(text: &str) -> String {
    const ALPHABET: &[u8; 16] = b"ghjkmnpqrstvwxyz";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let folded = (h >> 32) ^ (h & 0xffff_ffff);
    (0..8)
        .rev()
        .map(|i| char::from(ALPHABET[((folded >> (4 * i)) & 15) as usize]))
        .collect()
}

/// `text` cut to at most `max` characters (at least 16), ending in `…` and the
/// [`short_hash`] of `whole` (usually `text` itself, or the name `text` was made from).
pub fn cap<'a>(text: &'a str, max: usize, whole: &str) -> Cow<'a, str> {
    let max = max.max(16);
    if text.chars().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    let hash = short_hash(whole);
    let keep = max - 1 - hash.len();
    let mut out: String = text.chars().take(keep).collect();
    out.push('…');
    out.push_str(&hash);
    Cow::Owned(out)
}

/// A name as people should see it: as it is when that is unambiguous, else quoted with
/// escapes (`""`, `"␠car"`, `"new\nline"`, `"a␠␠b"`). A plain name never starts with `"`,
/// so a quoted one cannot be mistaken for a plain one.
pub fn visible(name: &str) -> Cow<'_, str> {
    let odd = |c: char| c.is_control() || is_invisible(c) || (c.is_whitespace() && c != ' ');
    let plain = !name.is_empty()
        && !name.starts_with([' ', '"'])
        && !name.ends_with(' ')
        && !name.contains("  ")
        && !name.contains(odd);
    if plain {
        return Cow::Borrowed(name);
    }
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for (i, &c) in chars.iter().enumerate() {
        let lone_inner_space =
            c == ' ' && i > 0 && i + 1 < chars.len() && chars[i - 1] != ' ' && chars[i + 1] != ' ';
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' ' if lone_inner_space => out.push(' '),
            ' ' => out.push('␠'),
            '␠' => out.push_str("\\u{2420}"),
            c if odd(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// A name for a one-line output (terminal, annotation, JUnit): [`visible`], then [`cap`]ped.
pub fn name(text: &str, max: usize) -> String {
    cap(&visible(text), max, text).into_owned()
}

/// Whether `c` is invisible or reorders text (zero-width characters, Unicode bidirectional
/// controls), which could make a name read as something else.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{061C}' | '\u{00AD}')
}

/// Whether `c` reorders text (Unicode bidirectional controls).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Makes untrusted text inert inside a Markdown table cell or HTML element, as GitHub renders
/// it (cmark-gfm with its autolink extension, plus GitHub's mentions and references).
pub fn escape_markdown(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let lower = |i: usize| chars[i].to_ascii_lowercase();
    // How many hex digits came just before, in this run.
    let mut hex_run = 0;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_hexdigit() {
            // A SHA is 7 or more hex digits; a break every 6 leaves none that long.
            if hex_run == 6 {
                out.push_str(ZWSP);
                hex_run = 0;
            }
            hex_run += 1;
        } else {
            hex_run = 0;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // A zero-width space after `@` or `#` stops mentions, e-mail autolinks and issue
            // references.
            '@' => out.push_str("@&#8203;"),
            '#' => out.push_str("#&#8203;"),
            // `scheme://` autolinks; the zero-width space goes between `:` and `//`.
            ':' if chars.get(i + 1) == Some(&'/') => out.push_str(":&#8203;"),
            // `www.` autolinks.
            '.' if i >= 3 && (1..=3).all(|k| lower(i - k) == 'w') => {
                out.push_str("&#8203;.");
            }
            // `GH-123` references.
            '-' if i >= 2 && lower(i - 2) == 'g' && lower(i - 1) == 'h' => {
                out.push_str("-&#8203;");
            }
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // Line breaks would end the table row; bidi controls could disguise text.
            c if c.is_control() || is_bidi_control(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes control characters (newlines, ESC) so that untrusted text cannot start a line of
/// its own or restyle a terminal, and splits `::` so that nothing in a CI log reads as a
/// workflow command.
pub fn terminal_safe(text: &str) -> String {
    let escaped: String = text
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    escaped.replace("::", ":\u{200B}:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_names_look_distinct() {
        let names = [
            "",
            " ",
            "  ",
            "new line",
            "new\nline",
            "new  line",
            "new\\nline",
            " car",
            "car ",
            "\"car\"",
            "car",
            "car\u{200B}",
            "a␠b",
            "a\tb",
        ];
        let shown: Vec<String> = names.iter().map(|n| visible(n).into_owned()).collect();
        for (i, a) in shown.iter().enumerate() {
            for (j, b) in shown.iter().enumerate() {
                assert!(
                    i == j || a != b,
                    "{:?} and {:?} both show as {a}",
                    names[i],
                    names[j]
                );
            }
        }
        assert_eq!(visible("car"), "car");
        assert_eq!(visible("new line"), "new line");
        assert_eq!(visible(""), "\"\"");
        assert_eq!(visible("new\nline"), "\"new\\nline\"");
        assert_eq!(visible("  "), "\"␠␠\"");
    }

    #[test]
    fn long_names_are_capped_with_a_stable_hash() {
        let a = format!("{}a", "x".repeat(100));
        let b = format!("{}b", "x".repeat(100));
        let (ca, cb) = (name(&a, 80), name(&b, 80));
        assert_eq!(ca.chars().count(), 80);
        assert!(ca.contains('…'));
        assert_ne!(ca, cb);
        assert_eq!(ca, name(&a, 80), "the same name caps the same way");
        // FNV-1a-64 of "car" folded to 32 bits, in the hash's alphabet, computed in Python:
        // h = 0xcbf29ce484222325; for b in b"car": h = ((h ^ b) * 0x100000001b3) % 2**64
        assert_eq!(short_hash("car"), "zsgqstxr");
        assert_eq!(name("car", 80), "car");
        let huge = "y".repeat(20 << 20);
        assert_eq!(name(&huge, 200).chars().count(), 200);
    }

    #[test]
    fn markdown_never_links_or_references() {
        let md = escape_markdown(
            "see https://x.io www.y.com ftp://f GH-12 o/r#1 @me a@b.co deadbeef1234 [x](https://z)",
        );
        for live in [
            "://", "www.", "GH-1", "#1", "@m", "@b", "deadbeef", "[x](", "[x]",
        ] {
            assert!(!md.contains(live), "{live} survives in {md}");
        }
        assert!(md.contains("https:&#8203;//x.io"), "{md}");
    }
}
