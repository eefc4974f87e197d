use serde_json::{Value, json};

use super::*;

fn events(sse: &[u8]) -> Vec<(String, Value)> {
    String::from_utf8_lossy(sse)
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            (
                name.strip_prefix("event: ").unwrap().to_owned(),
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_messages_request_becomes_chat_completions() {
    let request = json!({
        "model": "openai/gpt-4o",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        "stop_sequences": ["END"],
        "temperature": 0.3,
        "top_k": 5,
        "stream": true,
        "metadata": {"user_id": "u1"},
        "tools": [{"name": "weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
                {"type": "text", "text": "Thanks"}
            ]}
        ]
    });
    let chat = to_chat(&request, "gpt-4o", MaxTokens::MaxCompletionTokens).unwrap();
    assert_eq!(
        chat,
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief.\nBe kind."},
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather in Paris?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
                {"role": "user", "content": "Thanks"}
            ],
            "max_completion_tokens": 100,
            "temperature": 0.3,
            "stop": ["END"],
            "user": "u1",
            "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
}

#[test]
fn what_has_no_chat_form_is_refused() {
    let server_tool = json!({"max_tokens": 1, "messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
    let error = to_chat(&server_tool, "m", MaxTokens::MaxTokens).unwrap_err();
    assert_eq!(error.param(), Some("tools[0].type"));
    let body: Value = serde_json::from_slice(&error.to_anthropic_body()).unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let document = json!({"max_tokens": 1, "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]});
    assert!(to_chat(&document, "m", MaxTokens::MaxTokens).is_err());
    assert!(to_chat(&json!({"messages": "x"}), "m", MaxTokens::MaxTokens).is_err());
}

#[test]
fn a_chat_completion_becomes_a_message() {
    let chat = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Let me look.",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]
        }}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 4}}
    });
    let message: Value =
        serde_json::from_slice(&to_message(200, chat.to_string().as_bytes())).unwrap();
    assert_eq!(
        message,
        json!({
            "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt-4o",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 6, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4}
        })
    );
    let error: Value = serde_json::from_slice(&to_message(
        429,
        br#"{"error":{"message":"Slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
    ))
    .unwrap();
    assert_eq!(
        error,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}})
    );
}

const TEXT_AND_TOOL: &str = concat!(
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":7,\"total_tokens\":16}}\n\n",
    "data: [DONE]\n\n",
);

#[test]
fn a_chat_stream_becomes_anthropic_events_however_it_is_cut() {
    let mut whole = None;
    for cut in [1, 5, 33, 10_000] {
        let mut stream = MessagesStream::new("gpt-4o", "seed");
        let mut out = Vec::new();
        for piece in TEXT_AND_TOOL.as_bytes().chunks(cut) {
            out.extend_from_slice(&stream.push(piece));
        }
        out.extend_from_slice(&stream.finish());
        match &whole {
            None => whole = Some(out),
            Some(whole) => assert_eq!(&out, whole, "cut {cut}"),
        }
    }
    let events = events(&whole.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events[0].1["message"]["id"], "c1");
    assert_eq!(events[0].1["message"]["model"], "gpt-4o");
    assert_eq!(
        events[3].1["delta"],
        json!({"type": "text_delta", "text": " there"})
    );
    assert_eq!(
        events[5].1["content_block"],
        json!({"type": "tool_use", "id": "call_1", "name": "weather", "input": {}})
    );
    assert_eq!(events[5].1["index"], 1);
    assert_eq!(
        events[7].1["delta"],
        json!({"type": "input_json_delta", "partial_json": "\"Paris\"}"})
    );
    assert_eq!(events[9].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[9].1["usage"]["input_tokens"], 9);
    assert_eq!(events[9].1["usage"]["output_tokens"], 7);
}

#[test]
fn a_cut_stream_gets_no_end_and_an_error_event_ends_it() {
    let mut stream = MessagesStream::new("m", "seed");
    let mut out = stream
        .push(
            b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        )
        .to_vec();
    out.extend_from_slice(&stream.finish());
    assert!(!String::from_utf8_lossy(&out).contains("message_stop"));

    let mut stream = MessagesStream::new("m", "seed");
    let out = stream.push(b"data: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n");
    let events = events(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "error");
    assert_eq!(events[0].1["error"]["message"], "boom");
}
