//! OpenAI wire format: chat completions (plain and SSE), embeddings, Responses and model list.

use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::reply::{CREATED, Ctx, Reply, fnv1a, text_of, words};
use crate::respond;

const EMBEDDING_DIMS: usize = 8;

/// A model named like Llama Guard (`llama-guard-3-8b`, `@cf/meta/llama-guard-3-8b`) answers as
/// Llama Guard does: `safe`, or `unsafe` and the categories that the last message names with
/// `UNSAFE-<category>` words (`UNSAFE-S1 UNSAFE-S10` → `unsafe\nS1,S10`). Tests steer a
/// guardrail classifier through the text they send.
pub(crate) const LLAMA_GUARD_MARKER: &str = "UNSAFE-";

fn is_llama_guard(model: &str) -> bool {
    model.to_ascii_lowercase().contains("llama-guard")
}

/// Llama Guard's answer to the conversation's last message.
fn llama_guard_verdict(request: &Value) -> String {
    let last = request["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .map(|message| text_of(&message["content"]))
        .unwrap_or_default();
    let categories: Vec<&str> = last
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .filter_map(|word| word.strip_prefix(LLAMA_GUARD_MARKER))
        .filter(|category| !category.is_empty())
        .collect();
    match categories.is_empty() {
        true => "safe".to_owned(),
        false => format!("unsafe\n{}", categories.join(",")),
    }
}

/// A chat completion whose message is `content` (a Llama Guard verdict, or any answer a test
/// wants a classifier to give: [`crate::Behavior::chat_answer`]).
pub(crate) fn chat_answer_body(model: &str, content: &str) -> Value {
    json!({
        "id": "chatcmpl-guard",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    })
}

pub(crate) fn chat(ctx: &Ctx) -> Response {
    if is_llama_guard(ctx.model()) && !ctx.streaming() {
        let verdict = llama_guard_verdict(&ctx.json);
        return respond::ok(&chat_answer_body(ctx.model(), &verdict));
    }
    let mut prompt_words = 0;
    let mut last_user = String::new();
    for message in ctx.json["messages"].as_array().into_iter().flatten() {
        let text = text_of(&message["content"]);
        prompt_words += words(&text);
        if message["role"] == "user" {
            last_user = text;
        }
    }
    let reply = Reply::new(prompt_words, &last_user);
    let id = ctx.id("chatcmpl-");
    let model = ctx.model();
    let usage = json!({
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.total_tokens(),
        "prompt_tokens_details": {"cached_tokens": ctx.cached},
    });
    if let Some(name) = tool_to_call(&ctx.json) {
        return tool_call(ctx, &id, model, &name, &last_user, &usage);
    }
    if !ctx.streaming() {
        return respond::ok(&json!({
            "id": id,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage,
        }));
    }

    let include_usage = ctx.json["stream_options"]["include_usage"] == true;
    let chunk = |delta: Value, finish: Value| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        // Like OpenAI: with include_usage every chunk carries `usage`, null until the last.
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        respond::data(&chunk)
    };
    let mut events: Vec<Bytes> = reply
        .chunks()
        .into_iter()
        .enumerate()
        .map(|(i, word)| {
            let delta = if i == 0 {
                json!({"role": "assistant", "content": word})
            } else {
                json!({"content": word})
            };
            chunk(delta, Value::Null)
        })
        .collect();
    events.push(chunk(json!({}), json!("stop")));
    if include_usage {
        events.push(respond::data(&json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [],
            "usage": usage,
        })));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    respond::sse(events, ctx.behavior)
}

/// The first tool's name, when the request offers tools and is not answering a tool call:
/// then the mock calls that tool (deterministically) instead of answering in text.
fn tool_to_call(request: &Value) -> Option<String> {
    let answering = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .is_some_and(|last| last["role"] == "tool");
    if answering {
        return None;
    }
    request["tools"][0]["function"]["name"]
        .as_str()
        .map(str::to_owned)
}

fn tool_call(
    ctx: &Ctx,
    id: &str,
    model: &str,
    name: &str,
    question: &str,
    usage: &Value,
) -> Response {
    let call_id = ctx.id("call_");
    let arguments = json!({"query": question}).to_string();
    if !ctx.streaming() {
        return respond::ok(&json!({
            "id": id,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                ]},
                "logprobs": null,
                "finish_reason": "tool_calls",
            }],
            "usage": usage,
        }));
    }
    let include_usage = ctx.json["stream_options"]["include_usage"] == true;
    let chunk = |delta: Value, finish: Value| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        respond::data(&chunk)
    };
    let (first, second) = arguments.split_at(arguments.len() / 2);
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        ]}),
        Value::Null,
    )];
    for piece in [first, second] {
        events.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
            Value::Null,
        ));
    }
    events.push(chunk(json!({}), json!("tool_calls")));
    if include_usage {
        events.push(respond::data(&json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": [],
            "usage": usage,
        })));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    respond::sse(events, ctx.behavior)
}

pub(crate) fn embeddings(ctx: &Ctx) -> Response {
    let input = &ctx.json["input"];
    // A batch is an array of strings or of token arrays; anything else is a single input.
    let inputs: Vec<&Value> = match input.as_array() {
        Some(items) if items.iter().all(|i| i.is_string() || i.is_array()) => {
            items.iter().collect()
        }
        _ => vec![input],
    };
    let base64 = ctx.json["encoding_format"] == "base64";
    let mut prompt_words = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            prompt_words += match input {
                Value::String(s) => words(s),
                Value::Array(tokens) => tokens.len() as u64,
                _ => 0,
            };
            let vector = embedding(input);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64_encode(&bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let prompt_tokens = prompt_words.max(1);
    respond::ok(&json!({
        "object": "list",
        "data": data,
        "model": ctx.model(),
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }))
}

/// Values in [-1, 1) derived from the input's hash; f32 so the base64 form round-trips exactly.
fn embedding(input: &Value) -> [f32; EMBEDDING_DIMS] {
    let hash = fnv1a(input.to_string().as_bytes());
    let mut vector = [0.0; EMBEDDING_DIMS];
    for (v, byte) in vector.iter_mut().zip(hash.to_le_bytes()) {
        *v = f32::from(byte) / 128.0 - 1.0;
    }
    vector
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn responses(ctx: &Ctx) -> Response {
    let mut prompt_words = words(ctx.json["instructions"].as_str().unwrap_or(""));
    let mut last_user = String::new();
    match &ctx.json["input"] {
        Value::String(s) => {
            prompt_words += words(s);
            last_user.clone_from(s);
        }
        Value::Array(items) => {
            for item in items {
                let text = text_of(&item["content"]);
                prompt_words += words(&text);
                // Items without a role are input messages from the user too.
                if item["role"] == "user" || (item["role"].is_null() && item["content"].is_string())
                {
                    last_user = text;
                }
            }
        }
        _ => {}
    }
    let reply = Reply::new(prompt_words, &last_user);
    let id = ctx.id("resp_");
    let item_id = ctx.id("msg_");
    let response = |status: &str, text: &str, usage: Value| {
        let output = if text.is_empty() {
            json!([])
        } else {
            json!([{
                "type": "message",
                "id": item_id,
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }])
        };
        json!({
            "id": id,
            "object": "response",
            "created_at": CREATED,
            "status": status,
            "model": ctx.model(),
            "output": output,
            "usage": usage,
        })
    };
    let usage = json!({
        "input_tokens": reply.prompt_tokens,
        "input_tokens_details": {"cached_tokens": ctx.cached},
        "output_tokens": reply.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.total_tokens(),
    });
    let done = response("completed", &reply.text, usage);
    if !ctx.streaming() {
        return respond::ok(&done);
    }

    // OpenAI's sequence: the item and its content part open before the text deltas and close
    // after them (the SDK's stream helper needs each item announced before its deltas).
    let mut events: Vec<Bytes> = Vec::new();
    let push = |events: &mut Vec<Bytes>, mut data: Value| {
        data["sequence_number"] = json!(events.len());
        let name = data["type"].as_str().unwrap_or_default().to_owned();
        events.push(respond::event(&name, &data));
    };
    push(
        &mut events,
        json!({"type": "response.created", "response": response("in_progress", "", Value::Null)}),
    );
    let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": []});
    let item = |status: &str, content: Value| json!({"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content});
    push(
        &mut events,
        json!({"type": "response.output_item.added", "output_index": 0, "item": item("in_progress", json!([]))}),
    );
    push(
        &mut events,
        json!({"type": "response.content_part.added", "item_id": item_id, "output_index": 0,
            "content_index": 0, "part": part("")}),
    );
    for word in reply.chunks() {
        push(
            &mut events,
            json!({"type": "response.output_text.delta", "item_id": item_id, "output_index": 0,
                "content_index": 0, "delta": word}),
        );
    }
    push(
        &mut events,
        json!({"type": "response.output_text.done", "item_id": item_id, "output_index": 0,
            "content_index": 0, "text": reply.text}),
    );
    push(
        &mut events,
        json!({"type": "response.content_part.done", "item_id": item_id, "output_index": 0,
            "content_index": 0, "part": part(&reply.text)}),
    );
    push(
        &mut events,
        json!({"type": "response.output_item.done", "output_index": 0,
            "item": item("completed", json!([part(&reply.text)]))}),
    );
    events.push(respond::event(
        "response.completed",
        &json!({"type": "response.completed", "sequence_number": events.len(), "response": done}),
    ));
    respond::sse(events, ctx.behavior)
}

pub(crate) fn models() -> Response {
    let data: Vec<Value> = [
        "gpt-4o-mini",
        "gpt-4o",
        "text-embedding-3-small",
        "mock-model",
    ]
    .iter()
    .map(|id| json!({"id": id, "object": "model", "created": CREATED, "owned_by": "tollgate-mock"}))
    .collect();
    respond::ok(&json!({"object": "list", "data": data}))
}

#[cfg(test)]
mod tests {
    use super::base64_encode;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
    }
}
