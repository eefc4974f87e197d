//! OpenAI `chat.completion` → OpenAI Responses `response` object (the whole answer), and the
//! pieces the stream shares with it: output items, status, usage.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::compat::response::error as provider_error;

/// What a response object says besides the provider's answer: its ids, time, and the request's
/// own settings, echoed as OpenAI does.
#[derive(Debug, Clone)]
pub struct ResponseContext {
    /// `resp_{seed}`; items are `msg_{seed}`, `fc_{call id}`.
    pub seed: String,
    /// Seconds since the epoch: when the gateway took the request (the chat answer's own time
    /// when it has one).
    pub created_at: u64,
    /// The bare model requested, until the provider names its own.
    pub model: String,
    /// The request's settings the response object repeats.
    pub echo: Map<String, Value>,
}

/// The settings of a Responses request that its response object repeats.
pub fn echo(request: &Value) -> Map<String, Value> {
    let mut echo = Map::new();
    for key in [
        "instructions",
        "max_output_tokens",
        "metadata",
        "parallel_tool_calls",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_p",
    ] {
        if let Some(value) = request.get(key) {
            echo.insert(key.to_owned(), value.clone());
        }
    }
    echo
}

impl ResponseContext {
    pub(crate) fn id(&self) -> String {
        format!("resp_{}", self.seed)
    }

    pub(crate) fn message_id(&self) -> String {
        format!("msg_{}", self.seed)
    }

    /// A response object; `usage` and the finish reason only once it is over.
    pub(crate) fn object(
        &self,
        model: &str,
        created_at: u64,
        finish: Finish,
        output: Vec<Value>,
        usage: Option<&Value>,
    ) -> Value {
        let (status, incomplete) = match finish {
            Finish::InProgress => ("in_progress", Value::Null),
            Finish::Completed => ("completed", Value::Null),
            Finish::Incomplete(reason) => ("incomplete", json!({"reason": reason})),
        };
        let setting = |key: &str, default: Value| self.echo.get(key).cloned().unwrap_or(default);
        json!({
            "id": self.id(),
            "object": "response",
            "created_at": created_at,
            "status": status,
            "error": null,
            "incomplete_details": incomplete,
            "instructions": setting("instructions", Value::Null),
            "max_output_tokens": setting("max_output_tokens", Value::Null),
            "model": model,
            "output": output,
            "parallel_tool_calls": setting("parallel_tool_calls", json!(true)),
            "temperature": setting("temperature", Value::Null),
            "text": setting("text", json!({"format": {"type": "text"}})),
            "tool_choice": setting("tool_choice", json!("auto")),
            "tools": setting("tools", json!([])),
            "top_p": setting("top_p", Value::Null),
            "usage": usage.map_or(Value::Null, response_usage),
            "metadata": setting("metadata", json!({})),
        })
    }
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    InProgress,
    Completed,
    /// `incomplete_details.reason`.
    Incomplete(&'static str),
}

/// OpenAI `finish_reason` → how the response ended.
pub(crate) fn finish(reason: Option<&str>) -> Finish {
    match reason {
        Some("length") => Finish::Incomplete("max_output_tokens"),
        Some("content_filter") => Finish::Incomplete("content_filter"),
        _ => Finish::Completed,
    }
}

/// Chat usage → Responses usage (both count cached tokens in the input).
pub(crate) fn response_usage(usage: &Value) -> Value {
    let count = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let input = count("/prompt_tokens");
    let output = count("/completion_tokens");
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": count("/prompt_tokens_details/cached_tokens")},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": count("/completion_tokens_details/reasoning_tokens")},
        "total_tokens": input.saturating_add(output),
    })
}

pub(crate) fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content = match status {
        "in_progress" => json!([]),
        _ => json!([output_text(text)]),
    };
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": content})
}

pub(crate) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

pub(crate) fn function_call_item(
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({
        "type": "function_call",
        "id": format!("fc_{call_id}"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    })
}

/// `status` is the provider's; the caller answers with it unchanged. A non-2xx body is any
/// provider's error, answered in OpenAI's error shape.
pub fn to_response(status: u16, body: &[u8], context: &ResponseContext) -> Bytes {
    if !(200..300).contains(&status) {
        return provider_error::translate(status, body);
    }
    let translated = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|chat| response(&chat, context));
    match translated.map(|r| serde_json::to_vec(&r)) {
        Some(Ok(json)) => Bytes::from(json),
        _ => crate::compat::error::error_body(
            "the provider's response could not be translated to the Responses format",
            "api_error",
            None,
            Some("invalid_provider_response"),
        ),
    }
}

fn response(chat: &Value, context: &ResponseContext) -> Option<Value> {
    let choice = chat.get("choices")?.as_array()?.first()?;
    let reply = choice.get("message")?;
    let mut output = Vec::new();
    if let Some(text) = reply
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        output.push(message_item(&context.message_id(), text, "completed"));
    }
    for call in reply
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let function = call.get("function").unwrap_or(&Value::Null);
        output.push(function_call_item(
            call.get("id").and_then(Value::as_str).unwrap_or(""),
            function.get("name").and_then(Value::as_str).unwrap_or(""),
            function
                .get("arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}"),
            "completed",
        ));
    }
    let model = chat
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(&context.model);
    let created_at = chat
        .get("created")
        .and_then(Value::as_u64)
        .filter(|c| *c > 0)
        .unwrap_or(context.created_at);
    Some(context.object(
        model,
        created_at,
        finish(choice.get("finish_reason").and_then(Value::as_str)),
        output,
        chat.get("usage"),
    ))
}
