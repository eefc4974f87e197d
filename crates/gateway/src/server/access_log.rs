//! The access log (`[server] access_log = true`): one info line per proxied request on the
//! `tollgate::access` target, written when its response body ends or is dropped, so a stream's
//! duration is the whole stream (docs/configuration.md, "Server log").
//!
//! The line holds the method, the path without its query (a query can carry a provider key,
//! Gemini's `?key=`), status, duration, gateway, provider, log id and trace id. No header or body, so no
//! credential, reaches it; request paths cannot hold control characters (hyper refuses them).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::time::Instant;

use crate::clock::monotonic_now;
use crate::convert::millis_u64;

/// The target operators filter on (`TOLLGATE_LOG=info,tollgate::access=off`).
pub const ACCESS_TARGET: &str = "tollgate::access";
/// Longest path written; request targets may be up to `limits.max_uri_bytes`.
const MAX_PATH_CHARS: usize = 512;

/// Middleware: logs requests to the proxy (`/v1/…`); other routes pass untouched.
pub async fn access_log(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let started = monotonic_now();
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(MAX_PATH_CHARS).collect();
    let response = next.run(request).await;
    let log_id = response
        .headers()
        .get("cf-aig-log-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let trace_id = response
        .extensions()
        .get::<crate::otel::TracedAs>()
        .map(|traced| traced.0.to_string())
        .unwrap_or_default();
    let line = AccessLine {
        started,
        method,
        status: response.status().as_u16(),
        path,
        log_id,
        trace_id,
    };
    response.map(|body| {
        Body::new(LoggedBody {
            inner: body,
            line: Some(line),
        })
    })
}

struct AccessLine {
    started: Instant,
    method: http::Method,
    status: u16,
    path: String,
    log_id: String,
    /// The OpenTelemetry trace, when the request was traced (docs/observability.md).
    trace_id: String,
}

impl AccessLine {
    fn write(self) {
        // `/v1/{account}/{gateway}/{provider}/…`; the universal endpoint has no provider.
        let mut segments = self.path.split('/').skip(3);
        let gateway = segments.next().unwrap_or("");
        let provider = segments.next().unwrap_or("");
        tracing::info!(
            target: ACCESS_TARGET,
            method = %self.method,
            path = %self.path,
            status = self.status,
            duration_ms = millis_u64(self.started.elapsed()),
            gateway = %gateway,
            provider = %provider,
            log_id = %self.log_id,
            trace_id = %self.trace_id,
            "request"
        );
    }
}

/// The response body, which writes the access line once it ends or is dropped.
struct LoggedBody {
    inner: Body,
    line: Option<AccessLine>,
}

impl HttpBody for LoggedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None))
            && let Some(line) = this.line.take()
        {
            line.write();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            line.write();
        }
    }
}
