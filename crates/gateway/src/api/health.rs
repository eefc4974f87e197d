//! `/healthz` (the process answers), `/readyz` (the store answers too) and `/metrics`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use crate::metrics::GaugeReadings;
use crate::state::AppState;

pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// Prometheus text format (docs/analytics.md).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics().render(&GaugeReadings {
        log_queue_depth: state.logs().queue_depth(),
        log_spool_bytes: state.logs().spool_bytes(),
        cache_bypasses: state.cache().bypasses(),
        redis_fallbacks: state.rate_limiter().redis_fallbacks(),
    });
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "store unavailable"})),
            )
                .into_response()
        }
    }
}
