//! The universal endpoint over one WebSocket (docs/websockets.md): a client's upgrade on
//! `/v1/{account}/{gateway}` sends `{"type":"universal.create","request":{"eventId",
//! "provider","endpoint","headers","query"}}` messages, each one a universal request run
//! through the same admission, planner and execute phase as `POST /v1/{account}/{gateway}`
//! (its own log row, rate-limit count and authentication check), answered with
//! `universal.created` (and, for a stream, `universal.stream` per event, then
//! `universal.done`), tagged with its `eventId`. Requests run concurrently, at most
//! [`MAX_IN_FLIGHT`] per socket; a malformed message gets an `error` event and the socket stays
//! open.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use http::request::Parts;
use http::{Extensions, HeaderMap, HeaderValue, Method, header};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::super::admission::admit;
use super::super::context::{Arrival, RequestContext};
use super::super::execute::execute;
use super::super::headers::{CACHE_STATUS, LOG_ID, STEP};
use super::super::{record, universal};
use super::relay::{GOING_AWAY, Limits};
use crate::gateways::Gateway;
use crate::state::AppState;

/// Requests one socket may have running at once; one more gets an `error` event.
pub const MAX_IN_FLIGHT: usize = 16;
/// Events waiting for the socket; a client that reads slowly holds its requests back here.
const OUTGOING: usize = 64;
/// The largest non-streamed response read into one `universal.created`.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What every request of the socket starts from: the handshake's headers (its credentials,
/// `cf-aig-*` options) and client address, and the socket's gateway.
pub struct SocketRequests {
    pub state: AppState,
    pub gateway: Arc<Gateway>,
    pub headers: HeaderMap,
    pub peer: Option<SocketAddr>,
    pub uri: http::Uri,
}

/// Serves universal requests until the client closes, the socket idles or the server stops.
pub async fn serve<S>(
    mut ws: WebSocketStream<S>,
    requests: SocketRequests,
    closing: tokio_util::sync::CancellationToken,
    limits: Limits,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let idle = limits.idle;
    let (events, mut outgoing) = mpsc::channel::<Value>(OUTGOING);
    let mut running = FuturesUnordered::new();
    let started = crate::clock::monotonic_now();
    let total = tokio::time::sleep_until(started + limits.max_session);
    let idle_timer = tokio::time::sleep(idle);
    let mut ping = tokio::time::interval_at(started + limits.ping_interval, limits.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(idle_timer, total);
    loop {
        tokio::select! {
            biased;
            () = closing.cancelled() => {
                let _ = ws.close(Some(close_frame(GOING_AWAY, "tollgate: server shutting down"))).await;
                break;
            }
            () = &mut total => {
                let _ = ws.close(Some(close_frame(1008, "tollgate: session time limit reached"))).await;
                break;
            }
            _ = ping.tick() => {
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            () = &mut idle_timer, if running.is_empty() => {
                let _ = ws.close(Some(close_frame(1000, "tollgate: session idle"))).await;
                break;
            }
            Some(event) = outgoing.recv() => {
                if ws.send(Message::text(event.to_string())).await.is_err() {
                    break;
                }
            }
            Some(()) = running.next(), if !running.is_empty() => {
                idle_timer.as_mut().reset(crate::clock::monotonic_now() + idle);
            }
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    idle_timer.as_mut().reset(crate::clock::monotonic_now() + idle);
                    match parse(text.as_str()) {
                        Err(why) => {
                            let _ = events.try_send(error_event(None, &why));
                        }
                        Ok(_) if running.len() >= MAX_IN_FLIGHT => {
                            let _ = events.try_send(error_event(
                                None,
                                &format!("at most {MAX_IN_FLIGHT} requests may run at once on one socket"),
                            ));
                        }
                        Ok((event_id, step)) => {
                            running.push(one(&requests, event_id, step, events.clone()));
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = events.try_send(error_event(None, "messages are JSON text"));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    // Requests still running end with the socket (their rows say the client went away).
    drop(running);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let _ = ws.flush().await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

fn close_frame(code: u16, reason: &str) -> tokio_tungstenite::tungstenite::protocol::CloseFrame {
    tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }
}

/// A `universal.create` message: its `eventId` and the step (the request without `eventId`).
fn parse(text: &str) -> Result<(Value, Value), String> {
    let message: Value =
        serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    match message.get("type").and_then(Value::as_str) {
        Some("universal.create") => {}
        Some(other) => return Err(format!("unknown message type {other:?}")),
        None => return Err("a message needs a type (universal.create)".into()),
    }
    let Some(Value::Object(mut request)) = message.get("request").cloned() else {
        return Err("universal.create needs a request object".into());
    };
    let event_id = request.remove("eventId").unwrap_or(Value::Null);
    Ok((event_id, Value::Object(request)))
}

fn error_event(event_id: Option<&Value>, message: &str) -> Value {
    json!({
        "type": "error",
        "metadata": {"eventId": event_id.cloned().unwrap_or(Value::Null)},
        "error": {"message": message},
    })
}

/// One request: admission as for any request, the universal planner, the execute phase, and
/// its answer as events.
async fn one(requests: &SocketRequests, event_id: Value, step: Value, events: mpsc::Sender<Value>) {
    let state = &requests.state;
    let arrival = Arrival::now(state);
    let providers = state.providers().for_account(&requests.gateway.account_id);
    let mut ctx = RequestContext::new(
        state,
        &providers,
        arrival,
        requests.gateway.clone(),
        String::new(),
    );
    let mut headers = requests.headers.clone();
    // The client's eventId names the request's rows, as `cf-aig-event-id` does.
    if let Some(id) = event_id
        .as_str()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        headers.insert("cf-aig-event-id", id);
    }
    let mut extensions = Extensions::new();
    if let Some(peer) = requests.peer {
        extensions.insert(ConnectInfo(peer));
    }
    let response = match admit(&mut ctx, &mut headers, &extensions).await {
        Ok(()) => run(&mut ctx, &requests.uri, step).await,
        Err(refused) => Err(refused),
    };
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            record::refusal(&ctx, &error);
            error.into_response()
        }
    };
    answer(response, &ctx, event_id, &events).await;
}

async fn run(
    ctx: &mut RequestContext<'_>,
    uri: &http::Uri,
    step: Value,
) -> Result<Response, crate::error::GatewayError> {
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = Method::POST;
    parts.uri = uri.clone();
    let parts: Parts = parts;
    let body = Body::from(serde_json::to_vec(&step).unwrap_or_default());
    let plan = universal::plan(ctx, &parts, body).await?;
    execute(ctx, plan).await
}

/// The response as events: `universal.created` with the response, or for an event stream a
/// `universal.created` without one, a `universal.stream` per event and `universal.done`.
async fn answer(
    response: Response,
    ctx: &RequestContext<'_>,
    event_id: Value,
    events: &mpsc::Sender<Value>,
) {
    let (parts, body) = response.into_parts();
    let text = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = text(header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let log_id = text(LOG_ID).unwrap_or_else(|| ctx.log_id.to_string());
    let metadata = json!({
        "eventId": event_id,
        "logId": log_id,
        "step": text(STEP).unwrap_or_else(|| "0".into()),
        "cacheStatus": text(CACHE_STATUS).unwrap_or_else(|| "MISS".into()),
        "contentType": content_type,
        "status": parts.status.as_u16(),
    });
    if content_type.starts_with("text/event-stream") {
        let created = json!({"type": "universal.created", "metadata": metadata});
        if events.send(created).await.is_err() {
            return;
        }
        let mut stream = body.into_data_stream();
        let mut pending = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            pending.extend_from_slice(&chunk);
            while let Some(end) = find_event_end(&pending) {
                let event: Vec<u8> = pending.drain(..end).collect();
                if let Some(data) = sse_data(&event) {
                    let chunk = serde_json::from_str(&data).unwrap_or(Value::String(data));
                    let streamed = json!({
                        "type": "universal.stream",
                        "metadata": {"eventId": metadata["eventId"]},
                        "response": chunk,
                    });
                    if events.send(streamed).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = events
            .send(json!({"type": "universal.done", "metadata": metadata}))
            .await;
        return;
    }
    let bytes = match http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => bytes::Bytes::new(),
    };
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    let _ = events
        .send(json!({"type": "universal.created", "metadata": metadata, "response": body}))
        .await;
}

use http_body_util::BodyExt;

/// Where the first complete server-sent event ends (after its blank line).
fn find_event_end(buffer: &[u8]) -> Option<usize> {
    let lf = memchr::memmem::find(buffer, b"\n\n").map(|at| at + 2);
    let crlf = memchr::memmem::find(buffer, b"\r\n\r\n").map(|at| at + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `data:` of an event (lines joined), unless it is OpenAI's `[DONE]`.
fn sse_data(event: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(event);
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|value| value.strip_prefix(' ').unwrap_or(value))
        .collect();
    let joined = data.join("\n");
    (!data.is_empty() && joined != "[DONE]").then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_message_gives_its_event_id_and_step() {
        let (id, step) = parse(
            r#"{"type":"universal.create","request":{"eventId":"e1","provider":"openai","endpoint":"chat/completions","headers":{},"query":{}}}"#,
        )
        .unwrap();
        assert_eq!(id, "e1");
        assert_eq!(step["provider"], "openai");
        assert!(step.get("eventId").is_none());
        assert!(parse("nope").is_err());
        assert!(parse(r#"{"type":"other"}"#).is_err());
        assert!(parse(r#"{"type":"universal.create"}"#).is_err());
    }

    #[test]
    fn stream_events_are_split_and_done_is_dropped() {
        let buffer = b"data: {\"a\":1}\n\ndata: [DONE]\n\n";
        let end = find_event_end(buffer).unwrap();
        assert_eq!(sse_data(&buffer[..end]).as_deref(), Some("{\"a\":1}"));
        assert_eq!(sse_data(&buffer[end..]), None);
    }
}
