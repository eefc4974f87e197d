//! Turns a [`LogQuery`] into PostgreSQL: a WHERE clause with every value bound as a typed
//! parameter, and an ORDER BY whose columns come only from the shared whitelists
//! ([`filter_keys`]). The semantics are SQLite's (`store/sqlite/logs_query/filter.rs`), written
//! in PostgreSQL's dialect.

use serde_json::Value;
use tokio_postgres::types::ToSql;

use crate::store::logs::filter_keys::{
    self, Kind, SEARCH_COLUMNS, Scalar, column, order_column, text,
};
use crate::store::logs::{FilterOp, LogFilter, LogQuery};
use crate::store::postgres::pg_text;

/// The row's metadata entries as text (booleans read `true`/`false`, numbers as written). Only
/// JSON objects are kept in `metadata_json`, so anything else reads as no entries.
const METADATA_ENTRIES: &str = "jsonb_each_text(logs.metadata_json) AS m(key, value)";

/// A bound value; the placeholder carries its type so PostgreSQL never has to guess it.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::store::postgres) enum Param {
    Text(String),
    Integer(i64),
    Real(f64),
    Bool(bool),
}

impl Param {
    fn cast(&self) -> &'static str {
        match self {
            Param::Text(_) => "text",
            Param::Integer(_) => "int8",
            Param::Real(_) => "float8",
            Param::Bool(_) => "bool",
        }
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(v) => v,
            Param::Integer(v) => v,
            Param::Real(v) => v,
            Param::Bool(v) => v,
        }
    }
}

impl From<Scalar> for Param {
    fn from(scalar: Scalar) -> Self {
        match scalar {
            Scalar::Integer(i) => Param::Integer(i),
            Scalar::Real(f) => Param::Real(f),
            Scalar::Bool(b) => Param::Bool(b),
        }
    }
}

/// A WHERE clause (without the keyword) and its parameters, numbered `$1…`.
#[derive(Debug, Default)]
pub(in crate::store::postgres) struct Where {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Where {
    pub(in crate::store::postgres) fn bind(&mut self, value: Param) -> String {
        let cast = value.cast();
        // Stored text has NUL as U+FFFD; a filter value compares the same way.
        let value = match value {
            Param::Text(text) => Param::Text(pg_text(&text).into_owned()),
            other => other,
        };
        self.params.push(value);
        format!("${}::{cast}", self.params.len())
    }

    /// Binds one more parameter (LIMIT, OFFSET) after the clause's own.
    pub(in crate::store::postgres) fn bind_extra(&mut self, value: i64) -> String {
        self.bind(Param::Integer(value))
    }

    /// The parameters as the driver takes them.
    pub(in crate::store::postgres) fn values(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(Param::as_sql).collect()
    }
}

/// The rows of one gateway that `query` selects. `completed_only` hides rows still in flight.
/// Errors name the filter (the API validates first, so they are a last line of defence).
pub(in crate::store::postgres) fn where_clause(
    account_id: &str,
    gateway_id: &str,
    query: &LogQuery,
    completed_only: bool,
) -> Result<Where, String> {
    let mut clause = Where::default();
    let account = clause.bind(Param::Text(account_id.to_owned()));
    let gateway = clause.bind(Param::Text(gateway_id.to_owned()));
    let mut parts = vec![format!("account_id = {account} AND gateway_id = {gateway}")];
    if completed_only {
        parts.push("completed = TRUE".into());
    }
    for filter in &query.filters {
        parts.push(filter_sql(&mut clause, filter)?);
    }
    if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
        let needle = clause.bind(Param::Text(search.to_owned()));
        let any: Vec<String> = SEARCH_COLUMNS
            .iter()
            .map(|c| contains(c, &needle))
            .collect();
        parts.push(format!("({})", any.join(" OR ")));
    }
    clause.sql = parts.join(" AND ");
    Ok(clause)
}

/// `ORDER BY …` for `query`, newest first unless asked otherwise. NULL sorts as the smallest
/// value, as in SQLite (PostgreSQL's default is the opposite); the gateway index is built with
/// the same NULL order, so the default listing walks it in either direction.
pub(in crate::store::postgres) fn order_clause(query: &LogQuery) -> Result<String, String> {
    let name = query.order_by.as_deref().unwrap_or("created_at");
    let column = order_column(name).ok_or_else(|| format!("cannot order by `{name}`"))?;
    let direction = if query.ascending {
        "ASC NULLS FIRST"
    } else {
        "DESC NULLS LAST"
    };
    Ok(format!("ORDER BY {column} {direction}, id {direction}"))
}

fn filter_sql(clause: &mut Where, filter: &LogFilter) -> Result<String, String> {
    let key = filter.key.as_str();
    let (expr, kind) = column(key).ok_or_else(|| format!("unknown filter key `{key}`"))?;
    if filter.values.is_empty() {
        return Err(format!("filter `{key}` has no values"));
    }
    let bad = |why: &str| format!("filter `{key}`: {why}");
    let mut atoms = Vec::with_capacity(filter.values.len());
    for value in &filter.values {
        if value.is_null() {
            match filter.op {
                FilterOp::Eq | FilterOp::Neq => atoms.push(format!("{expr} IS NULL")),
                _ => return Err(bad("null only goes with eq or neq")),
            }
            continue;
        }
        let atom = match (kind, filter.op) {
            (Kind::Text, FilterOp::Eq | FilterOp::Neq) => {
                format!("{expr} = {}", clause.bind(Param::Text(text(value))))
            }
            (Kind::Text, FilterOp::Contains) => {
                contains(expr, &clause.bind(Param::Text(text(value))))
            }
            (Kind::Number | Kind::Bool | Kind::Time, FilterOp::Eq | FilterOp::Neq) => {
                let param =
                    clause.bind(scalar(kind, value).ok_or_else(|| bad("wrong value type"))?);
                format!("{expr} = {param}")
            }
            (Kind::Number | Kind::Time, FilterOp::Lt | FilterOp::Gt) => {
                let param =
                    clause.bind(scalar(kind, value).ok_or_else(|| bad("wrong value type"))?);
                let op = if filter.op == FilterOp::Lt { "<" } else { ">" };
                format!("{expr} {op} {param}")
            }
            (Kind::MetadataKey, FilterOp::Eq | FilterOp::Neq) => {
                let param = clause.bind(Param::Text(text(value)));
                format!("EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE m.key = {param})")
            }
            (Kind::MetadataKey, FilterOp::Contains) => {
                let param = clause.bind(Param::Text(text(value)));
                format!(
                    "EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE {})",
                    contains("m.key", &param)
                )
            }
            (Kind::MetadataValue, FilterOp::Eq | FilterOp::Neq) => {
                let param = clause.bind(Param::Text(text(value)));
                format!("EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE m.value = {param})")
            }
            (Kind::MetadataValue, FilterOp::Contains) => {
                let param = clause.bind(Param::Text(text(value)));
                format!(
                    "EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE {})",
                    contains("m.value", &param)
                )
            }
            _ => return Err(bad("operator does not apply to this key")),
        };
        atoms.push(atom);
    }
    // Any value matching matches. `neq` is the negation of that (none of the values); there a
    // NULL column must count as "not equal", so each atom's NULL becomes false before negating.
    // Positive atoms stay bare so that a range on `created_at` can still use the index.
    Ok(if filter.op == FilterOp::Neq {
        let any: Vec<String> = atoms
            .iter()
            .map(|a| format!("COALESCE({a}, FALSE)"))
            .collect();
        format!("NOT ({})", any.join(" OR "))
    } else {
        format!("({})", atoms.join(" OR "))
    })
}

/// Case-insensitive substring test; `strpos` has no wildcards to escape, unlike LIKE.
fn contains(expr: &str, param: &str) -> String {
    format!("strpos(lower({expr}), lower({param})) > 0")
}

fn scalar(kind: Kind, value: &Value) -> Option<Param> {
    filter_keys::scalar(kind, value).map(Param::from)
}
