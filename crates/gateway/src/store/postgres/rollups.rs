//! Analytics rollups in PostgreSQL: adding a batch's deltas (counters added in SQL, sketches
//! merged in the gateway under the row lock the upsert took), and range reads.

use std::collections::BTreeMap;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use futures_util::future::try_join_all;

use super::logs_query::{read, values};
use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt, pg_text};
use crate::analytics::{
    AnalyticsQuery, GroupedRow, LatencySketch, Resolution, RollupDelta, RollupMeasures, RollupRow,
};
use crate::convert::saturating_i64;
use crate::store::StoreResult;
use crate::store::logs::AnalyticsStore;
use crate::store::sql::rollups::{self as sql, table};
use crate::store::sql::{Dialect, groups};

/// A rollup row's primary key in column order: (account, bucket, gateway, provider, model,
/// status class, cached). Sorting by it fixes the order rows are locked in.
type Key = (String, i64, String, String, String, i16, bool);

/// The batch's deltas folded into the rows of one resolution (several minutes share an hour),
/// because one statement may not upsert the same row twice.
fn fold(deltas: &[RollupDelta], resolution: Resolution) -> BTreeMap<Key, RollupMeasures> {
    let mut rows: BTreeMap<Key, RollupMeasures> = BTreeMap::new();
    for delta in deltas {
        let k = &delta.key;
        let key = (
            pg_text(&k.account_id).into_owned(),
            resolution.floor(k.bucket_ms),
            pg_text(&k.gateway_id).into_owned(),
            pg_text(&k.provider).into_owned(),
            pg_text(&k.model).into_owned(),
            i16::from(k.status_class),
            k.cached,
        );
        rows.entry(key).or_default().add(&delta.measures);
    }
    rows
}

/// The key columns of `rows` as arrays, for `UNNEST`.
#[derive(Default)]
struct KeyColumns {
    account: Vec<String>,
    bucket: Vec<i64>,
    gateway: Vec<String>,
    provider: Vec<String>,
    model: Vec<String>,
    class: Vec<i16>,
    cached: Vec<bool>,
}

impl KeyColumns {
    fn push(&mut self, key: &Key) {
        self.account.push(key.0.clone());
        self.bucket.push(key.1);
        self.gateway.push(key.2.clone());
        self.provider.push(key.3.clone());
        self.model.push(key.4.clone());
        self.class.push(key.5);
        self.cached.push(key.6);
    }
}

/// Adds each delta to its minute, hour and day rows, in the ingest's transaction. Two phases,
/// each one round trip for the three tables (the statements are pipelined):
/// 1. upsert: new rows are inserted whole; existing rows get their counters added and stay
///    locked until commit, and their stored sketches come back;
/// 2. the sketches of existing rows, merged here, are written back.
///
/// A concurrent ingest of another instance touching the same row waits on the lock in phase 1
/// and then reads the merged sketch, so no addition is lost.
pub(super) async fn apply(
    transaction: &Transaction<'_>,
    deltas: &[RollupDelta],
) -> StoreResult<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let folded: Vec<(Resolution, BTreeMap<Key, RollupMeasures>)> = Resolution::ALL
        .iter()
        .map(|r| (*r, fold(deltas, *r)))
        .collect();
    let mut statements = Vec::new();
    for (resolution, _) in &folded {
        statements.push(transaction.prepare_cached(&upsert_sql(*resolution)).await?);
    }
    let stored = try_join_all(
        folded
            .iter()
            .zip(&statements)
            .map(|((_, rows), statement)| upsert(transaction, statement, rows)),
    )
    .await?;
    let mut updates = Vec::new();
    for ((resolution, rows), existing) in folded.iter().zip(stored) {
        let mut keys = KeyColumns::default();
        let (mut durations, mut ttfbs) = (Vec::new(), Vec::new());
        for (key, (mut duration, mut ttfb)) in existing {
            let Some(added) = rows.get(&key) else {
                continue;
            };
            duration.merge(&added.duration);
            ttfb.merge(&added.ttfb);
            keys.push(&key);
            durations.push(duration.encode());
            ttfbs.push(ttfb.encode());
        }
        if !durations.is_empty() {
            let statement = transaction
                .prepare_cached(&sketch_update_sql(*resolution))
                .await?;
            updates.push((statement, keys, durations, ttfbs));
        }
    }
    try_join_all(updates.iter().map(|(statement, k, d, t)| async move {
        transaction
            .execute(
                statement,
                &[
                    &k.account,
                    &k.bucket,
                    &k.gateway,
                    &k.provider,
                    &k.model,
                    &k.class,
                    &k.cached,
                    d,
                    t,
                ],
            )
            .await
    }))
    .await?;
    Ok(())
}

fn upsert_sql(resolution: Resolution) -> String {
    // `xmax = 0` tells a row this statement inserted from one it updated (PostgreSQL's usual
    // upsert idiom); only updated rows need their sketch merged, so only theirs come back.
    format!(
        "INSERT INTO {table} AS r (account_id, bucket, gateway_id, provider, model, status_class, cached,
            requests, errors, cached_requests, tokens_in, tokens_out, cache_read_tokens,
            cache_write_tokens, cost, duration_sketch, ttfb_sketch)
         SELECT account_id, bucket, gateway_id, provider, model, status_class, cached, requests, errors,
            cached_requests, tokens_in, tokens_out, cache_read_tokens, cache_write_tokens, cost,
            duration_sketch, ttfb_sketch
         FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::bool[],
            $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::int8[],
            $15::float8[], $16::bytea[], $17::bytea[]) WITH ORDINALITY
            AS v(account_id, bucket, gateway_id, provider, model, status_class, cached, requests, errors,
            cached_requests, tokens_in, tokens_out, cache_read_tokens, cache_write_tokens, cost,
            duration_sketch, ttfb_sketch, ord)
         ORDER BY ord
         ON CONFLICT (account_id, bucket, gateway_id, provider, model, status_class, cached) DO UPDATE SET
            requests = r.requests + excluded.requests,
            errors = r.errors + excluded.errors,
            cached_requests = r.cached_requests + excluded.cached_requests,
            tokens_in = r.tokens_in + excluded.tokens_in,
            tokens_out = r.tokens_out + excluded.tokens_out,
            cache_read_tokens = r.cache_read_tokens + excluded.cache_read_tokens,
            cache_write_tokens = r.cache_write_tokens + excluded.cache_write_tokens,
            cost = r.cost + excluded.cost
         RETURNING r.account_id, r.bucket, r.gateway_id, r.provider, r.model, r.status_class, r.cached,
            r.xmax = 0, CASE WHEN r.xmax = 0 THEN NULL ELSE r.duration_sketch END,
            CASE WHEN r.xmax = 0 THEN NULL ELSE r.ttfb_sketch END",
        table = table(resolution)
    )
}

fn sketch_update_sql(resolution: Resolution) -> String {
    format!(
        "UPDATE {table} AS r SET duration_sketch = v.duration_sketch, ttfb_sketch = v.ttfb_sketch
         FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::bool[],
            $8::bytea[], $9::bytea[])
            AS v(account_id, bucket, gateway_id, provider, model, status_class, cached,
            duration_sketch, ttfb_sketch)
         WHERE r.account_id = v.account_id AND r.bucket = v.bucket AND r.gateway_id = v.gateway_id
            AND r.provider = v.provider AND r.model = v.model AND r.status_class = v.status_class
            AND r.cached = v.cached",
        table = table(resolution)
    )
}

/// Upserts `rows` (in key order); returns the stored sketches of the rows that existed.
async fn upsert(
    transaction: &Transaction<'_>,
    statement: &tokio_postgres::Statement,
    rows: &BTreeMap<Key, RollupMeasures>,
) -> StoreResult<Vec<(Key, (LatencySketch, LatencySketch))>> {
    let mut keys = KeyColumns::default();
    let mut counters: [Vec<i64>; 7] = Default::default();
    let (mut cost, mut durations, mut ttfbs) = (Vec::new(), Vec::new(), Vec::new());
    for (key, m) in rows {
        keys.push(key);
        let values = [
            m.requests,
            m.errors,
            m.cached_requests,
            m.tokens_in,
            m.tokens_out,
            m.cache_read_tokens,
            m.cache_write_tokens,
        ];
        for (column, value) in counters.iter_mut().zip(values) {
            column.push(saturating_i64(value));
        }
        cost.push(m.cost);
        durations.push(m.duration.encode());
        ttfbs.push(m.ttfb.encode());
    }
    let [
        requests,
        errors,
        cached_requests,
        tokens_in,
        tokens_out,
        cache_read,
        cache_write,
    ] = &counters;
    let returned = transaction
        .query(
            statement,
            &[
                &keys.account,
                &keys.bucket,
                &keys.gateway,
                &keys.provider,
                &keys.model,
                &keys.class,
                &keys.cached,
                requests,
                errors,
                cached_requests,
                tokens_in,
                tokens_out,
                cache_read,
                cache_write,
                &cost,
                &durations,
                &ttfbs,
            ],
        )
        .await?;
    let mut existing = Vec::new();
    for row in returned {
        if row.try_get::<_, bool>(7)? {
            continue;
        }
        let key: Key = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
        );
        let duration = LatencySketch::decode(&row.try_get::<_, Vec<u8>>(8)?);
        let ttfb = LatencySketch::decode(&row.try_get::<_, Vec<u8>>(9)?);
        existing.push((key, (duration, ttfb)));
    }
    Ok(existing)
}

#[async_trait]
impl AnalyticsStore for PostgresStore {
    async fn rollups(&self, query: &AnalyticsQuery) -> StoreResult<Vec<RollupRow>> {
        let sql = sql::select(Dialect::Postgres, query.resolution);
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            let statement = client.prepare_cached(&sql).await?;
            let rows = client
                .query(
                    &statement,
                    &[
                        &query.account_id,
                        &query.resolution.floor(query.start_ms),
                        &query.end_ms,
                        &query.gateway_id,
                        &query.provider,
                        &query.model,
                    ],
                )
                .await?;
            rows.iter()
                .map(|row| sql::decode(&query.account_id, |i, ty| read(row, i, ty), corrupt))
                .collect()
        })
        .await
    }

    async fn metadata_groups(
        &self,
        query: &AnalyticsQuery,
        key: &str,
    ) -> StoreResult<Vec<GroupedRow>> {
        let statement = groups::select(Dialect::Postgres, query, key);
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            let prepared = client.prepare_cached(&statement.sql).await?;
            let rows = client.query(&prepared, &values(&statement.params)).await?;
            rows.iter()
                .map(|row| groups::decode(|i, ty| read(row, i, ty), corrupt))
                .collect()
        })
        .await
    }
}
