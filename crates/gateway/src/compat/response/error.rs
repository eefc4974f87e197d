//! A provider's error body (Anthropic, Gemini, or already OpenAI-shaped) → OpenAI's error shape,
//! keeping the provider's message.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use crate::compat::error::error_body;

/// Past this, a non-JSON error body is cut (an HTML error page says little more).
const MAX_RAW_MESSAGE: usize = 1024;

/// Anthropic `{"type":"error","error":{"type","message"}}`, Gemini `{"error":{"code","message","status"}}`,
/// OpenAI `{"error":{"message","type","param","code"}}`; some proxies answer `{"message": …}`.
#[derive(Deserialize)]
struct Envelope {
    error: Option<Detail>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Detail {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Gemini's canonical status name (`RESOURCE_EXHAUSTED`).
    status: Option<String>,
    code: Option<Value>,
    param: Option<String>,
}

/// `status` is the provider's; the caller answers with it unchanged.
pub(crate) fn translate(status: u16, body: &[u8]) -> Bytes {
    let envelope = parse(body);
    let detail = envelope.as_ref().and_then(|e| e.error.as_ref());
    let message = detail
        .and_then(|d| d.message.clone())
        .or_else(|| envelope.as_ref().and_then(|e| e.message.clone()))
        .unwrap_or_else(|| raw_message(status, body));
    let kind = detail
        .and_then(|d| d.kind.as_deref())
        .unwrap_or_else(|| kind_for(status));
    // OpenAI's `code` is a string: Gemini's status name, or a string code; numbers (Gemini
    // repeats the HTTP status there) say nothing new.
    let code = detail.and_then(|d| {
        d.status
            .as_deref()
            .or_else(|| d.code.as_ref().and_then(Value::as_str))
    });
    let param = detail.and_then(|d| d.param.as_deref());
    error_body(&message, kind, param, code)
}

/// Gemini wraps errors of `streamGenerateContent` (without `alt=sse`) in an array.
fn parse(body: &[u8]) -> Option<Envelope> {
    if body.trim_ascii_start().starts_with(b"[") {
        let mut items: Vec<Envelope> = serde_json::from_slice(body).ok()?;
        return (!items.is_empty()).then(|| items.swap_remove(0));
    }
    serde_json::from_slice(body).ok()
}

fn raw_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("the provider answered {status} without a message");
    }
    let mut end = text.len().min(MAX_RAW_MESSAGE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The error type for a status when the provider gave none (Anthropic's names, which are also
/// what OpenAI's SDKs expect to see).
pub(crate) fn kind_for(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}
