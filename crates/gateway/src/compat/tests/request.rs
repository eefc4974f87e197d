//! Requests: OpenAI Chat Completions JSON in, the provider's request out, field by field.

use serde_json::Value;

use super::{assert_json, cases, dialect};
use crate::compat::{CompatError, Dialect, translate_request};

fn run_table(dialect: Dialect, fixture: &str) -> usize {
    let cases = cases(fixture);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let model = case["model"].as_str().unwrap();
        let upstream = translate_request(dialect, model, &case["request"])
            .unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        assert_eq!(
            upstream.path,
            case["path"].as_str().unwrap(),
            "{name}: path"
        );
        let headers: Vec<(String, String)> =
            serde_json::from_value(case["headers"].clone()).unwrap();
        assert_eq!(upstream.extra_headers, headers, "{name}: headers");
        assert_eq!(
            upstream.stream,
            case["stream"].as_bool().unwrap(),
            "{name}: stream"
        );
        let body: Value = serde_json::from_slice(&upstream.body)
            .unwrap_or_else(|e| panic!("{name}: body is not JSON: {e}"));
        assert_json(name, &body, &case["body"]);
    }
    cases.len()
}

#[test]
fn anthropic_request_table() {
    assert!(
        run_table(
            Dialect::Anthropic,
            include_str!("../fixtures/requests_anthropic.json")
        ) >= 10
    );
}

#[test]
fn gemini_request_table() {
    assert!(
        run_table(
            Dialect::Gemini,
            include_str!("../fixtures/requests_gemini.json")
        ) >= 10
    );
}

#[test]
fn openai_request_table() {
    assert!(
        run_table(
            Dialect::OpenAi,
            include_str!("../fixtures/requests_openai.json")
        ) >= 2
    );
}

#[test]
fn invalid_and_unsupported_requests_are_400s_naming_the_field() {
    for case in cases(include_str!("../fixtures/request_errors.json")) {
        let name = case["name"].as_str().unwrap();
        let model = case["model"].as_str().unwrap_or("some-model");
        let error = translate_request(
            dialect(case["dialect"].as_str().unwrap()),
            model,
            &case["request"],
        )
        .err()
        .unwrap_or_else(|| panic!("{name}: was translated"));
        let kind = match error {
            CompatError::Invalid { .. } => "invalid",
            CompatError::Unsupported { .. } => "unsupported",
        };
        assert_eq!(kind, case["kind"].as_str().unwrap(), "{name}: {error}");
        assert_eq!(error.param(), case["param"].as_str(), "{name}: {error}");
        assert_eq!(error.status(), 400);
        let body: Value = serde_json::from_slice(&error.to_body()).unwrap();
        assert_eq!(body["error"]["message"], error.to_string(), "{name}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{name}");
        assert_eq!(body["error"]["param"], case["param"], "{name}");
        let code = if kind == "unsupported" {
            Value::from("unsupported_parameter")
        } else {
            Value::Null
        };
        assert_eq!(body["error"]["code"], code, "{name}");
    }
}

#[test]
fn the_openai_dialect_keeps_field_order_and_values() {
    let raw = r#"{"temperature":0.7,"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"zeta":1}"#;
    let request: Value = serde_json::from_str(raw).unwrap();
    let upstream = translate_request(Dialect::OpenAi, "gpt-4o", &request).unwrap();
    assert_eq!(
        std::str::from_utf8(&upstream.body).unwrap(),
        r#"{"temperature":0.7,"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"zeta":1}"#
    );
}

#[test]
fn the_anthropic_body_reads_in_a_natural_order() {
    let request = serde_json::json!({
        "stream": true, "user": "u", "temperature": 1, "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}], "model": "anthropic/claude"
    });
    let upstream = translate_request(Dialect::Anthropic, "claude", &request).unwrap();
    assert_eq!(
        std::str::from_utf8(&upstream.body).unwrap(),
        r#"{"model":"claude","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"temperature":1,"metadata":{"user_id":"u"},"stream":true}"#
    );
}

#[test]
fn include_usage_is_read_from_stream_options() {
    use crate::compat::include_usage;
    assert!(include_usage(
        &serde_json::json!({"stream_options": {"include_usage": true}})
    ));
    assert!(!include_usage(
        &serde_json::json!({"stream_options": {"include_usage": false}})
    ));
    assert!(!include_usage(&serde_json::json!({"stream": true})));
}
