//! The universal endpoint (docs/resilience.md): `POST /v1/{account}/{gateway}` with an ordered list of
//! steps `{provider, endpoint, headers, query, config?}`. Each step's retries are used up before
//! the next step; the first step that answers 2xx wins, with `cf-aig-step: <index>`. A `compat`
//! step whose model is `dynamic/{route}` is that route's walk (docs/routing.md).

use std::borrow::Cow;

use axum::body::Body;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::body::read_body;
use super::compat::CompatApi;
use super::context::RequestContext;
use super::credentials::refuse_gateway_tokens;
use super::headers::upstream_request_headers;
use super::options::{self, RequestOptions};
use super::path;
use super::plan::{Plan, Reshape, Step, UpstreamCall};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Backoff;
use crate::gateways::bounds::UNIVERSAL_STEPS;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    provider: String,
    endpoint: String,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    query: Value,
    #[serde(default)]
    config: Option<StepConfig>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StepConfig {
    request_timeout: Option<u64>,
    max_attempts: Option<u64>,
    retry_delay: Option<u64>,
    backoff: Option<String>,
}

/// The steps as calls, validated before anything is sent anywhere.
pub async fn plan<'a>(
    ctx: &RequestContext<'a>,
    parts: &Parts,
    body: Body,
) -> Result<Plan<'a>, GatewayError> {
    let state = ctx.state;
    let body = read_body(body, &parts.headers, state.config().server.max_body_bytes).await?;
    let calls = parse_steps(ctx, &body)?;
    Ok(Plan::Upstream {
        calls,
        fallback: true,
    })
}

fn parse_steps<'a>(ctx: &RequestContext<'a>, body: &[u8]) -> Result<Vec<Step<'a>>, GatewayError> {
    let invalid = |why: String| GatewayError::new(ErrorCode::InvalidBody, why);
    let raw: Vec<RawStep> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                serde_json::from_value(item).map_err(|e| invalid(format!("step {i}: {e}")))
            })
            .collect::<Result<_, _>>()?,
        Ok(object @ Value::Object(_)) => {
            vec![serde_json::from_value(object).map_err(|e| invalid(format!("step 0: {e}")))?]
        }
        _ => return Err(invalid("The body must be a JSON array of steps".into())),
    };
    if raw.is_empty() || raw.len() > UNIVERSAL_STEPS {
        return Err(invalid(format!("Expected 1 to {UNIVERSAL_STEPS} steps")));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, step)| validate_step(ctx, i, step))
        .collect()
}

fn validate_step<'a>(
    ctx: &RequestContext<'a>,
    index: usize,
    step: RawStep,
) -> Result<Step<'a>, GatewayError> {
    let (state, options) = (ctx.state, &ctx.options);
    let mut headers = HeaderMap::new();
    for (name, value) in &step.headers {
        let text = value.as_str().ok_or_else(|| {
            GatewayError::invalid_header(
                name,
                &format!("step {index}: header values must be strings"),
            )
        })?;
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(text),
        ) else {
            return Err(GatewayError::invalid_header(
                name,
                &format!("step {index}: not a valid header"),
            ));
        };
        headers.append(name, value);
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let step_options = with_config(index, RequestOptions::from_headers(&headers)?, step.config)?;
    // A `compat` step takes an OpenAI Chat Completions body for any provider (docs/compat.md), so a
    // fallback chain can cross providers and still answer in OpenAI's shape.
    let (url, provider, path, query, headers, body, reshape) = if step.provider == "compat" {
        if !matches!(
            step.endpoint.trim_matches('/'),
            "chat/completions" | "v1/chat/completions"
        ) {
            return Err(GatewayError::new(
                ErrorCode::InvalidPath,
                format!("step {index}: compat steps take endpoint chat/completions"),
            ));
        }
        // `dynamic/{route}`: the step is the route's walk (docs/routing.md).
        if let Some(name) = step
            .query
            .get("model")
            .and_then(Value::as_str)
            .and_then(|model| model.strip_prefix(crate::routing::DYNAMIC_PREFIX))
        {
            let name = name.to_owned();
            let route = super::routed::request(ctx, &name, step.query, CompatApi::Chat, headers)
                .map_err(|error| {
                    GatewayError::new(error.code, format!("step {index}: {}", error.message))
                })?;
            return Ok(Step::Route(Box::new(
                route.into_step(index, options.overridden_by(&step_options)),
            )));
        }
        let query = serde_json::to_vec(&step.query).unwrap_or_default();
        let chat = super::compat::translate_chat(
            ctx.providers,
            &headers,
            &query,
            &uuid::Uuid::now_v7().simple().to_string(),
        )?
        .map_err(|error| {
            GatewayError::new(ErrorCode::InvalidBody, format!("step {index}: {error}"))
        })?;
        let (path, query) = split_query(&chat.path);
        let url = chat.provider.compat_url(&path, query.as_deref())?;
        (
            url,
            chat.provider,
            path,
            query,
            chat.headers,
            chat.body,
            chat.reshape,
        )
    } else {
        let provider = ctx.providers.named(&step.provider).map_err(|error| {
            GatewayError::new(error.code, format!("step {index}: {}", error.message))
        })?;
        let (path, query) = split_query(step.endpoint.trim_start_matches('/'));
        path::check_provider_path(&provider.slug, &path)?;
        let body = serde_json::to_vec(&step.query)
            .map_err(|_| GatewayError::new(ErrorCode::InvalidBody, "query is not JSON"))?;
        let reshape: Option<Box<dyn Reshape>> = None;
        (
            provider.upstream_url(&path, query.as_deref())?,
            provider.as_ref(),
            path,
            query,
            headers,
            Bytes::from(body),
            reshape,
        )
    };
    let upstream_headers = upstream_request_headers(&headers);
    refuse_gateway_tokens(state, &upstream_headers, query.as_deref())?;
    Ok(Step::Call(UpstreamCall {
        provider,
        method: Method::POST,
        url,
        path: Cow::Owned(path),
        query: query.map(Cow::Owned),
        logged_headers: Cow::Owned(headers),
        upstream_headers,
        body,
        options: Some(options.overridden_by(&step_options)),
        reshape: reshape.map(|reshape| reshape as Box<dyn Reshape + 'a>),
        step: Some(i64::try_from(index).unwrap_or(i64::MAX)),
        route_charges: Vec::new(),
    }))
}

/// A step's `config` over its headers' options: the same bounds and messages as the headers
/// (out of range is refused, not clamped).
fn with_config(
    index: usize,
    mut step_options: RequestOptions,
    config: Option<StepConfig>,
) -> Result<RequestOptions, GatewayError> {
    let Some(config) = config else {
        return Ok(step_options);
    };
    let bad = |field: &str, why: &str| {
        GatewayError::new(
            ErrorCode::InvalidBody,
            format!("step {index}: config.{field}: {why}"),
        )
    };
    if let Some(ms) = config.request_timeout {
        step_options.request_timeout =
            Some(options::request_timeout(ms).map_err(|w| bad("requestTimeout", &w))?);
    }
    if let Some(attempts) = config.max_attempts {
        step_options.max_attempts =
            Some(options::max_attempts(attempts).map_err(|w| bad("maxAttempts", &w))?);
    }
    if let Some(ms) = config.retry_delay {
        step_options.retry_delay =
            Some(options::retry_delay(ms).map_err(|w| bad("retryDelay", &w))?);
    }
    if let Some(backoff) = config.backoff {
        step_options.backoff = Some(
            Backoff::parse(&backoff)
                .ok_or_else(|| bad("backoff", "expected constant, linear or exponential"))?,
        );
    }
    Ok(step_options)
}

fn split_query(endpoint: &str) -> (String, Option<String>) {
    match endpoint.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (endpoint.to_owned(), None),
    }
}
