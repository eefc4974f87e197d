//! Gemini wire format: generateContent and streamGenerateContent.

mod common;

use common::{client, parse_sse, post};
use serde_json::{Value, json};
use tollgate_mock_upstream::MockUpstream;

fn body() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "be kind"}]},
        "contents": [{"role": "user", "parts": [{"text": "tell me a joke"}]}],
    })
}

#[tokio::test]
async fn generate_content() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:generateContent",
            mock.url()
        ))
        .header("x-mock-cached-tokens", "2")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let candidate = &body["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(
        candidate["content"]["parts"][0]["text"],
        "Hello! You said: tell me a joke"
    );
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(body["modelVersion"], "gemini-2.5-flash");
    assert_eq!(
        body["usageMetadata"],
        json!({"promptTokenCount": 6, "candidatesTokenCount": 7,
               "totalTokenCount": 13, "cachedContentTokenCount": 2})
    );
}

#[tokio::test]
async fn stream_generate_content_sse() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!(
        "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        mock.url()
    );
    let response = post(&url, &body()).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let raw = response.text().await.unwrap();
    assert!(raw.starts_with("data: {"));
    assert_eq!(raw.matches("\r\n\r\n").count(), 7);
    let events = parse_sse(&raw);
    assert_eq!(events.len(), 7);
    let chunks: Vec<Value> = events.iter().map(|e| e.json()).collect();
    let text: String = chunks
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, "Hello! You said: tell me a joke");
    assert!(chunks[..6].iter().all(|c| c.get("usageMetadata").is_none()));
    assert!(
        chunks[..6]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    let last = &chunks[6];
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 6);
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 7);
    assert_eq!(last["usageMetadata"]["totalTokenCount"], 13);
    assert_eq!(last["usageMetadata"]["cachedContentTokenCount"], 0);

    let again = post(&url, &body()).await.text().await.unwrap();
    assert_eq!(raw, again);
}

#[tokio::test]
async fn stream_generate_content_without_sse_is_a_json_array() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!(
        "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        mock.url()
    );
    let body: Value = post(&url, &body()).await.json().await.unwrap();
    let chunks = body.as_array().unwrap();
    assert_eq!(chunks.len(), 7);
    assert_eq!(chunks[6]["usageMetadata"]["totalTokenCount"], 13);
}

#[tokio::test]
async fn unknown_gemini_method_is_404() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1beta/models/gemini-2.5-flash:countTokens", mock.url());
    assert_eq!(post(&url, &body()).await.status(), 404);
}
