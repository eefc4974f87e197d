//! The logs API's filter and order vocabulary, read from the column table ([`LOG_COLUMNS`]) plus
//! the keys that are not a column of their own: which keys exist, how each compares, and how a
//! JSON value becomes a typed scalar. The API validates with it and `store::sql` writes SQL
//! from it.

use serde_json::Value;

use super::columns::{self, FilterKind, LOG_COLUMNS};

/// Total tokens of a row: null only when neither side is known, so a row with only
/// `tokens_in` still counts. Plain SQL that SQLite and PostgreSQL both read.
pub(crate) const TOTAL_TOKENS: &str = "(CASE WHEN tokens_in IS NULL AND tokens_out IS NULL THEN NULL \
     ELSE COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0) END)";

/// Columns `search` looks in (a case-insensitive substring of any of them).
pub(crate) fn search_columns() -> impl Iterator<Item = &'static str> {
    LOG_COLUMNS.iter().filter(|c| c.search).map(|c| c.name)
}

/// How a filter key's column compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Number,
    Bool,
    /// `created_at`: Unix ms; values may be RFC 3339 text.
    Time,
    MetadataKey,
    MetadataValue,
}

/// Filter keys that are not a column of their own: (key, SQL expression, kind).
const DERIVED_KEYS: [(&str, &str, Kind); 4] = [
    ("tokens", TOTAL_TOKENS, Kind::Number),
    ("total_tokens", TOTAL_TOKENS, Kind::Number),
    ("metadata.key", "metadata", Kind::MetadataKey),
    ("metadata.value", "metadata", Kind::MetadataValue),
];

/// Every filter key: the filterable columns, then the derived keys.
pub(crate) fn keys() -> impl Iterator<Item = &'static str> {
    LOG_COLUMNS
        .iter()
        .filter(|c| c.filter.is_some())
        .map(|c| c.name)
        .chain(DERIVED_KEYS.iter().map(|(key, _, _)| *key))
}

/// Filter key → (SQL expression, kind). The only place a key turns into SQL.
pub(crate) fn column(key: &str) -> Option<(&'static str, Kind)> {
    if let Some((_, expr, kind)) = DERIVED_KEYS.iter().find(|(k, _, _)| *k == key) {
        return Some((expr, *kind));
    }
    let column = columns::find(key)?;
    let kind = match column.filter? {
        FilterKind::Text => Kind::Text,
        FilterKind::Number | FilterKind::Feedback => Kind::Number,
        FilterKind::Bool => Kind::Bool,
        FilterKind::Time => Kind::Time,
    };
    Some((column.name, kind))
}

/// `order_by` names, in table order.
pub(crate) fn order_keys() -> impl Iterator<Item = &'static str> {
    LOG_COLUMNS.iter().filter(|c| c.order).map(|c| c.name)
}

/// `order_by` name → column. Backends add `id` to break ties, so pages never overlap.
pub(crate) fn order_column(name: &str) -> Option<&'static str> {
    columns::find(name).filter(|c| c.order).map(|c| c.name)
}

/// A filter value read for a numeric, boolean or time column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar {
    Integer(i64),
    Real(f64),
    Bool(bool),
}

/// A value compared with a text column: numbers and booleans as their JSON text.
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value compared with a numeric, boolean or time column, or `None` if it is not one.
pub(crate) fn scalar(kind: Kind, value: &Value) -> Option<Scalar> {
    match kind {
        Kind::Bool => match value {
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(Scalar::Bool(false)),
                Some(1) => Some(Scalar::Bool(true)),
                _ => None,
            },
            Value::String(s) => match s.trim() {
                "true" | "1" => Some(Scalar::Bool(true)),
                "false" | "0" => Some(Scalar::Bool(false)),
                _ => None,
            },
            _ => None,
        },
        Kind::Time => match value {
            Value::String(s) => match s.trim().parse::<jiff::Timestamp>() {
                Ok(at) => Some(Scalar::Integer(at.as_millisecond())),
                Err(_) => number(value),
            },
            _ => number(value),
        },
        _ => number(value),
    }
}

fn number(value: &Value) -> Option<Scalar> {
    let parsed = match value {
        Value::Number(n) => n.clone(),
        Value::String(s) => serde_json::from_str::<serde_json::Number>(s.trim()).ok()?,
        _ => return None,
    };
    match parsed.as_i64() {
        Some(i) => Some(Scalar::Integer(i)),
        None => parsed.as_f64().filter(|f| f.is_finite()).map(Scalar::Real),
    }
}
