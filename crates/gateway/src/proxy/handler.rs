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

use super::caching::{self, CACHE_STATUS, CachePlan};
use super::headers::{client_response_headers, upstream_request_headers};
use super::options::RequestOptions;
use super::path;
use super::relay::{CacheFill, RequestLog};
use super::retry::{RetryPolicy, retry_after, retryable_status};
use super::{client_ip, redact};
use crate::cache::{Flight, Outcome};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::logs::{LogBegin, LogEnd, RollupFacts};
use crate::providers::Provider;
use crate::ratelimit::{Decision, RateLimitRule, limit_key};
use crate::state::AppState;

const LOG_ID: &str = "cf-aig-log-id";
const EVENT_ID: &str = "cf-aig-event-id";

pub async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let log_id = uuid::Uuid::now_v7();
    let mut seen = Seen::new();
    let mut response = match forward(&state, request, log_id, &mut seen).await {
        Ok(response) => response,
        Err(error) => {
            seen.record_refusal(&state, log_id, &error);
            error.into_response()
        }
    };
    // Present on every response, errors included (SPEC §4); a retried request's names the
    // attempt that answered.
    if !response.headers().contains_key(LOG_ID) {
        set_log_id(&mut response, log_id);
    }
    response
}

/// What is known about a request so far, so that one refused before it went upstream is still
/// counted in analytics and metrics under its gateway (never logged as a row: refusals cost
/// nothing upstream, and a flood of them must not fill the disk).
struct Seen {
    started: Instant,
    created_at: jiff::Timestamp,
    gateway: Option<(String, String)>,
    provider: String,
    /// Once the request went upstream, its end record is someone else's job.
    dispatched: bool,
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
        state.metrics().observe(&end);
        state.logs().end_detached(end, Vec::new());
    }
}

async fn forward(
    state: &AppState,
    request: Request,
    log_id: uuid::Uuid,
    seen: &mut Seen,
) -> Result<Response, GatewayError> {
    let (parts, body) = request.into_parts();
    let target = path::parse(parts.uri.path())?;
    let gateway = state
        .gateways()
        .for_request(target.account, target.gateway)
        .await?;
    seen.gateway = Some((gateway.account_id.clone(), gateway.id.clone()));
    seen.provider = target.provider.to_owned();
    let options = RequestOptions::from_headers(&parts.headers)?;
    authenticate(state, &gateway, &options)?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = client_ip(peer, &parts.headers, &state.config().server.trusted_proxies);
    // After authentication and before the cache: a cache hit still counts toward the limit.
    enforce_rate_limit(state, &gateway, &parts.headers, client).await?;
    let provider = state.providers().get(target.provider).ok_or_else(|| {
        GatewayError::new(
            ErrorCode::InvalidProvider,
            format!("Invalid provider: {}", target.provider),
        )
    })?;
    refuse_admin_token_as_provider_key(state, provider, &parts.headers)?;
    let url = provider.upstream_url(target.provider_path, parts.uri.query())?;
    let body = read_body(body, &parts.headers, state.config().server.max_body_bytes).await?;

    let stored = options.collect_log.unwrap_or(gateway.settings.collect_logs);
    let keep_payload = stored && options.collect_log_payload.unwrap_or(true);
    let model = crate::usage::request_model(provider.usage, target.provider_path, &body);
    let record = RequestLog {
        state: state.clone(),
        id: log_id.to_string(),
        facts: RollupFacts {
            created_at_ms: seen.created_at.as_millisecond(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            provider: provider.slug.clone(),
            model: model.clone().unwrap_or_default(),
        },
        model: model.clone(),
        custom_cost: options.custom_cost,
        stored,
        keep_payload,
        started: seen.started,
        created_at: seen.created_at,
        usage_format: provider.usage,
        attempt: 1,
    };
    let begin = stored.then(|| {
        let limit = state.config().logs.body_max_bytes;
        let begin = LogBegin {
            id: log_id.to_string(),
            instance_id: state.logs().instance_id().to_owned(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            created_at_ms: seen.created_at.as_millisecond(),
            event_id: options.event_id.clone(),
            provider: provider.slug.clone(),
            model,
            path: redact::path_and_query(target.provider_path, parts.uri.query()),
            method: parts.method.to_string(),
            metadata: options.metadata.as_ref().map(|entries| {
                serde_json::Value::Object(entries.iter().cloned().collect()).to_string()
            }),
            step: None,
            request_content_type: header_text(&parts.headers, header::CONTENT_TYPE),
            request_size: body.len() as i64,
            client_ip: client.map(|ip| ip.to_string()),
            user_agent: header_text(&parts.headers, header::USER_AGENT),
            keep_payload,
            request_headers: if keep_payload {
                redact::headers(&parts.headers, &provider.credential_headers)
            } else {
                Vec::new()
            },
            request_head_complete: body.len() <= limit,
        };
        let head = if keep_payload {
            body[..body.len().min(limit)].to_vec()
        } else {
            Vec::new()
        };
        (begin, head)
    });

    let cache = CachePlan::for_request(
        &gateway,
        provider,
        &options,
        parts.method.as_str(),
        &redact::path_and_query(target.provider_path, parts.uri.query()),
        &parts.headers,
        &body,
    );
    let mut leader = None;
    if let Some(plan) = cache.as_ref().filter(|plan| !plan.skip) {
        let shared = match state.cache().get(&plan.key).await {
            Some(hit) => Some(hit),
            None => match state.cache().join(&plan.key).await {
                Flight::Leader(guard) => {
                    leader = Some(guard);
                    None
                }
                Flight::Follower(Outcome::Response(response)) => Some(response),
                // The request this one waited for failed: it makes its own.
                Flight::Follower(Outcome::Retry) => None,
            },
        };
        if let Some(cached) = shared {
            write_begin(state, begin).await?;
            seen.dispatched = true;
            let event_id = options.event_id.as_deref();
            return Ok(record.answer_from_cache(&cached, event_id).await);
        }
    }

    let timeout = options
        .request_timeout
        .or(gateway
            .settings
            .request_timeout_ms
            .map(std::time::Duration::from_millis))
        .unwrap_or(state.config().server.upstream_timeout);
    let policy = RetryPolicy::new(&gateway.settings, &options);
    let upstream_headers = upstream_request_headers(&parts.headers);
    // The last retryable answer, returned if every later attempt fails without one (SPEC §11).
    let mut last_answer: Option<Response> = None;
    let mut attempt = 1;
    loop {
        let id = if attempt == 1 {
            log_id
        } else {
            uuid::Uuid::now_v7()
        };
        let record = RequestLog {
            id: id.to_string(),
            attempt: i64::from(attempt),
            ..record.clone()
        };
        // The barrier: a request that may be billed upstream always leaves a trace.
        let attempt_begin = begin.as_ref().map(|(begin, head)| {
            (
                LogBegin {
                    id: id.to_string(),
                    ..begin.clone()
                },
                head.clone(),
            )
        });
        write_begin(state, attempt_begin).await?;
        seen.dispatched = true;
        let retries_left = attempt < policy.max_attempts;
        // The body is shared, not copied, between attempts.
        let send = provider
            .client
            .request(parts.method.clone(), &url)
            .headers(upstream_headers.clone())
            .body(body.clone())
            .send();
        let failure = match tokio::time::timeout(timeout, send).await {
            Ok(Ok(upstream)) if retries_left && retryable_status(upstream.status().as_u16()) => {
                let status = upstream.status().as_u16();
                let wait = policy.delay_after(attempt, retry_after(upstream.headers()));
                last_answer = Some(buffer_answer(upstream, id).await);
                record.finish_without_response(status, "retried").await;
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            Ok(Ok(upstream)) => {
                let fill = cache.map(|plan| CacheFill {
                    storable: !plan.skip
                        && caching::storable(upstream.status().as_u16(), upstream.headers(), 0),
                    headers: caching::replayable_headers(&client_response_headers(
                        upstream.headers(),
                    )),
                    key: plan.key,
                    ttl_secs: plan.ttl_secs,
                    leader,
                });
                let credentials = &provider.credential_headers;
                let mut response = respond(upstream, record, &options, credentials, fill);
                set_log_id(&mut response, id);
                return Ok(response);
            }
            Err(_elapsed) => timed_out(),
            Ok(Err(error)) if error.is_timeout() => timed_out(),
            Ok(Err(error)) => {
                // Without the URL: a query string may carry a provider key (Gemini `?key=`).
                tracing::warn!(provider = %provider.slug, error = %error.without_url(), "upstream request failed");
                GatewayError::new(ErrorCode::UpstreamFailed, "Provider unreachable")
            }
        };
        record
            .finish_without_response(failure.code.status().as_u16(), &failure.message)
            .await;
        if retries_left {
            tokio::time::sleep(policy.delay_after(attempt, None)).await;
            attempt += 1;
            continue;
        }
        return match last_answer {
            Some(answer) => Ok(answer),
            None => Err(failure),
        };
    }
}

/// Most of a retryable answer kept in memory for returning it later.
const MAX_BUFFERED_ANSWER: usize = 1024 * 1024;

/// Reads a (retryable, so small) upstream answer whole, so it can still be returned if every
/// later attempt fails without one.
async fn buffer_answer(upstream: reqwest::Response, id: uuid::Uuid) -> Response {
    let status = upstream.status();
    let headers = client_response_headers(upstream.headers());
    let mut body = Vec::new();
    let mut stream = upstream.bytes_stream();
    while let Some(Ok(chunk)) = futures_util::StreamExt::next(&mut stream).await {
        if body.len() + chunk.len() > MAX_BUFFERED_ANSWER {
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response.headers_mut().remove(header::CONTENT_LENGTH);
    set_log_id(&mut response, id);
    response
}

fn set_log_id(response: &mut Response, id: uuid::Uuid) {
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(LOG_ID, value);
    }
}

async fn write_begin(
    state: &AppState,
    begin: Option<(LogBegin, Vec<u8>)>,
) -> Result<(), GatewayError> {
    let Some((begin, head)) = begin else {
        return Ok(());
    };
    state.logs().begin(begin, head).await.map_err(|error| {
        tracing::error!(%error, "request refused: its log record could not be written");
        GatewayError::log_unavailable()
    })
}

/// 429 before anything else happens when the gateway's limit is reached (SPEC §10).
async fn enforce_rate_limit(
    state: &AppState,
    gateway: &Gateway,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
) -> Result<(), GatewayError> {
    let Some(rule) = RateLimitRule::from_settings(&gateway.settings) else {
        return Ok(());
    };
    let key = limit_key(
        &gateway.account_id,
        &gateway.id,
        &gateway.settings.rate_limiting_key,
        headers,
        client,
    );
    match state.rate_limiter().check(&key, &rule).await {
        Decision::Limited {
            limit,
            retry_after_ms,
            reset_after_ms,
        } => {
            state.metrics().rate_limited(&gateway.id);
            Err(GatewayError::rate_limited(
                limit,
                retry_after_ms,
                reset_after_ms,
            ))
        }
        Decision::Allowed { .. } => Ok(()),
    }
}

fn respond(
    upstream: reqwest::Response,
    record: RequestLog,
    options: &RequestOptions,
    credential_headers: &[http::HeaderName],
    fill: Option<CacheFill>,
) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = upstream.status();
    *response.headers_mut() = client_response_headers(upstream.headers());
    if let Some(event_id) = options.event_id.as_deref()
        && let Ok(value) = HeaderValue::from_str(event_id)
    {
        response.headers_mut().insert(EVENT_ID, value);
    }
    let status = upstream.status().as_u16();
    let content_type = header_text(upstream.headers(), header::CONTENT_TYPE);
    let content_length = upstream.content_length();
    let headers = if record.keep_payload {
        redact::headers(upstream.headers(), credential_headers)
    } else {
        Vec::new()
    };
    // Chunks go to the client as they arrive; if the upstream breaks off, so does the client's
    // stream (no synthesized end).
    if fill.is_some() {
        response
            .headers_mut()
            .insert(CACHE_STATUS, HeaderValue::from_static("MISS"));
    }
    *response.body_mut() = record.relay(
        upstream.bytes_stream(),
        status,
        content_type,
        content_length,
        headers,
        fill,
    );
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
