//! `…/compat/responses` and `…/compat/v1/responses` (docs/compat.md): the OpenAI Responses API
//! for any provider. OpenAI gets the request as it came (bare model); any other provider gets
//! it as Chat Completions through the chat translation, and its answer comes back as a
//! Responses answer.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, request::Parts};
use serde_json::Value;

use super::{Chain, Unchanged, Whole, call, provider_headers, resolve, translate_parsed};
use crate::compat::messages::MaxTokens;
use crate::compat::responses::{self, ResponseContext, ResponsesStream};
use crate::compat::{CompatError, Dialect};
use crate::error::GatewayError;
use crate::proxy::context::RequestContext;
use crate::proxy::plan::{BodyTransform, Plan, Reshape};

pub(super) fn plan<'a>(
    ctx: &RequestContext<'a>,
    parts: &Parts,
    body: &[u8],
) -> Result<Plan<'a>, GatewayError> {
    let state = ctx.state;
    let (mut request, provider, model) = resolve(ctx.providers, body)?;
    if provider.slug == "openai" {
        request["model"] = Value::String(model);
        let headers = provider_headers(&parts.headers, Dialect::OpenAi);
        let body = Bytes::from(serde_json::to_vec(&request).unwrap_or_default());
        return call(
            state,
            provider,
            "v1/responses".to_owned(),
            headers,
            body,
            None,
        );
    }
    let stream = request.get("stream").and_then(Value::as_bool) == Some(true);
    let id_seed = ctx.log_id.simple().to_string();
    let translated = responses::to_chat(&request, &model, MaxTokens::MaxTokens).and_then(|chat| {
        translate_parsed(
            provider,
            model.clone(),
            &chat,
            &parts.headers,
            &id_seed,
            Bytes::copy_from_slice(body),
        )
    });
    let chat = match translated {
        Ok(chat) => chat,
        Err(error) => return Ok(Plan::Answered(refused(&error))),
    };
    let context = ResponseContext {
        seed: id_seed,
        created_at: u64::try_from(ctx.created_at.as_second()).unwrap_or(0),
        model,
        echo: responses::echo(&request),
    };
    let reshape = AsResponses {
        chat: chat.reshape,
        stream,
        context,
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

/// A request the translation refused: 400 in OpenAI's shape.
fn refused(error: &CompatError) -> Response {
    let status =
        http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
    let json = [(header::CONTENT_TYPE, "application/json")];
    (status, json, error.to_body()).into_response()
}

/// The provider's answer → Chat Completions (by the chat translation, for providers that do not
/// speak it) → the Responses format.
struct AsResponses {
    chat: Option<Box<dyn Reshape>>,
    stream: bool,
    context: ResponseContext,
    client_body: Bytes,
}

impl Reshape for AsResponses {
    fn transform(&self, status: u16) -> Box<dyn BodyTransform> {
        let first: Box<dyn BodyTransform> = match &self.chat {
            Some(chat) => chat.transform(status),
            None => Box::new(Unchanged),
        };
        let then: Box<dyn BodyTransform> = if self.stream && (200..300).contains(&status) {
            Box::new(ResponsesStream::new(self.context.clone()))
        } else {
            let context = self.context.clone();
            Box::new(Whole::new(move |body| {
                responses::to_response(status, body, &context)
            }))
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

impl BodyTransform for ResponsesStream {
    fn push(&mut self, chunk: &[u8]) -> Bytes {
        ResponsesStream::push(self, chunk)
    }
    fn finish(&mut self) -> Bytes {
        ResponsesStream::finish(self)
    }
}
