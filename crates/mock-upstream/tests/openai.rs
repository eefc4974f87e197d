//! OpenAI wire format: chat completions, embeddings, Responses, models.

mod common;

use common::{client, parse_sse, post};
use serde_json::{Value, json};
use tollgate_mock_upstream::MockUpstream;

fn chat_body(stream: bool) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "one two three four five six seven eight nine ten"},
        ],
    })
}

#[tokio::test]
async fn chat_completion_non_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let response = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat_body(false),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["created"], 1_700_000_000);
    assert_eq!(body["model"], "gpt-4o-mini");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let text = "Hello! You said: one two three four five six seven eight";
    assert_eq!(body["choices"][0]["message"]["content"], text);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 11, "total_tokens": 23,
               "prompt_tokens_details": {"cached_tokens": 0}})
    );
}

#[tokio::test]
async fn chat_completion_without_v1_prefix_and_cached_tokens() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .post(format!("{}/chat/completions", mock.url()))
        .header("x-mock-cached-tokens", "7")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 7);
}

#[tokio::test]
async fn chat_completion_stream_with_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let mut request = chat_body(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = post(&format!("{}/v1/chat/completions", mock.url()), &request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = parse_sse(&response.text().await.unwrap());
    // 11 words, the finish chunk, the usage chunk and [DONE].
    assert_eq!(events.len(), 14);
    assert!(events.iter().all(|e| e.event.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");

    let chunks: Vec<Value> = events[..13].iter().map(|e| e.json()).collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks[1]["choices"][0]["delta"].get("role").is_none());
    let text: String = chunks[..11]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        text,
        "Hello! You said: one two three four five six seven eight"
    );
    assert_eq!(chunks[11]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[11]["usage"], Value::Null);
    assert_eq!(chunks[12]["choices"], json!([]));
    assert_eq!(
        chunks[12]["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 11, "total_tokens": 23,
               "prompt_tokens_details": {"cached_tokens": 0}})
    );
}

#[tokio::test]
async fn chat_completion_stream_without_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let response = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat_body(true),
    )
    .await;
    let events = parse_sse(&response.text().await.unwrap());
    assert_eq!(events.len(), 13);
    assert_eq!(events[11].json()["choices"][0]["finish_reason"], "stop");
    assert!(events[..12].iter().all(|e| e.json().get("usage").is_none()));
    assert_eq!(events[12].data, "[DONE]");
}

#[tokio::test]
async fn identical_requests_get_identical_bytes() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/chat/completions", mock.url());
    for stream in [false, true] {
        let first = post(&url, &chat_body(stream)).await;
        assert!(first.headers().get("date").is_none());
        let a = first.bytes().await.unwrap();
        let b = post(&url, &chat_body(stream)).await.bytes().await.unwrap();
        assert_eq!(a, b);
    }
    let mut other = chat_body(false);
    other["messages"][1]["content"] = json!("something else");
    let a: Value = post(&url, &chat_body(false)).await.json().await.unwrap();
    let b: Value = post(&url, &other).await.json().await.unwrap();
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn multimodal_content_parts_count_text_only() {
    let mock = MockUpstream::start().await.unwrap();
    let request = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "describe this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]}]});
    let body: Value = post(&format!("{}/v1/chat/completions", mock.url()), &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello! You said: describe this"
    );
    assert_eq!(body["usage"]["prompt_tokens"], 2);
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/embeddings", mock.url());
    let body: Value = post(
        &url,
        &json!({"model": "text-embedding-3-small", "input": ["a b", "c"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    let vector: Vec<f64> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(vector.len(), 8);
    assert!(vector.iter().all(|v| (-1.0..1.0).contains(v)));
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );

    let encoded: Value = post(
        &url,
        &json!({"model": "m", "input": "a b", "encoding_format": "base64"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let b64 = encoded["data"][0]["embedding"].as_str().unwrap();
    // 8 little-endian f32 = 32 bytes = 44 base64 characters with one '=' of padding.
    assert_eq!(b64.len(), 44);
    assert!(b64.ends_with('='));
    assert!(!b64[..43].contains('='));
}

#[tokio::test]
async fn responses_non_stream_and_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/responses", mock.url());
    let request = json!({"model": "gpt-4o", "instructions": "be nice", "input": "hi there"});
    let response = client()
        .post(&url)
        .header("x-mock-cached-tokens", "3")
        .json(&request)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(
        body["output"][0]["content"][0]["text"],
        "Hello! You said: hi there"
    );
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 4, "input_tokens_details": {"cached_tokens": 3},
               "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": 9})
    );

    let mut request = request;
    request["stream"] = json!(true);
    let events = parse_sse(&post(&url, &request).await.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    assert_eq!(names.len(), 12);
    let done = events.last().unwrap().json();
    assert_eq!(done["response"]["usage"]["output_tokens"], 5);
}

#[tokio::test]
async fn models_list() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert!(!body["data"].as_array().unwrap().is_empty());
    assert_eq!(body["data"][0]["object"], "model");
}

#[tokio::test]
async fn unknown_route_is_404_and_recorded() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .post(format!("{}/v2/nothing?x=1", mock.url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "mock: no route for POST /v2/nothing"
    );
    assert_eq!(mock.requests()[0].path_and_query, "/v2/nothing?x=1");
}

#[tokio::test]
async fn invalid_json_is_400() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
