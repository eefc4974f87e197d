//! One log row as a line of text, for `logs tail` and `logs list`.

use serde_json::Value;

use crate::terminal::printable;

pub fn header() -> String {
    format!(
        "{:<24} {:<16} {:<28} {:>6} {:>8} {:>8} {:>10} {:>8} {:<5} {}",
        "TIME", "PROVIDER", "MODEL", "STATUS", "IN", "OUT", "COST", "MS", "CACHE", "ID"
    )
}

/// Every client-supplied field goes through [`printable`].
pub fn line(row: &Value) -> String {
    let text = |key: &str| printable(row[key].as_str().unwrap_or("-")).into_owned();
    let number = |key: &str| match &row[key] {
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let cost = row["cost"]
        .as_f64()
        .map_or("-".to_owned(), |c| format!("{c:.6}"));
    let cache = if row["cached"] == Value::Bool(true) {
        "HIT"
    } else {
        ""
    };
    format!(
        "{:<24} {:<16} {:<28} {:>6} {:>8} {:>8} {:>10} {:>8} {:<5} {}",
        text("created_at").chars().take(23).collect::<String>(),
        text("provider"),
        text("model"),
        number("status_code"),
        number("tokens_in"),
        number("tokens_out"),
        cost,
        number("duration"),
        cache,
        text("id")
    )
}
