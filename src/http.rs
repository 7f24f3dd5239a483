//! What the API clients share: a secret that never prints, one retry loop, bounded and
//! redacted server text, and one percent-encoder.
//!
//! Redaction is the last step before text is shown, and it is tolerant: a secret is found
//! whether it is written plainly, JSON-escaped (`\u0063`), percent-encoded (`%63`), as an HTML
//! entity (`&#99;`), or with whitespace, control or zero-width characters inserted between its
//! characters. A server that echoes a key in any of these forms does not get it printed.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// A server may ask for a longer pause; a CI job should not sit idle for an hour because it did.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// An API key or token. Never printed: `Debug` shows a placeholder, and there is no `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret; `None` when it is empty or blank.
    pub fn new(value: String) -> Option<Secret> {
        let value = value.trim().to_owned();
        (!value.is_empty()).then_some(Secret(value))
    }

    /// The value, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text`, in whatever form a server may have
    /// echoed it (see the module documentation).
    pub fn redact(&self, text: &str) -> String {
        redact(text, &[self]).into_owned()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// `text` with every secret of `secrets` replaced by `[redacted]`.
pub fn redact<'a>(text: &'a str, secrets: &[&Secret]) -> Cow<'a, str> {
    match find_secrets(text.as_bytes(), secrets) {
        None => Cow::Borrowed(text),
        Some(spans) => {
            let mut out = String::with_capacity(text.len());
            let mut at = 0;
            for (start, end) in spans {
                // Spans start at an ASCII byte and end after a whole character: both are
                // character boundaries.
                out.push_str(&text[at..start]);
                out.push_str(REDACTED);
                at = end;
            }
            out.push_str(&text[at..]);
            Cow::Owned(out)
        }
    }
}

/// `bytes` with every secret replaced by `[redacted]`, for bodies before they are parsed: a
/// JSON string holding an escaped key stays a valid JSON string.
pub fn redact_bytes<'a>(bytes: &'a [u8], secrets: &[&Secret]) -> Cow<'a, [u8]> {
    match find_secrets(bytes, secrets) {
        None => Cow::Borrowed(bytes),
        Some(spans) => {
            let mut out = Vec::with_capacity(bytes.len());
            let mut at = 0;
            for (start, end) in spans {
                out.extend_from_slice(&bytes[at..start]);
                out.extend_from_slice(REDACTED.as_bytes());
                at = end;
            }
            out.extend_from_slice(&bytes[at..]);
            Cow::Owned(out)
        }
    }
}

/// The byte spans of every secret in `text`, in order and not overlapping; `None` if none.
fn find_secrets(text: &[u8], secrets: &[&Secret]) -> Option<Vec<(usize, usize)>> {
    let keys: Vec<&[u8]> = secrets
        .iter()
        .map(|s| s.0.as_bytes())
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return None;
    }
    // A secret starts with its first character, plain or encoded: only those bytes are
    // looked at closely (a table lookup per byte keeps a 40 MB body cheap).
    let mut starts = [false; 256];
    for b in [b'%', b'&', b'\\']
        .into_iter()
        .chain(keys.iter().map(|k| k[0]))
    {
        starts[usize::from(b)] = true;
    }
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..].iter().position(|&b| starts[usize::from(b)]) {
        i += at;
        match keys.iter().filter_map(|k| match_at(text, i, k)).max() {
            Some(end) => {
                spans.push((i, end));
                i = end;
            }
            None => i += 1,
        }
    }
    (!spans.is_empty()).then_some(spans)
}

/// Where a match of `key` starting at `i` ends, if there is one.
fn match_at(text: &[u8], mut i: usize, key: &[u8]) -> Option<usize> {
    for (n, &want) in key.iter().enumerate() {
        if n > 0 {
            while let Some((c, len)) = decode_one(text, i) {
                if !is_filler(c) {
                    break;
                }
                i += len;
            }
        }
        // The plain character first: a secret may itself hold `%`, `&` or `\\`.
        if text.get(i) == Some(&want) {
            i += 1;
            continue;
        }
        let (c, len) = decode_one(text, i)?;
        if c != u32::from(want) {
            return None;
        }
        i += len;
    }
    Some(i)
}

/// What a server might put between the characters of an echoed secret, or a cleaning step
/// might turn its characters into: whitespace, controls, zero-width and direction marks.
fn is_filler(c: u32) -> bool {
    char::from_u32(c).is_some_and(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{00AD}')
    })
}

/// The character at `i`, plain or in one of the encodings a server or a cleaning step uses,
/// and how many bytes it takes.
fn decode_one(text: &[u8], i: usize) -> Option<(u32, usize)> {
    let rest = text.get(i..)?;
    let first = *rest.first()?;
    let hex = |s: &[u8]| -> Option<u32> {
        let s = std::str::from_utf8(s).ok()?;
        u32::from_str_radix(s, 16).ok()
    };
    match first {
        b'%' if rest.len() >= 3 => {
            if let Some(v) = hex(&rest[1..3]) {
                return Some((v, 3));
            }
        }
        b'\\' if rest.len() >= 2 => match rest[1] {
            b'u' if rest.len() >= 6 => {
                if let Some(v) = hex(&rest[2..6]) {
                    return Some((v, 6));
                }
            }
            b'x' if rest.len() >= 4 => {
                if let Some(v) = hex(&rest[2..4]) {
                    return Some((v, 4));
                }
            }
            b'n' => return Some((u32::from('\n'), 2)),
            b't' => return Some((u32::from('\t'), 2)),
            b'r' => return Some((u32::from('\r'), 2)),
            b'b' => return Some((8, 2)),
            b'f' => return Some((12, 2)),
            b'0' => return Some((0, 2)),
            b'/' | b'\\' | b'"' | b'\'' => return Some((u32::from(rest[1]), 2)),
            _ => {}
        },
        b'&' => {
            if let Some(end) = rest.iter().take(12).position(|&b| b == b';') {
                let entity = &rest[1..end];
                let value = match entity {
                    [b'#', b'x' | b'X', digits @ ..] => hex(digits),
                    [b'#', digits @ ..] => std::str::from_utf8(digits)
                        .ok()
                        .and_then(|d| d.parse().ok()),
                    b"amp" => Some(u32::from('&')),
                    b"lt" => Some(u32::from('<')),
                    b"gt" => Some(u32::from('>')),
                    b"quot" => Some(u32::from('"')),
                    b"apos" => Some(u32::from('\'')),
                    b"nbsp" => Some(0xA0),
                    b"hyphen" | b"dash" => Some(u32::from('-')),
                    b"lowbar" | b"UnderBar" => Some(u32::from('_')),
                    b"period" => Some(u32::from('.')),
                    _ => None,
                };
                if let Some(v) = value {
                    return Some((v, end + 1));
                }
            }
        }
        _ => {}
    }
    // A plain character: its UTF-8 bytes.
    let len = match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    let c = rest
        .get(..len)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.chars().next())
        .map_or(u32::from(first) | 0x8000_0000, u32::from);
    Some((c, len.min(rest.len())))
}

/// Server text for a one-line message: decoded text has its control characters turned into
/// spaces, then `secrets` are redacted, then it is cut to a bounded length. The order matters:
/// a cut before redaction could leave half a key, and a control character inside a key would
/// hide it from a redaction that ran first.
pub(crate) fn tame(text: &str, secrets: &[&Secret]) -> String {
    const MAX: usize = 300;
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let redacted = redact(spaced.trim(), secrets);
    let mut out: String = redacted.chars().take(MAX).collect();
    if redacted.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// A parse error of a fetched body, without the body: serde's messages quote what they
/// found (`invalid type: string "…"`), and a server decides what that is.
pub(crate) fn parse_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "the body could not be read",
        Category::Syntax => "not valid JSON",
        Category::Data => "valid JSON, but not the shape the API documents",
        Category::Eof => "the body ends before the JSON does",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

/// Text with every quoted part (`"…"` or `` `…` ``) elided, for messages about a body whose
/// content must not be repeated.
pub fn elide_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<char> = None;
    for c in text.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '"' || c == '`' {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so that untrusted text
/// stays one path segment of a URL and cannot break out of a Markdown link.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// A base URL fit to carry a secret: https, or plain http on loopback only (where tests run),
/// with no credentials, query, fragment or secret-looking path, where a pasted secret would
/// be sent and echoed.
pub(crate) struct Endpoint {
    /// The URL without a trailing slash.
    pub(crate) base: String,
    /// `scheme://host[:port]`: requests carrying the secret go nowhere else.
    pub(crate) origin: String,
    loopback: bool,
}

/// Why a base URL was refused. `shown` is the URL up to its host only.
pub(crate) struct BadUrl {
    pub(crate) shown: String,
    pub(crate) why: String,
}

/// Checks `url` as the base of an API that will receive `secret` (e.g. "API key"), which
/// belongs in the environment variable `var`. `known` are the secrets of this run: a URL that
/// holds one, in any form, is refused.
pub(crate) fn endpoint(
    url: &str,
    secret: &str,
    var: &str,
    known: &[&Secret],
) -> Result<Endpoint, BadUrl> {
    let base = url.trim_end_matches('/').to_owned();
    let uri: Result<ureq::http::Uri, _> = base.parse();
    let shown = match &uri {
        Ok(u) => redact(
            &format!(
                "{}://{}",
                u.scheme_str().unwrap_or("?"),
                u.host().unwrap_or("?")
            ),
            known,
        )
        .into_owned(),
        Err(_) => "(not a URL)".to_owned(),
    };
    let bad = |why: String| BadUrl {
        shown: shown.clone(),
        why,
    };
    let uri = uri.map_err(|_| bad("not a URL".to_owned()))?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) || base.contains('#') {
        return Err(bad(format!(
            "the URL must not carry credentials or a fragment; the {secret} goes in {var}"
        )));
    }
    if uri.query().is_some() {
        return Err(bad(format!(
            "the URL must not carry a query; the {secret} goes in {var}"
        )));
    }
    if find_secrets(base.as_bytes(), known).is_some() || uri.path().split('/').any(looks_secret) {
        return Err(bad(format!(
            "the URL's path looks like it holds a secret (it is not shown); the {secret} goes in {var}"
        )));
    }
    let loopback = matches!(
        uri.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if loopback => {}
        Some("http") => {
            return Err(bad(format!(
                "plain http would send the {secret} unencrypted; use https"
            )));
        }
        _ => return Err(bad("expected an https:// URL".to_owned())),
    }
    let origin = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map_or("", |a| a.as_str())
    );
    Ok(Endpoint {
        base,
        origin,
        loopback,
    })
}

/// Whether a path segment of an API base URL looks like a credential rather than a path
/// (`api`, `v4`): a known token prefix, an assignment (`api_key=…`), or a long mix of
/// letters and digits.
fn looks_secret(segment: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "gldt-",
        "glptt-",
        "glcbt-",
        "rf_",
    ];
    let lower = segment.to_ascii_lowercase();
    PREFIXES.iter().any(|p| lower.starts_with(p))
        || segment.contains(['=', ';'])
        || [
            "api_key",
            "apikey",
            "access_token",
            "private_token",
            "password",
        ]
        .iter()
        .any(|w| lower.contains(w))
        || (segment.len() >= 16
            && segment.bytes().any(|b| b.is_ascii_digit())
            && segment.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// An HTTP client for `endpoint`: statuses come back as responses, redirects are not followed
/// (one could carry the secret elsewhere), certificates are checked against the platform's
/// store, and every request ends within `timeout`.
pub(crate) fn agent(endpoint: &Endpoint, timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .https_only(!endpoint.loopback)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .user_agent(format!("evalgate/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into()
}

/// Exponential backoff with jitter: 250 ms, 500 ms, 1 s, … up to 8 s, each between half and
/// all of that, so that many CI jobs hit by one outage do not retry in step.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let full = BACKOFF_BASE
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    full.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// `Retry-After` as delta-seconds or an HTTP date, capped.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        // Seconds too many to count are as long as the cap.
        Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => MAX_RETRY_AFTER,
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// What one attempt of a request came to.
pub(crate) enum Attempt<T, F> {
    /// Done: a result to return.
    Done(T),
    /// A failure worth retrying, with the server's `Retry-After` if it sent one.
    Again(F, Option<Duration>),
    /// A failure that retrying cannot fix.
    Fail(F),
}

/// Why [`retry`] stopped without a result.
pub(crate) enum Stopped<F> {
    /// A failure that retrying cannot fix.
    Failed(F),
    /// Retries ran out; the last failure.
    Exhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: F,
    },
    /// `cancel` was set.
    Cancelled,
}

/// The one retry loop of both API clients: up to `retries` retries after the first attempt,
/// each after capped exponential backoff with jitter, never shorter than the server's
/// `Retry-After`. `announce` hears each retry before its pause (the failure, the pause, which
/// retry it is); `cancel` stops the loop, also mid-pause.
pub(crate) fn retry<T, F>(
    retries: u32,
    cancel: Option<&AtomicBool>,
    mut attempt: impl FnMut() -> Attempt<T, F>,
    mut announce: impl FnMut(&F, Duration, u32),
) -> Result<T, Stopped<F>> {
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::SeqCst));
    let mut retry = 0;
    loop {
        if cancelled() {
            return Err(Stopped::Cancelled);
        }
        let (failure, retry_after) = match attempt() {
            Attempt::Done(t) => return Ok(t),
            Attempt::Fail(f) => return Err(Stopped::Failed(f)),
            Attempt::Again(f, after) => (f, after),
        };
        if retry >= retries {
            return Err(Stopped::Exhausted {
                attempts: retry + 1,
                last: failure,
            });
        }
        retry += 1;
        let pause = retry_after.unwrap_or_default().max(backoff(retry));
        announce(&failure, pause, retry);
        if !sleep_unless(pause, cancel) {
            return Err(Stopped::Cancelled);
        }
    }
}

/// Sleeps `pause`, waking early when `cancel` is set; false when cancelled.
pub(crate) fn sleep_unless(pause: Duration, cancel: Option<&AtomicBool>) -> bool {
    let Some(cancel) = cancel else {
        thread::sleep(pause);
        return true;
    };
    let until = Instant::now() + pause;
    while !cancel.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        thread::sleep((until - now).min(Duration::from_millis(50)));
    }
    false
}

/// Reads a response body up to `limit` bytes; `Err(None)` when it is longer.
pub(crate) fn read_body(
    response: &mut ureq::http::Response<ureq::Body>,
    limit: u64,
) -> Result<Vec<u8>, Option<String>> {
    match response.body_mut().with_config().limit(limit).read_to_vec() {
        Ok(body) => Ok(body),
        Err(ureq::Error::BodyExceedsLimit(_)) => Err(None),
        Err(e) => Err(Some(format!("reading the body: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret::new("canary-KEY-42".into()).unwrap()
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            let full = BACKOFF_BASE
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(BACKOFF_CAP);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn the_secret_never_shows() {
        let key = Secret::new("  canary-key-123 ".into()).unwrap();
        assert_eq!(format!("{key:?}"), "Secret([redacted])");
        assert_eq!(key.redact("echo canary-key-123!"), "echo [redacted]!");
        assert!(Secret::new("  ".into()).is_none());
    }

    #[test]
    fn a_secret_is_found_in_every_encoding_and_when_split() {
        let k = key();
        for echoed in [
            "canary-KEY-42",
            r"\u0063anary-KEY-42",
            r"\u0063\u0061nary\u002dKEY-42",
            "%63anary%2DKEY-42",
            "&#99;anary&#x2d;KEY&hyphen;42",
            "cana\u{0}ry-KEY-42",
            "cana\try-KEY\n-42",
            "cana ry-KEY-42",
            r"cana\try-KEY-42",
            "cana%09ry-KEY-42",
            "c\u{200B}anary-KEY-4\u{FEFF}2",
            "cana&#9;ry-KEY-42",
        ] {
            let shown = k.redact(&format!("your key {echoed} is wrong"));
            assert_eq!(shown, "your key [redacted] is wrong", "{echoed:?}");
        }
        // Two secrets, each where it is.
        let token = Secret::new("ghp_token".into()).unwrap();
        assert_eq!(
            redact("a canary-KEY-42 b ghp_token c", &[&k, &token]),
            "a [redacted] b [redacted] c"
        );
        // A secret holding an encoding character is still found plainly.
        let odd = Secret::new("ab%41&amp;".into()).unwrap();
        assert_eq!(odd.redact("x ab%41&amp; y"), "x [redacted] y");
        // Nothing else is touched.
        assert_eq!(
            k.redact("canary-KEY-4 and canary"),
            "canary-KEY-4 and canary"
        );
    }

    #[test]
    fn redacted_bytes_stay_valid_json() {
        let k = key();
        let body =
            br#"{"splits": {"valid": {"perClass": {"\u0063anary-KEY-42": {"map50": 0.5}}}}}"#;
        let clean = redact_bytes(body, &[&k]);
        let value: serde_json::Value = serde_json::from_slice(&clean).unwrap();
        assert!(
            value.pointer("/splits/valid/perClass/[redacted]").is_some(),
            "{value}"
        );
    }

    #[test]
    fn server_text_is_normalised_then_redacted_then_cut() {
        let k = key();
        assert_eq!(tame("a\nb\tc", &[]), "a b c");
        assert_eq!(tame(&"x".repeat(400), &[]).chars().count(), 301);
        assert_eq!(tame("key: cana\u{0}ry-KEY-42.", &[&k]), "key: [redacted].");
        let straddling = format!("{}canary-KEY-42", "x".repeat(295));
        assert!(!tame(&straddling, &[&k]).contains("cana"));
    }

    #[test]
    fn parse_errors_never_quote_the_body() {
        let e = serde_json::from_slice::<Vec<u8>>(br#""canary-KEY-42""#).unwrap_err();
        let text = parse_error(&e);
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("line 1, column"), "{text}");
        assert_eq!(
            elide_quoted(r#"invalid type: string "canary", expected `x` at"#),
            "invalid type: string \"…\", expected `…` at"
        );
    }

    #[test]
    fn urls_holding_secrets_are_refused_without_echo() {
        let k = key();
        for url in [
            "https://api.roboflow.com/canary-KEY-42",
            "https://api.roboflow.com/%63anary-KEY-42/",
            "https://api.roboflow.com/v1/huUF720inUcymARwqAGK",
            "https://api.roboflow.com/api_key=abc",
            "https://api.github.com/ghp_abc",
            "https://gitlab.example.com/glpat-abcdef/api/v4",
        ] {
            let Err(e) = endpoint(url, "API key", "ROBOFLOW_API_KEY", &[&k]) else {
                panic!("{url} was accepted");
            };
            assert!(!e.shown.contains("canary") && !e.why.contains("canary"));
            assert!(e.why.contains("ROBOFLOW_API_KEY"), "{}", e.why);
        }
        for url in [
            "https://api.roboflow.com",
            "https://gitlab.example.com/api/v4",
            "https://ghe.example.com/api/v3/",
        ] {
            assert!(endpoint(url, "token", "T", &[&k]).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_retry_loop_retries_transients_only_and_stops_when_told() {
        let calls = std::cell::Cell::new(0);
        let mut heard = Vec::new();
        let r: Result<u32, Stopped<&str>> = retry(
            3,
            None,
            || {
                calls.set(calls.get() + 1);
                if calls.get() < 3 {
                    Attempt::Again("503", Some(Duration::ZERO))
                } else {
                    Attempt::Done(7)
                }
            },
            |f, _, n| heard.push((f.to_string(), n)),
        );
        assert!(matches!(r, Ok(7)));
        assert_eq!(heard, [("503".to_owned(), 1), ("503".to_owned(), 2)]);

        let r: Result<(), _> = retry(2, None, || Attempt::Fail("404"), |_, _, _| panic!());
        assert!(matches!(r, Err(Stopped::Failed("404"))));

        let r: Result<(), _> = retry(1, None, || Attempt::Again("503", None), |_, _, _| {});
        assert!(matches!(
            r,
            Err(Stopped::Exhausted {
                attempts: 2,
                last: "503"
            })
        ));

        let cancel = AtomicBool::new(true);
        let r: Result<(), Stopped<()>> = retry(
            5,
            Some(&cancel),
            || panic!("no attempt once cancelled"),
            |_, _, _| {},
        );
        assert!(matches!(r, Err(Stopped::Cancelled)));
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("a b/c%d~e.f"), "a%20b%2Fc%25d~e.f");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
