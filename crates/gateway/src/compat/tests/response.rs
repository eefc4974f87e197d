//! Complete responses: provider JSON (successes and real error shapes) in, OpenAI JSON out.

use serde_json::Value;

use super::{assert_json, cases, dialect};
use crate::compat::openai::fnv1a;
use crate::compat::{Dialect, translate_response, translate_response_full};

#[test]
fn response_table() {
    let cases = cases(include_str!("../fixtures/responses.json"));
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let dialect = dialect(case["dialect"].as_str().unwrap());
        let model = case["model"].as_str().unwrap();
        let status = u16::try_from(case["status"].as_u64().unwrap()).unwrap();
        let body = match case["raw"].as_str() {
            Some(raw) => raw.as_bytes().to_vec(),
            None => serde_json::to_vec(&case["body"]).unwrap(),
        };
        let translated = translate_response_full(dialect, model, status, &body, 0);
        assert_eq!(
            u64::from(translated.status),
            case["expected_status"].as_u64().unwrap(),
            "{name}: status"
        );
        // The plain API gives the same body.
        assert_eq!(
            translate_response(dialect, model, status, &body),
            translated.body,
            "{name}"
        );
        if let Some(raw) = case["expected_raw"].as_str() {
            assert_eq!(
                std::str::from_utf8(&translated.body).unwrap(),
                raw,
                "{name}"
            );
            continue;
        }
        let mut expected = case["expected"].clone();
        if expected["id"] == "chatcmpl-FNV" {
            expected["id"] = Value::from(format!("chatcmpl-{:016x}", fnv1a(&body)));
        }
        let actual: Value = serde_json::from_slice(&translated.body)
            .unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        assert_json(name, &actual, &expected);
    }
}

#[test]
fn a_completion_is_written_in_openai_field_order() {
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}"#;
    let out = translate_response(Dialect::Anthropic, "claude", 200, body);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"id":"msg_1","object":"chat.completion","created":0,"model":"claude","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}"#
    );
}

#[test]
fn created_comes_from_the_caller_unless_the_provider_has_a_time() {
    let anthropic = br#"{"id":"msg_1","model":"m","content":[],"stop_reason":"end_turn"}"#;
    let out = translate_response_full(Dialect::Anthropic, "m", 200, anthropic, 1_700_000_123);
    let json: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(json["created"], 1_700_000_123);

    let gemini = br#"{"candidates":[],"createTime":"2025-01-01T00:00:00Z"}"#;
    let out = translate_response_full(Dialect::Gemini, "g", 200, gemini, 1_700_000_123);
    let json: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(json["created"], 1_735_689_600);
}

#[test]
fn the_same_bytes_give_the_same_output() {
    let body = br#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"b":1,"a":2}}}]},"finishReason":"STOP"}]}"#;
    let first = translate_response(Dialect::Gemini, "g", 200, body);
    for _ in 0..3 {
        assert_eq!(translate_response(Dialect::Gemini, "g", 200, body), first);
    }
    // Argument keys keep the provider's order.
    let json: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(
        json["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"b":1,"a":2}"#
    );
}

#[test]
fn a_long_non_json_error_is_cut_on_a_character_boundary() {
    let body = "é".repeat(2000);
    let out = translate_response(Dialect::Gemini, "g", 502, body.as_bytes());
    let json: Value = serde_json::from_slice(&out).unwrap();
    let message = json["error"]["message"].as_str().unwrap();
    assert_eq!(message.len(), 1024);
    assert!(message.chars().all(|c| c == 'é'));
}
