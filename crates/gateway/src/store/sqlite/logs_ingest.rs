//! Moving spool records into SQLite: one transaction per batch, idempotent on the log id, with
//! the checkpoint and the row caps applied in the same transaction.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use zstd::bulk::Compressor;

use super::SqliteStore;
use crate::analytics::RollupDelta;
use crate::logs::{LogBegin, LogEnd, SpoolPosition, SpoolRecord};
use crate::store::StoreResult;
use crate::store::logs::RowCap;

/// zstd level for stored bodies: fast, and prompts compress well at it.
const BODY_COMPRESSION_LEVEL: i32 = 3;

impl SqliteStore {
    pub(super) async fn ingest_records(
        &self,
        records: Vec<SpoolRecord>,
        rollups: Vec<RollupDelta>,
        checkpoint: SpoolPosition,
        caps: Vec<((String, String), RowCap)>,
    ) -> StoreResult<()> {
        self.with(move |connection| {
            // One context for the batch: a fresh one per body (`zstd::encode_all`) cleared ~1 MB of
            // match tables each time, which was most of the gateway's CPU under load.
            let mut compressor = Compressor::new(BODY_COMPRESSION_LEVEL).map_err(to_sql_error)?;
            let transaction = connection.transaction()?;
            super::rollups::apply(&transaction, &rollups)?;
            for record in &records {
                match record {
                    SpoolRecord::Begin { begin, body } => {
                        insert_begin(&transaction, &mut compressor, begin, body, &caps)?
                    }
                    SpoolRecord::End { end, body } => {
                        complete(&transaction, &mut compressor, end, body)?
                    }
                }
            }
            for ((account, gateway), cap) in &caps {
                if let RowCap::DeleteOldest(limit) = cap {
                    delete_oldest(&transaction, account, gateway, *limit)?;
                }
            }
            // Cached: under load the shipper commits many small batches, each with this upsert.
            transaction
                .prepare_cached(
                    "INSERT INTO spool_checkpoint (id, segment, offset) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET segment = excluded.segment, offset = excluded.offset",
                )?
                .execute(params![checkpoint.segment as i64, checkpoint.offset as i64])?;
            transaction.commit()
        })
        .await
    }

    pub(super) async fn read_checkpoint(&self) -> StoreResult<Option<SpoolPosition>> {
        self.with(|connection| {
            connection
                .query_row(
                    "SELECT segment, offset FROM spool_checkpoint WHERE id = 1",
                    [],
                    |row| {
                        Ok(SpoolPosition {
                            segment: row.get::<_, i64>(0)? as u64,
                            offset: row.get::<_, i64>(1)? as u64,
                        })
                    },
                )
                .optional()
        })
        .await
    }

    pub(super) async fn mark_interrupted_rows(&self, instance_id: &str) -> StoreResult<u64> {
        let instance_id = instance_id.to_owned();
        self.with(move |connection| {
            connection
                .execute(
                    "UPDATE logs SET completed = 1, success = 0, error = 'interrupted'
                     WHERE completed = 0 AND instance_id = ?1",
                    [instance_id],
                )
                .map(|n| n as u64)
        })
        .await
    }
}

fn insert_begin(
    transaction: &Transaction<'_>,
    compressor: &mut Compressor<'_>,
    begin: &LogBegin,
    body: &[u8],
    caps: &[((String, String), RowCap)],
) -> rusqlite::Result<()> {
    let stop_at = caps.iter().find_map(|((account, gateway), cap)| match cap {
        RowCap::StopInserting(limit)
            if *account == begin.account_id && *gateway == begin.gateway_id =>
        {
            Some(*limit)
        }
        _ => None,
    });
    if let Some(limit) = stop_at
        && row_count(transaction, &begin.account_id, &begin.gateway_id)? >= limit
    {
        return Ok(());
    }
    let inserted = transaction.prepare_cached(
        "INSERT OR IGNORE INTO logs (id, account_id, gateway_id, created_at, event_id, provider, model, path,
            method, metadata, step, request_content_type, request_size, request_head_complete, client_ip,
            user_agent, instance_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        begin.id,
        begin.account_id,
        begin.gateway_id,
        begin.created_at_ms,
        begin.event_id,
        begin.provider,
        begin.model,
        begin.path,
        begin.method,
        begin.metadata,
        begin.step,
        begin.request_content_type,
        begin.request_size,
        begin.keep_payload.then_some(begin.request_head_complete),
        begin.client_ip,
        begin.user_agent,
        begin.instance_id,
    ])?;
    if inserted > 0 && begin.keep_payload {
        transaction
            .prepare_cached(
                "INSERT INTO log_bodies (log_id, request, request_headers) VALUES (?1, ?2, ?3)
                 ON CONFLICT (log_id) DO UPDATE SET request = excluded.request,
                    request_headers = excluded.request_headers",
            )?
            .execute(params![
                begin.id,
                compress(compressor, body)?,
                headers_json(&begin.request_headers)
            ])?;
    }
    Ok(())
}

fn complete(
    transaction: &Transaction<'_>,
    compressor: &mut Compressor<'_>,
    end: &LogEnd,
    body: &[u8],
) -> rusqlite::Result<()> {
    let changed = transaction
        .prepare_cached(
            "UPDATE logs SET status_code = ?2, success = ?3, cached = ?4, duration = ?5, ttfb = ?6,
                tokens_in = ?7, tokens_out = ?8, cache_read_tokens = ?9, cache_write_tokens = ?10, cost = ?11,
                custom_cost = ?12, attempts = ?13, response_content_type = ?14, response_size = ?15,
                response_head_complete = ?16, error = ?17, completed = 1
             WHERE id = ?1",
        )?
        .execute(params![
            end.id,
            end.status_code,
            end.success,
            end.cached,
            end.duration_ms,
            end.ttfb_ms,
            end.tokens_in,
            end.tokens_out,
            end.cache_read_tokens,
            end.cache_write_tokens,
            end.cost,
            end.custom_cost,
            end.attempts,
            end.response_content_type,
            end.response_size,
            (!end.response_headers.is_empty()).then_some(end.response_head_complete),
            end.error,
        ])?;
    // Bodies exist only for rows that were stored with their payload.
    if changed > 0 && !end.response_headers.is_empty() {
        transaction
            .prepare_cached(
                "UPDATE log_bodies SET response = ?2, response_headers = ?3 WHERE log_id = ?1",
            )?
            .execute(params![
                end.id,
                compress(compressor, body)?,
                headers_json(&end.response_headers)
            ])?;
    }
    Ok(())
}

fn row_count(connection: &Connection, account: &str, gateway: &str) -> rusqlite::Result<u64> {
    let rows: Option<i64> = connection
        .prepare_cached("SELECT rows FROM log_counts WHERE account_id = ?1 AND gateway_id = ?2")?
        .query_row(params![account, gateway], |row| row.get(0))
        .optional()?;
    Ok(rows.unwrap_or(0).max(0) as u64)
}

fn delete_oldest(
    connection: &Connection,
    account: &str,
    gateway: &str,
    limit: u64,
) -> rusqlite::Result<()> {
    let excess = row_count(connection, account, gateway)?.saturating_sub(limit);
    if excess > 0 {
        connection
            .prepare_cached(
                "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE account_id = ?1 AND gateway_id = ?2
                 ORDER BY created_at, id LIMIT ?3)",
            )?
            .execute(params![account, gateway, excess as i64])?;
    }
    Ok(())
}

/// A single-shot frame: zstd sizes its tables to the body (bodies are mostly small), and the
/// content size in the header lets `zstd::decode_all` read it like any other frame.
fn compress(compressor: &mut Compressor<'_>, body: &[u8]) -> rusqlite::Result<Vec<u8>> {
    compressor.compress(body).map_err(to_sql_error)
}

fn to_sql_error(error: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(error))
}

fn headers_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".into())
}
