//! Anthropic wire format: the Messages API, plain and with its named SSE events.

use axum::response::Response;
use serde_json::{Value, json};

use crate::reply::{Ctx, Reply, text_of, words};
use crate::respond;

pub(crate) fn messages(ctx: &Ctx) -> Response {
    let mut prompt_words = words(&text_of(&ctx.json["system"]));
    let mut last_user = String::new();
    for message in ctx.json["messages"].as_array().into_iter().flatten() {
        let text = text_of(&message["content"]);
        prompt_words += words(&text);
        if message["role"] == "user" {
            last_user = text;
        }
    }
    let reply = Reply::new(prompt_words, &last_user);
    let id = ctx.id("msg_");
    let message = |content: Value, stop_reason: Value, output_tokens: u64| {
        json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": ctx.model(),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                "input_tokens": reply.prompt_tokens,
                "output_tokens": output_tokens,
                "cache_read_input_tokens": ctx.cached,
                "cache_creation_input_tokens": 0,
            },
        })
    };
    if let Some(name) = tool_to_call(&ctx.json) {
        return tool_use(ctx, &reply, &name, &last_user, &message);
    }
    if !ctx.streaming() {
        return respond::ok(&message(
            json!([{"type": "text", "text": reply.text}]),
            json!("end_turn"),
            reply.completion_tokens,
        ));
    }

    let mut events = vec![
        respond::event(
            "message_start",
            &json!({"type": "message_start", "message": message(json!([]), Value::Null, 1)}),
        ),
        respond::event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        respond::event("ping", &json!({"type": "ping"})),
    ];
    for word in reply.chunks() {
        events.push(respond::event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}),
        ));
    }
    events.push(respond::event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(respond::event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": reply.completion_tokens},
        }),
    ));
    events.push(respond::event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    respond::sse(events, ctx.behavior)
}

/// The first tool's name, when the request offers tools and is not answering a tool call:
/// then the mock calls that tool (deterministically) instead of answering in text.
fn tool_to_call(request: &Value) -> Option<String> {
    let answering = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .is_some_and(|last| {
            last["content"]
                .as_array()
                .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
        });
    if answering {
        return None;
    }
    request["tools"][0]["name"].as_str().map(str::to_owned)
}

fn tool_use(
    ctx: &Ctx,
    reply: &Reply,
    name: &str,
    question: &str,
    message: &dyn Fn(Value, Value, u64) -> Value,
) -> Response {
    let id = ctx.id("toolu_");
    let input = json!({"query": question});
    if !ctx.streaming() {
        let block = json!([{"type": "tool_use", "id": id, "name": name, "input": input}]);
        return respond::ok(&message(block, json!("tool_use"), reply.completion_tokens));
    }
    let arguments = input.to_string();
    let (first, second) = arguments.split_at(arguments.len() / 2);
    let mut events = vec![respond::event(
        "message_start",
        &json!({"type": "message_start", "message": message(json!([]), Value::Null, 1)}),
    )];
    events.push(respond::event(
        "content_block_start",
        &json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
    ));
    for piece in [first, second] {
        events.push(respond::event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": piece}}),
        ));
    }
    events.push(respond::event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(respond::event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": reply.completion_tokens}}),
    ));
    events.push(respond::event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    respond::sse(events, ctx.behavior)
}
