//! Request logs: a row per proxied request with tokens, cost and bodies, written through the
//! spool (docs/logs.md).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tollgate_gateway::store::logs::BodyKind;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body};
use tollgate_gateway::convert::signed_as_f64;

const HANG_GUARD: Duration = Duration::from_secs(20);

async fn post(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> (reqwest::Response, String) {
    let mut request = gw
        .http
        .post(gw.url(path))
        .header("authorization", "Bearer sk-canary-provider-key-0001")
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let id = response
        .headers()
        .get("cf-aig-log-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (response, id)
}

#[tokio::test]
async fn a_chat_completion_is_logged_with_tokens_cost_and_bodies() {
    let gw = TestGateway::start().await;
    let (response, id) = post(
        &gw,
        "/v1/local/default/openai/chat/completions?key=sk-canary-in-query",
        &[
            ("cf-aig-metadata", r#"{"user":"u-1","tier":3}"#),
            ("cf-aig-event-id", "ev-9"),
            ("user-agent", "tests/1.0"),
        ],
        chat_body(false),
    )
    .await;
    let reply: serde_json::Value = response.json().await.unwrap();
    let row = gw
        .log_row("default", &id)
        .await
        .expect("a row for the request");
    assert_eq!(row.provider, "openai");
    assert_eq!(row.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(row.path, "chat/completions?key=[REDACTED]");
    assert_eq!(
        (
            row.method.as_str(),
            row.status_code,
            row.success,
            row.cached
        ),
        ("POST", Some(200), true, false)
    );
    assert_eq!(row.tokens_in, reply["usage"]["prompt_tokens"].as_i64());
    assert_eq!(row.tokens_out, reply["usage"]["completion_tokens"].as_i64());
    // gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    let expected = (signed_as_f64(row.tokens_in.unwrap()) * 0.15
        + signed_as_f64(row.tokens_out.unwrap()) * 0.60)
        / 1e6;
    assert!(
        (row.cost.unwrap() - expected).abs() < 1e-12,
        "{:?} vs {expected}",
        row.cost
    );
    assert!(!row.custom_cost);
    assert_eq!(row.metadata.as_deref(), Some(r#"{"user":"u-1","tier":3}"#));
    assert_eq!(row.event_id.as_deref(), Some("ev-9"));
    assert_eq!(row.user_agent.as_deref(), Some("tests/1.0"));
    assert_eq!(row.client_ip.as_deref(), Some("127.0.0.1"));
    assert!(row.duration_ms.is_some() && row.ttfb_ms.is_some());
    assert_eq!(
        row.request_content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(
        row.response_content_type.as_deref(),
        Some("application/json")
    );
    assert!(row.completed && row.error.is_none());

    let store = gw.state.store();
    let request = store
        .get_body("local", "default", &id, BodyKind::Request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&request.bytes).unwrap(),
        chat_body(false)
    );
    assert!(request.complete);
    assert!(
        !request.headers.unwrap().to_string().contains("sk-canary"),
        "credentials are redacted"
    );
    let response = store
        .get_body("local", "default", &id, BodyKind::Response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&response.bytes).unwrap(),
        reply
    );
}

#[tokio::test]
async fn streamed_usage_is_read_for_openai_and_anthropic() {
    let gw = TestGateway::start().await;
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let (response, id) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[("x-mock-cached-tokens", "2")],
        body,
    )
    .await;
    let text = response.text().await.unwrap();
    let usage_line = text
        .lines()
        .rfind(|l| l.contains("\"usage\""))
        .unwrap()
        .trim_start_matches("data: ");
    let usage: serde_json::Value = serde_json::from_str(usage_line).unwrap();
    let row = gw.log_row("default", &id).await.unwrap();
    assert_eq!(row.tokens_in, usage["usage"]["prompt_tokens"].as_i64());
    assert_eq!(row.tokens_out, usage["usage"]["completion_tokens"].as_i64());
    assert_eq!(row.cache_read_tokens, Some(2));
    assert_eq!(
        row.response_content_type.as_deref(),
        Some("text/event-stream")
    );

    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "count these five words"}]});
    let (response, id) = post(
        &gw,
        "/v1/local/default/anthropic/v1/messages",
        &[("x-mock-cached-tokens", "3")],
        anthropic,
    )
    .await;
    let text = response.text().await.unwrap();
    assert!(text.contains("message_stop"));
    let row = gw.log_row("default", &id).await.unwrap();
    assert_eq!(row.tokens_out.map(|t| t > 0), Some(true));
    assert_eq!(row.cache_read_tokens, Some(3));
    // tokens_in counts every prompt token, cached ones included.
    assert!(row.tokens_in.unwrap() >= 3 + 4, "{row:?}");
    assert!(row.cost.is_some());
}

#[tokio::test]
async fn log_switches_per_gateway_and_per_request() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "quiet", "collect_logs": false}))
        .await;
    let (_, quiet) = post(
        &gw,
        "/v1/local/quiet/openai/chat/completions",
        &[],
        chat_body(false),
    )
    .await;
    let (_, off) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[("cf-aig-collect-log", "false")],
        chat_body(false),
    )
    .await;
    let (_, on) = post(
        &gw,
        "/v1/local/quiet/openai/chat/completions",
        &[("cf-aig-collect-log", "true")],
        chat_body(false),
    )
    .await;
    let (_, no_payload) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[("cf-aig-collect-log-payload", "false")],
        chat_body(false),
    )
    .await;
    assert!(gw.log_row("quiet", &quiet).await.is_none());
    assert!(gw.log_row("default", &off).await.is_none());
    assert!(gw.log_row("quiet", &on).await.is_some());
    let row = gw.log_row("default", &no_payload).await.unwrap();
    assert_eq!(
        row.tokens_out.map(|t| t > 0),
        Some(true),
        "usage is still read"
    );
    let store = gw.state.store();
    assert!(
        store
            .get_body("local", "default", &no_payload, BodyKind::Request)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_body("local", "default", &no_payload, BodyKind::Response)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn failures_are_logged_with_their_reason() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::status(500));
    let (response, upstream_error) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        chat_body(false),
    )
    .await;
    let _ = response.bytes().await;
    gw.mock.push(Behavior::hang());
    let (_, timeout) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[("cf-aig-request-timeout", "50")],
        chat_body(false),
    )
    .await;
    gw.mock.push(Behavior::reset_after(2));
    let (response, broken) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        chat_body(true),
    )
    .await;
    let _ = response.bytes().await;

    let row = gw.log_row("default", &upstream_error).await.unwrap();
    assert_eq!(
        (row.status_code, row.success, row.tokens_in),
        (Some(500), false, None)
    );
    let row = gw.log_row("default", &timeout).await.unwrap();
    assert_eq!((row.status_code, row.success), (Some(504), false));
    assert!(row.error.unwrap().contains("timed out"));
    let row = gw.log_row("default", &broken).await.unwrap();
    assert_eq!(
        (row.status_code, row.success, row.error.as_deref()),
        (Some(200), false, Some("upstream stream broken"))
    );
}

#[tokio::test]
async fn a_client_leaving_mid_stream_still_gets_its_row() {
    let gw = TestGateway::start().await;
    let release = Arc::new(tokio::sync::Notify::new());
    gw.mock
        .push(Behavior::pause_after_first_chunk(release.clone()));
    let (response, id) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        chat_body(true),
    )
    .await;
    let mut stream = response.bytes_stream();
    tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    drop(stream);
    // The upstream is still silent: the gateway must notice the client left without it.
    let row = loop {
        gw.logs_flushed().await;
        if let Some(row) = gw
            .state
            .store()
            .get_log("local", "default", &id)
            .await
            .unwrap()
            .filter(|r| r.completed)
        {
            break row;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(row.error.as_deref(), Some("client disconnected"));
    release.notify_one();
}

#[tokio::test]
async fn custom_cost_overrides_the_table_and_unknown_models_cost_null() {
    let gw = TestGateway::start().await;
    let (response, id) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[(
            "cf-aig-custom-cost",
            r#"{"per_token_in":0.001,"per_token_out":0.002}"#,
        )],
        chat_body(false),
    )
    .await;
    let _ = response.bytes().await;
    let row = gw.log_row("default", &id).await.unwrap();
    let expected = signed_as_f64(row.tokens_in.unwrap()) * 0.001
        + signed_as_f64(row.tokens_out.unwrap()) * 0.002;
    assert!((row.cost.unwrap() - expected).abs() < 1e-12);
    assert!(row.custom_cost);

    let mut unknown = chat_body(false);
    unknown["model"] = json!("my-private-finetune-xyz");
    let (response, id) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        unknown,
    )
    .await;
    let _ = response.bytes().await;
    let row = gw.log_row("default", &id).await.unwrap();
    assert!(row.tokens_in.is_some());
    assert_eq!(row.cost, None, "unknown models cost null, never 0");
}

#[tokio::test]
async fn row_caps_stop_inserting_or_delete_the_oldest() {
    let gw = TestGateway::start().await;
    gw.create_gateway(
        json!({"id": "stop", "log_management": 3, "log_management_strategy": "STOP_INSERTING"}),
    )
    .await;
    gw.create_gateway(
        json!({"id": "rotate", "log_management": 3, "log_management_strategy": "DELETE_OLDEST"}),
    )
    .await;
    let mut stop_ids = Vec::new();
    let mut rotate_ids = Vec::new();
    for _ in 0..5 {
        // One at a time, so each lands in its own batch in order.
        let (response, id) = post(
            &gw,
            "/v1/local/stop/openai/chat/completions",
            &[],
            chat_body(false),
        )
        .await;
        let _ = response.bytes().await;
        gw.logs_flushed().await;
        stop_ids.push(id);
        let (response, id) = post(
            &gw,
            "/v1/local/rotate/openai/chat/completions",
            &[],
            chat_body(false),
        )
        .await;
        let _ = response.bytes().await;
        gw.logs_flushed().await;
        rotate_ids.push(id);
    }
    let store = gw.state.store();
    for (i, id) in stop_ids.iter().enumerate() {
        assert_eq!(
            store.get_log("local", "stop", id).await.unwrap().is_some(),
            i < 3,
            "stop #{i}"
        );
    }
    for (i, id) in rotate_ids.iter().enumerate() {
        assert_eq!(
            store
                .get_log("local", "rotate", id)
                .await
                .unwrap()
                .is_some(),
            i >= 2,
            "rotate #{i}"
        );
    }
}

#[tokio::test]
async fn a_canary_provider_key_is_stored_nowhere() {
    let gw = TestGateway::start().await;
    for path in [
        "/v1/local/default/openai/chat/completions",
        "/v1/local/default/openai/chat/completions?key=sk-canary-provider-key-0001",
    ] {
        let (response, _) = post(
            &gw,
            path,
            &[("x-api-key", "sk-canary-provider-key-0001")],
            chat_body(false),
        )
        .await;
        let _ = response.bytes().await;
    }
    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    let (response, _) = post(
        &gw,
        "/v1/local/default/anthropic/v1/messages",
        &[("x-api-key", "sk-canary-provider-key-0001")],
        anthropic,
    )
    .await;
    let _ = response.bytes().await;
    gw.logs_flushed().await;
    let mut files = 0;
    let mut stack = vec![gw.data_dir.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(b"sk-canary".len()).any(|w| w == b"sk-canary"),
                "the provider key leaked into {}",
                path.display()
            );
        }
    }
    assert!(
        files >= 3,
        "database, WAL and spool were all checked ({files} files)"
    );
}

#[tokio::test]
async fn a_full_spool_refuses_requests_instead_of_dropping_rows() {
    // A spool that cannot take a 1 MiB body head: the request must not run unlogged.
    let gw = TestGateway::with_config("", "[logs]\nspool_max_bytes = 1048576\n").await;
    let mut big = chat_body(false);
    big["messages"][0]["content"] = json!("x".repeat(1_100_000));
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["internalCode"], 2015);
    assert_eq!(gw.mock.request_count(), 0);
    // Small requests still fit.
    let (response, _) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        chat_body(false),
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn configured_prices_cost_custom_models() {
    let gw = TestGateway::with_config(
        "",
        "[pricing.my-llm.\"house-model-7b\"]\ninput = 2.0\noutput = 4.0\n",
    )
    .await;
    let mut body = chat_body(false);
    body["model"] = json!("house-model-7b");
    let (response, id) = post(&gw, "/v1/local/default/my-llm/chat/completions", &[], body).await;
    let _ = response.bytes().await;
    let row = gw.log_row("default", &id).await.unwrap();
    let expected = (signed_as_f64(row.tokens_in.unwrap()) * 2.0
        + signed_as_f64(row.tokens_out.unwrap()) * 4.0)
        / 1e6;
    assert!(
        (row.cost.unwrap() - expected).abs() < 1e-12,
        "{:?} vs {expected}",
        row.cost
    );
}

/// A key sent in another provider's credential header (`x-goog-api-key` to openai), or in a
/// header whose name says it is a key, was once stored in clear.
#[tokio::test]
async fn credentials_in_any_providers_header_are_never_stored() {
    let gw = TestGateway::start().await;
    let (_, id) = post(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[
            ("x-goog-api-key", "canary-goog"),
            ("api-key", "canary-azure"),
            ("xi-api-key", "canary-eleven"),
            ("x-llm-key", "canary-custom-provider"),
            ("x-internal-secret", "canary-by-name"),
            ("x-trace", "kept"),
        ],
        chat_body(false),
    )
    .await;
    gw.logs_flushed().await;
    let body = gw
        .state
        .store()
        .get_body("local", "default", &id, BodyKind::Request)
        .await
        .unwrap()
        .expect("the request body is stored");
    let stored = body.headers.unwrap_or_default().to_string();
    assert!(!stored.contains("canary"), "{stored}");
    assert!(stored.contains("kept"), "{stored}");
}
