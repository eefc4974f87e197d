//! OpenAI Responses request → OpenAI Chat Completions request (the chat translation then
//! carries it to the provider's own API).

use serde_json::{Map, Value, json};

use crate::compat::error::CompatError;
use crate::compat::messages::MaxTokens;

/// Translates a Responses request for `model` (the bare model). Streams always ask for usage:
/// `response.completed` carries it.
pub fn to_chat(request: &Value, model: &str, limit: MaxTokens) -> Result<Value, CompatError> {
    let object = request
        .as_object()
        .ok_or_else(crate::compat::request::not_an_object)?;
    if object
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(CompatError::unsupported(
            "previous_response_id",
            "previous_response_id needs responses stored by the provider; send the whole conversation in input instead",
        ));
    }
    let mut chat = Map::new();
    chat.insert("model".to_owned(), Value::String(model.to_owned()));
    let mut messages = Vec::new();
    if let Some(instructions) = object
        .get("instructions")
        .and_then(Value::as_str)
        .filter(|i| !i.is_empty())
    {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    match object.get("input") {
        Some(Value::String(text)) => messages.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, &format!("input[{i}]"), &mut messages)?;
            }
        }
        _ => {
            return Err(CompatError::invalid(
                "input",
                "input must be a string or an array of input items",
            ));
        }
    }
    chat.insert("messages".to_owned(), Value::Array(messages));
    if let Some(max) = object.get("max_output_tokens").filter(|v| v.is_u64()) {
        let name = match limit {
            MaxTokens::MaxTokens => "max_tokens",
            MaxTokens::MaxCompletionTokens => "max_completion_tokens",
        };
        chat.insert(name.to_owned(), max.clone());
    }
    for key in ["temperature", "top_p"] {
        if let Some(value) = object.get(key).filter(|v| v.is_number()) {
            chat.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(parallel) = object.get("parallel_tool_calls").filter(|v| v.is_boolean()) {
        chat.insert("parallel_tool_calls".to_owned(), parallel.clone());
    }
    if let Some(user) = object
        .get("safety_identifier")
        .or_else(|| object.get("user"))
        .filter(|v| v.is_string())
    {
        chat.insert("user".to_owned(), user.clone());
    }
    if let Some(effort) = request
        .pointer("/reasoning/effort")
        .filter(|v| v.is_string())
    {
        chat.insert("reasoning_effort".to_owned(), effort.clone());
    }
    if let Some(format) = response_format(request.pointer("/text/format"))? {
        chat.insert("response_format".to_owned(), format);
    }
    tools(object, &mut chat)?;
    if object.get("stream").and_then(Value::as_bool) == Some(true) {
        chat.insert("stream".to_owned(), Value::Bool(true));
        chat.insert("stream_options".to_owned(), json!({"include_usage": true}));
    }
    Ok(Value::Object(chat))
}

/// One input item → chat messages: messages by role, `function_call` items as the assistant's
/// tool calls (consecutive ones in one message), `function_call_output` as `tool` messages.
fn input_item(item: &Value, at: &str, out: &mut Vec<Value>) -> Result<(), CompatError> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => message(item, at, out),
        "function_call" => {
            let call = json!({
                "id": item.get("call_id").and_then(Value::as_str).unwrap_or(""),
                "type": "function",
                "function": {
                    "name": item.get("name").and_then(Value::as_str).unwrap_or(""),
                    "arguments": item.get("arguments").and_then(Value::as_str).unwrap_or("{}"),
                },
            });
            match out.last_mut() {
                Some(last) if last["role"] == "assistant" => {
                    if let Some(calls) = last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                        calls.push(call);
                    } else if let Some(last) = last.as_object_mut() {
                        last.insert("tool_calls".to_owned(), json!([call]));
                    }
                }
                _ => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
            }
            Ok(())
        }
        "function_call_output" => {
            let output = match item.get("output") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            };
            out.push(json!({
                "role": "tool",
                "tool_call_id": item.get("call_id").and_then(Value::as_str).unwrap_or(""),
                "content": output,
            }));
            Ok(())
        }
        // The reasoning of an earlier turn has no place in a chat message.
        "reasoning" => Ok(()),
        other => Err(CompatError::unsupported(
            format!("{at}.type"),
            format!("{at}: input items of type {other:?} cannot be translated for this provider"),
        )),
    }
}

fn message(item: &Value, at: &str, out: &mut Vec<Value>) -> Result<(), CompatError> {
    let role = match item.get("role").and_then(Value::as_str) {
        Some(role @ ("user" | "assistant" | "system")) => role,
        Some("developer") => "system",
        _ => {
            return Err(CompatError::invalid(
                format!("{at}.role"),
                format!("{at}.role must be user, assistant, system or developer"),
            ));
        }
    };
    let content = match item.get("content") {
        Some(Value::String(text)) => Value::String(text.clone()),
        Some(Value::Array(parts)) => {
            let mut out_parts = Vec::with_capacity(parts.len());
            for (i, part) in parts.iter().enumerate() {
                out_parts.push(content_part(part, &format!("{at}.content[{i}]"))?);
            }
            simplify(out_parts)
        }
        _ => {
            return Err(CompatError::invalid(
                format!("{at}.content"),
                format!("{at}.content must be a string or an array of content parts"),
            ));
        }
    };
    out.push(json!({"role": role, "content": content}));
    Ok(())
}

fn content_part(part: &Value, at: &str) -> Result<Value, CompatError> {
    let text = || part.get("text").and_then(Value::as_str).unwrap_or("");
    match part.get("type").and_then(Value::as_str).unwrap_or("") {
        "input_text" | "output_text" | "text" => Ok(json!({"type": "text", "text": text()})),
        "refusal" => Ok(
            json!({"type": "text", "text": part.get("refusal").and_then(Value::as_str).unwrap_or("")}),
        ),
        "input_image" => {
            let Some(url) = part.get("image_url").and_then(Value::as_str) else {
                return Err(CompatError::unsupported(
                    format!("{at}.file_id"),
                    format!("{at}: only images given by image_url can be translated"),
                ));
            };
            let mut image = Map::new();
            image.insert("url".to_owned(), json!(url));
            if let Some(detail) = part.get("detail").filter(|d| d.is_string()) {
                image.insert("detail".to_owned(), detail.clone());
            }
            Ok(json!({"type": "image_url", "image_url": image}))
        }
        other => Err(CompatError::unsupported(
            format!("{at}.type"),
            format!("{at}: content parts of type {other:?} cannot be translated for this provider"),
        )),
    }
}

/// A lone text part is sent as a plain string, as most clients write it.
fn simplify(mut parts: Vec<Value>) -> Value {
    if parts.len() == 1 && parts[0]["type"] == "text" {
        return parts.swap_remove(0)["text"].take();
    }
    Value::Array(parts)
}

/// `text.format` → `response_format`.
fn response_format(format: Option<&Value>) -> Result<Option<Value>, CompatError> {
    let Some(format) = format.filter(|f| f.is_object()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "description", "schema", "strict"] {
                if let Some(value) = format.get(key) {
                    schema.insert(key.to_owned(), value.clone());
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        Some("text") | None => Ok(None),
        Some(other) => Err(CompatError::unsupported(
            "text.format.type",
            format!("text.format of type {other:?} cannot be translated"),
        )),
    }
}

/// Function tools and `tool_choice`; the built-in tools (web search, file search, …) run at
/// OpenAI and have no Chat Completions form.
fn tools(object: &Map<String, Value>, chat: &mut Map<String, Value>) -> Result<(), CompatError> {
    let tools = object
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if tools.is_empty() {
        return Ok(());
    }
    let mut functions = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "function" {
            return Err(CompatError::unsupported(
                format!("tools[{i}].type"),
                format!(
                    "tools[{i}]: the built-in tool {kind:?} has no equivalent for this provider; only function tools are translated"
                ),
            ));
        }
        let mut function = Map::new();
        for key in ["name", "description", "parameters", "strict"] {
            if let Some(value) = tool.get(key).filter(|v| !v.is_null()) {
                function.insert(key.to_owned(), value.clone());
            }
        }
        functions.push(json!({"type": "function", "function": function}));
    }
    chat.insert("tools".to_owned(), Value::Array(functions));
    if let Some(choice) = object.get("tool_choice") {
        let mapped = match choice {
            Value::String(mode) => Some(json!(mode)),
            Value::Object(choice) if choice.get("type") == Some(&json!("function")) => Some(
                json!({"type": "function", "function": {"name": choice.get("name").cloned().unwrap_or(Value::Null)}}),
            ),
            _ => None,
        };
        if let Some(mapped) = mapped {
            chat.insert("tool_choice".to_owned(), mapped);
        }
    }
    Ok(())
}
