//! The logs API's side of [`LogStore`] on SQLite: listing with filters and aggregates, one
//! row, its bodies, feedback patches and deletion. Reads go to the reader connection, so they
//! never wait behind an ingest batch; patch and delete write.

mod filter;

use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{SqliteStore, to_text};
use crate::analytics::RollupDelta;
use crate::logs::{SpoolPosition, SpoolRecord};
use crate::store::logs::{
    BodyKind, LogPageInfo, LogPatch, LogQuery, LogRow, LogStore, RowCap, StoredBody, body_codec,
};
use crate::store::{StoreError, StoreResult};
use filter::{TOTAL_TOKENS, Where, order_clause, where_clause};

/// Every column of a row, in [`row_from_sql`]'s order.
const COLUMNS: &str = "id, account_id, gateway_id, created_at, event_id, provider, model, path, \
     method, status_code, success, cached, duration, ttfb, tokens_in, tokens_out, \
     cache_read_tokens, cache_write_tokens, cost, custom_cost, metadata, step, attempts, \
     request_content_type, response_content_type, request_size, response_size, \
     request_head_complete, response_head_complete, feedback, score, client_ip, user_agent, \
     error, completed";

fn row_from_sql(row: &rusqlite::Row<'_>) -> rusqlite::Result<LogRow> {
    let status: Option<i64> = row.get(9)?;
    Ok(LogRow {
        id: row.get(0)?,
        account_id: row.get(1)?,
        gateway_id: row.get(2)?,
        created_at_ms: row.get(3)?,
        event_id: row.get(4)?,
        provider: row.get(5)?,
        model: row.get(6)?,
        path: row.get(7)?,
        method: row.get(8)?,
        status_code: status.map(u16::try_from).transpose().map_err(to_text(9))?,
        success: row.get(10)?,
        cached: row.get(11)?,
        duration_ms: row.get(12)?,
        ttfb_ms: row.get(13)?,
        tokens_in: row.get(14)?,
        tokens_out: row.get(15)?,
        cache_read_tokens: row.get(16)?,
        cache_write_tokens: row.get(17)?,
        cost: row.get(18)?,
        custom_cost: row.get(19)?,
        metadata: row.get(20)?,
        step: row.get(21)?,
        attempts: row.get(22)?,
        request_content_type: row.get(23)?,
        response_content_type: row.get(24)?,
        request_size: row.get(25)?,
        response_size: row.get(26)?,
        request_head_complete: row.get(27)?,
        response_head_complete: row.get(28)?,
        feedback: row.get(29)?,
        score: row.get(30)?,
        client_ip: row.get(31)?,
        user_agent: row.get(32)?,
        error: row.get(33)?,
        completed: row.get(34)?,
    })
}

/// A query the API should have refused (unknown key, wrong value type) still fails cleanly.
fn invalid(why: String) -> StoreError {
    StoreError::Backend(format!("invalid log query: {why}"))
}

fn list(
    connection: &mut Connection,
    mut clause: Where,
    order: &str,
    query: &LogQuery,
) -> rusqlite::Result<(Vec<LogRow>, LogPageInfo)> {
    // One read transaction: the page and its totals come from the same snapshot.
    let tx = connection.transaction()?;
    let info = tx.query_row(
        &format!(
            "SELECT COUNT(*), MIN(cost), MAX(cost), MIN(duration), MAX(duration), \
             MIN(tokens_in), MAX(tokens_in), MIN(tokens_out), MAX(tokens_out), \
             MIN({TOTAL_TOKENS}), MAX({TOTAL_TOKENS}) FROM logs WHERE {}",
            clause.sql
        ),
        params_from_iter(clause.params.iter()),
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
    let per_page = i64::from(query.per_page.max(1));
    let offset = i64::from(query.page.max(1) - 1).saturating_mul(per_page);
    let limit = clause.bind_extra(per_page);
    let offset = clause.bind_extra(offset);
    let rows = tx
        .prepare(&format!(
            "SELECT {COLUMNS} FROM logs WHERE {} {order} LIMIT {limit} OFFSET {offset}",
            clause.sql
        ))?
        .query_map(params_from_iter(clause.params.iter()), row_from_sql)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, info))
}

/// The SQL that reads one body with what goes with it, per kind. Column names are fixed here,
/// never taken from input.
fn body_sql(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Request => {
            "SELECT l.request_content_type, l.request_head_complete, b.request, b.request_headers
             FROM logs l JOIN log_bodies b ON b.log_id = l.id
             WHERE l.account_id = ?1 AND l.gateway_id = ?2 AND l.id = ?3"
        }
        BodyKind::Response => {
            "SELECT l.response_content_type, l.response_head_complete, b.response, b.response_headers
             FROM logs l JOIN log_bodies b ON b.log_id = l.id
             WHERE l.account_id = ?1 AND l.gateway_id = ?2 AND l.id = ?3"
        }
    }
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
        let clause = where_clause(account_id, gateway_id, query, true).map_err(invalid)?;
        let order = order_clause(query).map_err(invalid)?;
        let query = query.clone();
        self.with_read(move |c| list(c, clause, &order, &query))
            .await
    }

    async fn get_log(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<Option<LogRow>> {
        let (account_id, gateway_id, id) =
            (account_id.to_owned(), gateway_id.to_owned(), id.to_owned());
        self.with_read(move |c| {
            c.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM logs WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3"
                ),
                params![account_id, gateway_id, id],
                row_from_sql,
            )
            .optional()
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
        let (account_id, gateway_id, id) =
            (account_id.to_owned(), gateway_id.to_owned(), id.to_owned());
        self.with_read(move |c| {
            c.query_row(
                body_sql(kind),
                params![account_id, gateway_id, id],
                body_from_sql,
            )
            .optional()
            .map(Option::flatten)
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
        let mut sets = Vec::new();
        let mut values = vec![
            Sql::Text(account_id.to_owned()),
            Sql::Text(gateway_id.to_owned()),
            Sql::Text(id.to_owned()),
        ];
        let mut set = |column: &str, value: Sql| {
            values.push(value);
            sets.push(format!("{column} = ?{}", values.len()));
        };
        if let Some(feedback) = patch.feedback {
            set("feedback", feedback.map_or(Sql::Null, Sql::Integer));
        }
        if let Some(score) = patch.score {
            set("score", score.map_or(Sql::Null, Sql::Real));
        }
        if let Some(metadata) = &patch.metadata {
            set("metadata", metadata.clone().map_or(Sql::Null, Sql::Text));
        }
        if sets.is_empty() {
            // Nothing to change, but the caller still learns whether the log exists.
            let exists: bool = self
                .with_read(move |c| {
                    c.query_row(
                        "SELECT EXISTS (SELECT 1 FROM logs
                         WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3)",
                        params_from_iter(values.iter()),
                        |r| r.get(0),
                    )
                })
                .await?;
            return Ok(exists);
        }
        let sql = format!(
            "UPDATE logs SET {} WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
            sets.join(", ")
        );
        let changed = self
            .with(move |c| c.execute(&sql, params_from_iter(values.iter())))
            .await?;
        Ok(changed > 0)
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
        // Bodies go with their rows (ON DELETE CASCADE; foreign_keys is on).
        let sql = format!(
            "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE {} {order} LIMIT {limit})",
            clause.sql
        );
        let deleted = self
            .with(move |c| c.execute(&sql, params_from_iter(clause.params.iter())))
            .await?;
        Ok(deleted as u64)
    }
}

#[cfg(test)]
mod tests;
