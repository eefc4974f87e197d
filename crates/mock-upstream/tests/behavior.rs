//! Queued and header-driven behaviours: statuses, delays, resets, early ends, pauses, hangs.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, parse_sse, post, read_body};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::timeout;
use tollgate_mock_upstream::{Behavior, MockUpstream};

/// Long enough that a real failure is not masked; never reached when things work.
const GUARD: Duration = Duration::from_secs(10);

fn chat(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "a b c"}]})
}

fn chat_url(mock: &MockUpstream) -> String {
    format!("{}/v1/chat/completions", mock.url())
}

#[tokio::test]
async fn push_n_fails_n_times_then_normal() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_n(Behavior::status(503).with_header("retry-after", "1"), 2);
    for _ in 0..2 {
        let response = post(&chat_url(&mock), &chat(false)).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": {"message": "mock error", "type": "mock_error", "code": 503}})
        );
    }
    let response = post(&chat_url(&mock), &chat(false)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn status_with_custom_body_and_content_type() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(
        Behavior::status(429)
            .with_body("slow down")
            .with_header("content-type", "text/plain"),
    );
    let response = post(&chat_url(&mock), &chat(false)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "slow down");
}

#[expect(
    clippy::disallowed_methods,
    reason = "the mock's own tests time its delays with the real clock; it has no clock of the gateway's to use"
)]
#[tokio::test]
async fn header_driven_status_and_delay() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .post(chat_url(&mock))
        .header("x-mock-status", "500")
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 500);

    let started = Instant::now();
    let response = client()
        .post(chat_url(&mock))
        .header("x-mock-delay-ms", "200")
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn queued_behavior_takes_precedence_over_headers() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behavior::status(418));
    let send = || {
        client()
            .post(chat_url(&mock))
            .header("x-mock-status", "500")
            .json(&chat(false))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 418);
    assert_eq!(send().await.unwrap().status(), 500);
}

#[expect(
    clippy::disallowed_methods,
    reason = "the mock's own tests time its delays with the real clock; it has no clock of the gateway's to use"
)]
#[tokio::test]
async fn queued_delay_before_headers() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behavior::delay(Duration::from_millis(150)));
    let started = Instant::now();
    let response = post(&chat_url(&mock), &chat(false)).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[expect(
    clippy::disallowed_methods,
    reason = "the mock's own tests time its delays with the real clock; it has no clock of the gateway's to use"
)]
#[tokio::test]
async fn chunk_delay_header_spaces_out_events() {
    let mock = MockUpstream::start().await.unwrap();
    let started = Instant::now();
    let response = client()
        .post(chat_url(&mock))
        .header("x-mock-chunk-delay-ms", "20")
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    let events = parse_sse(&response.text().await.unwrap());
    // "Hello! You said: a b c" = 6 words + finish + [DONE]; a delay before each but the first.
    assert_eq!(events.len(), 8);
    assert!(started.elapsed() >= Duration::from_millis(7 * 20));
}

#[tokio::test]
async fn reset_mid_stream_fails_the_body_read() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behavior::reset_after(2));
    let mut response = post(&chat_url(&mock), &chat(true)).await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match timeout(GUARD, response.chunk()).await.unwrap() {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("stream ended cleanly"),
            Err(e) => break e,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let events = parse_sse(&String::from_utf8(received).unwrap());
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].json()["choices"][0]["delta"]["content"], " You");
}

#[tokio::test]
async fn header_driven_reset_on_anthropic_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let body = json!({"model": "c", "max_tokens": 5, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]});
    let response = client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-mock-reset-after", "4")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(read_body(response).await.is_err());
}

#[tokio::test]
async fn end_after_ends_cleanly_without_done() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behavior::end_after(3));
    let response = post(&chat_url(&mock), &chat(true)).await;
    let body = String::from_utf8(read_body(response).await.unwrap()).unwrap();
    let events = parse_sse(&body);
    assert_eq!(events.len(), 3);
    assert!(!body.contains("[DONE]"));
    assert!(!body.contains("finish_reason\":\"stop"));
}

#[tokio::test]
async fn end_after_never_sends_the_terminal_event() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behavior::end_after(1000));
    let response = post(&chat_url(&mock), &chat(true)).await;
    let body = String::from_utf8(read_body(response).await.unwrap()).unwrap();
    assert!(!body.contains("[DONE]"));
    assert!(body.contains("finish_reason\":\"stop"));
}

#[tokio::test]
async fn header_driven_end_after_on_gemini_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "x y z"}]}]});
    let response = client()
        .post(format!(
            "{}/v1beta/models/g:streamGenerateContent?alt=sse",
            mock.url()
        ))
        .header("x-mock-end-after", "2")
        .json(&body)
        .send()
        .await
        .unwrap();
    let events = parse_sse(&String::from_utf8(read_body(response).await.unwrap()).unwrap());
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.json().get("usageMetadata").is_none())
    );
}

#[tokio::test]
async fn pause_after_first_chunk_holds_the_rest_until_notified() {
    let mock = MockUpstream::start().await.unwrap();
    let notify = Arc::new(Notify::new());
    mock.push(Behavior::pause_after_first_chunk(Arc::clone(&notify)));
    let mut response = post(&chat_url(&mock), &chat(true)).await;
    let mut received = Vec::new();
    while !received.windows(2).any(|w| w == b"\n\n") {
        let chunk = timeout(GUARD, response.chunk()).await.unwrap().unwrap();
        received.extend_from_slice(&chunk.expect("stream ended before the first event"));
    }
    let first = parse_sse(&String::from_utf8(received.clone()).unwrap());
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].json()["choices"][0]["delta"]["role"], "assistant");
    // Nothing else may arrive while paused; waiting a moment is the only way to see absence.
    assert!(
        timeout(Duration::from_millis(200), response.chunk())
            .await
            .is_err()
    );

    notify.notify_one();
    let rest = timeout(GUARD, read_body(response)).await.unwrap().unwrap();
    received.extend_from_slice(&rest);
    let events = parse_sse(&String::from_utf8(received).unwrap());
    assert_eq!(events.len(), 8);
    assert_eq!(events[7].data, "[DONE]");
}

#[tokio::test]
async fn notify_waiters_releases_a_paused_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let notify = Arc::new(Notify::new());
    mock.push(Behavior::pause_after_first_chunk(Arc::clone(&notify)));
    let mut response = post(&chat_url(&mock), &chat(true)).await;
    // Headers are back, so the stream (and its waiter) exists before notify_waiters is sent.
    let first = timeout(GUARD, response.chunk()).await.unwrap().unwrap();
    assert!(first.is_some());
    notify.notify_waiters();
    let rest = timeout(GUARD, read_body(response)).await.unwrap().unwrap();
    assert!(
        String::from_utf8(rest)
            .unwrap()
            .ends_with("data: [DONE]\n\n")
    );
}

#[tokio::test]
async fn notify_one_before_the_pause_is_not_lost() {
    let mock = MockUpstream::start().await.unwrap();
    let notify = Arc::new(Notify::new());
    mock.push(Behavior::pause_after_first_chunk(Arc::clone(&notify)));
    notify.notify_one();
    let response = post(&chat_url(&mock), &chat(true)).await;
    let body = timeout(GUARD, read_body(response)).await.unwrap().unwrap();
    assert_eq!(parse_sse(&String::from_utf8(body).unwrap()).len(), 8);
}

#[tokio::test]
async fn hang_never_answers_but_other_requests_are_served() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behavior::hang());
    let hung = client()
        .post(chat_url(&mock))
        .timeout(Duration::from_millis(300))
        .json(&chat(false))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    mock.wait_for_requests(1).await;
    assert_eq!(post(&chat_url(&mock), &chat(false)).await.status(), 200);
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own client, joined before it ends"
)]
#[tokio::test]
async fn dropping_the_mock_closes_hung_connections() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behavior::hang());
    let request = tokio::spawn(client().post(chat_url(&mock)).json(&chat(false)).send());
    mock.wait_for_requests(1).await;
    drop(mock);
    let result = timeout(GUARD, request).await.unwrap().unwrap();
    assert!(result.is_err());
}
