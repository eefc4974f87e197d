//! The logs API's statements for either store: a WHERE clause with every value bound as a
//! parameter, an ORDER BY whose columns come only from the shared whitelists
//! ([`filter_keys`]), and from those the page, one row, a body, the patch UPDATE and the
//! DELETE.

use std::sync::LazyLock;

use serde_json::Value;

use super::{Dialect, Param, Statement, metadata_object};
use crate::convert::signed_as_f64;
use crate::store::StoreError;
use crate::store::logs::columns::{self, ColumnType};
use crate::store::logs::filter_keys::{
    self, Kind, Scalar, TOTAL_TOKENS, column, order_column, search_columns, text,
};
use crate::store::logs::{
    BodyKind, FilterOp, LogFilter, LogPageInfo, LogPatch, LogQuery, StoredBody, body_codec,
};

/// Every column of a row, in the order [`columns::decode`] reads them.
static COLUMNS: LazyLock<String> = LazyLock::new(columns::names);

/// A query the API should have refused (unknown key, wrong value type) still fails cleanly.
fn invalid(why: String) -> StoreError {
    StoreError::Backend(format!("invalid log query: {why}"))
}

/// One page of a listing: the aggregates over the whole filtered set (`info`, which takes the
/// first `info_params` parameters) and the page's rows (`rows`, which takes them all).
#[derive(Debug)]
pub(crate) struct ListSql {
    pub info: String,
    pub rows: Statement,
    pub info_params: usize,
}

/// The page of `query` and its aggregates, in the order [`LogPageInfo`]'s fields are read.
///
/// [`LogPageInfo`]: crate::store::logs::LogPageInfo
pub(crate) fn list(
    dialect: Dialect,
    account_id: &str,
    gateway_id: &str,
    query: &LogQuery,
) -> Result<ListSql, StoreError> {
    let mut clause = where_clause(dialect, account_id, gateway_id, query, true).map_err(invalid)?;
    let order = order_clause(dialect, query).map_err(invalid)?;
    let info = format!(
        "SELECT COUNT(*), MIN(cost), MAX(cost), MIN(duration), MAX(duration), \
         MIN(tokens_in), MAX(tokens_in), MIN(tokens_out), MAX(tokens_out), \
         MIN({TOTAL_TOKENS}), MAX({TOTAL_TOKENS}), \
         SUM(cost), COUNT(cost), CAST(SUM(duration) AS DOUBLE PRECISION), COUNT(duration), \
         COUNT(CASE WHEN feedback = 1 THEN 1 END), COUNT(CASE WHEN feedback = -1 THEN 1 END) \
         FROM logs WHERE {}",
        clause.sql
    );
    let info_params = clause.params.len();
    let per_page = i64::from(query.per_page.max(1));
    let offset = i64::from(query.page.max(1) - 1).saturating_mul(per_page);
    let limit = clause.bind(Param::Integer(per_page));
    let offset = clause.bind(Param::Integer(offset));
    clause.sql = format!(
        "SELECT {} FROM logs WHERE {} {order} LIMIT {limit} OFFSET {offset}",
        *COLUMNS, clause.sql
    );
    Ok(ListSql {
        info,
        rows: clause,
        info_params,
    })
}

/// `account = $1 AND gateway = $2 AND id = $3`, bound.
fn one_row(dialect: Dialect, account_id: &str, gateway_id: &str, id: &str) -> (Statement, String) {
    let mut statement = Statement::new(dialect);
    let account = statement.bind_text(account_id);
    let gateway = statement.bind_text(gateway_id);
    let id = statement.bind_text(id);
    let filter = format!("account_id = {account} AND gateway_id = {gateway} AND id = {id}");
    (statement, filter)
}

/// One row of a gateway, for [`columns::decode`].
pub(crate) fn get(dialect: Dialect, account_id: &str, gateway_id: &str, id: &str) -> Statement {
    let (mut statement, filter) = one_row(dialect, account_id, gateway_id, id);
    statement.sql = format!("SELECT {} FROM logs WHERE {filter}", *COLUMNS);
    statement
}

/// One stored body with what goes with it: content type, head complete, body, headers.
/// Column names are fixed here, never taken from input.
pub(crate) fn body(
    dialect: Dialect,
    account_id: &str,
    gateway_id: &str,
    id: &str,
    kind: BodyKind,
) -> Statement {
    let side = match kind {
        BodyKind::Request => "request",
        BodyKind::Response => "response",
    };
    // `log_bodies` has none of the filter's column names (its key is `log_id`).
    let (mut statement, filter) = one_row(dialect, account_id, gateway_id, id);
    statement.sql = format!(
        "SELECT l.{side}_content_type, l.{side}_head_complete, b.{side}, b.{side}_headers
         FROM logs l JOIN log_bodies b ON b.log_id = l.id WHERE {filter}"
    );
    statement
}

/// What a patch comes to.
#[derive(Debug)]
pub(crate) enum PatchSql {
    /// Nothing to change, but the caller still learns whether the log exists (one boolean).
    Exists(Statement),
    /// An UPDATE; the log exists if it changed a row.
    Update(Statement),
}

pub(crate) fn patch(
    dialect: Dialect,
    account_id: &str,
    gateway_id: &str,
    id: &str,
    patch: &LogPatch,
) -> PatchSql {
    let (mut statement, filter) = one_row(dialect, account_id, gateway_id, id);
    let mut sets = Vec::new();
    // A cleared column is set to a literal NULL: a NULL parameter would need a type.
    let mut set = |statement: &mut Statement, column: &str, value: Option<Param>| {
        let value = match value {
            Some(value) => statement.bind(value),
            None => "NULL".to_owned(),
        };
        sets.push(format!("{column} = {value}"));
    };
    if let Some(feedback) = patch.feedback {
        set(&mut statement, "feedback", feedback.map(Param::Integer));
    }
    if let Some(score) = patch.score {
        set(&mut statement, "score", score.map(Param::Real));
    }
    if let Some(metadata) = &patch.metadata {
        set(
            &mut statement,
            "metadata",
            metadata.clone().map(Param::Text),
        );
        if let Some(json) = dialect.metadata_json_column() {
            let parsed = metadata_object(metadata.as_deref()).map(Param::Json);
            set(&mut statement, json, parsed);
        }
    }
    if sets.is_empty() {
        statement.sql = format!("SELECT EXISTS (SELECT 1 FROM logs WHERE {filter})");
        return PatchSql::Exists(statement);
    }
    statement.sql = format!("UPDATE logs SET {} WHERE {filter}", sets.join(", "));
    PatchSql::Update(statement)
}

/// Deletes up to `limit` rows that `query` lists, in its order. Bodies go with their rows
/// (ON DELETE CASCADE in both stores).
pub(crate) fn delete(
    dialect: Dialect,
    account_id: &str,
    gateway_id: &str,
    query: &LogQuery,
    limit: u32,
) -> Result<Statement, StoreError> {
    let mut clause = where_clause(dialect, account_id, gateway_id, query, true).map_err(invalid)?;
    let order = order_clause(dialect, query).map_err(invalid)?;
    let limit = clause.bind(Param::Integer(i64::from(limit)));
    clause.sql = format!(
        "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE {} {order} LIMIT {limit})",
        clause.sql
    );
    Ok(clause)
}

/// The rows of one gateway that `query` selects. `completed_only` hides rows still in flight.
/// Errors name the filter (the API validates first, so they are a last line of defence).
pub(crate) fn where_clause(
    dialect: Dialect,
    account_id: &str,
    gateway_id: &str,
    query: &LogQuery,
    completed_only: bool,
) -> Result<Statement, String> {
    let mut clause = Statement::new(dialect);
    let account = clause.bind_text(account_id);
    let gateway = clause.bind_text(gateway_id);
    let mut parts = vec![format!("account_id = {account} AND gateway_id = {gateway}")];
    if completed_only {
        parts.push(format!("completed = {}", dialect.truth()));
    }
    for filter in &query.filters {
        parts.push(filter_sql(&mut clause, filter)?);
    }
    if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
        let needle = clause.bind_text(search);
        let any: Vec<String> = search_columns()
            .map(|c| dialect.contains(c, &needle))
            .collect();
        parts.push(format!("({})", any.join(" OR ")));
    }
    clause.sql = parts.join(" AND ");
    Ok(clause)
}

/// `ORDER BY …` for `query`, newest first unless asked otherwise; ties go by id, so pages
/// never overlap.
pub(crate) fn order_clause(dialect: Dialect, query: &LogQuery) -> Result<String, String> {
    let name = query.order_by.as_deref().unwrap_or("created_at");
    let column = order_column(name).ok_or_else(|| format!("cannot order by `{name}`"))?;
    let direction = dialect.direction(query.ascending);
    Ok(format!("ORDER BY {column} {direction}, id {direction}"))
}

fn filter_sql(clause: &mut Statement, filter: &LogFilter) -> Result<String, String> {
    let dialect = clause.dialect;
    let key = filter.key.as_str();
    let (expr, kind) = column(key).ok_or_else(|| format!("unknown filter key `{key}`"))?;
    if filter.values.is_empty() {
        return Err(format!("filter `{key}` has no values"));
    }
    let bad = |why: &str| format!("filter `{key}`: {why}");
    let entries = dialect.metadata_entries();
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
                dialect.contains(expr, &clause.bind(Param::Text(text(value))))
            }
            (Kind::Number | Kind::Bool | Kind::Time, FilterOp::Eq | FilterOp::Neq) => {
                let param = scalar(dialect, kind, value).ok_or_else(|| bad("wrong value type"))?;
                format!("{expr} = {}", clause.bind(param))
            }
            (Kind::Number | Kind::Time, FilterOp::Lt | FilterOp::Gt) => {
                let param = scalar(dialect, kind, value).ok_or_else(|| bad("wrong value type"))?;
                let op = if filter.op == FilterOp::Lt { "<" } else { ">" };
                format!("{expr} {op} {}", clause.bind(param))
            }
            (Kind::MetadataKey | Kind::MetadataValue, op) => {
                let side = if kind == Kind::MetadataKey {
                    "m.key"
                } else {
                    dialect.metadata_value()
                };
                let param = clause.bind(Param::Text(text(value)));
                let test = match op {
                    FilterOp::Eq | FilterOp::Neq => format!("{side} = {param}"),
                    FilterOp::Contains => dialect.contains(side, &param),
                    _ => return Err(bad("operator does not apply to this key")),
                };
                format!("EXISTS (SELECT 1 FROM {entries} WHERE {test})")
            }
            _ => return Err(bad("operator does not apply to this key")),
        };
        atoms.push(atom);
    }
    // Any value matching matches. `neq` is the negation of that (none of the values), which is
    // what "not thumbs-down or none" means; there a NULL column must count as "not equal", so
    // each atom's NULL becomes false before negating. Positive atoms stay bare so that a range
    // on `created_at` can still use the index.
    Ok(if filter.op == FilterOp::Neq {
        let any: Vec<String> = atoms.iter().map(|a| dialect.null_as_false(a)).collect();
        format!("NOT ({})", any.join(" OR "))
    } else {
        format!("({})", atoms.join(" OR "))
    })
}

/// The shared scalar as a parameter; SQLite keeps booleans as 0/1.
fn scalar(dialect: Dialect, kind: Kind, value: &Value) -> Option<Param> {
    Some(match filter_keys::scalar(kind, value)? {
        Scalar::Integer(i) => Param::Integer(i),
        Scalar::Real(f) => Param::Real(f),
        Scalar::Bool(b) if dialect == Dialect::Sqlite => Param::Integer(i64::from(b)),
        Scalar::Bool(b) => Param::Bool(b),
    })
}

/// The types of [`ListSql::info`]'s columns, in order.
pub(crate) const INFO_TYPES: [ColumnType; 17] = {
    use ColumnType::{Integer, Real};
    [
        Integer, Real, Real, Integer, Integer, Integer, Integer, Integer, Integer, Integer,
        Integer, Real, Integer, Real, Integer, Integer, Integer,
    ]
};

/// Decodes the row of [`ListSql::info`]: `read` yields column `i` as a value of
/// `INFO_TYPES[i]`.
pub(crate) fn page_info<E>(
    read: impl Fn(usize, ColumnType) -> Result<Option<Param>, E>,
) -> Result<LogPageInfo, E> {
    let int = |i: usize| -> Result<Option<i64>, E> {
        Ok(match read(i, INFO_TYPES[i])? {
            Some(Param::Integer(n)) => Some(n),
            _ => None,
        })
    };
    let real = |i: usize| -> Result<Option<f64>, E> {
        Ok(match read(i, INFO_TYPES[i])? {
            Some(Param::Real(f)) => Some(f),
            // SQLite hands back a REAL that holds an integral value as it was bound.
            Some(Param::Integer(n)) => Some(signed_as_f64(n)),
            _ => None,
        })
    };
    let count = |i: usize| -> Result<u64, E> {
        Ok(int(i)?.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    };
    Ok(LogPageInfo {
        total_count: count(0)?,
        min_cost: real(1)?,
        max_cost: real(2)?,
        min_duration: int(3)?,
        max_duration: int(4)?,
        min_tokens_in: int(5)?,
        max_tokens_in: int(6)?,
        min_tokens_out: int(7)?,
        max_tokens_out: int(8)?,
        min_total_tokens: int(9)?,
        max_total_tokens: int(10)?,
        cost_sum: real(11)?,
        cost_count: count(12)?,
        duration_sum: real(13)?,
        duration_count: count(14)?,
        feedback_up: count(15)?,
        feedback_down: count(16)?,
    })
}

/// The types of [`body`]'s columns, in order.
const BODY_TYPES: [ColumnType; 4] = [
    ColumnType::Text,
    ColumnType::Bool,
    ColumnType::Bytes,
    ColumnType::Text,
];

/// Decodes the row of [`body`], decompressing the body; `None` when the body was not kept
/// (`cf-aig-collect-log-payload: false` leaves it NULL).
pub(crate) fn stored_body<E>(
    read: impl Fn(usize, ColumnType) -> Result<Option<Param>, E>,
    corrupt: impl Fn(String) -> E,
) -> Result<Option<StoredBody>, E> {
    let value = |i: usize| read(i, BODY_TYPES[i]);
    let text = |i: usize| -> Result<Option<String>, E> {
        Ok(match value(i)? {
            Some(Param::Text(text)) => Some(text),
            _ => None,
        })
    };
    let Some(Param::Bytes(stored)) = value(2)? else {
        return Ok(None);
    };
    let bytes = body_codec::decode(stored).map_err(|e| corrupt(e.to_string()))?;
    let complete = match value(1)? {
        Some(Param::Bool(b)) => b,
        Some(Param::Integer(n)) => n != 0,
        _ => true,
    };
    Ok(Some(StoredBody {
        content_type: text(0)?,
        bytes,
        complete,
        // Headers are informational; a malformed value must not hide the body itself.
        headers: text(3)?.and_then(|h| serde_json::from_str(&h).ok()),
    }))
}
