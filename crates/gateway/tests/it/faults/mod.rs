//! Dependency faults (docs/reliability.md): an upstream that is down, silent, slow, stalls,
//! breaks or ends a stream early, rate-limits, or whose client leaves or stops reading; Redis
//! down or hung (`redis`); the log store locked (`store`). Each names the plan's FA id it covers.

mod broken_upstream;
mod redis;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body, gateway_error_code};
use tollgate_gateway::clock::monotonic_now;

/// Guards against a hang only.
const HANG_GUARD: Duration = Duration::from_secs(20);
const CHAT: &str = "/v1/local/default/openai/chat/completions";

async fn send(
    gw: &TestGateway,
    path: &str,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = gw.http.post(gw.url(path)).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    tokio::time::timeout(HANG_GUARD, request.send())
        .await
        .expect("the gateway answers")
        .expect("response")
}

fn log_id(response: &reqwest::Response) -> String {
    response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The row of `id`, once it is complete.
async fn completed_row(
    gw: &TestGateway,
    gateway: &str,
    id: &str,
) -> tollgate_gateway::store::logs::LogRow {
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            if let Some(row) = gw.log_row(gateway, id).await.filter(|row| row.completed) {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the row completes")
}

/// FA-01: a provider on a closed port is retried as configured, then 502 code 2005, quickly
/// (a refused connect costs no timeout), with a row per attempt.
#[tokio::test]
async fn a_closed_port_is_a_quick_502_with_a_row_per_attempt() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = TestGateway::with_config(
        "",
        &format!("[providers.down]\nbase_url = \"http://{closed}/v1\"\n"),
    )
    .await;
    gw.create_gateway(json!({"id": "retrying", "retry_max_attempts": 3, "retry_delay": 1}))
        .await;
    let started = monotonic_now();
    let response = send(
        &gw,
        "/v1/local/retrying/down/chat/completions",
        chat_body(false),
        &[],
    )
    .await;
    assert_eq!(response.status(), 502);
    let id = log_id(&response);
    assert_eq!(gateway_error_code(&response.json().await.unwrap()), 2005);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let row = completed_row(&gw, "retrying", &id).await;
    let cause = row.error.unwrap_or_default();
    assert!(
        cause.starts_with("connection refused (calling http://127.0.0.1:"),
        "{cause}"
    );
    // One row per attempt, each a failure.
    let (_, envelope) = gw
        .admin(
            reqwest::Method::GET,
            "/accounts/local/ai-gateway/gateways/retrying/logs",
            None,
        )
        .await;
    let rows = envelope["result"].as_array().unwrap();
    let mut attempts: Vec<i64> = rows
        .iter()
        .map(|r| r["attempts"].as_i64().unwrap())
        .collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2, 3], "{envelope}");
    assert!(rows.iter().all(|r| r["success"] == false), "{envelope}");
}

/// FA-02/FA-03: an upstream that accepts the connection and never answers. The request was
/// sent (it may be billed), so with the default single attempt it is not repeated: 504 code 2010
/// after the request timeout, one connection, and the gateway closes it so generation stops.
#[expect(
    clippy::disallowed_methods,
    reason = "a fake upstream for this test, which ends with the test's runtime"
)]
#[tokio::test]
async fn a_silent_upstream_times_out_once_and_is_let_go() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel();
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let closed = closed_tx.clone();
            tokio::spawn(async move {
                // Reads the request and whatever follows until the gateway hangs up.
                let mut sink = vec![0u8; 4096];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                let _ = closed.send(());
            });
        }
    });
    let gw = TestGateway::with_config(
        "",
        &format!("[providers.silent]\nbase_url = \"http://{addr}/v1\"\n"),
    )
    .await;
    let started = monotonic_now();
    let response = send(
        &gw,
        "/v1/local/default/silent/chat/completions",
        chat_body(false),
        &[("cf-aig-request-timeout", "300")],
    )
    .await;
    assert_eq!(response.status(), 504);
    let id = log_id(&response);
    assert_eq!(gateway_error_code(&response.json().await.unwrap()), 2010);
    assert!(started.elapsed() >= Duration::from_millis(300));
    tokio::time::timeout(HANG_GUARD, closed_rx.recv())
        .await
        .expect("the gateway closes the upstream connection")
        .unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "sent once, not retried");
    let row = completed_row(&gw, "default", &id).await;
    assert_eq!((row.status_code, row.success), (Some(504), false));
}

/// An error answer whose body stalls: the gateway reads a retryable answer whole (to return
/// it if later attempts fail), and that read is bounded by the request timeout too.
#[expect(
    clippy::disallowed_methods,
    reason = "a fake upstream for this test, which ends with the test's runtime"
)]
#[tokio::test]
async fn a_stalled_error_body_does_not_hold_the_request() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut request = vec![0u8; 4096];
                let _ = socket.read(&mut request).await;
                // A 500 promising 100 bytes, sending one, then nothing.
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 100\r\n\r\n{",
                    )
                    .await;
                std::future::pending::<()>().await;
            });
        }
    });
    let gw = TestGateway::with_config(
        "",
        &format!("[providers.stalling]\nbase_url = \"http://{addr}/v1\"\n"),
    )
    .await;
    gw.create_gateway(json!({"id": "retrying", "retry_max_attempts": 2}))
        .await;
    let response = send(
        &gw,
        "/v1/local/retrying/stalling/chat/completions",
        chat_body(false),
        &[("cf-aig-request-timeout", "300")],
    )
    .await;
    // The last attempt's answer passes through as it is: its status, and its body cut short.
    assert_eq!(response.status(), 500);
}

/// FA-03: response headers slower than the timeout: 504, one request, the upstream connection
/// dropped.
#[tokio::test]
async fn slow_response_headers_time_out_and_free_the_upstream() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::delay(Duration::from_secs(30)));
    let response = send(
        &gw,
        CHAT,
        chat_body(false),
        &[("cf-aig-request-timeout", "200")],
    )
    .await;
    assert_eq!(response.status(), 504);
    assert_eq!(gateway_error_code(&response.json().await.unwrap()), 2010);
    assert_eq!(gw.mock.request_count(), 1);
    tokio::time::timeout(HANG_GUARD, gw.mock.wait_for_open_connections_at_most(0))
        .await
        .expect("the gateway hangs up on the slow upstream");
}

/// FA-04: a stream that stalls after its first chunk. The chunk reaches the client, then the
/// stream breaks once the upstream was silent for the request timeout; the row says why.
#[tokio::test]
async fn a_stalled_stream_is_cut_after_the_idle_timeout() {
    let gw = TestGateway::start().await;
    let never = Arc::new(Notify::new());
    gw.mock
        .push(Behavior::pause_after_first_chunk(never.clone()));
    let response = send(
        &gw,
        CHAT,
        chat_body(true),
        &[("cf-aig-request-timeout", "300")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let id = log_id(&response);
    let mut stream = response.bytes_stream();
    let first = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with(b"data: "));
    let end = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .expect("the stalled stream is cut")
        .expect("an error, not a clean end");
    assert!(end.is_err(), "the client's stream breaks: {end:?}");
    let row = completed_row(&gw, "default", &id).await;
    assert_eq!(
        (row.success, row.error.as_deref()),
        (false, Some("upstream idle timeout"))
    );
    tokio::time::timeout(HANG_GUARD, gw.mock.wait_for_open_connections_at_most(0))
        .await
        .expect("the stalled upstream connection is dropped");
}

/// FA-06: the upstream ends the body cleanly without the terminal event. The client must not
/// get a stream that looks complete (no `[DONE]`, and the body breaks instead of ending), the
/// row is marked, and nothing is cached.
#[tokio::test]
async fn a_stream_without_its_terminal_event_is_not_passed_off_as_complete() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "cached", "cache_ttl": 60}))
        .await;
    gw.mock.push(Behavior::end_after(2));
    let path = "/v1/local/cached/openai/chat/completions";
    let response = send(&gw, path, chat_body(true), &[]).await;
    assert_eq!(response.status(), 200);
    let id = log_id(&response);
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    let mut broke = false;
    while let Some(item) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
    {
        match item {
            Ok(chunk) => received.extend_from_slice(&chunk),
            Err(_) => {
                broke = true;
                break;
            }
        }
    }
    assert!(broke, "the body breaks rather than ends cleanly");
    let text = String::from_utf8(received).unwrap();
    assert_eq!(text.matches("data: ").count(), 2, "{text}");
    assert!(!text.contains("[DONE]"));
    let row = completed_row(&gw, "cached", &id).await;
    assert_eq!(
        (row.success, row.error.as_deref()),
        (false, Some("upstream stream truncated"))
    );
    // Not cached: the same request goes upstream again.
    let again = send(&gw, path, chat_body(true), &[]).await;
    assert_eq!(again.headers()["cf-aig-cache-status"], "MISS");
    assert!(again.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    assert_eq!(gw.mock.request_count(), 2);
}

/// FA-05: a reset mid-stream: the chunks before it arrive, the client's stream breaks, and the
/// row is marked.
#[tokio::test]
async fn a_reset_mid_stream_is_marked_on_the_row() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::reset_after(3));
    let response = send(&gw, CHAT, chat_body(true), &[]).await;
    let id = log_id(&response);
    let mut stream = response.bytes_stream();
    let mut events = 0;
    let mut broke = false;
    while let Some(item) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
    {
        match item {
            Ok(chunk) => events += chunk.windows(6).filter(|w| w == b"data: ").count(),
            Err(_) => {
                broke = true;
                break;
            }
        }
    }
    assert!(broke);
    assert_eq!(events, 3);
    let row = completed_row(&gw, "default", &id).await;
    assert_eq!(
        (row.success, row.error.as_deref()),
        (false, Some("upstream stream broken"))
    );
}

/// FA-07: an upstream 429 with a long `Retry-After` reaches the client unchanged, header
/// included; a short one is waited out when retries are on.
#[tokio::test]
async fn upstream_429_passes_through_or_is_waited_out() {
    let gw = TestGateway::start().await;
    gw.mock
        .push(Behavior::status(429).with_header("retry-after", "30"));
    let response = send(&gw, CHAT, chat_body(false), &[]).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "30");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"], "mock error",
        "the upstream's own body"
    );
    assert_eq!(gw.mock.request_count(), 1);

    gw.create_gateway(json!({"id": "retrying", "retry_max_attempts": 2}))
        .await;
    gw.mock
        .push(Behavior::status(429).with_header("retry-after", "1"));
    let started = monotonic_now();
    let response = send(
        &gw,
        "/v1/local/retrying/openai/chat/completions",
        chat_body(false),
        &[],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(gw.mock.request_count(), 3);
}

/// FA-16: the client leaves mid-stream. The upstream connection is closed soon after (generation
/// stops), the row is written, and the relay's tasks end (the runtime's live tasks return to
/// where they were).
#[tokio::test]
async fn a_client_leaving_mid_stream_frees_the_upstream_and_its_tasks() {
    let gw = TestGateway::start().await;
    let metrics = tokio::runtime::Handle::current().metrics();
    // One warm-up request so pooled connections and lazily started tasks exist before counting.
    let warm = send(&gw, CHAT, chat_body(false), &[]).await;
    let _ = warm.bytes().await;
    let tasks_before = metrics.num_alive_tasks();
    gw.mock
        .push(Behavior::default().with_chunk_delay(Duration::from_millis(200)));
    let response = send(&gw, CHAT, chat_body(true), &[]).await;
    let id = log_id(&response);
    let mut stream = response.bytes_stream();
    tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    drop(stream);
    // The stream's upstream connection cannot go back to the pool mid-body: it must close. The
    // warm-up's pooled connection may stay open.
    tokio::time::timeout(HANG_GUARD, gw.mock.wait_for_open_connections_at_most(1))
        .await
        .expect("the upstream connection of the abandoned stream closes");
    let row = completed_row(&gw, "default", &id).await;
    assert_eq!(row.error.as_deref(), Some("client disconnected"));
    tokio::time::timeout(HANG_GUARD, async {
        while metrics.num_alive_tasks() > tasks_before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "tasks: {} before, {} after",
            tasks_before,
            metrics.num_alive_tasks()
        )
    });
}

/// FA-17: a client that stops reading. The relay holds at most a chunk, so the gateway stops
/// reading the upstream and TCP pushes back to the mock; once the client reads again the whole
/// stream arrives, intact.
#[tokio::test]
async fn a_slow_reader_holds_the_upstream_back_instead_of_buffering() {
    const EVENTS: usize = 4000;
    const EVENT_BYTES: usize = 16 * 1024;
    let gw = TestGateway::start().await;
    let handed_over = Arc::new(AtomicUsize::new(0));
    gw.mock
        .push(Behavior::filler_stream(EVENTS, EVENT_BYTES).counting_into(handed_over.clone()));
    let response = send(&gw, CHAT, chat_body(true), &[]).await;
    let mut stream = response.bytes_stream();
    let mut received = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .len();
    // The mock advances only while something downstream makes room; wait until it stops.
    let mut last = usize::MAX;
    let mut still = 0;
    tokio::time::timeout(HANG_GUARD, async {
        while still < 20 {
            let now = handed_over.load(Ordering::SeqCst);
            still = if now == last { still + 1 } else { 0 };
            last = now;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the upstream stops advancing while the client is not reading");
    eprintln!("slow reader: {last} of {EVENTS} events of {EVENT_BYTES} bytes left the mock");
    // 64 MiB in all; what the sockets and buffers on the way hold is a few MiB.
    assert!(
        last < EVENTS / 2,
        "{last} of {EVENTS} events left the mock while the client read none"
    );
    while let Some(chunk) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
    {
        received += chunk.unwrap().len();
    }
    assert!(
        received > EVENTS * EVENT_BYTES,
        "the whole stream arrived ({received} bytes)"
    );
    assert_eq!(handed_over.load(Ordering::SeqCst), EVENTS + 1);
}

/// FA-17, the other half: a client that reads nothing at all is cut once a chunk has waited
/// for it longer than `client_write_stall_timeout_ms`; the upstream is let go, the row says
/// why, and what the client reads afterwards ends in an error, never in a body that looks whole.
#[tokio::test]
async fn a_client_that_reads_nothing_is_cut_after_the_write_stall_timeout() {
    const EVENTS: usize = 4000;
    const EVENT_BYTES: usize = 16 * 1024;
    let gw = TestGateway::with_config("", "[limits]\nclient_write_stall_timeout_ms = 200\n").await;
    let handed_over = Arc::new(AtomicUsize::new(0));
    gw.mock
        .push(Behavior::filler_stream(EVENTS, EVENT_BYTES).counting_into(handed_over.clone()));
    let response = send(&gw, CHAT, chat_body(true), &[]).await;
    let id = log_id(&response);
    let mut stream = response.bytes_stream();
    tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // Not reading: the gateway gives up on this client and hangs up on the upstream.
    tokio::time::timeout(HANG_GUARD, gw.mock.wait_for_open_connections_at_most(0))
        .await
        .expect("the gateway lets the upstream go when the client stalls");
    let row = completed_row(&gw, "default", &id).await;
    assert_eq!(row.error.as_deref(), Some("client stalled"));
    assert!(handed_over.load(Ordering::SeqCst) < EVENTS);
    let mut broke = false;
    while let Some(chunk) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
    {
        if chunk.is_err() {
            broke = true;
            break;
        }
    }
    assert!(broke, "the cut body ends in an error, not as if complete");
}
