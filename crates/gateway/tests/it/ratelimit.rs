//! Rate limiting through the proxy (docs/resilience.md): exact under concurrency, fixed vs sliding,
//! per-key counters, Redis shared by gateways, and local limiting when Redis is gone.

use std::time::Duration;

use serde_json::{Value, json};
use tollgate_gateway::clock::ManualClock;

use crate::support::{RedisPrefix, TestGateway, chat_body, gateway_error_code};

const CHAT: &str = "/v1/local/limited/openai/chat/completions";
/// 2026-01-01T00:00:00Z, the start of a fixed window of any length used here.
const T0: i64 = 1_767_225_600_000;

async fn send(gw: &TestGateway, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gw.http.post(gw.url(CHAT)).json(&chat_body(false));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn statuses(gw: &TestGateway, count: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let requests = (0..count).map(|_| send(gw, headers));
    futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect()
}

async fn limited_gateway(gw: &TestGateway, settings: Value) {
    let mut body = json!({"id": "limited", "rate_limiting_limit": 5, "rate_limiting_interval": 60});
    if let (Value::Object(target), Value::Object(more)) = (&mut body, settings) {
        target.extend(more);
    }
    gw.create_gateway(body).await;
}

#[tokio::test]
async fn limit_n_admits_exactly_n_of_many_concurrent_requests() {
    let gw = TestGateway::start().await;
    limited_gateway(&gw, json!({})).await;
    let got = statuses(&gw, 12, &[]).await;
    assert_eq!(got.iter().filter(|s| **s == 200).count(), 5, "{got:?}");
    assert_eq!(got.iter().filter(|s| **s == 429).count(), 7);
    assert_eq!(gw.mock.request_count(), 5, "nothing refused went upstream");
    let refused = send(&gw, &[]).await;
    assert_eq!(refused.status(), 429);
    let headers = refused.headers().clone();
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(headers["ratelimit-limit"], "5");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("ratelimit-reset"));
    assert_eq!(gateway_error_code(&refused.json().await.unwrap()), 2003);
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"tollgate_rate_limited_total{gateway="limited"} 8"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn fixed_windows_reset_at_the_edge_and_sliding_ones_do_not() {
    for (technique, admitted_after_edge) in [("fixed", 5), ("sliding", 0)] {
        let clock = ManualClock::new(T0 + 59_000);
        let gw = TestGateway::with_clock(clock.clone()).await;
        limited_gateway(&gw, json!({"rate_limiting_technique": technique})).await;
        assert_eq!(statuses(&gw, 5, &[]).await, [200; 5], "{technique}");
        // Two seconds later a fixed window has rolled over; a sliding one still holds all five.
        clock.advance(Duration::from_secs(2));
        let got = statuses(&gw, 6, &[]).await;
        assert_eq!(
            got.iter().filter(|s| **s == 200).count(),
            admitted_after_edge,
            "{technique}: {got:?}"
        );
        // A full interval later both admit again.
        clock.advance(Duration::from_secs(60));
        assert_eq!(send(&gw, &[]).await.status(), 200, "{technique}");
    }
}

#[tokio::test]
async fn per_header_and_per_ip_keys_count_separately() {
    let gw = TestGateway::with_config("trusted_proxies = [\"127.0.0.1/32\"]", "").await;
    limited_gateway(
        &gw,
        json!({"rate_limiting_limit": 2, "rate_limiting_key": "header:x-user-id"}),
    )
    .await;
    assert_eq!(
        statuses(&gw, 3, &[("x-user-id", "alice")])
            .await
            .iter()
            .filter(|s| **s == 200)
            .count(),
        2
    );
    assert_eq!(
        statuses(&gw, 3, &[("x-user-id", "bob")])
            .await
            .iter()
            .filter(|s| **s == 200)
            .count(),
        2
    );
    // Without the header a request counts under its IP (here from X-Forwarded-For, since the
    // peer is a trusted proxy).
    assert_eq!(
        statuses(&gw, 3, &[("x-forwarded-for", "203.0.113.7")])
            .await
            .iter()
            .filter(|s| **s == 200)
            .count(),
        2
    );

    let (status, _) = gw
        .admin(
            reqwest::Method::PUT,
            "/accounts/local/ai-gateway/gateways/limited",
            Some(json!({"rate_limiting_key": "ip"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        statuses(&gw, 3, &[("x-forwarded-for", "198.51.100.1")])
            .await
            .iter()
            .filter(|s| **s == 200)
            .count(),
        2
    );
    assert_eq!(
        statuses(&gw, 3, &[("x-forwarded-for", "198.51.100.2")])
            .await
            .iter()
            .filter(|s| **s == 200)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_cache_hit_still_counts_toward_the_limit() {
    let gw = TestGateway::start().await;
    limited_gateway(&gw, json!({"rate_limiting_limit": 3, "cache_ttl": 60})).await;
    let got = statuses(&gw, 1, &[]).await;
    assert_eq!(got, [200]);
    let mut hits = Vec::new();
    for _ in 0..3 {
        hits.push(send(&gw, &[]).await.status().as_u16());
    }
    assert_eq!(hits, [200, 200, 429]);
    assert_eq!(gw.mock.request_count(), 1);
}

#[tokio::test]
async fn two_gateways_sharing_redis_admit_n_in_total() {
    let prefix = RedisPrefix::new();
    let one = TestGateway::with_config("", &prefix.section()).await;
    let two = TestGateway::with_config("", &prefix.section()).await;
    for gw in [&one, &two] {
        limited_gateway(gw, json!({"rate_limiting_limit": 10})).await;
    }
    let (a, b) = tokio::join!(statuses(&one, 12, &[]), statuses(&two, 12, &[]));
    let admitted = a.iter().chain(&b).filter(|s| **s == 200).count();
    assert_eq!(admitted, 10, "{a:?} {b:?}");
    assert_eq!(
        one.state.rate_limiter().redis_fallbacks() + two.state.rate_limiter().redis_fallbacks(),
        0
    );
}

#[tokio::test]
async fn without_redis_the_local_limiter_takes_over() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = TestGateway::with_config("", &format!("[redis]\nurl = \"redis://{closed}\"\n")).await;
    limited_gateway(&gw, json!({})).await;
    let got = statuses(&gw, 8, &[]).await;
    assert_eq!(got.iter().filter(|s| **s == 200).count(), 5, "{got:?}");
    assert!(gw.state.rate_limiter().redis_fallbacks() > 0);
}
