//! FA-22/FA-23: Redis down (killed) and hung (SIGSTOP) under a gateway that caches and
//! rate-limits through it. A private `redis-server` on a free port is the victim, never the
//! shared one. Every Redis call is bounded, so requests keep flowing: cache misses, local
//! rate limiting; once Redis is back (and the breaker's backoff passed) it is used again.

use std::time::Duration;

use serde_json::json;
use tollgate_gateway::clock::{ManualClock, SharedClock};
use tollgate_test_support::redis::PrivateRedis;

use super::{HANG_GUARD, send};

use crate::support::{TestGateway, chat_body};
use tollgate_gateway::clock::monotonic_now;

/// The slowest a request may be while Redis is gone or hung: every Redis call is bounded by
/// 250 ms (cache) or 100 ms (rate limit) and the breakers then skip Redis altogether.
const DEGRADED_BOUND: Duration = Duration::from_secs(2);
const PATH: &str = "/v1/local/guarded/openai/chat/completions";

async fn guarded_gateway(redis: &PrivateRedis, clock: SharedClock) -> TestGateway {
    let sections = format!(
        "[redis]\nurl = \"{}\"\nkey_prefix = \"faults:\"\n",
        redis.url()
    );
    let gw = TestGateway::build("", &sections, Some(clock), None).await;
    gw.create_gateway(json!({
        "id": "guarded",
        "cache_ttl": 600,
        "rate_limiting_limit": 1000,
        "rate_limiting_interval": 60,
    }))
    .await;
    gw
}

/// Sends one request; returns its cache status, checking it succeeded within the bound.
async fn bounded_request(gw: &TestGateway, prompt: &str) -> String {
    let mut body = chat_body(false);
    body["messages"][0]["content"] = json!(prompt);
    let started = monotonic_now();
    let response = send(gw, PATH, body, &[]).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 200, "{prompt}");
    assert!(took < DEGRADED_BOUND, "{prompt} took {took:?}");
    let cache = response.headers()["cf-aig-cache-status"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await.unwrap();
    cache
}

#[tokio::test]
async fn with_redis_killed_requests_flow_as_misses_with_local_limits() {
    let redis = PrivateRedis::start().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let gw = guarded_gateway(&redis, clock.clone()).await;
    assert_eq!(
        bounded_request(&gw, "cached before the outage").await,
        "MISS"
    );
    assert_eq!(
        bounded_request(&gw, "cached before the outage").await,
        "HIT"
    );

    redis.kill();
    for i in 0..5 {
        // The entry lived in Redis: without it every request is a miss, never a failure.
        assert_eq!(
            bounded_request(&gw, "cached before the outage").await,
            "MISS",
            "{i}"
        );
    }
    assert!(gw.state.cache().bypasses() > 0);
    assert!(gw.state.rate_limiter().redis_fallbacks() > 0);
    assert!(gw.state.rate_limiter().redis_degraded());
}

#[tokio::test]
async fn with_redis_hung_every_call_is_bounded_and_it_recovers() {
    let redis = PrivateRedis::start().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let gw = guarded_gateway(&redis, clock.clone()).await;
    assert_eq!(bounded_request(&gw, "before the hang").await, "MISS");

    redis.signal("-STOP").unwrap();
    let started = monotonic_now();
    for i in 0..10 {
        assert_eq!(
            bounded_request(&gw, &format!("during the hang {i}")).await,
            "MISS"
        );
    }
    // The breakers open after the first timeouts: ten requests cost little more than one.
    assert!(
        started.elapsed() < DEGRADED_BOUND * 2,
        "ten requests during the hang took {:?}",
        started.elapsed()
    );
    assert!(gw.state.rate_limiter().redis_fallbacks() > 0);

    redis.signal("-CONT").unwrap();
    // Past the breakers' first backoff (1 s), Redis is tried and used again.
    clock.advance(Duration::from_secs(2));
    let recovered = tokio::time::timeout(HANG_GUARD, async {
        let mut round = 0;
        loop {
            round += 1;
            let prompt = format!("after the hang {round}");
            if bounded_request(&gw, &prompt).await == "MISS"
                && bounded_request(&gw, &prompt).await == "HIT"
            {
                return;
            }
            clock.advance(Duration::from_secs(2));
        }
    })
    .await;
    assert!(recovered.is_ok(), "the cache is served from Redis again");
    assert!(!gw.state.rate_limiter().redis_degraded());
}
