//! The response cache through the proxy (docs/cache.md).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::clock::ManualClock;
use tollgate_mock_upstream::Behavior;

use crate::support::{RedisPrefix, TestGateway, chat_body};

const CHAT: &str = "/v1/local/cached/openai/chat/completions";

async fn send(
    gw: &TestGateway,
    path: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Option<String>, bytes::Bytes) {
    let mut request = gw
        .http
        .post(gw.url(path))
        .header("authorization", format!("Bearer {key}"))
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cf-aig-cache-status")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, cache, response.bytes().await.unwrap())
}

async fn cached_gateway(gw: &TestGateway, extra: Value) {
    let mut body = json!({"id": "cached", "cache_ttl": 60});
    if let (Value::Object(target), Value::Object(more)) = (&mut body, extra) {
        target.extend(more);
    }
    gw.create_gateway(body).await;
}

#[tokio::test]
async fn a_repeat_is_a_hit_with_no_upstream_call_and_a_zero_cost_row() {
    let gw = TestGateway::start().await;
    cached_gateway(&gw, json!({})).await;
    let (status, cache, first) = send(&gw, CHAT, "sk-a", &[], &chat_body(false)).await;
    assert_eq!((status, cache.as_deref()), (200, Some("MISS")));
    // The same request with reordered JSON keys is the same request.
    let reordered: Value = serde_json::from_str(r#"{"stream":false,"messages":[{"content":"Say hello to the gateway tests","role":"user"}],"model":"gpt-4o-mini"}"#).unwrap();
    let response = gw
        .http
        .post(gw.url(CHAT))
        .header("authorization", "Bearer sk-a")
        .json(&reordered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cf-aig-cache-status"], "HIT");
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.bytes().await.unwrap(), first);
    assert_eq!(gw.mock.request_count(), 1);
    let row = gw.log_row("cached", &id).await.unwrap();
    assert_eq!(
        (
            row.cached,
            row.tokens_in,
            row.tokens_out,
            row.cost,
            row.status_code
        ),
        (true, Some(0), Some(0), Some(0.0), Some(200))
    );
    let (_, analytics) = gw
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/analytics?gateway_id=cached",
            None,
        )
        .await;
    assert_eq!(analytics["result"]["totals"]["cached_requests"], 1);
}

#[tokio::test]
async fn another_api_key_never_shares_an_entry() {
    let gw = TestGateway::start().await;
    cached_gateway(&gw, json!({})).await;
    send(&gw, CHAT, "sk-a", &[], &chat_body(false)).await;
    let (_, cache, _) = send(&gw, CHAT, "sk-b", &[], &chat_body(false)).await;
    assert_eq!(cache.as_deref(), Some("MISS"));
    let (_, cache, _) = send(&gw, CHAT, "sk-b", &[], &chat_body(false)).await;
    assert_eq!(cache.as_deref(), Some("HIT"));
    assert_eq!(gw.mock.request_count(), 2);
}

/// A client with no provider key (or another one) once got a HIT with another client's answer
/// by sending the same `cf-aig-cache-key`; custom keys stay scoped by credential unless the
/// gateway shares them on purpose.
#[tokio::test]
async fn a_custom_key_is_shared_across_api_keys_only_when_the_gateway_says_so() {
    let gw = TestGateway::start().await;
    cached_gateway(&gw, json!({})).await;
    let custom = [("cf-aig-cache-key", "answer-1")];
    let body = chat_body(false);
    assert_eq!(
        send(&gw, CHAT, "sk-a", &custom, &body).await.1.as_deref(),
        Some("MISS")
    );
    assert_eq!(
        send(&gw, CHAT, "sk-b", &custom, &body).await.1.as_deref(),
        Some("MISS")
    );
    let keyless = gw
        .http
        .post(gw.url(CHAT))
        .header("cf-aig-cache-key", "answer-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(keyless.headers()["cf-aig-cache-status"], "MISS");
    assert_eq!(gw.mock.request_count(), 3);

    let (status, updated) = gw
        .admin(
            Method::PUT,
            "/accounts/local/ai-gateway/gateways/cached",
            Some(json!({"cache_ttl": 60, "cache_custom_key_shared": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["result"]["cache_custom_key_shared"], true);
    let shared = [("cf-aig-cache-key", "answer-2")];
    assert_eq!(
        send(&gw, CHAT, "sk-a", &shared, &body).await.1.as_deref(),
        Some("MISS")
    );
    assert_eq!(
        send(&gw, CHAT, "sk-b", &shared, &body).await.1.as_deref(),
        Some("HIT")
    );
    assert_eq!(gw.mock.request_count(), 4);
}

#[tokio::test]
async fn errors_truncated_streams_and_no_store_are_never_cached() {
    let gw = TestGateway::start().await;
    cached_gateway(&gw, json!({})).await;
    gw.mock.push(Behavior::status(500));
    assert_eq!(send(&gw, CHAT, "sk-a", &[], &chat_body(false)).await.0, 500);
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[], &chat_body(false))
            .await
            .1
            .as_deref(),
        Some("MISS")
    );
    assert_eq!(gw.mock.request_count(), 2);

    let mut streamed = chat_body(true);
    streamed["messages"][0]["content"] = json!("a stream that stops early");
    gw.mock.push(Behavior::end_after(2));
    // The client's body breaks at the cut (it must not look complete), so it is read loosely.
    let cut = gw
        .http
        .post(gw.url(CHAT))
        .header("authorization", "Bearer sk-a")
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert!(cut.bytes().await.is_err());
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[], &streamed).await.1.as_deref(),
        Some("MISS"),
        "a truncated stream was cached"
    );

    let mut private = chat_body(false);
    private["messages"][0]["content"] = json!("private answer");
    gw.mock
        .push(Behavior::default().with_header("cache-control", "no-store"));
    send(&gw, CHAT, "sk-a", &[], &private).await;
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[], &private).await.1.as_deref(),
        Some("MISS")
    );
}

#[tokio::test]
async fn a_streamed_hit_replays_the_same_bytes() {
    let gw = TestGateway::start().await;
    cached_gateway(&gw, json!({})).await;
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let (_, miss, original) = send(&gw, CHAT, "sk-a", &[], &body).await;
    let (_, hit, replayed) = send(&gw, CHAT, "sk-a", &[], &body).await;
    assert_eq!(
        (miss.as_deref(), hit.as_deref()),
        (Some("MISS"), Some("HIT"))
    );
    assert_eq!(original, replayed);
    assert!(String::from_utf8_lossy(&replayed).ends_with("data: [DONE]\n\n"));
    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": true, "messages": [{"role": "user", "content": "cache this stream"}]});
    let path = "/v1/local/cached/anthropic/v1/messages";
    let (_, _, original) = send(&gw, path, "sk-a", &[], &anthropic).await;
    let (_, hit, replayed) = send(&gw, path, "sk-a", &[], &anthropic).await;
    assert_eq!((hit.as_deref(), original), (Some("HIT"), replayed));
}

#[tokio::test]
async fn entries_expire_with_time() {
    let clock = ManualClock::new(1_767_225_600_000);
    let gw = TestGateway::with_clock(clock.clone()).await;
    cached_gateway(&gw, json!({"cache_ttl": 30})).await;
    send(&gw, CHAT, "sk-a", &[], &chat_body(false)).await;
    clock.advance(Duration::from_secs(29));
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[], &chat_body(false))
            .await
            .1
            .as_deref(),
        Some("HIT")
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[], &chat_body(false))
            .await
            .1
            .as_deref(),
        Some("MISS")
    );
    // A request's own TTL wins over the gateway's.
    let mut other = chat_body(false);
    other["messages"][0]["content"] = json!("short lived");
    send(&gw, CHAT, "sk-a", &[("cf-aig-cache-ttl", "5")], &other).await;
    clock.advance(Duration::from_secs(6));
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[("cf-aig-cache-ttl", "5")], &other)
            .await
            .1
            .as_deref(),
        Some("MISS")
    );
}

#[tokio::test]
async fn a_hundred_identical_requests_make_one_upstream_call() {
    let gw = TestGateway::start().await;
    cached_gateway(&gw, json!({})).await;
    gw.mock.push(Behavior::delay(Duration::from_millis(200)));
    let body = chat_body(false);
    let requests = (0..100).map(|_| send(&gw, CHAT, "sk-a", &[], &body));
    let results = futures_util::future::join_all(requests).await;
    let first = &results[0].2;
    assert!(
        results
            .iter()
            .all(|(status, _, body)| *status == 200 && body == first)
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| r.1.as_deref() == Some("MISS"))
            .count(),
        1
    );
    assert_eq!(gw.mock.request_count(), 1);
}

#[tokio::test]
async fn an_update_with_invalidate_on_update_drops_old_entries() {
    let gw = TestGateway::start().await;
    cached_gateway(&gw, json!({"cache_invalidate_on_update": true})).await;
    send(&gw, CHAT, "sk-a", &[], &chat_body(false)).await;
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[], &chat_body(false))
            .await
            .1
            .as_deref(),
        Some("HIT")
    );
    let (status, _) = gw
        .admin(
            Method::PUT,
            "/accounts/local/ai-gateway/gateways/cached",
            Some(json!({"cache_ttl": 120})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        send(&gw, CHAT, "sk-a", &[], &chat_body(false))
            .await
            .1
            .as_deref(),
        Some("MISS")
    );
}

#[tokio::test]
async fn request_headers_switch_caching() {
    let gw = TestGateway::start().await;
    let plain = "/v1/local/default/openai/chat/completions";
    // Caching is off on `default`: no status header at all.
    assert_eq!(
        send(&gw, plain, "sk-a", &[], &chat_body(false)).await.1,
        None
    );
    // A TTL header turns it on for the request.
    assert_eq!(
        send(
            &gw,
            plain,
            "sk-a",
            &[("cf-aig-cache-ttl", "60")],
            &chat_body(false)
        )
        .await
        .1
        .as_deref(),
        Some("MISS")
    );
    assert_eq!(
        send(
            &gw,
            plain,
            "sk-a",
            &[("cf-aig-cache-ttl", "60")],
            &chat_body(false)
        )
        .await
        .1
        .as_deref(),
        Some("HIT")
    );
    // Skip: neither read nor written.
    let mut fresh = chat_body(false);
    fresh["messages"][0]["content"] = json!("always fresh");
    let skip = [("cf-aig-cache-ttl", "60"), ("cf-aig-skip-cache", "true")];
    assert_eq!(
        send(&gw, plain, "sk-a", &skip, &fresh).await.1.as_deref(),
        Some("MISS")
    );
    assert_eq!(
        send(&gw, plain, "sk-a", &[("cf-aig-cache-ttl", "60")], &fresh)
            .await
            .1
            .as_deref(),
        Some("MISS")
    );
    // A custom key replaces the computed one (and turns caching on for 300 s).
    let mut one = chat_body(false);
    one["messages"][0]["content"] = json!("first wording");
    let mut two = chat_body(false);
    two["messages"][0]["content"] = json!("second wording");
    let custom = [("cf-aig-cache-key", "greeting-v1")];
    assert_eq!(
        send(&gw, plain, "sk-a", &custom, &one).await.1.as_deref(),
        Some("MISS")
    );
    let (_, hit, body) = send(&gw, plain, "sk-a", &custom, &two).await;
    assert_eq!(hit.as_deref(), Some("HIT"));
    assert!(String::from_utf8_lossy(&body).contains("first wording"));
    // TTL 0 means "not cached".
    assert_eq!(
        send(
            &gw,
            plain,
            "sk-a",
            &[("cf-aig-cache-ttl", "0")],
            &chat_body(false)
        )
        .await
        .1,
        None
    );
}

#[tokio::test]
async fn a_redis_cache_is_shared_by_gateways() {
    let prefix = RedisPrefix::new();
    let one = TestGateway::with_config("", &prefix.section()).await;
    let two = TestGateway::with_config("", &prefix.section()).await;
    for gw in [&one, &two] {
        cached_gateway(gw, json!({})).await;
    }
    // Both gateways front their own mock; the HIT on the second proves the entry came from Redis.
    let (_, miss, first) = send(&one, CHAT, "sk-a", &[], &chat_body(false)).await;
    let (_, hit, second) = send(&two, CHAT, "sk-a", &[], &chat_body(false)).await;
    assert_eq!(
        (miss.as_deref(), hit.as_deref()),
        (Some("MISS"), Some("HIT"))
    );
    assert_eq!(first, second);
    assert_eq!(two.mock.request_count(), 0);
}

#[tokio::test]
async fn an_unreachable_redis_means_misses_not_failures() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = TestGateway::with_config("", &format!("[redis]\nurl = \"redis://{closed}\"\n")).await;
    cached_gateway(&gw, json!({})).await;
    for _ in 0..3 {
        let (status, cache, _) = send(&gw, CHAT, "sk-a", &[], &chat_body(false)).await;
        assert_eq!((status, cache.as_deref()), (200, Some("MISS")));
    }
    assert_eq!(gw.mock.request_count(), 3);
    assert!(gw.state.cache().bypasses() > 0);
}

#[tokio::test]
async fn a_key_in_the_query_keeps_entries_apart() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "cached", "cache_ttl": 60}))
        .await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}]});
    let path = |key: &str| {
        format!(
            "/v1/local/cached/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent?key={key}"
        )
    };
    let status = |response: reqwest::Response| {
        response.headers()["cf-aig-cache-status"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let first = gw
        .http
        .post(gw.url(&path("key-one")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(status(first), "MISS");
    let other = gw
        .http
        .post(gw.url(&path("key-two")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(other),
        "MISS",
        "another key in the query must not get the first key's entry"
    );
    let again = gw
        .http
        .post(gw.url(&path("key-one")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(status(again), "HIT");
}
