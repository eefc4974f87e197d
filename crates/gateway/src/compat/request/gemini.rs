//! [`Chat`] → Gemini `generateContent` request (`v1beta/models/{model}:generateContent`, or
//! `:streamGenerateContent?alt=sse` when streaming). Field names are the camelCase ones Gemini
//! itself returns (its REST API accepts both spellings).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Chat, Image, Message, Part, ResponseFormat, ToolChoice, schema, to_bytes};
use crate::compat::UpstreamRequest;
use crate::compat::error::CompatError;

/// Gemini 3 rejects a replayed `functionCall` without the `thoughtSignature` it was returned
/// with; OpenAI messages cannot carry one, so Google's documented sentinel is sent instead.
const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

pub(super) fn build(model: &str, chat: &Chat<'_>) -> Result<UpstreamRequest, CompatError> {
    let model = path_model(model)?;
    let mut body = Map::new();
    let system: Vec<Value> = chat
        .system
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| json!({"text": t}))
        .collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    body.insert("contents".into(), contents(chat, needs_signature(model))?);
    if !chat.tools.is_empty() {
        let declarations: Vec<Value> = chat.tools.iter().map(declaration).collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
        if let Some(config) = tool_config(chat.tool_choice) {
            body.insert("toolConfig".into(), config);
        }
    }
    let config = generation_config(chat);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    let path = if chat.stream {
        format!("v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("v1beta/models/{model}:generateContent")
    };
    Ok(UpstreamRequest {
        path,
        body: to_bytes(&Value::Object(body)),
        extra_headers: Vec::new(),
        stream: chat.stream,
    })
}

/// The model goes into the URL path, so it must be one plain segment. `models/` (the resource
/// name Gemini's model list returns) is accepted and dropped.
fn path_model(model: &str) -> Result<&str, CompatError> {
    let model = model.strip_prefix("models/").unwrap_or(model);
    // A leading dot could make `..` a path segment.
    let plain = !model.is_empty()
        && !model.starts_with('.')
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain {
        Ok(model)
    } else {
        Err(CompatError::invalid(
            "model",
            format!("`{model}` is not a Gemini model name"),
        ))
    }
}

/// Gemini 3 and later (`gemini-3-pro-preview`, `gemini-3.1-flash`, …).
fn needs_signature(model: &str) -> bool {
    model
        .strip_prefix("gemini-")
        .and_then(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            rest[..digits].parse::<u32>().ok()
        })
        .is_some_and(|major| major >= 3)
}

fn contents(chat: &Chat<'_>, signature: bool) -> Result<Value, CompatError> {
    // functionResponse needs the function's name; OpenAI tool messages carry only the call id.
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &chat.messages {
        let (role, parts) = match message {
            Message::User(parts) => ("user", parts.iter().filter_map(part).collect()),
            Message::Assistant { text, tool_calls } => {
                let mut parts: Vec<Value> = text.iter().map(|t| json!({"text": t})).collect();
                for call in tool_calls {
                    names.insert(call.id, call.name);
                    let mut part =
                        json!({"functionCall": {"name": call.name, "args": call.arguments}});
                    if signature {
                        part["thoughtSignature"] = json!(SKIP_SIGNATURE);
                    }
                    parts.push(part);
                }
                ("model", parts)
            }
            Message::Tool {
                call_id,
                text,
                param,
            } => {
                let name = names.get(call_id).ok_or_else(|| {
                    CompatError::invalid(
                        format!("{param}.tool_call_id"),
                        format!(
                            "tool_call_id `{call_id}` matches no tool call of an earlier assistant message (Gemini needs the function's name)"
                        ),
                    )
                })?;
                let response = function_response(&text.concat());
                (
                    "user",
                    vec![json!({"functionResponse": {"name": name, "response": response}})],
                )
            }
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => turns.push((role, parts)),
        }
    }
    Ok(Value::Array(
        turns
            .into_iter()
            .map(|(role, mut parts)| {
                // Gemini rejects a content without parts.
                if parts.is_empty() {
                    parts.push(json!({"text": ""}));
                }
                json!({"role": role, "parts": parts})
            })
            .collect(),
    ))
}

/// `response` must be a JSON object: an object result is sent as it is, anything else wrapped.
fn function_response(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({"content": text}),
    }
}

fn part(part: &Part<'_>) -> Option<Value> {
    Some(match part {
        Part::Text("") => return None,
        Part::Text(text) => json!({"text": text}),
        Part::Image(Image::Inline { media_type, data }) => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        Part::Image(Image::Remote { url, media_type }) => {
            json!({"fileData": {"mimeType": media_type, "fileUri": url}})
        }
    })
}

fn declaration(tool: &super::Tool<'_>) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(tool.name));
    if let Some(description) = tool.description {
        out.insert("description".into(), json!(description));
    }
    if let Some(parameters) = tool.parameters.map(schema::gemini)
        && !schema::is_empty_object(&parameters)
    {
        out.insert("parameters".into(), parameters);
    }
    Value::Object(out)
}

fn tool_config(choice: Option<ToolChoice<'_>>) -> Option<Value> {
    let config = match choice? {
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    };
    Some(json!({"functionCallingConfig": config}))
}

fn generation_config(chat: &Chat<'_>) -> Map<String, Value> {
    let mut config = Map::new();
    if !chat.stop.is_empty() {
        config.insert("stopSequences".into(), json!(chat.stop));
    }
    let numbers = [
        ("temperature", chat.temperature),
        ("topP", chat.top_p),
        ("presencePenalty", chat.presence_penalty),
        ("frequencyPenalty", chat.frequency_penalty),
        ("seed", chat.seed),
    ];
    for (key, value) in numbers {
        if let Some(value) = value {
            config.insert(key.into(), Value::Number(value.clone()));
        }
    }
    if let Some(max) = chat.max_tokens {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if let Some(n) = chat.n {
        config.insert("candidateCount".into(), json!(n));
    }
    match chat.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::JsonObject | ResponseFormat::JsonSchema { schema: None } => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        ResponseFormat::JsonSchema {
            schema: Some(response_schema),
        } => {
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseSchema".into(), schema::gemini(response_schema));
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_sent_from_gemini_3_on() {
        assert!(needs_signature("gemini-3-pro-preview"));
        assert!(needs_signature("gemini-3.1-flash"));
        assert!(needs_signature("gemini-10-ultra"));
        assert!(!needs_signature("gemini-2.5-flash"));
        assert!(!needs_signature("gemini-1.5-pro"));
        assert!(!needs_signature("gemma-3-27b-it"));
        assert!(!needs_signature("gemini-exp-1206"));
    }

    #[test]
    fn the_model_must_be_one_path_segment() {
        assert_eq!(
            path_model("models/gemini-2.5-flash"),
            Ok("gemini-2.5-flash")
        );
        for bad in [
            "",
            "..",
            ".x",
            "a/b",
            "x:streamGenerateContent",
            "a?b",
            "..%2f",
            "a b",
        ] {
            assert!(path_model(bad).is_err(), "{bad}");
        }
    }
}
