//! The memory store: round trip, expiry by the clock, the byte bound with LRU eviction.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::response;
use crate::cache::ResponseCache;
use crate::clock::ManualClock;

const START_MS: i64 = 1_700_000_000_000;

#[tokio::test]
async fn memory_put_get_round_trip() {
    let clock = ManualClock::new(START_MS);
    let cache = ResponseCache::in_memory(clock.clone(), 1 << 20);
    assert_eq!(cache.get("k").await, None);
    let mut stored = response(&b"{\"ok\":true}"[..], START_MS, 60_000);
    stored.status = 201;
    stored.headers.push(("x-request-id".into(), "abc".into()));
    cache.put("k", stored.clone()).await;
    assert_eq!(cache.get("k").await, Some(stored.clone()));
    assert_eq!(cache.get("other").await, None);
    // A second put replaces the entry.
    let replaced = response(&b"second"[..], START_MS, 60_000);
    cache.put("k", replaced.clone()).await;
    assert_eq!(cache.get("k").await, Some(replaced));
    assert_eq!(cache.bypasses(), 0);
}

#[tokio::test]
async fn memory_entries_expire_by_the_clock() {
    let clock = ManualClock::new(START_MS);
    let cache = ResponseCache::in_memory(clock.clone(), 1 << 20);
    let stored = response(&b"body"[..], START_MS, 60_000);
    cache.put("k", stored.clone()).await;
    clock.set(stored.expires_at_ms - 1);
    assert_eq!(cache.get("k").await, Some(stored.clone()));
    clock.set(stored.expires_at_ms);
    assert_eq!(cache.get("k").await, None);
    // Removed, not just hidden: turning the clock back does not revive it.
    clock.set(START_MS);
    assert_eq!(cache.get("k").await, None);
    assert_eq!(cache.memory_bytes().await, 0);
}

#[tokio::test]
async fn memory_does_not_store_already_expired_responses() {
    let clock = ManualClock::new(START_MS);
    let cache = ResponseCache::in_memory(clock.clone(), 1 << 20);
    cache
        .put("k", response(&b"body"[..], START_MS - 10, 10))
        .await;
    assert_eq!(cache.get("k").await, None);
}

#[tokio::test]
async fn memory_is_bounded_in_bytes_and_evicts_least_recently_used() {
    let clock = ManualClock::new(START_MS);
    let max_bytes = 10_000;
    let cache = ResponseCache::in_memory(clock.clone(), max_bytes);
    let body = Bytes::from(vec![7u8; 2_000]);
    // Four entries of about 2.3 KB fit; a fifth does not.
    for key in ["k0", "k1", "k2", "k3"] {
        cache
            .put(key, response(body.clone(), START_MS, 60_000))
            .await;
    }
    for key in ["k0", "k1", "k2", "k3"] {
        assert!(cache.get(key).await.is_some(), "{key} fits");
    }
    // k0 becomes the most recently used, so k1 and k2 are the oldest.
    assert!(cache.get("k0").await.is_some());
    cache
        .put("k4", response(body.clone(), START_MS, 60_000))
        .await;
    cache
        .put("k5", response(body.clone(), START_MS, 60_000))
        .await;
    assert!(cache.memory_bytes().await <= max_bytes);
    assert!(
        cache.get("k0").await.is_some(),
        "recently read entry survives"
    );
    assert!(cache.get("k5").await.is_some(), "newest entry is kept");
    let evicted = [
        cache.get("k1").await.is_none(),
        cache.get("k2").await.is_none(),
    ];
    assert_eq!(evicted, [true, true]);
    assert!(cache.memory_bytes().await <= max_bytes);
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own concurrent writers, joined before it ends"
)]
#[tokio::test]
async fn memory_byte_bound_holds_under_many_puts() {
    let clock = ManualClock::new(START_MS);
    let max_bytes = 64 * 1024;
    let cache = Arc::new(ResponseCache::in_memory(clock.clone(), max_bytes));
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                for i in 0..100 {
                    let body = Bytes::from(vec![u8::try_from(task).unwrap(); 500 + i * 7]);
                    cache
                        .put(&format!("{task}-{i}"), response(body, START_MS, 60_000))
                        .await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let held = cache.memory_bytes().await;
    assert!(held > 0 && held <= max_bytes, "{held}");
}

#[tokio::test]
async fn memory_skips_entries_over_the_size_limits() {
    let clock = ManualClock::new(START_MS);
    let cache = ResponseCache::in_memory(clock.clone(), 64 * 1024 * 1024);
    let too_big = Bytes::from(vec![0u8; ResponseCache::MAX_ENTRY_BYTES + 1]);
    cache.put("big", response(too_big, START_MS, 60_000)).await;
    assert_eq!(cache.get("big").await, None);
    let largest = Bytes::from(vec![0u8; ResponseCache::MAX_ENTRY_BYTES]);
    cache
        .put("largest", response(largest.clone(), START_MS, 60_000))
        .await;
    assert_eq!(cache.get("largest").await.map(|r| r.body), Some(largest));

    // An entry larger than the whole cache is not stored and evicts nothing.
    let small = ResponseCache::in_memory(clock.clone(), 4_096);
    small
        .put("keep", response(&b"small"[..], START_MS, 60_000))
        .await;
    small
        .put("huge", response(vec![1u8; 8_192], START_MS, 60_000))
        .await;
    assert_eq!(small.get("huge").await, None);
    assert!(small.get("keep").await.is_some());
    clock.advance(Duration::from_secs(61));
    assert_eq!(small.get("keep").await, None);
}
