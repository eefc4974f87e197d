//! When and how long to retry an upstream call (docs/resilience.md): the attempts, the backoff, and
//! which failures are worth another try. Pure, so the delays are tested without waiting.

use std::time::Duration;

use http::HeaderMap;

use super::options::RequestOptions;
use crate::gateways::bounds::{RETRY_DELAY_MS, RETRY_MAX_ATTEMPTS};
use crate::gateways::{Backoff, GatewaySettings};

/// The longest upstream `Retry-After` honoured; longer ones fall back to the backoff.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u8,
    pub delay: Duration,
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// The request's `cf-aig-*` headers override the gateway's settings.
    pub fn new(settings: &GatewaySettings, options: &RequestOptions) -> RetryPolicy {
        // Both sources were validated against the bounds table; clamping keeps a settings row
        // written by hand from retrying or sleeping beyond them.
        let attempts = options.max_attempts.unwrap_or(settings.retry_max_attempts);
        let delay_ms = RETRY_DELAY_MS.clamp(u64::from(settings.retry_delay));
        RetryPolicy {
            max_attempts: u8::try_from(RETRY_MAX_ATTEMPTS.clamp(attempts.into())).unwrap_or(1),
            delay: options
                .retry_delay
                .unwrap_or(Duration::from_millis(delay_ms)),
            backoff: options.backoff.unwrap_or(settings.retry_backoff),
        }
    }

    /// The wait after failed attempt `attempt` (1-based): d, d·n or d·2^(n−1), unless the
    /// upstream asked for a `Retry-After` of at most ten seconds.
    pub fn delay_after(&self, attempt: u8, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after.filter(|wait| *wait <= MAX_RETRY_AFTER) {
            return wait;
        }
        let n = u32::from(attempt.max(1));
        match self.backoff {
            Backoff::Constant => self.delay,
            Backoff::Linear => self.delay * n,
            Backoff::Exponential => self.delay * 2u32.pow(n - 1),
        }
    }
}

/// Statuses worth another attempt: the provider is busy, overloaded or briefly broken.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504 | 529)
}

/// `Retry-After` in seconds (the HTTP-date form is not used by AI providers and is ignored).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff: Backoff) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            delay: Duration::from_millis(100),
            backoff,
        }
    }

    #[test]
    fn each_backoff_gives_its_delays() {
        let ms = |p: RetryPolicy| {
            (1..=4)
                .map(|n| p.delay_after(n, None).as_millis())
                .collect::<Vec<_>>()
        };
        assert_eq!(ms(policy(Backoff::Constant)), [100, 100, 100, 100]);
        assert_eq!(ms(policy(Backoff::Linear)), [100, 200, 300, 400]);
        assert_eq!(ms(policy(Backoff::Exponential)), [100, 200, 400, 800]);
    }

    #[test]
    fn retry_after_is_honoured_up_to_ten_seconds() {
        let p = policy(Backoff::Exponential);
        assert_eq!(
            p.delay_after(3, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay_after(3, Some(Duration::from_secs(10))),
            Duration::from_secs(10)
        );
        assert_eq!(
            p.delay_after(3, Some(Duration::from_secs(11))),
            Duration::from_millis(400)
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", http::HeaderValue::from_static("1.5"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        headers.insert(
            "retry-after",
            http::HeaderValue::from_static("Wed, 21 Oct 2026 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn request_headers_override_gateway_settings() {
        let settings = GatewaySettings {
            retry_max_attempts: 3,
            retry_delay: 250,
            retry_backoff: Backoff::Linear,
            ..GatewaySettings::default()
        };
        let none = RequestOptions::default();
        assert_eq!(
            RetryPolicy::new(&settings, &none),
            RetryPolicy {
                max_attempts: 3,
                delay: Duration::from_millis(250),
                backoff: Backoff::Linear
            }
        );
        let options = RequestOptions {
            max_attempts: Some(5),
            retry_delay: Some(Duration::ZERO),
            backoff: Some(Backoff::Constant),
            ..RequestOptions::default()
        };
        assert_eq!(
            RetryPolicy::new(&settings, &options),
            RetryPolicy {
                max_attempts: 5,
                delay: Duration::ZERO,
                backoff: Backoff::Constant
            }
        );
    }

    #[test]
    fn a_hand_written_setting_is_held_to_the_bounds() {
        let settings = GatewaySettings {
            retry_max_attempts: 9,
            retry_delay: 60_000,
            ..GatewaySettings::default()
        };
        let policy = RetryPolicy::new(&settings, &RequestOptions::default());
        assert_eq!(u64::from(policy.max_attempts), RETRY_MAX_ATTEMPTS.max);
        assert_eq!(policy.delay, Duration::from_millis(RETRY_DELAY_MS.max));
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [408, 429, 500, 502, 503, 504, 529] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 413, 422, 501] {
            assert!(!retryable_status(status), "{status}");
        }
    }
}
