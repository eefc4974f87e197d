//! The logs API's side of [`LogStore`] on PostgreSQL: listing with filters and aggregates, one
//! row, its bodies, feedback patches and deletion — with SQLite's semantics.

pub(super) mod filter;

use async_trait::async_trait;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt, pg_json};
use crate::analytics::RollupDelta;
use crate::logs::{SpoolPosition, SpoolRecord};
use crate::store::logs::filter_keys::TOTAL_TOKENS;
use crate::store::logs::{
    BodyKind, LogPageInfo, LogPatch, LogQuery, LogRow, LogStore, RowCap, StoredBody, body_codec,
};
use crate::store::{StoreError, StoreResult};
use filter::{Param, Where, order_clause, where_clause};

/// Every column of a row, in [`row_from_sql`]'s order.
const COLUMNS: &str = "id, account_id, gateway_id, created_at, event_id, provider, model, path, \
     method, status_code, success, cached, duration, ttfb, tokens_in, tokens_out, \
     cache_read_tokens, cache_write_tokens, cost, custom_cost, metadata, step, attempts, \
     request_content_type, response_content_type, request_size, response_size, \
     request_head_complete, response_head_complete, feedback, score, client_ip, user_agent, \
     error, completed";

fn row_from_sql(row: &Row) -> StoreResult<LogRow> {
    let status: Option<i32> = row.try_get(9)?;
    Ok(LogRow {
        id: row.try_get(0)?,
        account_id: row.try_get(1)?,
        gateway_id: row.try_get(2)?,
        created_at_ms: row.try_get(3)?,
        event_id: row.try_get(4)?,
        provider: row.try_get(5)?,
        model: row.try_get(6)?,
        path: row.try_get(7)?,
        method: row.try_get(8)?,
        status_code: status.map(u16::try_from).transpose().map_err(corrupt)?,
        success: row.try_get(10)?,
        cached: row.try_get(11)?,
        duration_ms: row.try_get(12)?,
        ttfb_ms: row.try_get(13)?,
        tokens_in: row.try_get(14)?,
        tokens_out: row.try_get(15)?,
        cache_read_tokens: row.try_get(16)?,
        cache_write_tokens: row.try_get(17)?,
        cost: row.try_get(18)?,
        custom_cost: row.try_get(19)?,
        metadata: row.try_get(20)?,
        step: row.try_get(21)?,
        attempts: row.try_get(22)?,
        request_content_type: row.try_get(23)?,
        response_content_type: row.try_get(24)?,
        request_size: row.try_get(25)?,
        response_size: row.try_get(26)?,
        request_head_complete: row.try_get(27)?,
        response_head_complete: row.try_get(28)?,
        feedback: row.try_get(29)?,
        score: row.try_get(30)?,
        client_ip: row.try_get(31)?,
        user_agent: row.try_get(32)?,
        error: row.try_get(33)?,
        completed: row.try_get(34)?,
    })
}

/// A query the API should have refused (unknown key, wrong value type) still fails cleanly.
fn invalid(why: String) -> StoreError {
    StoreError::Backend(format!("invalid log query: {why}"))
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

/// The SQL that reads one body with what goes with it, per kind. Column names are fixed here,
/// never taken from input.
fn body_sql(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Request => {
            "SELECT l.request_content_type, l.request_head_complete, b.request, b.request_headers
             FROM logs l JOIN log_bodies b ON b.log_id = l.id
             WHERE l.account_id = $1 AND l.gateway_id = $2 AND l.id = $3"
        }
        BodyKind::Response => {
            "SELECT l.response_content_type, l.response_head_complete, b.response, b.response_headers
             FROM logs l JOIN log_bodies b ON b.log_id = l.id
             WHERE l.account_id = $1 AND l.gateway_id = $2 AND l.id = $3"
        }
    }
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

/// The metadata text as filters read it: kept only when it is a JSON object.
fn metadata_json(metadata: Option<&str>) -> Option<Value> {
    metadata
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .filter(Value::is_object)
        .map(pg_json)
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
        let mut clause = where_clause(account_id, gateway_id, query, true).map_err(invalid)?;
        let order = order_clause(query).map_err(invalid)?;
        let info_sql = format!(
            "SELECT COUNT(*), MIN(cost), MAX(cost), MIN(duration), MAX(duration), \
             MIN(tokens_in), MAX(tokens_in), MIN(tokens_out), MAX(tokens_out), \
             MIN({TOTAL_TOKENS}), MAX({TOTAL_TOKENS}) FROM logs WHERE {}",
            clause.sql
        );
        let info_params = clause.params.len();
        let per_page = i64::from(query.per_page.max(1));
        let offset = i64::from(query.page.max(1) - 1).saturating_mul(per_page);
        let limit = clause.bind_extra(per_page);
        let offset = clause.bind_extra(offset);
        let rows_sql = format!(
            "SELECT {COLUMNS} FROM logs WHERE {} {order} LIMIT {limit} OFFSET {offset}",
            clause.sql
        );
        bounded(OP_TIMEOUT, async {
            let mut client = self.client().await?;
            // One snapshot: the page and its totals agree even while rows arrive.
            let transaction = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let values = clause.values();
            let (info, rows) = tokio::try_join!(
                transaction.query_one(&info_sql, &values[..info_params]),
                transaction.query(&rows_sql, &values),
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
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM logs WHERE account_id = $1 AND gateway_id = $2 AND id = $3"
                ))
                .await?;
            let row = client
                .query_opt(&statement, &[&account_id, &gateway_id, &id])
                .await?;
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
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            let statement = client.prepare_cached(body_sql(kind)).await?;
            let row = client
                .query_opt(&statement, &[&account_id, &gateway_id, &id])
                .await?;
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
        let mut clause = Where::default();
        let mut sets = Vec::new();
        let key = [
            clause.bind(Param::Text(account_id.to_owned())),
            clause.bind(Param::Text(gateway_id.to_owned())),
            clause.bind(Param::Text(id.to_owned())),
        ];
        // NULL parameters need no type: PostgreSQL takes the column's.
        let mut nulls: Vec<&str> = Vec::new();
        if let Some(feedback) = patch.feedback {
            match feedback {
                Some(value) => {
                    sets.push(format!("feedback = {}", clause.bind(Param::Integer(value))))
                }
                None => nulls.push("feedback"),
            }
        }
        if let Some(score) = patch.score {
            match score {
                Some(value) => sets.push(format!("score = {}", clause.bind(Param::Real(value)))),
                None => nulls.push("score"),
            }
        }
        let mut metadata_value = None;
        if let Some(metadata) = &patch.metadata {
            match metadata {
                Some(text) => {
                    sets.push(format!(
                        "metadata = {}",
                        clause.bind(Param::Text(text.clone()))
                    ));
                    metadata_value = Some(metadata_json(Some(text)));
                }
                None => {
                    nulls.push("metadata");
                    nulls.push("metadata_json");
                }
            }
        }
        sets.extend(nulls.iter().map(|column| format!("{column} = NULL")));
        let [account, gateway, log] = &key;
        let filter = format!("account_id = {account} AND gateway_id = {gateway} AND id = {log}");
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            let mut values: Vec<&(dyn ToSql + Sync)> = clause.values();
            if sets.is_empty() {
                // Nothing to change, but the caller still learns whether the log exists.
                let row = client
                    .query_one(
                        &format!("SELECT EXISTS (SELECT 1 FROM logs WHERE {filter})"),
                        &values,
                    )
                    .await?;
                return Ok(row.try_get(0)?);
            }
            if let Some(json) = &metadata_value {
                let at = values.len() + 1;
                values.push(json);
                sets.push(format!("metadata_json = ${at}::jsonb"));
            }
            let changed = client
                .execute(
                    &format!("UPDATE logs SET {} WHERE {filter}", sets.join(", ")),
                    &values,
                )
                .await?;
            Ok(changed > 0)
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
        let mut clause = where_clause(account_id, gateway_id, query, true).map_err(invalid)?;
        let order = order_clause(query).map_err(invalid)?;
        let limit = clause.bind_extra(i64::from(limit));
        // Bodies go with their rows (ON DELETE CASCADE), the counter with the trigger.
        let sql = format!(
            "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE {} {order} LIMIT {limit})",
            clause.sql
        );
        bounded(OP_TIMEOUT, async {
            Ok(self.client().await?.execute(&sql, &clause.values()).await?)
        })
        .await
    }
}
