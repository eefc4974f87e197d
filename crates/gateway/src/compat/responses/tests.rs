use serde_json::{Value, json};

use super::*;
use crate::compat::messages::MaxTokens;

fn context() -> ResponseContext {
    ResponseContext {
        seed: "seed".to_owned(),
        created_at: 1_800_000_000,
        model: "m".to_owned(),
        echo: echo(&json!({"instructions": "Be brief.", "tools": []})),
    }
}

fn events(sse: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(sse)
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(
                Some(data["type"].as_str().unwrap()),
                name.strip_prefix("event: ")
            );
            data
        })
        .collect()
}

#[test]
fn a_responses_request_becomes_chat_completions() {
    let request = json!({
        "model": "anthropic/claude",
        "instructions": "Be brief.",
        "max_output_tokens": 50,
        "temperature": 0.1,
        "stream": true,
        "store": false,
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": true}},
        "tools": [{"type": "function", "name": "lookup", "description": "Look up", "parameters": {"type": "object"}, "strict": null}],
        "tool_choice": {"type": "function", "name": "lookup"},
        "input": [
            {"role": "developer", "content": "Use tools."},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{\"q\":1}"},
            {"type": "function_call", "call_id": "call_2", "name": "lookup", "arguments": "{\"q\":2}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "one"},
            {"type": "function_call_output", "call_id": "call_2", "output": "two"}
        ]
    });
    let chat = to_chat(&request, "claude", MaxTokens::MaxTokens).unwrap();
    assert_eq!(
        chat,
        json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "system", "content": "Use tools."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":1}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":2}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "one"},
                {"role": "tool", "tool_call_id": "call_2", "content": "two"}
            ],
            "max_tokens": 50,
            "temperature": 0.1,
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
            "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "lookup"}},
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
}

#[test]
fn what_has_no_chat_form_is_refused() {
    for (request, param) in [
        (
            json!({"input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            json!({"input": "x", "tools": [{"type": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
            "input[0].content[0].type",
        ),
        (json!({"input": 3}), "input"),
    ] {
        let error = to_chat(&request, "m", MaxTokens::MaxTokens).unwrap_err();
        assert_eq!(error.param(), Some(param), "{request}");
    }
}

#[test]
fn a_chat_completion_becomes_a_response() {
    let chat = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "claude-x",
        "choices": [{"index": 0, "finish_reason": "length", "message": {
            "role": "assistant", "content": "Partial",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]
        }}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "prompt_tokens_details": {"cached_tokens": 4}}
    });
    let response: Value =
        serde_json::from_slice(&to_response(200, chat.to_string().as_bytes(), &context())).unwrap();
    assert_eq!(response["id"], "resp_seed");
    assert_eq!(response["object"], "response");
    assert_eq!(response["created_at"], 1_800_000_000);
    assert_eq!(response["model"], "claude-x");
    assert_eq!(response["status"], "incomplete");
    assert_eq!(
        response["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(response["instructions"], "Be brief.");
    assert_eq!(
        response["output"],
        json!([
            {"type": "message", "id": "msg_seed", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Partial", "annotations": []}]},
            {"type": "function_call", "id": "fc_call_1", "call_id": "call_1", "name": "lookup", "arguments": "{}", "status": "completed"}
        ])
    );
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15})
    );
    let error: Value = serde_json::from_slice(&to_response(
        401,
        br#"{"type":"error","error":{"type":"authentication_error","message":"bad key"}}"#,
        &context(),
    ))
    .unwrap();
    assert_eq!(error["error"]["message"], "bad key");
}

const TEXT_AND_TOOL: &str = concat!(
    "data: {\"id\":\"c1\",\"created\":1700000000,\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"q\\\":\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":7,\"total_tokens\":16}}\n\n",
    "data: [DONE]\n\n",
);

#[test]
fn a_chat_stream_becomes_response_events_however_it_is_cut() {
    let mut whole = None;
    for cut in [1, 7, 50, 10_000] {
        let mut stream = ResponsesStream::new(context());
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
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], i);
    }
    assert_eq!(events[0]["response"]["status"], "in_progress");
    assert_eq!(events[0]["response"]["created_at"], 1_700_000_000);
    assert_eq!(events[0]["response"]["model"], "gpt-x");
    assert_eq!(events[6]["text"], "Hi there");
    assert_eq!(events[9]["output_index"], 1);
    assert_eq!(events[12]["arguments"], "{\"q\":1}");
    let done = &events[14]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["usage"]["input_tokens"], 9);
    assert_eq!(done["usage"]["output_tokens"], 7);
    assert_eq!(done["output"][0]["content"][0]["text"], "Hi there");
    assert_eq!(done["output"][1]["arguments"], "{\"q\":1}");
}

#[test]
fn a_cut_stream_gets_no_end_and_an_error_fails_it() {
    let mut stream = ResponsesStream::new(context());
    let mut out = stream
        .push(
            b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        )
        .to_vec();
    out.extend_from_slice(&stream.finish());
    assert!(!String::from_utf8_lossy(&out).contains("response.completed"));

    let mut stream = ResponsesStream::new(context());
    let events =
        events(&stream.push(b"data: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n"));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["response"]["error"]["message"], "boom");
}
