//! The logs API's side of [`LogStore`] on SQLite: listing with filters and aggregates, one
//! row, its bodies, feedback patches and deletion. Reads go to the reader connection, so they
//! never wait behind an ingest batch; patch and delete write.

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::{SqliteStore, to_text};
use crate::analytics::RollupDelta;
use crate::logs::{SpoolPosition, SpoolRecord};
use crate::store::StoreResult;
use crate::store::logs::columns;
use crate::store::logs::{
    BodyKind, LogPageInfo, LogPatch, LogQuery, LogRow, LogStore, RowCap, StoredBody, body_codec,
};
use crate::store::sql::logs::{self as sql, ListSql, PatchSql};
use crate::store::sql::{Dialect, Param, Statement};

const DIALECT: Dialect = Dialect::Sqlite;

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(text) => ToSqlOutput::from(text.as_str()),
            Param::Integer(i) => ToSqlOutput::from(*i),
            Param::Real(f) => ToSqlOutput::from(*f),
            Param::Bool(b) => ToSqlOutput::from(*b),
            Param::Json(value) => ToSqlOutput::from(value.to_string()),
        })
    }
}

/// Decodes a row of [`columns::LOG_COLUMNS`] (booleans come back as 0/1; the table reads those).
fn row_from_sql(row: &rusqlite::Row<'_>) -> rusqlite::Result<LogRow> {
    columns::decode(
        |i, _| {
            Ok(match row.get::<_, SqlValue>(i)? {
                SqlValue::Null => None,
                SqlValue::Integer(v) => Some(Param::Integer(v)),
                SqlValue::Real(v) => Some(Param::Real(v)),
                SqlValue::Text(v) => Some(Param::Text(v)),
                SqlValue::Blob(_) => return Err(to_text(i)("a blob in a log column")),
            })
        },
        |i, why| to_text(i)(why),
    )
}

fn list(connection: &mut Connection, sql: ListSql) -> rusqlite::Result<(Vec<LogRow>, LogPageInfo)> {
    // One read transaction: the page and its totals come from the same snapshot.
    let tx = connection.transaction()?;
    let params = &sql.rows.params;
    let info = tx.query_row(
        &sql.info,
        params_from_iter(params[..sql.info_params].iter()),
        |r| {
            let count: i64 = r.get(0)?;
            Ok(LogPageInfo {
                total_count: u64::try_from(count).unwrap_or(0),
                min_cost: r.get(1)?,
                max_cost: r.get(2)?,
                min_duration: r.get(3)?,
                max_duration: r.get(4)?,
                min_tokens_in: r.get(5)?,
                max_tokens_in: r.get(6)?,
                min_tokens_out: r.get(7)?,
                max_tokens_out: r.get(8)?,
                min_total_tokens: r.get(9)?,
                max_total_tokens: r.get(10)?,
            })
        },
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
    // A NULL blob means the body was not kept (`cf-aig-collect-log-payload: false`).
    let Some(stored) = row.get::<_, Option<Vec<u8>>>(2)? else {
        return Ok(None);
    };
    let bytes = body_codec::decode(stored).map_err(to_text(2))?;
    let headers: Option<String> = row.get(3)?;
    Ok(Some(StoredBody {
        content_type: row.get(0)?,
        bytes,
        complete: row.get::<_, Option<bool>>(1)?.unwrap_or(true),
        // Headers are informational; a malformed value must not hide the body itself.
        headers: headers.and_then(|h| serde_json::from_str(&h).ok()),
    }))
}

#[async_trait]
impl LogStore for SqliteStore {
    // One SQLite file belongs to one data directory, hence to one instance and one spool: the
    // instance id is not needed to tell checkpoints apart.
    async fn ingest(
        &self,
        _instance_id: &str,
        records: Vec<SpoolRecord>,
        rollups: Vec<RollupDelta>,
        checkpoint: SpoolPosition,
        caps: Vec<((String, String), RowCap)>,
    ) -> StoreResult<()> {
        self.ingest_records(records, rollups, checkpoint, caps)
            .await
    }

    async fn checkpoint(&self, _instance_id: &str) -> StoreResult<Option<SpoolPosition>> {
        self.read_checkpoint().await
    }

    async fn mark_interrupted(&self, instance_id: &str) -> StoreResult<u64> {
        self.mark_interrupted_rows(instance_id).await
    }

    async fn list_logs(
        &self,
        account_id: &str,
        gateway_id: &str,
        query: &LogQuery,
    ) -> StoreResult<(Vec<LogRow>, LogPageInfo)> {
        let sql = sql::list(DIALECT, account_id, gateway_id, query)?;
        self.with_read(move |c| list(c, sql)).await
    }

    async fn get_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<Option<LogRow>> {
        let statement = sql::get(DIALECT, account_id, gateway_id, id);
        self.with_read(move |c| query_opt(c, &statement, row_from_sql))
            .await
    }

    async fn get_body(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        kind: BodyKind,
    ) -> StoreResult<Option<StoredBody>> {
        let statement = sql::body(DIALECT, account_id, gateway_id, id, kind);
        self.with_read(move |c| query_opt(c, &statement, body_from_sql).map(Option::flatten))
            .await
    }

    async fn patch_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        patch: &LogPatch,
    ) -> StoreResult<bool> {
        match sql::patch(DIALECT, account_id, gateway_id, id, patch) {
            PatchSql::Exists(statement) => {
                let exists = self
                    .with_read(move |c| query_opt(c, &statement, |r| r.get(0)))
                    .await?;
                Ok(exists.unwrap_or(false))
            }
            PatchSql::Update(statement) => {
                let changed = self.with(move |c| execute(c, &statement)).await?;
                Ok(changed > 0)
            }
        }
    }

    async fn delete_logs(
        &self,
        account_id: &str,
        gateway_id: &str,
        query: &LogQuery,
        limit: u32,
    ) -> StoreResult<u64> {
        if limit == 0 {
            return Ok(0);
        }
        // Bodies go with their rows (ON DELETE CASCADE; foreign_keys is on).
        let statement = sql::delete(DIALECT, account_id, gateway_id, query, limit)?;
        let deleted = self.with(move |c| execute(c, &statement)).await?;
        Ok(deleted as u64)
    }
}

fn execute(connection: &Connection, statement: &Statement) -> rusqlite::Result<usize> {
    connection.execute(&statement.sql, params_from_iter(statement.params.iter()))
}

#[cfg(test)]
mod tests;
