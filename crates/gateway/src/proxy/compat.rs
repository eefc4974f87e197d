//! The unified OpenAI-compatible endpoint (docs/compat.md):
//! `/v1/{account}/{gateway}/compat/chat/completions` with `model: "{provider}/{model}"`,
//! `…/compat/models` and `…/compat/embeddings`. Translation itself lives in [`crate::compat`];
//! this is the HTTP side, reusing the proxy's logging, caching, rate limits and retries.

use std::net::IpAddr;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header, request::Parts};
use serde_json::{Value, json};

use super::credentials::refuse_gateway_tokens;
use super::dispatch::{Outbound, Reshape};
use super::handler::Seen;
use super::headers::upstream_request_headers;
use super::options::RequestOptions;
use super::relay::BodyTransform;
use crate::compat::{self, Dialect, StreamTranslator};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::providers::Provider;
use crate::state::AppState;

/// What the endpoint needs from the request the proxy already checked.
pub struct CompatRequest<'a> {
    pub state: &'a AppState,
    pub gateway: &'a Gateway,
    pub options: &'a RequestOptions,
    pub parts: &'a Parts,
    pub body: Bytes,
    pub client: Option<IpAddr>,
    pub log_id: uuid::Uuid,
    /// The path after `compat/`.
    pub route: &'a str,
}

pub async fn forward(
    request: CompatRequest<'_>,
    seen: &mut Seen,
) -> Result<Response, GatewayError> {
    match (&request.parts.method, request.route.trim_end_matches('/')) {
        (&Method::POST, "chat/completions" | "v1/chat/completions") => chat(request, seen).await,
        (&Method::POST, "embeddings" | "v1/embeddings") => embeddings(request, seen).await,
        (&Method::GET, "models" | "v1/models") => Ok(models(request.state)),
        _ => Err(GatewayError::new(
            ErrorCode::InvalidPath,
            "The compat endpoint serves chat/completions, embeddings and models",
        )),
    }
}

/// `{object: "list", data: [{id: "provider/model", …}]}` for every model the price table knows.
fn models(state: &AppState) -> Response {
    let data: Vec<Value> = state
        .prices()
        .known_models()
        .into_iter()
        .map(|(provider, model)| json!({"id": format!("{provider}/{model}"), "object": "model", "created": 0, "owned_by": provider}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

/// The parsed body and the provider its `model` names.
fn resolve<'a>(
    state: &'a AppState,
    body: &[u8],
) -> Result<(Value, &'a Provider, String), GatewayError> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|_| GatewayError::new(ErrorCode::InvalidBody, "The body must be a JSON object"))?;
    let model = request.get("model").and_then(Value::as_str).unwrap_or("");
    let (slug, bare) = compat::split_model(model).ok_or_else(|| {
        GatewayError::new(
            ErrorCode::InvalidProvider,
            "model must be \"{provider}/{model}\"",
        )
    })?;
    let provider = state.providers().named(slug)?;
    let bare = bare.to_owned();
    Ok((request, provider, bare))
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
    state: &'a AppState,
    client_headers: &HeaderMap,
    body: &[u8],
    id_seed: &str,
) -> Result<Result<TranslatedChat<'a>, compat::CompatError>, GatewayError> {
    let (body, provider, model) = resolve(state, body)?;
    let dialect = provider.dialect;
    let upstream = match compat::translate_request(dialect, &model, &body) {
        Ok(upstream) => upstream,
        Err(error) => return Ok(Err(error)),
    };
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
        Dialect::OpenAi => None,
        _ => Some(Box::new(Translation {
            dialect,
            model,
            stream: upstream.stream,
            include_usage: compat::include_usage(&body),
            id_seed: id_seed.to_owned(),
        })),
    };
    Ok(Ok(TranslatedChat {
        provider,
        path: upstream.path,
        headers,
        body: upstream.body,
        reshape,
    }))
}

async fn chat(request: CompatRequest<'_>, seen: &mut Seen) -> Result<Response, GatewayError> {
    let id_seed = request.log_id.simple().to_string();
    let chat = match translate_chat(
        request.state,
        &request.parts.headers,
        &request.body,
        &id_seed,
    )? {
        Ok(chat) => chat,
        Err(error) => {
            let status =
                http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
            let json = [(header::CONTENT_TYPE, "application/json")];
            return Ok((status, json, error.to_body()).into_response());
        }
    };
    seen.provider = chat.provider.slug.clone();
    send(
        &request,
        seen,
        chat.provider,
        chat.path,
        chat.headers,
        chat.body,
        chat.reshape,
    )
    .await
}

async fn embeddings(request: CompatRequest<'_>, seen: &mut Seen) -> Result<Response, GatewayError> {
    let (mut body, provider, model) = resolve(request.state, &request.body)?;
    seen.provider = provider.slug.clone();
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
    let headers = provider_headers(&request.parts.headers, Dialect::OpenAi);
    send(
        &request,
        seen,
        provider,
        "v1/embeddings".to_owned(),
        headers,
        body,
        None,
    )
    .await
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
    headers
}

async fn send(
    request: &CompatRequest<'_>,
    seen: &mut Seen,
    provider: &Provider,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    reshape: Option<Box<dyn Reshape>>,
) -> Result<Response, GatewayError> {
    let state = request.state;
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
        None => (path, None),
    };
    refuse_gateway_tokens(state, &headers, query.as_deref())?;
    let url = provider.compat_url(&path, query.as_deref())?;
    let mut upstream_headers = headers.clone();
    let outgoing = crate::keys::Outgoing {
        method: &Method::POST,
        url: &url,
        body: &body,
    };
    crate::keys::apply_stored_key(
        state,
        request.gateway,
        provider,
        request.options.byok_alias.as_deref(),
        outgoing,
        &mut upstream_headers,
    )
    .await?;
    super::dispatch::send(
        Outbound {
            state,
            gateway: request.gateway,
            provider,
            options: request.options,
            log_id: request.log_id,
            client: request.client,
            method: Method::POST,
            url,
            path: &path,
            query: query.as_deref(),
            logged_headers: &headers,
            upstream_headers,
            body,
            reshape,
        },
        seen,
    )
    .await
}

/// How a provider's answer becomes OpenAI's: streamed event by event, or whole.
struct Translation {
    dialect: Dialect,
    model: String,
    stream: bool,
    include_usage: bool,
    id_seed: String,
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
            Box::new(WholeTranslation {
                dialect: self.dialect,
                model: self.model.clone(),
                status,
                body: Vec::new(),
            })
        }
    }

    fn content_type(&self, status: u16) -> &'static str {
        if self.stream && (200..300).contains(&status) {
            "text/event-stream"
        } else {
            "application/json"
        }
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

/// A plain answer (or any error) is translated once it is complete.
struct WholeTranslation {
    dialect: Dialect,
    model: String,
    status: u16,
    body: Vec<u8>,
}

/// A plain answer larger than this is not translated (it is no chat completion).
const MAX_WHOLE_BYTES: usize = 16 * 1024 * 1024;

impl BodyTransform for WholeTranslation {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        if self.body.len() + chunk.len() <= MAX_WHOLE_BYTES {
            self.body.extend_from_slice(chunk);
        }
        Bytes::new()
    }
    fn finish(&mut self) -> Bytes {
        compat::translate_response(self.dialect, &self.model, self.status, &self.body)
    }
}
