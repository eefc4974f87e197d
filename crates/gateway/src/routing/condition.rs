//! A conditional element's condition (docs/routing.md, "Conditions"): MongoDB-like operators
//! over the request's `body.*`, `headers.*` and `metadata.*`, parsed and checked once when a
//! version is saved, then evaluated on every request that reaches the element.

use std::borrow::Cow;
use std::cmp::Ordering;

use http::HeaderMap;
use serde_json::{Map, Value};

/// Nesting of `$and` / `$or` / field objects allowed in one condition.
pub const MAX_DEPTH: usize = 16;
/// Values an `$in` / `$nin` list may hold.
pub const MAX_LIST: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Test { field: Field, op: Op },
}

/// Where a value is read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A path into the JSON body (object keys, or array indices).
    Body(Vec<String>),
    /// A header, by its lowercase name; repeated lines are joined with `, `.
    Header(String),
    /// A key of the request's metadata (`cf-aig-metadata`, merged with a run token's).
    Metadata(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Value),
    Ne(Value),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
}

/// What a condition is evaluated against.
pub struct Facts<'a> {
    pub body: &'a Value,
    pub headers: &'a HeaderMap,
    pub metadata: Option<&'a [(String, Value)]>,
}

impl Condition {
    /// Reads a condition; the error says which part is wrong.
    pub fn parse(value: &Value) -> Result<Condition, String> {
        parse_object(value, 0)
    }

    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        match self {
            Condition::All(all) => all.iter().all(|c| c.matches(facts)),
            Condition::Any(any) => any.iter().any(|c| c.matches(facts)),
            Condition::Test { field, op } => op.holds(field.read(facts).as_deref()),
        }
    }
}

fn parse_object(value: &Value, depth: usize) -> Result<Condition, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH}"));
    }
    let Value::Object(map) = value else {
        return Err("a condition must be an object".into());
    };
    if map.is_empty() {
        return Err("a condition must not be empty".into());
    }
    let mut all = Vec::with_capacity(map.len());
    for (key, value) in map {
        match key.as_str() {
            "$and" | "$or" => {
                let Value::Array(items) = value else {
                    return Err(format!("{key}: expected a list of conditions"));
                };
                if items.is_empty() {
                    return Err(format!("{key}: expected at least one condition"));
                }
                let parts = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        parse_object(item, depth + 1).map_err(|why| format!("{key}[{i}]: {why}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                all.push(if key == "$and" {
                    Condition::All(parts)
                } else {
                    Condition::Any(parts)
                });
            }
            other if other.starts_with('$') => {
                return Err(format!(
                    "{other}: unknown operator at the top of a condition (use $and, $or, or a \
                     field such as metadata.plan)"
                ));
            }
            field_name => {
                let field =
                    Field::parse(field_name).map_err(|why| format!("{field_name}: {why}"))?;
                for op in parse_ops(value).map_err(|why| format!("{field_name}: {why}"))? {
                    all.push(Condition::Test {
                        field: field.clone(),
                        op,
                    });
                }
            }
        }
    }
    Ok(if all.len() == 1 {
        all.remove(0)
    } else {
        Condition::All(all)
    })
}

/// A field's operators: `{"$gt": 1, "$lt": 5}`, or a bare value meaning `$eq`.
fn parse_ops(value: &Value) -> Result<Vec<Op>, String> {
    let Value::Object(map) = value else {
        return Ok(vec![Op::Eq(value.clone())]);
    };
    if !map.keys().any(|key| key.starts_with('$')) {
        // A plain object compared as a whole.
        return Ok(vec![Op::Eq(value.clone())]);
    }
    map.iter()
        .map(|(op, operand)| parse_op(op, operand))
        .collect()
}

fn parse_op(op: &str, operand: &Value) -> Result<Op, String> {
    let list = |operand: &Value| -> Result<Vec<Value>, String> {
        match operand {
            Value::Array(items) if items.len() <= MAX_LIST => Ok(items.clone()),
            Value::Array(_) => Err(format!("{op}: at most {MAX_LIST} values")),
            _ => Err(format!("{op}: expected a list of values")),
        }
    };
    let ordered = |operand: &Value| -> Result<Value, String> {
        match operand {
            Value::Number(_) | Value::String(_) => Ok(operand.clone()),
            _ => Err(format!("{op}: expected a number or a string")),
        }
    };
    Ok(match op {
        "$eq" => Op::Eq(operand.clone()),
        "$ne" => Op::Ne(operand.clone()),
        "$gt" => Op::Gt(ordered(operand)?),
        "$gte" => Op::Gte(ordered(operand)?),
        "$lt" => Op::Lt(ordered(operand)?),
        "$lte" => Op::Lte(ordered(operand)?),
        "$in" => Op::In(list(operand)?),
        "$nin" => Op::Nin(list(operand)?),
        "$exists" => match operand {
            Value::Bool(exists) => Op::Exists(*exists),
            _ => return Err("$exists: expected true or false".into()),
        },
        other => {
            return Err(format!(
                "{other}: unknown operator (expected $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, \
                 $exists)"
            ));
        }
    })
}

impl Field {
    /// `body.<path>`, `headers.<name>` or `metadata.<key>`.
    pub fn parse(name: &str) -> Result<Field, String> {
        let (root, rest) = name.split_once('.').unwrap_or((name, ""));
        if rest.is_empty() {
            return Err("expected body.<path>, headers.<name> or metadata.<key>".into());
        }
        match root {
            "body" => Ok(Field::Body(rest.split('.').map(str::to_owned).collect())),
            "headers" => Ok(Field::Header(rest.to_ascii_lowercase())),
            "metadata" => Ok(Field::Metadata(rest.to_owned())),
            _ => Err("expected body.<path>, headers.<name> or metadata.<key>".into()),
        }
    }

    /// The field's value in the request, if it has one.
    pub fn read<'a>(&self, facts: &Facts<'a>) -> Option<Cow<'a, Value>> {
        match self {
            Field::Body(path) => {
                let mut at = facts.body;
                for part in path {
                    at = match at {
                        Value::Object(map) => map.get(part)?,
                        Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                        _ => return None,
                    };
                }
                Some(Cow::Borrowed(at))
            }
            Field::Header(name) => {
                let values: Vec<&str> = facts
                    .headers
                    .get_all(name.as_str())
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .collect();
                (!values.is_empty()).then(|| Cow::Owned(Value::String(values.join(", "))))
            }
            Field::Metadata(key) => facts
                .metadata?
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| Cow::Borrowed(value)),
        }
    }
}

impl Op {
    fn holds(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Op::Exists(wanted), value) => value.is_some() == *wanted,
            (Op::Ne(operand), value) => !value.is_some_and(|v| equal(v, operand)),
            (Op::Nin(list), value) => !value.is_some_and(|v| list.iter().any(|o| equal(v, o))),
            (_, None) => false,
            (Op::Eq(operand), Some(v)) => equal(v, operand),
            (Op::In(list), Some(v)) => list.iter().any(|o| equal(v, o)),
            (Op::Gt(operand), Some(v)) => compare(v, operand) == Some(Ordering::Greater),
            (Op::Gte(operand), Some(v)) => {
                matches!(
                    compare(v, operand),
                    Some(Ordering::Greater | Ordering::Equal)
                )
            }
            (Op::Lt(operand), Some(v)) => compare(v, operand) == Some(Ordering::Less),
            (Op::Lte(operand), Some(v)) => {
                matches!(compare(v, operand), Some(Ordering::Less | Ordering::Equal))
            }
        }
    }
}

/// A number, or a string that reads as one (headers and metadata often carry numbers as text).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// JSON equality, except that numbers compare by value (`1` equals `1.0`) and a number equals
/// a string holding it (`"5"` from a header equals `5`).
fn equal(value: &Value, operand: &Value) -> bool {
    match (value, operand) {
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            matches!((number(value), number(operand)), (Some(a), Some(b)) if a == b)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => objects_equal(a, b),
        _ => value == operand,
    }
}

fn objects_equal(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(key, x)| b.get(key).is_some_and(|y| equal(x, y)))
}

/// Numbers (or numeric strings against a number) by value, strings by their characters;
/// anything else does not compare.
fn compare(value: &Value, operand: &Value) -> Option<Ordering> {
    match (value, operand) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => number(value)?.partial_cmp(&number(operand)?),
    }
}

#[cfg(test)]
mod tests;
