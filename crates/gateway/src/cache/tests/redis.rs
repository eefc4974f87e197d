//! The Redis store against a real server (`redis://127.0.0.1:6379`, or `TOLLGATE_TEST_REDIS_URL`).
//! Each test uses its own key prefix and deletes its keys at the end; nothing else is touched.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::response;
use crate::cache::ResponseCache;
use crate::cache::redis::OP_TIMEOUT;
use crate::clock::ManualClock;

const START_MS: i64 = 1_700_000_000_000;

fn redis_url() -> String {
    std::env::var("TOLLGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A test's own corner of the shared server.
struct Scope {
    prefix: String,
    connection: ::redis::aio::MultiplexedConnection,
}

impl Scope {
    async fn new() -> Scope {
        let client = ::redis::Client::open(redis_url()).unwrap();
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("Redis at {} is needed for these tests: {e}", redis_url()));
        Scope {
            prefix: format!("tollgate-test-{}:", uuid::Uuid::now_v7()),
            connection,
        }
    }

    fn cache(&self, clock: &Arc<ManualClock>) -> ResponseCache {
        ResponseCache::redis(&redis_url(), &self.prefix, clock.clone()).unwrap()
    }

    async fn raw(&self, key: &str) -> Option<Vec<u8>> {
        let mut connection = self.connection.clone();
        ::redis::cmd("GET")
            .arg(format!("{}{key}", self.prefix))
            .query_async(&mut connection)
            .await
            .unwrap()
    }

    async fn keys(&self) -> Vec<String> {
        let mut connection = self.connection.clone();
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        loop {
            let (next, mut batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .unwrap();
            keys.append(&mut batch);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }

    /// Deletes this test's keys (only those under its prefix).
    async fn clean(self) {
        let keys = self.keys().await;
        if !keys.is_empty() {
            let mut connection = self.connection.clone();
            ::redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut connection)
                .await
                .unwrap();
        }
        assert!(self.keys().await.is_empty());
    }
}

/// A local port with nothing listening on it.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn redis_round_trip_is_shared_between_instances() {
    let scope = Scope::new().await;
    let clock = ManualClock::new(START_MS);
    let (one, two) = (scope.cache(&clock), scope.cache(&clock));
    let stored = response(&b"{\"choices\":[]}"[..], START_MS, 60_000);
    assert_eq!(two.get("k").await, None);
    one.put("k", stored.clone()).await;
    assert_eq!(
        two.get("k").await,
        Some(stored.clone()),
        "written by one, read by the other"
    );
    assert_eq!(one.get("k").await, Some(stored));
    // Another prefix is another cache.
    let other = ResponseCache::redis(
        &redis_url(),
        &format!("{}other:", scope.prefix),
        clock.clone(),
    )
    .unwrap();
    assert_eq!(other.get("k").await, None);
    assert_eq!((one.bypasses(), two.bypasses()), (0, 0));
    scope.clean().await;
}

#[tokio::test]
async fn redis_entries_expire_by_the_clock_and_in_redis() {
    let scope = Scope::new().await;
    let clock = ManualClock::new(START_MS);
    let cache = scope.cache(&clock);
    let stored = response(&b"body"[..], START_MS, 60_000);
    cache.put("k", stored.clone()).await;
    // Redis holds it with a TTL of its own, so abandoned entries go away by themselves.
    let mut connection = scope.connection.clone();
    let pttl: i64 = ::redis::cmd("PTTL")
        .arg(format!("{}k", scope.prefix))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((1..=60_000).contains(&pttl), "{pttl}");
    clock.set(stored.expires_at_ms - 1);
    assert_eq!(cache.get("k").await, Some(stored.clone()));
    clock.set(stored.expires_at_ms);
    assert_eq!(cache.get("k").await, None);
    assert_eq!(scope.raw("k").await, None, "an expired entry is removed");
    // Already expired responses are not written.
    cache.put("late", response(&b"x"[..], START_MS, 10)).await;
    assert_eq!(scope.raw("late").await, None);
    scope.clean().await;
}

#[tokio::test]
async fn redis_bodies_round_trip_byte_identical() {
    let scope = Scope::new().await;
    let clock = ManualClock::new(START_MS);
    let cache = scope.cache(&clock);
    let binary: Vec<u8> = (0..=255u8).cycle().take(256 * 64).collect();
    let sse = "data: {\"choices\":[{\"delta\":{\"content\":\"héllo\"}}]}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n";
    let mut stream = response(Bytes::from(sse), START_MS, 60_000);
    stream.headers = vec![
        ("content-type".into(), "text/event-stream".into()),
        ("x-odd".into(), "\"quoted\" \\ é".into()),
    ];
    for (key, stored) in [
        ("binary", response(binary.clone(), START_MS, 60_000)),
        ("sse", stream),
        ("empty", response(Bytes::new(), START_MS, 60_000)),
    ] {
        cache.put(key, stored.clone()).await;
        assert_eq!(cache.get(key).await, Some(stored), "{key}");
    }
    // Stored compactly: the raw body plus a small header, never an encoding of it.
    let raw = scope.raw("binary").await.unwrap();
    assert_eq!(raw[0], 1, "version byte");
    assert!(raw.ends_with(&binary));
    assert!(
        raw.len() < binary.len() + 128,
        "{} bytes for {}",
        raw.len(),
        binary.len()
    );
    scope.clean().await;
}

#[tokio::test]
async fn redis_skips_bodies_over_the_limit() {
    let scope = Scope::new().await;
    let clock = ManualClock::new(START_MS);
    let cache = scope.cache(&clock);
    let too_big = Bytes::from(vec![0u8; ResponseCache::MAX_ENTRY_BYTES + 1]);
    cache.put("big", response(too_big, START_MS, 60_000)).await;
    assert_eq!(scope.raw("big").await, None);
    assert_eq!(cache.store_attempts(), 0, "not even sent");
    scope.clean().await;
}

#[tokio::test]
async fn redis_damaged_value_is_a_miss() {
    let scope = Scope::new().await;
    let clock = ManualClock::new(START_MS);
    let cache = scope.cache(&clock);
    let mut connection = scope.connection.clone();
    ::redis::cmd("SET")
        .arg(format!("{}k", scope.prefix))
        .arg(b"\x09not ours".as_slice())
        .arg("PX")
        .arg(60_000)
        .query_async::<()>(&mut connection)
        .await
        .unwrap();
    assert_eq!(cache.get("k").await, None);
    assert_eq!(
        cache.bypasses(),
        0,
        "Redis answered; the value was just unreadable"
    );
    scope.clean().await;
}

#[test]
fn redis_construction_checks_only_the_url() {
    // No runtime and no server needed: connecting happens on first use.
    let clock = ManualClock::new(START_MS);
    assert!(
        ResponseCache::redis(
            &format!("redis://127.0.0.1:{}", free_port()),
            "p:",
            clock.clone()
        )
        .is_ok()
    );
    assert!(ResponseCache::redis("not a url", "p:", clock).is_err());
}

#[tokio::test]
async fn redis_unreachable_is_a_miss_and_the_breaker_limits_attempts() {
    let clock = ManualClock::new(START_MS);
    let url = format!("redis://127.0.0.1:{}", free_port());
    let cache = ResponseCache::redis(&url, "tollgate-test-unreachable:", clock.clone()).unwrap();

    assert_eq!(cache.get("k").await, None);
    assert_eq!((cache.store_attempts(), cache.bypasses()), (1, 1));
    // Open for 1 s: neither gets nor puts go to Redis, but each is counted as a bypass.
    for _ in 0..10 {
        assert_eq!(cache.get("k").await, None);
        cache.put("k", response(&b"x"[..], START_MS, 60_000)).await;
    }
    assert_eq!((cache.store_attempts(), cache.bypasses()), (1, 21));

    // One probe per open period; the period doubles after each failed probe.
    clock.advance(Duration::from_millis(999));
    assert_eq!(cache.get("k").await, None);
    assert_eq!(cache.store_attempts(), 1);
    clock.advance(Duration::from_millis(1));
    assert_eq!(cache.get("k").await, None);
    assert_eq!(cache.get("k").await, None);
    assert_eq!(cache.store_attempts(), 2, "one probe after 1 s");
    clock.advance(Duration::from_millis(1_999));
    assert_eq!(cache.get("k").await, None);
    assert_eq!(cache.store_attempts(), 2, "now open for 2 s");
    clock.advance(Duration::from_millis(1));
    cache.put("k", response(&b"x"[..], START_MS, 60_000)).await;
    assert_eq!(cache.store_attempts(), 3);
    assert_eq!(cache.bypasses(), 26);
}

#[expect(
    clippy::disallowed_methods,
    reason = "a fake Redis server for this test, aborted before it ends"
)]
#[tokio::test]
async fn redis_that_never_answers_is_bounded_by_the_timeout() {
    // Accepts connections and never replies: the worst case for a cache on the request path.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let clock = ManualClock::new(START_MS);
    let cache = ResponseCache::redis(
        &format!("redis://127.0.0.1:{port}"),
        "tollgate-test-hung:",
        clock.clone(),
    )
    .unwrap();

    let started = crate::clock::monotonic_now();
    assert_eq!(cache.get("k").await, None);
    let waited = started.elapsed();
    assert!(
        waited >= OP_TIMEOUT.saturating_sub(Duration::from_millis(50)),
        "{waited:?}"
    );
    assert!(
        waited < OP_TIMEOUT * 8,
        "bounded by the timeout, took {waited:?}"
    );
    assert_eq!(cache.bypasses(), 1);

    // The breaker is now open: the next calls do not wait at all.
    let started = crate::clock::monotonic_now();
    cache.put("k", response(&b"x"[..], START_MS, 60_000)).await;
    assert_eq!(cache.get("k").await, None);
    assert!(started.elapsed() < OP_TIMEOUT, "{:?}", started.elapsed());
    assert_eq!((cache.store_attempts(), cache.bypasses()), (1, 3));

    // After the open period a probe waits once more, still bounded.
    clock.advance(Duration::from_secs(1));
    let started = crate::clock::monotonic_now();
    assert_eq!(cache.get("k").await, None);
    assert!(
        started.elapsed() < OP_TIMEOUT * 8,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cache.store_attempts(), 2);
    held.abort();
}

/// A server that answers every command with `-ERR boom` (what OOM or NOAUTH look like).
#[expect(
    clippy::disallowed_methods,
    reason = "a fake Redis server for this test, aborted before it ends"
)]
async fn erroring_server() -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = socket.read(&mut buffer).await {
                    pending.extend_from_slice(&buffer[..n]);
                    while let Some(len) = complete_command(&pending) {
                        pending.drain(..len);
                        if socket.write_all(b"-ERR boom\r\n").await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, task)
}

/// The length of the first complete RESP command (`*N` of `$len` bulk strings) in `input`.
fn complete_command(input: &[u8]) -> Option<usize> {
    fn line(input: &[u8], at: usize) -> Option<(usize, usize)> {
        let end = at + input.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let number = std::str::from_utf8(input.get(at + 1..end)?)
            .ok()?
            .parse()
            .ok()?;
        Some((number, end + 2))
    }
    let (count, mut at) = line(input, 0)?;
    for _ in 0..count {
        let (len, start) = line(input, at)?;
        at = start + len + 2;
        if input.len() < at {
            return None;
        }
    }
    Some(at)
}

#[tokio::test]
async fn redis_error_replies_are_misses_without_opening_the_breaker() {
    let (port, server) = erroring_server().await;
    let clock = ManualClock::new(START_MS);
    let cache = ResponseCache::redis(
        &format!("redis://127.0.0.1:{port}"),
        "tollgate-test-err:",
        clock.clone(),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(cache.get("k").await, None);
        cache.put("k", response(&b"x"[..], START_MS, 60_000)).await;
    }
    // Every call reached the server (no breaker) and every one was a bypass.
    assert_eq!((cache.store_attempts(), cache.bypasses()), (6, 6));
    server.abort();
}
