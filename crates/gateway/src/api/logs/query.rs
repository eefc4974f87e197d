//! The logs list/delete query string, parsed by hand: the official SDKs send filters as
//! repeated dotted keys (`filters.key=…&filters.operator=…&filters.value=…`), which
//! serde_urlencoded cannot express (the forms are collected in [`super::pairing`]). Also
//! accepted: Cloudflare's deprecated flat parameters (`min_cost`, `start_date`, …). Every filter
//! is validated and its values typed here, so the store only sees sound queries.

use percent_encoding::percent_decode_str;
use serde_json::{Number, Value};

use super::pairing::{FilterParams, RawFilter};
use crate::store::logs::columns::{self, FilterKind};
use crate::store::logs::filter_keys;
use crate::store::logs::{FilterOp, LogFilter, LogQuery};

pub(super) const DEFAULT_PER_PAGE: u32 = 20;
pub(super) const MAX_PER_PAGE: u32 = 50;
pub(super) const MAX_DELETE_LIMIT: u32 = 10_000;

/// How a filter key's values are typed and which operators apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    /// Like a number, but `0` means thumbs-down (-1), as in Cloudflare's filter values.
    Feedback,
    Bool,
    /// `created_at`: RFC 3339 or Unix ms, passed on as ms.
    Time,
    /// `metadata.key` / `metadata.value`: compared as text.
    Metadata,
}

/// Every filter key the logs API accepts: the filterable log columns, then the keys that are
/// not a column of their own.
pub(super) fn filter_keys() -> Vec<&'static str> {
    filter_keys::keys().collect()
}

fn kind(key: &str) -> Option<Kind> {
    Some(match key {
        "tokens" | "total_tokens" => Kind::Number,
        "metadata.key" | "metadata.value" => Kind::Metadata,
        _ => match columns::find(key)?.filter? {
            FilterKind::Text => Kind::Text,
            FilterKind::Number => Kind::Number,
            FilterKind::Feedback => Kind::Feedback,
            FilterKind::Bool => Kind::Bool,
            FilterKind::Time => Kind::Time,
        },
    })
}

fn allows(kind: Kind, op: FilterOp) -> bool {
    match kind {
        Kind::Text | Kind::Metadata => {
            matches!(op, FilterOp::Eq | FilterOp::Neq | FilterOp::Contains)
        }
        Kind::Number | Kind::Feedback | Kind::Time => op != FilterOp::Contains,
        Kind::Bool => matches!(op, FilterOp::Eq | FilterOp::Neq),
    }
}

/// A parsed list or delete query. `limit` is only read by delete.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Parsed {
    pub query: LogQuery,
    pub limit: u32,
}

/// Splits a raw query string into decoded `(name, value)` pairs, in order (`+` is a space).
pub(super) fn pairs(raw: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Parses the query string of `GET`/`DELETE …/logs`. Errors name the parameter or filter.
pub(super) fn parse(raw: Option<&str>) -> Result<Parsed, String> {
    let mut query = LogQuery {
        page: 1,
        per_page: DEFAULT_PER_PAGE,
        ..LogQuery::default()
    };
    let mut limit = MAX_DELETE_LIMIT;
    let mut filter_params = FilterParams::default();
    let mut direction: Option<bool> = None;
    let mut deprecated_direction: Option<bool> = None;
    let mut flat: Vec<LogFilter> = Vec::new();
    for (name, value) in pairs(raw.unwrap_or("")) {
        let Some(value) = filter_params.take(&name, value)? else {
            continue;
        };
        match name.as_str() {
            "page" => query.page = clamp(integer(&name, &value)?, 1, i64::from(u32::MAX)),
            "per_page" => {
                query.per_page = clamp(integer(&name, &value)?, 1, i64::from(MAX_PER_PAGE));
            }
            "limit" => {
                let n = integer(&name, &value)?;
                if !(1..=i64::from(MAX_DELETE_LIMIT)).contains(&n) {
                    return Err(format!("limit: must be between 1 and {MAX_DELETE_LIMIT}"));
                }
                limit = clamp(n, 1, i64::from(MAX_DELETE_LIMIT));
            }
            // Cloudflare's `model_type`: Tollgate has no model types, so the order is the
            // default one (newest first).
            "order_by" if value == "model_type" => {}
            "order_by" => {
                if filter_keys::order_column(&value).is_none() {
                    let keys: Vec<&str> = filter_keys::order_keys().collect();
                    return Err(format!("order_by: must be one of {}", keys.join(", ")));
                }
                query.order_by = Some(value);
            }
            "order_by_direction" => direction = Some(ascending(&name, &value)?),
            "direction" => deprecated_direction = Some(ascending(&name, &value)?),
            "search" => query.search = Some(value).filter(|s| !s.is_empty()),
            _ => {
                if let Some(filter) = deprecated(&name, &value)? {
                    flat.push(filter);
                }
            }
        }
    }
    query.ascending = direction.or(deprecated_direction).unwrap_or(false);
    let raw_filters = filter_params.finish()?;
    for raw in raw_filters {
        query.filters.push(validate(raw)?);
    }
    query.filters.extend(flat);
    Ok(Parsed { query, limit })
}

/// Checks a filter's key, operator and values, and types the values for its key.
pub(super) fn validate(raw: RawFilter) -> Result<LogFilter, String> {
    let key = raw.key.ok_or("filters: a filter has no key")?;
    let kind = kind(&key).ok_or_else(|| {
        format!(
            "filters: unknown key `{key}` (one of {})",
            filter_keys().join(", ")
        )
    })?;
    let op = match raw.operator.as_deref() {
        Some("eq") => FilterOp::Eq,
        Some("neq") => FilterOp::Neq,
        Some("contains") => FilterOp::Contains,
        Some("lt") => FilterOp::Lt,
        Some("gt") => FilterOp::Gt,
        Some(other) => {
            return Err(format!(
                "filters: `{key}` has unknown operator `{other}` (eq, neq, contains, lt, gt)"
            ));
        }
        None => return Err(format!("filters: `{key}` has no operator")),
    };
    if !allows(kind, op) {
        return Err(format!(
            "filters: operator `{}` does not apply to `{key}`",
            op_name(op)
        ));
    }
    if raw.values.is_empty() {
        return Err(format!("filters: `{key}` has no value"));
    }
    let values = raw
        .values
        .iter()
        .map(|v| typed(kind, op, v).map_err(|why| format!("filters: `{key}` value {v}: {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LogFilter { key, op, values })
}

fn op_name(op: FilterOp) -> &'static str {
    match op {
        FilterOp::Eq => "eq",
        FilterOp::Neq => "neq",
        FilterOp::Contains => "contains",
        FilterOp::Lt => "lt",
        FilterOp::Gt => "gt",
    }
}

/// One value, typed for its key. Query strings carry only text, so `"null"`, `"true"`, `"12"`
/// are read as what they spell; JSON filters may carry the types already.
fn typed(kind: Kind, op: FilterOp, value: &Value) -> Result<Value, &'static str> {
    if value.is_null() || value.as_str() == Some("null") {
        return match op {
            FilterOp::Eq | FilterOp::Neq => Ok(Value::Null),
            _ => Err("null goes only with eq or neq"),
        };
    }
    match kind {
        Kind::Text | Kind::Metadata => match value {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(value.to_string())),
            _ => Err("must be a string"),
        },
        Kind::Number => number(value).map(Value::Number).ok_or("must be a number"),
        Kind::Feedback => match number(value) {
            // Cloudflare's filter values are 0 (thumbs down) and 1; rows store -1 and 1.
            Some(n) if n.as_i64() == Some(0) && matches!(op, FilterOp::Eq | FilterOp::Neq) => {
                Ok(Value::from(-1))
            }
            Some(n) => Ok(Value::Number(n)),
            None => Err("must be -1, 0 or 1"),
        },
        Kind::Bool => boolean(value)
            .map(Value::Bool)
            .ok_or("must be true or false"),
        Kind::Time => time_ms(value)
            .map(Value::from)
            .ok_or("must be an RFC 3339 time or Unix ms"),
    }
}

fn number(value: &Value) -> Option<Number> {
    match value {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => {
            let n: Number = serde_json::from_str(s.trim()).ok()?;
            // Large or fractional values come back as floats; refuse NaN/inf spellings.
            n.as_f64().filter(|f| f.is_finite()).map(|_| n)
        }
        _ => None,
    }
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn time_ms(value: &Value) -> Option<i64> {
    if let Some(text) = value.as_str()
        && let Ok(at) = text.trim().parse::<jiff::Timestamp>()
    {
        return Some(at.as_millisecond());
    }
    let n = number(value)?;
    n.as_i64().or_else(|| n.as_f64().map(float_ms))
}

/// A fractional or out-of-range millisecond time: `as` drops the fraction and saturates (NaN,
/// which JSON cannot carry, would be 0), so a far-off bound stays far off.
#[expect(
    clippy::cast_possible_truncation,
    reason = "truncation and saturation are the conversion wanted"
)]
fn float_ms(ms: f64) -> i64 {
    ms as i64
}

fn integer(name: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name}: must be an integer"))
}

fn clamp(n: i64, low: i64, high: i64) -> u32 {
    u32::try_from(n.clamp(low, high)).unwrap_or(u32::MAX)
}

fn ascending(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(format!("{name}: must be asc or desc")),
    }
}

/// Cloudflare's deprecated flat parameters, as the filters they stand for; `None` for a
/// parameter that is not one (unknown parameters are ignored, as `meta_info` and
/// `model_type` are: Tollgate has no model types).
fn deprecated(name: &str, value: &str) -> Result<Option<LogFilter>, String> {
    let eq = |key: &str, value: Value| LogFilter {
        key: key.into(),
        op: FilterOp::Eq,
        values: vec![value],
    };
    let bad = |what: &str| format!("{name}: must be {what}");
    let filter = match name {
        "model" | "provider" | "request_content_type" | "response_content_type" => {
            eq(name, Value::String(value.to_owned()))
        }
        "cached" | "success" => {
            let b =
                boolean(&Value::String(value.to_owned())).ok_or_else(|| bad("true or false"))?;
            eq(name, Value::Bool(b))
        }
        "feedback" => match value.trim() {
            "0" | "-1" => eq("feedback", Value::from(-1)),
            "1" => eq("feedback", Value::from(1)),
            _ => return Err(bad("0 (or -1) or 1")),
        },
        // Inclusive bounds from strict operators: ms are integers, so one ms either side.
        "start_date" | "end_date" => {
            let at = value
                .trim()
                .parse::<jiff::Timestamp>()
                .map_err(|_| bad("an RFC 3339 time"))?
                .as_millisecond();
            let (op, bound) = if name == "start_date" {
                (FilterOp::Gt, at.saturating_sub(1))
            } else {
                (FilterOp::Lt, at.saturating_add(1))
            };
            LogFilter {
                key: "created_at".into(),
                op,
                values: vec![Value::from(bound)],
            }
        }
        _ => {
            let Some((bound, key)) = name
                .split_once('_')
                .filter(|(b, _)| *b == "min" || *b == "max")
            else {
                return Ok(None);
            };
            let key = match key {
                "cost" | "duration" | "tokens_in" | "tokens_out" => key,
                "total_tokens" => "tokens",
                _ => return Ok(None),
            };
            let n: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| bad("a number"))?;
            // Inclusive bounds from strict operators: the next float out is exact, also for
            // integer columns (SQLite compares integers and floats by value).
            let (op, edge) = if bound == "min" {
                (FilterOp::Gt, n.next_down())
            } else {
                (FilterOp::Lt, n.next_up())
            };
            let edge = Number::from_f64(edge).ok_or_else(|| bad("a number"))?;
            LogFilter {
                key: key.into(),
                op,
                values: vec![Value::Number(edge)],
            }
        }
    };
    Ok(Some(filter))
}
