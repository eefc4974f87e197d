//! Reading rollups back: a range, an interval and an optional grouping become totals and series
//! of measures with percentiles merged from the sketches. Groupings by run token or by a
//! metadata key read the log rows instead (docs/analytics.md, "Grouping by token or metadata").

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rollup::{Resolution, RollupMeasures, RollupRow};
use crate::auth::TOKEN_ID_KEY;
use crate::gateways::bounds::METADATA_KEY_BYTES;
use crate::routing::ROUTE_KEY;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Provider,
    Model,
    Status,
    Gateway,
    /// The run token, by its id (the log rows' `tollgate.token_id` metadata entry).
    Token,
    /// The dynamic route, by its name (the log rows' `cf.route` metadata entry,
    /// docs/routing.md): every model call a route made, its fallbacks' included.
    Route,
    /// The value of one metadata key.
    Metadata(String),
}

/// Log rows one grouped read returns at most (a group and bucket each); past it the caller
/// must narrow the range, pick a longer interval or filter.
pub const MAX_GROUPED_ROWS: usize = 100_000;

impl GroupBy {
    /// `provider`, `model`, `status`, `gateway`, `token`, `route` or `metadata.<key>` (a key of 1-64
    /// bytes, as metadata keys are, without control characters); the error is the message.
    pub fn parse(text: &str) -> Result<GroupBy, String> {
        match text {
            "provider" => Ok(GroupBy::Provider),
            "model" => Ok(GroupBy::Model),
            "status" => Ok(GroupBy::Status),
            "gateway" => Ok(GroupBy::Gateway),
            "token" => Ok(GroupBy::Token),
            "route" => Ok(GroupBy::Route),
            _ => match text.strip_prefix("metadata.") {
                Some(key)
                    if !key.is_empty()
                        && key.len() <= METADATA_KEY_BYTES
                        && !key.chars().any(char::is_control) =>
                {
                    Ok(GroupBy::Metadata(key.to_owned()))
                }
                Some(_) => Err(format!(
                    "group_by: a metadata key must be 1-{METADATA_KEY_BYTES} bytes without                      control characters"
                )),
                None => Err("group_by: expected provider, model, status, gateway, token, route or                              metadata.<key>"
                    .into()),
            },
        }
    }

    fn name(&self) -> String {
        match self {
            GroupBy::Provider => "provider".into(),
            GroupBy::Model => "model".into(),
            GroupBy::Status => "status".into(),
            GroupBy::Gateway => "gateway".into(),
            GroupBy::Token => "token".into(),
            GroupBy::Route => "route".into(),
            GroupBy::Metadata(key) => format!("metadata.{key}"),
        }
    }

    /// The metadata key a grouping reads from the log rows, or `None` for one the rollups
    /// answer.
    pub fn metadata_key(&self) -> Option<&str> {
        match self {
            GroupBy::Token => Some(TOKEN_ID_KEY),
            GroupBy::Route => Some(ROUTE_KEY),
            GroupBy::Metadata(key) => Some(key),
            _ => None,
        }
    }

    fn value(&self, row: &RollupRow) -> Option<String> {
        Some(match self {
            GroupBy::Provider => row.key.provider.clone(),
            GroupBy::Model => row.key.model.clone(),
            GroupBy::Status => match row.key.status_class {
                0 => "none".to_owned(),
                class => format!("{class}xx"),
            },
            GroupBy::Gateway => row.key.gateway_id.clone(),
            GroupBy::Token | GroupBy::Route | GroupBy::Metadata(_) => return None,
        })
    }
}

/// Measures of one group (`None`: the rows without the grouped key) in one bucket, as a
/// grouped read of the log rows returns them; their latency sketches are empty.
#[derive(Debug, Clone)]
pub struct GroupedRow {
    pub group: Option<String>,
    pub bucket_ms: i64,
    pub measures: RollupMeasures,
}

/// One analytics request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsQuery {
    pub account_id: String,
    pub gateway_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub resolution: Resolution,
    pub group_by: Option<GroupBy>,
}

/// What the API returns for one set of rollups (docs/analytics.md).
pub type Measures = RollupMeasures;

fn measures_json(measures: &Measures) -> Value {
    let percentile = |sketch: &super::LatencySketch, q: f64| {
        sketch.quantile(q).map(|v| (v * 100.0).round() / 100.0)
    };
    json!({
        "requests": measures.requests,
        "errors": measures.errors,
        "cached_requests": measures.cached_requests,
        "tokens_in": measures.tokens_in,
        "tokens_out": measures.tokens_out,
        "cache_read_tokens": measures.cache_read_tokens,
        "cache_write_tokens": measures.cache_write_tokens,
        "cost": measures.cost,
        "duration_p50": percentile(&measures.duration, 0.50),
        "duration_p95": percentile(&measures.duration, 0.95),
        "duration_p99": percentile(&measures.duration, 0.99),
        "ttfb_p50": percentile(&measures.ttfb, 0.50),
        "ttfb_p95": percentile(&measures.ttfb, 0.95),
        "ttfb_p99": percentile(&measures.ttfb, 0.99),
    })
}

/// `{totals, series}` for rows of `query.resolution` already limited to its range and filters.
pub fn analytics_result(rows: &[RollupRow], query: &AnalyticsQuery) -> Value {
    let grouped = rows.iter().map(|row| {
        let group = query.group_by.as_ref().and_then(|g| g.value(row));
        (group, row.key.bucket_ms, &row.measures)
    });
    result(grouped, query)
}

/// `{totals, series}` for the grouped read of the log rows (`group_by=token` or
/// `metadata.<key>`): as [`analytics_result`], with `null` percentiles.
pub fn grouped_result(rows: &[GroupedRow], query: &AnalyticsQuery) -> Value {
    result(
        rows.iter()
            .map(|row| (row.group.clone(), row.bucket_ms, &row.measures)),
        query,
    )
}

fn result<'m>(
    rows: impl Iterator<Item = (Option<String>, i64, &'m Measures)>,
    query: &AnalyticsQuery,
) -> Value {
    let mut totals = Measures::default();
    // group value (None when ungrouped, or the key is absent) → bucket → measures, both
    // ordered for stable output.
    let mut series: BTreeMap<Option<String>, BTreeMap<i64, Measures>> = BTreeMap::new();
    for (group, bucket_ms, measures) in rows {
        totals.add(measures);
        series
            .entry(group)
            .or_default()
            .entry(bucket_ms)
            .or_default()
            .add(measures);
    }
    let series: Vec<Value> = series
        .into_iter()
        .map(|(group, points)| {
            let points: Vec<Value> = points
                .into_iter()
                .map(|(bucket, measures)| {
                    let mut point = measures_json(&measures);
                    if let Value::Object(map) = &mut point {
                        map.insert("time".into(), Value::String(rfc3339(bucket)));
                    }
                    point
                })
                .collect();
            let group = match (&query.group_by, group) {
                (Some(by), value) => json!({ by.name(): value }),
                (None, _) => Value::Null,
            };
            json!({"group": group, "points": points})
        })
        .collect();
    json!({"totals": measures_json(&totals), "series": series})
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}
