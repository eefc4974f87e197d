//! OpenAI `chat.completion` (or OpenAI's error shape) → Anthropic `message` (or Anthropic's error
//! shape), for a complete answer.

use bytes::Bytes;
use serde_json::{Value, json};

use super::error::anthropic_error;
use crate::compat::response::error as provider_error;

/// `status` is the provider's; the caller answers with it unchanged. `body` is a chat
/// completion (or an error in any provider's shape).
pub fn to_message(status: u16, body: &[u8]) -> Bytes {
    if !(200..300).contains(&status) {
        return error(status, body);
    }
    match serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|chat| message(&chat))
    {
        Some(message) => to_bytes(&message),
        None => anthropic_error(
            "api_error",
            "the provider's response could not be translated to the Anthropic format",
            None,
        ),
    }
}

/// Any provider's error body → Anthropic's shape, keeping its message (and its type when it
/// has one of Anthropic's names).
pub(crate) fn error(status: u16, body: &[u8]) -> Bytes {
    let openai = provider_error::translate(status, body);
    let parsed: Value = serde_json::from_slice(&openai).unwrap_or(Value::Null);
    let message = parsed
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("the provider answered with an error");
    anthropic_error(provider_error::kind_for(status), message, None)
}

fn message(chat: &Value) -> Option<Value> {
    let choice = chat.get("choices")?.as_array()?.first()?;
    let reply = choice.get("message")?;
    let mut content = Vec::new();
    if let Some(text) = reply
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in reply
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let function = call.get("function").unwrap_or(&Value::Null);
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
            "name": function.get("name").and_then(Value::as_str).unwrap_or(""),
            "input": input(function.get("arguments")),
        }));
    }
    Some(json!({
        "id": chat.get("id").and_then(Value::as_str).unwrap_or("msg_unknown"),
        "type": "message",
        "role": "assistant",
        "model": chat.get("model").and_then(Value::as_str).unwrap_or(""),
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason").and_then(Value::as_str)),
        "stop_sequence": null,
        "usage": usage(chat.get("usage")),
    }))
}

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub(crate) fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI usage → Anthropic's, whose `input_tokens` leaves out the tokens read from cache.
pub(crate) fn usage(usage: Option<&Value>) -> Value {
    let count = |pointer: &str| {
        usage
            .and_then(|u| u.pointer(pointer))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let cached = count("/prompt_tokens_details/cached_tokens");
    json!({
        "input_tokens": count("/prompt_tokens").saturating_sub(cached),
        "output_tokens": count("/completion_tokens"),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    })
}

/// Tool arguments (a JSON string) → the tool's `input` object; `{}` when they are not one.
pub(crate) fn input(arguments: Option<&Value>) -> Value {
    arguments
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

fn to_bytes(value: &Value) -> Bytes {
    serde_json::to_vec(value).map_or_else(|_| Bytes::new(), Bytes::from)
}
