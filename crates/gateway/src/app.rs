//! The router, and the one place the middleware order is written down.

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tower_http::catch_panic::CatchPanicLayer;

use crate::api;
use crate::error::GatewayError;
use crate::proxy;
use crate::state::AppState;

/// Routes:
/// - `/v1/…`: the proxy (SPEC §2); it reads the raw path itself, so nothing here normalises it.
/// - `/client/v4/…`: the management API, admin token required on every route (§12, §13).
/// - `/healthz`, `/readyz`: no token.
/// - anything else: the dashboard (§16, no token to load it) for `GET`s of its files and of pages
///   a browser navigates to; the API's 404 JSON otherwise.
///
/// Layers, outermost first:
/// 1. panic guard: a panic in any handler becomes a §5 JSON 500, never a dropped connection;
/// 2. absolute-form guard: `POST http://169.254.169.254/…` is refused before routing, so a
///    request line can never choose a host;
/// 3. admin token: every path under `/client/v4`, routed or not, before any handler runs.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/{*path}", any(proxy::proxy))
        .merge(api::router())
        .fallback(crate::dashboard::fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api::require_admin,
        ))
        .with_state(state)
        .layer(middleware::from_fn(refuse_absolute_form))
        .layer(CatchPanicLayer::custom(|_panic| {
            GatewayError::internal().into_response()
        }))
}

async fn refuse_absolute_form(request: Request, next: Next) -> Response {
    // HTTP/2 always carries scheme and authority; only an HTTP/1 request line can be absolute.
    if request.version() <= http::Version::HTTP_11 && request.uri().scheme().is_some() {
        return GatewayError::invalid_path().into_response();
    }
    next.run(request).await
}
