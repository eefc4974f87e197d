//! `GET /accounts/{account}/ai-gateway/analytics` (docs/analytics.md, extension): totals and series of
//! requests, errors, cache hits, tokens, cost and latency percentiles from the rollups; grouped
//! by run token or a metadata key, from the log rows.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;

use super::envelope::ok;
use super::extract::{ApiPath, ApiQuery};
use super::{ApiError, account, read_your_writes};
use crate::analytics::{
    AnalyticsQuery, GroupBy, MAX_GROUPED_ROWS, Resolution, analytics_result, grouped_result,
};
use crate::state::AppState;

/// Most points one series may have; past it the caller must pick a coarser interval.
const MAX_POINTS: i64 = 50_000;
const DEFAULT_RANGE_MS: i64 = 24 * 3_600_000;

pub async fn get(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    account(&account_id)?;
    let query = parse(&state, account_id, &params).await?;
    // Requests that completed before the call are counted.
    read_your_writes(&state).await;
    // Rollups have no metadata: those groupings sum the log rows (docs/analytics.md).
    if let Some(key) = query.group_by.as_ref().and_then(GroupBy::metadata_key) {
        let rows = state.store().metadata_groups(&query, key).await?;
        if rows.len() > MAX_GROUPED_ROWS {
            return Err(ApiError::bad_request(format!(
                "group_by: more than {MAX_GROUPED_ROWS} groups and buckets; choose a longer \
                 interval, a shorter range or a gateway"
            )));
        }
        return Ok(ok(grouped_result(&rows, &query)));
    }
    let rows = state.store().rollups(&query).await?;
    Ok(ok(analytics_result(&rows, &query)))
}

async fn parse(
    state: &AppState,
    account_id: String,
    params: &HashMap<String, String>,
) -> Result<AnalyticsQuery, ApiError> {
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(name)
            .map(|text| {
                text.parse::<jiff::Timestamp>()
                    .map(|t| t.as_millisecond())
                    .map_err(|_| {
                        ApiError::bad_request(format!("{name}: expected an RFC 3339 time"))
                    })
            })
            .transpose()
    };
    let end_ms = time("end")?.unwrap_or_else(|| state.clock().now_ms());
    let start_ms = time("start")?.unwrap_or(end_ms - DEFAULT_RANGE_MS);
    if start_ms >= end_ms {
        return Err(ApiError::bad_request("start: must be before end"));
    }
    let resolution = match params.get("interval") {
        Some(text) => Resolution::parse(text)
            .ok_or_else(|| ApiError::bad_request("interval: expected minute, hour or day"))?,
        None => default_resolution(end_ms - start_ms),
    };
    if (end_ms - start_ms) / resolution.millis() > MAX_POINTS {
        return Err(ApiError::bad_request(format!(
            "interval: more than {MAX_POINTS} points; choose a longer interval or a shorter range"
        )));
    }
    let group_by = params
        .get("group_by")
        .map(|text| GroupBy::parse(text).map_err(ApiError::bad_request))
        .transpose()?;
    let gateway_id = params.get("gateway_id").filter(|g| !g.is_empty()).cloned();
    if let Some(gateway) = &gateway_id {
        super::gateways::named_gateway(state, &account_id, gateway).await?;
    }
    Ok(AnalyticsQuery {
        account_id,
        gateway_id,
        provider: params.get("provider").filter(|p| !p.is_empty()).cloned(),
        model: params.get("model").filter(|m| !m.is_empty()).cloned(),
        start_ms,
        end_ms,
        resolution,
        group_by,
    })
}

/// Minutes for up to six hours, hours for up to two weeks, days beyond.
fn default_resolution(range_ms: i64) -> Resolution {
    if range_ms <= 6 * 3_600_000 {
        Resolution::Minute
    } else if range_ms <= 14 * 86_400_000 {
        Resolution::Hour
    } else {
        Resolution::Day
    }
}
