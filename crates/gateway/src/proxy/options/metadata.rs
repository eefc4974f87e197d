//! The one metadata validator: `cf-aig-metadata` and a log's `metadata` update follow the same
//! rules (docs/reliability.md, IN-16), with the limits of the bounds table.

use serde_json::{Map, Value};

use crate::gateways::bounds::{METADATA_ENTRIES, METADATA_KEY_BYTES, METADATA_VALUE_BYTES};

/// A flat object's entries, the first few kept and the rest dropped (as Cloudflare does); a
/// long key or value, or a nested one, is refused with a message naming it.
pub fn validate(object: Map<String, Value>) -> Result<Vec<(String, Value)>, String> {
    let mut kept = Vec::with_capacity(object.len().min(METADATA_ENTRIES));
    for (key, value) in object {
        if key.len() > METADATA_KEY_BYTES {
            return Err(format!(
                "key `{key}` is longer than {METADATA_KEY_BYTES} bytes"
            ));
        }
        let size = match &value {
            Value::String(s) => s.len(),
            Value::Number(n) => n.to_string().len(),
            Value::Bool(_) => 5,
            _ => {
                return Err(format!(
                    "value of `{key}` must be a string, number or boolean"
                ));
            }
        };
        if size > METADATA_VALUE_BYTES {
            return Err(format!(
                "value of `{key}` is longer than {METADATA_VALUE_BYTES} bytes"
            ));
        }
        if kept.len() < METADATA_ENTRIES {
            kept.push((key, value));
        }
    }
    Ok(kept)
}
