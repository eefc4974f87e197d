//! `GET /metrics` over HTTP: the `[metrics]` token, the text format the scraper asks for, and
//! the router of the separate metrics listener (docs/metrics.md).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use std::sync::atomic::Ordering::Relaxed;

use super::{Format, Readings};
use crate::auth::{bearer, hashes_equal, sha256};
use crate::state::AppState;

const TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The scrape: 401 without the configured token, else the exposition.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config().metrics.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer);
        // Hashed first so the comparison takes the same time whatever was presented.
        let valid = presented
            .is_some_and(|presented| hashes_equal(&sha256(token.expose()), &sha256(presented)));
        if !valid {
            return (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"metrics\""),
                )],
                "a bearer token (metrics.token) is required\n",
            )
                .into_response();
        }
    }
    let format = negotiate(headers.get(header::ACCEPT));
    let text = state.metrics().render(
        Readings {
            log_queue_depth: state.logs().queue_depth(),
            log_spool_bytes: state.logs().spool_bytes(),
            cache_bypasses: state.cache().bypasses(),
            redis_fallbacks: state.rate_limiter().redis_fallbacks(),
            otel_spans_exported: state.telemetry().counts().exported.load(Relaxed),
            otel_spans_dropped: state.telemetry().counts().dropped.load(Relaxed),
            websocket_sessions_open: crate::proxy::open_sessions(&state),
        },
        format,
    );
    let content_type = match format {
        Format::Text => TEXT_CONTENT_TYPE,
        Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
    };
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// What `metrics.listen` serves: `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here\n") })
        .with_state(state)
}

/// OpenMetrics when the `Accept` header prefers it to the classic text format (Prometheus
/// does), the classic text format otherwise, as the official client libraries negotiate.
fn negotiate(accept: Option<&HeaderValue>) -> Format {
    let Some(accept) = accept.and_then(|value| value.to_str().ok()) else {
        return Format::Text;
    };
    let mut best = (Format::Text, 0.0_f32);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let quality = parts
            .filter_map(|param| param.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else if media.eq_ignore_ascii_case("text/plain") || media == "*/*" {
            Format::Text
        } else {
            continue;
        };
        // The first of equal preference wins.
        if quality > best.1 {
            best = (format, quality);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(accept: &str) -> Format {
        negotiate(Some(
            &HeaderValue::from_str(accept).unwrap_or(HeaderValue::from_static("")),
        ))
    }

    #[test]
    fn openmetrics_only_when_preferred() {
        // What Prometheus 2.x and 3.x send by default (protobuf first, which is not served).
        assert_eq!(
            format(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
            ),
            Format::OpenMetrics
        );
        assert_eq!(
            format("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
            Format::OpenMetrics
        );
        assert_eq!(
            format("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"),
            Format::Text
        );
        assert_eq!(format("*/*"), Format::Text);
        assert_eq!(format("application/json"), Format::Text);
        assert_eq!(negotiate(None), Format::Text);
    }
}
