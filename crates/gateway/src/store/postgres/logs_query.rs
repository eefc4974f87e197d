//! The logs API's side of [`LogStore`] on PostgreSQL: listing with filters and aggregates, one
//! row, its bodies, feedback patches and deletion — with SQLite's semantics.

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt};
use crate::logs::SpoolPosition;
use crate::store::StoreResult;
use crate::store::logs::columns::{self, ColumnType};
use crate::store::logs::{LogPageInfo, LogRow, StoredBody};
use crate::store::sql::log_store::{IngestBatch, SqlLogs};
use crate::store::sql::logs::{self as sql, ListSql};
use crate::store::sql::{Dialect, Param, Statement};

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
                Param::Bytes(v) => v,
            }
        })
        .collect()
}

/// Column `i` of `row`, read as `ty`.
pub(super) fn read(row: &Row, i: usize, ty: ColumnType) -> StoreResult<Option<Param>> {
    Ok(match ty {
        ColumnType::Text => row.try_get::<_, Option<String>>(i)?.map(Param::Text),
        ColumnType::Integer => row.try_get::<_, Option<i64>>(i)?.map(Param::Integer),
        ColumnType::Integer32 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Param::Integer(i64::from(v))),
        ColumnType::Integer16 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Param::Integer(i64::from(v))),
        ColumnType::Real => row.try_get::<_, Option<f64>>(i)?.map(Param::Real),
        ColumnType::Bool => row.try_get::<_, Option<bool>>(i)?.map(Param::Bool),
        ColumnType::Bytes => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Param::Bytes),
    })
}

/// Decodes a row of [`columns::LOG_COLUMNS`].
fn row_from_sql(row: &Row) -> StoreResult<LogRow> {
    columns::decode(|i, ty| read(row, i, ty), |_, why| corrupt(why))
}

fn info_from_sql(row: &Row) -> StoreResult<LogPageInfo> {
    sql::page_info(|i, ty| read(row, i, ty))
}

fn body_from_sql(row: &Row) -> StoreResult<Option<StoredBody>> {
    sql::stored_body(|i, ty| read(row, i, ty), corrupt)
}

/// Runs `statement` for at most one row.
async fn query_opt(store: &PostgresStore, statement: &Statement) -> StoreResult<Option<Row>> {
    let client = store.client().await?;
    let prepared = client.prepare_cached(&statement.sql).await?;
    Ok(client
        .query_opt(&prepared, &values(&statement.params))
        .await?)
}

#[async_trait]
impl SqlLogs for PostgresStore {
    const DIALECT: Dialect = Dialect::Postgres;

    async fn write_batch(&self, instance_id: &str, batch: IngestBatch) -> StoreResult<()> {
        self.ingest_batch(instance_id, batch).await
    }

    async fn stored_checkpoint(&self, instance_id: &str) -> StoreResult<Option<SpoolPosition>> {
        self.read_checkpoint(instance_id).await
    }

    async fn interrupt(&self, instance_id: &str) -> StoreResult<u64> {
        self.mark_interrupted_rows(instance_id).await
    }

    async fn list(&self, sql: ListSql) -> StoreResult<(Vec<LogRow>, LogPageInfo)> {
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

    async fn row(&self, statement: Statement) -> StoreResult<Option<LogRow>> {
        bounded(OP_TIMEOUT, async {
            let row = query_opt(self, &statement).await?;
            row.as_ref().map(row_from_sql).transpose()
        })
        .await
    }

    async fn body(&self, statement: Statement) -> StoreResult<Option<StoredBody>> {
        bounded(OP_TIMEOUT, async {
            let row = query_opt(self, &statement).await?;
            Ok(row.as_ref().map(body_from_sql).transpose()?.flatten())
        })
        .await
    }

    async fn exists(&self, statement: Statement) -> StoreResult<bool> {
        bounded(OP_TIMEOUT, async {
            match query_opt(self, &statement).await? {
                Some(row) => Ok(row.try_get(0)?),
                None => Ok(false),
            }
        })
        .await
    }

    async fn execute(&self, statement: Statement) -> StoreResult<u64> {
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            Ok(client
                .execute(&statement.sql, &values(&statement.params))
                .await?)
        })
        .await
    }
}
