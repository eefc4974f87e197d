//! Anthropic's error shape, `{"type":"error","error":{"type","message"}}`, which the Anthropic
//! SDKs read (and `code` with the gateway's code for the gateway's own errors).

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::compat::CompatError;

/// Anthropic's error body; `code` is the gateway's code, when the gateway made the error.
pub fn anthropic_error(kind: &str, message: &str, code: Option<&str>) -> Bytes {
    let mut error = Map::new();
    error.insert("type".to_owned(), json!(kind));
    error.insert("message".to_owned(), json!(message));
    if let Some(code) = code {
        error.insert("code".to_owned(), json!(code));
    }
    let body = json!({"type": "error", "error": Value::Object(error)});
    serde_json::to_vec(&body).map_or_else(|_| Bytes::from_static(b"{}"), Bytes::from)
}

impl CompatError {
    /// A request the translation refused, in Anthropic's shape (400, `invalid_request_error`).
    pub fn to_anthropic_body(&self) -> Bytes {
        anthropic_error("invalid_request_error", &self.to_string(), None)
    }
}
