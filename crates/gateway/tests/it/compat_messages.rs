//! The Anthropic Messages API on the unified endpoint (docs/compat.md) against the mock's three
//! formats. The Python tests drive the official Anthropic SDK through it too.

use serde_json::{Value, json};

use crate::support::TestGateway;

const MESSAGES: &str = "/v1/local/default/compat/v1/messages";

fn messages_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 256,
        "stream": stream,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Translate this request for me please"}],
    })
}

async fn call(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    gw.http
        .post(gw.url(path))
        .header("x-api-key", "sk-messages-key")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The text, stop reason and usage of an Anthropic event stream, and its event names.
fn read_events(text: &str) -> (String, Value, Vec<String>) {
    let mut content = String::new();
    let mut delta = Value::Null;
    let mut names = Vec::new();
    for event in text.split("\n\n").filter(|e| !e.is_empty()) {
        let (name, data) = event.split_once('\n').unwrap();
        let name = name.strip_prefix("event: ").unwrap();
        let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(data["type"], name, "{event}");
        if let Some(text) = data["delta"]["text"].as_str() {
            content.push_str(text);
        }
        if name == "message_delta" {
            delta = data;
        }
        names.push(name.to_owned());
    }
    (content, delta, names)
}

/// The whole body, then the log row's tokens and whether it has a cost: the row is complete
/// once the body is (its end record is written before the last byte).
async fn read_logged(gw: &TestGateway, response: reqwest::Response) -> (String, (i64, i64, bool)) {
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    let row = gw.log_row("default", &log_id).await.unwrap();
    let logged = (
        row.tokens_in.unwrap_or(0),
        row.tokens_out.unwrap_or(0),
        row.cost.is_some(),
    );
    (body, logged)
}

#[tokio::test]
async fn openai_compatible_providers_answer_in_anthropic_shape() {
    let gw = TestGateway::start().await;
    let response = call(
        &gw,
        MESSAGES,
        &messages_request("openai/gpt-4o-mini", false),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let (answer, (tokens_in, tokens_out, costed)) = read_logged(&gw, response).await;
    let message: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    let text = message["content"][0]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Hello! You said:"), "{message}");
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["usage"]["input_tokens"].as_i64(), Some(tokens_in));
    assert_eq!(message["usage"]["output_tokens"].as_i64(), Some(tokens_out));
    assert!(tokens_out > 0 && costed);

    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-messages-key"));
    assert_eq!(seen.header("x-api-key"), None);
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["max_completion_tokens"], 256);
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );

    let response = call(&gw, MESSAGES, &messages_request("openai/gpt-4o-mini", true)).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (answer, (stream_in, stream_out, _)) = read_logged(&gw, response).await;
    let (streamed, delta, names) = read_events(&answer);
    assert_eq!(streamed, text);
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"].as_i64(), Some(stream_out));
    assert!(stream_in > 0 && stream_out > 0);
    let sent: Value = serde_json::from_slice(&gw.mock.requests().pop().unwrap().body).unwrap();
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn anthropic_gets_the_request_as_it_came() {
    let gw = TestGateway::start().await;
    let request = messages_request("anthropic/claude-sonnet-4-5", false);
    let response = call(&gw, "/v1/local/default/compat/messages", &request).await;
    assert_eq!(response.status(), 200);
    let (answer, (_, tokens_out, costed)) = read_logged(&gw, response).await;
    let message: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(message["type"], "message");
    assert!(tokens_out > 0 && costed);
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-messages-key"));
    let mut expected = request.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    assert_eq!(
        serde_json::from_slice::<Value>(&seen.body).unwrap(),
        expected
    );

    let direct = gw
        .http
        .post(format!("{}/v1/messages", gw.mock.url()))
        .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": true, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Translate this request for me please"}]}))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let through = call(
        &gw,
        MESSAGES,
        &messages_request("anthropic/claude-sonnet-4-5", true),
    )
    .await
    .bytes()
    .await
    .unwrap();
    assert_eq!(through, direct, "Anthropic's own stream, unchanged");
}

#[tokio::test]
async fn gemini_answers_in_anthropic_shape() {
    let gw = TestGateway::start().await;
    let model = "google-ai-studio/gemini-2.5-flash";
    let response = call(&gw, MESSAGES, &messages_request(model, false)).await;
    assert_eq!(response.status(), 200);
    let (answer, (_, tokens_out, _)) = read_logged(&gw, response).await;
    let message: Value = serde_json::from_str(&answer).unwrap();
    let text = message["content"][0]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Hello! You said:"), "{message}");
    assert_eq!(message["usage"]["output_tokens"].as_i64(), Some(tokens_out));
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.header("x-goog-api-key"), Some("sk-messages-key"));

    let response = call(&gw, MESSAGES, &messages_request(model, true)).await;
    let (streamed, delta, names) = read_events(&response.text().await.unwrap());
    assert_eq!(streamed, text);
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn errors_come_in_anthropic_shape() {
    let gw = TestGateway::start().await;
    // The gateway's own: an unknown provider.
    let response = call(&gw, MESSAGES, &messages_request("nope/model", false)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["code"], "2008");
    assert!(error["error"]["message"].as_str().unwrap().contains("nope"));

    // The translation's: a server tool has no chat form.
    let mut request = messages_request("openai/gpt-4o-mini", false);
    request["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    let response = call(&gw, MESSAGES, &request).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web_search")
    );
    assert_eq!(gw.mock.request_count(), 0);

    // The provider's, with its status.
    gw.mock.push(
        tollgate_mock_upstream::Behavior::status(429)
            .with_body(r#"{"error":{"message":"Slow down","type":"requests"}}"#)
            .with_header("content-type", "application/json"),
    );
    let response = call(&gw, MESSAGES, &messages_request("openai/gpt-4o-mini", true)).await;
    assert_eq!(response.status(), 429);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}})
    );
}
