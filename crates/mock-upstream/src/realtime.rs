//! A realtime WebSocket provider (OpenAI Realtime's event shapes) for the gateway's session
//! tests: any upgrade request is accepted (the subprotocol `realtime` when offered) and
//! scripted by what the client sends:
//!
//! - on open: `{"type":"session.created","session":{"model":…}}` (the `?model=` asked for);
//! - `{"type":"response.create"}`: a `response.output_text.delta`, then a `response.done`
//!   whose `usage` is `{"input_tokens":100,"output_tokens":50}` with
//!   `input_token_details.cached_tokens` 0, or the numbers in the event's `mock_usage`
//!   (`input_tokens`, `output_tokens`, `cached_tokens`);
//! - `{"type":"mock.close","code":4001,"reason":"…"}`: the mock closes with that code;
//! - `{"type":"mock.drop"}`: the mock drops the connection without a close frame;
//! - any other text: `{"type":"mock.echo","received":<the text>}`; binary is echoed as is.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

/// Whether a request asks for a WebSocket.
pub(crate) fn is_upgrade(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Answers the handshake (101) and runs the scripted session once the connection switches.
pub(crate) fn accept(parts: &mut Parts) -> Response {
    let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return status(StatusCode::BAD_REQUEST);
    };
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return status(StatusCode::BAD_REQUEST);
    };
    let offered: Vec<String> = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let chosen = offered
        .iter()
        .find(|p| *p == "realtime")
        .or_else(|| offered.first())
        .cloned();
    let model = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("model="))
        .unwrap_or("")
        .to_owned();
    #[expect(
        clippy::disallowed_methods,
        reason = "the mock's session task ends when the gateway closes or drops the socket"
    )]
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            // Small buffers, so a test holding many idle sessions measures the gateway's.
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            session(ws, model).await;
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = status(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(chosen) = chosen.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, chosen);
    }
    response
}

fn status(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

async fn session<S>(mut ws: WebSocketStream<S>, model: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let created = json!({"type": "session.created", "session": {"model": model}});
    if ws.send(Message::text(created.to_string())).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = ws.next().await {
        let replies = match message {
            Message::Text(text) => match script(text.as_str()) {
                Script::Reply(replies) => replies,
                Script::Close(code, reason) => {
                    let frame = CloseFrame {
                        code: CloseCode::from(code),
                        reason: reason.into(),
                    };
                    let _ = ws.send(Message::Close(Some(frame))).await;
                    // Until the gateway answers the close.
                    while let Some(Ok(_)) = ws.next().await {}
                    return;
                }
                Script::Drop => return,
            },
            Message::Binary(bytes) => vec![Message::Binary(bytes)],
            _ => Vec::new(),
        };
        for reply in replies {
            if ws.send(reply).await.is_err() {
                return;
            }
        }
    }
}

enum Script {
    Reply(Vec<Message>),
    Close(u16, String),
    Drop,
}

fn script(text: &str) -> Script {
    let event: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match event.get("type").and_then(Value::as_str) {
        Some("response.create") => {
            let asked = event.get("mock_usage");
            let count = |name: &str, default: u64| {
                asked
                    .and_then(|u| u.get(name))
                    .and_then(Value::as_u64)
                    .unwrap_or(default)
            };
            let (input, output, cached) = (
                count("input_tokens", 100),
                count("output_tokens", 50),
                count("cached_tokens", 0),
            );
            let delta = json!({"type": "response.output_text.delta", "delta": "Hello"});
            let done = json!({
                "type": "response.done",
                "response": {
                    "object": "realtime.response",
                    "status": "completed",
                    "usage": {
                        "total_tokens": input + output,
                        "input_tokens": input,
                        "output_tokens": output,
                        "input_token_details": {"cached_tokens": cached, "text_tokens": input},
                        "output_token_details": {"text_tokens": output, "audio_tokens": 0}
                    }
                }
            });
            Script::Reply(vec![
                Message::text(delta.to_string()),
                Message::text(done.to_string()),
            ])
        }
        Some("mock.close") => {
            let code = event
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(1000);
            let reason = event
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            Script::Close(code, reason)
        }
        Some("mock.drop") => Script::Drop,
        _ => Script::Reply(vec![Message::text(
            json!({"type": "mock.echo", "received": text}).to_string(),
        )]),
    }
}
