//! Time as the gateway reads it. Wall-clock time (TTLs, rate-limit windows, the times stored
//! with gateways and tokens) comes from a [`Clock`], replaceable in tests so that expiry is
//! tested by moving time, never by sleeping. Durations and deadlines come from
//! [`monotonic_now`], tokio's monotonic clock, which a test that pauses tokio's time controls.
//! `clippy.toml` steers the raw `now()` calls here.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    fn now_ms(&self) -> i64;

    /// [`Clock::now_ms`] as a timestamp (clamped to jiff's range, which only a test clock
    /// could leave).
    fn now(&self) -> jiff::Timestamp {
        let ms = self.now_ms();
        jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        self.now().as_millisecond()
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the one place the system's wall clock is read"
    )]
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Now on the monotonic clock, for measuring durations and setting deadlines. Tokio's clock
/// rather than `std`'s: it is the one `tokio::time::sleep_until` and timeouts use, and a test
/// that pauses tokio's time moves it.
#[expect(
    clippy::disallowed_methods,
    reason = "the one place the monotonic clock is read"
)]
pub fn monotonic_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now_ms: AtomicI64::new(start_ms),
        })
    }

    pub fn advance(&self, by: Duration) {
        self.now_ms
            .fetch_add(crate::convert::millis_i64(by), Ordering::SeqCst);
    }

    pub fn set(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_000);
        clock.set(10);
        assert_eq!(clock.now_ms(), 10);
        assert!(SystemClock.now_ms() > 1_700_000_000_000);
    }

    #[test]
    fn a_test_clock_beyond_the_timestamp_range_is_clamped() {
        assert_eq!(ManualClock::new(i64::MAX).now(), jiff::Timestamp::MAX);
        assert_eq!(ManualClock::new(i64::MIN).now(), jiff::Timestamp::MIN);
        assert_eq!(ManualClock::new(1_500).now().as_millisecond(), 1_500);
    }
}
