//! The body of `PATCH …/logs/{log_id}`: `feedback`, `score` and `metadata`, each optional,
//! `null` clearing. Metadata follows the `cf-aig-metadata` header's rules (SPEC §3).

use serde_json::{Map, Value};

use crate::gateways::FieldError;
use crate::store::logs::LogPatch;

const MAX_METADATA_ENTRIES: usize = 5;
const MAX_METADATA_KEY_BYTES: usize = 64;
const MAX_METADATA_VALUE_BYTES: usize = 512;

/// Every invalid field is reported, each naming its field. Unknown fields are ignored.
pub(super) fn parse(body: &Map<String, Value>) -> Result<LogPatch, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut patch = LogPatch::default();
    let mut fail =
        |field: &'static str, message: String| errors.push(FieldError { field, message });
    match body.get("feedback") {
        None => {}
        Some(Value::Null) => patch.feedback = Some(None),
        // The SDKs send numbers as floats (`1.0`); only the two thumbs are feedback.
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => patch.feedback = Some(Some(1)),
        Some(Value::Number(n)) if n.as_f64() == Some(-1.0) => patch.feedback = Some(Some(-1)),
        Some(_) => fail("feedback", "must be -1, 1 or null".into()),
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
    let parsed;
    let object = match value {
        Value::Object(map) => map,
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok();
            match &parsed {
                Some(Value::Object(map)) => map,
                _ => return Err("must be a flat object or null".into()),
            }
        }
        _ => return Err("must be a flat object or null".into()),
    };
    let mut kept = Map::new();
    for (key, value) in object {
        if key.len() > MAX_METADATA_KEY_BYTES {
            return Err(format!(
                "key `{key}` is longer than {MAX_METADATA_KEY_BYTES} bytes"
            ));
        }
        let size = match value {
            Value::String(s) => s.len(),
            Value::Number(n) => n.to_string().len(),
            Value::Bool(_) => 5,
            _ => {
                return Err(format!(
                    "value of `{key}` must be a string, number or boolean"
                ));
            }
        };
        if size > MAX_METADATA_VALUE_BYTES {
            return Err(format!(
                "value of `{key}` is longer than {MAX_METADATA_VALUE_BYTES} bytes"
            ));
        }
        // As with the header: the first five entries are kept, the rest dropped.
        if kept.len() < MAX_METADATA_ENTRIES {
            kept.insert(key.clone(), value.clone());
        }
    }
    Ok(Value::Object(kept).to_string())
}
