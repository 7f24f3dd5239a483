//! What the API clients share: a secret that never prints, retry pacing, and taming server
//! text for messages.

use std::fmt;
use std::time::{Duration, SystemTime};

/// A server may ask for a longer pause; a CI job should not sit idle for an hour because it did.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(8);

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

    /// Replaces every occurrence of the secret in `text`, in case a server echoes it back.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A base URL fit to carry a secret: https, or plain http on loopback only (where tests run),
/// with no credentials, query or fragment, where a pasted secret would be sent and echoed.
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
/// belongs in the environment variable `var`.
pub(crate) fn endpoint(url: &str, secret: &str, var: &str) -> Result<Endpoint, BadUrl> {
    let base = url.trim_end_matches('/').to_owned();
    let uri: Result<ureq::http::Uri, _> = base.parse();
    let shown = match &uri {
        Ok(u) => format!(
            "{}://{}",
            u.scheme_str().unwrap_or("?"),
            u.host().unwrap_or("?")
        ),
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

/// Server text for a one-line message: control characters out, length bounded.
pub(crate) fn clean(text: &str) -> String {
    const MAX: usize = 300;
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn server_text_is_one_bounded_line() {
        assert_eq!(clean("a\nb\tc"), "a b c");
        assert_eq!(clean(&"x".repeat(400)).chars().count(), 301);
    }
}
