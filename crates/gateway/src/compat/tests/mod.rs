//! Table-driven tests of the translation: fixture files in, expected JSON or SSE out.

mod mock;
mod request;
mod response;
mod stream;

use serde_json::Value;

use super::Dialect;

fn dialect(name: &str) -> Dialect {
    match name {
        "anthropic" => Dialect::Anthropic,
        "gemini" => Dialect::Gemini,
        "openai" => Dialect::OpenAi,
        other => panic!("unknown dialect {other} in a fixture"),
    }
}

/// Every path at which `actual` and `expected` differ, e.g. `messages[1].content[0].text`.
fn differences(path: &str, actual: &Value, expected: &Value, out: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, expected) in e {
                let path = format!("{path}.{key}");
                match a.get(key) {
                    Some(actual) => differences(&path, actual, expected, out),
                    None => out.push(format!("{path}: missing, expected {expected}")),
                }
            }
            for (key, actual) in a {
                if !e.contains_key(key) {
                    out.push(format!("{path}.{key}: unexpected {actual}"));
                }
            }
        }
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => {
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                differences(&format!("{path}[{i}]"), a, e, out);
            }
        }
        _ if actual != expected => out.push(format!("{path}: got {actual}, expected {expected}")),
        _ => {}
    }
}

/// Compares field by field, so a failure names every field that is off.
fn assert_json(case: &str, actual: &Value, expected: &Value) {
    let mut out = Vec::new();
    differences("", actual, expected, &mut out);
    assert!(
        out.is_empty(),
        "{case}: {} field(s) differ:\n  {}\nwhole output: {actual}",
        out.len(),
        out.join("\n  ")
    );
}

fn cases(json: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(json)
        .expect("fixture is JSON")
        .as_array()
        .expect("fixture is an array of cases")
        .clone()
}
