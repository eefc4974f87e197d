//! Anthropic Messages request → OpenAI Chat Completions request (the chat translation then
//! carries it to the provider's own API).

use serde_json::{Map, Value, json};

use crate::compat::error::CompatError;

/// Which spelling of the output limit the provider takes: OpenAI's own API refuses
/// `max_tokens` for its reasoning models and wants `max_completion_tokens`; other
/// OpenAI-compatible APIs know `max_tokens` best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokens {
    MaxTokens,
    MaxCompletionTokens,
}

/// Translates a Messages request for `model` (the bare model). Streams always ask for usage:
/// Anthropic's `message_delta` carries it.
pub fn to_chat(request: &Value, model: &str, limit: MaxTokens) -> Result<Value, CompatError> {
    let object = request
        .as_object()
        .ok_or_else(crate::compat::request::not_an_object)?;
    let mut chat = Map::new();
    chat.insert("model".to_owned(), Value::String(model.to_owned()));
    let mut messages = Vec::new();
    if let Some(system) = object.get("system").filter(|s| !s.is_null()) {
        let text = text_of(system, "system")?;
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    let turns = object
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| CompatError::invalid("messages", "messages must be an array"))?;
    for (i, turn) in turns.iter().enumerate() {
        message(turn, &format!("messages[{i}]"), &mut messages)?;
    }
    chat.insert("messages".to_owned(), Value::Array(messages));
    if let Some(max) = object.get("max_tokens").filter(|v| v.is_u64()) {
        let name = match limit {
            MaxTokens::MaxTokens => "max_tokens",
            MaxTokens::MaxCompletionTokens => "max_completion_tokens",
        };
        chat.insert(name.to_owned(), max.clone());
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "top_p")] {
        if let Some(value) = object.get(from).filter(|v| v.is_number()) {
            chat.insert(to.to_owned(), value.clone());
        }
    }
    if let Some(stop) = object.get("stop_sequences").and_then(Value::as_array)
        && !stop.is_empty()
    {
        chat.insert("stop".to_owned(), Value::Array(stop.clone()));
    }
    if let Some(user) = request.pointer("/metadata/user_id").and_then(Value::as_str) {
        chat.insert("user".to_owned(), Value::String(user.to_owned()));
    }
    tools(object, &mut chat)?;
    if object.get("stream").and_then(Value::as_bool) == Some(true) {
        chat.insert("stream".to_owned(), Value::Bool(true));
        chat.insert("stream_options".to_owned(), json!({"include_usage": true}));
    }
    Ok(Value::Object(chat))
}

/// One Messages turn → one or more chat messages: a user turn's tool results become `tool`
/// messages (first, as OpenAI wants them right after the assistant's calls), the rest of it a
/// user message.
fn message(turn: &Value, param: &str, out: &mut Vec<Value>) -> Result<(), CompatError> {
    let role = turn.get("role").and_then(Value::as_str).unwrap_or("");
    let content = turn.get("content").unwrap_or(&Value::Null);
    let blocks: Vec<Value> = match content {
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        Value::Array(blocks) => blocks.clone(),
        _ => {
            return Err(CompatError::invalid(
                format!("{param}.content"),
                format!("{param}.content must be a string or an array of content blocks"),
            ));
        }
    };
    match role {
        "user" => user(&blocks, param, out),
        "assistant" => assistant(&blocks, param, out),
        _ => Err(CompatError::invalid(
            format!("{param}.role"),
            format!("{param}.role must be \"user\" or \"assistant\""),
        )),
    }
}

fn user(blocks: &[Value], param: &str, out: &mut Vec<Value>) -> Result<(), CompatError> {
    let mut parts = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("{param}.content[{i}]");
        match block_type(block) {
            "text" => parts.push(json!({"type": "text", "text": text_field(block)})),
            "image" => parts.push(image(block, &at)?),
            "tool_result" => out.push(json!({
                "role": "tool",
                "tool_call_id": block.get("tool_use_id").and_then(Value::as_str).unwrap_or(""),
                "content": text_of(block.get("content").unwrap_or(&Value::Null), &format!("{at}.content"))?,
            })),
            other => return Err(unsupported_block(&at, other)),
        }
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": simplify(parts)}));
    }
    Ok(())
}

fn assistant(blocks: &[Value], param: &str, out: &mut Vec<Value>) -> Result<(), CompatError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("{param}.content[{i}]");
        match block_type(block) {
            "text" => text.push_str(text_field(block)),
            "tool_use" => calls.push(json!({
                "id": block.get("id").and_then(Value::as_str).unwrap_or(""),
                "type": "function",
                "function": {
                    "name": block.get("name").and_then(Value::as_str).unwrap_or(""),
                    "arguments": crate::compat::openai::arguments(block.get("input").unwrap_or(&Value::Null)),
                },
            })),
            // The reasoning of an earlier turn has no place in a chat message.
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&at, other)),
        }
    }
    let mut message = Map::new();
    message.insert("role".to_owned(), Value::String("assistant".to_owned()));
    message.insert(
        "content".to_owned(),
        match (text.is_empty(), calls.is_empty()) {
            (true, false) => Value::Null,
            _ => Value::String(text),
        },
    );
    if !calls.is_empty() {
        message.insert("tool_calls".to_owned(), Value::Array(calls));
    }
    out.push(Value::Object(message));
    Ok(())
}

/// Anthropic image source → OpenAI `image_url` part (a data URL for base64 data).
fn image(block: &Value, at: &str) -> Result<Value, CompatError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => format!(
            "data:{};base64,{}",
            source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("image/png"),
            source.get("data").and_then(Value::as_str).unwrap_or("")
        ),
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        _ => {
            return Err(CompatError::unsupported(
                format!("{at}.source"),
                format!("{at}.source must be base64 data or a url here"),
            ));
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// A lone text part is sent as a plain string, as most clients write it.
fn simplify(mut parts: Vec<Value>) -> Value {
    if parts.len() == 1 && parts[0]["type"] == "text" {
        return parts.swap_remove(0)["text"].take();
    }
    Value::Array(parts)
}

/// Tools and tool_choice; Anthropic's server tools (web search, computer use, …) have no
/// Chat Completions form.
fn tools(object: &Map<String, Value>, chat: &mut Map<String, Value>) -> Result<(), CompatError> {
    let Some(tools) = object.get("tools").and_then(Value::as_array) else {
        return Ok(());
    };
    if tools.is_empty() {
        return Ok(());
    }
    let mut functions = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        if let Some(kind) = tool.get("type").and_then(Value::as_str)
            && kind != "custom"
        {
            return Err(CompatError::unsupported(
                format!("tools[{i}].type"),
                format!(
                    "tools[{i}]: the server tool {kind:?} has no equivalent for this provider; only client tools (name, input_schema) are translated"
                ),
            ));
        }
        let mut function = Map::new();
        function.insert(
            "name".to_owned(),
            tool.get("name").cloned().unwrap_or(Value::Null),
        );
        if let Some(description) = tool.get("description").filter(|d| d.is_string()) {
            function.insert("description".to_owned(), description.clone());
        }
        function.insert(
            "parameters".to_owned(),
            tool.get("input_schema")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"})),
        );
        functions.push(json!({"type": "function", "function": function}));
    }
    chat.insert("tools".to_owned(), Value::Array(functions));
    if let Some(choice) = object.get("tool_choice").filter(|c| c.is_object()) {
        let mapped = match choice.get("type").and_then(Value::as_str) {
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {
                "name": choice.get("name").and_then(Value::as_str).unwrap_or(""),
            }}),
            _ => json!("auto"),
        };
        chat.insert("tool_choice".to_owned(), mapped);
        if choice
            .get("disable_parallel_tool_use")
            .and_then(Value::as_bool)
            == Some(true)
        {
            chat.insert("parallel_tool_calls".to_owned(), Value::Bool(false));
        }
    }
    Ok(())
}

fn block_type(block: &Value) -> &str {
    block.get("type").and_then(Value::as_str).unwrap_or("")
}

fn text_field(block: &Value) -> &str {
    block.get("text").and_then(Value::as_str).unwrap_or("")
}

/// A string, or the text of text blocks joined (system prompts, tool results).
fn text_of(content: &Value, param: &str) -> Result<String, CompatError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        Value::Array(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.iter().enumerate() {
                match block_type(block) {
                    "text" => texts.push(text_field(block)),
                    other => return Err(unsupported_block(&format!("{param}[{i}]"), other)),
                }
            }
            Ok(texts.join("\n"))
        }
        _ => Err(CompatError::invalid(
            param,
            format!("{param} must be a string or an array of text blocks"),
        )),
    }
}

fn unsupported_block(at: &str, kind: &str) -> CompatError {
    CompatError::unsupported(
        format!("{at}.type"),
        format!("{at}: content blocks of type {kind:?} cannot be translated for this provider"),
    )
}
