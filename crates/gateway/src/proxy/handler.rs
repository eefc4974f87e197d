//! The proxy's entry point, where every request's phases are called in order, so that nothing
//! reaches the upstream unless every check passed (docs/architecture.md, "A proxy request's
//! path"):
//!
//! ```text
//! 1. route       the path guard; which route (provider pass-through, compat, universal)
//! 2. gateway     the gateway the URL names; from here on the request has its context, and a
//!                refusal is counted under its gateway
//! 3. admission   cf-aig-* options, authentication, client address, rate limit; then the
//!                request's trace, when it is exported (docs/observability.md)
//! 4. plan        the route's upstream calls (provider, URL, headers, body), or its own answer
//! 5. execute     per call: DLP on the request body (dlp.rs), log, cache, attempts with
//!                retries, relay with the end record (and DLP on the response)
//!    or session  a WebSocket upgrade on a provider route, after the same admission:
//!                realtime/ (per-session checks, begin record, the provider's handshake,
//!                101, the relay, one row when it ends)
//! ```
//!
//! A new step is one module and one line here (or in [`super::admission`] / [`super::execute`]
//! when it belongs to every call).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, Method};

use super::admission::{admit, admit_identity, named_gateway};
use super::context::{Arrival, RequestContext};
use super::execute::execute;
use super::headers::{EVENT_ID, LOG_ID, REQUEST_ID};
use super::path::{self, ProxyPath};
use super::record;
use super::{compat, native, realtime, universal};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::bounds;
use crate::mirror::Miss;
use crate::otel::RequestTrace;
use crate::providers::AccountProviders;
use crate::state::AppState;

pub async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let arrival = Arrival::now(&state);
    let log_id = arrival.log_id;
    let client_event_id = request.headers().get(EVENT_ID).cloned();
    // Boxed: the request's future holds the upstream call and the relay setup (kilobytes), and
    // the router's layers move this handler's future by value several times before their own
    // box; with the box inside, they move a pointer. Written into a box allocated first, the
    // future is built in place: `Box::pin(serve(…))` built it on the stack and copied all
    // 18 KB of it (bench/PROFILE.md, seventh pass).
    let boxed = Box::write(Box::new_uninit(), serve(&state, arrival, request));
    let mut response = Box::into_pin(boxed).await;
    // Every response names its request (the first log id), its row (the attempt that answered:
    // docs/architecture.md) and its event (the client's id, else the first log id, as on its
    // rows; docs/logs.md), gateway errors and cache hits included. The id is formatted once.
    let id = HeaderValue::from_str(&log_id.hyphenated().to_string()).ok();
    let headers = response.headers_mut();
    if let Some(id) = &id {
        if !headers.contains_key(LOG_ID) {
            headers.insert(LOG_ID, id.clone());
        }
        headers.insert(REQUEST_ID, id.clone());
    }
    if !headers.contains_key(EVENT_ID)
        && let Some(event_id) = client_event_id.filter(is_event_id).or(id)
    {
        headers.insert(EVENT_ID, event_id);
    }
    response
}

/// A client's `cf-aig-event-id` that the options accept (an invalid one is refused there).
fn is_event_id(value: &HeaderValue) -> bool {
    (1..=bounds::EVENT_ID_BYTES).contains(&value.len())
}

/// Which of the proxy's routes a path is.
enum Route<'p> {
    /// `/v1/{account}/{gateway}/{provider}/{path…}`, `compat` included.
    Provider(ProxyPath<'p>),
    /// `POST /v1/{account}/{gateway}` with a list of steps.
    Universal { account: &'p str, gateway: &'p str },
    /// `/v1/{account}/{gateway}/mcp`: the gateway's MCP endpoint (docs/mcp.md).
    Mcp { account: &'p str, gateway: &'p str },
}

async fn serve(state: &AppState, arrival: Arrival, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    // A WebSocket upgrade (docs/websockets.md): its subprotocol credentials become headers
    // here, so admission reads them as it reads any request's.
    let on_upgrade = match realtime::is_upgrade(&parts.method, &parts.headers) {
        true => {
            realtime::take_protocol_credentials(&mut parts.headers);
            Some(parts.extensions.remove::<hyper::upgrade::OnUpgrade>())
        }
        false => None,
    };
    let route = match route(&parts.uri, &parts.method, on_upgrade.is_some()) {
        Ok(route) => route,
        Err(error) => return error.into_response(),
    };
    let (account, gateway) = match &route {
        Route::Provider(target) => (target.account, target.gateway),
        Route::Universal { account, gateway } | Route::Mcp { account, gateway } => {
            (*account, *gateway)
        }
    };
    let gateway = match named_gateway(state, account, gateway).await {
        Ok(gateway) => gateway,
        Err(error) => return error.into_response(),
    };
    let providers = match &route {
        Route::Provider(target) => {
            named_providers(state, &gateway.account_id, target.provider).await
        }
        _ => state.providers().for_account(&gateway.account_id),
    };
    let provider = match &route {
        Route::Provider(target) => counted_provider(&providers, target.provider),
        Route::Universal { .. } => String::new(),
        Route::Mcp { .. } => "mcp".to_owned(),
    };
    let mut ctx = RequestContext::new(state, &providers, arrival, gateway, provider);
    // Admission may take a run token out of the headers (sent where a provider key goes).
    let admitted = match route {
        // Rate limits count its tool calls, not its HTTP requests (mcp/aggregate.rs).
        Route::Mcp { .. } => admit_identity(&mut ctx, &mut parts.headers, &parts.extensions).await,
        _ => admit(&mut ctx, &mut parts.headers, &parts.extensions).await,
    };
    ctx.trace = begin_trace(&ctx, &parts);
    let result = match admitted {
        Ok(()) => match on_upgrade {
            Some(on_upgrade) => upgrade(&ctx, &route, &parts, on_upgrade).await,
            None => run(&mut ctx, &route, &parts, body).await,
        },
        Err(refused) => Err(refused),
    };
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            record::refusal(&ctx, &error);
            error.into_response()
        }
    };
    // For the access log's line (server/access_log.rs).
    if let Some(trace) = &ctx.trace {
        response
            .extensions_mut()
            .insert(crate::otel::TracedAs(trace.trace_id));
    }
    response
}

/// The request's trace, once its options are known (docs/observability.md), with admission
/// as its first phase.
fn begin_trace(ctx: &RequestContext<'_>, parts: &Parts) -> Option<std::sync::Arc<RequestTrace>> {
    let trace = ctx.state.telemetry().begin(crate::otel::RequestFacts {
        gateway: &ctx.gateway,
        headers: &parts.headers,
        cf_trace_id: ctx.options.otel_trace_id,
        cf_parent_span_id: ctx.options.otel_parent_span_id,
        log_id: &ctx.log_id.to_string(),
        method: parts.method.as_str(),
        metadata: ctx.options.metadata.as_deref(),
        created_at: ctx.created_at,
        started: ctx.started,
    })?;
    trace.phase("admission", ctx.started, Vec::new());
    Some(trace)
}

/// `upgrading`: a WebSocket upgrade (a `GET`), which the universal endpoint also serves.
fn route<'p>(
    uri: &'p http::Uri,
    method: &Method,
    upgrading: bool,
) -> Result<Route<'p>, GatewayError> {
    let raw_path = uri.path();
    let Some(universal) = path::parse_universal(raw_path) else {
        let target = path::parse(raw_path)?;
        if target.provider == "mcp" && target.provider_path.is_empty() {
            return Ok(Route::Mcp {
                account: target.account,
                gateway: target.gateway,
            });
        }
        return Ok(Route::Provider(target));
    };
    let (account, gateway) = universal?;
    if method != Method::POST && !upgrading {
        return Err(GatewayError::new(
            ErrorCode::InvalidPath,
            "The universal endpoint takes POST",
        ));
    }
    Ok(Route::Universal { account, gateway })
}

async fn run(
    ctx: &mut RequestContext<'_>,
    route: &Route<'_>,
    parts: &Parts,
    body: Body,
) -> Result<Response, GatewayError> {
    let plan = match route {
        Route::Provider(target) if target.provider == "compat" => {
            compat::plan(ctx, parts, target.provider_path, body).await?
        }
        Route::Provider(target) => native::plan(ctx, parts, target, body).await?,
        Route::Universal { .. } => universal::plan(ctx, parts, body).await?,
        Route::Mcp { .. } => {
            let mut parts = parts.clone();
            // A tool call's spans join the request's trace (mcp/log.rs).
            if let Some(trace) = &ctx.trace {
                parts.extensions.insert(trace.clone());
            }
            return Ok(crate::mcp::serve(ctx, parts, body).await);
        }
    };
    execute(ctx, plan).await
}

/// A WebSocket session (proxy/realtime/): on a provider route only; `on_upgrade` is `None`
/// when the connection cannot switch protocols (HTTP/2).
async fn upgrade(
    ctx: &RequestContext<'_>,
    route: &Route<'_>,
    parts: &Parts,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Result<Response, GatewayError> {
    match route {
        Route::Provider(target) if target.provider != "compat" => {
            realtime::open(ctx, parts, target, on_upgrade).await
        }
        Route::Universal { .. } => realtime::open_universal(ctx, parts, on_upgrade).await,
        Route::Provider(_) | Route::Mcp { .. } => Err(GatewayError::new(
            ErrorCode::InvalidPath,
            "WebSocket sessions are served on provider routes \
             (/v1/{account}/{gateway}/{provider}/{path...}) and the universal endpoint \
             (/v1/{account}/{gateway})",
        )),
    }
}

/// The account's providers, once a `custom-{slug}` the path names is known if it exists: one
/// created through another instance a moment ago is read from the shared store first
/// (docs/deployment.md).
async fn named_providers<'s>(
    state: &'s AppState,
    account: &str,
    slug: &str,
) -> AccountProviders<'s> {
    let providers = state.providers().for_account(account);
    if providers.get(slug).is_some() || !slug.starts_with("custom-") {
        return providers;
    }
    let look = || {
        let providers = state.providers().for_account(account);
        providers.get(slug).is_some().then_some(providers)
    };
    state
        .look_again(Miss::provider(account, slug), look)
        .await
        .unwrap_or(providers)
}

/// The provider label a request is counted under (docs/analytics.md): a provider's slug
/// (`custom-x` of configuration counts as `x`, as its log rows do; one made through the API as
/// `custom-x`), `compat`, or `unknown` for any other name, so probing slugs cannot create metric
/// series or analytics groups.
fn counted_provider(providers: &AccountProviders<'_>, slug: &str) -> String {
    match providers.get(slug) {
        Some(provider) => provider.slug.clone(),
        None if slug == "compat" => slug.to_owned(),
        None => UNKNOWN_PROVIDER.to_owned(),
    }
}

/// What a request naming no configured provider is counted under.
const UNKNOWN_PROVIDER: &str = "unknown";
