//! Copying analytics rollups (minute, hour and day rows with their DDSketch sketches) and the
//! spool checkpoint, all in one transaction with the marker that says they were copied.
//!
//! Rollups are sums: copying them twice would count every request twice. The marker is
//! inserted first, so a run that finds it (an earlier run committed) copies nothing, and two
//! runs at once queue on it. Rows the target already has under the same key (only with
//! `force`) are added to: counters summed, sketches merged, under the row lock.
//!
//! The checkpoint goes with them: a gateway started on PostgreSQL with the SQLite deployment's
//! data directory then resumes its spool where SQLite left off, instead of replaying the last
//! segment and counting its requests again.

use std::borrow::Cow;
use std::collections::BTreeMap;

use deadpool_postgres::Transaction;

use super::registry::empty;
use super::source::{RollupCopy, RollupKey};
use super::{Markers, Run, TableSummary, TransferError, within};
use crate::analytics::LatencySketch;
use crate::clock::{Clock, SystemClock};
use crate::store::StoreError;
use crate::store::postgres::pg_text;

const TABLES: [&str; 3] = ["rollups_minute", "rollups_hour", "rollups_day"];

pub(super) async fn copy_rollups(
    run: &mut Run<'_>,
    markers: &Markers,
    totals: [u64; 3],
) -> Result<[TableSummary; 4], TransferError> {
    let mut summaries = [
        empty(TABLES[0], totals[0]),
        empty(TABLES[1], totals[1]),
        empty(TABLES[2], totals[2]),
        empty(
            "spool_checkpoints",
            u64::from(run.source.checkpoint().is_some()),
        ),
    ];
    let transaction = run.client.transaction().await?;
    let claimed = within(transaction.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        &[&markers.rollups, &SystemClock.now().to_string()],
    ))
    .await?;
    if claimed == 0 {
        // An earlier run copied them (its marker committed with them).
        for summary in &mut summaries {
            summary.skipped = summary.source_rows;
            (run.progress)(&super::Progress {
                table: summary.table,
                done: summary.source_rows,
                total: summary.source_rows,
            });
        }
        return Ok(summaries);
    }
    for (table, summary) in TABLES.into_iter().zip(summaries.iter_mut()) {
        let mut after = RollupKey::first();
        loop {
            let rows = run
                .source
                .rollups(table, after.clone(), run.options.batch_rows)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.key.clone();
            let handled = rows.len() as u64;
            within(add_batch(&transaction, table, rows)).await?;
            summary.copied += handled;
            (run.progress)(&super::Progress {
                table,
                done: summary.copied,
                total: summary.source_rows,
            });
        }
    }
    if let Some(checkpoint) = run.source.checkpoint() {
        let segment = i64::try_from(checkpoint.segment).unwrap_or(i64::MAX);
        let offset = i64::try_from(checkpoint.offset).unwrap_or(i64::MAX);
        let copied = within(transaction.execute(
            "INSERT INTO spool_checkpoints (instance_id, segment, byte_offset)
             VALUES ($1, $2, $3) ON CONFLICT (instance_id) DO NOTHING",
            &[&run.source.instance_id(), &segment, &offset],
        ))
        .await?;
        summaries[3].copied = copied;
        summaries[3].skipped = 1 - copied.min(1);
    }
    within(transaction.commit()).await?;
    Ok(summaries)
}

/// Adds one batch of source rows to `table`: rows new to the target are inserted as they are,
/// rows it has are locked, added to and written back.
async fn add_batch(
    transaction: &Transaction<'_>,
    table: &str,
    rows: Vec<RollupCopy>,
) -> Result<(), StoreError> {
    // Keyed as PostgreSQL stores them: two source keys that differ only where NUL became
    // U+FFFD are one row there, and one statement may not write a row twice.
    let mut folded: BTreeMap<RollupKey, RollupCopy> = BTreeMap::new();
    for mut row in rows {
        row.key = stored_key(&row.key);
        match folded.get_mut(&row.key) {
            Some(existing) => add(existing, &row),
            None => {
                folded.insert(row.key.clone(), row);
            }
        }
    }
    let keys = KeyColumns::from(folded.keys());
    let existing = transaction
        .query(
            &format!(
                "SELECT r.account_id, r.bucket, r.gateway_id, r.provider, r.model, r.status_class,
                    r.cached, r.requests, r.errors, r.cached_requests, r.tokens_in, r.tokens_out,
                    r.cache_read_tokens, r.cache_write_tokens, r.cost, r.duration_sketch,
                    r.ttfb_sketch
                 FROM {table} AS r
                 JOIN UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
                    $6::int2[], $7::bool[])
                    AS v(account_id, bucket, gateway_id, provider, model, status_class, cached)
                 ON r.account_id = v.account_id AND r.bucket = v.bucket
                    AND r.gateway_id = v.gateway_id AND r.provider = v.provider
                    AND r.model = v.model AND r.status_class = v.status_class
                    AND r.cached = v.cached
                 ORDER BY r.account_id, r.bucket, r.gateway_id, r.provider, r.model,
                    r.status_class, r.cached
                 FOR UPDATE OF r"
            ),
            &keys.params(),
        )
        .await?;
    for row in existing {
        let stored = stored_row(&row)?;
        if let Some(copy) = folded.get_mut(&stored.key) {
            add(copy, &stored);
        }
    }
    let rows: Vec<&RollupCopy> = folded.values().collect();
    let counter = |i: usize| -> Vec<i64> { rows.iter().map(|r| r.counters[i]).collect() };
    let counters: [Vec<i64>; 7] = std::array::from_fn(counter);
    let cost: Vec<f64> = rows.iter().map(|r| r.cost).collect();
    let durations: Vec<&[u8]> = rows.iter().map(|r| r.duration_sketch.as_slice()).collect();
    let ttfbs: Vec<&[u8]> = rows.iter().map(|r| r.ttfb_sketch.as_slice()).collect();
    let mut params = keys.params().to_vec();
    params.extend(
        counters
            .iter()
            .map(|c| c as &(dyn tokio_postgres::types::ToSql + Sync)),
    );
    params.extend([
        &cost as &(dyn tokio_postgres::types::ToSql + Sync),
        &durations,
        &ttfbs,
    ]);
    transaction
        .execute(
            &format!(
                "INSERT INTO {table} (account_id, bucket, gateway_id, provider, model,
                    status_class, cached, requests, errors, cached_requests, tokens_in, tokens_out,
                    cache_read_tokens, cache_write_tokens, cost, duration_sketch, ttfb_sketch)
                 SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
                    $6::int2[], $7::bool[], $8::int8[], $9::int8[], $10::int8[], $11::int8[],
                    $12::int8[], $13::int8[], $14::int8[], $15::float8[], $16::bytea[],
                    $17::bytea[])
                 ON CONFLICT (account_id, bucket, gateway_id, provider, model, status_class, cached)
                 DO UPDATE SET requests = excluded.requests, errors = excluded.errors,
                    cached_requests = excluded.cached_requests, tokens_in = excluded.tokens_in,
                    tokens_out = excluded.tokens_out, cache_read_tokens = excluded.cache_read_tokens,
                    cache_write_tokens = excluded.cache_write_tokens, cost = excluded.cost,
                    duration_sketch = excluded.duration_sketch, ttfb_sketch = excluded.ttfb_sketch"
            ),
            &params,
        )
        .await?;
    Ok(())
}

fn stored_key(key: &RollupKey) -> RollupKey {
    let text = |s: &str| Cow::into_owned(pg_text(s));
    RollupKey {
        account_id: text(&key.account_id),
        bucket: key.bucket,
        gateway_id: text(&key.gateway_id),
        provider: text(&key.provider),
        model: text(&key.model),
        status_class: key.status_class,
        cached: key.cached,
    }
}

fn stored_row(row: &tokio_postgres::Row) -> Result<RollupCopy, tokio_postgres::Error> {
    let mut counters = [0i64; 7];
    for (i, counter) in counters.iter_mut().enumerate() {
        *counter = row.try_get(7 + i)?;
    }
    Ok(RollupCopy {
        key: RollupKey {
            account_id: row.try_get(0)?,
            bucket: row.try_get(1)?,
            gateway_id: row.try_get(2)?,
            provider: row.try_get(3)?,
            model: row.try_get(4)?,
            status_class: row.try_get(5)?,
            cached: row.try_get(6)?,
        },
        counters,
        cost: row.try_get(14)?,
        duration_sketch: row.try_get(15)?,
        ttfb_sketch: row.try_get(16)?,
    })
}

/// Adds `other`'s counts to `total` and merges its sketches into `total`'s.
fn add(total: &mut RollupCopy, other: &RollupCopy) {
    for (sum, value) in total.counters.iter_mut().zip(other.counters) {
        *sum = sum.saturating_add(value);
    }
    total.cost += other.cost;
    for (sketch, added) in [
        (&mut total.duration_sketch, &other.duration_sketch),
        (&mut total.ttfb_sketch, &other.ttfb_sketch),
    ] {
        let mut merged = LatencySketch::decode(sketch);
        merged.merge(&LatencySketch::decode(added));
        *sketch = merged.encode();
    }
}

/// Rollup keys as one array per key column, for `UNNEST`.
#[derive(Default)]
struct KeyColumns {
    account_id: Vec<String>,
    bucket: Vec<i64>,
    gateway_id: Vec<String>,
    provider: Vec<String>,
    model: Vec<String>,
    status_class: Vec<i16>,
    cached: Vec<bool>,
}

impl<'a> From<std::collections::btree_map::Keys<'a, RollupKey, RollupCopy>> for KeyColumns {
    fn from(keys: std::collections::btree_map::Keys<'a, RollupKey, RollupCopy>) -> Self {
        let mut c = KeyColumns::default();
        for key in keys {
            c.account_id.push(key.account_id.clone());
            c.bucket.push(key.bucket);
            c.gateway_id.push(key.gateway_id.clone());
            c.provider.push(key.provider.clone());
            c.model.push(key.model.clone());
            c.status_class.push(key.status_class);
            c.cached.push(key.cached);
        }
        c
    }
}

impl KeyColumns {
    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
        [
            &self.account_id,
            &self.bucket,
            &self.gateway_id,
            &self.provider,
            &self.model,
            &self.status_class,
            &self.cached,
        ]
    }
}
