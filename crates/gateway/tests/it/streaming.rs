//! Streams go through chunk by chunk, unbuffered, and break when the upstream breaks.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Notify;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body};

/// Guards against a hang only; no test asserts on how long anything took.
const HANG_GUARD: Duration = Duration::from_secs(20);

#[tokio::test]
async fn streamed_responses_are_byte_identical() {
    let gw = TestGateway::start().await;
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let through = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        through.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let through = through.bytes().await.unwrap();
    let direct = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(through, direct.bytes().await.unwrap());
    assert!(String::from_utf8_lossy(&through).ends_with("data: [DONE]\n\n"));

    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "stream please"}]});
    let through = gw
        .http
        .post(gw.url("/v1/local/default/anthropic/v1/messages"))
        .json(&anthropic)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let direct = gw
        .http
        .post(format!("{}/v1/messages", gw.mock.url()))
        .json(&anthropic)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(through, direct);
    assert!(String::from_utf8_lossy(&through).contains("event: message_stop"));
}

#[tokio::test]
async fn first_chunk_arrives_before_the_upstream_finishes() {
    let gw = TestGateway::start().await;
    let release = Arc::new(Notify::new());
    gw.mock
        .push(Behavior::pause_after_first_chunk(release.clone()));
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    // The upstream is holding the rest until released: the client can only have this chunk if
    // the gateway forwarded it without waiting for the end.
    let first = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .expect("first chunk was buffered")
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).starts_with("data: "),
        "{first:?}"
    );
    assert!(!String::from_utf8_lossy(&first).contains("[DONE]"));
    release.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .expect("stream hung")
    {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert!(String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn a_reset_upstream_stream_breaks_the_client_stream() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::reset_after(2));
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    let mut broke = false;
    while let Some(chunk) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .expect("stream hung")
    {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => {
                broke = true;
                break;
            }
        }
    }
    assert!(
        broke,
        "the client must see the break, got {:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        !String::from_utf8_lossy(&received).contains("[DONE]"),
        "no synthesized end"
    );
}

#[tokio::test]
async fn a_stream_ended_early_upstream_ends_early_for_the_client() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::end_after(2));
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    // Ended without its terminal event: the client's body breaks instead of ending cleanly, so
    // it never looks complete (reliability plan FA-06).
    let mut stream = response.bytes_stream();
    let mut text = Vec::new();
    let mut broke = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => text.extend_from_slice(&chunk),
            Err(_) => {
                broke = true;
                break;
            }
        }
    }
    let text = String::from_utf8(text).unwrap();
    assert!(broke, "{text}");
    assert_eq!(text.matches("data: ").count(), 2, "{text}");
    assert!(!text.contains("[DONE]"));
}
