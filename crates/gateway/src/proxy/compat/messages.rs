//! `…/compat/messages` and `…/compat/v1/messages` (docs/compat.md): the Anthropic Messages API
//! for any provider. Anthropic gets the request as it came (bare model); any other provider
//! gets it as Chat Completions through the chat translation, and its answer comes back in
//! Anthropic's format.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header, request::Parts};
use serde_json::Value;

use super::{Chain, Unchanged, Whole, call, provider_headers, resolve, translate_parsed};
use crate::compat::messages::{self, MaxTokens, MessagesStream};
use crate::compat::{CompatError, Dialect};
use crate::error::GatewayError;
use crate::proxy::context::RequestContext;
use crate::proxy::plan::{BodyTransform, Plan, Reshape};

/// What Anthropic's SDKs send when the client named no version.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Whether a path is the Messages route, whose gateway errors use Anthropic's error shape.
pub fn speaks_anthropic(raw_path: &str) -> bool {
    let Some(rest) = raw_path.strip_prefix("/v1/") else {
        return false;
    };
    let mut segments = rest.splitn(4, '/');
    let (Some(_account), Some(_gateway), Some("compat"), Some(route)) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return false;
    };
    matches!(route.trim_end_matches('/'), "messages" | "v1/messages")
}

pub(super) fn plan<'a>(
    ctx: &RequestContext<'a>,
    parts: &Parts,
    body: &[u8],
) -> Result<Plan<'a>, GatewayError> {
    let state = ctx.state;
    let (mut request, provider, model) = resolve(ctx.providers, body)?;
    if provider.dialect == Dialect::Anthropic {
        request["model"] = Value::String(model);
        let mut headers = provider_headers(&parts.headers, Dialect::Anthropic);
        if !headers.contains_key("anthropic-version") {
            headers.insert(
                "anthropic-version",
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
        let body = Bytes::from(serde_json::to_vec(&request).unwrap_or_default());
        return call(
            state,
            provider,
            "v1/messages".to_owned(),
            headers,
            body,
            None,
        );
    }
    let limit = match provider.slug.as_str() {
        "openai" => MaxTokens::MaxCompletionTokens,
        _ => MaxTokens::MaxTokens,
    };
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    let id_seed = ctx.log_id.simple().to_string();
    let translated = messages::to_chat(&request, &model, limit).and_then(|chat| {
        translate_parsed(
            provider,
            model.clone(),
            &chat,
            &bearer_from_api_key(&parts.headers),
            &id_seed,
            Bytes::copy_from_slice(body),
        )
    });
    let chat = match translated {
        Ok(chat) => chat,
        Err(error) => return Ok(Plan::Answered(refused(&error))),
    };
    let reshape = AsMessages {
        chat: chat.reshape,
        stream,
        model,
        id_seed,
        client_body: Bytes::copy_from_slice(body),
    };
    call(
        state,
        chat.provider,
        chat.path,
        chat.headers,
        chat.body,
        Some(Box::new(reshape)),
    )
}

/// Anthropic's SDKs send the key as `x-api-key`; the chat translation expects it where OpenAI's
/// do (`Authorization: Bearer`) and moves it to the provider's own header from there.
/// Anthropic's version headers mean nothing to other providers.
fn bearer_from_api_key(client_headers: &HeaderMap) -> HeaderMap {
    let mut headers = client_headers.clone();
    if let Some(key) = headers.remove("x-api-key")
        && !headers.contains_key(header::AUTHORIZATION)
        && let Ok(key) = key.to_str()
        && let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {key}"))
    {
        headers.insert(header::AUTHORIZATION, bearer);
    }
    headers.remove("anthropic-version");
    headers.remove("anthropic-beta");
    headers
}

/// A request the translation refused: 400 in Anthropic's shape.
fn refused(error: &CompatError) -> Response {
    let status =
        http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
    let json = [(header::CONTENT_TYPE, "application/json")];
    (status, json, error.to_anthropic_body()).into_response()
}

/// The provider's answer → Chat Completions (by the chat translation, for providers that do not
/// speak it) → Anthropic's Messages format.
struct AsMessages {
    chat: Option<Box<dyn Reshape>>,
    stream: bool,
    model: String,
    id_seed: String,
    client_body: Bytes,
}

impl Reshape for AsMessages {
    fn transform(&self, status: u16) -> Box<dyn BodyTransform> {
        let first: Box<dyn BodyTransform> = match &self.chat {
            Some(chat) => chat.transform(status),
            None => Box::new(Unchanged),
        };
        let then: Box<dyn BodyTransform> = if self.stream && (200..300).contains(&status) {
            Box::new(MessagesStream::new(&self.model, &self.id_seed))
        } else {
            Box::new(Whole::new(move |body| messages::to_message(status, body)))
        };
        Box::new(Chain { first, then })
    }

    fn content_type(&self, status: u16) -> Option<&'static str> {
        match self.stream && (200..300).contains(&status) {
            true => Some("text/event-stream"),
            false => Some("application/json"),
        }
    }

    fn client_body(&self) -> Option<&Bytes> {
        Some(&self.client_body)
    }
}

impl BodyTransform for MessagesStream {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        MessagesStream::push(self, chunk)
    }
    fn finish(&mut self) -> Bytes {
        MessagesStream::finish(self)
    }
}
