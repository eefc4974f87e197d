//! Gemini wire format: `models/{model}:generateContent` and `:streamGenerateContent`.

use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::reply::{Ctx, Reply, text_of, words};
use crate::respond;

/// Splits `/v1beta/models/{model}:{method}` (or `/v1/...`). The colon sits inside the last
/// path segment, which is why this is parsed by hand rather than routed.
pub(crate) fn parse_path(path: &str) -> Option<(&str, &str)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, method) = rest.split_once(':')?;
    (!model.is_empty() && !model.contains('/')).then_some((model, method))
}

pub(crate) fn generate(ctx: &Ctx, model: &str) -> Response {
    let reply = reply(ctx);
    if let Some(call) = function_call(&ctx.json) {
        return respond::ok(&call_chunk(ctx, model, &reply, call));
    }
    respond::ok(&chunk(ctx, model, &reply, &reply.text, true))
}

/// A call of the first declared function, when the request declares functions and is not
/// answering a call: then the mock calls it (deterministically) instead of answering in text.
fn function_call(request: &Value) -> Option<Value> {
    let contents = request["contents"].as_array()?;
    let answering = contents.last().is_some_and(|last| {
        last["parts"]
            .as_array()
            .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()))
    });
    if answering {
        return None;
    }
    let name = request["tools"][0]["functionDeclarations"][0]["name"].as_str()?;
    let question = contents
        .last()
        .map(|c| text_of(&c["parts"]))
        .unwrap_or_default();
    Some(json!({"name": name, "args": {"query": question}}))
}

fn call_chunk(ctx: &Ctx, model: &str, reply: &Reply, call: Value) -> Value {
    let mut chunk = chunk(ctx, model, reply, "", true);
    chunk["candidates"][0]["content"]["parts"] = json!([{"functionCall": call}]);
    chunk
}

/// With `alt=sse` one `data:` event per word; without it Gemini answers a JSON array of the
/// same chunks, sent whole.
pub(crate) fn stream(ctx: &Ctx, model: &str, sse: bool) -> Response {
    let reply = reply(ctx);
    if let Some(call) = function_call(&ctx.json) {
        let chunk = call_chunk(ctx, model, &reply, call);
        return if sse {
            respond::sse(
                vec![Bytes::from(format!("data: {chunk}\r\n\r\n"))],
                ctx.behavior,
            )
        } else {
            respond::ok(&Value::Array(vec![chunk]))
        };
    }
    let words = reply.chunks();
    let last = words.len().saturating_sub(1);
    let chunks = words
        .iter()
        .enumerate()
        .map(|(i, word)| chunk(ctx, model, &reply, word, i == last));
    if sse {
        let events = chunks
            .map(|c| Bytes::from(format!("data: {c}\r\n\r\n")))
            .collect();
        respond::sse(events, ctx.behavior)
    } else {
        respond::ok(&Value::Array(chunks.collect()))
    }
}

fn reply(ctx: &Ctx) -> Reply {
    let mut prompt_words = words(&text_of(&ctx.json["systemInstruction"]["parts"]));
    let mut last_user = String::new();
    for content in ctx.json["contents"].as_array().into_iter().flatten() {
        let text = text_of(&content["parts"]);
        prompt_words += words(&text);
        if content["role"] == "user" || content["role"].is_null() {
            last_user = text;
        }
    }
    Reply::new(prompt_words, &last_user)
}

/// A response (or stream chunk) carrying `text`; the final one has finishReason and usage.
fn chunk(ctx: &Ctx, model: &str, reply: &Reply, text: &str, last: bool) -> Value {
    let mut candidate =
        json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
    let mut chunk = json!({"modelVersion": model, "responseId": ctx.id("")});
    if last {
        candidate["finishReason"] = json!("STOP");
        chunk["usageMetadata"] = json!({
            "promptTokenCount": reply.prompt_tokens,
            "candidatesTokenCount": reply.completion_tokens,
            "totalTokenCount": reply.total_tokens(),
            "cachedContentTokenCount": ctx.cached,
        });
    }
    chunk["candidates"] = json!([candidate]);
    chunk
}
