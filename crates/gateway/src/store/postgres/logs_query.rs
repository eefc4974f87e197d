//! The logs API's side of [`LogStore`] on PostgreSQL: listing with filters and aggregates, one
//! row, its bodies, feedback patches and deletion — with SQLite's semantics.

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt};
use crate::analytics::RollupDelta;
use crate::logs::{SpoolPosition, SpoolRecord};
use crate::store::StoreResult;
use crate::store::logs::columns::{self, ColumnType};
use crate::store::logs::{
    BodyKind, LogPageInfo, LogPatch, LogQuery, LogRow, LogStore, RowCap, StoredBody, body_codec,
};
use crate::store::sql::logs::{self as sql, PatchSql};
use crate::store::sql::{Dialect, Param, Statement};

const DIALECT: Dialect = Dialect::Postgres;

/// The parameters as the driver takes them.
pub(in crate::store::postgres) fn values(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|param| -> &(dyn ToSql + Sync) {
            match param {
                Param::Text(v) => v,
                Param::Integer(v) => v,
                Param::Real(v) => v,
                Param::Bool(v) => v,
                Param::Json(v) => v,
            }
        })
        .collect()
}

/// Decodes a row of [`columns::LOG_COLUMNS`], each column read as its type.
fn row_from_sql(row: &Row) -> StoreResult<LogRow> {
    columns::decode(
        |i, ty| {
            Ok(match ty {
                ColumnType::Text => row.try_get::<_, Option<String>>(i)?.map(Param::Text),
                ColumnType::Integer => row.try_get::<_, Option<i64>>(i)?.map(Param::Integer),
                ColumnType::Integer32 => row
                    .try_get::<_, Option<i32>>(i)?
                    .map(|v| Param::Integer(i64::from(v))),
                ColumnType::Real => row.try_get::<_, Option<f64>>(i)?.map(Param::Real),
                ColumnType::Bool => row.try_get::<_, Option<bool>>(i)?.map(Param::Bool),
            })
        },
        |_, why| corrupt(why),
    )
}

fn info_from_sql(row: &Row) -> StoreResult<LogPageInfo> {
    let count: i64 = row.try_get(0)?;
    Ok(LogPageInfo {
        total_count: u64::try_from(count).unwrap_or(0),
        min_cost: row.try_get(1)?,
        max_cost: row.try_get(2)?,
        min_duration: row.try_get(3)?,
        max_duration: row.try_get(4)?,
        min_tokens_in: row.try_get(5)?,
        max_tokens_in: row.try_get(6)?,
        min_tokens_out: row.try_get(7)?,
        max_tokens_out: row.try_get(8)?,
        min_total_tokens: row.try_get(9)?,
        max_total_tokens: row.try_get(10)?,
    })
}

fn body_from_sql(row: &Row) -> StoreResult<Option<StoredBody>> {
    // A NULL body means it was not kept (`cf-aig-collect-log-payload: false`).
    let Some(stored) = row.try_get::<_, Option<Vec<u8>>>(2)? else {
        return Ok(None);
    };
    let bytes = body_codec::decode(stored).map_err(corrupt)?;
    let headers: Option<String> = row.try_get(3)?;
    Ok(Some(StoredBody {
        content_type: row.try_get(0)?,
        bytes,
        complete: row.try_get::<_, Option<bool>>(1)?.unwrap_or(true),
        // Headers are informational; a malformed value must not hide the body itself.
        headers: headers.and_then(|h| serde_json::from_str(&h).ok()),
    }))
}

/// Runs `statement` for at most one row.
async fn query_opt(store: &PostgresStore, statement: &Statement) -> StoreResult<Option<Row>> {
    let client = store.client().await?;
    let prepared = client.prepare_cached(&statement.sql).await?;
    Ok(client
        .query_opt(&prepared, &values(&statement.params))
        .await?)
}

async fn execute(store: &PostgresStore, statement: &Statement) -> StoreResult<u64> {
    let client = store.client().await?;
    Ok(client
        .execute(&statement.sql, &values(&statement.params))
        .await?)
}

#[async_trait]
impl LogStore for PostgresStore {
    async fn ingest(
        &self,
        instance_id: &str,
        records: Vec<SpoolRecord>,
        rollups: Vec<RollupDelta>,
        checkpoint: SpoolPosition,
        caps: Vec<((String, String), RowCap)>,
    ) -> StoreResult<()> {
        self.ingest_batch(instance_id, records, rollups, checkpoint, caps)
            .await
    }

    async fn checkpoint(&self, instance_id: &str) -> StoreResult<Option<SpoolPosition>> {
        self.read_checkpoint(instance_id).await
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
        bounded(OP_TIMEOUT, async {
            let mut client = self.client().await?;
            // One snapshot: the page and its totals agree even while rows arrive.
            let transaction = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let values = values(&sql.rows.params);
            let (info, rows) = tokio::try_join!(
                transaction.query_one(&sql.info, &values[..sql.info_params]),
                transaction.query(&sql.rows.sql, &values),
            )?;
            transaction.commit().await?;
            let rows = rows.iter().map(row_from_sql).collect::<StoreResult<_>>()?;
            Ok((rows, info_from_sql(&info)?))
        })
        .await
    }

    async fn get_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<Option<LogRow>> {
        let statement = sql::get(DIALECT, account_id, gateway_id, id);
        bounded(OP_TIMEOUT, async {
            let row = query_opt(self, &statement).await?;
            row.as_ref().map(row_from_sql).transpose()
        })
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
        bounded(OP_TIMEOUT, async {
            let row = query_opt(self, &statement).await?;
            Ok(row.as_ref().map(body_from_sql).transpose()?.flatten())
        })
        .await
    }

    async fn patch_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        patch: &LogPatch,
    ) -> StoreResult<bool> {
        let patch = sql::patch(DIALECT, account_id, gateway_id, id, patch);
        bounded(OP_TIMEOUT, async {
            match &patch {
                PatchSql::Exists(statement) => match query_opt(self, statement).await? {
                    Some(row) => Ok(row.try_get(0)?),
                    None => Ok(false),
                },
                PatchSql::Update(statement) => Ok(execute(self, statement).await? > 0),
            }
        })
        .await
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
        // Bodies go with their rows (ON DELETE CASCADE), the counter with the trigger.
        let statement = sql::delete(DIALECT, account_id, gateway_id, query, limit)?;
        bounded(OP_TIMEOUT, execute(self, &statement)).await
    }
}
