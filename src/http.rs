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
    pub(crate) fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
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
