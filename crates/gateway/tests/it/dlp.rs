//! DLP (docs/dlp.md): the gateway's `dlp` field validated, request bodies blocked, redacted or
//! flagged before they go upstream, responses blocked whole or cut mid-stream, and what
//! matched in the `cf-aig-dlp` header and the log row (entry ids, never the text).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tollgate_gateway::store::logs::BodyKind;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_saying as chat, gateway_error_code, send_chat as send};

const HANG_GUARD: Duration = Duration::from_secs(20);
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const CARD: &str = "4111 1111 1111 1111";

async fn gateway_with(gw: &TestGateway, id: &str, dlp: Value) {
    gw.create_gateway(json!({"id": id, "dlp": dlp})).await;
}

fn log_id(response: &reqwest::Response) -> String {
    response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn dlp_header(response: &reqwest::Response) -> Value {
    let value = response
        .headers()
        .get("cf-aig-dlp")
        .expect("cf-aig-dlp header");
    serde_json::from_slice(value.as_bytes()).unwrap()
}

#[tokio::test]
async fn the_dlp_field_is_validated_in_both_shapes() {
    let gw = TestGateway::start().await;
    let path = "/accounts/local/ai-gateway/gateways";
    for (dlp, expected) in [
        (
            json!({"enabled": true, "action": "DENY", "profiles": ["financial"]}),
            "dlp: action: must be",
        ),
        (
            json!({"enabled": true, "action": "FLAG", "profiles": ["financal"]}),
            "did you mean financial?",
        ),
        (
            json!({"enabled": true, "policies": [{"id": "p", "action": "BLOCK", "check": ["BOTH"], "profiles": ["financial"]}]}),
            "dlp: policies[0].check: each must be",
        ),
    ] {
        let (status, envelope) = gw
            .admin(
                reqwest::Method::POST,
                path,
                Some(json!({"id": "bad", "dlp": dlp})),
            )
            .await;
        assert_eq!(status, 400, "{envelope}");
        let message = envelope["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(expected), "{message}");
    }
    let legacy = json!({"enabled": true, "action": "BLOCK", "profiles": ["financial"]});
    let policies = json!({"enabled": true, "policies": [{"id": "p1", "action": "REDACT",
        "check": ["REQUEST"], "enabled": true, "profiles": ["credentials", "national_ids"]}]});
    let created = gw
        .create_gateway(json!({"id": "legacy", "dlp": legacy}))
        .await;
    assert_eq!(created["dlp"], legacy);
    let created = gw
        .create_gateway(json!({"id": "policies", "dlp": policies}))
        .await;
    assert_eq!(created["dlp"], policies);
    // null turns it off.
    let (status, envelope) = gw
        .admin(
            reqwest::Method::PUT,
            &format!("{path}/policies"),
            Some(json!({"dlp": null})),
        )
        .await;
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["result"]["dlp"], Value::Null);
}

#[tokio::test]
async fn a_blocked_request_never_goes_upstream_and_is_logged() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "block",
        json!({"enabled": true, "action": "BLOCK", "profiles": ["financial"]}),
    )
    .await;
    let response = send(
        &gw,
        "block",
        &chat(&format!("charge card {CARD} please"), false),
    )
    .await;
    assert_eq!(response.status(), 400);
    let header = dlp_header(&response);
    assert_eq!(header["action"], "BLOCK");
    assert_eq!(header["findings"][0]["profile"]["profile_id"], "financial");
    assert_eq!(
        header["findings"][0]["profile"]["entry_ids"],
        json!(["credit_card"])
    );
    assert_eq!(header["findings"][0]["check"], "REQUEST");
    let id = log_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2029);
    assert_eq!(gw.mock.request_count(), 0, "nothing was sent upstream");
    let row = gw
        .log_row("block", &id)
        .await
        .expect("a row for the blocked request");
    assert_eq!((row.status_code, row.success), (Some(400), false));
    let dlp: Value = serde_json::from_str(row.dlp.as_deref().unwrap()).unwrap();
    assert_eq!(dlp["action"], "BLOCK");
    assert_eq!(dlp["matches"], json!(["financial.credit_card"]));
    assert!(!row.dlp.unwrap().contains("4111"), "never the matched text");
}

#[tokio::test]
async fn redact_rewrites_what_the_upstream_receives_and_the_log_keeps() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "redact",
        json!({"enabled": true, "policies": [{"id": "keys",
        "action": "REDACT", "check": ["REQUEST"], "enabled": true, "profiles": ["credentials"]}]}),
    )
    .await;
    let body = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": format!("my key is {AWS_KEY} ok")},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "store", "arguments": format!("{{\"key\":\"{AWS_KEY}\"}}")}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": format!("stored {AWS_KEY}")},
        {"role": "user", "content": format!("repeat {AWS_KEY}")}]});
    let response = send(&gw, "redact", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(dlp_header(&response)["action"], "REDACT");
    let id = log_id(&response);
    let reply = response.text().await.unwrap();
    let sent = &gw.mock.requests()[0];
    let sent_text = String::from_utf8_lossy(&sent.body).into_owned();
    assert!(!sent_text.contains(AWS_KEY), "{sent_text}");
    let sent: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        sent["messages"][0]["content"],
        "my key is [REDACTED:aws_access_key_id] ok"
    );
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["arguments"],
        "{\"key\":\"[REDACTED:aws_access_key_id]\"}"
    );
    assert_eq!(
        sent["messages"][2]["content"],
        "stored [REDACTED:aws_access_key_id]"
    );
    assert!(
        !reply.contains(AWS_KEY),
        "the mock echoes what it was sent: {reply}"
    );
    let row = gw.log_row("redact", &id).await.unwrap();
    assert!(row.dlp.unwrap().contains("credentials.aws_access_key_id"));
    let stored = gw
        .state
        .store()
        .get_body("local", "redact", &id, BodyKind::Request)
        .await
        .unwrap()
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored.bytes).contains(AWS_KEY));
    assert!(String::from_utf8_lossy(&stored.bytes).contains("[REDACTED:aws_access_key_id]"));
}

#[tokio::test]
async fn flag_lets_the_request_through_and_says_what_matched() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "flag",
        json!({"enabled": true, "action": "FLAG", "profiles": ["national_ids"]}),
    )
    .await;
    let text = "my SSN is 078-05-1120";
    let response = send(&gw, "flag", &chat(text, false)).await;
    assert_eq!(response.status(), 200);
    let header = dlp_header(&response);
    assert_eq!(header["action"], "FLAG");
    let checks: Vec<&str> = header["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    // The request had it, and the mock's answer echoes it.
    assert_eq!(checks, ["REQUEST", "RESPONSE"]);
    let id = log_id(&response);
    let sent: Value = serde_json::from_slice(&gw.mock.requests()[0].body).unwrap();
    assert_eq!(sent["messages"][0]["content"], text);
    let row = gw.log_row("flag", &id).await.unwrap();
    let dlp: Value = serde_json::from_str(row.dlp.as_deref().unwrap()).unwrap();
    assert_eq!(
        (dlp["action"].as_str(), row.status_code),
        (Some("FLAG"), Some(200))
    );
    assert_eq!(dlp["matches"], json!(["national_ids.us_ssn"]));
    // A request with nothing to find gets no header and no dlp value.
    let clean = send(&gw, "flag", &chat("hello there", false)).await;
    assert!(clean.headers().get("cf-aig-dlp").is_none());
    let row = gw.log_row("flag", &log_id(&clean)).await.unwrap();
    assert_eq!(row.dlp, None);
}

#[tokio::test]
async fn a_response_with_a_match_is_replaced_by_the_refusal() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "answers",
        json!({"enabled": true, "policies": [{"id": "out",
        "action": "BLOCK", "check": ["RESPONSE"], "enabled": true, "profiles": ["credentials"]}]}),
    )
    .await;
    let response = send(&gw, "answers", &chat(&format!("echo {AWS_KEY}"), false)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(dlp_header(&response)["findings"][0]["check"], "RESPONSE");
    let id = log_id(&response);
    let body = response.text().await.unwrap();
    assert!(!body.contains(AWS_KEY), "{body}");
    assert_eq!(
        gateway_error_code(&serde_json::from_str(&body).unwrap()),
        2030
    );
    assert_eq!(
        gw.mock.request_count(),
        1,
        "the request itself was not checked"
    );
    let row = gw.log_row("answers", &id).await.unwrap();
    assert_eq!(row.status_code, Some(400));
    assert!(row.dlp.unwrap().contains("\"BLOCK\""));
}

#[tokio::test]
async fn a_secret_split_across_stream_events_cuts_the_stream_after_earlier_events_arrive() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "streams",
        json!({"enabled": true, "policies": [{"id": "out",
        "action": "BLOCK", "check": ["RESPONSE"], "enabled": true, "profiles": ["financial"]}]}),
    )
    .await;
    let release = Arc::new(tokio::sync::Notify::new());
    gw.mock
        .push(Behavior::pause_after_first_chunk(release.clone()));
    // The mock answers "Hello! You said: card 4111 1111 1111 1111", one word per event: the
    // card number arrives in four events.
    let response = send(&gw, "streams", &chat(&format!("card {CARD}"), true)).await;
    assert_eq!(response.status(), 200);
    let id = log_id(&response);
    let mut stream = response.bytes_stream();
    // The upstream holds the rest until released: the first event reached the client before
    // the stream's end.
    let first = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .expect("the first event was held back")
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("Hello!"),
        "{first:?}"
    );
    release.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .expect("stream hung")
    {
        rest.extend_from_slice(&chunk.expect("the stream ends cleanly with the error event"));
    }
    let rest = String::from_utf8_lossy(&rest).into_owned();
    let events: Vec<&str> = rest.split("\n\n").filter(|e| !e.is_empty()).collect();
    let last = events.last().unwrap();
    let error: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(error["error"]["code"], 2030, "{last}");
    assert!(!rest.contains("[DONE]"));
    // Three of the card's four groups went out; the event completing it did not.
    assert_eq!(rest.matches(" 1111").count(), 2, "{rest}");
    let row = gw.log_row("streams", &id).await.unwrap();
    assert!(!row.success);
    let stored = gw
        .state
        .store()
        .get_body("local", "streams", &id, BodyKind::Response)
        .await
        .unwrap();
    assert!(
        stored.is_none_or(|body| body.bytes.is_empty()),
        "a blocked response's body is not kept"
    );
    assert!(row.error.unwrap().contains("DLP"));
    let dlp: Value = serde_json::from_str(row.dlp.as_deref().unwrap()).unwrap();
    assert_eq!(dlp["matches"], json!(["financial.credit_card"]));
}

#[tokio::test]
async fn an_anthropic_stream_is_cut_with_an_error_event() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "claude",
        json!({"enabled": true, "policies": [{"id": "out",
        "action": "BLOCK", "check": ["RESPONSE"], "enabled": true, "profiles": ["credentials"]}]}),
    )
    .await;
    // Echoed one word per event: the private key's header arrives in three.
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "-----BEGIN PRIVATE KEY----- follows"}]});
    let response = gw
        .http
        .post(gw.url("/v1/local/claude/anthropic/v1/messages"))
        .header("x-api-key", "sk-test-provider-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(!text.contains("message_stop"), "{text}");
    assert!(!text.contains("KEY-----"), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: error\ndata: "), "{last}");
    assert!(last.contains("\"code\":2030"), "{last}");
}

#[tokio::test]
async fn the_unified_endpoint_gets_errors_in_openai_shape_whatever_the_provider() {
    let gw = TestGateway::start().await;
    gateway_with(&gw, "unified", json!({"enabled": true, "policies": [
        {"id": "in", "action": "BLOCK", "check": ["REQUEST"], "enabled": true, "profiles": ["financial"]},
        {"id": "out", "action": "BLOCK", "check": ["RESPONSE"], "enabled": true, "profiles": ["credentials"]}]}))
    .await;
    let call = |text: &str| {
        let body = json!({"model": "anthropic/claude-sonnet-4-5", "stream": true,
            "messages": [{"role": "user", "content": text}]});
        gw.http
            .post(gw.url("/v1/local/unified/compat/chat/completions"))
            .bearer_auth("sk-test-provider-key")
            .json(&body)
            .send()
    };
    // The request: OpenAI's error body, with the gateway code.
    let refused = call(&format!("card {CARD}")).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(gateway_error_code(&refused.json().await.unwrap()), 2029);
    // The Anthropic stream is translated to OpenAI's chunks, and so is its cut.
    let text = call("-----BEGIN PRIVATE KEY----- follows")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("chat.completion.chunk"), "{text}");
    assert!(!text.contains("event: "), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    let error: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(error["error"]["code"], 2030, "{last}");
}

#[tokio::test]
async fn a_flagged_stream_reaches_the_client_byte_for_byte() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "watched",
        json!({"enabled": true, "action": "FLAG", "profiles": ["financial", "credentials"]}),
    )
    .await;
    let body = chat(&format!("card {CARD} and key {AWS_KEY}"), true);
    let direct = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let response = send(&gw, "watched", &body).await;
    // The request's findings are known before the head leaves.
    assert_eq!(dlp_header(&response)["findings"][0]["check"], "REQUEST");
    let id = log_id(&response);
    let relayed = response.bytes().await.unwrap();
    assert_eq!(relayed, direct);
    let row = gw.log_row("watched", &id).await.unwrap();
    assert!(row.success);
    let dlp: Value = serde_json::from_str(row.dlp.as_deref().unwrap()).unwrap();
    assert_eq!(
        dlp["matches"],
        json!(["credentials.aws_access_key_id", "financial.credit_card"])
    );
    let checks: Vec<&str> = dlp["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["REQUEST", "REQUEST", "RESPONSE", "RESPONSE"]);
}

#[tokio::test]
async fn redact_on_responses_rewrites_the_answer_the_client_gets() {
    let gw = TestGateway::start().await;
    gateway_with(
        &gw,
        "scrub",
        json!({"enabled": true, "policies": [{"id": "out",
        "action": "REDACT", "check": ["RESPONSE"], "enabled": true, "profiles": ["credentials"]}]}),
    )
    .await;
    let response = send(&gw, "scrub", &chat(&format!("echo {AWS_KEY}"), false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(dlp_header(&response)["action"], "REDACT");
    let id = log_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello! You said: echo [REDACTED:aws_access_key_id]"
    );
    // The request was not checked: the upstream got the key.
    assert!(String::from_utf8_lossy(&gw.mock.requests()[0].body).contains(AWS_KEY));
    let row = gw.log_row("scrub", &id).await.unwrap();
    assert!(row.success);
    assert!(row.dlp.unwrap().contains("\"RESPONSE\""));
}
