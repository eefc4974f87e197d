//! What a classifier reads: the text of a request or response body in any provider's format,
//! cut into bounded chunks (docs/guardrails.md, "What is classified").
//!
//! The text is found by key, not by format: every string under a key that carries text
//! (`content`, `text`, …) at any depth, so OpenAI, Anthropic, Gemini, the Responses API and
//! Workers AI bodies all read without a parser each. Images, tool schemas, ids and model names
//! are under other keys and are not read.

use serde_json::Value;

/// Keys whose strings (at any depth below) are a prompt's text.
const PROMPT_KEYS: &[&str] = &[
    "content",
    "text",
    "prompt",
    "input",
    "system",
    "instructions",
];
/// Keys whose strings are a response's text (`delta` and `response`: a stream's pieces,
/// Workers AI's answer).
const RESPONSE_KEYS: &[&str] = &["content", "text", "delta", "response", "output_text"];
/// Stream events that repeat text already sent in deltas (the Responses API).
const REPEATING_EVENTS: &[&str] = &[
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
];

/// The text of a request body; empty when it is not JSON or has none.
pub fn prompt_text(body: &[u8]) -> String {
    let mut out = String::new();
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        collect(&json, PROMPT_KEYS, false, &mut out);
    }
    out
}

/// The text of a response body, a JSON body or a stream of `data:` events.
pub fn response_text(body: &[u8], is_sse: bool) -> String {
    let mut out = String::new();
    if !is_sse {
        if let Ok(json) = serde_json::from_slice::<Value>(body) {
            collect(&json, RESPONSE_KEYS, false, &mut out);
        }
        return out;
    }
    for line in body.split(|b| *b == b'\n') {
        let Some(data) = line.strip_prefix(b"data:") else {
            continue;
        };
        let Ok(event) = serde_json::from_slice::<Value>(data.trim_ascii()) else {
            continue;
        };
        if event["type"]
            .as_str()
            .is_some_and(|kind| REPEATING_EVENTS.contains(&kind))
        {
            continue;
        }
        // Deltas are pieces of one text: joined as they came.
        collect(&event, RESPONSE_KEYS, true, &mut out);
    }
    out
}

/// Adds the strings under `keys` to `out`; `joined`: pieces of one text, not separate texts.
fn collect(value: &Value, keys: &[&str], joined: bool, out: &mut String) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields {
                match inner {
                    Value::String(text) if keys.contains(&key.as_str()) => {
                        if !joined && !out.is_empty() && !text.is_empty() {
                            out.push('\n');
                        }
                        out.push_str(text);
                    }
                    Value::Object(_) | Value::Array(_) => collect(inner, keys, joined, out),
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, keys, joined, out);
            }
        }
        _ => {}
    }
}

/// `text` cut into at most `max_chunks` chunks of at most `chunk_bytes` each, at whitespace
/// when there is some in the chunk's last quarter (else at a character boundary); `true` when
/// text was left over.
pub fn chunks(text: &str, chunk_bytes: usize, max_chunks: usize) -> (Vec<&str>, bool) {
    let chunk_bytes = chunk_bytes.max(4);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if out.len() == max_chunks {
            return (out, true);
        }
        if rest.len() <= chunk_bytes {
            out.push(rest);
            break;
        }
        let mut end = chunk_bytes;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(space) = rest[..end].rfind(char::is_whitespace)
            && space >= end - end / 4
            && space > 0
        {
            end = space;
        }
        out.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (out, false)
}
