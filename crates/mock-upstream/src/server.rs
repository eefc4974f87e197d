//! The accept loop, shared state and per-request dispatch to the wire formats.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::behavior::{Behavior, header_u64};
use crate::record::{RecordedRequest, Recorder};
use crate::reply::Ctx;
use crate::respond;
use crate::{anthropic, control, gemini, mcp, openai, realtime};

#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) recorder: Recorder,
    queue: Mutex<VecDeque<Behavior>>,
    /// Client connections currently open: tests see the gateway let go of an upstream.
    pub(crate) open_connections: watch::Sender<usize>,
}

/// Counts one open connection for as long as it lives.
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn new(shared: Arc<Shared>) -> OpenConnection {
        shared.open_connections.send_modify(|n| *n += 1);
        OpenConnection(shared)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.send_modify(|n| *n -= 1);
    }
}

impl Shared {
    pub(crate) fn push_n(&self, behavior: Behavior, n: usize) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.extend(std::iter::repeat_n(behavior, n));
    }

    pub(crate) fn clear_behaviors(&self) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn pop_behavior(&self) -> Option<Behavior> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

/// Our own accept loop rather than `axum::serve`: connection tasks live in a JoinSet owned by
/// this future, so aborting it (on drop) also tears down hung and paused connections.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let router = Router::new()
        .nest_service("/mcp", mcp::service())
        .fallback(handle)
        .with_state(Arc::clone(&shared));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Streaming tests and benchmarks measure per-chunk latency; Nagle would add 40ms.
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(router.clone());
                let open = OpenConnection::new(Arc::clone(&shared));
                connections.spawn(async move {
                    let _open = open;
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    // No wall-clock `date` header: identical requests get byte-identical responses.
                    builder.http1().auto_date_header(false);
                    builder.http2().auto_date_header(false);
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    if parts.uri.path().starts_with("/__mock/") {
        return control::handle(&shared, &parts, body).await;
    }
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return respond::error(StatusCode::BAD_REQUEST, "mock: could not read request body");
    };
    shared
        .recorder
        .record(|| RecordedRequest::from_parts(&parts, body.clone()));
    let behavior = shared
        .pop_behavior()
        .unwrap_or_else(|| Behavior::from_headers(&parts.headers));
    // A WebSocket session (realtime.rs), unless a queued behavior refuses the handshake.
    if realtime::is_upgrade(&parts) && behavior.status.is_none() {
        return realtime::accept(&mut parts);
    }

    if behavior.hang {
        std::future::pending::<()>().await;
    }
    if !behavior.delay_before_headers.is_zero() {
        tokio::time::sleep(behavior.delay_before_headers).await;
    }
    let mut response = if behavior.status.is_some() || behavior.body.is_some() {
        overridden(&behavior)
    } else {
        let cached = header_u64(&parts.headers, "x-mock-cached-tokens").unwrap_or(0);
        route(&parts, &body, &behavior, cached)
    };
    add_headers(&mut response, &behavior.headers);
    response
}

fn overridden(behavior: &Behavior) -> Response {
    let status = behavior
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    match &behavior.body {
        Some(body) => respond::raw(status, "application/json", Body::from(body.clone())),
        None => respond::json(
            status,
            &json!({"error": {"message": "mock error", "type": "mock_error", "code": status.as_u16()}}),
        ),
    }
}

fn add_headers(response: &mut Response, extra: &[(String, String)]) {
    let mut seen: Vec<HeaderName> = Vec::new();
    for (name, value) in extra {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        // The first occurrence replaces the mock's own header (e.g. content-type); repeats append.
        if seen.contains(&name) {
            response.headers_mut().append(name, value);
        } else {
            response.headers_mut().insert(name.clone(), value);
            seen.push(name);
        }
    }
}

/// Which wire-format endpoint a POST targets; decided before the body is parsed so an unknown
/// path is a 404 whatever its body.
enum Endpoint<'a> {
    Chat,
    Embeddings,
    Responses,
    Messages,
    Generate(&'a str),
    StreamGenerate { model: &'a str, sse: bool },
}

fn endpoint(parts: &Parts) -> Option<Endpoint<'_>> {
    let path = parts.uri.path();
    match path.strip_prefix("/v1").unwrap_or(path) {
        "/chat/completions" => return Some(Endpoint::Chat),
        "/embeddings" => return Some(Endpoint::Embeddings),
        "/responses" => return Some(Endpoint::Responses),
        "/messages" => return Some(Endpoint::Messages),
        _ => {}
    }
    let (model, method) = gemini::parse_path(path)?;
    match method {
        "generateContent" => Some(Endpoint::Generate(model)),
        "streamGenerateContent" => {
            let sse = parts
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
            Some(Endpoint::StreamGenerate { model, sse })
        }
        _ => None,
    }
}

fn route(parts: &Parts, body: &[u8], behavior: &Behavior, cached: u64) -> Response {
    let path = parts.uri.path();
    let method = &parts.method;
    if *method == Method::GET && matches!(path, "/v1/models" | "/models") {
        return openai::models();
    }
    // An OpenTelemetry collector's OTLP/HTTP traces endpoint: the spans are in the recorded
    // request; the answer is an empty ExportTraceServiceResponse in the request's encoding.
    if *method == Method::POST && path == "/v1/traces" {
        return respond::otlp_accepted(parts);
    }
    let endpoint = match endpoint(parts) {
        Some(endpoint) if *method == Method::POST => endpoint,
        _ => {
            return respond::json(
                StatusCode::NOT_FOUND,
                &json!({"error": {"message": format!("mock: no route for {method} {path}")}}),
            );
        }
    };
    let Some(ctx) = Ctx::new(body, behavior, cached) else {
        return respond::error(
            StatusCode::BAD_REQUEST,
            "mock: request body is not valid JSON",
        );
    };
    match endpoint {
        Endpoint::Chat => openai::chat(&ctx),
        Endpoint::Embeddings => openai::embeddings(&ctx),
        Endpoint::Responses => openai::responses(&ctx),
        Endpoint::Messages => anthropic::messages(&ctx),
        Endpoint::Generate(model) => gemini::generate(&ctx, model),
        Endpoint::StreamGenerate { model, sse } => gemini::stream(&ctx, model, sse),
    }
}
