//! Admission: the checks every proxy route makes before it reads the body or anything goes
//! upstream, written once for the native, unified and universal routes, in this order: the
//! gateway the URL names ([`named_gateway`]) → the `cf-aig-*` options → gateway authentication
//! and the run token's scope (docs/budgets.md) → the client's address → the rate limit (after
//! authentication, so strangers cannot spend a gateway's limit, and before the cache, so a
//! cache hit still counts toward it).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use http::{Extensions, HeaderMap};

use super::client_ip;
use super::context::RequestContext;
use super::options::RequestOptions;
use crate::auth::TokenRateLimit;
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::mirror::Miss;
use crate::ratelimit::{Decision, RateLimitRule, limit_key};
use crate::state::AppState;
use crate::store::StoredToken;

/// Fills the context's options and client address, or refuses the request. The gateway was
/// found before ([`named_gateway`]): the context needs it to count a refusal. On an
/// authenticated gateway, a request without `cf-aig-authorization` may carry its run token where
/// a provider key goes (an SDK's `api_key`): it is taken out of `headers` here, so it is never
/// sent or logged, and a stored key takes its place (docs/keys.md).
pub(super) async fn admit(
    ctx: &mut RequestContext<'_>,
    headers: &mut HeaderMap,
    extensions: &Extensions,
) -> Result<(), GatewayError> {
    admit_identity(ctx, headers, extensions).await?;
    enforce_limits(
        ctx.state,
        &ctx.gateway,
        headers,
        ctx.client,
        ctx.run_token.as_deref(),
    )
    .await
}

/// [`admit`] without the rate limits: the MCP endpoint counts each tool call instead of each
/// HTTP request (an `initialize` or `tools/list` is not a request to anyone; docs/mcp.md).
pub(super) async fn admit_identity(
    ctx: &mut RequestContext<'_>,
    headers: &mut HeaderMap,
    extensions: &Extensions,
) -> Result<(), GatewayError> {
    let state = ctx.state;
    ctx.options = RequestOptions::from_headers(headers)?;
    if ctx.gateway.settings.authentication
        && ctx.options.gateway_token.is_none()
        && let Some(token) = take_token_from_key_slot(headers)
    {
        ctx.options.gateway_token = Some(token);
        ctx.run_token_as_key = true;
    }
    if let Some(token) = authenticate(state, &ctx.gateway, &ctx.options).await? {
        admit_scope(ctx, &token)?;
        ctx.run_token = Some(token);
    }
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    ctx.client = client_ip(peer, headers, &state.config().server.trusted_proxies);
    Ok(())
}

/// The gateway's rate limit, then the run token's: one request counted under each.
pub async fn enforce_limits(
    state: &AppState,
    gateway: &Gateway,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
    token: Option<&StoredToken>,
) -> Result<(), GatewayError> {
    enforce_rate_limit(state, gateway, headers, client).await?;
    if let Some(token) = token {
        enforce_token_rate_limit(state, gateway, token).await?;
    }
    Ok(())
}

/// The headers SDKs put their API key in.
const KEY_SLOTS: [&str; 4] = ["authorization", "x-api-key", "api-key", "x-goog-api-key"];

/// A run token (`tgr_…`) sent in a key slot, removed from the headers.
fn take_token_from_key_slot(headers: &mut HeaderMap) -> Option<String> {
    let (slot, token) = KEY_SLOTS.iter().find_map(|slot| {
        let value = headers.get(*slot)?.to_str().ok()?.trim();
        let token = crate::auth::bearer(value).unwrap_or(value);
        crate::auth::looks_like_run_token(token).then(|| (*slot, token.to_owned()))
    })?;
    headers.remove(slot);
    Some(token)
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
    limited(state, gateway, &key, &rule).await
}

/// 429 when the run token's own rate limit is reached (docs/budgets.md): one counter per token,
/// checked after the gateway's, so a request the gateway refuses does not count against it.
async fn enforce_token_rate_limit(
    state: &AppState,
    gateway: &Gateway,
    token: &StoredToken,
) -> Result<(), GatewayError> {
    let Some(limit) = token.scope.rate_limit else {
        return Ok(());
    };
    let key = TokenRateLimit::key(&token.account_id, &token.id);
    limited(state, gateway, &key, &limit.rule()).await
}

/// Counts the request under `key`, or refuses it (429, 2003) counted under the gateway.
async fn limited(
    state: &AppState,
    gateway: &Gateway,
    key: &str,
    rule: &RateLimitRule,
) -> Result<(), GatewayError> {
    match state.rate_limiter().check(key, rule).await {
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

/// An authenticated gateway takes a run token of its account, or the admin token; a run
/// token comes back, with its scope, for the later checks. The refusal says which of the three mistakes
/// it was: no header, a header not of the form `Bearer <token>`, or a token that is not valid
/// here.
async fn authenticate(
    state: &AppState,
    gateway: &Gateway,
    options: &RequestOptions,
) -> Result<Option<Arc<StoredToken>>, GatewayError> {
    if !gateway.settings.authentication {
        return Ok(None);
    }
    let refused = |why: &str| GatewayError::new(ErrorCode::Unauthorized, why);
    let token = match options.gateway_token.as_deref() {
        None => {
            return Err(refused(
                "Unauthorized: this gateway requires authentication; send \
                 cf-aig-authorization: Bearer <run token>",
            ));
        }
        Some("") => {
            return Err(refused(
                "Unauthorized: cf-aig-authorization must be \"Bearer <run token>\" \
                 (the Bearer prefix or the token is missing)",
            ));
        }
        Some(token) => token,
    };
    if state.admin_token().matches(token) {
        return Ok(None);
    }
    match run_token(state, &gateway.account_id, token).await {
        Some(found) => Ok(Some(found)),
        None => Err(refused(
            "Unauthorized: the token in cf-aig-authorization is not valid for this gateway \
             (unknown, revoked, or a token of another account)",
        )),
    }
}

/// What a run token's scope decides before anything else happens: whether it has expired
/// (401) and whether it opens this gateway (403); then its metadata joins the request's.
fn admit_scope(ctx: &mut RequestContext<'_>, token: &StoredToken) -> Result<(), GatewayError> {
    let scope = &token.scope;
    if scope.expired(ctx.created_at) {
        return Err(GatewayError::new(
            ErrorCode::Unauthorized,
            "Unauthorized: the run token in cf-aig-authorization has expired",
        ));
    }
    if !scope.allows_gateway(&ctx.gateway.id) {
        return Err(GatewayError::new(
            ErrorCode::OutOfScope,
            format!(
                "Out of scope: this run token does not allow gateway '{}'",
                ctx.gateway.id
            ),
        ));
    }
    ctx.options.metadata = scope.merge_metadata(&token.id, ctx.options.metadata.take());
    Ok(())
}

/// The run token of the account `token` is, looked up again in the shared store when memory
/// does not know it (created through another instance a moment ago, perhaps).
async fn run_token(state: &AppState, account_id: &str, token: &str) -> Option<Arc<StoredToken>> {
    let verify = || state.tokens().verify(account_id, token);
    if let Some(scope) = verify() {
        return Some(scope);
    }
    state
        .look_again(Miss::token(account_id, token), verify)
        .await
}
