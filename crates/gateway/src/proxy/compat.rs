//! The unified OpenAI-compatible endpoint (docs/compat.md):
//! `/v1/{account}/{gateway}/compat/chat/completions` with `model: "{provider}/{model}"`,
//! `…/compat/models` and `…/compat/embeddings`. Translation itself lives in [`crate::compat`];
//! this is the HTTP side, reusing the proxy's logging, caching, rate limits and retries.

use std::borrow::Cow;

use axum::body::Body;
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header, request::Parts};
use serde_json::Value;

use super::body::read_body;
use super::context::RequestContext;
use super::credentials::refuse_gateway_tokens;
use super::headers::upstream_request_headers;
use super::plan::{BodyTransform, Plan, Reshape, UpstreamCall};
use crate::compat::{self, Dialect, StreamTranslator};
use crate::error::{ErrorCode, GatewayError};
use crate::providers::{AccountProviders, Provider};
use crate::state::AppState;

mod messages;
mod models;
mod responses;

pub use messages::speaks_anthropic;

/// The unified endpoint's APIs that take a dynamic route (docs/routing.md): each of the route's
/// model calls is made from the client's request in its API, and answers in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompatApi {
    Chat,
    Responses,
    Messages,
}

/// The route a request's `model: "dynamic/{route}"` names, if it names one.
fn dynamic_route(request: &Value) -> Option<&str> {
    request
        .get("model")
        .and_then(Value::as_str)
        .and_then(|model| model.strip_prefix(crate::routing::DYNAMIC_PREFIX))
}

/// A request in `api` for `provider`'s `model` as one upstream call (answering in `api`'s
/// shape), or the translation's refusal. `client_body` is the request as the cache key sees
/// it; `headers` are the client's.
pub(super) fn model_call<'a>(
    ctx: &RequestContext<'a>,
    api: CompatApi,
    headers: &HeaderMap,
    provider: &'a Provider,
    model: String,
    request: Value,
    client_body: Bytes,
) -> Result<Result<UpstreamCall<'a>, compat::CompatError>, GatewayError> {
    match api {
        CompatApi::Chat => chat_call(ctx, headers, provider, model, &request, client_body),
        CompatApi::Responses => {
            responses::call(ctx, headers, provider, model, request, client_body)
        }
        CompatApi::Messages => messages::call(ctx, headers, provider, model, request, client_body),
    }
}

/// The plan of a request in `api`: a route's when its model is `dynamic/{route}`, else the one
/// call to the provider it names (or the translation's refusal, in `refused`'s shape).
fn planned<'a>(
    ctx: &RequestContext<'a>,
    parts: &Parts,
    api: CompatApi,
    body: &[u8],
    refused: fn(&compat::CompatError) -> axum::response::Response,
) -> Result<Plan<'a>, GatewayError> {
    let request = parse(body)?;
    if let Some(name) = dynamic_route(&request) {
        let name = name.to_owned();
        return super::routed::plan(ctx, parts, &name, request, api);
    }
    let (provider, model) = provider_of(ctx.providers, &request)?;
    let client_body = Bytes::copy_from_slice(body);
    match model_call(
        ctx,
        api,
        &parts.headers,
        provider,
        model,
        request,
        client_body,
    )? {
        Ok(call) => Ok(Plan::one(call)),
        Err(error) => Ok(Plan::Answered(refused(&error))),
    }
}

/// The call a compat request makes, or its own answer (the model list, a body the
/// translation refused, in OpenAI's error shape). `route` is the path after `compat/`.
pub async fn plan<'a>(
    ctx: &RequestContext<'a>,
    parts: &'a Parts,
    route: &str,
    body: Body,
) -> Result<Plan<'a>, GatewayError> {
    let state = ctx.state;
    let body = read_body(body, &parts.headers, state.config().server.max_body_bytes).await?;
    match (&parts.method, route.trim_end_matches('/')) {
        (&Method::POST, "chat/completions" | "v1/chat/completions") => {
            planned(ctx, parts, CompatApi::Chat, &body, refused)
        }
        (&Method::POST, "messages" | "v1/messages") => {
            planned(ctx, parts, CompatApi::Messages, &body, messages::refused)
        }
        (&Method::POST, "responses" | "v1/responses") => {
            planned(ctx, parts, CompatApi::Responses, &body, refused)
        }
        (&Method::POST, "embeddings" | "v1/embeddings") => embeddings(ctx, parts, &body),
        (&Method::GET, "models" | "v1/models") => Ok(Plan::Answered(models::list(
            state,
            &ctx.gateway,
            &parts.headers,
        ))),
        _ => Err(GatewayError::new(
            ErrorCode::InvalidPath,
            "The compat endpoint serves chat/completions, responses, messages, embeddings and models",
        )),
    }
}

/// The parsed body and the provider its `model` names.
fn resolve<'a>(
    providers: &'a AccountProviders<'a>,
    body: &[u8],
) -> Result<(Value, &'a Provider, String), GatewayError> {
    let request = parse(body)?;
    let (provider, bare) = provider_of(providers, &request)?;
    Ok((request, provider, bare))
}

fn parse(body: &[u8]) -> Result<Value, GatewayError> {
    serde_json::from_slice(body)
        .map_err(|_| GatewayError::new(ErrorCode::InvalidBody, "The body must be a JSON object"))
}

/// The provider a request's `model` names, and the model without it.
fn provider_of<'a>(
    providers: &'a AccountProviders<'a>,
    request: &Value,
) -> Result<(&'a Provider, String), GatewayError> {
    let model = request.get("model").and_then(Value::as_str).unwrap_or("");
    // Chat completions, Responses and Messages took a route before coming here.
    if model.starts_with(crate::routing::DYNAMIC_PREFIX) {
        return Err(GatewayError::new(
            ErrorCode::InvalidProvider,
            "Dynamic routes (model \"dynamic/{route}\") are served on chat/completions, \
             responses and messages (docs/routing.md)",
        ));
    }
    let (slug, bare) = compat::split_model(model).ok_or_else(|| {
        GatewayError::new(
            ErrorCode::InvalidProvider,
            "model must be \"{provider}/{model}\"",
        )
    })?;
    let provider = providers.named(slug)?;
    Ok((provider, bare.to_owned()))
}

/// A chat request in OpenAI's shape, translated for the provider its `model` names.
pub(super) struct TranslatedChat<'a> {
    pub provider: &'a Provider,
    /// Provider path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub reshape: Option<Box<dyn Reshape>>,
}

/// Translates an OpenAI Chat Completions body. `Ok(Err(_))` is the client's mistake, already
/// in OpenAI's error shape (400); `Err(_)` is a gateway error (unknown provider).
pub(super) fn translate_chat<'a>(
    providers: &'a AccountProviders<'a>,
    client_headers: &HeaderMap,
    body: &[u8],
    id_seed: &str,
) -> Result<Result<TranslatedChat<'a>, compat::CompatError>, GatewayError> {
    let client_body = Bytes::copy_from_slice(body);
    let (body, provider, model) = resolve(providers, body)?;
    Ok(translate_parsed(
        provider,
        model,
        &body,
        client_headers,
        id_seed,
        client_body,
    ))
}

/// [`translate_chat`] for a body already parsed and resolved to `provider` and its bare `model`;
/// `client_body` is the client's own request (the cache key's).
pub(super) fn translate_parsed<'a>(
    provider: &'a Provider,
    model: String,
    body: &Value,
    client_headers: &HeaderMap,
    id_seed: &str,
    client_body: Bytes,
) -> Result<TranslatedChat<'a>, compat::CompatError> {
    let dialect = provider.dialect;
    // An OpenAI-format stream is always asked for its usage, so the log has tokens and cost.
    let asked_for_usage = match dialect {
        Dialect::OpenAi => compat::ask_for_usage(body),
        Dialect::Anthropic | Dialect::Gemini => None,
    };
    let request = asked_for_usage.as_ref().unwrap_or(body);
    let upstream = compat::translate_request(dialect, &model, request)?;
    let mut headers = provider_headers(client_headers, dialect);
    for (name, value) in &upstream.extra_headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    let reshape: Option<Box<dyn Reshape>> = match dialect {
        // OpenAI-compatible providers answer in the client's format already.
        Dialect::OpenAi => {
            asked_for_usage.map(|_| Box::new(UsageAsked { client_body }) as Box<dyn Reshape>)
        }
        _ => Some(Box::new(Translation {
            dialect,
            model,
            stream: upstream.stream,
            include_usage: compat::include_usage(body),
            id_seed: id_seed.to_owned(),
            client_body,
        })),
    };
    Ok(TranslatedChat {
        provider,
        path: upstream.path,
        headers,
        body: upstream.body,
        reshape,
    })
}

/// An OpenAI Chat Completions request for `provider`'s `model`.
fn chat_call<'a>(
    ctx: &RequestContext<'a>,
    headers: &HeaderMap,
    provider: &'a Provider,
    model: String,
    request: &Value,
    client_body: Bytes,
) -> Result<Result<UpstreamCall<'a>, compat::CompatError>, GatewayError> {
    let id_seed = ctx.log_id.simple().to_string();
    match translate_parsed(provider, model, request, headers, &id_seed, client_body) {
        Ok(chat) => upstream_call(
            ctx.state,
            chat.provider,
            chat.path,
            chat.headers,
            chat.body,
            chat.reshape,
        )
        .map(Ok),
        Err(error) => Ok(Err(error)),
    }
}

/// A request the translation refused: its status, in OpenAI's shape.
fn refused(error: &compat::CompatError) -> axum::response::Response {
    let status =
        http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
    let json = [(header::CONTENT_TYPE, "application/json")];
    (status, json, error.to_body()).into_response()
}

fn embeddings<'a>(
    ctx: &RequestContext<'a>,
    parts: &Parts,
    body: &[u8],
) -> Result<Plan<'a>, GatewayError> {
    let (mut body, provider, model) = resolve(ctx.providers, body)?;
    if provider.dialect != Dialect::OpenAi {
        return Err(GatewayError::new(
            ErrorCode::InvalidProvider,
            format!(
                "Embeddings through compat need an OpenAI-compatible provider, not {}",
                provider.slug
            ),
        ));
    }
    body["model"] = Value::String(model);
    let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let headers = provider_headers(&parts.headers, Dialect::OpenAi);
    call(
        ctx.state,
        provider,
        "v1/embeddings".to_owned(),
        headers,
        body,
        None,
    )
}

/// The client's headers for the provider: OpenAI SDKs send the key as `Authorization: Bearer`,
/// which Anthropic and Gemini want in their own headers.
fn provider_headers(client_headers: &HeaderMap, dialect: Dialect) -> HeaderMap {
    let mut headers = upstream_request_headers(client_headers);
    let key_header = match dialect {
        Dialect::Anthropic => Some("x-api-key"),
        Dialect::Gemini => Some("x-goog-api-key"),
        Dialect::OpenAi => None,
    };
    if let Some(name) = key_header
        && !headers.contains_key(name)
        && let Some(key) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer)
            .and_then(|key| HeaderValue::from_str(key).ok())
    {
        headers.remove(header::AUTHORIZATION);
        headers.insert(name, key);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // The answer is read to be translated: it must come uncompressed.
    headers.remove(header::ACCEPT_ENCODING);
    headers
}

/// The native route's share of streaming usage (docs/compat.md, "Streaming usage"): an OpenAI
/// chat completions stream without `include_usage` is sent with it and answered without what it
/// adds. Only for `openai` itself, whose API is known to take `stream_options`; any other body
/// (not JSON, not a stream, usage already asked for) goes as it came.
pub fn ask_native_openai_for_usage(
    provider: &Provider,
    method: &Method,
    provider_path: &str,
    upstream_headers: &mut HeaderMap,
    body: Bytes,
) -> (Bytes, Option<Box<dyn Reshape>>) {
    let chat = provider_path.trim_end_matches('/');
    let chat = chat.strip_prefix("v1/").unwrap_or(chat);
    if provider.slug != "openai" || method != Method::POST || chat != "chat/completions" {
        return (body, None);
    }
    // Most requests do not stream: `stream` alone is read first, the rest skipped unread, and
    // only a stream's body is parsed whole (a body this read cannot take is parsed whole too).
    if let Ok(StreamFlag {
        stream: None | Some(false),
    }) = serde_json::from_slice(&body)
    {
        return (body, None);
    }
    let Some(asked) = serde_json::from_slice::<Value>(&body)
        .ok()
        .as_ref()
        .and_then(compat::ask_for_usage)
    else {
        return (body, None);
    };
    let Ok(sent) = serde_json::to_vec(&asked) else {
        return (body, None);
    };
    upstream_headers.remove(header::ACCEPT_ENCODING);
    let reshape = UsageAsked { client_body: body };
    (Bytes::from(sent), Some(Box::new(reshape)))
}

/// A chat body's `stream` flag, read with every other field skipped.
#[derive(serde::Deserialize)]
struct StreamFlag {
    stream: Option<bool>,
}

/// One call to `provider` with the translated request; the translated headers are also what
/// the log keeps.
fn call<'a>(
    state: &AppState,
    provider: &'a Provider,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    reshape: Option<Box<dyn Reshape>>,
) -> Result<Plan<'a>, GatewayError> {
    upstream_call(state, provider, path, headers, body, reshape).map(Plan::one)
}

/// [`call`]'s upstream call, for a planner that makes several (a dynamic route).
pub(super) fn upstream_call<'a>(
    state: &AppState,
    provider: &'a Provider,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    reshape: Option<Box<dyn Reshape>>,
) -> Result<UpstreamCall<'a>, GatewayError> {
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (path, None),
    };
    refuse_gateway_tokens(state, &headers, query.as_deref())?;
    let url = provider.compat_url(&path, query.as_deref())?;
    Ok(UpstreamCall {
        provider,
        method: Method::POST,
        url,
        path: Cow::Owned(path),
        query: query.map(Cow::Owned),
        logged_headers: Cow::Owned(headers.clone()),
        upstream_headers: headers,
        body,
        options: None,
        reshape: reshape.map(|reshape| reshape as Box<dyn Reshape + 'a>),
        step: None,
        route_charges: Vec::new(),
    })
}

/// How a provider's answer becomes OpenAI's: streamed event by event, or whole.
struct Translation {
    dialect: Dialect,
    model: String,
    stream: bool,
    include_usage: bool,
    id_seed: String,
    client_body: Bytes,
}

impl Reshape for Translation {
    fn transform(&self, status: u16) -> Box<dyn BodyTransform> {
        if self.stream && (200..300).contains(&status) {
            Box::new(StreamTranslator::new(
                self.dialect,
                &self.model,
                self.include_usage,
                &self.id_seed,
            ))
        } else {
            let (dialect, model) = (self.dialect, self.model.clone());
            Box::new(Whole::new(move |body| {
                compat::translate_response(dialect, &model, status, body)
            }))
        }
    }

    fn content_type(&self, status: u16) -> Option<&'static str> {
        if self.stream && (200..300).contains(&status) {
            Some("text/event-stream")
        } else {
            Some("application/json")
        }
    }

    fn client_body(&self) -> Option<&Bytes> {
        Some(&self.client_body)
    }
}

/// An OpenAI-format stream the gateway asked for its usage: the client's answer loses what
/// that added ([`compat::UsageChunkFilter`]); any other answer passes unchanged.
struct UsageAsked {
    client_body: Bytes,
}

impl Reshape for UsageAsked {
    fn transform(&self, status: u16) -> Box<dyn BodyTransform> {
        if (200..300).contains(&status) {
            Box::new(compat::UsageChunkFilter::new())
        } else {
            Box::new(Unchanged)
        }
    }

    fn content_type(&self, _status: u16) -> Option<&'static str> {
        None
    }

    fn client_body(&self) -> Option<&Bytes> {
        Some(&self.client_body)
    }
}

impl BodyTransform for compat::UsageChunkFilter {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        compat::UsageChunkFilter::push(self, chunk)
    }
    fn finish(&mut self) -> Bytes {
        compat::UsageChunkFilter::finish(self)
    }
}

/// The body as it came.
struct Unchanged;

impl BodyTransform for Unchanged {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        Bytes::copy_from_slice(chunk)
    }
    fn finish(&mut self) -> Bytes {
        Bytes::new()
    }
}

impl BodyTransform for StreamTranslator {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        StreamTranslator::push(self, chunk)
    }
    fn finish(&mut self) -> Bytes {
        StreamTranslator::finish(self)
    }
}

/// A plain answer larger than this is not translated (it is no chat completion).
const MAX_WHOLE_BYTES: usize = 16 * 1024 * 1024;

/// Rewrites a whole answer into the client's format.
type Rewrite = Box<dyn FnOnce(&[u8]) -> Bytes + Send>;

/// A whole answer, rewritten once it is complete (up to [`MAX_WHOLE_BYTES`]).
struct Whole {
    body: Vec<u8>,
    rewrite: Option<Rewrite>,
}

impl Whole {
    fn new(rewrite: impl FnOnce(&[u8]) -> Bytes + Send + 'static) -> Whole {
        Whole {
            body: Vec::new(),
            rewrite: Some(Box::new(rewrite)),
        }
    }
}

impl BodyTransform for Whole {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        if self.body.len() + chunk.len() <= MAX_WHOLE_BYTES {
            self.body.extend_from_slice(chunk);
        }
        Bytes::new()
    }
    fn finish(&mut self) -> Bytes {
        self.rewrite
            .take()
            .map(|rewrite| rewrite(&self.body))
            .unwrap_or_default()
    }
}

/// Two rewrites one after the other (a provider's format → Chat Completions → the client's).
struct Chain {
    first: Box<dyn BodyTransform>,
    then: Box<dyn BodyTransform>,
}

impl BodyTransform for Chain {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        let middle = self.first.push(chunk);
        match middle.is_empty() {
            true => Bytes::new(),
            false => self.then.push(&middle),
        }
    }
    fn finish(&mut self) -> Bytes {
        let middle = self.first.finish();
        let mut out = self.then.push(&middle).to_vec();
        out.extend_from_slice(&self.then.finish());
        Bytes::from(out)
    }
}
