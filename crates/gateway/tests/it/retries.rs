//! Retries and timeouts through the proxy (docs/resilience.md). The delay arithmetic of each backoff is
//! tested in `proxy::retry`; here: counts, which failures are retried, rows per attempt, and
//! what the client gets when every attempt fails.

use serde_json::json;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body, gateway_error_code};

const CHAT: &str = "/v1/local/retrying/openai/chat/completions";

async fn retrying(gw: &TestGateway, attempts: u8) {
    gw.create_gateway(json!({"id": "retrying", "retry_max_attempts": attempts, "retry_delay": 1, "retry_backoff": "exponential"})).await;
}

async fn send(gw: &TestGateway, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gw.http.post(gw.url(CHAT)).json(&chat_body(false));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn transient_failures_are_retried_until_an_attempt_succeeds() {
    let gw = TestGateway::start().await;
    retrying(&gw, 3).await;
    gw.mock.push(Behavior::status(503));
    gw.mock
        .push(Behavior::status(429).with_header("retry-after", "0"));
    let response = send(&gw, &[("cf-aig-event-id", "ev-retry")]).await;
    assert_eq!(response.status(), 200);
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await;
    assert_eq!(gw.mock.request_count(), 3);
    // Every attempt is a row of its own (each may be billed), sharing the event id.
    let row = gw.log_row("retrying", &id).await.unwrap();
    assert_eq!(
        (row.attempts, row.status_code, row.event_id.as_deref()),
        (3, Some(200), Some("ev-retry"))
    );
    let (_, listed) = gw
        .admin(reqwest::Method::GET, "/accounts/local/ai-gateway/gateways/retrying/logs?filters[0][key]=event_id&filters[0][operator]=eq&filters[0][value]=ev-retry", None)
        .await;
    let mut statuses: Vec<u64> = listed["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status_code"].as_u64().unwrap())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429, 503]);
}

#[tokio::test]
async fn the_last_answer_passes_through_when_all_attempts_fail() {
    let gw = TestGateway::start().await;
    retrying(&gw, 3).await;
    gw.mock
        .push_n(Behavior::status(502).with_body("still broken"), 3);
    let response = send(&gw, &[]).await;
    assert_eq!(response.status(), 502);
    assert_eq!(response.text().await.unwrap(), "still broken");
    assert_eq!(gw.mock.request_count(), 3);
}

#[tokio::test]
async fn non_retryable_statuses_are_not_retried() {
    let gw = TestGateway::start().await;
    retrying(&gw, 5).await;
    for status in [400, 401, 404, 422] {
        gw.mock.clear_requests();
        let before = gw.mock.request_count();
        gw.mock.push(Behavior::status(status));
        assert_eq!(send(&gw, &[]).await.status().as_u16(), status);
        assert_eq!(gw.mock.request_count(), before + 1, "{status} was retried");
    }
}

#[tokio::test]
async fn headers_override_the_gateway_attempts() {
    let gw = TestGateway::start().await;
    retrying(&gw, 1).await;
    gw.mock.push_n(Behavior::status(500), 2);
    let response = send(
        &gw,
        &[("cf-aig-max-attempts", "3"), ("cf-aig-retry-delay", "0")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(gw.mock.request_count(), 3);
}

#[tokio::test]
async fn timeouts_are_retried_and_end_in_504_code_2010() {
    let gw = TestGateway::start().await;
    retrying(&gw, 2).await;
    gw.mock.push_n(Behavior::hang(), 2);
    let response = send(&gw, &[("cf-aig-request-timeout", "50")]).await;
    assert_eq!(response.status(), 504);
    assert_eq!(gateway_error_code(&response.json().await.unwrap()), 2010);
    assert_eq!(gw.mock.request_count(), 2);

    // A timeout then a success: the client gets the success.
    gw.mock.push(Behavior::hang());
    assert_eq!(
        send(&gw, &[("cf-aig-request-timeout", "50")])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn unreachable_providers_are_retried_then_502_code_2005() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = TestGateway::with_config(
        "",
        &format!("[providers.groq]\nbase_url = \"http://{closed}/openai/v1\"\n"),
    )
    .await;
    gw.create_gateway(json!({"id": "retrying", "retry_max_attempts": 3, "retry_delay": 1}))
        .await;
    let response = gw
        .http
        .post(gw.url("/v1/local/retrying/groq/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(gateway_error_code(&response.json().await.unwrap()), 2005);
}

#[tokio::test]
async fn a_stream_is_never_retried_once_a_byte_reached_the_client() {
    let gw = TestGateway::start().await;
    retrying(&gw, 3).await;
    gw.mock.push(Behavior::reset_after(2));
    let response = gw
        .http
        .post(gw.url(CHAT))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "the break reaches the client"
    );
    assert_eq!(gw.mock.request_count(), 1);
}

#[tokio::test]
async fn a_retried_answer_keeps_its_body_and_says_what_happened_next() {
    let gw = TestGateway::start().await;
    retrying(&gw, 2).await;
    gw.mock
        .push(Behavior::status(503).with_body(r#"{"error":"overloaded, try later"}"#));
    let response = send(&gw, &[]).await;
    assert_eq!(response.status(), 200);
    let event_id = response.headers()["cf-aig-event-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await;
    gw.logs_flushed().await;
    let (_, listed) = gw
        .admin(reqwest::Method::GET, "/accounts/local/ai-gateway/gateways/retrying/logs?filters[0][key]=status_code&filters[0][operator]=eq&filters[0][value]=503", None)
        .await;
    let id = listed["result"][0]["id"].as_str().unwrap().to_owned();
    let (_, detail) = gw
        .admin(
            reqwest::Method::GET,
            &format!("/accounts/local/ai-gateway/gateways/retrying/logs/{id}"),
            None,
        )
        .await;
    let row = &detail["result"];
    assert_eq!(row["error"], "provider answered 503; retried", "{row}");
    // Without the client's event id, the first attempt's log id links the attempts.
    assert_eq!(
        (row["event_id"].as_str(), id.as_str()),
        (Some(event_id.as_str()), event_id.as_str())
    );
    assert_eq!(row["response_head"], r#"{"error":"overloaded, try later"}"#);
}
