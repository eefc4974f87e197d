//! The shared limiter: one Lua script per check, which Redis runs atomically, so any number of
//! gateway instances sharing a Redis admit exactly `limit` in total.
//!
//! The time comes from the gateway's `Clock` as a script argument rather than from Redis's
//! `TIME`: tests control it, and instances agree on windows as long as their clocks are synced
//! (NTP); a skew of `s` ms moves window edges by at most `s` ms between instances. Keys get a
//! second of extra TTL so a slightly late instance still finds the counts of a window it is in.
//!
//! Redis keys, under the configured prefix (`{w}` the window in ms, `{i}` the window index):
//! - fixed: `{prefix}{key}:f:{w}:{i}`, a counter (GET, then INCR only when under the limit:
//!   refusals are not counted and nothing has to be undone);
//! - sliding: `{prefix}{key}:s:{w}`, a sorted set of admitted timestamps (members made unique
//!   with this instance's random id and a sequence number);
//! - sliding with a limit above the exact bound: `{prefix}{key}:c:{w}:{i}`, the current and
//!   previous windows' counters, as the in-memory counter.
//!
//! Redis memory: a sliding key holds at most `limit` members (≤ 65,536, about 100 bytes each),
//! and every key expires one second after the last window it counts for.
//!
//! Only the decision to admit is taken in Lua; the numbers reported (remaining, reset, retry
//! after) are computed from the script's reply by the same functions as in memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::{ErrorKind, RedisError, Script};

use super::rule::{
    Algorithm, Decision, RateLimitRule, counter_decision, fixed_decision, log_decision,
};
use crate::redis::{RedisHandle, RedisScope};

/// The bound on one check's Redis work, connecting included. A check that exceeds it is
/// answered by the local limiter.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(100);

/// Extra TTL on every key, for instances whose clocks are slightly behind.
const EXPIRY_SLACK_MS: i64 = 1_000;

const SCRIPT: &str = r"
local mode = ARGV[1]
local limit = tonumber(ARGV[2])
if mode == 'fixed' then
  local count = tonumber(redis.call('GET', KEYS[1]) or '0')
  if count >= limit then
    return {0, count}
  end
  count = redis.call('INCR', KEYS[1])
  if count == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
  end
  return {1, count}
elseif mode == 'log' then
  -- ARGV[3] now, ARGV[4] the newest time already outside the interval, ARGV[5] member, ARGV[6] ttl
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
  local count = redis.call('ZCARD', KEYS[1])
  local admitted = 0
  if count < limit then
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[5])
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
    count = count + 1
    admitted = 1
  end
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  local blocker = oldest
  if admitted == 0 then
    local at = count - limit
    blocker = tonumber(redis.call('ZRANGE', KEYS[1], at, at, 'WITHSCORES')[2])
  end
  return {admitted, count, oldest, blocker}
elseif mode == 'counter' then
  -- KEYS: previous window, current window; ARGV[3] window, ARGV[4] elapsed, ARGV[5] ttl
  local window = tonumber(ARGV[3])
  local elapsed = tonumber(ARGV[4])
  local prev = tonumber(redis.call('GET', KEYS[1]) or '0')
  local curr = tonumber(redis.call('GET', KEYS[2]) or '0')
  -- The same operations in the same order as counter_admits in rule.rs.
  if prev * (window - elapsed) / window + curr + 1 <= limit then
    curr = redis.call('INCR', KEYS[2])
    if curr == 1 then
      redis.call('PEXPIRE', KEYS[2], ARGV[5])
    end
    return {1, prev, curr}
  end
  return {0, prev, curr}
end
return redis.error_reply('unknown mode')
";

#[derive(Debug)]
pub(crate) struct RedisLimiter {
    redis: RedisScope,
    script: Script,
    /// Random per process: sorted-set members of two instances never collide.
    instance: u64,
    sequence: AtomicU64,
}

impl RedisLimiter {
    pub(crate) fn new(redis: &RedisHandle, key_prefix: &str) -> RedisLimiter {
        RedisLimiter {
            redis: redis.scope(
                key_prefix,
                REDIS_TIMEOUT,
                "rate limiting: Redis unavailable; counting in this process",
            ),
            script: Script::new(SCRIPT),
            instance: getrandom::u64().unwrap_or_else(|_| std::process::id().into()),
            sequence: AtomicU64::new(0),
        }
    }

    pub(crate) fn scope(&self) -> &RedisScope {
        &self.redis
    }

    /// The decision from Redis; `None` when Redis was skipped or failed (counted by the scope),
    /// and the local limiter answers.
    pub(crate) async fn check(
        &self,
        key: &str,
        rule: &RateLimitRule,
        now: i64,
        max_exact: u32,
    ) -> Option<Decision> {
        let prefix = self.redis.prefix();
        let w = rule.window_ms();
        let limit = rule.limit;
        let index = now.div_euclid(w);
        let mut invocation = self.script.prepare_invoke();
        let algorithm = rule.algorithm(max_exact);
        match algorithm {
            Algorithm::Fixed => {
                let ttl = index.saturating_add(1).saturating_mul(w) - now + EXPIRY_SLACK_MS;
                invocation
                    .key(format!("{}{key}:f:{w}:{index}", prefix))
                    .arg("fixed")
                    .arg(limit)
                    .arg(ttl);
            }
            Algorithm::Log => {
                let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
                invocation
                    .key(format!("{}{key}:s:{w}", prefix))
                    .arg("log")
                    .arg(limit)
                    .arg(now)
                    .arg(now.saturating_sub(w))
                    .arg(format!("{now}-{:016x}-{sequence}", self.instance))
                    .arg(w.saturating_add(EXPIRY_SLACK_MS));
            }
            Algorithm::Counter => {
                let ttl = index.saturating_add(2).saturating_mul(w) - now + EXPIRY_SLACK_MS;
                invocation
                    .key(format!("{}{key}:c:{w}:{}", prefix, index - 1))
                    .key(format!("{}{key}:c:{w}:{index}", prefix))
                    .arg("counter")
                    .arg(limit)
                    .arg(w)
                    .arg(now - index * w)
                    .arg(ttl);
            }
        }
        let decide = |reply: &[i64]| {
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            let admitted = reply.first() == Some(&1);
            Some(match (algorithm, reply) {
                (Algorithm::Fixed, [_, n]) => {
                    fixed_decision(limit, w, now, index, admitted, count(*n))
                }
                (Algorithm::Log, [_, n, oldest, blocker]) => {
                    log_decision(limit, w, now, admitted, count(*n), *oldest, *blocker)
                }
                (Algorithm::Counter, [_, previous, current]) => counter_decision(
                    limit,
                    w,
                    now - index * w,
                    admitted,
                    count(*previous),
                    count(*current),
                ),
                _ => return None,
            })
        };
        let (invocation, decide) = (&invocation, &decide);
        self.redis
            .call(|mut connection| async move {
                let reply: Vec<i64> = invocation.invoke_async(&mut connection).await?;
                // Our own script: any other shape means a broken server, and is treated as one.
                decide(&reply).ok_or_else(|| {
                    RedisError::from((
                        ErrorKind::UnexpectedReturnType,
                        "unexpected rate-limit script reply",
                        format!("{reply:?}"),
                    ))
                })
            })
            .await
    }
}
