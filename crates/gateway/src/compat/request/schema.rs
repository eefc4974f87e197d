//! JSON Schema → the OpenAPI subset Gemini accepts for function parameters and `responseSchema`.
//!
//! Gemini answers 400 to keys outside its `Schema` object (`additionalProperties`, `$schema`,
//! `strict`, …), so only the keys it knows are kept. Local `$ref`s (what Pydantic emits for
//! nested models) are inlined, since Gemini has no references.

use serde_json::{Map, Value};

/// Keys of Gemini's `Schema` object that carry over unchanged.
const KEPT: &[&str] = &[
    "type",
    "title",
    "description",
    "nullable",
    "enum",
    "required",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "minProperties",
    "maxProperties",
    "propertyOrdering",
    "default",
    "example",
];

/// Gemini refuses every other `format` (`email`, `uri`, …) with a 400.
const FORMATS: &[&str] = &["date-time", "enum", "int32", "int64", "float", "double"];

/// Recursive schemas cannot be inlined; past this depth a reference becomes a bare object.
const MAX_REF_DEPTH: usize = 16;

/// Sanitizes `schema`, resolving `#/$defs/…` and `#/definitions/…` against the schema itself.
pub(crate) fn gemini(schema: &Value) -> Value {
    sanitize(schema, schema, 0)
}

fn sanitize(node: &Value, root: &Value, depth: usize) -> Value {
    let Some(object) = node.as_object() else {
        return node.clone();
    };
    if let Some(target) = object.get("$ref").and_then(Value::as_str) {
        let mut resolved = match resolve(root, target) {
            Some(target) if depth < MAX_REF_DEPTH => sanitize(target, root, depth + 1),
            _ => Value::Object(Map::from_iter([("type".to_owned(), "object".into())])),
        };
        // Siblings of $ref (a field's description) win over the referenced schema's.
        if let (Value::Object(resolved), Value::Object(siblings)) = (
            &mut resolved,
            sanitize(&without(object, "$ref"), root, depth),
        ) {
            resolved.extend(siblings);
        }
        return resolved;
    }
    // `allOf: [X]` is how Pydantic attaches a description to a referenced model.
    if let Some([only]) = object
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        let mut merged = sanitize(only, root, depth);
        if let (Value::Object(merged), Value::Object(siblings)) = (
            &mut merged,
            sanitize(&without(object, "allOf"), root, depth),
        ) {
            merged.extend(siblings);
        }
        return merged;
    }

    let mut out = Map::new();
    for (key, value) in object {
        match key.as_str() {
            "type" => type_field(value, &mut out),
            "format" if value.as_str().is_some_and(|f| FORMATS.contains(&f)) => {
                out.insert(key.clone(), value.clone());
            }
            "const" => {
                out.insert("enum".to_owned(), Value::Array(vec![value.clone()]));
            }
            "properties" => {
                if let Some(properties) = value.as_object().filter(|p| !p.is_empty()) {
                    let properties = properties
                        .iter()
                        .map(|(name, schema)| (name.clone(), sanitize(schema, root, depth)))
                        .collect();
                    out.insert(key.clone(), Value::Object(properties));
                }
            }
            "items" => {
                out.insert(key.clone(), sanitize(value, root, depth));
            }
            // Gemini has anyOf only; oneOf's exclusivity is lost, which only widens what is allowed.
            "anyOf" | "oneOf" => {
                if let Some(options) = value.as_array() {
                    let options = options.iter().map(|o| sanitize(o, root, depth)).collect();
                    out.insert("anyOf".to_owned(), Value::Array(options));
                }
            }
            _ if KEPT.contains(&key.as_str()) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// `type: ["string", "null"]` (JSON Schema) → `type: "string", nullable: true` (OpenAPI).
fn type_field(value: &Value, out: &mut Map<String, Value>) {
    let Some(types) = value.as_array() else {
        out.insert("type".to_owned(), value.clone());
        return;
    };
    let nullable = types.iter().any(|t| t == "null");
    let rest: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
    match rest.as_slice() {
        [] => {}
        [one] => {
            out.insert("type".to_owned(), (*one).clone());
        }
        many => {
            let options = many
                .iter()
                .map(|t| Value::Object(Map::from_iter([("type".to_owned(), (*t).clone())])))
                .collect();
            out.insert("anyOf".to_owned(), Value::Array(options));
        }
    }
    if nullable {
        out.insert("nullable".to_owned(), Value::Bool(true));
    }
}

fn resolve<'a>(root: &'a Value, target: &str) -> Option<&'a Value> {
    let pointer = target.strip_prefix('#')?;
    root.pointer(pointer)
}

fn without(object: &Map<String, Value>, key: &str) -> Value {
    Value::Object(
        object
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// A schema that describes an object with no properties: Gemini rejects such `parameters`
/// ("properties: should be non-empty for OBJECT type"), so the function is declared without them.
pub(crate) fn is_empty_object(schema: &Value) -> bool {
    schema.get("properties").is_none()
        && schema
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t.eq_ignore_ascii_case("object"))
        && schema.get("anyOf").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_go_and_nested_schemas_are_cleaned_too() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "strict": true,
            "properties": {
                "city": {"type": "string", "description": "City", "format": "email", "examples": ["x"]},
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string", "additionalProperties": false}},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
                "either": {"oneOf": [{"type": "integer"}, {"const": "x"}]},
                "empty": {"type": "object", "properties": {}},
            },
            "required": ["city"],
        });
        assert_eq!(
            gemini(&schema),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City"},
                    "when": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "unit": {"type": "string", "nullable": true, "enum": ["c", "f"]},
                    "either": {"anyOf": [{"type": "integer"}, {"enum": ["x"]}]},
                    "empty": {"type": "object"},
                },
                "required": ["city"],
            })
        );
    }

    #[test]
    fn local_refs_are_inlined_and_recursion_is_cut() {
        let schema = json!({
            "$defs": {
                "Point": {"type": "object", "properties": {"x": {"type": "number"}}},
                "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}},
            },
            "type": "object",
            "properties": {
                "at": {"$ref": "#/$defs/Point", "description": "where"},
                "via": {"allOf": [{"$ref": "#/$defs/Point"}], "description": "through"},
                "list": {"$ref": "#/$defs/Node"},
            },
        });
        let out = gemini(&schema);
        assert_eq!(
            out["properties"]["at"],
            json!({"type": "object", "properties": {"x": {"type": "number"}}, "description": "where"})
        );
        assert_eq!(out["properties"]["via"]["description"], "through");
        assert_eq!(
            out["properties"]["via"]["properties"]["x"]["type"],
            "number"
        );
        assert!(out.get("$defs").is_none());
        // 16 levels of Node, then a bare object.
        let mut node = &out["properties"]["list"];
        let mut depth = 0;
        while let Some(next) = node.get("properties").and_then(|p| p.get("next")) {
            node = next;
            depth += 1;
        }
        assert_eq!(depth, MAX_REF_DEPTH);
        assert_eq!(node, &json!({"type": "object"}));
    }

    #[test]
    fn empty_objects_are_recognised() {
        assert!(is_empty_object(&json!({"type": "object"})));
        assert!(is_empty_object(&json!({})));
        assert!(!is_empty_object(
            &json!({"type": "object", "properties": {"a": {}}})
        ));
        assert!(!is_empty_object(&json!({"type": "string"})));
    }
}
