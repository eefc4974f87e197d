//! The execute phase, the one way every route's calls go upstream: for each planned call, DLP
//! on its body (docs/dlp.md), guardrails on its prompt (docs/guardrails.md), its log, the
//! cache (a HIT answers here; a MISS joins the single flight), then the attempts with their
//! retries, and the relay. A universal request's steps run in order until one is accepted.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::response::Response;
use http::HeaderValue;

use super::attempts::{Attempts, Delivery};
use super::caching::{self, CachePlan, Lookup, look_up};
use super::context::RequestContext;
use super::dlp::CallDlp;
use super::guardrails::CallGuard;
use super::headers::{CACHE_STATUS, STEP};
use super::options::RequestOptions;
use super::plan::{Plan, Step, UpstreamCall};
use super::record::{RequestLog, write_begin};
use super::retry::RetryPolicy;
use crate::budgets::{BudgetPlan, Charge, RequestFacts, TokenCharge, worst_case_cost};
use crate::error::{ErrorCode, GatewayError};

pub async fn execute(
    ctx: &mut RequestContext<'_>,
    plan: Plan<'_>,
) -> Result<Response, GatewayError> {
    let (calls, fallback) = match plan {
        Plan::Answered(response) => return Ok(response),
        Plan::Routed(routed) => return super::routed::execute(ctx, *routed).await,
        Plan::Upstream { calls, fallback } => (calls, fallback),
    };
    let last = calls.len().saturating_sub(1);
    for (index, call) in calls.into_iter().enumerate() {
        let is_last = index == last;
        let step = fallback.then_some(index);
        let delivery = match call {
            Step::Call(mut call) => {
                let first_id = match index {
                    0 => ctx.log_id,
                    _ => uuid::Uuid::now_v7(),
                };
                ctx.provider.clone_from(&call.provider.slug);
                let step_options = step_options(ctx, call.options.take());
                let options = step_options.as_ref().unwrap_or(&ctx.options);
                one_call(ctx, call, options, first_id, fallback, is_last).await?
            }
            Step::Route(mut route) => {
                let options =
                    step_options(ctx, route.options.take()).unwrap_or_else(|| ctx.options.clone());
                super::routed::run(ctx, *route, &options, index == 0, is_last).await?
            }
        };
        match delivery {
            Delivery::Delivered(mut response) => {
                mark_step(&mut response, step);
                return Ok(response);
            }
            Delivery::Refused { answer, failure } if is_last => {
                return match (answer, step) {
                    (Some(mut answer), step) => {
                        mark_step(&mut answer, step);
                        Ok(answer)
                    }
                    (None, Some(step)) => Err(failure.with_header(STEP, step)),
                    (None, None) => Err(failure),
                };
            }
            Delivery::Refused { .. } => {}
        }
    }
    Err(GatewayError::internal())
}

/// A universal step's own options, with the run token's metadata merged again (the step's
/// metadata replaces the request's).
fn step_options(ctx: &RequestContext<'_>, own: Option<RequestOptions>) -> Option<RequestOptions> {
    own.map(|mut step| {
        if let Some(token) = &ctx.run_token {
            step.metadata = token.scope.merge_metadata(&token.id, step.metadata.take());
        }
        step
    })
}

/// One call: its log, the cache, then its attempts. `fallback`: a universal step, accepted
/// only with a 2xx unless it is the last.
pub(super) async fn one_call(
    ctx: &RequestContext<'_>,
    mut call: UpstreamCall<'_>,
    options: &RequestOptions,
    first_id: uuid::Uuid,
    fallback: bool,
    is_last: bool,
) -> Result<Delivery, GatewayError> {
    let state = ctx.state;
    let policy = RetryPolicy::new(&ctx.gateway.settings, options);
    // The rows of a request that may be retried or fall back share an event id, the client's
    // or the first attempt's log id, so its attempts can be found together (docs/logs.md).
    // A guarded call's classifier calls are rows of their own under it too (docs/guardrails.md).
    let event_id = options.event_id.clone().or_else(|| {
        (fallback || policy.max_attempts > 1 || CallGuard::applies(ctx))
            .then(|| ctx.log_id.to_string())
    });
    // DLP (docs/dlp.md) before the log: a REDACT rewrites what is sent and what is stored.
    let custom = super::dlp::custom_scanners(state, &ctx.gateway).await?;
    let dlp = match CallDlp::screen(&ctx.gateway, &mut call, custom.as_deref()) {
        Ok(dlp) => dlp,
        Err((refusal, report)) => {
            let (record, begin) = RequestLog::for_call(ctx, &call, options, first_id, event_id);
            let dlp = super::dlp::log_value(&report);
            return blocked_row(ctx, record, begin, refusal, dlp).await;
        }
    };
    // Guardrails on the prompt (docs/guardrails.md), after DLP: a redacted prompt is what the
    // classifier reads.
    let mut guard = event_id
        .as_deref()
        .and_then(|event_id| CallGuard::for_call(ctx, &call, options, event_id));
    if let Some(guard) = &mut guard
        && let Err(refusal) = guard.screen_prompt(&call.body).await
    {
        let (record, begin) = RequestLog::for_call(ctx, &call, options, first_id, event_id);
        let dlp = super::dlp::log_value(&dlp.request);
        return blocked_row(ctx, record, begin, refusal, dlp).await;
    }
    let (mut record, begin) = RequestLog::for_call(ctx, &call, options, first_id, event_id.clone());
    // Every end record of the call (each attempt's, a cache hit's) says what the request had.
    record.dlp = super::dlp::log_value(&dlp.request);
    // A run token's providers and models (docs/budgets.md), before anything is sent.
    if let Some(token) = &ctx.run_token {
        token
            .scope
            .check_call(&call.provider.slug, record.model.as_deref())
            .map_err(|why| GatewayError::new(ErrorCode::OutOfScope, why))?;
    }
    let counted = super::policy::enforce(ctx, &call.provider.slug, options, &record).await?;
    let budget = budget_plan(ctx, &call, options, &record, counted);
    // A stored provider key (docs/keys.md) goes on what is sent, never on what is logged.
    let mut upstream_headers = std::mem::take(&mut call.upstream_headers);
    let outgoing = crate::keys::Outgoing {
        method: &call.method,
        url: &call.url,
        body: &call.body,
    };
    let stored = crate::keys::apply_stored_key(
        state,
        &ctx.gateway,
        call.provider,
        options.byok_alias.as_deref(),
        outgoing,
        &mut upstream_headers,
    )
    .await?;
    let own_key = || {
        call.provider
            .credential_headers
            .iter()
            .any(|name| upstream_headers.contains_key(name))
    };
    if ctx.run_token_as_key && stored.is_none() && !own_key() {
        return Err(GatewayError::new(
            ErrorCode::ProviderCredentialRequired,
            format!(
                "The run token was sent where a provider key goes, so a stored key must take                  its place, and gateway {:?} has none usable for {}: store one (docs/keys.md)                  or send the provider's key, with the run token in cf-aig-authorization",
                ctx.gateway.id, call.provider.slug
            ),
        ));
    }
    let cache = cache_plan(ctx, &call, options);
    let lookup_began = crate::clock::monotonic_now();
    let lookup = look_up(state.cache(), cache.as_ref()).await;
    if let (Some(trace), Some(_)) = (&ctx.trace, &cache) {
        let status = match &lookup {
            Lookup::Answered(_) => "HIT",
            Lookup::Miss(_) => "MISS",
        };
        trace.phase(
            "cache lookup",
            lookup_began,
            vec![opentelemetry::KeyValue::new(
                "tollgate.cache_status",
                status,
            )],
        );
    }
    let leader = match lookup {
        Lookup::Answered(cached) => {
            write_begin(state, begin).await?;
            ctx.dispatched.store(true, Ordering::Relaxed);
            record.finish_from_cache(&cached).await;
            let mut response = caching::replay(&cached);
            response
                .headers_mut()
                .insert(CACHE_STATUS, HeaderValue::from_static("HIT"));
            super::dlp::mark(&mut response, &dlp.request);
            if let Some(guard) = &guard {
                guard.mark(&mut response);
            }
            // The event id is added with the request id for every response (handler.rs).
            super::headers::set_log_id(&mut response, first_id);
            return Ok(Delivery::Delivered(response));
        }
        Lookup::Miss(leader) => leader,
    };
    let attempts = Attempts {
        state,
        provider: call.provider,
        method: call.method,
        url: call.url,
        headers: upstream_headers,
        body: call.body,
        timeout: attempt_timeout(ctx, options),
        policy,
        record,
        begin,
        first_id,
        event_id,
        cache,
        leader,
        budget,
        reshape: call.reshape,
        dlp,
        guard,
    };
    let accept = |status: u16| !fallback || is_last || (200..300).contains(&status);
    attempts.run(accept, &ctx.dispatched).await
}

/// A request DLP or a guardrail blocked (or a guardrail that could not classify it): its row
/// (begin and end, with what DLP matched) and the refusal. The row is written although nothing
/// went upstream, so a blocked request can be found in the logs (docs/dlp.md,
/// docs/guardrails.md).
async fn blocked_row(
    ctx: &RequestContext<'_>,
    record: RequestLog,
    begin: Option<super::record::Begin>,
    refusal: GatewayError,
    dlp: Option<String>,
) -> Result<Delivery, GatewayError> {
    write_begin(ctx.state, begin).await?;
    ctx.dispatched.store(true, Ordering::Relaxed);
    record.finish_blocked(&refusal, dlp, false).await;
    Err(refusal)
}

/// What each attempt reserves against the gateway's spend limits and the run token's budget
/// (docs/budgets.md).
fn budget_plan(
    ctx: &RequestContext<'_>,
    call: &UpstreamCall<'_>,
    options: &RequestOptions,
    record: &RequestLog,
    counted: Vec<Charge>,
) -> Option<BudgetPlan> {
    let token = ctx.run_token.as_ref().and_then(|token| {
        token.scope.budget.as_ref().map(|budget| TokenCharge {
            id: &token.id,
            name: &token.name,
            budget,
        })
    });
    if ctx.gateway.settings.spend_limits.is_none()
        && token.is_none()
        && counted.is_empty()
        && call.route_charges.is_empty()
    {
        return None;
    }
    let facts = RequestFacts {
        provider: &call.provider.slug,
        model: record.model.as_deref(),
        metadata: options.metadata.as_deref(),
    };
    let worst_case = worst_case_cost(
        ctx.state.prices(),
        &call.provider.slug,
        record.model.as_deref(),
        &call.body,
        ctx.created_at,
    );
    let plan = BudgetPlan::for_request(&ctx.gateway, &facts, token, counted, worst_case);
    BudgetPlan::with_route_charges(
        plan,
        &call.route_charges,
        worst_case,
        format!("{} {}", facts.provider, facts.model.unwrap_or("")),
    )
}

/// How the call uses the cache; the raw query is part of the key (a key in it, Gemini's
/// `?key=`, must keep entries apart; the cache key is a hash, so nothing secret is stored).
fn cache_plan(
    ctx: &RequestContext<'_>,
    call: &UpstreamCall<'_>,
    options: &RequestOptions,
) -> Option<CachePlan> {
    let path_and_query = match &call.query {
        Some(query) => Cow::Owned(format!("{}?{query}", call.path)),
        None => Cow::Borrowed(&*call.path),
    };
    CachePlan::for_request(
        &ctx.gateway,
        call.provider,
        options,
        call.method.as_str(),
        &path_and_query,
        &call.logged_headers,
        call.reshape
            .as_ref()
            .and_then(|reshape| reshape.client_body())
            .unwrap_or(&call.body),
    )
}

/// The wait for each attempt's first byte: the request's header, the gateway's setting, or
/// the server default.
fn attempt_timeout(ctx: &RequestContext<'_>, options: &RequestOptions) -> Duration {
    options
        .request_timeout
        .or(ctx
            .gateway
            .settings
            .request_timeout_ms
            .map(Duration::from_millis))
        .unwrap_or(ctx.state.config().server.upstream_timeout)
}

fn mark_step(response: &mut Response, step: Option<usize>) {
    if let Some(step) = step {
        response.headers_mut().insert(STEP, HeaderValue::from(step));
    }
}
