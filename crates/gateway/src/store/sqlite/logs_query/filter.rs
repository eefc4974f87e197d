//! Turns a [`LogQuery`] into SQL: a WHERE clause with every value bound as a parameter, and an
//! ORDER BY whose columns come only from the shared whitelists ([`filter_keys`]).

use rusqlite::types::Value as Sql;
use serde_json::Value;

pub(super) use crate::store::logs::filter_keys::TOTAL_TOKENS;
use crate::store::logs::filter_keys::{
    self, Kind, SEARCH_COLUMNS, Scalar, column, order_column, text,
};
use crate::store::logs::{FilterOp, LogFilter, LogQuery};

/// The row's metadata entries; invalid JSON (never written by the gateway) reads as none
/// instead of failing the whole query.
const METADATA_ENTRIES: &str =
    "json_each(CASE WHEN json_valid(logs.metadata) THEN logs.metadata END) AS m";

/// A metadata value as text, booleans as `true`/`false` (json_each yields them as 1/0).
const METADATA_VALUE_TEXT: &str = "(CASE m.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(m.value AS TEXT) END)";

/// A WHERE clause (without the keyword) and its parameters, numbered `?1…`.
#[derive(Debug, Default)]
pub(super) struct Where {
    pub sql: String,
    pub params: Vec<Sql>,
}

impl Where {
    fn bind(&mut self, value: Sql) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    /// Binds one more parameter (LIMIT, OFFSET) after the clause's own.
    pub(super) fn bind_extra(&mut self, value: i64) -> String {
        self.bind(Sql::Integer(value))
    }
}

/// The rows of one gateway that `query` selects. `completed_only` hides rows still in flight.
/// Errors name the filter (the API validates first, so they are a last line of defence).
pub(super) fn where_clause(
    account_id: &str,
    gateway_id: &str,
    query: &LogQuery,
    completed_only: bool,
) -> Result<Where, String> {
    let mut clause = Where::default();
    let account = clause.bind(Sql::Text(account_id.to_owned()));
    let gateway = clause.bind(Sql::Text(gateway_id.to_owned()));
    let mut parts = vec![format!("account_id = {account} AND gateway_id = {gateway}")];
    if completed_only {
        parts.push("completed = 1".into());
    }
    for filter in &query.filters {
        parts.push(filter_sql(&mut clause, filter)?);
    }
    if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
        let needle = clause.bind(Sql::Text(search.to_owned()));
        let any: Vec<String> = SEARCH_COLUMNS
            .iter()
            .map(|c| format!("instr(lower({c}), lower({needle})) > 0"))
            .collect();
        parts.push(format!("({})", any.join(" OR ")));
    }
    clause.sql = parts.join(" AND ");
    Ok(clause)
}

/// `ORDER BY …` for `query`, newest first unless asked otherwise.
pub(super) fn order_clause(query: &LogQuery) -> Result<String, String> {
    let name = query.order_by.as_deref().unwrap_or("created_at");
    let column = order_column(name).ok_or_else(|| format!("cannot order by `{name}`"))?;
    let direction = if query.ascending { "ASC" } else { "DESC" };
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
                format!("{expr} = {}", clause.bind(Sql::Text(text(value))))
            }
            (Kind::Text, FilterOp::Contains) => {
                contains(expr, &clause.bind(Sql::Text(text(value))))
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
                let param = clause.bind(Sql::Text(text(value)));
                format!("EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE m.key = {param})")
            }
            (Kind::MetadataKey, FilterOp::Contains) => {
                let param = clause.bind(Sql::Text(text(value)));
                format!(
                    "EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE {})",
                    contains("m.key", &param)
                )
            }
            (Kind::MetadataValue, FilterOp::Eq | FilterOp::Neq) => {
                let param = clause.bind(Sql::Text(text(value)));
                format!(
                    "EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE {METADATA_VALUE_TEXT} = {param})"
                )
            }
            (Kind::MetadataValue, FilterOp::Contains) => {
                let param = clause.bind(Sql::Text(text(value)));
                format!(
                    "EXISTS (SELECT 1 FROM {METADATA_ENTRIES} WHERE {})",
                    contains(METADATA_VALUE_TEXT, &param)
                )
            }
            _ => return Err(bad("operator does not apply to this key")),
        };
        atoms.push(atom);
    }
    // Any value matching matches. `neq` is the negation of that (none of the values), which is
    // what "not thumbs-down or none" means; there a NULL column must count as "not equal", so
    // each atom's NULL becomes 0 before negating. Positive atoms stay bare so that a range on
    // `created_at` can still use the index.
    Ok(if filter.op == FilterOp::Neq {
        let any: Vec<String> = atoms.iter().map(|a| format!("IFNULL({a}, 0)")).collect();
        format!("NOT ({})", any.join(" OR "))
    } else {
        format!("({})", atoms.join(" OR "))
    })
}

/// Case-insensitive substring test; `instr` has no wildcards to escape, unlike LIKE.
fn contains(expr: &str, param: &str) -> String {
    format!("instr(lower({expr}), lower({param})) > 0")
}

/// The shared scalar as a SQLite value (booleans are 0/1 there).
fn scalar(kind: Kind, value: &Value) -> Option<Sql> {
    Some(match filter_keys::scalar(kind, value)? {
        Scalar::Integer(i) => Sql::Integer(i),
        Scalar::Real(f) => Sql::Real(f),
        Scalar::Bool(b) => Sql::Integer(i64::from(b)),
    })
}
