//! Reading rollups back: a range, an interval and an optional grouping become totals and series
//! of measures with percentiles merged from the sketches.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rollup::{Resolution, RollupMeasures, RollupRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Provider,
    Model,
    Status,
    Gateway,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "provider" => Some(GroupBy::Provider),
            "model" => Some(GroupBy::Model),
            "status" => Some(GroupBy::Status),
            "gateway" => Some(GroupBy::Gateway),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Model => "model",
            GroupBy::Status => "status",
            GroupBy::Gateway => "gateway",
        }
    }

    fn value(self, row: &RollupRow) -> String {
        match self {
            GroupBy::Provider => row.key.provider.clone(),
            GroupBy::Model => row.key.model.clone(),
            GroupBy::Status => match row.key.status_class {
                0 => "none".to_owned(),
                class => format!("{class}xx"),
            },
            GroupBy::Gateway => row.key.gateway_id.clone(),
        }
    }
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
    let mut totals = Measures::default();
    // group value (None when ungrouped) → bucket → measures, both ordered for stable output.
    let mut series: BTreeMap<Option<String>, BTreeMap<i64, Measures>> = BTreeMap::new();
    for row in rows {
        totals.add(&row.measures);
        let group = query.group_by.map(|g| g.value(row));
        series
            .entry(group)
            .or_default()
            .entry(row.key.bucket_ms)
            .or_default()
            .add(&row.measures);
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
            let group = match (query.group_by, group) {
                (Some(by), Some(value)) => json!({ by.name(): value }),
                _ => Value::Null,
            };
            json!({"group": group, "points": points})
        })
        .collect();
    json!({"totals": measures_json(&totals), "series": series})
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}
