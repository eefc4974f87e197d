//! A dataset's body (`{name, enable, filters}`) checked once, whether it comes from a client or
//! from the store, so an evaluation reads exactly the filters that were accepted.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::gateways::FieldError;

/// Cloudflare's dataset filter keys: a subset of the logs API's.
pub const DATASET_KEYS: [&str; 13] = [
    "created_at",
    "request_content_type",
    "response_content_type",
    "success",
    "cached",
    "provider",
    "model",
    "cost",
    "tokens",
    "tokens_in",
    "tokens_out",
    "duration",
    "feedback",
];
const OPERATORS: [&str; 4] = ["eq", "contains", "lt", "gt"];
pub const MAX_FILTERS: usize = 20;
pub const MAX_VALUES: usize = 20;
pub const MAX_NAME_CHARS: usize = 256;

/// One filter as the client wrote it (key and operator checked; values typed by the logs query).
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetFilter {
    pub key: String,
    pub operator: String,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub enable: bool,
    pub filters: Vec<DatasetFilter>,
}

impl Dataset {
    /// A create or replace body: `name`, `enable` and `filters` are all required, as in
    /// Cloudflare's API. `check` judges a filter's values (the logs API's typing). Every problem
    /// is reported, each naming its field.
    pub fn parse(
        body: &Map<String, Value>,
        check: impl Fn(&DatasetFilter) -> Result<(), String>,
    ) -> Result<Dataset, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: Cow<'static, str>, message: String| {
            errors.push(FieldError { field, message });
        };
        let name = match body.get("name") {
            Some(Value::String(name))
                if !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS =>
            {
                name.clone()
            }
            _ => {
                fail(
                    "name".into(),
                    format!("required, a string of 1-{MAX_NAME_CHARS} characters"),
                );
                String::new()
            }
        };
        let enable = match body.get("enable") {
            Some(Value::Bool(enable)) => *enable,
            _ => {
                fail("enable".into(), "required, true or false".into());
                false
            }
        };
        let mut filters = Vec::new();
        match body.get("filters") {
            Some(Value::Array(items)) if items.len() <= MAX_FILTERS => {
                for (i, item) in items.iter().enumerate() {
                    match filter(item).and_then(|f| check(&f).map(|()| f)) {
                        Ok(filter) => filters.push(filter),
                        Err(message) => fail(format!("filters[{i}]").into(), message),
                    }
                }
            }
            Some(Value::Array(_)) => {
                fail("filters".into(), format!("at most {MAX_FILTERS} filters"))
            }
            _ => fail(
                "filters".into(),
                "required, a list of {key, operator, value} filters".into(),
            ),
        }
        if errors.is_empty() {
            Ok(Dataset {
                name,
                enable,
                filters,
            })
        } else {
            Err(errors)
        }
    }

    /// The body as stored and as the API shows it (without id and times).
    pub fn to_json(&self) -> Map<String, Value> {
        let filters: Vec<Value> = self
            .filters
            .iter()
            .map(|f| json!({"key": f.key, "operator": f.operator, "value": f.values}))
            .collect();
        let mut body = Map::new();
        body.insert("name".into(), Value::String(self.name.clone()));
        body.insert("enable".into(), Value::Bool(self.enable));
        body.insert("filters".into(), Value::Array(filters));
        body
    }

    /// Whether `search` (case-insensitive) is in the name or a filter's key or values.
    pub fn matches_search(&self, search: &str) -> bool {
        let search = search.to_lowercase();
        self.name.to_lowercase().contains(&search)
            || self.filters.iter().any(|f| {
                f.key.contains(&search)
                    || f.values
                        .iter()
                        .any(|v| v.to_string().to_lowercase().contains(&search))
            })
    }
}

fn filter(item: &Value) -> Result<DatasetFilter, String> {
    let Some(item) = item.as_object() else {
        return Err("must be an object {key, operator, value}".into());
    };
    let key = match item.get("key").and_then(Value::as_str) {
        Some(key) if DATASET_KEYS.contains(&key) => key.to_owned(),
        Some(key) => {
            return Err(format!(
                "unknown key `{key}` (one of {})",
                DATASET_KEYS.join(", ")
            ));
        }
        None => return Err("key: required".into()),
    };
    let operator = match item.get("operator").and_then(Value::as_str) {
        Some(op) if OPERATORS.contains(&op) => op.to_owned(),
        Some(op) => {
            return Err(format!(
                "`{key}` has unknown operator `{op}` ({})",
                OPERATORS.join(", ")
            ));
        }
        None => return Err(format!("`{key}` has no operator")),
    };
    let values = match item.get("value") {
        Some(Value::Array(values)) if (1..=MAX_VALUES).contains(&values.len()) => values.clone(),
        // One value on its own is taken as a list of one.
        Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            vec![value.clone()]
        }
        _ => return Err(format!("`{key}` needs 1-{MAX_VALUES} values")),
    };
    Ok(DatasetFilter {
        key,
        operator,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(_: &DatasetFilter) -> Result<(), String> {
        Ok(())
    }

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_dataset_round_trips_through_its_json() {
        let dataset = Dataset::parse(
            &body(json!({
                "name": "slow gpt",
                "enable": true,
                "filters": [
                    {"key": "model", "operator": "eq", "value": ["gpt-4o"]},
                    {"key": "duration", "operator": "gt", "value": [1000]},
                ],
            })),
            accept,
        )
        .expect("valid");
        assert_eq!(dataset.filters.len(), 2);
        assert_eq!(
            Dataset::parse(&dataset.to_json(), accept),
            Ok(dataset.clone())
        );
        assert!(dataset.matches_search("GPT"));
        assert!(dataset.matches_search("duration"));
        assert!(!dataset.matches_search("claude"));
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let errors = Dataset::parse(
            &body(json!({
                "name": "",
                "filters": [
                    {"key": "modle", "operator": "eq", "value": ["x"]},
                    {"key": "cost", "operator": "neq", "value": [1]},
                    {"key": "cost", "operator": "gt", "value": []},
                    "cost > 1",
                ],
            })),
            accept,
        )
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_ref()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "enable",
                "filters[0]",
                "filters[1]",
                "filters[2]",
                "filters[3]"
            ]
        );
        assert!(errors[2].message.contains("unknown key `modle`"));
        let too_many = vec![json!({"key": "cached", "operator": "eq", "value": [true]}); 21];
        let errors = Dataset::parse(
            &body(json!({"name": "n", "enable": false, "filters": too_many})),
            accept,
        )
        .expect_err("too many");
        assert_eq!(errors[0].field, "filters");
    }
}
