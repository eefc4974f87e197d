//! The response cache (docs/cache.md): the key, the stores (memory or Redis) and single flight.
//!
//! The proxy computes a [`cache_key`], asks [`ResponseCache::get`], and on a miss calls
//! [`ResponseCache::join`] so that identical concurrent requests make one upstream call. The
//! cache never makes a request fail: a store that cannot be reached behaves as a miss.

mod canon;
mod codec;
mod flight;
mod key;
mod memory;
mod redis;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::clock::SharedClock;
use crate::redis::RedisHandle;

pub use flight::{Flight, FlightGuard, Outcome};
pub use key::{KeyParts, cache_key};

use self::redis::RedisStore;
use flight::Flights;
use memory::MemoryStore;

/// A complete upstream response as stored and replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedResponse {
    pub status: u16,
    /// As they should be replayed (the proxy chooses which ones to keep).
    pub headers: Vec<(String, String)>,
    /// The complete body; for SSE the whole event stream, replayed as-is.
    pub body: Bytes,
    pub stored_at_ms: i64,
    pub expires_at_ms: i64,
}

/// The response cache: one store plus this instance's in-flight requests.
pub struct ResponseCache {
    store: Store,
    flights: Flights,
}

enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl ResponseCache {
    /// Largest body stored (25 MiB, docs/cache.md); larger responses are not cached.
    pub const MAX_ENTRY_BYTES: usize = 25 * 1024 * 1024;

    /// A cache in this process, bounded to `max_bytes` (bodies, headers and keys), LRU.
    pub fn in_memory(clock: SharedClock, max_bytes: u64) -> ResponseCache {
        ResponseCache {
            store: Store::Memory(MemoryStore::new(clock, max_bytes)),
            flights: Flights::default(),
        }
    }

    /// A cache in the shared Redis, under `key_prefix` after the handle's: shared by all
    /// instances using the same prefixes. Nothing is connected here, so an unreachable server
    /// never stops the gateway from starting.
    pub fn on_redis(redis: &RedisHandle, key_prefix: &str) -> ResponseCache {
        ResponseCache {
            store: Store::Redis(RedisStore::new(redis, key_prefix)),
            flights: Flights::default(),
        }
    }

    /// A cache on a Redis connection of its own, keys under `key_prefix`. Only the URL is checked.
    #[cfg(test)]
    pub(crate) fn redis(
        url: &str,
        key_prefix: &str,
        clock: SharedClock,
    ) -> anyhow::Result<ResponseCache> {
        Ok(ResponseCache::on_redis(
            &RedisHandle::new(url, "", clock)?,
            key_prefix,
        ))
    }

    /// The stored response for `key`, unless absent, expired (then it is removed) or the store
    /// cannot be reached.
    pub async fn get(&self, key: &str) -> Option<CachedResponse> {
        match &self.store {
            Store::Memory(store) => store.get(key).await,
            Store::Redis(store) => store.get(key).await,
        }
    }

    /// Stores `response` under `key`. The caller has already decided it is cacheable; bodies over
    /// [`Self::MAX_ENTRY_BYTES`] and responses already expired are dropped here.
    pub async fn put(&self, key: &str, response: CachedResponse) {
        if response.body.len() > Self::MAX_ENTRY_BYTES {
            return;
        }
        match &self.store {
            Store::Memory(store) => store.put(key, response).await,
            Store::Redis(store) => store.put(key, response).await,
        }
    }

    /// Times the store could not be reached and the cache was bypassed (a metric).
    pub fn bypasses(&self) -> u64 {
        match &self.store {
            Store::Memory(_) => 0,
            Store::Redis(store) => store.bypasses(),
        }
    }

    /// Single flight: the first caller for a key becomes the leader; others wait for its outcome.
    pub async fn join(&self, key: &str) -> Flight {
        self.flights.join(key).await
    }
}

#[cfg(test)]
impl ResponseCache {
    /// Calls that actually went to Redis (0 for the memory store).
    fn store_attempts(&self) -> u64 {
        match &self.store {
            Store::Memory(_) => 0,
            Store::Redis(store) => store.attempts(),
        }
    }

    /// Bytes held by the memory store, after pending evictions.
    async fn memory_bytes(&self) -> u64 {
        match &self.store {
            Store::Memory(store) => store.weighted_bytes().await,
            Store::Redis(_) => 0,
        }
    }
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match &self.store {
            Store::Memory(_) => "memory",
            Store::Redis(_) => "redis",
        };
        f.debug_struct("ResponseCache")
            .field("store", &store)
            .finish_non_exhaustive()
    }
}
