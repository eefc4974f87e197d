//! OpenAI Chat Completions request → provider request. The request is read once into [`Chat`]
//! (validated, provider-neutral), then written out by the dialect's writer.

mod anthropic;
mod chat;
mod content;
mod gemini;
mod schema;

pub(crate) use chat::{Chat, Message, ResponseFormat, Tool, ToolChoice};
pub(crate) use content::{Image, Part};

use serde_json::Value;

use super::error::CompatError;
use super::{Dialect, UpstreamRequest};

/// The OpenAI-compatible path, relative to the provider's base URL (see the module docs).
pub(crate) const OPENAI_PATH: &str = "v1/chat/completions";

pub(crate) fn translate(
    dialect: Dialect,
    model: &str,
    request: &Value,
) -> Result<UpstreamRequest, CompatError> {
    match dialect {
        Dialect::OpenAi => openai(model, request),
        Dialect::Anthropic => anthropic::build(model, &Chat::read(request)?),
        Dialect::Gemini => gemini::build(model, &Chat::read(request)?),
    }
}

/// Identity except `model`: every other field goes out as it came in (in its original order,
/// serde_json's `preserve_order` is on).
fn openai(model: &str, request: &Value) -> Result<UpstreamRequest, CompatError> {
    let mut body = request.clone();
    let object = body.as_object_mut().ok_or_else(not_an_object)?;
    object.insert("model".to_owned(), Value::String(model.to_owned()));
    Ok(UpstreamRequest {
        path: OPENAI_PATH.to_owned(),
        body: to_bytes(&body),
        extra_headers: Vec::new(),
        stream: is_stream(request),
    })
}

/// Whether the request asked for a stream (`stream: true`).
fn is_stream(request: &Value) -> bool {
    request.get("stream").and_then(Value::as_bool) == Some(true)
}

pub(crate) fn not_an_object() -> CompatError {
    CompatError::Invalid {
        message: "the request body must be a JSON object".to_owned(),
        param: None,
    }
}

pub(crate) fn to_bytes(value: &Value) -> bytes::Bytes {
    // A Value always serializes (its keys are strings).
    serde_json::to_vec(value).map_or_else(|_| bytes::Bytes::new(), bytes::Bytes::from)
}
