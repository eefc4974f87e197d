//! The in-process store: moka, bounded in bytes (a weigher) with LRU eviction. Expiry is decided
//! with the gateway's clock on read; moka's own per-entry TTL is only a backstop that frees the
//! memory of entries nobody reads again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use moka::policy::EvictionPolicy;

use super::{CachedResponse, ResponseCache};
use crate::clock::SharedClock;

/// Bookkeeping per entry beyond the bytes we count (struct, moka's node, allocator slack), so
/// that many tiny entries cannot exceed the bound by much.
const ENTRY_OVERHEAD_BYTES: usize = 256;
/// The backstop fires this long after the clock says an entry expired, so that the clock, not
/// moka's timer, is what tests and requests observe.
const BACKSTOP_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Entry {
    response: CachedResponse,
    /// Time to live as seen when stored, for moka's backstop expiry.
    backstop_ttl: Duration,
}

pub(crate) struct MemoryStore {
    clock: SharedClock,
    entries: Cache<String, Arc<Entry>>,
    max_bytes: u64,
}

impl MemoryStore {
    pub(crate) fn new(clock: SharedClock, max_bytes: u64) -> MemoryStore {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Arc<Entry>| {
                u32::try_from(weight(key, &entry.response)).unwrap_or(u32::MAX)
            })
            // LRU rather than moka's default TinyLFU: TinyLFU may refuse to admit a new entry,
            // and a response cache should keep what was just fetched.
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(Backstop)
            .build();
        MemoryStore {
            clock,
            entries,
            max_bytes,
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Option<CachedResponse> {
        let entry = self.entries.get(key).await?;
        if self.clock.now_ms() >= entry.response.expires_at_ms {
            self.entries.invalidate(key).await;
            return None;
        }
        Some(entry.response.clone())
    }

    pub(crate) async fn put(&self, key: &str, response: CachedResponse) {
        let now_ms = self.clock.now_ms();
        if response.expires_at_ms <= now_ms || response.body.len() > ResponseCache::MAX_ENTRY_BYTES
        {
            return;
        }
        // An entry larger than the whole cache would only evict everything else.
        if weight(key, &response) as u64 > self.max_bytes {
            return;
        }
        let ttl_ms = u64::try_from(response.expires_at_ms - now_ms).unwrap_or(0);
        let backstop_ttl = Duration::from_millis(ttl_ms).saturating_add(BACKSTOP_GRACE);
        self.entries
            .insert(
                key.to_owned(),
                Arc::new(Entry {
                    response,
                    backstop_ttl,
                }),
            )
            .await;
        // Apply evictions now rather than on moka's schedule, so the byte bound holds right after
        // each insert. Puts follow an upstream call, so this cost is small by comparison.
        self.entries.run_pending_tasks().await;
    }

    /// Bytes held, as the weigher counts them (after pending evictions are applied).
    #[cfg(test)]
    pub(crate) async fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }
}

/// What an entry costs: key, headers, body and a fixed overhead.
pub(crate) fn weight(key: &str, response: &CachedResponse) -> usize {
    let headers: usize = response
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    ENTRY_OVERHEAD_BYTES + key.len() + headers + response.body.len()
}

struct Backstop;

impl Expiry<String, Arc<Entry>> for Backstop {
    fn expire_after_create(
        &self,
        _key: &String,
        entry: &Arc<Entry>,
        _at: Instant,
    ) -> Option<Duration> {
        Some(entry.backstop_ttl)
    }

    /// A replaced entry gets the new response's lifetime, not the rest of the old one.
    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Arc<Entry>,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.backstop_ttl)
    }
}
