//! Analytics rollups in SQLite: upserts that add counters and merge sketches in SQL (a
//! registered `ddsketch_merge` function), and range reads.

use async_trait::async_trait;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Transaction, params, params_from_iter};

use super::logs_query::read;
use super::pacer::Pacer;
use super::{SqliteStore, to_text};
use crate::analytics::{
    AnalyticsQuery, GroupedRow, LatencySketch, Resolution, RollupDelta, RollupRow,
};
use crate::convert::saturating_i64;
use crate::store::StoreResult;
use crate::store::logs::AnalyticsStore;
use crate::store::sql::rollups::{self as sql, table};
use crate::store::sql::{Dialect, groups};

/// Lets an upsert merge the stored sketch with the new one without reading it out first.
pub(super) fn register_functions(connection: &Connection) -> rusqlite::Result<()> {
    connection.create_scalar_function(
        "ddsketch_merge",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            let stored: Vec<u8> = context.get(0)?;
            let added: Vec<u8> = context.get(1)?;
            let mut merged = LatencySketch::decode(&stored);
            merged.merge(&LatencySketch::decode(&added));
            Ok(merged.encode())
        },
    )
}

/// The columns of a rollup row, in the order [`write_row`] binds them.
const INSERT_ROLLUP: &str =
    "INSERT INTO {table} (account_id, bucket, gateway_id, provider, model, status_class, cached,
    requests, errors, cached_requests, tokens_in, tokens_out, cache_read_tokens, cache_write_tokens,
    cost, duration_sketch, ttfb_sketch)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

fn write_row(
    statement: &mut rusqlite::CachedStatement<'_>,
    resolution: Resolution,
    row: &RollupRow,
) -> rusqlite::Result<()> {
    let (key, m) = (&row.key, &row.measures);
    statement
        .execute(params![
            key.account_id,
            resolution.floor(key.bucket_ms),
            key.gateway_id,
            key.provider,
            key.model,
            key.status_class,
            key.cached,
            saturating_i64(m.requests),
            saturating_i64(m.errors),
            saturating_i64(m.cached_requests),
            saturating_i64(m.tokens_in),
            saturating_i64(m.tokens_out),
            saturating_i64(m.cache_read_tokens),
            saturating_i64(m.cache_write_tokens),
            m.cost,
            m.duration.encode(),
            m.ttfb.encode(),
        ])
        .map(drop)
}

/// Adds each delta to its minute, hour and day rows.
pub(super) fn apply(
    transaction: &Transaction<'_>,
    deltas: &[RollupDelta],
    pacer: &mut Pacer,
) -> rusqlite::Result<()> {
    for resolution in Resolution::ALL {
        let sql = format!(
            "{insert}
             ON CONFLICT (account_id, bucket, gateway_id, provider, model, status_class, cached) DO UPDATE SET
                requests = requests + excluded.requests,
                errors = errors + excluded.errors,
                cached_requests = cached_requests + excluded.cached_requests,
                tokens_in = tokens_in + excluded.tokens_in,
                tokens_out = tokens_out + excluded.tokens_out,
                cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
                cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
                cost = cost + excluded.cost,
                duration_sketch = ddsketch_merge(duration_sketch, excluded.duration_sketch),
                ttfb_sketch = ddsketch_merge(ttfb_sketch, excluded.ttfb_sketch)",
            insert = INSERT_ROLLUP.replace("{table}", table(resolution))
        );
        let mut statement = transaction.prepare_cached(&sql)?;
        for delta in deltas {
            pacer.row();
            write_row(&mut statement, resolution, delta)?;
        }
    }
    Ok(())
}

#[async_trait]
impl AnalyticsStore for SqliteStore {
    async fn rollups(&self, query: &AnalyticsQuery) -> StoreResult<Vec<RollupRow>> {
        let query = query.clone();
        self.with_read(move |connection| {
            let sql = sql::select(Dialect::Sqlite, query.resolution);
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement.query_map(
                params![
                    query.account_id,
                    query.resolution.floor(query.start_ms),
                    query.end_ms,
                    query.gateway_id,
                    query.provider,
                    query.model
                ],
                |row| {
                    sql::decode(
                        &query.account_id,
                        |i, _| read(row, i),
                        |why| to_text(0)(why),
                    )
                },
            )?;
            rows.collect()
        })
        .await
    }

    async fn metadata_groups(
        &self,
        query: &AnalyticsQuery,
        key: &str,
    ) -> StoreResult<Vec<GroupedRow>> {
        let statement = groups::select(Dialect::Sqlite, query, key);
        self.with_read(move |connection| {
            let mut prepared = connection.prepare_cached(&statement.sql)?;
            let rows = prepared.query_map(params_from_iter(statement.params.iter()), |row| {
                groups::decode(|i, _| read(row, i), |why| to_text(0)(why))
            })?;
            rows.collect()
        })
        .await
    }
}

impl SqliteStore {
    /// Writes rollup rows of one resolution as they are (no merging with existing rows): for
    /// imports and for generating benchmark data.
    pub async fn import_rollups(
        &self,
        resolution: Resolution,
        rows: Vec<RollupRow>,
    ) -> StoreResult<()> {
        self.with(move |connection| {
            let transaction = connection.transaction()?;
            {
                let sql = INSERT_ROLLUP
                    .replace("INSERT INTO", "INSERT OR REPLACE INTO")
                    .replace("{table}", table(resolution));
                let mut statement = transaction.prepare_cached(&sql)?;
                for row in &rows {
                    write_row(&mut statement, resolution, row)?;
                }
            }
            transaction.commit()
        })
        .await
    }
}
