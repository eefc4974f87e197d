//! Moving spool records into PostgreSQL: one transaction per batch with a fixed number of round
//! trips (whole columns as arrays through `UNNEST`, never a statement per row), idempotent on the
//! log id, with rollups, row caps and this instance's checkpoint in the same transaction.
//!
//! Locks are always taken in the same order — the instance's checkpoint row, rollup rows (by
//! key), row counters (by gateway), log rows — so ingests of several instances wait for each
//! other instead of deadlocking.

pub(super) mod write;

use std::collections::{BTreeSet, HashMap, HashSet};

use deadpool_postgres::Transaction;
use serde_json::Value;

use super::{INGEST_TIMEOUT, OP_TIMEOUT, PostgresStore, bounded, rollups};
use crate::logs::{LogEnd, SpoolPosition, SpoolRecord};
use crate::store::logs::body_codec::{BodyEncoder, Stored};
use crate::store::logs::{LogRow, RowCap};
use crate::store::sql::log_store::IngestBatch;
use crate::store::sql::metadata_object;
use crate::store::{StoreError, StoreResult};

type GatewayKey = (String, String);

/// A begin record ready to insert: its row (completed when the batch holds its end too), body
/// encoded, metadata parsed for the filters.
struct Begin {
    row: LogRow,
    instance_id: String,
    /// `None` when the payload is not kept (no body row at all).
    body: Option<Vec<u8>>,
    headers: Option<String>,
    metadata_json: Option<Value>,
    /// The request's end when the batch holds it too: the row is inserted completed (its
    /// values are in `row`; the end stays for its body, and to complete a stored row instead
    /// if a cap refuses this one).
    end: Option<End>,
}

/// An end record ready to apply: response body encoded when the payload is kept.
struct End {
    record: Box<LogEnd>,
    body: Option<Vec<u8>>,
    headers: Option<String>,
}

/// Splits a batch into begins and ends, encodes bodies and resolves repeats the way applying
/// the records one by one would: the first begin of an id inserts its row, the last end wins.
/// An end whose begin is in the batch goes with it (most requests end within a batch), so the
/// row is written once, completed, instead of inserted and then updated; ends apply after all
/// begins of a batch anyway, so the order of the two in it makes no difference.
fn prepare(records: Vec<SpoolRecord>) -> StoreResult<(Vec<Begin>, Vec<End>)> {
    let mut encoder = BodyEncoder::default();
    let mut begins: Vec<Begin> = Vec::new();
    let mut begin_index: HashMap<String, usize> = HashMap::new();
    let mut ends: Vec<End> = Vec::new();
    let mut end_index: HashMap<String, usize> = HashMap::new();
    for record in records {
        match record {
            SpoolRecord::Begin { begin, body } => {
                if begin_index.contains_key(&begin.id) {
                    continue;
                }
                begin_index.insert(begin.id.clone(), begins.len());
                let (body, headers) = if begin.keep_payload {
                    (
                        Some(encode(&mut encoder, body)?),
                        Some(headers_json(&begin.request_headers)),
                    )
                } else {
                    (None, None)
                };
                let metadata_json = metadata_object(begin.metadata.as_deref());
                begins.push(Begin {
                    row: LogRow::begun(&begin),
                    instance_id: begin.instance_id,
                    body,
                    headers,
                    metadata_json,
                    end: None,
                });
            }
            SpoolRecord::End { end, body } => {
                // Bodies exist only for rows stored with their payload (headers say it was kept).
                let (body, headers) = if end.response_headers.is_empty() {
                    (None, None)
                } else {
                    (
                        Some(encode(&mut encoder, body)?),
                        Some(headers_json(&end.response_headers)),
                    )
                };
                let prepared = End {
                    record: end,
                    body,
                    headers,
                };
                match end_index.get(&prepared.record.id) {
                    Some(&at) => ends[at] = prepared,
                    None => {
                        end_index.insert(prepared.record.id.clone(), ends.len());
                        ends.push(prepared);
                    }
                }
            }
        }
    }
    let ends = ends
        .into_iter()
        .filter_map(|end| match begin_index.get(&end.record.id) {
            Some(&at) => {
                begins[at].row.end_with(&end.record);
                begins[at].end = Some(end);
                None
            }
            None => Some(end),
        })
        .collect();
    Ok((begins, ends))
}

impl PostgresStore {
    pub(super) async fn ingest_batch(
        &self,
        instance_id: &str,
        batch: IngestBatch,
    ) -> StoreResult<()> {
        let (records, rollups, checkpoint, caps) = batch.into_parts();
        // Compression is CPU work (up to 8 MiB a batch): off the async threads, and before the
        // transaction so no lock is held while it runs.
        let (begins, ends) = tokio::task::spawn_blocking(move || prepare(records))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        bounded(INGEST_TIMEOUT, async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            if applied_already(&transaction, instance_id, checkpoint).await? {
                transaction.rollback().await?;
                return Ok(());
            }
            rollups::apply(&transaction, &rollups).await?;
            let capped = capped_gateways(&begins, &caps);
            let (begins, ends) = if capped.is_empty() {
                (begins, ends)
            } else {
                cap_begins(&transaction, begins, ends, &capped).await?
            };
            write::write_rows(
                &transaction,
                instance_id,
                &begins,
                &ends,
                &capped,
                checkpoint,
            )
            .await?;
            transaction.commit().await?;
            Ok(())
        })
        .await
    }

    pub(super) async fn read_checkpoint(
        &self,
        instance_id: &str,
    ) -> StoreResult<Option<SpoolPosition>> {
        bounded(OP_TIMEOUT, async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT segment, byte_offset FROM spool_checkpoints WHERE instance_id = $1",
                    &[&instance_id],
                )
                .await?;
            row.map(|row| position(&row)).transpose()
        })
        .await
    }

    pub(super) async fn mark_interrupted_rows(&self, instance_id: &str) -> StoreResult<u64> {
        bounded(OP_TIMEOUT, async {
            Ok(self
                .client()
                .await?
                .execute(
                    "UPDATE logs SET completed = TRUE, success = FALSE, error = 'interrupted'
                     WHERE NOT completed AND instance_id = $1",
                    &[&instance_id],
                )
                .await?)
        })
        .await
    }
}

fn position(row: &tokio_postgres::Row) -> StoreResult<SpoolPosition> {
    let segment: i64 = row.try_get(0)?;
    let offset: i64 = row.try_get(1)?;
    Ok(SpoolPosition {
        segment: u64::try_from(segment).map_err(super::corrupt)?,
        offset: u64::try_from(offset).map_err(super::corrupt)?,
    })
}

/// Whether this instance's checkpoint is already at or past `checkpoint`: the batch was applied
/// before (a replay after a crash between commit and the spool's cleanup) and must not count
/// twice. Locks the checkpoint row, so one instance's batches apply one at a time.
async fn applied_already(
    transaction: &Transaction<'_>,
    instance_id: &str,
    checkpoint: SpoolPosition,
) -> StoreResult<bool> {
    let statement = transaction
        .prepare_cached(
            "SELECT segment, byte_offset FROM spool_checkpoints WHERE instance_id = $1 FOR UPDATE",
        )
        .await?;
    let stored = transaction.query_opt(&statement, &[&instance_id]).await?;
    Ok(match stored {
        Some(row) => position(&row)? >= checkpoint,
        None => false,
    })
}

/// The row caps that matter for this batch: those of gateways it brings new rows to. (SQLite
/// also trims gateways without new rows after a cap was lowered; here that waits for their next
/// row, so an ingest never locks the counters of gateways it does not write.)
fn capped_gateways(begins: &[Begin], caps: &[(GatewayKey, RowCap)]) -> HashMap<GatewayKey, RowCap> {
    let written: HashSet<(&str, &str)> = begins
        .iter()
        .map(|b| (b.row.account_id.as_str(), b.row.gateway_id.as_str()))
        .collect();
    caps.iter()
        .filter(|((account, gateway), _)| written.contains(&(account.as_str(), gateway.as_str())))
        .cloned()
        .collect()
}

/// Locks the row counters of every gateway the batch writes to (in key order, the order the
/// insert trigger takes them in too), so concurrent instances see each other's rows when they
/// check a cap, and drops the begins that `STOP_INSERTING` caps refuse. A refused begin's end
/// goes back to the ends, to complete the row if one exists after all (as it would have).
async fn cap_begins(
    transaction: &Transaction<'_>,
    begins: Vec<Begin>,
    mut ends: Vec<End>,
    capped: &HashMap<GatewayKey, RowCap>,
) -> StoreResult<(Vec<Begin>, Vec<End>)> {
    let gateways: BTreeSet<(&str, &str)> = begins
        .iter()
        .map(|b| (b.row.account_id.as_str(), b.row.gateway_id.as_str()))
        .collect();
    let (accounts, gateway_ids): (Vec<&str>, Vec<&str>) = gateways.into_iter().unzip();
    let lock = transaction
        .prepare_cached(
            "INSERT INTO log_counts AS c (account_id, gateway_id, rows)
             SELECT a, g, 0 FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS v(a, g, ord)
             ORDER BY ord
             ON CONFLICT (account_id, gateway_id) DO UPDATE SET rows = c.rows
             RETURNING account_id, gateway_id, rows",
        )
        .await?;
    let mut counts: HashMap<GatewayKey, u64> = HashMap::new();
    for row in transaction.query(&lock, &[&accounts, &gateway_ids]).await? {
        let rows: i64 = row.try_get(2)?;
        counts.insert(
            (row.try_get(0)?, row.try_get(1)?),
            u64::try_from(rows).unwrap_or(0),
        );
    }
    // Rows that exist already take no room (their insert is a no-op).
    let limited: Vec<&str> = begins
        .iter()
        .filter(|b| stop_limit(capped, &b.row).is_some())
        .map(|b| b.row.id.as_str())
        .collect();
    let existing: HashSet<String> = if limited.is_empty() {
        HashSet::new()
    } else {
        let statement = transaction
            .prepare_cached("SELECT id FROM logs WHERE id = ANY($1::text[])")
            .await?;
        transaction
            .query(&statement, &[&limited])
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?
    };
    let mut kept = Vec::with_capacity(begins.len());
    for begin in begins {
        if let Some(limit) = stop_limit(capped, &begin.row)
            && !existing.contains(&begin.row.id)
        {
            let key = (begin.row.account_id.clone(), begin.row.gateway_id.clone());
            let count = counts.entry(key).or_default();
            if *count >= limit {
                ends.extend(begin.end);
                continue;
            }
            *count += 1;
        }
        kept.push(begin);
    }
    Ok((kept, ends))
}

fn stop_limit(capped: &HashMap<GatewayKey, RowCap>, begin: &LogRow) -> Option<u64> {
    // Borrowed lookups would need a different key type; the clone is per capped begin only.
    match capped.get(&(begin.account_id.clone(), begin.gateway_id.clone())) {
        Some(RowCap::StopInserting(limit)) => Some(*limit),
        _ => None,
    }
}

/// The stored form of `body`; a body kept raw is moved, not copied.
fn encode(encoder: &mut BodyEncoder, body: Vec<u8>) -> StoreResult<Vec<u8>> {
    let compressed = match encoder
        .encode(&body)
        .map_err(|e| StoreError::Backend(format!("compressing a body: {e}")))?
    {
        Stored::Compressed(bytes) => Some(bytes),
        Stored::Raw(_) => None,
    };
    Ok(compressed.unwrap_or(body))
}

fn headers_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".into())
}
