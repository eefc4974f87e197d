//! WebSocket sessions on the provider routes (docs/websockets.md): a client's upgrade on
//! `/v1/{account}/{gateway}/{provider}/{path…}` (OpenAI Realtime at `…/openai/realtime?model=…`,
//! Gemini Live, any provider whose upstream speaks WebSocket) becomes a session with the
//! provider's `wss://` URL, relayed both ways.
//!
//! The upgrade goes through the same route, gateway and admission phases as every request
//! (proxy/handler.rs); credentials sent as `sec-websocket-protocol` entries are moved into
//! headers before admission ([`handshake::take_protocol_credentials`]), so authentication, the
//! run token's scope and the rate limit are the HTTP path's own. Then, per session, the checks
//! the execute phase makes per call (the run token's providers and models, policies, spend
//! limits, a stored key), the begin record, the provider's handshake, and only then the 101.
//! A refusal before that is a plain HTTP error in the gateway's JSON envelope. The session
//! runs on the state's tasks, bounded by `[websockets] max_sessions`, and ends in one log row
//! (record.rs, `RequestLog::finish_session`).

mod handshake;
mod relay;
mod sessions;
mod universal;
mod upstream;
mod usage;

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, Method, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

pub use handshake::{is_upgrade, take_protocol_credentials};
pub use sessions::Sessions;

use super::context::RequestContext;
use super::credentials::refuse_gateway_tokens;
use super::headers::{client_response_headers, upstream_request_headers};
use super::path::ProxyPath;
use super::plan::UpstreamCall;
use super::record::{RequestLog, write_begin};
use crate::budgets::{BudgetPlan, RequestFacts, TokenCharge};
use crate::error::{ErrorCode, GatewayError};
use crate::state::AppState;
use relay::Limits;
pub(super) use relay::Summary;
use upstream::{ConnectError, Target};
use usage::SessionUsage;

/// Memory per open session is mostly the codec's read buffers (one per leg); realtime
/// messages are small, so a small buffer keeps 1,000 idle sessions cheap (docs/websockets.md).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Opens a session for an admitted upgrade request: the per-call checks, the begin record, the
/// provider's side, then the 101 and the relay on a task of its own.
pub(super) async fn open(
    ctx: &RequestContext<'_>,
    parts: &Parts,
    target: &ProxyPath<'_>,
    on_upgrade: Option<OnUpgrade>,
) -> Result<Response, GatewayError> {
    let state = ctx.state;
    let key = handshake::client_key(&parts.headers)?;
    let on_upgrade = on_upgrade.ok_or_else(not_upgradable)?;
    let slot = state.sessions().admit().ok_or_else(at_session_bound)?;
    let provider = ctx.providers.named(target.provider)?;
    let query = parts.uri.query();
    let mut upstream_headers = upstream_request_headers(&parts.headers);
    refuse_gateway_tokens(state, &upstream_headers, query)?;
    let protocols = handshake::offered_protocols(&parts.headers);
    let http_url = provider.upstream_url(target.provider_path, query)?;
    let call = UpstreamCall {
        provider,
        method: Method::GET,
        url: http_url,
        path: Cow::Borrowed(target.provider_path),
        query: query.map(Cow::Borrowed),
        logged_headers: Cow::Borrowed(&parts.headers),
        upstream_headers: HeaderMap::new(),
        body: bytes::Bytes::new(),
        options: None,
        reshape: None,
        step: None,
        route_charges: Vec::new(),
    };
    let options = &ctx.options;
    let (mut record, mut begin) =
        RequestLog::for_call(ctx, &call, options, ctx.log_id, options.event_id.clone());
    // The model is the URL's (`?model=`), not a body's: a session has none.
    if record.model.is_none()
        && let Some(model) = query_model(query)
    {
        record.model = Some(model.clone());
        record.facts.model.clone_from(&model);
        if let Some((begin, _)) = &mut begin {
            begin.model = Some(model);
        }
    }
    if let Some(token) = &ctx.run_token {
        token
            .scope
            .check_call(&provider.slug, record.model.as_deref())
            .map_err(|why| GatewayError::new(ErrorCode::OutOfScope, why))?;
    }
    let counted = super::policy::enforce(ctx, &provider.slug, options, &record).await?;
    if let Some(budget) = budget_plan(ctx, &provider.slug, &record, counted) {
        let reservation = budget
            .reserve(state.budgets(), state.clock().now_ms())
            .await?;
        record.reservation = Some(std::sync::Arc::new(reservation));
    }
    let outgoing = crate::keys::Outgoing {
        method: &call.method,
        url: &call.url,
        body: &call.body,
    };
    let stored = match crate::keys::apply_stored_key(
        state,
        &ctx.gateway,
        provider,
        options.byok_alias.as_deref(),
        outgoing,
        &mut upstream_headers,
    )
    .await
    {
        Ok(stored) => stored,
        Err(refused) => {
            record.release().await;
            return Err(refused);
        }
    };
    let own_key = provider
        .credential_headers
        .iter()
        .any(|name| upstream_headers.contains_key(name));
    if ctx.run_token_as_key && stored.is_none() && !own_key {
        record.release().await;
        return Err(GatewayError::new(
            ErrorCode::ProviderCredentialRequired,
            format!(
                "The run token was sent where a provider key goes, so a stored key must take \
                 its place, and gateway {:?} has none usable for {}: store one (docs/keys.md) \
                 or send the provider's key, with the run token in cf-aig-authorization",
                ctx.gateway.id, provider.slug
            ),
        ));
    }
    // The barrier: a session that may be billed upstream always leaves a row.
    if let Err(refused) = write_begin(state, begin).await {
        record.release().await;
        return Err(refused);
    }
    ctx.dispatched.store(true, Ordering::Relaxed);
    let settings = &state.config().websockets;
    let ws_config = ws_config(settings);
    let opened = upstream::connect(Target {
        http_url: &call.url,
        headers: upstream_headers,
        protocols: &protocols,
        config: ws_config,
        client: &call.provider.client,
        answer_timeout: state.config().server.upstream_timeout,
    })
    .await;
    let (upstream, answer) = match opened {
        Ok(opened) => opened,
        Err(ConnectError::Refused(answer)) => {
            return Ok(provider_refusal(&record, answer).await);
        }
        Err(ConnectError::TimedOut) => {
            let error = GatewayError::new(
                ErrorCode::UpstreamTimeout,
                "Upstream timeout: the provider did not open the WebSocket session in time",
            );
            record
                .finish_without_response(504, &error.message, Some(error.code))
                .await;
            return Err(error);
        }
        Err(ConnectError::Failed(why)) => {
            record
                .finish_without_response(502, &why, Some(ErrorCode::UpstreamFailed))
                .await;
            return Err(GatewayError::new(
                ErrorCode::UpstreamFailed,
                "Upstream failed: could not open a WebSocket session with the provider",
            ));
        }
    };
    let agreed = answer
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .cloned()
        .or_else(|| {
            protocols
                .first()
                .and_then(|first| http::HeaderValue::from_str(first).ok())
        });
    let limits = Limits::of(settings, &ctx.gateway.settings);
    let usage_format = provider.usage;
    let answer_headers = answer.headers().clone();
    // The slot moves into the session and is given back when it ends.
    state.tasks().spawn(async move {
        let mut client = match on_upgrade.await {
            Ok(upgraded) => {
                WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config),
                )
                .await
            }
            Err(error) => {
                let summary =
                    Summary::failed(format!("the client's connection was not upgraded: {error}"));
                record.finish_session(summary, None, &answer_headers).await;
                return;
            }
        };
        let mut upstream = upstream;
        let mut usage = SessionUsage::new(usage_format);
        let summary = relay::run(
            &mut client,
            &mut upstream,
            limits,
            slot.closing.clone(),
            &mut usage,
        )
        .await;
        // The row is durable before either socket closes, as an HTTP response's end record
        // is before its last byte.
        record
            .finish_session(summary, usage.usage, &answer_headers)
            .await;
        drop((client, upstream, slot));
    });
    Ok(handshake::switching_protocols(&key, agreed.as_ref()))
}

/// Opens the universal endpoint's socket (universal.rs) for an admitted upgrade on
/// `/v1/{account}/{gateway}`: each `universal.create` on it is then admitted, planned and
/// executed as a `POST` there would be.
pub(super) async fn open_universal(
    ctx: &RequestContext<'_>,
    parts: &Parts,
    on_upgrade: Option<OnUpgrade>,
) -> Result<Response, GatewayError> {
    let state = ctx.state;
    let key = handshake::client_key(&parts.headers)?;
    let on_upgrade = on_upgrade.ok_or_else(not_upgradable)?;
    let slot = state.sessions().admit().ok_or_else(at_session_bound)?;
    // Each request is admitted with the handshake's headers (its credentials and `cf-aig-*`
    // options), without the connection's own.
    let mut headers = HeaderMap::new();
    for (name, value) in &upstream_request_headers(&parts.headers) {
        if !name.as_str().starts_with("sec-websocket-") {
            headers.append(name.clone(), value.clone());
        }
    }
    for (name, value) in &parts.headers {
        if name.as_str().starts_with("cf-aig-") {
            headers.append(name.clone(), value.clone());
        }
    }
    // Admission took a run token out of a key slot; each request is admitted again with it.
    if let Some(token) = &ctx.options.gateway_token
        && !headers.contains_key("cf-aig-authorization")
        && let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {token}"))
    {
        headers.insert("cf-aig-authorization", value);
    }
    let requests = universal::SocketRequests {
        state: state.clone(),
        gateway: ctx.gateway.clone(),
        headers,
        peer: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|connected| connected.0),
        uri: parts.uri.clone(),
    };
    let settings = &state.config().websockets;
    let config = ws_config(settings);
    let limits = Limits::of(settings, &ctx.gateway.settings);
    state.tasks().spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            universal::serve(ws, requests, slot.closing.clone(), limits).await;
        }
        drop(slot);
    });
    let protocol = handshake::offered_protocols(&parts.headers)
        .first()
        .and_then(|first| http::HeaderValue::from_str(first).ok());
    Ok(handshake::switching_protocols(&key, protocol.as_ref()))
}

/// The frame codec's bounds for a session's sockets.
fn ws_config(settings: &crate::config::WebSocketsConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(settings.max_message_bytes.saturating_mul(2))
        .max_message_size(Some(settings.max_message_bytes))
        .max_frame_size(Some(settings.max_message_bytes))
}

fn not_upgradable() -> GatewayError {
    GatewayError::new(
        ErrorCode::InvalidHeader,
        "Invalid WebSocket handshake: this connection cannot be upgraded (WebSocket \
         sessions need HTTP/1.1)",
    )
}

fn at_session_bound() -> GatewayError {
    GatewayError::new(
        ErrorCode::Overloaded,
        "Overloaded: this instance has as many WebSocket sessions open as \
         [websockets] max_sessions allows",
    )
}

/// The provider refused the handshake (its 401, 404, 429, …): the client gets its answer as
/// an HTTP response, and the row says so.
async fn provider_refusal(
    record: &RequestLog,
    answer: http::Response<Option<Vec<u8>>>,
) -> Response {
    let (parts, body) = answer.into_parts();
    let body = body.unwrap_or_default();
    record
        .finish_with_unrelayed_answer(
            parts.status.as_u16(),
            &parts.headers,
            &body,
            "the provider refused the WebSocket session",
        )
        .await;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = parts.status;
    *response.headers_mut() = client_response_headers(&parts.headers);
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

/// What a session reserves against spend limits and the run token's budget: nothing (its cost
/// is unknown until it ends), so a budget already spent refuses it and its end record adds
/// what it cost (docs/websockets.md).
fn budget_plan(
    ctx: &RequestContext<'_>,
    provider: &str,
    record: &RequestLog,
    counted: Vec<crate::budgets::Charge>,
) -> Option<BudgetPlan> {
    let token = ctx.run_token.as_ref().and_then(|token| {
        token.scope.budget.as_ref().map(|budget| TokenCharge {
            id: &token.id,
            name: &token.name,
            budget,
        })
    });
    let facts = RequestFacts {
        provider,
        model: record.model.as_deref(),
        metadata: ctx.options.metadata.as_deref(),
    };
    BudgetPlan::for_request(&ctx.gateway, &facts, token, counted, Some(0.0))
}

/// `model` in a query string (OpenAI Realtime names its model there).
fn query_model(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let value = pair.strip_prefix("model=")?;
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .ok()?;
        (!decoded.is_empty() && decoded.len() <= 256).then(|| decoded.into_owned())
    })
}

/// WebSocket sessions open on this instance now.
pub fn open_sessions(state: &AppState) -> usize {
    state
        .sessions()
        .open(state.config().websockets.max_sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_comes_from_the_query() {
        assert_eq!(
            query_model(Some("a=1&model=gpt-4o-realtime-preview")).as_deref(),
            Some("gpt-4o-realtime-preview")
        );
        assert_eq!(query_model(Some("model=")), None);
        assert_eq!(query_model(None), None);
    }
}
