//! Pass-through: what goes up and what comes back is what the client and provider sent.

use serde_json::json;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body};

async fn both_ways(
    gw: &TestGateway,
    via_gateway: &str,
    direct: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> (reqwest::Response, reqwest::Response) {
    let send = |url: String| {
        let mut request = gw.http.post(url).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let through = send(gw.url(via_gateway)).await.unwrap();
    let straight = send(format!("{}{direct}", gw.mock.url())).await.unwrap();
    (through, straight)
}

#[tokio::test]
async fn openai_anthropic_and_gemini_responses_are_byte_identical() {
    let gw = TestGateway::start().await;
    let cases = [
        (
            "/v1/local/default/openai/chat/completions",
            "/v1/chat/completions",
            chat_body(false),
        ),
        (
            "/v1/local/default/anthropic/v1/messages",
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi there"}]}),
        ),
        (
            "/v1/local/default/google-ai-studio/v1beta/models/gemini-2.5-flash:generateContent",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}]}),
        ),
        (
            "/v1/local/default/openai/embeddings",
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": "abc"}),
        ),
    ];
    for (via, direct, body) in cases {
        let (through, straight) = both_ways(
            &gw,
            via,
            direct,
            &[("authorization", "Bearer sk-test")],
            &body,
        )
        .await;
        assert_eq!(through.status(), straight.status(), "{via}");
        assert_eq!(through.status(), 200, "{via}");
        assert_eq!(
            through.headers().get("content-type"),
            straight.headers().get("content-type")
        );
        let log_id = through
            .headers()
            .get("cf-aig-log-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let log_id = log_id.expect("cf-aig-log-id on every response");
        assert_eq!(
            uuid::Uuid::parse_str(&log_id)
                .ok()
                .map(|u| u.get_version_num()),
            Some(7)
        );
        assert_eq!(
            through.bytes().await.unwrap(),
            straight.bytes().await.unwrap(),
            "{via}"
        );
    }
}

#[tokio::test]
async fn headers_cross_as_the_spec_says() {
    let gw = TestGateway::start().await;
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions?api-version=2024-10&x=%2F"))
        .header("authorization", "Bearer sk-provider-key")
        .header("cf-aig-metadata", r#"{"user":"u1"}"#)
        .header("cf-aig-event-id", "event-42")
        .header("cf-aig-collect-log", "true")
        .header("x-custom-header", "kept")
        .header("connection", "x-hop")
        .header("x-hop", "dropped")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("cf-aig-event-id").unwrap(),
        "event-42"
    );
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.path_and_query,
        "/v1/chat/completions?api-version=2024-10&x=%2F"
    );
    assert_eq!(seen.header("authorization"), Some("Bearer sk-provider-key"));
    assert_eq!(seen.header("x-custom-header"), Some("kept"));
    assert_eq!(seen.header("x-hop"), None);
    assert!(
        seen.headers
            .iter()
            .all(|(name, _)| !name.starts_with("cf-aig-")),
        "{:?}",
        seen.headers
    );
    assert_eq!(
        seen.header("host"),
        Some(gw.mock.addr().to_string().as_str())
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&seen.body).unwrap(),
        chat_body(false)
    );
}

#[tokio::test]
async fn path_rules_v1_custom_and_templated_providers() {
    let gw = TestGateway::start().await;
    let body = chat_body(false);
    for (path, upstream) in [
        // The base already ends in /v1: a client's extra /v1 is dropped.
        (
            "/v1/local/default/openai/v1/chat/completions",
            "/v1/chat/completions",
        ),
        (
            "/v1/local/default/my-llm/chat/completions",
            "/v1/chat/completions",
        ),
        (
            "/v1/local/default/custom-my-llm/v1/chat/completions",
            "/v1/chat/completions",
        ),
        // An overridden Azure base without placeholders takes the path as it is.
        (
            "/v1/local/default/azure-openai/res/dep/chat/completions",
            "/azure/res/dep/chat/completions",
        ),
    ] {
        gw.mock.clear_requests();
        let response = gw.http.post(gw.url(path)).json(&body).send().await.unwrap();
        let _ = response.bytes().await;
        assert_eq!(
            gw.mock
                .requests()
                .pop()
                .map(|r| r.path_and_query)
                .as_deref(),
            Some(upstream),
            "{path}"
        );
    }
    let models = gw
        .http
        .get(gw.url("/v1/local/default/openai/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    assert_eq!(
        gw.mock.requests().pop().map(|r| r.method).as_deref(),
        Some("GET")
    );
}

#[tokio::test]
async fn upstream_errors_pass_through_unchanged() {
    let gw = TestGateway::start().await;
    let error_body = r#"{"error":{"message":"slow down","type":"rate_limit"}}"#;
    gw.mock.push(
        Behavior::status(429)
            .with_body(bytes::Bytes::from_static(error_body.as_bytes()))
            .with_header("retry-after", "7")
            .with_header("x-ratelimit-remaining-requests", "0"),
    );
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get("retry-after").unwrap(), "7");
    assert_eq!(
        response
            .headers()
            .get("x-ratelimit-remaining-requests")
            .unwrap(),
        "0"
    );
    assert_eq!(response.text().await.unwrap(), error_body);
    assert_eq!(
        gw.mock.request_count(),
        1,
        "upstream errors are not retried by default"
    );
}

/// Every response names its request and its event (docs/logs.md), gateway errors included: the
/// event id is the client's or the request's first log id; a retried request's request id stays
/// its first log id while its log id names the attempt that answered.
#[tokio::test]
async fn every_response_carries_request_and_event_ids() {
    let gw = TestGateway::start().await;
    let ids = |response: &reqwest::Response| {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        (
            header("cf-aig-log-id"),
            header("cf-aig-request-id"),
            header("cf-aig-event-id"),
        )
    };
    let chat = "/v1/local/default/openai/chat/completions";
    let plain = gw.http.post(gw.url(chat)).json(&chat_body(false)).send();
    let (log_id, request_id, event_id) = ids(&plain.await.unwrap());
    assert_eq!(request_id, log_id);
    assert_eq!(event_id, log_id);

    let refused = gw
        .http
        .post(gw.url("/v1/local/nope/openai/chat/completions"));
    let refused = refused
        .header("cf-aig-event-id", "ev-7")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    let (log_id, request_id, event_id) = ids(&refused);
    assert_eq!((request_id, event_id), (log_id, "ev-7".to_owned()));

    gw.mock.push(Behavior::status(503));
    let retried = gw
        .http
        .post(gw.url(chat))
        .header("cf-aig-max-attempts", "2")
        .header("cf-aig-retry-delay", "0")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    let (log_id, request_id, event_id) = ids(&retried);
    assert_ne!(log_id, request_id, "the second attempt answered");
    assert_eq!(event_id, request_id);
}
