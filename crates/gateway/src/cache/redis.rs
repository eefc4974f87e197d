//! The Redis store, shared by every instance: `SET key value PX ttl` and `GET`, values in the
//! binary layout of `codec`. Redis is an optimisation, never a dependency of a request: every
//! call is bounded by [`OP_TIMEOUT`], a failure is a miss (and a counted bypass), and after a
//! failure the circuit breaker skips Redis for a while.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Cmd, FromRedisValue, RedisError};
use anyhow::Context;
use tokio::sync::OnceCell;

use super::breaker::Breaker;
use super::{CachedResponse, ResponseCache, codec};
use crate::clock::SharedClock;

/// The longest a cache call may add to a request, connecting included.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_millis(250);

pub(crate) struct RedisStore {
    client: Client,
    /// Made on first use: creating it needs a running Tokio runtime, and connecting at
    /// construction would make an unreachable Redis stop the gateway from starting.
    connection: OnceCell<ConnectionManager>,
    key_prefix: String,
    clock: SharedClock,
    breaker: Breaker,
    bypasses: AtomicU64,
    /// Calls that actually went to Redis (tests check the breaker with it).
    attempts: AtomicU64,
}

impl RedisStore {
    pub(crate) fn new(
        url: &str,
        key_prefix: &str,
        clock: SharedClock,
    ) -> anyhow::Result<RedisStore> {
        let client = Client::open(url).context("invalid Redis URL for the cache")?;
        Ok(RedisStore {
            client,
            connection: OnceCell::new(),
            key_prefix: key_prefix.to_owned(),
            clock,
            breaker: Breaker::default(),
            bypasses: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
        })
    }

    pub(crate) fn bypasses(&self) -> u64 {
        self.bypasses.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub(crate) async fn get(&self, key: &str) -> Option<CachedResponse> {
        let redis_key = self.redis_key(key);
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
        if self.clock.now_ms() >= response.expires_at_ms {
            let _: Option<()> = self.call(::redis::cmd("DEL").arg(&redis_key)).await;
            return None;
        }
        Some(response)
    }

    pub(crate) async fn put(&self, key: &str, response: CachedResponse) {
        let ttl_ms = response.expires_at_ms.saturating_sub(self.clock.now_ms());
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
        set.arg(self.redis_key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms.max(1));
        let _: Option<()> = self.call(&set).await;
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    /// Runs one Redis command under the breaker and the timeout. Every way it can fail is counted
    /// as a bypass (`None`); only the first failure in 10 s is logged.
    async fn call<T: FromRedisValue>(&self, command: &Cmd) -> Option<T> {
        let Some(ticket) = self.breaker.allow(self.clock.now_ms()) else {
            self.bypasses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let outcome = tokio::time::timeout(OP_TIMEOUT, async {
            let mut connection = self.connection().await?;
            match command.query_async(&mut connection).await {
                // The manager only reconnects after a command has failed on a broken connection
                // (e.g. Redis restarted): try once more on the new one. Our commands are
                // idempotent, and the whole call stays within the timeout.
                Err(error) if is_connection_error(&error) => {
                    command.query_async(&mut connection).await
                }
                result => result,
            }
        })
        .await;
        let error = match outcome {
            Ok(Ok(value)) => {
                self.breaker.success();
                return Some(value);
            }
            // Redis answered, with an error (e.g. OOM, NOAUTH): it is reachable and answers fast,
            // so there is no timeout to spare requests from and the breaker closes.
            Ok(Err(error)) if error.code().is_some() => {
                self.breaker.success();
                error.to_string()
            }
            Ok(Err(error)) => {
                self.breaker.failure(ticket, self.clock.now_ms());
                error.to_string()
            }
            Err(_) => {
                self.breaker.failure(ticket, self.clock.now_ms());
                format!("no answer within {} ms", OP_TIMEOUT.as_millis())
            }
        };
        let bypasses = self.bypasses.fetch_add(1, Ordering::Relaxed) + 1;
        if self.breaker.should_warn(self.clock.now_ms()) {
            tracing::warn!(
                %error,
                bypasses,
                "Redis cache failed; requests bypass the cache (retrying with backoff)"
            );
        }
        None
    }

    async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(OP_TIMEOUT))
                    .set_response_timeout(Some(OP_TIMEOUT))
                    // Our breaker decides when to try again; the manager's own retries would
                    // only hold the request longer.
                    .set_number_of_retries(0);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?;
        // A cheap handle onto the same multiplexed connection.
        Ok(connection.clone())
    }
}

fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
}
