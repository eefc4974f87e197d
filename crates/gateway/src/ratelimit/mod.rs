//! Rate limiting (docs/resilience.md): `limit` requests per window per key, counted in this process or in
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
//! With Redis (the handle the cache shares, `crate::redis`), every check is one script call
//! bounded by [`REDIS_TIMEOUT`]. On a failure or a timeout the check is answered locally, a
//! fallback is counted, a warning is logged (at most every 10 s) and Redis is skipped for a
//! backoff period (1 s doubling to 30 s, then one trial), by the cache too. An error reply (Redis
//! answered, e.g. OOM) is answered locally without skipping Redis: it costs no timeout.
//! While Redis is skipped each instance enforces the limit alone: the effective limit is the
//! limit times the number of instances, never unlimited.

mod key;
mod memory;
mod redis;
mod rule;

#[cfg(test)]
mod redis_tests;
#[cfg(test)]
mod tests;

use crate::clock::SharedClock;
use crate::redis::RedisHandle;

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
    shared: Option<RedisLimiter>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("RateLimiter");
        out.field("local_keys", &self.local.keys());
        if let Some(shared) = &self.shared {
            out.field("redis", shared)
                .field("degraded", &shared.scope().is_degraded());
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

    /// Counts in the shared Redis, under `key_prefix` after the handle's, with the local
    /// counters as the fallback. Nothing is connected here: requests never fail because of Redis.
    pub fn on_redis(redis: &RedisHandle, key_prefix: &str, max_keys: usize) -> RateLimiter {
        RateLimiter {
            clock: redis.clock().clone(),
            local: MemoryLimiter::new(max_keys),
            shared: Some(RedisLimiter::new(redis, key_prefix)),
        }
    }

    /// A limiter on a Redis connection of its own, keys under `key_prefix`. Only the URL is
    /// checked.
    #[cfg(test)]
    pub(crate) fn redis(
        url: &str,
        key_prefix: &str,
        clock: SharedClock,
        max_keys: usize,
    ) -> anyhow::Result<RateLimiter> {
        let redis = RedisHandle::new(url, "", clock)?;
        Ok(RateLimiter::on_redis(&redis, key_prefix, max_keys))
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
        let now = self.clock.now_ms();
        if let Some(decision) = shared.check(key, rule, now, self.local.max_exact()).await {
            return decision;
        }
        self.local.check(key, rule, self.clock.now_ms())
    }

    /// Times Redis was bypassed for the local limiter (a metric): checks it failed and checks
    /// made while the breaker skipped it. 0 for an in-memory limiter.
    pub fn redis_fallbacks(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.scope().bypasses())
    }

    /// Whether Redis is bypassed right now (the `ratelimit_backend_degraded` gauge).
    pub fn redis_degraded(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| shared.scope().is_degraded())
    }

    /// Checks sent to Redis, answered or not.
    pub fn redis_attempts(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.scope().attempts())
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
