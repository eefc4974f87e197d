//! Against the mock upstream the gateway's integration tests use: translated requests are
//! understood, and its answers (plain, streamed, cut short, failing) translate back.

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tollgate_mock_upstream::{Behavior, MockUpstream};

use crate::compat::{
    Dialect, StreamTranslator, include_usage, translate_request, translate_response,
};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

/// Sends the translated request; returns the status and the raw upstream chunks as they came.
async fn send(
    mock: &MockUpstream,
    dialect: Dialect,
    model: &str,
    request: &Value,
) -> (u16, Vec<Bytes>) {
    let upstream = translate_request(dialect, model, request).unwrap();
    let mut call = client()
        .post(format!("{}/{}", mock.url(), upstream.path))
        .header("content-type", "application/json")
        .header("x-mock-cached-tokens", "3")
        .body(upstream.body.clone());
    for (name, value) in &upstream.extra_headers {
        call = call.header(name, value);
    }
    let response = call.send().await.unwrap();
    let status = response.status().as_u16();
    let mut chunks = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk.unwrap());
    }
    (status, chunks)
}

fn chat(stream: bool) -> Value {
    json!({
        "model": "ignored/by-the-translation",
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": [{"type": "text", "text": "hello there friend"}]}
        ],
        "stream": stream,
        "stream_options": {"include_usage": true}
    })
}

async fn plain(dialect: Dialect, model: &str) -> Value {
    let mock = MockUpstream::start().await.unwrap();
    let (status, chunks) = send(&mock, dialect, model, &chat(false)).await;
    assert_eq!(status, 200);
    let body: Vec<u8> = chunks.concat();
    serde_json::from_slice(&translate_response(dialect, model, status, &body)).unwrap()
}

/// Streams through a translator chunk by chunk, as the proxy will.
async fn streamed(dialect: Dialect, model: &str, behavior: Option<Behavior>) -> String {
    let mock = MockUpstream::start().await.unwrap();
    if let Some(behavior) = behavior {
        mock.push(behavior);
    }
    let request = chat(true);
    let (status, chunks) = send(&mock, dialect, model, &request).await;
    assert_eq!(status, 200);
    let mut translator = StreamTranslator::new(dialect, model, include_usage(&request), "seed");
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend_from_slice(&translator.push(&chunk));
    }
    out.extend_from_slice(&translator.finish());
    String::from_utf8(out).unwrap()
}

fn content_of(stream: &str) -> String {
    stream
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn last_usage(stream: &str) -> Value {
    let data = stream
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| d.contains("\"choices\":[]"))
        .last()
        .unwrap();
    serde_json::from_str::<Value>(data).unwrap()["usage"].clone()
}

// The mock counts prompt words (system + messages: 5) and echoes the last user text.
const REPLY: &str = "Hello! You said: hello there friend";

#[tokio::test]
async fn anthropic_through_the_mock() {
    let json = plain(Dialect::Anthropic, "claude-test").await;
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(json["model"], "claude-test");
    assert_eq!(json["choices"][0]["message"]["content"], REPLY);
    assert_eq!(json["choices"][0]["finish_reason"], "stop");
    // input 5 + cache read 3 + cache write 0.
    assert_eq!(
        json["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 6, "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 3}})
    );

    let stream = streamed(Dialect::Anthropic, "claude-test", None).await;
    assert_eq!(content_of(&stream), REPLY);
    assert!(stream.ends_with("data: [DONE]\n\n"), "{stream}");
    assert_eq!(last_usage(&stream)["prompt_tokens"], 8);
    assert_eq!(last_usage(&stream)["completion_tokens"], 6);
}

#[tokio::test]
async fn gemini_through_the_mock() {
    let json = plain(Dialect::Gemini, "gemini-test").await;
    assert_eq!(json["model"], "gemini-test");
    assert_eq!(json["choices"][0]["message"]["content"], REPLY);
    assert_eq!(json["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        json["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11,
            "prompt_tokens_details": {"cached_tokens": 3}})
    );

    let stream = streamed(Dialect::Gemini, "gemini-test", None).await;
    assert_eq!(content_of(&stream), REPLY);
    assert!(stream.ends_with("data: [DONE]\n\n"), "{stream}");
    assert_eq!(last_usage(&stream)["total_tokens"], 11);
}

#[tokio::test]
async fn a_mock_stream_ended_early_gets_no_done() {
    for dialect in [Dialect::Anthropic, Dialect::Gemini] {
        let stream = streamed(dialect, "m", Some(Behavior::end_after(3))).await;
        assert!(!stream.is_empty(), "{dialect:?}: the first chunks went out");
        assert!(!stream.contains("[DONE]"), "{dialect:?}: {stream}");
    }
}

#[tokio::test]
async fn mock_errors_become_openai_errors() {
    for dialect in [Dialect::Anthropic, Dialect::Gemini] {
        let mock = MockUpstream::start().await.unwrap();
        mock.push(Behavior::status(429));
        let (status, chunks) = send(&mock, dialect, "m", &chat(false)).await;
        assert_eq!(status, 429);
        let json: Value =
            serde_json::from_slice(&translate_response(dialect, "m", status, &chunks.concat()))
                .unwrap();
        assert_eq!(json["error"]["message"], "mock error", "{dialect:?}");
        assert_eq!(json["error"]["type"], "mock_error", "{dialect:?}");
    }
}
