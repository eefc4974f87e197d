//! The OpenAI Responses API on the unified endpoint (docs/compat.md) against the mock's three
//! formats. The Python tests drive the official OpenAI SDK's `responses` through it too.

use serde_json::{Value, json};

use crate::support::TestGateway;

const RESPONSES: &str = "/v1/local/default/compat/responses";

fn responses_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "instructions": "Be brief.",
        "input": "Translate this request for me please",
        "stream": stream,
    })
}

async fn call(gw: &TestGateway, body: &Value) -> reqwest::Response {
    gw.http
        .post(gw.url(RESPONSES))
        .bearer_auth("sk-responses-key")
        .json(body)
        .send()
        .await
        .unwrap()
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

/// The text deltas and the final response of a Responses event stream.
fn read_events(text: &str) -> (String, Value) {
    let mut content = String::new();
    let mut last = Value::Null;
    for event in text.split("\n\n").filter(|e| !e.is_empty()) {
        let (name, data) = event.split_once('\n').unwrap();
        let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(
            Some(data["type"].as_str().unwrap()),
            name.strip_prefix("event: ")
        );
        if data["type"] == "response.output_text.delta" {
            content.push_str(data["delta"].as_str().unwrap());
        }
        last = data;
    }
    (content, last)
}

#[tokio::test]
async fn translated_providers_answer_in_the_responses_format() {
    let gw = TestGateway::start().await;
    for (model, upstream_path) in [
        ("anthropic/claude-sonnet-4-5", "/v1/messages"),
        (
            "google-ai-studio/gemini-2.5-flash",
            "/v1beta/models/gemini-2.5-flash:generateContent",
        ),
        ("my-llm/llama-3-8b", "/v1/chat/completions"),
    ] {
        let response = call(&gw, &responses_request(model, false)).await;
        assert_eq!(response.status(), 200, "{model}");
        let (answer, (_, tokens_out, _)) = read_logged(&gw, response).await;
        let body: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(body["object"], "response");
        assert_eq!(body["status"], "completed");
        assert_eq!(body["instructions"], "Be brief.");
        assert!(body["created_at"].as_u64().unwrap() > 0);
        let text = body["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.starts_with("Hello! You said:"), "{model}: {body}");
        assert_eq!(body["usage"]["output_tokens"].as_i64(), Some(tokens_out));
        assert!(tokens_out > 0, "{model}");
        let seen = gw.mock.requests().pop().unwrap();
        assert_eq!(seen.path_and_query, upstream_path, "{model}");

        let response = call(&gw, &responses_request(model, true)).await;
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let (answer, (_, stream_out, _)) = read_logged(&gw, response).await;
        let (streamed, last) = read_events(&answer);
        assert_eq!(streamed, text, "{model}");
        assert_eq!(last["type"], "response.completed");
        assert_eq!(
            last["response"]["usage"]["output_tokens"].as_i64(),
            Some(stream_out)
        );
        assert!(stream_out > 0, "{model}");
    }
}

#[tokio::test]
async fn openai_gets_the_request_as_it_came() {
    let gw = TestGateway::start().await;
    let request = responses_request("openai/gpt-4o-mini", false);
    let response = call(&gw, &request).await;
    assert_eq!(response.status(), 200);
    let (_, (tokens_in, tokens_out, costed)) = read_logged(&gw, response).await;
    assert!(tokens_in > 0 && tokens_out > 0 && costed);
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/responses");
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-responses-key")
    );
    let mut expected = request.clone();
    expected["model"] = json!("gpt-4o-mini");
    assert_eq!(
        serde_json::from_slice::<Value>(&seen.body).unwrap(),
        expected
    );
}

#[tokio::test]
async fn what_cannot_be_translated_is_refused_in_openai_shape() {
    let gw = TestGateway::start().await;
    let mut request = responses_request("anthropic/claude-sonnet-4-5", false);
    request["previous_response_id"] = json!("resp_1");
    let response = call(&gw, &request).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["param"], "previous_response_id");
    assert_eq!(gw.mock.request_count(), 0);

    let response = call(&gw, &responses_request("nope/model", false)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "2008");
}
