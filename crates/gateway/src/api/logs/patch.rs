//! The body of `PATCH …/logs/{log_id}`: `feedback`, `score` and `metadata`, each optional,
//! `null` clearing. Metadata is checked by the `cf-aig-metadata` header's validator.

use serde_json::{Map, Value};

use crate::gateways::FieldError;
use crate::proxy::validate_metadata;
use crate::store::logs::LogPatch;

/// Every invalid field is reported, each naming its field. Unknown fields are ignored.
pub(super) fn parse(body: &Map<String, Value>) -> Result<LogPatch, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut patch = LogPatch::default();
    let mut fail = |field: &'static str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };
    match body.get("feedback") {
        None => {}
        Some(Value::Null) => patch.feedback = Some(None),
        // The SDKs send numbers as floats (`1.0`); only the two thumbs are feedback. `0` is
        // thumbs down as Cloudflare's Workers binding and its list filter write it.
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => patch.feedback = Some(Some(1)),
        Some(Value::Number(n)) if matches!(n.as_f64(), Some(-1.0 | 0.0)) => {
            patch.feedback = Some(Some(-1));
        }
        Some(_) => fail("feedback", "must be -1 (or 0), 1 or null".into()),
    }
    match body.get("score") {
        None => {}
        Some(Value::Null) => patch.score = Some(None),
        Some(Value::Number(n)) => patch.score = Some(n.as_f64()),
        Some(_) => fail("score", "must be a number or null".into()),
    }
    match body.get("metadata") {
        None => {}
        Some(Value::Null) => patch.metadata = Some(None),
        Some(value) => match metadata(value) {
            Ok(text) => patch.metadata = Some(Some(text)),
            Err(message) => fail("metadata", message),
        },
    }
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(errors)
    }
}

/// A flat object (or its JSON text, as the list returns it) → the JSON text rows keep.
fn metadata(value: &Value) -> Result<String, String> {
    let flat = "must be a flat object or null";
    let object = match value {
        Value::Object(map) => map.clone(),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(flat.into()),
        },
        _ => return Err(flat.into()),
    };
    let kept: Map<String, Value> = validate_metadata(object)?.into_iter().collect();
    Ok(Value::Object(kept).to_string())
}
