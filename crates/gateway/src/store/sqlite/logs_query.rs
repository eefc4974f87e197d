//! The logs API's side of [`LogStore`] on SQLite: listing with filters and aggregates, one
//! row, its bodies, feedback patches and deletion. Reads go to the reader connection, so they
//! never wait behind an ingest batch; patch and delete write.

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::{SqliteStore, to_text};
use crate::logs::SpoolPosition;
use crate::store::StoreResult;
use crate::store::logs::columns;
use crate::store::logs::{LogPageInfo, LogRow, StoredBody};
use crate::store::sql::log_store::{IngestBatch, SqlLogs};
use crate::store::sql::logs::{self as sql, ListSql};
use crate::store::sql::{Dialect, Param, Statement};

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(text) => ToSqlOutput::from(text.as_str()),
            Param::Integer(i) => ToSqlOutput::from(*i),
            Param::Real(f) => ToSqlOutput::from(*f),
            Param::Bool(b) => ToSqlOutput::from(*b),
            Param::Json(value) => ToSqlOutput::from(value.to_string()),
            Param::Bytes(bytes) => ToSqlOutput::from(bytes.as_slice()),
        })
    }
}

/// Column `i` of `row` as stored (booleans come back as 0/1; the readers take those).
pub(in crate::store) fn read(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Param>> {
    Ok(match row.get::<_, SqlValue>(i)? {
        SqlValue::Null => None,
        SqlValue::Integer(v) => Some(Param::Integer(v)),
        SqlValue::Real(v) => Some(Param::Real(v)),
        SqlValue::Text(v) => Some(Param::Text(v)),
        SqlValue::Blob(v) => Some(Param::Bytes(v)),
    })
}

/// Decodes a row of [`columns::LOG_COLUMNS`].
fn row_from_sql(row: &rusqlite::Row<'_>) -> rusqlite::Result<LogRow> {
    columns::decode(|i, _| read(row, i), |i, why| to_text(i)(why))
}

fn list(connection: &mut Connection, sql: ListSql) -> rusqlite::Result<(Vec<LogRow>, LogPageInfo)> {
    // One read transaction: the page and its totals come from the same snapshot.
    let tx = connection.transaction()?;
    let params = &sql.rows.params;
    let info = tx.query_row(
        &sql.info,
        params_from_iter(params[..sql.info_params].iter()),
        |r| sql::page_info(|i, _| read(r, i)),
    )?;
    let rows = tx
        .prepare(&sql.rows.sql)?
        .query_map(params_from_iter(params.iter()), row_from_sql)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, info))
}

/// Runs `statement` for at most one row.
fn query_opt<T>(
    connection: &Connection,
    statement: &Statement,
    read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    connection
        .query_row(
            &statement.sql,
            params_from_iter(statement.params.iter()),
            read,
        )
        .optional()
}

fn body_from_sql(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<StoredBody>> {
    sql::stored_body(|i, _| read(row, i), to_text(2))
}

#[async_trait]
impl SqlLogs for SqliteStore {
    const DIALECT: Dialect = Dialect::Sqlite;

    // One SQLite file belongs to one data directory, hence to one instance and one spool: the
    // instance id is not needed to tell checkpoints apart.
    async fn write_batch(&self, _instance_id: &str, batch: IngestBatch) -> StoreResult<()> {
        self.ingest_records(batch).await
    }

    async fn stored_checkpoint(&self, _instance_id: &str) -> StoreResult<Option<SpoolPosition>> {
        self.read_checkpoint().await
    }

    async fn interrupt(&self, instance_id: &str) -> StoreResult<u64> {
        self.mark_interrupted_rows(instance_id).await
    }

    async fn list(&self, sql: ListSql) -> StoreResult<(Vec<LogRow>, LogPageInfo)> {
        self.with_read(move |c| list(c, sql)).await
    }

    async fn row(&self, statement: Statement) -> StoreResult<Option<LogRow>> {
        self.with_read(move |c| query_opt(c, &statement, row_from_sql))
            .await
    }

    async fn body(&self, statement: Statement) -> StoreResult<Option<StoredBody>> {
        self.with_read(move |c| query_opt(c, &statement, body_from_sql).map(Option::flatten))
            .await
    }

    async fn exists(&self, statement: Statement) -> StoreResult<bool> {
        let exists = self
            .with_read(move |c| query_opt(c, &statement, |r| r.get(0)))
            .await?;
        Ok(exists.unwrap_or(false))
    }

    async fn execute(&self, statement: Statement) -> StoreResult<u64> {
        let changed = self
            .with(move |c| c.execute(&statement.sql, params_from_iter(statement.params.iter())))
            .await?;
        Ok(changed as u64)
    }
}

#[cfg(test)]
mod tests;
