//! The logs API's filter and order vocabulary, shared by the SQL backends so they accept the same
//! keys and read filter values the same way: which keys exist, how each compares, and how a JSON
//! value becomes a typed scalar. Each backend writes its own SQL from these.

use serde_json::Value;

/// Total tokens of a row: null only when neither side is known, so a row with only
/// `tokens_in` still counts. Plain SQL that SQLite and PostgreSQL both read.
pub(crate) const TOTAL_TOKENS: &str = "(CASE WHEN tokens_in IS NULL AND tokens_out IS NULL THEN NULL \
     ELSE COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0) END)";

/// Columns `search` looks in (a case-insensitive substring of any of them).
pub(crate) const SEARCH_COLUMNS: [&str; 6] =
    ["id", "provider", "model", "path", "event_id", "metadata"];

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

/// Filter key → (SQL expression, kind). The only place a key turns into SQL.
pub(crate) fn column(key: &str) -> Option<(&'static str, Kind)> {
    Some(match key {
        "id" => ("id", Kind::Text),
        "created_at" => ("created_at", Kind::Time),
        "provider" => ("provider", Kind::Text),
        "model" => ("model", Kind::Text),
        "path" => ("path", Kind::Text),
        "event_id" => ("event_id", Kind::Text),
        "request_content_type" => ("request_content_type", Kind::Text),
        "response_content_type" => ("response_content_type", Kind::Text),
        "user_agent" => ("user_agent", Kind::Text),
        "success" => ("success", Kind::Bool),
        "cached" => ("cached", Kind::Bool),
        "status_code" => ("status_code", Kind::Number),
        "cost" => ("cost", Kind::Number),
        "tokens_in" => ("tokens_in", Kind::Number),
        "tokens_out" => ("tokens_out", Kind::Number),
        "tokens" | "total_tokens" => (TOTAL_TOKENS, Kind::Number),
        "duration" => ("duration", Kind::Number),
        "feedback" => ("feedback", Kind::Number),
        "metadata.key" => ("metadata", Kind::MetadataKey),
        "metadata.value" => ("metadata", Kind::MetadataValue),
        _ => return None,
    })
}

/// `order_by` name → column. Backends add `id` to break ties, so pages never overlap.
pub(crate) fn order_column(name: &str) -> Option<&'static str> {
    Some(match name {
        "created_at" => "created_at",
        "provider" => "provider",
        "model" => "model",
        "success" => "success",
        "cached" => "cached",
        "cost" => "cost",
        "tokens_in" => "tokens_in",
        "tokens_out" => "tokens_out",
        "duration" => "duration",
        "feedback" => "feedback",
        "status_code" => "status_code",
        _ => return None,
    })
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
