//! The analytics rollup tables for either store: which table holds a resolution, and the
//! range read the analytics API makes, with its row decoding. Writing differs too much to share (SQLite merges
//! sketches in SQL, PostgreSQL in the gateway under row locks).

use super::{Dialect, Param};
use crate::analytics::{LatencySketch, Resolution, RollupKey, RollupMeasures, RollupRow};
use crate::convert::signed_as_f64;
use crate::store::logs::columns::ColumnType;

pub(crate) fn table(resolution: Resolution) -> &'static str {
    match resolution {
        Resolution::Minute => "rollups_minute",
        Resolution::Hour => "rollups_hour",
        Resolution::Day => "rollups_day",
    }
}

/// Rows of `resolution` whose bucket is in `[$2, $3)` for account `$1`, narrowed to gateway
/// `$4`, provider `$5` and model `$6` where those are not NULL. Columns: bucket, gateway,
/// provider, model, status class, cached, the seven counters, cost, the two sketches.
pub(crate) fn select(dialect: Dialect, resolution: Resolution) -> String {
    let p = |n: usize, pg_type: &str| dialect.placeholder(n, pg_type);
    let (account, start, end) = (p(1, "text"), p(2, "int8"), p(3, "int8"));
    let (gateway, provider, model) = (p(4, "text"), p(5, "text"), p(6, "text"));
    format!(
        "SELECT bucket, gateway_id, provider, model, status_class, cached, requests, errors,
            cached_requests, tokens_in, tokens_out, cache_read_tokens, cache_write_tokens, cost,
            duration_sketch, ttfb_sketch
         FROM {table}
         WHERE account_id = {account} AND bucket >= {start} AND bucket < {end}
           AND ({gateway} IS NULL OR gateway_id = {gateway})
           AND ({provider} IS NULL OR provider = {provider})
           AND ({model} IS NULL OR model = {model})",
        table = table(resolution)
    )
}

/// The types of [`select`]'s columns, in order.
const SELECTED: [ColumnType; 16] = {
    use ColumnType::{Bool, Bytes, Integer, Integer16, Real, Text};
    [
        Integer, Text, Text, Text, Integer16, Bool, Integer, Integer, Integer, Integer, Integer,
        Integer, Integer, Real, Bytes, Bytes,
    ]
};

/// Decodes a row of [`select`] for `account_id`: `read` yields column `i` as a value of the
/// type given.
pub(crate) fn decode<E>(
    account_id: &str,
    read: impl Fn(usize, ColumnType) -> Result<Option<Param>, E>,
    corrupt: impl Fn(String) -> E,
) -> Result<RollupRow, E> {
    let value = |i: usize| -> Result<Param, E> {
        read(i, SELECTED[i])?.ok_or_else(|| corrupt(format!("NULL in rollup column {i}")))
    };
    let text = |i: usize| match value(i)? {
        Param::Text(text) => Ok(text),
        other => Err(corrupt(format!("rollup column {i}: {other:?}"))),
    };
    let int = |i: usize| match value(i)? {
        Param::Integer(n) => Ok(n),
        other => Err(corrupt(format!("rollup column {i}: {other:?}"))),
    };
    let count = |i: usize| {
        let n = int(i)?;
        u64::try_from(n).map_err(|e| corrupt(format!("rollup column {i}: {n}: {e}")))
    };
    let sketch = |i: usize| match value(i)? {
        Param::Bytes(bytes) => Ok(LatencySketch::decode(&bytes)),
        other => Err(corrupt(format!("rollup column {i}: {other:?}"))),
    };
    let class = int(4)?;
    Ok(RollupRow {
        key: RollupKey {
            bucket_ms: int(0)?,
            account_id: account_id.to_owned(),
            gateway_id: text(1)?,
            provider: text(2)?,
            model: text(3)?,
            status_class: u8::try_from(class)
                .map_err(|e| corrupt(format!("status class {class}: {e}")))?,
            cached: match value(5)? {
                Param::Bool(b) => b,
                // SQLite keeps booleans as 0/1.
                Param::Integer(n) => n != 0,
                other => return Err(corrupt(format!("rollup column 5: {other:?}"))),
            },
        },
        measures: RollupMeasures {
            requests: count(6)?,
            errors: count(7)?,
            cached_requests: count(8)?,
            tokens_in: count(9)?,
            tokens_out: count(10)?,
            cache_read_tokens: count(11)?,
            cache_write_tokens: count(12)?,
            cost: match value(13)? {
                Param::Real(f) => f,
                Param::Integer(n) => signed_as_f64(n),
                other => return Err(corrupt(format!("rollup column 13: {other:?}"))),
            },
            duration: sketch(14)?,
            ttfb: sketch(15)?,
        },
    })
}
