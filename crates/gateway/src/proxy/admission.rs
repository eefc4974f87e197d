//! Admission: the checks every proxy route makes before it reads the body or anything goes
//! upstream, written once for the native, unified and universal routes, in this order: the
//! gateway the URL names ([`named_gateway`]) → the `cf-aig-*` options → gateway authentication
//! → the client's address → the rate limit (after authentication, so strangers cannot spend a gateway's limit,
//! and before the cache, so a cache hit still counts toward it).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use http::HeaderMap;
use http::request::Parts;

use super::client_ip;
use super::context::RequestContext;
use super::options::RequestOptions;
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::mirror::Miss;
use crate::ratelimit::{Decision, RateLimitRule, limit_key};
use crate::state::AppState;

/// Fills the context's options and client address, or refuses the request. The gateway was
/// found before ([`named_gateway`]): the context needs it to count a refusal.
pub(super) async fn admit(ctx: &mut RequestContext<'_>, parts: &Parts) -> Result<(), GatewayError> {
    let state = ctx.state;
    ctx.options = RequestOptions::from_headers(&parts.headers)?;
    authenticate(state, &ctx.gateway, &ctx.options).await?;
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    ctx.client = client_ip(peer, &parts.headers, &state.config().server.trusted_proxies);
    enforce_rate_limit(state, &ctx.gateway, &parts.headers, ctx.client).await
}

/// The gateway a proxy URL names. A provider where the account goes means the URL lacks
/// `{account}/{gateway}` (an SDK base URL ending in `/v1/openai`), and the error says so.
pub(super) async fn named_gateway(
    state: &AppState,
    account: &str,
    gateway: &str,
) -> Result<Arc<Gateway>, GatewayError> {
    let found = match state.gateways().for_request(account, gateway).await {
        // Created through another instance a moment ago, perhaps.
        Err(error) if error.code == ErrorCode::GatewayNotFound => state
            .look_again(Miss::gateway(account, gateway), || {
                state.gateways().get(account, gateway)
            })
            .await
            .ok_or(error),
        found => found,
    };
    let provider_as_account = account == "compat" || state.providers().get(account).is_some();
    match found {
        Err(error) if error.code == ErrorCode::GatewayNotFound && provider_as_account => {
            Err(GatewayError::new(
                ErrorCode::GatewayNotFound,
                format!(
                    "Gateway not found: the URL is missing {{account}}/{{gateway}} before \
                     {account}; use /v1/{{account}}/{{gateway}}/{account}/..., for example \
                     /v1/local/default/{account}/..."
                ),
            ))
        }
        found => found,
    }
}

/// 429 when the gateway's limit is reached (docs/resilience.md).
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

/// An authenticated gateway takes a run token of its account, or the admin token. The refusal
/// says which of the three mistakes it was: no header, a header not of the form
/// `Bearer <token>`, or a token that is not valid here.
async fn authenticate(
    state: &AppState,
    gateway: &Gateway,
    options: &RequestOptions,
) -> Result<(), GatewayError> {
    if !gateway.settings.authentication {
        return Ok(());
    }
    let refused = |why: &str| GatewayError::new(ErrorCode::Unauthorized, why);
    match options.gateway_token.as_deref() {
        None => Err(refused(
            "Unauthorized: this gateway requires authentication; send \
             cf-aig-authorization: Bearer <run token>",
        )),
        Some("") => Err(refused(
            "Unauthorized: cf-aig-authorization must be \"Bearer <run token>\" \
             (the Bearer prefix or the token is missing)",
        )),
        Some(token) if state.admin_token().matches(token) => Ok(()),
        Some(token) if is_run_token(state, &gateway.account_id, token).await => Ok(()),
        Some(_) => Err(refused(
            "Unauthorized: the token in cf-aig-authorization is not valid for this gateway \
             (unknown, revoked, or a token of another account)",
        )),
    }
}

/// A run token of the account, looked up again in the shared store when memory does not know
/// it (created through another instance a moment ago, perhaps).
async fn is_run_token(state: &AppState, account_id: &str, token: &str) -> bool {
    let verify = || state.tokens().verify(account_id, token).then_some(());
    if verify().is_some() {
        return true;
    }
    state
        .look_again(Miss::token(account_id, token), verify)
        .await
        .is_some()
}
