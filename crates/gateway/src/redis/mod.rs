//! The one Redis connection the response cache and the rate limiter share: the client, one
//! lazily made connection manager, the deployment's key prefix and one circuit breaker. Each
//! user works through a [`RedisScope`]: its own key prefix, its own per-call timeout, its own
//! counters and warning.
//!
//! Redis is an optimisation, never a dependency of a request: every call is bounded by its
//! scope's timeout, connecting included; a call that fails is answered without Redis (the cache
//! misses, the limiter counts locally), and after a failure the breaker skips Redis for a while
//! (1 s doubling to 30 s, then one trial; docs/cache.md, docs/resilience.md). There is one
//! breaker because there is one server: once the limiter has found Redis down, the cache does
//! not wait for it too.

mod breaker;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError};
use anyhow::Context;

use self::breaker::{Breaker, WarnThrottle};
use crate::clock::SharedClock;

/// The longest any scope's call may take; the connection manager's own connect and response
/// timeouts, which the scope's (shorter or equal) timeout bounds further.
const MAX_CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// The shared Redis: cheap to clone, made once per gateway (`state.rs`).
#[derive(Clone)]
pub struct RedisHandle {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// Made on first use: creating it needs a running Tokio runtime, and connecting at
    /// construction would make an unreachable Redis stop the gateway from starting.
    connection: OnceLock<ConnectionManager>,
    key_prefix: String,
    clock: SharedClock,
    breaker: Breaker,
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: only the prefix is shown.
        f.debug_struct("RedisHandle")
            .field("key_prefix", &self.inner.key_prefix)
            .field("degraded", &self.is_degraded())
            .finish_non_exhaustive()
    }
}

impl RedisHandle {
    /// Parses the URL only: nothing is connected here.
    pub fn new(url: &str, key_prefix: &str, clock: SharedClock) -> anyhow::Result<RedisHandle> {
        let client = Client::open(url).context("invalid Redis URL")?;
        Ok(RedisHandle {
            inner: Arc::new(Inner {
                client,
                connection: OnceLock::new(),
                key_prefix: key_prefix.to_owned(),
                breaker: Breaker::new(clock.clone()),
                clock,
            }),
        })
    }

    /// A user's view: keys under `key_prefix` (after the handle's), calls bounded by `timeout`
    /// (at most [`MAX_CALL_TIMEOUT`]), and `consequence` logged (at most every 10 s) when Redis
    /// fails it.
    pub(crate) fn scope(
        &self,
        key_prefix: &str,
        timeout: Duration,
        consequence: &'static str,
    ) -> RedisScope {
        RedisScope {
            prefix: format!("{}{key_prefix}", self.inner.key_prefix),
            timeout: timeout.min(MAX_CALL_TIMEOUT),
            consequence,
            warn: WarnThrottle::new(self.inner.clock.clone()),
            attempts: AtomicU64::new(0),
            bypasses: AtomicU64::new(0),
            redis: self.clone(),
        }
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Whether calls skip Redis right now (until a trial succeeds).
    pub fn is_degraded(&self) -> bool {
        self.inner.breaker.is_open()
    }

    fn connection(&self) -> Result<ConnectionManager, RedisError> {
        if let Some(manager) = self.inner.connection.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(MAX_CALL_TIMEOUT))
            .set_response_timeout(Some(MAX_CALL_TIMEOUT))
            // The breaker decides when to try again; the manager's own retries would only hold
            // the request longer.
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(self.inner.client.clone(), config)?;
        // A cheap handle onto the same multiplexed connection.
        Ok(self.inner.connection.get_or_init(|| manager).clone())
    }
}

/// One user's part of the shared Redis.
pub(crate) struct RedisScope {
    redis: RedisHandle,
    prefix: String,
    timeout: Duration,
    consequence: &'static str,
    warn: WarnThrottle,
    /// Calls that went to Redis, answered or not.
    attempts: AtomicU64,
    /// Calls answered without Redis: failed, or skipped while the breaker is open.
    bypasses: AtomicU64,
}

impl std::fmt::Debug for RedisScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisScope")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisScope {
    /// `key` under this scope's prefix.
    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        self.redis.clock()
    }

    pub(crate) fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub(crate) fn bypasses(&self) -> u64 {
        self.bypasses.load(Ordering::Relaxed)
    }

    pub(crate) fn is_degraded(&self) -> bool {
        self.redis.is_degraded()
    }

    /// Runs `op` on the connection under the breaker and the timeout. `None` (a counted bypass)
    /// for every way it can fail; the caller then answers without Redis. `op` must be idempotent:
    /// after a broken connection it runs once more on the new one, within the same timeout.
    pub(crate) async fn call<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let breaker = &self.redis.inner.breaker;
        let Some(permit) = breaker.permit() else {
            self.bypasses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let outcome = tokio::time::timeout(self.timeout, async {
            let connection = self.redis.connection()?;
            match op(connection.clone()).await {
                // The manager only reconnects after a command has failed on a broken connection
                // (e.g. Redis restarted): one more try uses the new one.
                Err(error) if is_connection_error(&error) => op(connection).await,
                result => result,
            }
        })
        .await;
        let error = match outcome {
            Ok(Ok(value)) => {
                if permit.is_trial() {
                    tracing::info!("Redis answers again; the cache and rate limits use it");
                }
                permit.succeeded();
                return Some(value);
            }
            // Redis answered, with an error (e.g. OOM, NOAUTH): it is reachable and answers fast,
            // so there is no timeout to spare requests from and the breaker closes.
            Ok(Err(error)) if error.code().is_some() => {
                permit.succeeded();
                error.to_string()
            }
            Ok(Err(error)) => {
                permit.failed();
                error.to_string()
            }
            Err(_) => {
                permit.failed();
                format!("no answer within {} ms", self.timeout.as_millis())
            }
        };
        let bypasses = self.bypasses.fetch_add(1, Ordering::Relaxed) + 1;
        if self.warn.allow() {
            tracing::warn!(
                %error,
                bypasses,
                retry_in_ms = breaker.backoff_ms(),
                "{}",
                self.consequence
            );
        }
        None
    }
}

fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
}
