//! WebSocket sessions through the gateway (docs/websockets.md): a real client socket to the
//! gateway, the gateway's socket to the mock's realtime stub, and the session's log row.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use tollgate_gateway::pricing::TokenCounts;
use tollgate_gateway::store::logs::BodyKind;

use crate::support::{TestGateway, gateway_error_code, rss_kib};

const REALTIME: &str = "/v1/local/default/openai/realtime?model=gpt-realtime";

/// A guard against a hang, never a wait for work: every await below completes by itself.
const GUARD: Duration = Duration::from_secs(20);

type Socket = WebSocketStream<TcpStream>;
type Answer = tokio_tungstenite::tungstenite::handshake::client::Response;

async fn connect(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(Socket, Answer), WsError> {
    let mut request = format!("ws://{}{path}", gw.addr)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let tcp = TcpStream::connect(gw.addr).await.unwrap();
    // Small buffers, so a test holding many idle sessions measures the gateway's.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let handshake = tokio_tungstenite::client_async_with_config(request, tcp, Some(config));
    tokio::time::timeout(GUARD, handshake)
        .await
        .expect("handshake in time")
}

/// The next data or close message (pings are answered by tungstenite and skipped).
async fn next(ws: &mut Socket) -> Message {
    loop {
        let message = tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid message");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

async fn next_json(ws: &mut Socket) -> Value {
    match next(ws).await {
        Message::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

async fn send_json(ws: &mut Socket, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

/// The close frame the gateway sends, then the end of the socket after it: the gateway
/// closes the socket once the session's row is durable, so the row can be read next.
async fn closed_with(ws: &mut Socket) -> Option<CloseFrame> {
    let frame = match next(ws).await {
        Message::Close(frame) => frame,
        other => panic!("expected a close, got {other:?}"),
    };
    tokio::time::timeout(GUARD, async { while let Some(Ok(_)) = ws.next().await {} })
        .await
        .expect("the socket ends in time");
    frame
}

/// The session's summary, which its row keeps as the response body.
async fn summary(gw: &TestGateway, gateway: &str, id: &str) -> Value {
    gw.logs_flushed().await;
    let body = gw
        .state
        .store()
        .get_body("local", gateway, id, BodyKind::Response)
        .await
        .unwrap()
        .expect("a response body");
    assert_eq!(
        body.content_type.as_deref(),
        Some("application/vnd.tollgate.websocket-session+json")
    );
    serde_json::from_slice(&body.bytes).unwrap()
}

fn log_id(answer: &Answer) -> String {
    answer.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_realtime_session_is_relayed_both_ways_and_logged_with_its_usage_and_cost() {
    let gw = TestGateway::start().await;
    let (mut ws, answer) = connect(
        &gw,
        REALTIME,
        &[
            ("authorization", "Bearer sk-provider"),
            ("openai-beta", "realtime=v1"),
            ("sec-websocket-protocol", "realtime"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), 101);
    assert_eq!(answer.headers()["sec-websocket-protocol"], "realtime");
    let id = log_id(&answer);

    let created = next_json(&mut ws).await;
    assert_eq!(created["type"], "session.created");
    assert_eq!(created["session"]["model"], "gpt-realtime");

    // Client → provider → client, text and binary.
    ws.send(Message::text("hello")).await.unwrap();
    let echo = next_json(&mut ws).await;
    assert_eq!(
        (echo["type"].as_str(), echo["received"].as_str()),
        (Some("mock.echo"), Some("hello"))
    );
    ws.send(Message::Binary(Bytes::from_static(&[0, 1, 2, 255])))
        .await
        .unwrap();
    assert_eq!(
        next(&mut ws).await,
        Message::Binary(Bytes::from_static(&[0, 1, 2, 255]))
    );

    // Two responses: their usage is summed on the row.
    for (input, output, cached) in [(100, 50, 0), (300, 20, 200)] {
        send_json(
            &mut ws,
            json!({"type": "response.create", "mock_usage": {"input_tokens": input, "output_tokens": output, "cached_tokens": cached}}),
        )
        .await;
        assert_eq!(
            next_json(&mut ws).await["type"],
            "response.output_text.delta"
        );
        let done = next_json(&mut ws).await;
        assert_eq!(done["type"], "response.done");
        assert_eq!(done["response"]["usage"]["output_tokens"], output);
    }
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    let echoed = closed_with(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(echoed.code), 1000);

    let row = gw.log_row("default", &id).await.expect("the session's row");
    assert_eq!(row.status_code, Some(101));
    assert!(row.success);
    assert_eq!(row.method, "GET");
    assert!(
        row.path.starts_with("realtime?model=gpt-realtime"),
        "{}",
        row.path
    );
    assert_eq!(row.model.as_deref(), Some("gpt-realtime"));
    assert_eq!(row.tokens_in, Some(400));
    assert_eq!(row.tokens_out, Some(70));
    assert_eq!(row.cache_read_tokens, Some(200));
    let tokens = TokenCounts {
        input: 200,
        output: 70,
        cache_read: 200,
        cache_write: 0,
    };
    let created_at = jiff::Timestamp::from_millisecond(row.created_at_ms).unwrap();
    let expected = gw
        .state
        .prices()
        .cost("openai", "gpt-realtime", &tokens, created_at)
        .expect("gpt-realtime is priced");
    assert!(expected > 0.0);
    assert_eq!(row.cost, Some(expected));

    let summary = summary(&gw, "default", &id).await;
    assert_eq!(summary["type"], "websocket");
    // hello, the binary message, two response.create.
    assert_eq!(summary["messages_in"], 4);
    // session.created, the echo, the binary echo, two deltas and two response.done.
    assert_eq!(summary["messages_out"], 7);
    // hello (5 bytes), the binary message (4) and the two events.
    assert!(summary["bytes_in"].as_u64().unwrap() > 9);
    assert_eq!(summary["close_code"], 1000);
    assert_eq!(summary["close_reason"], "bye");
    assert_eq!(summary["closed_by"], "client");
    assert_eq!(row.response_size, summary["bytes_out"].as_i64());

    // The provider got the client's key and headers, never a gateway header.
    let seen = gw.mock.requests();
    let handshake = seen.last().expect("the mock saw the handshake");
    assert_eq!(handshake.path_and_query, "/v1/realtime?model=gpt-realtime");
    assert_eq!(
        handshake.header("authorization"),
        Some("Bearer sk-provider")
    );
    assert_eq!(handshake.header("openai-beta"), Some("realtime=v1"));
    assert_eq!(handshake.header("sec-websocket-protocol"), Some("realtime"));
}

#[tokio::test]
async fn subprotocol_credentials_authenticate_and_never_reach_the_provider() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "secure", "authentication": true}))
        .await;
    let token = gw.create_token(json!({"name": "voice-app"})).await;
    let path = "/v1/local/secure/openai/realtime?model=gpt-realtime";

    let protocols =
        format!("realtime, cf-aig-authorization.{token}, openai-insecure-api-key.sk-from-browser");
    let (mut ws, answer) = connect(&gw, path, &[("sec-websocket-protocol", &protocols)])
        .await
        .unwrap();
    // The client is answered the protocol it asked for, never a credential entry.
    assert_eq!(answer.headers()["sec-websocket-protocol"], "realtime");
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    ws.close(None).await.unwrap();
    let _ = closed_with(&mut ws).await;
    let handshake = gw.mock.requests().pop().unwrap();
    assert_eq!(
        handshake.header("authorization"),
        Some("Bearer sk-from-browser")
    );
    assert_eq!(handshake.header("sec-websocket-protocol"), Some("realtime"));
    assert!(
        handshake
            .headers
            .iter()
            .all(|(name, value)| !name.starts_with("cf-aig") && !value.contains(&token)),
        "{:?}",
        handshake.headers
    );
    let row = gw.log_row("secure", &log_id(&answer)).await.unwrap();
    let kept = format!("{:?}", row);
    assert!(!kept.contains(&token) && !kept.contains("sk-from-browser"));

    // A wrong token is refused before the upgrade, in the gateway's JSON envelope.
    let before = gw.mock.request_count();
    for protocols in [
        "realtime, cf-aig-authorization.tgr_not-a-token".to_owned(),
        "realtime".to_owned(),
    ] {
        let refused = connect(
            &gw,
            path,
            &[
                ("sec-websocket-protocol", &protocols),
                ("authorization", "Bearer sk-x"),
            ],
        )
        .await
        .expect_err("refused");
        let WsError::Http(response) = refused else {
            panic!("expected an HTTP refusal, got {refused:?}");
        };
        assert_eq!(response.status(), 401);
        let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert_eq!(gateway_error_code(&body), 2009);
    }
    assert_eq!(gw.mock.request_count(), before);
}

#[tokio::test]
async fn close_codes_pass_through_both_ways() {
    let gw = TestGateway::start().await;
    // The provider closes: the client gets its code and reason.
    let (mut ws, answer) = connect(&gw, REALTIME, &[("authorization", "Bearer sk-provider")])
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    send_json(
        &mut ws,
        json!({"type": "mock.close", "code": 4001, "reason": "session expired"}),
    )
    .await;
    let frame = closed_with(&mut ws).await.expect("a close frame");
    assert_eq!(
        (u16::from(frame.code), frame.reason.as_str()),
        (4001, "session expired")
    );
    let summary_of = summary(&gw, "default", &log_id(&answer)).await;
    assert_eq!(
        (
            summary_of["close_code"].as_u64(),
            summary_of["closed_by"].as_str()
        ),
        (Some(4001), Some("upstream"))
    );

    // The client closes with its own code: the row has it.
    let (mut ws, answer) = connect(&gw, REALTIME, &[("authorization", "Bearer sk-provider")])
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    ws.close(Some(CloseFrame {
        code: CloseCode::from(4002),
        reason: "user hung up".into(),
    }))
    .await
    .unwrap();
    let frame = closed_with(&mut ws).await.expect("the close answered");
    assert_eq!(u16::from(frame.code), 4002);
    let summary_of = summary(&gw, "default", &log_id(&answer)).await;
    assert_eq!(
        (
            summary_of["close_code"].as_u64(),
            summary_of["closed_by"].as_str()
        ),
        (Some(4002), Some("client"))
    );

    // The provider's connection drops without a close: the client gets 1011, the row an error.
    let (mut ws, answer) = connect(&gw, REALTIME, &[("authorization", "Bearer sk-provider")])
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    send_json(&mut ws, json!({"type": "mock.drop"})).await;
    let frame = closed_with(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1011);
    let row = gw.log_row("default", &log_id(&answer)).await.unwrap();
    assert!(!row.success);
    assert!(row.error.unwrap().contains("provider connection lost"));
}

#[tokio::test]
async fn admission_refuses_before_the_upgrade_with_the_json_envelope() {
    let gw = TestGateway::start().await;
    gw.create_gateway(
        json!({"id": "limited", "rate_limiting_limit": 1, "rate_limiting_interval": 60}),
    )
    .await;
    let path = "/v1/local/limited/openai/realtime?model=gpt-realtime";
    let headers = [("authorization", "Bearer sk-provider")];
    let (mut ws, _) = connect(&gw, path, &headers).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    // A session counts as one request: the second is over the limit.
    let refused = connect(&gw, path, &headers)
        .await
        .expect_err("rate limited");
    let WsError::Http(response) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}");
    };
    assert_eq!(response.status(), 429);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(gateway_error_code(&body), 2003);

    // No such gateway on an authenticated account path: 404 before anything else.
    let refused = connect(&gw, "/v1/local/nope/openai/realtime", &headers)
        .await
        .expect_err("no gateway");
    let WsError::Http(response) = refused else {
        panic!()
    };
    assert_eq!(response.status(), 404);

    // A gateway token where the provider key goes never leaves: 401 on an open gateway too.
    let refused = connect(&gw, REALTIME, &[("x-api-key", super::support::ADMIN_TOKEN)])
        .await
        .expect_err("a gateway token upstream");
    let WsError::Http(response) = refused else {
        panic!()
    };
    assert_eq!(response.status(), 401);
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn the_provider_refusing_the_handshake_is_passed_to_the_client() {
    let gw = TestGateway::start().await;
    let (status, _) = gw_push_refusal(&gw).await;
    assert_eq!(status, 200);
    let refused = connect(&gw, REALTIME, &[("authorization", "Bearer sk-wrong")])
        .await
        .expect_err("the provider refuses");
    let WsError::Http(response) = refused else {
        panic!()
    };
    assert_eq!(response.status(), 401);
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let row = gw.log_row("default", &id).await.unwrap();
    assert_eq!(row.status_code, Some(401));
    assert!(!row.success);
}

/// Queues a 401 answer on the mock (its control API).
async fn gw_push_refusal(gw: &TestGateway) -> (u16, String) {
    let response = gw
        .http
        .post(format!("{}/__mock/behaviors", gw.mock.url()))
        .json(&json!({"status": 401}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn shutdown_closes_open_sessions_with_going_away() {
    let mut gw = TestGateway::start().await;
    let (mut ws, answer) = connect(&gw, REALTIME, &[("authorization", "Bearer sk-provider")])
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    gw.stop();
    let frame = closed_with(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001);
    // Its row was written before the server let go of the store.
    let row = gw.log_row("default", &log_id(&answer)).await.unwrap();
    assert_eq!(row.status_code, Some(101));
}

#[tokio::test]
async fn an_idle_session_is_closed_and_limits_apply() {
    let gw = TestGateway::with_config("", "[websockets]\nidle_timeout_ms = 200\n").await;
    let (mut ws, answer) = connect(&gw, REALTIME, &[("authorization", "Bearer sk-provider")])
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    // Nothing more is sent: the gateway closes the idle session itself.
    let frame = closed_with(&mut ws).await.expect("a close frame");
    assert_eq!(
        (u16::from(frame.code), frame.reason.as_str()),
        (1000, "tollgate: session idle")
    );
    let summary_of = summary(&gw, "default", &log_id(&answer)).await;
    assert_eq!(summary_of["closed_by"], "gateway");
}

#[tokio::test]
async fn a_gateway_s_own_limits_override_the_instance_s() {
    // The instance keeps sessions for 5 minutes of silence; this gateway for 200 ms.
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "brief", "idle_timeout_ms": 200, "ping_interval_ms": 100}))
        .await;
    let path = "/v1/local/brief/openai/realtime?model=gpt-realtime";
    let (mut ws, answer) = connect(&gw, path, &[("authorization", "Bearer sk-provider")])
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    let frame = closed_with(&mut ws).await.expect("a close frame");
    assert_eq!(
        (u16::from(frame.code), frame.reason.as_str()),
        (1000, "tollgate: session idle")
    );
    assert_eq!(
        summary(&gw, "brief", &log_id(&answer)).await["closed_by"],
        "gateway"
    );

    // Out of bounds is refused, naming the field; null goes back to the instance's value.
    let (status, body) = gw
        .admin(
            reqwest::Method::PUT,
            "/accounts/local/ai-gateway/gateways/brief",
            Some(json!({"ping_interval_ms": 5})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("ping_interval_ms"), "{body}");
    let (status, body) = gw
        .admin(
            reqwest::Method::PUT,
            "/accounts/local/ai-gateway/gateways/brief",
            Some(json!({"idle_timeout_ms": null})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["idle_timeout_ms"], Value::Null);
    assert_eq!(body["result"]["ping_interval_ms"], 100);
}

#[tokio::test]
async fn a_thousand_idle_sessions_stay_open_in_bounded_memory() {
    const SESSIONS: usize = 1000;
    let gw = TestGateway::start().await;
    // Warm up every path once so the measurement is of sessions, not first-use allocations.
    let (mut warm, _) = connect(&gw, REALTIME, &[("authorization", "Bearer sk-provider")])
        .await
        .unwrap();
    assert_eq!(next_json(&mut warm).await["type"], "session.created");
    let rss_before = rss_kib();
    let mut sockets = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let (mut ws, _) = connect(&gw, REALTIME, &[("authorization", "Bearer sk-provider")])
            .await
            .unwrap();
        assert_eq!(next_json(&mut ws).await["type"], "session.created");
        sockets.push(ws);
    }
    let rss_after = rss_kib();
    assert_eq!(
        tollgate_gateway::proxy::open_sessions(&gw.state),
        SESSIONS + 1
    );
    let open = format!("tollgate_websocket_sessions_open {}", SESSIONS + 1);
    assert!(gw.metrics().await.contains(&open));
    // The whole process: the test's client sockets and the mock's sessions are in it too, so
    // this is an upper bound on the gateway's share.
    let per_session = rss_after.saturating_sub(rss_before) / SESSIONS as u64;
    println!("{SESSIONS} idle sessions: {per_session} KiB each (client, gateway and mock)");
    // Measured: 28 KiB for all three sides together (8 KiB read buffers on the gateway).
    assert!(per_session < 64, "{per_session} KiB per idle session");
    // Every one of them still relays.
    for ws in &mut sockets {
        ws.send(Message::text("still there?")).await.unwrap();
    }
    for ws in &mut sockets {
        assert_eq!(next_json(ws).await["type"], "mock.echo");
    }
}

fn create(event_id: &str, stream: bool) -> Value {
    json!({
        "type": "universal.create",
        "request": {
            "eventId": event_id,
            "provider": "openai",
            "endpoint": "chat/completions",
            "headers": {"authorization": "Bearer sk-provider", "content-type": "application/json"},
            "query": crate::support::chat_body(stream),
        }
    })
}

#[tokio::test]
async fn the_universal_api_over_one_socket_multiplexes_requests_and_streams() {
    let gw = TestGateway::start().await;
    let (mut ws, answer) = connect(&gw, "/v1/local/default", &[]).await.unwrap();
    assert_eq!(answer.status(), 101);
    // Two requests at once, one streamed: their events are told apart by eventId.
    send_json(&mut ws, create("plain", false)).await;
    send_json(&mut ws, create("streamed", true)).await;
    let (mut plain, mut streamed_created, mut chunks, mut done) = (None, None, 0, None);
    while plain.is_none() || done.is_none() {
        let event = next_json(&mut ws).await;
        match (
            event["type"].as_str().unwrap(),
            event["metadata"]["eventId"].as_str().unwrap(),
        ) {
            ("universal.created", "plain") => plain = Some(event),
            ("universal.created", "streamed") => {
                assert!(event.get("response").is_none(), "{event}");
                streamed_created = Some(event);
            }
            ("universal.stream", "streamed") => {
                assert!(streamed_created.is_some(), "created comes first");
                assert_eq!(event["response"]["object"], "chat.completion.chunk");
                chunks += 1;
            }
            ("universal.done", "streamed") => done = Some(event),
            other => panic!("unexpected {other:?}: {event}"),
        }
    }
    let plain = plain.unwrap();
    assert_eq!(plain["response"]["object"], "chat.completion");
    assert_eq!(plain["metadata"]["status"], 200);
    assert_eq!(plain["metadata"]["step"], "0");
    assert!(chunks >= 2, "{chunks} chunks");
    let done = done.unwrap();
    assert!(
        done["metadata"]["contentType"]
            .as_str()
            .unwrap()
            .starts_with("text/event-stream")
    );

    // Each request is a row of its own, with the client's eventId.
    for event in [&plain, &done] {
        let id = event["metadata"]["logId"].as_str().unwrap();
        let row = gw.log_row("default", id).await.expect("a row per request");
        assert_eq!(row.provider, "openai");
        assert_eq!(row.status_code, Some(200));
        assert_eq!(
            row.event_id.as_deref(),
            event["metadata"]["eventId"].as_str()
        );
    }
    let plain_row = gw
        .log_row("default", plain["metadata"]["logId"].as_str().unwrap())
        .await
        .unwrap();
    assert!(plain_row.tokens_out.unwrap() > 0);

    // A malformed message gets an error event, and the socket still serves.
    ws.send(Message::text("not json")).await.unwrap();
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    send_json(
        &mut ws,
        json!({"type": "universal.create", "request": {"eventId": "bad", "provider": "openai"}}),
    )
    .await;
    let refused = next_json(&mut ws).await;
    assert_eq!(refused["type"], "universal.created");
    assert_eq!(refused["metadata"]["status"], 400);
    assert_eq!(gateway_error_code(&refused["response"]), 2014);
    send_json(&mut ws, create("again", false)).await;
    let again = next_json(&mut ws).await;
    assert_eq!(
        (
            again["type"].as_str(),
            again["metadata"]["eventId"].as_str()
        ),
        (Some("universal.created"), Some("again"))
    );
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn the_session_bound_and_the_message_bound_hold() {
    let gw = TestGateway::with_config(
        "",
        "[websockets]\nmax_sessions = 1\nmax_message_bytes = 1024\n",
    )
    .await;
    let headers = [("authorization", "Bearer sk-provider")];
    let (mut ws, answer) = connect(&gw, REALTIME, &headers).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    // One session is the bound: the next is refused before the upgrade.
    let refused = connect(&gw, REALTIME, &headers)
        .await
        .expect_err("at the bound");
    let WsError::Http(response) = refused else {
        panic!()
    };
    assert_eq!(response.status(), 503);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(gateway_error_code(&body), 2019);
    // Too big a message closes the session with 1009; its place is given back.
    ws.send(Message::text("x".repeat(2048))).await.unwrap();
    let frame = closed_with(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009);
    let summary_of = summary(&gw, "default", &log_id(&answer)).await;
    assert_eq!(summary_of["close_code"], 1009);
    assert_eq!(summary_of["closed_by"], "gateway");
}

#[tokio::test]
async fn gemini_live_sessions_go_to_the_provider_path_with_the_key_redacted_in_the_row() {
    let gw = TestGateway::start().await;
    let path = "/v1/local/default/google-ai-studio/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=AIza-secret";
    let (mut ws, answer) = connect(&gw, path, &[]).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    ws.send(Message::text("{\"setup\":{}}")).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "mock.echo");
    ws.close(None).await.unwrap();
    let _ = closed_with(&mut ws).await;
    let handshake = gw.mock.requests().pop().unwrap();
    assert_eq!(
        handshake.path_and_query,
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=AIza-secret"
    );
    let row = gw.log_row("default", &log_id(&answer)).await.unwrap();
    assert_eq!(row.provider, "google-ai-studio");
    assert!(!row.path.contains("AIza-secret"), "{}", row.path);
}

#[tokio::test]
async fn a_scoped_run_token_opens_only_the_models_it_allows() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "scoped", "authentication": true}))
        .await;
    let token = gw
        .create_token(
            json!({"name": "realtime-only", "providers": ["openai"], "models": ["gpt-realtime"]}),
        )
        .await;
    let protocols = format!("realtime, cf-aig-authorization.{token}");
    let headers = [
        ("sec-websocket-protocol", protocols.as_str()),
        ("authorization", "Bearer sk-provider"),
    ];
    let (mut ws, _) = connect(
        &gw,
        "/v1/local/scoped/openai/realtime?model=gpt-realtime",
        &headers,
    )
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    let before = gw.mock.request_count();
    let refused = connect(
        &gw,
        "/v1/local/scoped/openai/realtime?model=gpt-realtime-mini",
        &headers,
    )
    .await
    .expect_err("another model");
    let WsError::Http(response) = refused else {
        panic!()
    };
    assert_eq!(response.status(), 403);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(gateway_error_code(&body), 2101);
    assert_eq!(gw.mock.request_count(), before, "nothing went upstream");
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn a_spent_budget_refuses_the_next_session() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({
        "id": "budgeted",
        "spend_limits": {"rules": [{"id": "r1", "limit": 0.0001, "limitType": "cost", "window": 60, "technique": "fixed"}]},
    }))
    .await;
    let path = "/v1/local/budgeted/openai/realtime?model=gpt-realtime";
    let headers = [("authorization", "Bearer sk-provider")];
    let (mut ws, answer) = connect(&gw, path, &headers).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "session.created");
    send_json(&mut ws, json!({"type": "response.create"})).await;
    let _delta = next_json(&mut ws).await;
    assert_eq!(next_json(&mut ws).await["type"], "response.done");
    ws.close(None).await.unwrap();
    let _ = closed_with(&mut ws).await;
    // The session's cost was settled when it ended, past the limit.
    let row = gw.log_row("budgeted", &log_id(&answer)).await.unwrap();
    assert!(row.cost.unwrap() > 0.0001, "{:?}", row.cost);
    let refused = connect(&gw, path, &headers).await.expect_err("over budget");
    let WsError::Http(response) = refused else {
        panic!()
    };
    assert_eq!(response.status(), 429);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(gateway_error_code(&body), 2041);
}
