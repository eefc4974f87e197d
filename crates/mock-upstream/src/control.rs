//! The `/__mock/*` control API, so the binary can be steered and inspected over HTTP.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::behavior::Behavior;
use crate::respond;
use crate::server::Shared;

/// One entry of `POST /__mock/behaviors`; unknown fields are rejected so a typo in a test
/// fails loudly instead of silently queueing a normal reply.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BehaviorSpec {
    status: Option<u16>,
    body: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    delay_before_headers_ms: u64,
    #[serde(default)]
    chunk_delay_ms: u64,
    reset_after_chunks: Option<usize>,
    end_after_chunks: Option<usize>,
    #[serde(default)]
    hang: bool,
    /// `[events, bytes]`
    filler_events: Option<(usize, usize)>,
    times: Option<usize>,
}

pub(crate) async fn handle(shared: &Shared, parts: &Parts, body: Body) -> Response {
    let path = parts.uri.path();
    match (&parts.method, path) {
        (&Method::GET, "/__mock/requests") => respond::ok(&requests_json(shared)),
        (&Method::DELETE, "/__mock/requests") => {
            shared.recorder.clear();
            respond::ok(&json!({"cleared": true}))
        }
        (&Method::GET, "/__mock/count") => respond::ok(&json!({"total": shared.recorder.total()})),
        (&Method::POST, "/__mock/behaviors") => queue(shared, body).await,
        (&Method::DELETE, "/__mock/behaviors") => {
            shared.clear_behaviors();
            respond::ok(&json!({"cleared": true}))
        }
        (method, _) => respond::json(
            StatusCode::NOT_FOUND,
            &json!({"error": {"message": format!("mock: no route for {method} {path}")}}),
        ),
    }
}

fn requests_json(shared: &Shared) -> Value {
    let requests: Vec<Value> = shared
        .recorder
        .snapshot()
        .into_iter()
        .map(|r| {
            json!({
                "method": r.method,
                "path_and_query": r.path_and_query,
                "headers": r.headers,
                "body": String::from_utf8_lossy(&r.body),
            })
        })
        .collect();
    Value::Array(requests)
}

async fn queue(shared: &Shared, body: Body) -> Response {
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return respond::error(StatusCode::BAD_REQUEST, "mock: could not read request body");
    };
    // Parsed in two steps (not an untagged enum) so serde's message names the bad field.
    let parsed = serde_json::from_slice::<Value>(&body).and_then(|value| match value {
        Value::Array(_) => serde_json::from_value::<Vec<BehaviorSpec>>(value),
        other => serde_json::from_value::<BehaviorSpec>(other).map(|spec| vec![spec]),
    });
    let specs = match parsed {
        Ok(specs) => specs,
        Err(e) => {
            return respond::error(
                StatusCode::BAD_REQUEST,
                &format!("mock: invalid behaviors: {e}"),
            );
        }
    };
    let mut queued = 0;
    for spec in specs {
        let times = spec.times.unwrap_or(1);
        let behavior = Behavior {
            status: spec.status,
            body: spec.body.map(Into::into),
            headers: spec.headers,
            delay_before_headers: Duration::from_millis(spec.delay_before_headers_ms),
            chunk_delay: Duration::from_millis(spec.chunk_delay_ms),
            reset_after_chunks: spec.reset_after_chunks,
            end_after_chunks: spec.end_after_chunks,
            pause_after_first_chunk: None,
            hang: spec.hang,
            filler_events: spec.filler_events,
            sent_events: None,
        };
        shared.push_n(behavior, times);
        queued += times;
    }
    respond::ok(&json!({"queued": queued}))
}
