//! Response builders: JSON bodies and incremental SSE bodies that honour stream behaviours.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::futures::OwnedNotified;

use crate::behavior::Behavior;

pub(crate) fn raw(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) fn json(status: StatusCode, value: &Value) -> Response {
    raw(status, "application/json", Body::from(value.to_string()))
}

/// An OTLP/HTTP export accepted whole: `{}` in JSON, zero bytes in protobuf (the empty
/// message).
pub(crate) fn otlp_accepted(parts: &axum::http::request::Parts) -> Response {
    let protobuf = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"application/x-protobuf"));
    match protobuf {
        true => raw(StatusCode::OK, "application/x-protobuf", Body::empty()),
        false => raw(StatusCode::OK, "application/json", Body::from("{}")),
    }
}

pub(crate) fn ok(value: &Value) -> Response {
    json(StatusCode::OK, value)
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error"}}),
    )
}

/// `data: {json}\n\n` (OpenAI).
pub(crate) fn data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `event: name\ndata: {json}\n\n` (Anthropic, OpenAI Responses).
pub(crate) fn event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

/// An SSE response sending `events` one by one. The last event is the terminal one
/// (`[DONE]`, `message_stop`, ...), which `end_after_chunks` withholds.
pub(crate) fn sse(events: Vec<Bytes>, behavior: &Behavior) -> Response {
    let events = match behavior.filler_events {
        Some((count, bytes)) => filler(count, bytes),
        None => events,
    };
    let limit = match behavior.end_after_chunks {
        Some(n) => n.min(events.len().saturating_sub(1)),
        None => events.len(),
    };
    let pause = behavior.pause_after_first_chunk.as_ref().map(|notify| {
        let mut notified = Box::pin(std::sync::Arc::clone(notify).notified_owned());
        // Registers as a waiter now, so a notify_waiters sent while the first chunk is in
        // flight still counts (notify_one is kept as a permit either way).
        notified.as_mut().enable();
        notified
    });
    let plan = Plan {
        events,
        next: 0,
        limit,
        reset_after: behavior.reset_after_chunks,
        chunk_delay: behavior.chunk_delay,
        pause,
        sent: behavior.sent_events.clone(),
        done: false,
    };
    let mut response = raw(
        StatusCode::OK,
        "text/event-stream",
        Body::from_stream(futures_util::stream::unfold(plan, Plan::step)),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

struct Plan {
    events: Vec<Bytes>,
    next: usize,
    limit: usize,
    reset_after: Option<usize>,
    chunk_delay: Duration,
    pause: Option<Pin<Box<OwnedNotified>>>,
    sent: Option<Arc<AtomicUsize>>,
    done: bool,
}

/// `count` OpenAI-shaped chunks whose content is `bytes` letters, then `[DONE]`.
fn filler(count: usize, bytes: usize) -> Vec<Bytes> {
    let content = "x".repeat(bytes);
    let mut events: Vec<Bytes> = (0..count)
        .map(|i| {
            data(&json!({
                "id": format!("chatcmpl-filler{i}"),
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}],
            }))
        })
        .collect();
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

impl Plan {
    async fn step(mut self) -> Option<(std::io::Result<Bytes>, Plan)> {
        if self.done {
            return None;
        }
        let i = self.next;
        if self.reset_after.is_some_and(|n| i >= n || i >= self.limit) {
            // Returning Pending once makes hyper flush the chunks already produced, so the client
            // sees them before the connection is aborted.
            tokio::task::yield_now().await;
            self.done = true;
            let reset = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "mock: reset mid-stream",
            );
            return Some((Err(reset), self));
        }
        let chunk = self.events.get(i).filter(|_| i < self.limit)?.clone();
        if i > 0 {
            if !self.chunk_delay.is_zero() {
                tokio::time::sleep(self.chunk_delay).await;
            }
            if let Some(pause) = self.pause.take() {
                pause.await;
            }
        }
        self.next += 1;
        if let Some(sent) = &self.sent {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        Some((Ok(chunk), self))
    }
}
