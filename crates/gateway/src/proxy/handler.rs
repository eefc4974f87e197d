//! The proxy handler: from an incoming request to the upstream's streamed response.
//!
//! Order, so that nothing reaches the upstream unless every check passed: path guard →
//! `cf-aig-*` headers → gateway → gateway authentication → provider → body → begin record
//! (durable) → upstream → response relayed with its end record (durable before the last byte).

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::headers::{client_response_headers, upstream_request_headers};
use super::options::RequestOptions;
use super::path;
use super::relay::RequestLog;
use super::{client_ip, redact};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::logs::LogBegin;
use crate::providers::Provider;
use crate::state::AppState;

const LOG_ID: &str = "cf-aig-log-id";
const EVENT_ID: &str = "cf-aig-event-id";

pub async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let log_id = uuid::Uuid::now_v7();
    let mut response = match forward(&state, request, log_id).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    // Present on every response, errors included (SPEC §4).
    if let Ok(value) = HeaderValue::from_str(&log_id.to_string()) {
        response.headers_mut().insert(LOG_ID, value);
    }
    response
}

async fn forward(
    state: &AppState,
    request: Request,
    log_id: uuid::Uuid,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let created_at = jiff::Timestamp::now();
    let (parts, body) = request.into_parts();
    let target = path::parse(parts.uri.path())?;
    let options = RequestOptions::from_headers(&parts.headers)?;
    let gateway = state
        .gateways()
        .for_request(target.account, target.gateway)
        .await?;
    authenticate(state, &gateway, &options)?;
    let provider = state.providers().get(target.provider).ok_or_else(|| {
        GatewayError::new(
            ErrorCode::InvalidProvider,
            format!("Invalid provider: {}", target.provider),
        )
    })?;
    refuse_admin_token_as_provider_key(state, provider, &parts.headers)?;
    let url = provider.upstream_url(target.provider_path, parts.uri.query())?;
    let body = read_body(body, &parts.headers, state.config().server.max_body_bytes).await?;

    let log = if options.collect_log.unwrap_or(gateway.settings.collect_logs) {
        let keep_payload = options.collect_log_payload.unwrap_or(true);
        let model = crate::usage::request_model(provider.usage, target.provider_path, &body);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let begin = LogBegin {
            id: log_id.to_string(),
            instance_id: state.logs().instance_id().to_owned(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            created_at_ms: created_at.as_millisecond(),
            event_id: options.event_id.clone(),
            provider: provider.slug.clone(),
            model: model.clone(),
            path: redact::path_and_query(target.provider_path, parts.uri.query()),
            method: parts.method.to_string(),
            metadata: options.metadata.as_ref().map(|entries| {
                serde_json::Value::Object(entries.iter().cloned().collect()).to_string()
            }),
            step: None,
            request_content_type: header_text(&parts.headers, header::CONTENT_TYPE),
            request_size: body.len() as i64,
            client_ip: client_ip(peer, &parts.headers, &state.config().server.trusted_proxies)
                .map(|ip| ip.to_string()),
            user_agent: header_text(&parts.headers, header::USER_AGENT),
            keep_payload,
            request_headers: if keep_payload {
                redact::headers(&parts.headers, &provider.credential_headers)
            } else {
                Vec::new()
            },
            request_head_complete: body.len() <= state.config().logs.body_max_bytes,
        };
        let head = if keep_payload {
            body[..body.len().min(state.config().logs.body_max_bytes)].to_vec()
        } else {
            Vec::new()
        };
        // The barrier: a request that may be billed upstream always leaves a trace.
        state.logs().begin(begin, head).await.map_err(|error| {
            tracing::error!(%error, "request refused: its log record could not be written");
            GatewayError::new(
                ErrorCode::LogUnavailable,
                "Request log unavailable; retry later",
            )
        })?;
        Some(RequestLog {
            state: state.clone(),
            pipeline: state.logs().clone(),
            id: log_id.to_string(),
            provider: provider.slug.clone(),
            model,
            custom_cost: options.custom_cost,
            keep_payload,
            started,
            created_at,
            usage_format: provider.usage,
        })
    } else {
        None
    };

    let timeout = options
        .request_timeout
        .or(gateway
            .settings
            .request_timeout_ms
            .map(std::time::Duration::from_millis))
        .unwrap_or(state.config().server.upstream_timeout);
    let send = provider
        .client
        .request(parts.method, url)
        .headers(upstream_request_headers(&parts.headers))
        .body(body)
        .send();
    let failure = match tokio::time::timeout(timeout, send).await {
        Ok(Ok(upstream)) => {
            return Ok(respond(
                upstream,
                log,
                &options,
                &provider.credential_headers,
            ));
        }
        Err(_elapsed) => timed_out(),
        Ok(Err(error)) if error.is_timeout() => timed_out(),
        Ok(Err(error)) => {
            // Without the URL: a query string may carry a provider key (Gemini `?key=`).
            tracing::warn!(provider = %provider.slug, error = %error.without_url(), "upstream request failed");
            GatewayError::new(ErrorCode::UpstreamFailed, "Provider unreachable")
        }
    };
    if let Some(log) = &log {
        log.finish_without_response(failure.code.status().as_u16(), &failure.message)
            .await;
    }
    Err(failure)
}

fn respond(
    upstream: reqwest::Response,
    log: Option<RequestLog>,
    options: &RequestOptions,
    credential_headers: &[http::HeaderName],
) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = upstream.status();
    *response.headers_mut() = client_response_headers(upstream.headers());
    if let Some(event_id) = options.event_id.as_deref()
        && let Ok(value) = HeaderValue::from_str(event_id)
    {
        response.headers_mut().insert(EVENT_ID, value);
    }
    // Chunks go to the client as they arrive; if the upstream breaks off, so does the client's
    // stream (no synthesized end).
    *response.body_mut() = match log {
        None => Body::from_stream(upstream.bytes_stream()),
        Some(log) => {
            let status = upstream.status().as_u16();
            let content_type = header_text(upstream.headers(), header::CONTENT_TYPE);
            let content_length = upstream.content_length();
            let headers = redact::headers(upstream.headers(), credential_headers);
            log.relay(
                upstream.bytes_stream(),
                status,
                content_type,
                content_length,
                headers,
            )
        }
    };
    response
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn timed_out() -> GatewayError {
    GatewayError::new(
        ErrorCode::UpstreamTimeout,
        "Request timed out waiting for the provider",
    )
}

/// An authenticated gateway takes a run token of its account, or the admin token.
fn authenticate(
    state: &AppState,
    gateway: &Gateway,
    options: &RequestOptions,
) -> Result<(), GatewayError> {
    if !gateway.settings.authentication {
        return Ok(());
    }
    let token = options.gateway_token.as_deref().unwrap_or("");
    let valid = !token.is_empty()
        && (state.tokens().verify(&gateway.account_id, token)
            || state.admin_token().matches(token));
    if valid {
        Ok(())
    } else {
        Err(GatewayError::unauthorized())
    }
}

/// The admin token opens the management API; sent as a provider key it would leave the
/// gateway, so such a request stops here.
fn refuse_admin_token_as_provider_key(
    state: &AppState,
    provider: &Provider,
    headers: &HeaderMap,
) -> Result<(), GatewayError> {
    for name in &provider.credential_headers {
        for value in headers.get_all(name) {
            let text = value.to_str().unwrap_or("");
            let token = crate::auth::bearer(text).unwrap_or(text);
            if state.admin_token().matches(token) {
                return Err(GatewayError::new(
                    ErrorCode::Unauthorized,
                    "The admin token is not a provider key",
                ));
            }
        }
    }
    Ok(())
}

async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, GatewayError> {
    let too_large = || GatewayError::new(ErrorCode::BodyTooLarge, "Request body too large");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(GatewayError::new(
            ErrorCode::InvalidBody,
            "Could not read the request body",
        )),
    }
}
