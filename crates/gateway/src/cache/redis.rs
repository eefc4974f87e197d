//! The Redis store, shared by every instance: `SET key value PX ttl` and `GET`, values in the
//! binary layout of `codec`. Redis is an optimisation, never a dependency of a request: every
//! call goes through the shared handle's breaker and is bounded by [`OP_TIMEOUT`]; a failure is a
//! miss (and a counted bypass).

use std::time::Duration;

use ::redis::{Cmd, FromRedisValue};

use super::{CachedResponse, ResponseCache, codec};
use crate::redis::{RedisHandle, RedisScope};

/// The longest a cache call may add to a request, connecting included.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_millis(250);

pub(crate) struct RedisStore {
    redis: RedisScope,
}

impl RedisStore {
    pub(crate) fn new(redis: &RedisHandle, key_prefix: &str) -> RedisStore {
        RedisStore {
            redis: redis.scope(
                key_prefix,
                OP_TIMEOUT,
                "Redis cache failed; requests bypass the cache (retrying with backoff)",
            ),
        }
    }

    pub(crate) fn bypasses(&self) -> u64 {
        self.redis.bypasses()
    }

    #[cfg(test)]
    pub(crate) fn attempts(&self) -> u64 {
        self.redis.attempts()
    }

    pub(crate) async fn get(&self, key: &str) -> Option<CachedResponse> {
        let redis_key = self.redis.key(key);
        let value: Option<Vec<u8>> = self.call(::redis::cmd("GET").arg(&redis_key)).await?;
        let response = match codec::decode(value?) {
            Ok(response) => response,
            Err(error) => {
                // Written by another version, or damaged: a miss, and the next put replaces it.
                tracing::debug!(%error, "unreadable cache entry ignored");
                return None;
            }
        };
        // Redis expires entries on its own clock too; this check is the one tests control, and it
        // covers instances whose clocks disagree slightly.
        if self.redis.clock().now_ms() >= response.expires_at_ms {
            let _: Option<()> = self.call(::redis::cmd("DEL").arg(&redis_key)).await;
            return None;
        }
        Some(response)
    }

    pub(crate) async fn put(&self, key: &str, response: CachedResponse) {
        let ttl_ms = response
            .expires_at_ms
            .saturating_sub(self.redis.clock().now_ms());
        if ttl_ms <= 0 || response.body.len() > ResponseCache::MAX_ENTRY_BYTES {
            return;
        }
        let value = match codec::encode(&response) {
            Ok(value) => value,
            Err(error) => {
                tracing::warn!(%error, "cache entry could not be encoded; not stored");
                return;
            }
        };
        let mut set = ::redis::cmd("SET");
        set.arg(self.redis.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms.max(1));
        let _: Option<()> = self.call(&set).await;
    }

    /// One command (all of ours are idempotent) through the shared handle.
    async fn call<T: FromRedisValue>(&self, command: &Cmd) -> Option<T> {
        self.redis
            .call(|mut connection| async move { command.query_async(&mut connection).await })
            .await
    }
}
