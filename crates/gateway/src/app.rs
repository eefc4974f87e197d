//! The router: routes, the server's checks around them, and the optional access log.

use axum::Router;
use axum::middleware;
use axum::routing::{any, get};

use crate::api;
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
/// Every route and the fallback pass the server's checks first (error shape, panic guard, load
/// shedding, head limits, body timeouts, absolute-form guard, admin token), in the order
/// [`crate::server::checks`] writes down; connection-level limits are in [`crate::server`].
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
    let checks = server::ChecksLayer::new(server::CheckSettings {
        state: state.clone(),
        in_flight,
        head_limits,
        body_timeouts,
    });
    let router = routes
        .fallback(crate::dashboard::fallback)
        .with_state(state)
        .layer(checks);
    if access_log {
        router.layer(middleware::from_fn(server::access_log))
    } else {
        router
    }
}
