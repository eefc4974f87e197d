//! The proxy handler: from an incoming request to the upstream's streamed response.
//!
//! Order, so that nothing reaches the upstream unless every check passed: path guard →
//! admission (gateway, `cf-aig-*` headers, authentication, rate limit: [`super::admission`]) →
//! provider → body → begin record (durable) → upstream → response relayed with its end record
//! (durable before the last byte).

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::admission::{Admitted, admit};
use super::dispatch::{LOG_ID, Outbound, set_log_id};
use super::headers::upstream_request_headers;
use super::path;
use crate::error::{ErrorCode, GatewayError};
use crate::logs::{LogEnd, RollupFacts};
use crate::state::AppState;

pub async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let log_id = uuid::Uuid::now_v7();
    let mut seen = Seen::new();
    // Boxed: the forwarding future holds the upstream call and the relay setup (kilobytes),
    // and the router's layers move this handler's future by value several times before their
    // own box; with the box inside, they move a pointer.
    let result = if path::parse_universal(request.uri().path()).is_some() {
        Box::pin(super::universal::forward(
            &state, request, log_id, &mut seen,
        ))
        .await
    } else {
        Box::pin(forward(&state, request, log_id, &mut seen)).await
    };
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            seen.record_refusal(&state, log_id, &error);
            error.into_response()
        }
    };
    // Present on every response, errors included (docs/architecture.md); a retried request's names the
    // attempt that answered.
    if !response.headers().contains_key(LOG_ID) {
        set_log_id(&mut response, log_id);
    }
    response
}

/// What is known about a request so far, so that one refused before it went upstream is still
/// counted in analytics and metrics under its gateway (never logged as a row: refusals cost
/// nothing upstream, and a flood of them must not fill the disk).
pub(super) struct Seen {
    pub started: Instant,
    pub created_at: jiff::Timestamp,
    pub gateway: Option<(String, String)>,
    pub provider: String,
    /// Once the request went upstream, its end record is someone else's job.
    pub dispatched: bool,
}

impl Seen {
    fn new() -> Seen {
        Seen {
            started: Instant::now(),
            created_at: jiff::Timestamp::now(),
            gateway: None,
            provider: String::new(),
            dispatched: false,
        }
    }

    fn record_refusal(&self, state: &AppState, log_id: uuid::Uuid, error: &GatewayError) {
        let (Some((account_id, gateway_id)), false) = (&self.gateway, self.dispatched) else {
            return;
        };
        let end = LogEnd {
            id: log_id.to_string(),
            rollup: Some(RollupFacts {
                created_at_ms: self.created_at.as_millisecond(),
                account_id: account_id.clone(),
                gateway_id: gateway_id.clone(),
                provider: self.provider.clone(),
                model: String::new(),
            }),
            status_code: Some(error.code.status().as_u16()),
            success: false,
            duration_ms: self.started.elapsed().as_millis() as i64,
            attempts: 0,
            error: Some(error.message.clone()),
            ..LogEnd::default()
        };
        state.metrics().observe(&end, Some(error.code));
        state.logs().end_detached(end, Vec::new());
    }
}

/// The provider label a request is counted under (docs/analytics.md): a configured provider's
/// slug (`custom-x` counts as `x`, as its log rows do), `compat`, or `unknown` for any other
/// name, so probing slugs cannot create metric series or analytics groups.
fn counted_provider(state: &AppState, slug: &str) -> String {
    match state.providers().get(slug) {
        Some(provider) => provider.slug.clone(),
        None if slug == "compat" => slug.to_owned(),
        None => UNKNOWN_PROVIDER.to_owned(),
    }
}

/// What a request naming no configured provider is counted under.
const UNKNOWN_PROVIDER: &str = "unknown";

async fn forward(
    state: &AppState,
    request: Request,
    log_id: uuid::Uuid,
    seen: &mut Seen,
) -> Result<Response, GatewayError> {
    let (parts, body) = request.into_parts();
    let target = path::parse(parts.uri.path())?;
    seen.provider = counted_provider(state, target.provider);
    let Admitted {
        gateway,
        options,
        client,
    } = admit(state, &parts, target.account, target.gateway, seen).await?;
    if target.provider == "compat" {
        let body = read_body(body, &parts.headers, state.config().server.max_body_bytes).await?;
        let request = super::compat::CompatRequest {
            state,
            gateway: &gateway,
            options: &options,
            parts: &parts,
            body,
            client,
            log_id,
            route: target.provider_path,
        };
        return super::compat::forward(request, seen).await;
    }
    let provider = state.providers().named(target.provider)?;
    let mut upstream_headers = upstream_request_headers(&parts.headers);
    super::credentials::refuse_gateway_tokens(state, &upstream_headers, parts.uri.query())?;
    let url = provider.upstream_url(target.provider_path, parts.uri.query())?;
    let body = read_body(body, &parts.headers, state.config().server.max_body_bytes).await?;
    let outgoing = crate::keys::Outgoing {
        method: &parts.method,
        url: &url,
        body: &body,
    };
    crate::keys::apply_stored_key(
        state,
        &gateway,
        provider,
        options.byok_alias.as_deref(),
        outgoing,
        &mut upstream_headers,
    )
    .await?;

    super::dispatch::send(
        Outbound {
            state,
            gateway: &gateway,
            provider,
            options: &options,
            log_id,
            client,
            method: parts.method.clone(),
            url,
            path: target.provider_path,
            query: parts.uri.query(),
            logged_headers: &parts.headers,
            upstream_headers,
            body,
            reshape: None,
        },
        seen,
    )
    .await
}

pub(super) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let too_large = || {
        GatewayError::new(
            ErrorCode::BodyTooLarge,
            format!("Request body too large: the limit is {limit} bytes (server.max_body_bytes)"),
        )
    };
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
        Err(error) if crate::server::is_body_timeout(&*error) => {
            Err(GatewayError::request_timeout())
        }
        Err(_) => Err(GatewayError::new(
            ErrorCode::InvalidBody,
            "Could not read the request body",
        )),
    }
}
