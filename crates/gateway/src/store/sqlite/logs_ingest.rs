//! Moving spool records into SQLite: one transaction per batch, idempotent on the log id, with
//! the checkpoint and the row caps applied in the same transaction. A request whose begin and
//! end are both in the batch (most are: the shipper sends a batch every 50 ms) is written once,
//! with its final values, instead of inserted and then completed. The rows' columns, and the
//! statements' column lists, come from `LOG_COLUMNS` (docs/logs.md, "Adding a log column").

use std::collections::HashMap;
use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use super::SqliteStore;
use super::pacer::Pacer;
use crate::convert::{non_negative_u64, saturating_i64};
use crate::logs::{LogBegin, LogEnd, SpoolPosition, SpoolRecord};
use crate::store::StoreResult;
use crate::store::logs::body_codec::{BodyEncoder, Stored};
use crate::store::logs::columns;
use crate::store::logs::{LogRow, RowCap};
use crate::store::sql::Param;
use crate::store::sql::ingest::{WRITER_COLUMN, end_assignments};
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
                .execute(params![
                    saturating_i64(checkpoint.segment),
                    saturating_i64(checkpoint.offset)
                ])?;
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
                            segment: unsigned(row, 0)?,
                            offset: unsigned(row, 1)?,
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
        .prepare_cached(&INSERT_IN_FLIGHT)?
        .execute(params_from_iter(inserted_values(
            &LogRow::begun(begin),
            &begin.instance_id,
        )))?;
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
    let row = LogRow::ended(end);
    let values = std::iter::once(Some(Param::Text(row.id.clone())))
        .chain(columns::set_by_end().map(|c| (c.get)(&row)));
    let changed = transaction
        .prepare_cached(&COMPLETE)?
        .execute(params_from_iter(values))?;
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
    let mut row = LogRow::begun(begin);
    row.end_with(end);
    transaction
        .prepare_cached(&INSERT_COMPLETED)?
        .execute(params_from_iter(inserted_values(&row, &begin.instance_id)))?;
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
    Ok(non_negative_u64(rows.unwrap_or(0)))
}

/// A column that holds a non-negative integer; a negative one is corrupt (PostgreSQL's store
/// refuses it the same way).
fn unsigned(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    u64::try_from(row.get::<_, i64>(index)?).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Integer,
            Box::new(error),
        )
    })
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
            .execute(params![account, gateway, saturating_i64(excess)])?;
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

/// An inserted row's values: every column a record sets ([`columns::ingested`]), then the
/// writer's instance id, as [`INSERT_IN_FLIGHT`] and [`INSERT_COMPLETED`] name them.
fn inserted_values<'a>(
    row: &'a LogRow,
    instance_id: &'a str,
) -> impl Iterator<Item = Option<Param>> + 'a {
    columns::ingested()
        .map(|c| (c.get)(row))
        .chain([Some(Param::Text(instance_id.to_owned()))])
}

/// `INSERT … (columns) VALUES (?1, …)` of every column a record sets and the instance id.
fn insert_sql(conflict: &str) -> String {
    let names: Vec<&str> = columns::ingested()
        .map(|c| c.name)
        .chain([WRITER_COLUMN])
        .collect();
    let placeholders: Vec<String> = (1..=names.len()).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT {conflict}INTO logs ({}) VALUES ({})",
        names.join(", "),
        placeholders.join(", ")
    )
}

/// A begin whose end is still to come; a replayed id is left alone.
static INSERT_IN_FLIGHT: LazyLock<String> = LazyLock::new(|| insert_sql("OR IGNORE "));

/// A begin with its end; a replayed id gets the end's columns, as [`COMPLETE`] would.
static INSERT_COMPLETED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} ON CONFLICT (id) DO UPDATE SET {}",
        insert_sql(""),
        end_assignments(|_, name| format!("excluded.{name}"))
    )
});

/// An end whose begin came in an earlier batch: `?1` is the id, then the end's columns.
static COMPLETE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE logs SET {} WHERE id = ?1",
        end_assignments(|i, _| format!("?{}", i + 2))
    )
});

#[cfg(test)]
mod tests;
