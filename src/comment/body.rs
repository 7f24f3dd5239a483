//! The comment body: a hidden marker, then the report, cut to the platform's limit.

/// GitHub refuses comment bodies over 65,536 characters.
pub const GITHUB_MAX_CHARS: usize = 65_536;
/// GitHub also refuses bodies over 262,144 bytes (four-byte characters count four times).
pub const GITHUB_MAX_BYTES: usize = 262_144;
/// GitLab notes take up to 1,000,000 characters.
pub const GITLAB_MAX_CHARS: usize = 1_000_000;

/// Why a comment key is unusable.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("comment key {0:?} may hold only letters, digits, '.', '_' and '-' (at most 64)")]
pub struct BadKey(pub String);

/// The hidden marker that identifies the comment of gate `key`: `<!-- evalgate:KEY -->`.
///
/// Keys are restricted so that no key can end the HTML comment early or match another key's
/// marker as a prefix.
pub fn marker(key: &str) -> Result<String, BadKey> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(format!("<!-- evalgate:{key} -->"))
    } else {
        Err(BadKey(key.to_owned()))
    }
}

/// The comment body: `marker`, a newline, then `markdown`, cut at a line boundary when the
/// whole would exceed `max_chars` characters or `max_bytes` bytes. A cut closes any open
/// `<details>` and code fence and ends with a note pointing at `full_report` (e.g. the job
/// summary's URL).
pub fn compose(
    marker: &str,
    markdown: &str,
    max_chars: usize,
    max_bytes: usize,
    full_report: Option<&str>,
) -> String {
    let whole = format!("{marker}\n{markdown}");
    if whole.chars().count() <= max_chars && whole.len() <= max_bytes {
        return whole;
    }
    let note = match full_report {
        Some(url) => format!(
            "\n\n---\n_This report was cut to fit the comment size limit; the full report is in [the job summary]({url})._\n"
        ),
        None => "\n\n---\n_This report was cut to fit the comment size limit; the full report is in the job summary and the JSON report._\n".to_owned(),
    };
    // Room for the marker, the note and whatever closing tags the cut needs.
    let reserve = marker.len() + note.len() + 64;
    let (char_budget, byte_budget) = (
        max_chars.saturating_sub(reserve),
        max_bytes.saturating_sub(reserve * 4),
    );
    let mut kept = String::new();
    let mut chars = 0;
    for line in markdown.split_inclusive('\n') {
        let n = line.chars().count();
        if chars + n > char_budget || kept.len() + line.len() > byte_budget {
            break;
        }
        kept.push_str(line);
        chars += n;
    }
    if !kept.ends_with('\n') && !kept.is_empty() {
        kept.push('\n');
    }
    // A table or list cut mid-way is still valid Markdown; an open fence or <details> is not.
    let fences = kept
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    if fences % 2 == 1 {
        kept.push_str("```\n");
    }
    let opened = kept.matches("<details>").count();
    let closed = kept.matches("</details>").count();
    for _ in closed..opened {
        kept.push_str("\n</details>\n");
    }
    format!("{marker}\n{kept}{note}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_hidden_and_unforgeable() {
        assert_eq!(marker("default").unwrap(), "<!-- evalgate:default -->");
        assert_eq!(
            marker("detector-v2.valid").unwrap(),
            "<!-- evalgate:detector-v2.valid -->"
        );
        for bad in ["", "a -->", "a b", "x\ny", &"k".repeat(65)] {
            assert!(marker(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_short_report_is_kept_whole() {
        let body = compose("<!-- m -->", "## ok\n", 100, 1000, None);
        assert_eq!(body, "<!-- m -->\n## ok\n");
    }

    #[test]
    fn a_long_report_is_cut_at_a_line_and_closed() {
        let mut md =
            String::from("## ❌ failed\n\n<details><summary>rows</summary>\n\n| a |\n|---|\n");
        for i in 0..10_000 {
            md.push_str(&format!("| row {i} |\n"));
        }
        md.push_str("</details>\n");
        let body = compose("<!-- m -->", &md, 2_000, 100_000, Some("https://ci/run/1"));
        assert!(body.chars().count() <= 2_000, "{}", body.chars().count());
        assert!(body.starts_with("<!-- m -->\n## ❌ failed"));
        assert!(body.contains("| row 3 |\n"));
        assert!(!body.contains("| row 9999 |"));
        assert_eq!(
            body.matches("<details>").count(),
            body.matches("</details>").count()
        );
        assert!(
            body.ends_with("the full report is in [the job summary](https://ci/run/1)._\n"),
            "{body}"
        );
    }

    #[test]
    fn the_byte_limit_counts_too() {
        let md = "🚗🚗🚗🚗🚗🚗🚗🚗🚗🚗\n".repeat(1000);
        let body = compose("<!-- m -->", &md, 100_000, 4_000, None);
        assert!(body.len() <= 4_000, "{}", body.len());
        assert!(body.contains("cut to fit"));
    }

    #[test]
    fn an_open_code_fence_is_closed() {
        let md = format!("```\n{}", "line\n".repeat(1000));
        let body = compose("<!-- m -->", &md, 500, 100_000, None);
        assert_eq!(body.matches("```").count() % 2, 0, "{body}");
    }
}
