//! A circuit breaker for the Redis store: after a failure the store is skipped for a while
//! (1 s, doubling to 30 s) so that a down Redis costs one timeout per period, not one per request.
//! Time comes from the caller (the gateway's clock), so tests move time instead of sleeping.

use std::sync::{Mutex, PoisonError};

const FIRST_BACKOFF_MS: i64 = 1_000;
const MAX_BACKOFF_MS: i64 = 30_000;
/// Problems are logged at most this often; the bypass metric counts every one.
const WARN_EVERY_MS: i64 = 10_000;

#[derive(Debug, Default)]
pub(crate) struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Consecutive failures; 0 means closed.
    failures: u32,
    /// While open, calls before this time are refused.
    open_until_ms: i64,
    last_warn_ms: Option<i64>,
}

/// Permission to make one call, remembering what the breaker had seen when it was given.
#[derive(Debug)]
pub(crate) struct Ticket {
    failures_seen: u32,
}

impl Breaker {
    /// `Some` if a call may go to the store now. Once the open period is over, exactly one
    /// caller gets through as a probe; the others keep bypassing until it reports back (or for
    /// another period if it never does, e.g. its request was cancelled).
    pub(crate) fn allow(&self, now_ms: i64) -> Option<Ticket> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.failures == 0 {
            return Some(Ticket { failures_seen: 0 });
        }
        if now_ms < state.open_until_ms {
            return None;
        }
        state.open_until_ms = now_ms.saturating_add(backoff_ms(state.failures));
        Some(Ticket {
            failures_seen: state.failures,
        })
    }

    pub(crate) fn success(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.failures = 0;
        state.open_until_ms = 0;
    }

    /// Records a failed call. Only the first failure after a ticket was given moves the breaker:
    /// calls already in flight when the store went down fail too, and must not push the backoff
    /// to its maximum at once.
    pub(crate) fn failure(&self, ticket: Ticket, now_ms: i64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if ticket.failures_seen == state.failures {
            state.failures = state.failures.saturating_add(1);
            state.open_until_ms = now_ms.saturating_add(backoff_ms(state.failures));
        }
    }

    /// Whether a problem seen now should be logged: at most once per 10 s, so that a down store
    /// under load does not flood the log (the bypass metric counts every one).
    pub(crate) fn should_warn(&self, now_ms: i64) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let warn = state
            .last_warn_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= WARN_EVERY_MS);
        if warn {
            state.last_warn_ms = Some(now_ms);
        }
        warn
    }
}

/// The open period after `failures` consecutive failures (at least 1).
fn backoff_ms(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF_MS << doublings).min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn closed_breaker_allows_everything() {
        let breaker = Breaker::default();
        for now in 0..10 {
            assert!(breaker.allow(now).is_some());
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_to_thirty() {
        let breaker = Breaker::default();
        let mut now = 0;
        let ticket = breaker.allow(now).unwrap();
        breaker.failure(ticket, now);
        for expected in [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000] {
            assert!(
                breaker.allow(now + expected - 1).is_none(),
                "open for {expected} ms"
            );
            now += expected;
            let probe = breaker.allow(now).unwrap();
            // Only the probe gets through while it is out.
            assert!(breaker.allow(now).is_none());
            breaker.failure(probe, now);
        }
    }

    #[test]
    fn success_closes_the_breaker() {
        let breaker = Breaker::default();
        breaker.failure(breaker.allow(0).unwrap(), 0);
        assert!(breaker.allow(10).is_none());
        let _probe = breaker.allow(1_000).unwrap();
        breaker.success();
        assert!(breaker.allow(1_000).is_some());
        assert!(breaker.allow(1_000).is_some());
        // Back to the first backoff after the next failure.
        breaker.failure(breaker.allow(5_000).unwrap(), 5_000);
        assert!(breaker.allow(5_999).is_none());
        assert!(breaker.allow(6_000).is_some());
    }

    #[test]
    fn calls_in_flight_when_the_store_fails_count_once() {
        let breaker = Breaker::default();
        let tickets: Vec<_> = (0..50).map(|_| breaker.allow(0).unwrap()).collect();
        for ticket in tickets {
            breaker.failure(ticket, 0);
        }
        assert!(breaker.allow(999).is_none());
        assert!(
            breaker.allow(1_000).is_some(),
            "backoff is still the first one"
        );
    }

    #[test]
    fn a_lost_probe_lets_another_through_one_period_later() {
        let breaker = Breaker::default();
        breaker.failure(breaker.allow(0).unwrap(), 0);
        // The probe's request is cancelled: it never reports back.
        let _lost = breaker.allow(1_000).unwrap();
        assert!(breaker.allow(1_999).is_none());
        assert!(breaker.allow(2_000).is_some());
    }

    #[test]
    fn warnings_are_limited_to_one_per_ten_seconds() {
        let breaker = Breaker::default();
        let warned: Vec<bool> = [0, 1, 5_000, 9_999, 10_000, 10_001, 20_000]
            .into_iter()
            .map(|now| breaker.should_warn(now))
            .collect();
        assert_eq!(warned, [true, false, false, false, true, false, true]);
    }
}
