//! The analytics rollup tables for either store: which table holds a resolution, and the
//! range read the analytics API makes. Writing differs too much to share (SQLite merges
//! sketches in SQL, PostgreSQL in the gateway under row locks).

use super::Dialect;
use crate::analytics::Resolution;

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
