//! The one description of a log column: its name (in SQL, filter keys, `order_by` and the
//! API's row alike), its type, whether the logs API filters, orders or searches by it, and
//! how its value is read from and written into a [`LogRow`]. Filter-key validation (API and
//! stores), the SELECT list and row decoding of both stores, the API's row and the PostgreSQL
//! transfer, and the INSERT/UPDATE column lists and parameters of both stores' ingest (which
//! record sets a column: [`Source`]), are all driven from [`LOG_COLUMNS`]; adding a column is a
//! line here and a migration per store (docs/logs.md, "Adding a log column").

use super::LogRow;
use crate::convert::signed_as_f64;
use crate::logs::{LogBegin, LogEnd};
use crate::store::sql::Param;

/// A column's type as the stores keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Text,
    /// A 64-bit integer (`INTEGER` / `int8`).
    Integer,
    /// A 32-bit integer in PostgreSQL (`int4`): the status code.
    Integer32,
    /// A 16-bit integer in PostgreSQL (`int2`): a rollup's status class.
    Integer16,
    Real,
    /// `INTEGER` 0/1 in SQLite, `bool` in PostgreSQL.
    Bool,
    /// `BLOB` / `bytea`.
    Bytes,
}

impl ColumnType {
    /// PostgreSQL's name of the type.
    pub(crate) fn pg_type(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "int8",
            ColumnType::Integer32 => "int4",
            ColumnType::Integer16 => "int2",
            ColumnType::Real => "float8",
            ColumnType::Bool => "bool",
            ColumnType::Bytes => "bytea",
        }
    }
}

/// How a filter on a column reads its values and which operators apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterKind {
    Text,
    Number,
    /// A number where the API reads `0` as thumbs-down (-1), as Cloudflare's filter values do.
    Feedback,
    Bool,
    /// Unix ms in the store; the API also takes RFC 3339.
    Time,
}

/// Which spool record sets a column when ingest writes a row, and how: the one mapping from
/// records to rows ([`LogRow::begun`], [`LogRow::end_with`]).
#[derive(Clone, Copy)]
pub(crate) enum Source {
    /// From the begin record: the row is inserted with it.
    Begin(fn(&mut LogRow, &LogBegin)),
    /// From the end record: the row is completed with it (in flight, the column holds what
    /// [`LogRow::begun`] leaves in it: the table's default).
    End(fn(&mut LogRow, &LogEnd)),
}

/// One column of the `logs` table.
pub(crate) struct LogColumn {
    pub name: &'static str,
    pub ty: ColumnType,
    pub filter: Option<FilterKind>,
    /// `order_by` accepts it.
    pub order: bool,
    /// Free-text `search` looks in it.
    pub search: bool,
    /// The API's row shows it (under `name`).
    pub api: bool,
    /// The record ingest writes it from; `None` for what only the logs API sets (feedback).
    pub source: Option<Source>,
    /// The row's value; `None` is NULL.
    pub get: fn(&LogRow) -> Option<Param>,
    /// Sets the row's field from a stored value of [`Self::ty`].
    pub set: fn(&mut LogRow, Option<Param>) -> Result<(), String>,
}

/// Which uses a column has, for the table's rows.
const NONE: u8 = 0;
const ORDER: u8 = 1;
const SEARCH: u8 = 2;
const API: u8 = 4;

const fn column(
    name: &'static str,
    ty: ColumnType,
    filter: Option<FilterKind>,
    uses: u8,
    source: Option<Source>,
    get: fn(&LogRow) -> Option<Param>,
    set: fn(&mut LogRow, Option<Param>) -> Result<(), String>,
) -> LogColumn {
    LogColumn {
        name,
        ty,
        filter,
        order: uses & ORDER != 0,
        search: uses & SEARCH != 0,
        api: uses & API != 0,
        source,
        get,
        set,
    }
}

/// Set from the begin / the end record ([`Source`]).
const fn begin(set: fn(&mut LogRow, &LogBegin)) -> Option<Source> {
    Some(Source::Begin(set))
}

const fn end(set: fn(&mut LogRow, &LogEnd)) -> Option<Source> {
    Some(Source::End(set))
}

use ColumnType::{Bool, Integer, Integer32, Real, Text};
use FilterKind as F;

/// Every column, in the order the API's row shows them (those it does not show last).
#[rustfmt::skip]
pub(crate) const LOG_COLUMNS: &[LogColumn] = &[
    column("id", Text, Some(F::Text), SEARCH | API, begin(|r, b| r.id = b.id.clone()), |r| text(&r.id), |r, v| set(&mut r.id, v)),
    column("created_at", Integer, Some(F::Time), ORDER | API, begin(|r, b| r.created_at_ms = b.created_at_ms), |r| int(r.created_at_ms), |r, v| set(&mut r.created_at_ms, v)),
    column("provider", Text, Some(F::Text), ORDER | SEARCH | API, begin(|r, b| r.provider = b.provider.clone()), |r| text(&r.provider), |r, v| set(&mut r.provider, v)),
    column("model", Text, Some(F::Text), ORDER | SEARCH | API, begin(|r, b| r.model = b.model.clone()), |r| opt_text(&r.model), |r, v| set(&mut r.model, v)),
    column("path", Text, Some(F::Text), SEARCH | API, begin(|r, b| r.path = b.path.clone()), |r| text(&r.path), |r, v| set(&mut r.path, v)),
    column("method", Text, None, API, begin(|r, b| r.method = b.method.clone()), |r| text(&r.method), |r, v| set(&mut r.method, v)),
    column("status_code", Integer32, Some(F::Number), ORDER | API, end(|r, e| r.status_code = e.status_code), |r| r.status_code.map(|s| Param::Integer(i64::from(s))), |r, v| set(&mut r.status_code, v)),
    column("success", Bool, Some(F::Bool), ORDER | API, end(|r, e| r.success = e.success), |r| boolean(r.success), |r, v| set(&mut r.success, v)),
    column("cached", Bool, Some(F::Bool), ORDER | API, end(|r, e| r.cached = e.cached), |r| boolean(r.cached), |r, v| set(&mut r.cached, v)),
    column("duration", Integer, Some(F::Number), ORDER | API, end(|r, e| r.duration_ms = Some(e.duration_ms)), |r| r.duration_ms.map(Param::Integer), |r, v| set(&mut r.duration_ms, v)),
    column("ttfb", Integer, None, API, end(|r, e| r.ttfb_ms = e.ttfb_ms), |r| r.ttfb_ms.map(Param::Integer), |r, v| set(&mut r.ttfb_ms, v)),
    column("tokens_in", Integer, Some(F::Number), ORDER | API, end(|r, e| r.tokens_in = e.tokens_in), |r| r.tokens_in.map(Param::Integer), |r, v| set(&mut r.tokens_in, v)),
    column("tokens_out", Integer, Some(F::Number), ORDER | API, end(|r, e| r.tokens_out = e.tokens_out), |r| r.tokens_out.map(Param::Integer), |r, v| set(&mut r.tokens_out, v)),
    column("cache_read_tokens", Integer, None, API, end(|r, e| r.cache_read_tokens = e.cache_read_tokens), |r| r.cache_read_tokens.map(Param::Integer), |r, v| set(&mut r.cache_read_tokens, v)),
    column("cache_write_tokens", Integer, None, API, end(|r, e| r.cache_write_tokens = e.cache_write_tokens), |r| r.cache_write_tokens.map(Param::Integer), |r, v| set(&mut r.cache_write_tokens, v)),
    column("cost", Real, Some(F::Number), ORDER | API, end(|r, e| r.cost = e.cost), |r| r.cost.map(Param::Real), |r, v| set(&mut r.cost, v)),
    column("custom_cost", Bool, None, API, end(|r, e| r.custom_cost = e.custom_cost), |r| boolean(r.custom_cost), |r, v| set(&mut r.custom_cost, v)),
    column("metadata", Text, None, SEARCH | API, begin(|r, b| r.metadata = b.metadata.clone()), |r| opt_text(&r.metadata), |r, v| set(&mut r.metadata, v)),
    column("step", Integer, None, API, begin(|r, b| r.step = b.step), |r| r.step.map(Param::Integer), |r, v| set(&mut r.step, v)),
    column("event_id", Text, Some(F::Text), SEARCH | API, begin(|r, b| r.event_id = b.event_id.clone()), |r| opt_text(&r.event_id), |r, v| set(&mut r.event_id, v)),
    column("attempts", Integer, None, API, end(|r, e| r.attempts = e.attempts), |r| int(r.attempts), |r, v| set(&mut r.attempts, v)),
    column("request_content_type", Text, Some(F::Text), API, begin(|r, b| r.request_content_type = b.request_content_type.clone()), |r| opt_text(&r.request_content_type), |r, v| set(&mut r.request_content_type, v)),
    column("response_content_type", Text, Some(F::Text), API, end(|r, e| r.response_content_type = e.response_content_type.clone()), |r| opt_text(&r.response_content_type), |r, v| set(&mut r.response_content_type, v)),
    column("request_size", Integer, None, API, begin(|r, b| r.request_size = Some(b.request_size)), |r| r.request_size.map(Param::Integer), |r, v| set(&mut r.request_size, v)),
    column("response_size", Integer, None, API, end(|r, e| r.response_size = Some(e.response_size)), |r| r.response_size.map(Param::Integer), |r, v| set(&mut r.response_size, v)),
    column("feedback", Integer, Some(F::Feedback), ORDER | API, None, |r| r.feedback.map(Param::Integer), |r, v| set(&mut r.feedback, v)),
    column("score", Real, None, API, None, |r| r.score.map(Param::Real), |r, v| set(&mut r.score, v)),
    column("client_ip", Text, None, API, begin(|r, b| r.client_ip = b.client_ip.clone()), |r| opt_text(&r.client_ip), |r, v| set(&mut r.client_ip, v)),
    column("user_agent", Text, Some(F::Text), API, begin(|r, b| r.user_agent = b.user_agent.clone()), |r| opt_text(&r.user_agent), |r, v| set(&mut r.user_agent, v)),
    column("error", Text, None, API, end(|r, e| r.error = e.error.clone()), |r| opt_text(&r.error), |r, v| set(&mut r.error, v)),
    column("dlp", Text, Some(F::Text), API, end(|r, e| r.dlp = e.dlp.clone()), |r| opt_text(&r.dlp), |r, v| set(&mut r.dlp, v)),
    column("trace_id", Text, Some(F::Text), SEARCH | API, begin(|r, b| r.trace_id = b.trace_id.clone()), |r| opt_text(&r.trace_id), |r, v| set(&mut r.trace_id, v)),
    column("account_id", Text, None, NONE, begin(|r, b| r.account_id = b.account_id.clone()), |r| text(&r.account_id), |r, v| set(&mut r.account_id, v)),
    column("gateway_id", Text, None, NONE, begin(|r, b| r.gateway_id = b.gateway_id.clone()), |r| text(&r.gateway_id), |r, v| set(&mut r.gateway_id, v)),
    // The heads' completeness is known only for rows that keep their payload.
    column("request_head_complete", Bool, None, NONE, begin(|r, b| r.request_head_complete = b.keep_payload.then_some(b.request_head_complete)), |r| r.request_head_complete.map(Param::Bool), |r, v| set(&mut r.request_head_complete, v)),
    column("response_head_complete", Bool, None, NONE, end(|r, e| r.response_head_complete = (!e.response_headers.is_empty()).then_some(e.response_head_complete)), |r| r.response_head_complete.map(Param::Bool), |r, v| set(&mut r.response_head_complete, v)),
    column("completed", Bool, None, NONE, end(|r, _| r.completed = true), |r| boolean(r.completed), |r, v| set(&mut r.completed, v)),
];

/// The column named `name`.
pub(crate) fn find(name: &str) -> Option<&'static LogColumn> {
    LOG_COLUMNS.iter().find(|c| c.name == name)
}

/// The columns a record sets: what ingest inserts a row with, in [`LOG_COLUMNS`]' order.
pub(crate) fn ingested() -> impl Iterator<Item = &'static LogColumn> + Clone {
    LOG_COLUMNS.iter().filter(|c| c.source.is_some())
}

/// The columns the end record sets: what completing a row updates, in [`LOG_COLUMNS`]' order.
pub(crate) fn set_by_end() -> impl Iterator<Item = &'static LogColumn> + Clone {
    LOG_COLUMNS
        .iter()
        .filter(|c| matches!(c.source, Some(Source::End(_))))
}

/// Every column's name, comma-separated, in [`LOG_COLUMNS`]' order (a SELECT list).
pub(crate) fn names() -> String {
    let names: Vec<&str> = LOG_COLUMNS.iter().map(|c| c.name).collect();
    names.join(", ")
}

/// Decodes one stored row: `read` yields column `i` of [`LOG_COLUMNS`] as a value of its type.
pub(crate) fn decode<E>(
    mut read: impl FnMut(usize, ColumnType) -> Result<Option<Param>, E>,
    corrupt: impl Fn(usize, String) -> E,
) -> Result<LogRow, E> {
    let mut row = LogRow::default();
    for (i, column) in LOG_COLUMNS.iter().enumerate() {
        let value = read(i, column.ty)?;
        (column.set)(&mut row, value).map_err(|why| corrupt(i, why))?;
    }
    Ok(row)
}

fn text(value: &str) -> Option<Param> {
    Some(Param::Text(value.to_owned()))
}

fn opt_text(value: &Option<String>) -> Option<Param> {
    value.clone().map(Param::Text)
}

fn int(value: i64) -> Option<Param> {
    Some(Param::Integer(value))
}

fn boolean(value: bool) -> Option<Param> {
    Some(Param::Bool(value))
}

/// Sets a field from a stored value, refusing what the field cannot hold.
fn set<T: FromParam>(field: &mut T, value: Option<Param>) -> Result<(), String> {
    *field = T::from_param(value)?;
    Ok(())
}

/// A field type a stored value converts into.
trait FromParam: Sized {
    fn from_value(value: Param) -> Result<Self, String>;

    fn from_param(value: Option<Param>) -> Result<Self, String> {
        Self::from_value(value.ok_or("NULL in a NOT NULL field")?)
    }
}

impl<T: FromParam> FromParam for Option<T> {
    fn from_value(value: Param) -> Result<Self, String> {
        T::from_value(value).map(Some)
    }

    fn from_param(value: Option<Param>) -> Result<Self, String> {
        value.map(T::from_value).transpose()
    }
}

impl FromParam for String {
    fn from_value(value: Param) -> Result<Self, String> {
        match value {
            Param::Text(text) => Ok(text),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl FromParam for i64 {
    fn from_value(value: Param) -> Result<Self, String> {
        match value {
            Param::Integer(i) => Ok(i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

impl FromParam for u16 {
    fn from_value(value: Param) -> Result<Self, String> {
        let wide = i64::from_value(value)?;
        u16::try_from(wide).map_err(|e| format!("{wide}: {e}"))
    }
}

impl FromParam for f64 {
    fn from_value(value: Param) -> Result<Self, String> {
        match value {
            Param::Real(f) => Ok(f),
            // SQLite hands back a REAL that holds an integral value as it was bound.
            Param::Integer(i) => Ok(signed_as_f64(i)),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromParam for bool {
    fn from_value(value: Param) -> Result<Self, String> {
        match value {
            Param::Bool(b) => Ok(b),
            // SQLite keeps booleans as 0/1.
            Param::Integer(i) => Ok(i != 0),
            other => Err(format!("expected a boolean, found {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_through_its_column() -> Result<(), String> {
        let row = LogRow {
            id: "id".into(),
            account_id: "acct".into(),
            gateway_id: "gw".into(),
            created_at_ms: 1,
            event_id: Some("ev".into()),
            provider: "p".into(),
            model: Some("m".into()),
            path: "x".into(),
            method: "POST".into(),
            status_code: Some(200),
            success: true,
            cached: true,
            duration_ms: Some(2),
            ttfb_ms: Some(3),
            tokens_in: Some(4),
            tokens_out: Some(5),
            cache_read_tokens: Some(6),
            cache_write_tokens: Some(7),
            cost: Some(0.5),
            custom_cost: true,
            metadata: Some("{}".into()),
            step: Some(8),
            attempts: 9,
            request_content_type: Some("a/b".into()),
            response_content_type: Some("c/d".into()),
            request_size: Some(10),
            response_size: Some(11),
            request_head_complete: Some(true),
            response_head_complete: Some(false),
            feedback: Some(-1),
            score: Some(1.5),
            client_ip: Some("ip".into()),
            user_agent: Some("ua".into()),
            error: Some("e".into()),
            trace_id: Some("t".into()),
            dlp: Some("{}".into()),
            completed: true,
        };
        let decoded = decode(|i, _| Ok((LOG_COLUMNS[i].get)(&row)), |_, why| why)?;
        assert_eq!(decoded, row);
        let names: std::collections::HashSet<&str> = LOG_COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), LOG_COLUMNS.len(), "a column is listed twice");
        Ok(())
    }
}
