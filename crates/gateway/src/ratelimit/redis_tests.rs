//! The Redis limiter against real servers: the shared one at `TOLLGATE_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`, each test under its own key prefix, deleted at the end; keys left
//! by a failed test expire by themselves), a port where nothing listens, a socket that never
//! answers, and a private `redis-server` that is killed and restarted.

use std::sync::Arc;
use std::time::Duration;

use super::memory::MemoryLimiter;
use super::tests::{T0, rule};
use super::*;
use crate::clock::{Clock, ManualClock};
use crate::gateways::RateLimitTechnique::{Fixed, Sliding};
use tollgate_test_support::redis::PrivateRedis;

fn redis_url() -> String {
    std::env::var("TOLLGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn test_prefix() -> String {
    format!("tollgate-test-{}:", uuid::Uuid::now_v7())
}

async fn connect(url: &str) -> ::redis::aio::MultiplexedConnection {
    let client = ::redis::Client::open(url).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// The keys under `prefix`, found with SCAN (never KEYS, never a flush).
async fn keys_under(url: &str, prefix: &str) -> Vec<String> {
    let mut connection = connect(url).await;
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1_000)
            .query_async(&mut connection)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

async fn delete_keys(url: &str, prefix: &str) {
    let keys = keys_under(url, prefix).await;
    if !keys.is_empty() {
        let mut connection = connect(url).await;
        let _: u64 = ::redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    assert!(keys_under(url, prefix).await.is_empty());
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn shared(url: &str, prefix: &str, clock: &Arc<ManualClock>, max_exact: u32) -> RateLimiter {
    RateLimiter::redis(url, prefix, clock.clone(), 1_000)
        .unwrap()
        .with_local(MemoryLimiter::with_bounds(64, 1_000, 1 << 20, max_exact))
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own concurrent checks and fake Redis server, joined or aborted before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_instances_admit_exactly_the_limit_together() {
    let url = redis_url();
    // The two-window counter is exercised with a low exact bound (2) on a limit of 60.
    for (technique, max_exact) in [(Fixed, 1_000), (Sliding, 1_000), (Sliding, 2)] {
        let prefix = test_prefix();
        let clock = ManualClock::new(T0 + 1);
        let instances = [
            Arc::new(shared(&url, &prefix, &clock, max_exact)),
            Arc::new(shared(&url, &prefix, &clock, max_exact)),
        ];
        let rule = rule(60, 60, technique);
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let (limiter, barrier) = (instances[i % 2].clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    limiter.check("acct:gw:gw", &rule).await
                })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            allowed += usize::from(task.await.unwrap().is_allowed());
        }
        for limiter in &instances {
            assert_eq!(
                limiter.redis_fallbacks(),
                0,
                "every check was answered by Redis"
            );
        }
        assert_eq!(allowed, 60, "{technique:?} (exact bound {max_exact})");
        assert_eq!(instances[0].local_keys() + instances[1].local_keys(), 0);
        delete_keys(&url, &prefix).await;
    }
}

/// The same sequence of checks through Redis and through memory gives the same decisions,
/// numbers included: the backends share their semantics.
#[tokio::test]
async fn redis_and_memory_agree_on_every_decision() {
    let url = redis_url();
    let steps: [(i64, usize); 7] = [
        (9_000, 7),
        (1_000, 7),
        (4_000, 3),
        (5_000, 7),
        (1, 2),
        (4_999, 3),
        (10_000, 7),
    ];
    for (technique, max_exact) in [(Fixed, 1_000), (Sliding, 1_000), (Sliding, 2)] {
        let prefix = test_prefix();
        let clock = ManualClock::new(T0);
        let redis = shared(&url, &prefix, &clock, max_exact);
        let memory = RateLimiter::in_memory(clock.clone(), 1_000)
            .with_local(MemoryLimiter::with_bounds(64, 1_000, 1 << 20, max_exact));
        let rule = rule(5, 10, technique);
        let mut admitted = 0;
        for (advance, checks) in steps {
            clock.advance(Duration::from_millis(u64::try_from(advance).unwrap()));
            for _ in 0..checks {
                let shared = redis.check("k", &rule).await;
                let local = memory.check("k", &rule).await;
                assert_eq!(
                    shared,
                    local,
                    "{technique:?}/{max_exact} at +{} ms",
                    clock.now_ms() - T0
                );
                admitted += usize::from(shared.is_allowed());
            }
        }
        assert!(
            admitted > 10,
            "{technique:?}: the scenario crosses windows ({admitted})"
        );
        assert_eq!(redis.redis_fallbacks(), 0);
        assert_eq!(redis.local_keys(), 0, "nothing was counted locally");
        // Every key the limiter wrote expires by itself.
        let keys = keys_under(&url, &prefix).await;
        assert!(!keys.is_empty());
        let mut connection = connect(&url).await;
        for key in &keys {
            let ttl: i64 = ::redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut connection)
                .await
                .unwrap();
            assert!(ttl > 0, "{key} has no expiry ({ttl})");
        }
        delete_keys(&url, &prefix).await;
    }
}

#[tokio::test]
async fn fixed_and_sliding_differ_across_a_window_edge_in_redis() {
    let url = redis_url();
    for technique in [Fixed, Sliding] {
        let prefix = test_prefix();
        let clock = ManualClock::new(T0 + 9_999);
        let limiter = shared(&url, &prefix, &clock, 1_000);
        let rule = rule(5, 10, technique);
        let mut first = 0;
        for _ in 0..8 {
            first += usize::from(limiter.check("k", &rule).await.is_allowed());
        }
        clock.set(T0 + 10_000);
        let mut second = 0;
        for _ in 0..8 {
            second += usize::from(limiter.check("k", &rule).await.is_allowed());
        }
        assert_eq!(first, 5);
        assert_eq!(second, if technique == Fixed { 5 } else { 0 });
        assert_eq!(limiter.redis_fallbacks(), 0);
        delete_keys(&url, &prefix).await;
    }
}

#[tokio::test]
async fn a_down_redis_limits_locally_behind_the_breaker() {
    // Nothing listens on a port just released: every connection is refused.
    let url = format!("redis://127.0.0.1:{}", free_port());
    let clock = ManualClock::new(T0);
    let limiter = RateLimiter::redis(&url, "tollgate-test:", clock.clone(), 1_000).unwrap();
    let rule = rule(3, 60, Fixed);
    let mut allowed = 0;
    for _ in 0..10 {
        allowed += usize::from(limiter.check("k", &rule).await.is_allowed());
    }
    assert_eq!(allowed, 3, "limited locally, not unlimited");
    assert_eq!(limiter.redis_fallbacks(), 10);
    assert_eq!(
        limiter.redis_attempts(),
        1,
        "the breaker skips Redis after the first failure"
    );
    assert!(limiter.redis_degraded());

    // 1 s on, one trial; it fails, and the next is 2 s later.
    clock.advance(Duration::from_secs(1));
    limiter.check("k", &rule).await;
    limiter.check("k", &rule).await;
    assert_eq!(limiter.redis_attempts(), 2);
    clock.advance(Duration::from_millis(1_999));
    limiter.check("k", &rule).await;
    assert_eq!(limiter.redis_attempts(), 2);
    clock.advance(Duration::from_millis(1));
    limiter.check("k", &rule).await;
    assert_eq!(limiter.redis_attempts(), 3);
    assert_eq!(limiter.redis_fallbacks(), 14);
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own concurrent checks and fake Redis server, joined or aborted before it ends"
)]
#[tokio::test]
async fn a_hung_redis_costs_the_timeout_once() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let clock = ManualClock::new(T0);
    let url = format!("redis://127.0.0.1:{port}");
    let limiter = RateLimiter::redis(&url, "tollgate-test:", clock.clone(), 1_000).unwrap();
    let rule = rule(2, 60, Sliding);
    let started = crate::clock::monotonic_now();
    let first = tokio::time::timeout(Duration::from_secs(10), limiter.check("k", &rule)).await;
    assert!(first.expect("bounded by the Redis timeout").is_allowed());
    assert!(
        started.elapsed() >= REDIS_TIMEOUT / 2,
        "it did wait for Redis once"
    );
    let mut allowed = 1;
    for _ in 0..20 {
        allowed += usize::from(limiter.check("k", &rule).await.is_allowed());
    }
    assert_eq!(allowed, 2);
    assert_eq!(
        limiter.redis_attempts(),
        1,
        "later checks did not wait for the hung server"
    );
    assert_eq!(limiter.redis_fallbacks(), 21);
    holder.abort();
}

#[tokio::test]
async fn redis_is_used_again_after_it_comes_back() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let server = PrivateRedis::start_on(port).unwrap();
    let clock = ManualClock::new(T0);
    let prefix = "tollgate-test:";
    let limiter = RateLimiter::redis(&url, prefix, clock.clone(), 1_000).unwrap();
    let rule = rule(100, 60, Sliding);
    assert!(limiter.check("k", &rule).await.is_allowed());
    assert_eq!(
        (limiter.redis_attempts(), limiter.redis_fallbacks()),
        (1, 0)
    );
    assert_eq!(keys_under(&url, prefix).await.len(), 1);

    server.kill();
    assert!(limiter.check("k", &rule).await.is_allowed());
    assert_eq!(
        (limiter.redis_attempts(), limiter.redis_fallbacks()),
        (2, 1)
    );
    assert!(limiter.redis_degraded());
    assert!(limiter.check("k", &rule).await.is_allowed());
    assert_eq!(
        (limiter.redis_attempts(), limiter.redis_fallbacks()),
        (2, 2),
        "breaker open"
    );

    let server = PrivateRedis::start_on(port).unwrap();
    clock.advance(Duration::from_secs(1));
    let decision = limiter.check("k", &rule).await;
    assert_eq!(
        (limiter.redis_attempts(), limiter.redis_fallbacks()),
        (3, 2),
        "the trial"
    );
    assert!(
        !limiter.redis_degraded(),
        "the trial succeeded and closed the breaker"
    );
    // The restarted server (no persistence) had nothing: this is its first request.
    assert_eq!(
        decision,
        Decision::Allowed {
            limit: 100,
            remaining: 99,
            reset_after_ms: 60_000
        }
    );
    assert!(limiter.check("k", &rule).await.is_allowed());
    assert_eq!(
        (limiter.redis_attempts(), limiter.redis_fallbacks()),
        (4, 2)
    );
    assert_eq!(keys_under(&url, prefix).await.len(), 1);
    server.kill();
}
