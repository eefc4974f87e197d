//! A rule, the decision it yields, and the arithmetic both backends share, so the in-memory and
//! the Redis limiter answer with the same numbers for the same state.

use std::time::Duration;

use crate::gateways::{GatewaySettings, RateLimitTechnique};

/// `limit` requests per `window`, counted with `technique`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitRule {
    pub limit: u32,
    pub window: Duration,
    pub technique: RateLimitTechnique,
}

impl RateLimitRule {
    pub fn new(limit: u32, window: Duration, technique: RateLimitTechnique) -> RateLimitRule {
        RateLimitRule {
            limit,
            window,
            technique,
        }
    }

    /// The gateway's rule, or `None` when rate limiting is off for it (a limit or an interval
    /// of 0, which is what an unconfigured gateway has).
    pub fn from_settings(settings: &GatewaySettings) -> Option<RateLimitRule> {
        if settings.rate_limiting_limit == 0 || settings.rate_limiting_interval == 0 {
            return None;
        }
        Some(RateLimitRule {
            limit: settings.rate_limiting_limit,
            window: Duration::from_secs(u64::from(settings.rate_limiting_interval)),
            technique: settings.rate_limiting_technique,
        })
    }

    /// The window in milliseconds, at least 1 so that window arithmetic never divides by zero.
    pub(crate) fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// How this rule is counted. Sliding rules whose limit is above `max_exact` use the
    /// two-window counter instead of the exact log, which would need `limit` timestamps per key.
    pub(crate) fn algorithm(&self, max_exact: u32) -> Algorithm {
        match self.technique {
            RateLimitTechnique::Fixed => Algorithm::Fixed,
            RateLimitTechnique::Sliding if self.limit <= max_exact => Algorithm::Log,
            RateLimitTechnique::Sliding => Algorithm::Counter,
        }
    }
}

/// The counting method a rule resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// One counter per window aligned to the Unix epoch.
    Fixed,
    /// The timestamps of the admitted requests of the last window: exact.
    Log,
    /// Previous and current aligned window counts, the previous one weighted by how much of it
    /// still overlaps the sliding interval: approximate, constant memory.
    Counter,
}

/// The answer to one check, with what the response headers and the 429 need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted and counted. `remaining` is what is left after this request; `reset_after_ms`
    /// is until the current window ends (fixed) or the oldest counted request leaves the
    /// interval (sliding).
    Allowed {
        limit: u32,
        remaining: u32,
        reset_after_ms: u64,
    },
    /// Refused and not counted. `retry_after_ms` is until a request would next be admitted.
    Limited {
        limit: u32,
        retry_after_ms: u64,
        reset_after_ms: u64,
    },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }

    pub fn limit(&self) -> u32 {
        match *self {
            Decision::Allowed { limit, .. } | Decision::Limited { limit, .. } => limit,
        }
    }

    /// Requests left in the current window after this one (0 when refused).
    pub fn remaining(&self) -> u32 {
        match *self {
            Decision::Allowed { remaining, .. } => remaining,
            Decision::Limited { .. } => 0,
        }
    }

    pub fn reset_after_ms(&self) -> u64 {
        match *self {
            Decision::Allowed { reset_after_ms, .. } | Decision::Limited { reset_after_ms, .. } => {
                reset_after_ms
            }
        }
    }

    /// `Some` only for a refusal.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match *self {
            Decision::Allowed { .. } => None,
            Decision::Limited { retry_after_ms, .. } => Some(retry_after_ms),
        }
    }
}

/// A duration in ms from a difference of timestamps that may be negative after a clock step.
pub(crate) fn ms(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn left(limit: u32, count: u64) -> u32 {
    u32::try_from(u64::from(limit).saturating_sub(count)).unwrap_or(0)
}

/// A fixed-window outcome: `count` is the window's count after this check, `index` the window.
pub(crate) fn fixed_decision(
    limit: u32,
    window_ms: i64,
    now: i64,
    index: i64,
    admitted: bool,
    count: u64,
) -> Decision {
    let reset = ms(index.saturating_add(1).saturating_mul(window_ms) - now);
    if admitted {
        Decision::Allowed {
            limit,
            remaining: left(limit, count),
            reset_after_ms: reset,
        }
    } else {
        Decision::Limited {
            limit,
            retry_after_ms: reset,
            reset_after_ms: reset,
        }
    }
}

/// A sliding-log outcome. `oldest` is the oldest counted timestamp after this check and
/// `blocker` (refusals only) the timestamp whose departure from the interval brings the count
/// under the limit, i.e. the `count - limit`-th oldest.
pub(crate) fn log_decision(
    limit: u32,
    window_ms: i64,
    now: i64,
    admitted: bool,
    count: u64,
    oldest: i64,
    blocker: i64,
) -> Decision {
    let reset = ms(oldest.saturating_add(window_ms) - now);
    if admitted {
        Decision::Allowed {
            limit,
            remaining: left(limit, count),
            reset_after_ms: reset,
        }
    } else {
        let retry = ms(blocker.saturating_add(window_ms) - now).max(1);
        Decision::Limited {
            limit,
            retry_after_ms: retry,
            reset_after_ms: reset.max(retry),
        }
    }
}

/// The two-window counter's estimate of the requests in the interval ending now, plus this one:
/// `prev` weighted by the part of the previous window still inside the interval. Written as
/// the Redis script writes it (same operations, same order, IEEE doubles in both) so both
/// backends take the same decision for the same counts.
#[expect(
    clippy::cast_precision_loss,
    reason = "window lengths (ms) and request counts stay far below 2^53, where f64 is exact; \
              the Redis script computes in the same doubles"
)]
pub(crate) fn counter_admits(
    limit: u32,
    window_ms: i64,
    elapsed: i64,
    prev: u64,
    curr: u64,
) -> bool {
    let weighted = prev as f64 * (window_ms - elapsed) as f64 / window_ms as f64;
    weighted + curr as f64 + 1.0 <= f64::from(limit)
}

/// A two-window counter outcome. `elapsed` is the time since the current window began and
/// `curr` its count after this check.
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "window lengths (ms) and request counts stay far below 2^53, where f64 is exact; \
              each float is clamped to [0, limit] or [1, window] before it becomes an integer; \
              the Redis script computes in the same doubles"
)]
pub(crate) fn counter_decision(
    limit: u32,
    window_ms: i64,
    elapsed: i64,
    admitted: bool,
    prev: u64,
    curr: u64,
) -> Decision {
    let w = window_ms as f64;
    let to_end = window_ms - elapsed;
    let weighted = prev as f64 * to_end as f64 / w;
    // The oldest counted requests are the previous window's while it still weighs anything,
    // else the current window's, which stop counting when the next window ends.
    let reset = if prev > 0 || curr == 0 {
        to_end
    } else {
        to_end + window_ms
    };
    if admitted {
        let remaining = (f64::from(limit) - weighted - curr as f64).floor().max(0.0);
        return Decision::Allowed {
            limit,
            remaining: remaining.min(f64::from(limit)) as u32,
            reset_after_ms: ms(reset),
        };
    }
    // Admission needs prev·(w−elapsed−t)/w + curr + 1 ≤ limit. First try later in this window
    // (only the previous window's weight shrinks), then in the next one, where this window's
    // count becomes the weighted one and the new current count starts at 0.
    let room = f64::from(limit) - 1.0 - curr as f64;
    let mut retry = None;
    if room >= 0.0 && prev > 0 {
        let t = (to_end as f64 - room * w / prev as f64).ceil().max(1.0) as i64;
        if t < to_end {
            retry = Some(t);
        }
    }
    let retry = retry.unwrap_or_else(|| {
        let into_next = if curr == 0 {
            0.0
        } else {
            (w - (f64::from(limit) - 1.0) * w / curr as f64)
                .ceil()
                .clamp(0.0, w)
        };
        to_end + into_next as i64
    });
    let retry = ms(retry).max(1);
    Decision::Limited {
        limit,
        retry_after_ms: retry,
        reset_after_ms: ms(reset).max(retry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_without_a_limit_or_an_interval_have_no_rule() {
        let mut settings = GatewaySettings::default();
        assert_eq!(RateLimitRule::from_settings(&settings), None);
        settings.rate_limiting_limit = 5;
        assert_eq!(RateLimitRule::from_settings(&settings), None);
        settings.rate_limiting_interval = 60;
        settings.rate_limiting_technique = RateLimitTechnique::Sliding;
        assert_eq!(
            RateLimitRule::from_settings(&settings),
            Some(RateLimitRule::new(
                5,
                Duration::from_secs(60),
                RateLimitTechnique::Sliding
            ))
        );
    }

    #[test]
    fn large_sliding_limits_use_the_counter() {
        let rule = RateLimitRule::new(10, Duration::from_secs(1), RateLimitTechnique::Sliding);
        assert_eq!(rule.algorithm(10), Algorithm::Log);
        assert_eq!(rule.algorithm(9), Algorithm::Counter);
        let fixed = RateLimitRule {
            technique: RateLimitTechnique::Fixed,
            ..rule
        };
        assert_eq!(fixed.algorithm(0), Algorithm::Fixed);
        assert_eq!(
            RateLimitRule {
                window: Duration::ZERO,
                ..rule
            }
            .window_ms(),
            1
        );
    }

    #[test]
    fn counter_retry_after_is_when_the_estimate_first_admits() {
        let w = 10_000;
        // Previous window full (10), current empty, 2 s in: estimate 8 + 1 ≤ 10 admits.
        assert!(counter_admits(10, w, 2_000, 10, 0));
        // Previous 10, current 2 at 2 s: 8 + 2 + 1 > 10; admits once the weight drops to 7,
        // i.e. 3 s into the window: 1 s from now.
        assert!(!counter_admits(10, w, 2_000, 10, 2));
        let decision = counter_decision(10, w, 2_000, false, 10, 2);
        assert_eq!(decision.retry_after_ms(), Some(1_000));
        assert!(counter_admits(10, w, 3_000, 10, 2));
        // The current window alone is full: nothing before the next window, where its 10
        // count weighted must fall to 9: 1 s into it.
        let decision = counter_decision(10, w, 2_000, false, 0, 10);
        assert_eq!(decision.retry_after_ms(), Some(9_000));
        assert!(counter_admits(10, w, 1_000, 10, 0));
        assert!(!counter_admits(10, w, 999, 10, 0));
        // With a limit of 1 the full window must pass.
        let decision = counter_decision(1, w, 2_000, false, 0, 1);
        assert_eq!(decision.retry_after_ms(), Some(18_000));
    }
}
