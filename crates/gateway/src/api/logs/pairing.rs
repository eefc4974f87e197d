//! Collecting the `filters…` query parameters into filters, in every form clients send:
//!
//! - repeated dotted keys, interleaved (`filters.key=a&filters.operator=eq&filters.value=x&
//!   filters.key=b…`, the TypeScript SDK's `qs` output): each `key` starts a filter, the
//!   `operator` and `value`s after it are its own;
//! - repeated dotted keys, grouped (`filters.key=a&filters.key=b&filters.operator=eq&
//!   filters.operator=eq&filters.value=x&filters.value=y`, what the Python SDK puts on the wire,
//!   as httpx groups repeated parameters): the i-th key, operator and value go together;
//! - indexed brackets (`filters[0][key]=…&filters[0][value][]=…`);
//! - a JSON array (`filters=[{"key":…,"operator":…,"value":[…]}]`).

use std::collections::BTreeMap;

use serde_json::Value;

/// A filter as it arrived, before validation.
#[derive(Debug, Default)]
pub(super) struct RawFilter {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub values: Vec<Value>,
}

/// One un-indexed parameter: its field (`key`, `operator`, `value`), value and full name.
struct Event {
    field: String,
    value: String,
    name: String,
}

#[derive(Default)]
pub(super) struct FilterParams {
    positional: Vec<Event>,
    indexed: BTreeMap<u64, RawFilter>,
    json: Vec<RawFilter>,
}

impl FilterParams {
    /// Takes the parameter if it is a filter parameter; hands the value back if not.
    pub(super) fn take(&mut self, name: &str, value: String) -> Result<Option<String>, String> {
        if name == "filters" {
            self.json.extend(json_filters(&value)?);
            return Ok(None);
        }
        let Some(rest) = name
            .strip_prefix("filters")
            .filter(|r| r.starts_with('.') || r.starts_with('['))
        else {
            return Ok(Some(value));
        };
        let path = path_segments(rest);
        let first = path.first().map(String::as_str).unwrap_or("");
        let (index, field) = if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
            let index = first
                .parse()
                .map_err(|_| format!("{name}: index too large"))?;
            (Some(index), path.get(1))
        } else if first.is_empty() {
            // `filters[][key]` pairs by position like `filters.key`.
            (None, path.get(1))
        } else {
            (None, path.first())
        };
        let field = field.cloned().unwrap_or_default();
        match index {
            Some(index) => set_field(self.indexed.entry(index).or_default(), &field, value, name)?,
            None => self.positional.push(Event {
                field,
                value,
                name: name.to_owned(),
            }),
        }
        Ok(None)
    }

    /// Every filter taken, positional ones first.
    pub(super) fn finish(self) -> Result<Vec<RawFilter>, String> {
        let mut filters = pair_positional(self.positional)?;
        filters.extend(self.indexed.into_values());
        filters.extend(self.json);
        Ok(filters)
    }
}

/// `.key` → `["key"]`; `[0][value][]` → `["0", "value", ""]`; `.0.key` → `["0", "key"]`.
fn path_segments(rest: &str) -> Vec<String> {
    if let Some(dotted) = rest.strip_prefix('.') {
        // A trailing `[]` on a dotted name (`filters.value[]`) adds nothing.
        let dotted = dotted.split('[').next().unwrap_or("");
        return dotted.split('.').map(str::to_owned).collect();
    }
    rest.split('[')
        .skip(1)
        .map(|s| s.trim_end_matches(']').to_owned())
        .collect()
}

fn pair_positional(events: Vec<Event>) -> Result<Vec<RawFilter>, String> {
    if let Some(bad) = events
        .iter()
        .find(|e| !matches!(e.field.as_str(), "key" | "operator" | "value"))
    {
        return Err(format!(
            "{}: unknown filter field `{}`",
            bad.name, bad.field
        ));
    }
    // Interleaved unless two keys meet with nothing between them (or a key is not first).
    let interleaved = events.first().is_none_or(|e| e.field == "key")
        && events
            .windows(2)
            .all(|w| !(w[0].field == "key" && w[1].field == "key"));
    if interleaved {
        let mut filters: Vec<RawFilter> = Vec::new();
        for event in events {
            if event.field == "key" {
                filters.push(RawFilter::default());
            }
            if let Some(current) = filters.last_mut() {
                set_field(current, &event.field, event.value, &event.name)?;
            }
        }
        return Ok(filters);
    }
    let take = |field: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.value.clone())
            .collect()
    };
    let (keys, operators, values) = (take("key"), take("operator"), take("value"));
    if keys.is_empty() {
        return Err("filters: operator or value without any filters.key".into());
    }
    if operators.len() != keys.len() {
        return Err(format!(
            "filters: {} filters.key but {} filters.operator",
            keys.len(),
            operators.len()
        ));
    }
    let values: Vec<Vec<Value>> = if keys.len() == 1 {
        vec![values.into_iter().map(Value::String).collect()]
    } else if values.len() == keys.len() {
        values.into_iter().map(|v| vec![Value::String(v)]).collect()
    } else {
        return Err(format!(
            "filters: {} filters.key but {} filters.value; when the keys come grouped, each \
             filter takes one value (send several with filters[i][value] or filters=[…] JSON)",
            keys.len(),
            values.len()
        ));
    };
    Ok(keys
        .into_iter()
        .zip(operators)
        .zip(values)
        .map(|((key, operator), values)| RawFilter {
            key: Some(key),
            operator: Some(operator),
            values,
        })
        .collect())
}

fn set_field(filter: &mut RawFilter, field: &str, value: String, name: &str) -> Result<(), String> {
    match field {
        "key" if filter.key.is_none() => filter.key = Some(value),
        "operator" if filter.operator.is_none() => filter.operator = Some(value),
        "key" | "operator" => return Err(format!("{name}: given twice for one filter")),
        "value" => filter.values.push(Value::String(value)),
        _ => return Err(format!("{name}: unknown filter field `{field}`")),
    }
    Ok(())
}

/// `filters=[{"key": …, "operator": …, "value": [...]}, …]` (a single object is accepted too).
fn json_filters(text: &str) -> Result<Vec<RawFilter>, String> {
    let not_filters = || "filters: expected a JSON array of filters".to_owned();
    let items = match serde_json::from_str::<Value>(text).map_err(|_| not_filters())? {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => return Err(not_filters()),
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut map) = item else {
                return Err("filters: each filter must be an object".to_owned());
            };
            let text = |v: Option<Value>, field: &str| match v {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(format!("filters: `{field}` must be a string")),
            };
            Ok(RawFilter {
                key: text(map.remove("key"), "key")?,
                operator: text(map.remove("operator"), "operator")?,
                values: match map.remove("value") {
                    Some(Value::Array(values)) => values,
                    Some(value) => vec![value],
                    None => Vec::new(),
                },
            })
        })
        .collect()
}
