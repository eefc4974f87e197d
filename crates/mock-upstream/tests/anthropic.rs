//! Anthropic wire format: Messages API, plain and streamed.

mod common;

use common::{client, parse_sse, post};
use serde_json::{Value, json};
use tollgate_mock_upstream::MockUpstream;

fn body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "stream": stream,
        "system": [{"type": "text", "text": "you are terse"}],
        "messages": [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": [{"type": "text", "text": "what is up"}]},
        ],
    })
}

#[tokio::test]
async fn messages_non_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-mock-cached-tokens", "7")
        .json(&body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello! You said: what is up"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 10, "output_tokens": 6,
               "cache_read_input_tokens": 7, "cache_creation_input_tokens": 0})
    );
}

#[tokio::test]
async fn messages_stream_events() {
    let mock = MockUpstream::start().await.unwrap();
    let response = post(&format!("{}/v1/messages", mock.url()), &body(true)).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = parse_sse(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 6]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    for event in &events {
        assert_eq!(event.json()["type"], event.event.as_deref().unwrap());
    }

    let start = events[0].json();
    assert_eq!(start["message"]["usage"]["input_tokens"], 10);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(start["message"]["content"], json!([]));
    let text: String = events[3..9]
        .iter()
        .map(|e| {
            let delta = e.json()["delta"].clone();
            assert_eq!(delta["type"], "text_delta");
            delta["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "Hello! You said: what is up");
    let delta = events[10].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 6);
}

#[tokio::test]
async fn messages_stream_is_deterministic() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/messages", mock.url());
    let a = post(&url, &body(true)).await.bytes().await.unwrap();
    let b = post(&url, &body(true)).await.bytes().await.unwrap();
    assert_eq!(a, b);
}
