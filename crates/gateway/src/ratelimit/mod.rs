//! Rate limiting (SPEC §10): `limit` requests per window per key, counted in this process or in
//! Redis shared by all instances, with the local counters as the fallback when Redis fails.
//!
//! Semantics, the same in both backends:
//! - `fixed`: windows aligned to multiples of the window length since the Unix epoch; at most
//!   `limit` admitted per aligned window. Across a window edge up to 2×`limit` may pass within
//!   one window length.
//! - `sliding`: no more than `limit` admitted in any interval of the window's length (half-open:
//!   a request at `t` stops counting at `t + window`). Exact: a log of admitted timestamps per
//!   key, never longer than `limit`. A sliding rule whose limit is above
//!   [`MAX_EXACT_SLIDING_LIMIT`] (65,536) is counted with the two-window counter instead (the
//!   previous aligned window's count weighted by its overlap with the interval, plus the
//!   current one's): constant memory, approximate.
//! - A refused request is not counted. Decisions are exact under concurrency: a key's
//!   check-and-count is one critical section (a shard lock, or one Lua script in Redis).
//! - A limit of 0 refuses everything without touching any counter.
//!
//! Memory (in process). An exact sliding log costs up to `limit × 8` bytes per key, so its
//! worst case would be `max_keys × limit × 8` bytes: 800 MB for 100,000 keys at a limit of
//! 1,000. Rather than counting every rule above ~64 MiB of that worst case approximately (with
//! 100,000 keys, any limit above 83), the logs share one budget of 64 MiB of timestamps
//! ([`LOG_BUDGET_BYTES`], counted by allocated capacity). Logs hold what was admitted in the
//! last window, not `limit` entries, so the budget binds only once more than 8 million
//! requests are admitted within their windows; until then every rule is exact. The total is
//! `max_keys` × (key length + ~100 bytes of entry and map overhead) + 64 MiB at most. Past
//! either bound a shard drops keys with nothing left to count first, then the least recently
//! used (see `memory`); a dropped live key forgets its count, so under that pressure a key may
//! be over-admitted, never wrongly refused.
//!
//! With Redis, every check is one script call bounded by [`REDIS_TIMEOUT`]. On an error or a
//! timeout the check is answered locally, a fallback is counted, a warning is logged (at most
//! every 10 s) and Redis is skipped for a backoff period (1 s doubling to 30 s, then one trial).
//! While Redis is skipped each instance enforces the limit alone: the effective limit is the
//! limit times the number of instances, never unlimited.

mod breaker;
mod key;
mod memory;
mod redis;
mod rule;

#[cfg(test)]
mod redis_tests;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::SharedClock;

use self::breaker::{Breaker, WarnThrottle};
use self::memory::MemoryLimiter;
use self::redis::RedisLimiter;

pub use self::key::limit_key;
pub use self::memory::{LOG_BUDGET_BYTES, MAX_EXACT_SLIDING_LIMIT};
pub use self::redis::REDIS_TIMEOUT;
pub use self::rule::{Decision, RateLimitRule};

/// What the gateway passes as `max_keys` unless configured otherwise.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// The limiter: in memory, or Redis with the in-memory limiter as its fallback.
pub struct RateLimiter {
    clock: SharedClock,
    local: MemoryLimiter,
    shared: Option<Shared>,
}

struct Shared {
    redis: RedisLimiter,
    breaker: Breaker,
    warn: WarnThrottle,
    attempts: AtomicU64,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("RateLimiter");
        out.field("local_keys", &self.local.keys());
        if let Some(shared) = &self.shared {
            out.field("redis", &shared.redis)
                .field("degraded", &shared.breaker.is_open());
        }
        out.finish()
    }
}

impl RateLimiter {
    pub fn in_memory(clock: SharedClock, max_keys: usize) -> RateLimiter {
        RateLimiter {
            clock,
            local: MemoryLimiter::new(max_keys),
            shared: None,
        }
    }

    /// Connects lazily; never fails at construction for an unreachable server (requests must
    /// not fail because of Redis). Fails only for a URL that does not parse.
    pub fn redis(
        url: &str,
        key_prefix: &str,
        clock: SharedClock,
        max_keys: usize,
    ) -> anyhow::Result<RateLimiter> {
        let shared = Shared {
            redis: RedisLimiter::new(url, key_prefix)?,
            breaker: Breaker::new(clock.clone()),
            warn: WarnThrottle::new(clock.clone()),
            attempts: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        };
        Ok(RateLimiter {
            clock,
            local: MemoryLimiter::new(max_keys),
            shared: Some(shared),
        })
    }

    #[cfg(test)]
    fn with_local(mut self, local: MemoryLimiter) -> RateLimiter {
        self.local = local;
        self
    }

    /// Checks one request against `rule` and counts it if admitted.
    pub async fn check(&self, key: &str, rule: &RateLimitRule) -> Decision {
        if rule.limit == 0 {
            let window = rule::ms(rule.window_ms());
            return Decision::Limited {
                limit: 0,
                retry_after_ms: window,
                reset_after_ms: window,
            };
        }
        let Some(shared) = &self.shared else {
            return self.local.check(key, rule, self.clock.now_ms());
        };
        if let Some(permit) = shared.breaker.permit() {
            shared.attempts.fetch_add(1, Ordering::Relaxed);
            let now = self.clock.now_ms();
            match shared
                .redis
                .check(key, rule, now, self.local.max_exact())
                .await
            {
                Ok(decision) => {
                    if permit.is_trial() {
                        tracing::info!("rate limiting: Redis answers again; counting there");
                    }
                    permit.succeeded();
                    return decision;
                }
                Err(error) => {
                    permit.failed();
                    if shared.warn.allow() {
                        tracing::warn!(
                            %error,
                            retry_in_ms = shared.breaker.backoff_ms(),
                            "rate limiting: Redis unavailable; counting in this process"
                        );
                    }
                }
            }
        }
        shared.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.local.check(key, rule, self.clock.now_ms())
    }

    /// Times Redis was bypassed for the local limiter (a metric): checks it failed and checks
    /// made while the breaker skipped it. 0 for an in-memory limiter.
    pub fn redis_fallbacks(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.fallbacks.load(Ordering::Relaxed))
    }

    /// Whether Redis is bypassed right now (the `ratelimit_backend_degraded` gauge).
    pub fn redis_degraded(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| shared.breaker.is_open())
    }

    /// Checks sent to Redis, answered or not.
    pub fn redis_attempts(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.attempts.load(Ordering::Relaxed))
    }

    /// Whether counters are shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Keys held by the in-process counters (at most `max_keys`).
    pub fn local_keys(&self) -> usize {
        self.local.keys()
    }

    /// Sliding-log timestamps allocated in process (at most [`LOG_BUDGET_BYTES`] / 8).
    pub fn local_log_entries(&self) -> usize {
        self.local.stamps()
    }
}
