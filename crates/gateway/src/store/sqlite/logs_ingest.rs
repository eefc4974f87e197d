//! Moving spool records into SQLite: one transaction per batch, idempotent on the log id, with
//! the checkpoint and the row caps applied in the same transaction. A request whose begin and
//! end are both in the batch (most are: the shipper sends a batch every 50 ms) is written once,
//! with its final values, instead of inserted and then completed.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, params, params_from_iter};

use super::SqliteStore;
use super::pacer::Pacer;
use crate::logs::{LogBegin, LogEnd, SpoolPosition, SpoolRecord};
use crate::store::StoreResult;
use crate::store::logs::RowCap;
use crate::store::logs::body_codec::{BodyEncoder, Stored};
use crate::store::sql::log_store::IngestBatch;

impl SqliteStore {
    pub(super) async fn ingest_records(&self, batch: IngestBatch) -> StoreResult<()> {
        let (records, rollups, checkpoint, caps) = batch.into_parts();
        self.with(move |connection| {
            let mut bodies = BodyEncoder::default();
            let mut pacer = Pacer::default();
            let transaction = connection.transaction()?;
            super::rollups::apply(&transaction, &rollups, &mut pacer)?;
            for step in plan(&records) {
                pacer.row();
                match step {
                    Step::Begin(begin, body) => {
                        insert_begin(&transaction, &mut bodies, begin, body, &caps)?
                    }
                    Step::End(end, body) => complete(&transaction, &mut bodies, end, body)?,
                    Step::Both(request, response) => {
                        insert_completed(&transaction, &mut bodies, request, response, &caps)?
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

/// What one record of a batch comes to.
enum Step<'a> {
    /// A begin whose end is not later in the batch: the row is inserted in flight.
    Begin(&'a LogBegin, &'a [u8]),
    /// An end whose begin is not earlier in the batch: a stored row, if any, is completed.
    End(&'a LogEnd, &'a [u8]),
    /// A begin and the end of the same request: the row is written once, completed.
    Both((&'a LogBegin, &'a [u8]), (&'a LogEnd, &'a [u8])),
}

/// The batch as steps, in record order: a begin and an end of the same id become one step at
/// the begin's place when the batch holds exactly one of each, begin first. Anything else (an
/// id repeated in the batch, an end whose begin came in an earlier batch, an end that is never
/// logged) goes record by record, as before.
fn plan(records: &[SpoolRecord]) -> Vec<Step<'_>> {
    #[derive(Default)]
    struct Seen {
        begin: Option<usize>,
        end: Option<usize>,
        repeated: bool,
    }
    let mut seen: HashMap<&str, Seen> = HashMap::new();
    for (at, record) in records.iter().enumerate() {
        match record {
            SpoolRecord::Begin { begin, .. } => {
                let id = seen.entry(begin.id.as_str()).or_default();
                id.repeated |= id.begin.replace(at).is_some();
            }
            // Ends of requests that are not logged (all of them, with logs off) never enter
            // the map; nor does an end that comes before any begin of its id.
            SpoolRecord::End { end, .. } => {
                if let Some(id) = seen.get_mut(end.id.as_str()) {
                    id.repeated |= id.end.replace(at).is_some();
                }
            }
        }
    }
    // For a paired begin, its end's index; a paired end is marked with its begin's.
    let mut partner: Vec<Option<usize>> = vec![None; records.len()];
    for id in seen.values() {
        if let (Some(begin), Some(end), false) = (id.begin, id.end, id.repeated) {
            partner[begin] = Some(end);
            partner[end] = Some(begin);
        }
    }
    let end_at = |at: usize| match &records[at] {
        SpoolRecord::End { end, body } => Some((&**end, body.as_slice())),
        SpoolRecord::Begin { .. } => None,
    };
    let mut steps = Vec::with_capacity(records.len());
    for (record, partner) in records.iter().zip(partner) {
        match record {
            SpoolRecord::Begin { begin, body } => {
                let begin = (&**begin, body.as_slice());
                steps.push(match partner.and_then(end_at) {
                    Some(end) => Step::Both(begin, end),
                    None => Step::Begin(begin.0, begin.1),
                });
            }
            // Written with its begin.
            SpoolRecord::End { .. } if partner.is_some() => {}
            SpoolRecord::End { end, body } => steps.push(Step::End(end, body)),
        }
    }
    steps
}

fn insert_begin(
    transaction: &Transaction<'_>,
    bodies: &mut BodyEncoder,
    begin: &LogBegin,
    body: &[u8],
    caps: &[((String, String), RowCap)],
) -> rusqlite::Result<()> {
    if refused_by_cap(transaction, begin, caps)? {
        return Ok(());
    }
    let inserted = transaction
        .prepare_cached(
            "INSERT OR IGNORE INTO logs (id, account_id, gateway_id, created_at, event_id, provider,
                model, path, method, metadata, step, request_content_type, request_size,
                request_head_complete, client_ip, user_agent, instance_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?
        .execute(begin_columns(begin).as_slice())?;
    if inserted > 0 && begin.keep_payload {
        transaction
            .prepare_cached(
                "INSERT INTO log_bodies (log_id, request, request_headers) VALUES (?1, ?2, ?3)
                 ON CONFLICT (log_id) DO UPDATE SET request = excluded.request,
                    request_headers = excluded.request_headers",
            )?
            .execute(params![
                begin.id,
                encode(bodies, body)?.bytes(),
                headers_json(&begin.request_headers)
            ])?;
    }
    Ok(())
}

fn complete(
    transaction: &Transaction<'_>,
    bodies: &mut BodyEncoder,
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
        .execute(params_from_iter(std::iter::once(&end.id as &dyn ToSql).chain(end_columns(end))))?;
    // Bodies exist only for rows that were stored with their payload.
    if changed > 0 && keeps_response(end) {
        transaction
            .prepare_cached(
                "UPDATE log_bodies SET response = ?2, response_headers = ?3 WHERE log_id = ?1",
            )?
            .execute(params![
                end.id,
                encode(bodies, body)?.bytes(),
                headers_json(&end.response_headers)
            ])?;
    }
    Ok(())
}

/// [`insert_begin`] then [`complete`] in one write each for the row and its bodies. The result
/// is the same, also on a replay whose begin was shipped before: the row exists, so the begin
/// changes nothing and the end's columns (and response body) are applied to it. The insert
/// trigger counts the row only when it is new (an upsert that updates fires update triggers).
fn insert_completed(
    transaction: &Transaction<'_>,
    bodies: &mut BodyEncoder,
    (begin, request): (&LogBegin, &[u8]),
    (end, response): (&LogEnd, &[u8]),
    caps: &[((String, String), RowCap)],
) -> rusqlite::Result<()> {
    if refused_by_cap(transaction, begin, caps)? {
        // No new row, but one stored before the cap was reached still completes.
        return complete(transaction, bodies, end, response);
    }
    transaction
        .prepare_cached(
            "INSERT INTO logs (id, account_id, gateway_id, created_at, event_id, provider, model,
                path, method, metadata, step, request_content_type, request_size,
                request_head_complete, client_ip, user_agent, instance_id, status_code, success,
                cached, duration, ttfb, tokens_in, tokens_out, cache_read_tokens,
                cache_write_tokens, cost, custom_cost, attempts, response_content_type,
                response_size, response_head_complete, error, completed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, 1)
             ON CONFLICT (id) DO UPDATE SET status_code = excluded.status_code,
                success = excluded.success, cached = excluded.cached,
                duration = excluded.duration, ttfb = excluded.ttfb,
                tokens_in = excluded.tokens_in, tokens_out = excluded.tokens_out,
                cache_read_tokens = excluded.cache_read_tokens,
                cache_write_tokens = excluded.cache_write_tokens, cost = excluded.cost,
                custom_cost = excluded.custom_cost, attempts = excluded.attempts,
                response_content_type = excluded.response_content_type,
                response_size = excluded.response_size,
                response_head_complete = excluded.response_head_complete,
                error = excluded.error, completed = 1",
        )?
        .execute(params_from_iter(
            begin_columns(begin).into_iter().chain(end_columns(end)),
        ))?;
    if begin.keep_payload {
        let request = encode(bodies, request)?;
        let response = keeps_response(end)
            .then(|| encode(bodies, response))
            .transpose()?;
        // On a replay the stored request stays (the begin would not have rewritten it) and the
        // response is set only when the end carries one (as `complete` does).
        transaction
            .prepare_cached(
                "INSERT INTO log_bodies (log_id, request, request_headers, response, response_headers)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (log_id) DO UPDATE SET response = excluded.response,
                    response_headers = excluded.response_headers
                 WHERE excluded.response_headers IS NOT NULL",
            )?
            .execute(params![
                begin.id,
                request.bytes(),
                headers_json(&begin.request_headers),
                response.as_ref().map(Stored::bytes),
                keeps_response(end).then(|| headers_json(&end.response_headers)),
            ])?;
    }
    Ok(())
}

/// Whether a `STOP_INSERTING` cap refuses new rows of this begin's gateway.
fn refused_by_cap(
    connection: &Connection,
    begin: &LogBegin,
    caps: &[((String, String), RowCap)],
) -> rusqlite::Result<bool> {
    let stop_at = caps.iter().find_map(|((account, gateway), cap)| match cap {
        RowCap::StopInserting(limit)
            if *account == begin.account_id && *gateway == begin.gateway_id =>
        {
            Some(*limit)
        }
        _ => None,
    });
    Ok(match stop_at {
        Some(limit) => row_count(connection, &begin.account_id, &begin.gateway_id)? >= limit,
        None => false,
    })
}

/// Response headers are in the end record only when the payload is kept; a request that
/// failed before the response head has none either.
fn keeps_response(end: &LogEnd) -> bool {
    !end.response_headers.is_empty()
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

fn encode<'a>(bodies: &mut BodyEncoder, body: &'a [u8]) -> rusqlite::Result<Stored<'a>> {
    bodies
        .encode(body)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

fn headers_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests;

/// A begin record's `logs` columns, in the order the inserts name them (`id` … `instance_id`).
fn begin_columns(begin: &LogBegin) -> [&dyn ToSql; 17] {
    [
        &begin.id,
        &begin.account_id,
        &begin.gateway_id,
        &begin.created_at_ms,
        &begin.event_id,
        &begin.provider,
        &begin.model,
        &begin.path,
        &begin.method,
        &begin.metadata,
        &begin.step,
        &begin.request_content_type,
        &begin.request_size,
        if begin.keep_payload {
            &begin.request_head_complete
        } else {
            &None::<bool>
        },
        &begin.client_ip,
        &begin.user_agent,
        &begin.instance_id,
    ]
}

/// An end record's `logs` columns, in the order the statements name them (`status_code` …
/// `error`).
fn end_columns(end: &LogEnd) -> [&dyn ToSql; 16] {
    [
        &end.status_code,
        &end.success,
        &end.cached,
        &end.duration_ms,
        &end.ttfb_ms,
        &end.tokens_in,
        &end.tokens_out,
        &end.cache_read_tokens,
        &end.cache_write_tokens,
        &end.cost,
        &end.custom_cost,
        &end.attempts,
        &end.response_content_type,
        &end.response_size,
        if keeps_response(end) {
            &end.response_head_complete
        } else {
            &None::<bool>
        },
        &end.error,
    ]
}
