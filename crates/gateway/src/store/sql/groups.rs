//! The analytics read grouped by one metadata key's value (`group_by=token` and
//! `group_by=metadata.<key>`, docs/analytics.md), for either store: rollups have no metadata, so
//! this sums the completed log rows per value and bucket in SQL. Rows without the key are one
//! group of their own (`NULL`), so the totals are those of every logged request in the range.

use super::{Dialect, Param, Statement};
use crate::analytics::{AnalyticsQuery, GroupedRow, MAX_GROUPED_ROWS, RollupMeasures};
use crate::convert::signed_as_f64;
use crate::store::logs::columns::ColumnType;

/// The statement for `query` grouped by metadata `key`: at most [`MAX_GROUPED_ROWS`] + 1 rows,
/// so the caller can tell that there were more. Columns: group, bucket, the seven counters,
/// cost.
pub(crate) fn select(dialect: Dialect, query: &AnalyticsQuery, key: &str) -> Statement {
    let mut statement = Statement::new(dialect);
    let key = statement.bind_text(key);
    let resolution = statement.bind(Param::Integer(query.resolution.millis()));
    let account = statement.bind_text(&query.account_id);
    let start = statement.bind(Param::Integer(query.resolution.floor(query.start_ms)));
    let end = statement.bind(Param::Integer(query.end_ms));
    let mut narrowed = String::new();
    for (column, value) in [
        ("gateway_id", &query.gateway_id),
        ("provider", &query.provider),
        ("model", &query.model),
    ] {
        if let Some(value) = value {
            let value = statement.bind_text(value);
            narrowed.push_str(&format!(" AND logs.{column} = {value}"));
        }
    }
    let limit = statement.bind(Param::Integer(
        i64::try_from(MAX_GROUPED_ROWS + 1).unwrap_or(i64::MAX),
    ));
    let count = |expr: &str| format!("CAST(SUM({expr}) AS BIGINT)");
    let counted = |column: &str| count(&format!("COALESCE(logs.{column}, 0)"));
    statement.sql = format!(
        "SELECT {value}, (logs.created_at / {resolution}) * {resolution}, COUNT(*),
            {errors}, {cached}, {tokens_in}, {tokens_out}, {cache_read}, {cache_write},
            SUM(COALESCE(logs.cost, 0.0))
         FROM logs LEFT JOIN {entries} ON m.key = {key}
         WHERE logs.account_id = {account} AND logs.completed = {truth}
           AND logs.created_at >= {start} AND logs.created_at < {end}{narrowed}
         GROUP BY 1, 2
         LIMIT {limit}",
        value = dialect.metadata_value(),
        errors = count("CASE WHEN logs.success THEN 0 ELSE 1 END"),
        cached = count("CASE WHEN logs.cached THEN 1 ELSE 0 END"),
        tokens_in = counted("tokens_in"),
        tokens_out = counted("tokens_out"),
        cache_read = counted("cache_read_tokens"),
        cache_write = counted("cache_write_tokens"),
        entries = dialect.metadata_entries(),
        truth = dialect.truth(),
    );
    statement
}

/// The types of [`select`]'s columns, in order.
pub(crate) const SELECTED: [ColumnType; 10] = {
    use ColumnType::{Integer, Real, Text};
    [
        Text, Integer, Integer, Integer, Integer, Integer, Integer, Integer, Integer, Real,
    ]
};

/// Decodes a row of [`select`]: `read` yields column `i` as a value of `SELECTED[i]`.
pub(crate) fn decode<E>(
    read: impl Fn(usize, ColumnType) -> Result<Option<Param>, E>,
    corrupt: impl Fn(String) -> E,
) -> Result<GroupedRow, E> {
    let int = |i: usize| match read(i, SELECTED[i])? {
        Some(Param::Integer(n)) => Ok(n),
        other => Err(corrupt(format!("grouped column {i}: {other:?}"))),
    };
    let count = |i: usize| {
        let n = int(i)?;
        u64::try_from(n).map_err(|e| corrupt(format!("grouped column {i}: {n}: {e}")))
    };
    let group = match read(0, SELECTED[0])? {
        Some(Param::Text(text)) => Some(text),
        None => None,
        other => return Err(corrupt(format!("grouped column 0: {other:?}"))),
    };
    Ok(GroupedRow {
        group,
        bucket_ms: int(1)?,
        measures: RollupMeasures {
            requests: count(2)?,
            errors: count(3)?,
            cached_requests: count(4)?,
            tokens_in: count(5)?,
            tokens_out: count(6)?,
            cache_read_tokens: count(7)?,
            cache_write_tokens: count(8)?,
            cost: match read(9, SELECTED[9])? {
                Some(Param::Real(f)) => f,
                Some(Param::Integer(n)) => signed_as_f64(n),
                None => 0.0,
                other => return Err(corrupt(format!("grouped column 9: {other:?}"))),
            },
            ..RollupMeasures::default()
        },
    })
}
