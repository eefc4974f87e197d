//! Streaming usage for every OpenAI client (docs/compat.md, "Streaming usage"): a stream that
//! did not ask for `include_usage` is asked upstream, logged with its tokens, and answered with
//! exactly the bytes it would have had.

use serde_json::{Value, json};

use crate::support::TestGateway;

fn stream_request(model: &str) -> Value {
    json!({
        "model": model,
        "stream": true,
        "messages": [{"role": "user", "content": "Count my tokens even though I did not ask"}],
    })
}

/// The mock's own stream for `body`, as a client talking to it directly gets it.
async fn direct(gw: &TestGateway, body: &Value) -> bytes::Bytes {
    gw.http
        .post(format!("{}/v1/chat/completions", gw.mock.url()))
        .json(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

async fn through(gw: &TestGateway, path: &str, body: &Value) -> (String, bytes::Bytes) {
    let response = gw
        .http
        .post(gw.url(path))
        .bearer_auth("sk-usage")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (log_id, response.bytes().await.unwrap())
}

async fn assert_asked_and_counted(gw: &TestGateway, path: &str, model: &str) {
    let client_body = stream_request(model);
    let (log_id, got) = through(gw, path, &client_body).await;
    let sent: Value = serde_json::from_slice(&gw.mock.requests().pop().unwrap().body).unwrap();
    assert_eq!(
        sent["stream_options"],
        json!({"include_usage": true}),
        "{path}"
    );

    let mut expected_body = client_body.clone();
    expected_body["model"] = sent["model"].clone();
    let expected = direct(gw, &expected_body).await;
    assert!(!expected.windows(7).any(|w| w == b"\"usage\""));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected),
        "{path}: the client's stream is the one it would have had"
    );

    let row = gw.log_row("default", &log_id).await.unwrap();
    assert!(
        row.tokens_in.unwrap() > 0 && row.tokens_out.unwrap() > 0,
        "{path}: tokens on the row"
    );
    assert!(row.cost.is_some(), "{path}: cost on the row");
}

#[tokio::test]
async fn a_compat_stream_without_include_usage_is_counted_and_unchanged() {
    let gw = TestGateway::start().await;
    assert_asked_and_counted(
        &gw,
        "/v1/local/default/compat/chat/completions",
        "openai/gpt-4o-mini",
    )
    .await;
}

#[tokio::test]
async fn a_native_openai_stream_without_include_usage_is_counted_and_unchanged() {
    let gw = TestGateway::start().await;
    assert_asked_and_counted(
        &gw,
        "/v1/local/default/openai/chat/completions",
        "gpt-4o-mini",
    )
    .await;
}

#[tokio::test]
async fn a_client_that_asked_for_usage_gets_it_as_before() {
    let gw = TestGateway::start().await;
    let mut body = stream_request("gpt-4o-mini");
    body["stream_options"] = json!({"include_usage": true});
    let (_, got) = through(&gw, "/v1/local/default/openai/chat/completions", &body).await;
    assert_eq!(got, direct(&gw, &body).await);
    let seen = gw.mock.requests();
    assert_eq!(
        seen[seen.len() - 2].body,
        serde_json::to_vec(&body).unwrap(),
        "sent as it came"
    );
}

#[tokio::test]
async fn the_cache_keeps_streams_with_and_without_usage_apart() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "cached", "cache_ttl": 60}))
        .await;
    let path = "/v1/local/cached/openai/chat/completions";
    let without = stream_request("gpt-4o-mini");
    let mut with = without.clone();
    with["stream_options"] = json!({"include_usage": true});
    let send = |body: &Value| {
        gw.http
            .post(gw.url(path))
            .bearer_auth("sk-usage")
            .json(body)
            .send()
    };
    let first = send(&without).await.unwrap();
    assert_eq!(first.headers()["cf-aig-cache-status"], "MISS");
    let first = first.bytes().await.unwrap();
    let other = send(&with).await.unwrap();
    assert_eq!(other.headers()["cf-aig-cache-status"], "MISS");
    assert!(other.text().await.unwrap().contains("\"usage\":{"));
    let again = send(&without).await.unwrap();
    assert_eq!(again.headers()["cf-aig-cache-status"], "HIT");
    assert_eq!(again.bytes().await.unwrap(), first);
}

#[tokio::test]
async fn only_a_stream_is_rewritten_however_its_flag_is_spelled() {
    let gw = TestGateway::start().await;
    let send_raw = |body: &'static str| {
        gw.http
            .post(gw.url("/v1/local/default/openai/chat/completions"))
            .bearer_auth("sk-usage")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Not streams: sent upstream byte for byte, spacing and key order as they came.
    for body in [
        r#"{ "messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini" }"#,
        r#"{"stream": false, "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#,
        r#"{"stream": null, "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}"#,
    ] {
        assert_eq!(send_raw(body).await.unwrap().status(), 200, "{body}");
        assert_eq!(
            gw.mock.requests().pop().unwrap().body,
            body.as_bytes(),
            "{body}"
        );
    }
    // A duplicate key reads as JSON parsers read it, the last one winning: a stream.
    let duplicate = r#"{"stream": false, "model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#;
    assert_eq!(send_raw(duplicate).await.unwrap().status(), 200);
    let sent: Value = serde_json::from_slice(&gw.mock.requests().pop().unwrap().body).unwrap();
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
}
