//! [`Chat`] → Anthropic Messages request (`POST v1/messages`).

use serde_json::{Map, Value, json};

use super::{Chat, Image, Message, Part, ToolChoice, to_bytes};
use crate::compat::UpstreamRequest;
use crate::compat::error::CompatError;

/// Anthropic requires `max_tokens`; OpenAI does not. 4096 fits every Claude model's output limit.
pub(crate) const DEFAULT_MAX_TOKENS: u64 = 4096;
pub(crate) const PATH: &str = "v1/messages";
pub(crate) const VERSION: &str = "2023-06-01";

pub(super) fn build(model: &str, chat: &Chat<'_>) -> Result<UpstreamRequest, CompatError> {
    if chat.n.is_some_and(|n| n > 1) {
        return Err(CompatError::unsupported(
            "n",
            "Anthropic returns one choice per request: n must be 1",
        ));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    if let Some(system) = system(chat) {
        body.insert("system".into(), system);
    }
    body.insert("messages".into(), messages(chat));
    body.insert(
        "max_tokens".into(),
        json!(chat.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if !chat.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(chat.stop));
    }
    if let Some(t) = chat.temperature {
        body.insert("temperature".into(), Value::Number(t.clone()));
    }
    if let Some(p) = chat.top_p {
        body.insert("top_p".into(), Value::Number(p.clone()));
    }
    if !chat.tools.is_empty() {
        let tools: Vec<Value> = chat
            .tools
            .iter()
            .map(|tool| {
                let mut out = Map::new();
                out.insert("name".into(), json!(tool.name));
                if let Some(description) = tool.description {
                    out.insert("description".into(), json!(description));
                }
                // input_schema is required; a function without parameters takes an empty object.
                let schema = tool
                    .parameters
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                out.insert("input_schema".into(), schema);
                Value::Object(out)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice(chat) {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(user) = chat.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if chat.stream {
        body.insert("stream".into(), json!(true));
    }
    Ok(UpstreamRequest {
        path: PATH.to_owned(),
        body: to_bytes(&Value::Object(body)),
        extra_headers: vec![("anthropic-version".to_owned(), VERSION.to_owned())],
        stream: chat.stream,
    })
}

/// One string when there is one text (the common case), else text blocks, so nothing is joined
/// with a separator the client did not write.
fn system(chat: &Chat<'_>) -> Option<Value> {
    let instruction = chat.json_instruction();
    let mut texts: Vec<&str> = chat
        .system
        .iter()
        .copied()
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(instruction) = &instruction {
        texts.push(instruction);
    }
    match texts.as_slice() {
        [] => None,
        [one] => Some(json!(one)),
        many => Some(Value::Array(
            many.iter()
                .map(|t| json!({"type": "text", "text": t}))
                .collect(),
        )),
    }
}

fn tool_choice(chat: &Chat<'_>) -> Option<Value> {
    let mut choice = match chat.tool_choice {
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        None if chat.parallel_tool_calls != Some(false) => return None,
        None | Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Function(name)) => json!({"type": "tool", "name": name}),
    };
    if chat.parallel_tool_calls == Some(false) {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    Some(choice)
}

/// Consecutive messages of the same role become one turn: tool results (which OpenAI sends as
/// one message each) must share the user turn that follows the assistant's tool_use turn.
fn messages(chat: &Chat<'_>) -> Value {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &chat.messages {
        let (role, blocks) = match message {
            Message::User(parts) => ("user", parts.iter().filter_map(block).collect()),
            Message::Assistant { text, tool_calls } => {
                let mut blocks: Vec<Value> = text
                    .iter()
                    .map(|t| json!({"type": "text", "text": t}))
                    .collect();
                blocks.extend(tool_calls.iter().map(|call| {
                    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
                }));
                ("assistant", blocks)
            }
            Message::Tool { call_id, text, .. } => {
                let content = match text.as_slice() {
                    [one] => json!(one),
                    many => Value::Array(
                        many.iter()
                            .map(|t| json!({"type": "text", "text": t}))
                            .collect(),
                    ),
                };
                (
                    "user",
                    vec![
                        json!({"type": "tool_result", "tool_use_id": call_id, "content": content}),
                    ],
                )
            }
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    Value::Array(
        turns
            .into_iter()
            .map(|(role, blocks)| json!({"role": role, "content": content(blocks)}))
            .collect(),
    )
}

/// Empty text is dropped: Anthropic rejects empty text blocks.
fn block(part: &Part<'_>) -> Option<Value> {
    Some(match part {
        Part::Text("") => return None,
        Part::Text(text) => json!({"type": "text", "text": text}),
        Part::Image(Image::Inline { media_type, data }) => json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }),
        Part::Image(Image::Remote { url, .. }) => json!({
            "type": "image",
            "source": {"type": "url", "url": url},
        }),
    })
}

/// A lone text block is sent as a plain string, as a client writing Anthropic by hand would.
fn content(blocks: Vec<Value>) -> Value {
    match blocks.as_slice() {
        [] => json!(""),
        [only] if only["type"] == "text" => only["text"].clone(),
        _ => Value::Array(blocks),
    }
}
