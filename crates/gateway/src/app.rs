//! The router, and the one place the middleware order is written down.

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tower_http::catch_panic::CatchPanicLayer;

use crate::api;
use crate::error::{self, GatewayError};
use crate::proxy;
use crate::server;
use crate::state::AppState;

/// Routes:
/// - `/v1/…`: the proxy (docs/architecture.md); it reads the raw path itself, so nothing here normalises it.
/// - `/client/v4/…`: the management API, admin token required on every route (docs/security.md).
/// - `/healthz`, `/readyz`: no token.
/// - `/metrics`: unless `metrics.listen` moves it to a listener of its own; `metrics.token`, when
///   set, is checked by the handler (docs/metrics.md).
/// - anything else: the dashboard (no token to load it) for `GET`s of its files and of pages
///   a browser navigates to; the API's 404 JSON otherwise.
///
/// Layers, outermost first (connection-level limits are in [`crate::server`]):
/// 0. error shape: on the unified endpoint (`…/compat/…`) every gateway-made error, from any
///    layer below, is rewritten in OpenAI's shape, since its clients are OpenAI SDKs;
/// 1. panic guard: a panic in any handler becomes a JSON 500 (docs/errors.md), never a dropped connection;
/// 2. load shedding: past `limits.max_in_flight` requests (until their bodies end) a new one
///    gets 503 + `Retry-After` having cost nothing else; health and metrics are exempt;
/// 3. head checks: a target over `limits.max_uri_bytes` gets 414, too many or too large headers
///    431, and ambiguous HTTP/1 body framing (`Content-Length` with `Transfer-Encoding`, or any
///    coding but one `chunked`) 400, before anything reads the body;
/// 4. body timeouts: a request body that stalls or trickles ends in 408 when a handler reads it;
/// 5. absolute-form guard: `POST http://169.254.169.254/…` is refused before routing, so a
///    request line can never choose a host;
/// 6. admin token: every path under `/client/v4`, routed or not, before any handler runs.
///
/// With `server.access_log` the access log wraps them all, so a request any layer refuses is
/// logged too.
pub fn router(state: AppState) -> Router {
    let limits = &state.config().limits;
    let head_limits = server::HeadLimits {
        max_uri_bytes: limits.max_uri_bytes,
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
    };
    let body_timeouts = server::BodyTimeouts {
        idle: limits.body_idle_timeout,
        total: limits.body_timeout,
    };
    let in_flight = server::InFlight::new(state.clone(), limits.max_in_flight);
    let access_log = state.config().server.access_log;
    let mut routes = Router::new()
        .route("/v1/{*path}", any(proxy::proxy))
        .merge(api::router());
    if state.config().metrics.listen.is_none() {
        routes = routes.route("/metrics", get(crate::metrics::scrape));
    }
    let router = routes
        .fallback(crate::dashboard::fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api::require_admin,
        ))
        .with_state(state)
        .layer(middleware::from_fn(refuse_absolute_form))
        .layer(middleware::from_fn_with_state(
            body_timeouts,
            server::limit_body_time,
        ))
        .layer(middleware::from_fn_with_state(
            head_limits,
            server::check_head,
        ))
        .layer(middleware::from_fn_with_state(in_flight, server::shed_load))
        .layer(CatchPanicLayer::custom(|_panic| {
            GatewayError::internal().into_response()
        }))
        .layer(middleware::from_fn(speak_the_clients_error_shape));
    if access_log {
        router.layer(middleware::from_fn(server::access_log))
    } else {
        router
    }
}

async fn speak_the_clients_error_shape(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let anthropic_client = proxy::speaks_anthropic(path);
    let openai_client = proxy::is_compat(path);
    let response = next.run(request).await;
    if anthropic_client {
        error::in_anthropic_shape(response)
    } else if openai_client {
        error::in_openai_shape(response)
    } else {
        response
    }
}

async fn refuse_absolute_form(request: Request, next: Next) -> Response {
    // HTTP/2 always carries scheme and authority; only an HTTP/1 request line can be absolute.
    if request.version() <= http::Version::HTTP_11 && request.uri().scheme().is_some() {
        return GatewayError::invalid_path().into_response();
    }
    next.run(request).await
}
