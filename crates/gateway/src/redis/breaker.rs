//! The circuit breaker in front of Redis, and the throttle on its warning, both on the gateway's
//! clock so tests move through backoff periods without sleeping.
//!
//! Closed: every call goes to Redis. The first failure opens it for the current backoff
//! (1 s at first): calls skip Redis (the cache misses, the limiter counts locally), so a down
//! Redis costs the timeout once, not on every request. When the period ends, exactly one call
//! goes to Redis as a trial; success closes the breaker and resets the backoff, failure reopens
//! it for twice as long, up to 30 s. A trial that is cancelled (its request went away) lets the
//! next call be the trial. State is atomics, not a lock: every request on the Redis path reads it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::clock::SharedClock;

pub(crate) const INITIAL_BACKOFF_MS: i64 = 1_000;
pub(crate) const MAX_BACKOFF_MS: i64 = 30_000;

/// The minimum time between two "Redis unavailable" warnings.
pub(crate) const WARN_INTERVAL_MS: i64 = 10_000;

#[derive(Debug)]
pub(crate) struct Breaker {
    clock: SharedClock,
    /// 0 while closed; otherwise when the next trial may start.
    open_until: AtomicI64,
    backoff_ms: AtomicI64,
    /// A trial is in flight: other calls keep skipping Redis until it settles.
    trial: AtomicBool,
}

/// Leave to use Redis for one call; settle it with the outcome.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    trial: bool,
    settled: bool,
}

impl Breaker {
    pub(crate) fn new(clock: SharedClock) -> Breaker {
        Breaker {
            clock,
            open_until: AtomicI64::new(0),
            backoff_ms: AtomicI64::new(INITIAL_BACKOFF_MS),
            trial: AtomicBool::new(false),
        }
    }

    /// `None`: skip Redis for this call.
    pub(crate) fn permit(&self) -> Option<Permit<'_>> {
        let open_until = self.open_until.load(Ordering::SeqCst);
        if open_until == 0 {
            return Some(Permit {
                breaker: self,
                trial: false,
                settled: false,
            });
        }
        if self.clock.now_ms() < open_until {
            return None;
        }
        if self
            .trial
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return None;
        }
        if self.open_until.load(Ordering::SeqCst) == 0 {
            // A trial that started before ours closed the breaker meanwhile.
            self.trial.store(false, Ordering::SeqCst);
            return Some(Permit {
                breaker: self,
                trial: false,
                settled: false,
            });
        }
        Some(Permit {
            breaker: self,
            trial: true,
            settled: false,
        })
    }

    /// Whether calls skip Redis right now (until a trial succeeds).
    pub(crate) fn is_open(&self) -> bool {
        self.open_until.load(Ordering::SeqCst) != 0
    }

    pub(crate) fn backoff_ms(&self) -> i64 {
        self.backoff_ms.load(Ordering::SeqCst)
    }
}

impl Permit<'_> {
    pub(crate) fn is_trial(&self) -> bool {
        self.trial
    }

    pub(crate) fn succeeded(mut self) {
        self.settled = true;
        if self.trial {
            let breaker = self.breaker;
            breaker
                .backoff_ms
                .store(INITIAL_BACKOFF_MS, Ordering::SeqCst);
            breaker.open_until.store(0, Ordering::SeqCst);
            breaker.trial.store(false, Ordering::SeqCst);
        }
    }

    pub(crate) fn failed(mut self) {
        self.settled = true;
        let breaker = self.breaker;
        let now = breaker.clock.now_ms();
        if self.trial {
            let backoff = breaker.backoff_ms().saturating_mul(2).min(MAX_BACKOFF_MS);
            breaker.backoff_ms.store(backoff, Ordering::SeqCst);
            breaker
                .open_until
                .store(now.saturating_add(backoff).max(1), Ordering::SeqCst);
            breaker.trial.store(false, Ordering::SeqCst);
        } else {
            // Many calls in flight when Redis goes away all fail: the first opens the breaker,
            // the others find it open and leave it as it is (one outage, one backoff step).
            let until = now.saturating_add(breaker.backoff_ms()).max(1);
            let _ =
                breaker
                    .open_until
                    .compare_exchange(0, until, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
}

impl Drop for Permit<'_> {
    /// A trial whose call was cancelled (the client went away) settles nothing: the next
    /// call becomes the trial instead of Redis staying skipped forever.
    fn drop(&mut self) {
        if self.trial && !self.settled {
            self.breaker.trial.store(false, Ordering::SeqCst);
        }
    }
}

/// Lets a warning through at most once per [`WARN_INTERVAL_MS`].
#[derive(Debug)]
pub(crate) struct WarnThrottle {
    clock: SharedClock,
    last: AtomicI64,
}

impl WarnThrottle {
    pub(crate) fn new(clock: SharedClock) -> WarnThrottle {
        WarnThrottle {
            clock,
            last: AtomicI64::new(i64::MIN),
        }
    }

    pub(crate) fn allow(&self) -> bool {
        let now = self.clock.now_ms();
        let last = self.last.load(Ordering::SeqCst);
        now.saturating_sub(last) >= WARN_INTERVAL_MS
            && self
                .last
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {

    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn backoff_doubles_to_thirty_seconds_with_one_trial_at_a_time() {
        let clock = ManualClock::new(1_000_000);
        let breaker = Breaker::new(clock.clone());
        let permit = breaker.permit().expect("closed at first");
        assert!(!permit.is_trial());
        permit.failed();
        assert!(breaker.is_open());
        assert!(breaker.permit().is_none(), "skipped while open");

        let mut expected = INITIAL_BACKOFF_MS;
        for _ in 0..8 {
            clock.advance(Duration::from_millis(u64::try_from(expected).unwrap() - 1));
            assert!(
                breaker.permit().is_none(),
                "still open 1 ms before the period ends"
            );
            clock.advance(Duration::from_millis(1));
            let trial = breaker.permit().expect("trial due");
            assert!(trial.is_trial());
            assert!(breaker.permit().is_none(), "one trial at a time");
            trial.failed();
            expected = (expected * 2).min(MAX_BACKOFF_MS);
            assert_eq!(breaker.backoff_ms(), expected);
        }
        assert_eq!(expected, MAX_BACKOFF_MS);

        clock.advance(Duration::from_millis(MAX_BACKOFF_MS as u64));
        let trial = breaker.permit().expect("trial due");
        trial.succeeded();
        assert!(!breaker.is_open());
        assert_eq!(breaker.backoff_ms(), INITIAL_BACKOFF_MS);
        assert!(breaker.permit().is_some_and(|permit| !permit.is_trial()));
    }

    #[test]
    fn a_cancelled_trial_lets_the_next_check_try() {
        let clock = ManualClock::new(0);
        let breaker = Breaker::new(clock.clone());
        if let Some(permit) = breaker.permit() {
            permit.failed();
        }
        clock.advance(Duration::from_millis(INITIAL_BACKOFF_MS as u64));
        let trial = breaker.permit();
        assert!(trial.as_ref().is_some_and(Permit::is_trial));
        drop(trial);
        assert!(breaker.permit().is_some_and(|permit| permit.is_trial()));
    }

    #[test]
    fn failures_while_open_do_not_extend_the_period() {
        let clock = ManualClock::new(0);
        let breaker = Arc::new(Breaker::new(clock.clone()));
        let (a, b) = (breaker.permit(), breaker.permit());
        a.into_iter().for_each(Permit::failed);
        clock.advance(Duration::from_millis(500));
        b.into_iter().for_each(Permit::failed);
        clock.advance(Duration::from_millis(500));
        assert!(breaker.permit().is_some_and(|permit| permit.is_trial()));
    }

    #[test]
    fn a_closed_breaker_allows_everything() {
        let breaker = Breaker::new(ManualClock::new(0));
        for _ in 0..10 {
            assert!(breaker.permit().is_some_and(|permit| !permit.is_trial()));
        }
    }

    #[test]
    fn calls_in_flight_when_redis_fails_count_once() {
        let clock = ManualClock::new(0);
        let breaker = Breaker::new(clock.clone());
        let permits: Vec<_> = (0..50).filter_map(|_| breaker.permit()).collect();
        assert_eq!(permits.len(), 50);
        permits.into_iter().for_each(Permit::failed);
        clock.advance(Duration::from_millis(INITIAL_BACKOFF_MS as u64 - 1));
        assert!(breaker.permit().is_none());
        clock.advance(Duration::from_millis(1));
        assert!(
            breaker.permit().is_some_and(|permit| permit.is_trial()),
            "backoff is still the first one"
        );
    }

    #[test]
    fn after_a_success_the_next_failure_starts_from_the_first_backoff() {
        let clock = ManualClock::new(0);
        let breaker = Breaker::new(clock.clone());
        breaker.permit().into_iter().for_each(Permit::failed);
        clock.advance(Duration::from_millis(INITIAL_BACKOFF_MS as u64));
        breaker.permit().into_iter().for_each(Permit::failed);
        assert_eq!(breaker.backoff_ms(), 2 * INITIAL_BACKOFF_MS);
        clock.advance(Duration::from_millis(2 * INITIAL_BACKOFF_MS as u64));
        breaker.permit().into_iter().for_each(Permit::succeeded);
        assert!(!breaker.is_open());
        breaker.permit().into_iter().for_each(Permit::failed);
        clock.advance(Duration::from_millis(INITIAL_BACKOFF_MS as u64 - 1));
        assert!(breaker.permit().is_none());
        clock.advance(Duration::from_millis(1));
        assert!(breaker.permit().is_some());
    }

    #[test]
    fn warnings_are_throttled_on_the_clock() {
        let clock = ManualClock::new(0);
        let throttle = WarnThrottle::new(clock.clone());
        assert!(throttle.allow());
        assert!(!throttle.allow());
        clock.advance(Duration::from_millis(WARN_INTERVAL_MS as u64 - 1));
        assert!(!throttle.allow());
        clock.advance(Duration::from_millis(1));
        assert!(throttle.allow());
    }
}
