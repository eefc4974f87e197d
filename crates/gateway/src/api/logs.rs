//! `/accounts/{account}/ai-gateway/gateways/{id}/logs[/{log_id}[/request|/response]]`: the
//! request logs in Cloudflare's shape (docs/logs.md). Stored bodies are served as they were
//! stored; the headers stored with them never leave through this API.

mod pairing;
mod patch;
mod query;

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Map, Value, json};

use super::envelope::ok;
use super::extract::{ApiJson, ApiPath};
use super::{ApiError, read_your_writes};
use crate::state::AppState;
use crate::store::logs::columns::{FilterKind, LOG_COLUMNS};
use crate::store::logs::{BodyKind, LogPageInfo, LogRow, StoredBody};
use crate::store::sql::Param;

/// The account must be well-formed and the gateway must exist (404, code 2001). Then waits
/// (briefly) until every log record written so far is in the store, so a client that just got
/// a response finds its row — to list it, or to attach feedback to its `cf-aig-log-id`.
async fn check_gateway(
    state: &AppState,
    account_id: &str,
    gateway_id: &str,
) -> Result<(), ApiError> {
    super::gateways::named_gateway(state, account_id, gateway_id).await?;
    read_your_writes(state).await;
    Ok(())
}

/// A dataset's filter (docs/evaluations.md), checked and typed exactly as a logs query's.
pub(super) fn dataset_filter(
    key: &str,
    operator: &str,
    values: &[Value],
) -> Result<crate::store::logs::LogFilter, String> {
    query::validate(pairing::RawFilter {
        key: Some(key.to_owned()),
        operator: Some(operator.to_owned()),
        values: values.to_vec(),
    })
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id)): ApiPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_gateway(&state, &account_id, &gateway_id).await?;
    let parsed = query::parse(raw.as_deref()).map_err(ApiError::bad_request)?;
    let (rows, info) = state
        .store()
        .list_logs(&account_id, &gateway_id, &parsed.query)
        .await?;
    let result: Vec<Value> = rows.iter().map(|r| Value::Object(row_json(r))).collect();
    let result_info = page_info(
        &info,
        parsed.query.page,
        parsed.query.per_page,
        result.len(),
    );
    Ok(Json(json!({
        "success": true, "errors": [], "messages": [],
        "result": result, "result_info": result_info,
    }))
    .into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id)): ApiPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_gateway(&state, &account_id, &gateway_id).await?;
    let parsed = query::parse(raw.as_deref()).map_err(ApiError::bad_request)?;
    let deleted = state
        .store()
        .delete_logs(&account_id, &gateway_id, &parsed.query, parsed.limit)
        .await?;
    Ok(ok(json!({"deleted": deleted})))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, log_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    check_gateway(&state, &account_id, &gateway_id).await?;
    let store = state.store();
    let row = store
        .get_log(&account_id, &gateway_id, &log_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Log"))?;
    let (request, response) = tokio::join!(
        store.get_body(&account_id, &gateway_id, &log_id, BodyKind::Request),
        store.get_body(&account_id, &gateway_id, &log_id, BodyKind::Response),
    );
    let mut object = row_json(&row);
    let head = |body: &Option<StoredBody>| {
        body.as_ref()
            .map(|b| Value::String(String::from_utf8_lossy(&b.bytes).into_owned()))
            .unwrap_or(Value::Null)
    };
    object.insert("request_head".into(), head(&request?));
    object.insert("response_head".into(), head(&response?));
    object.insert(
        "request_head_complete".into(),
        json!(row.request_head_complete),
    );
    object.insert(
        "response_head_complete".into(),
        json!(row.response_head_complete),
    );
    // Where the dashboard links the trace (`[otel] trace_url`, docs/observability.md).
    let trace_url = match (&state.config().otel.trace_url, &row.trace_id) {
        (Some(template), Some(trace_id)) => Value::String(template.replace("{trace_id}", trace_id)),
        _ => Value::Null,
    };
    object.insert("trace_url".into(), trace_url);
    Ok(ok(Value::Object(object)))
}

pub async fn request_body(
    state: State<AppState>,
    path: ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    body(state, path, BodyKind::Request).await
}

pub async fn response_body(
    state: State<AppState>,
    path: ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    body(state, path, BodyKind::Response).await
}

/// The stored body itself, with its content type and nothing else of what was stored.
async fn body(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, log_id)): ApiPath<(String, String, String)>,
    kind: BodyKind,
) -> Result<Response, ApiError> {
    check_gateway(&state, &account_id, &gateway_id).await?;
    let what = match kind {
        BodyKind::Request => "Stored request",
        BodyKind::Response => "Stored response",
    };
    let stored = state
        .store()
        .get_body(&account_id, &gateway_id, &log_id, kind)
        .await?
        .ok_or_else(|| ApiError::not_found(what))?;
    let content_type = stored
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            // The body is whatever a provider or client sent: never let a browser guess it.
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Body::from(stored.bytes),
    )
        .into_response())
}

pub async fn patch(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, log_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    check_gateway(&state, &account_id, &gateway_id).await?;
    let patch = patch::parse(&body).map_err(ApiError::invalid_fields)?;
    if state
        .store()
        .patch_log(&account_id, &gateway_id, &log_id, &patch)
        .await?
    {
        Ok(ok(json!({})))
    } else {
        Err(ApiError::not_found("Log"))
    }
}

/// A row as the list and the detail show it (the detail adds the bodies): the columns the
/// column table marks for the API, times as RFC 3339 with milliseconds. Cloudflare's schema
/// requires `model` as a string: a row of a request that named none (`GET …/models`, a
/// refusal) has `""`.
fn row_json(row: &LogRow) -> Map<String, Value> {
    let mut json: Map<String, Value> = LOG_COLUMNS
        .iter()
        .filter(|column| column.api)
        .map(|column| {
            let value = match (column.get)(row) {
                None => Value::Null,
                Some(Param::Integer(ms)) if column.filter == Some(FilterKind::Time) => {
                    let at = jiff::Timestamp::from_millisecond(ms);
                    Value::String(at.map(|t| format!("{t:.3}")).unwrap_or_default())
                }
                Some(Param::Text(text)) => Value::String(text),
                Some(Param::Integer(i)) => Value::from(i),
                Some(Param::Real(f)) => Value::from(f),
                Some(Param::Bool(b)) => Value::Bool(b),
                Some(Param::Json(json)) => json,
                Some(Param::Bytes(_)) => Value::Null,
            };
            (column.name.to_owned(), value)
        })
        .collect();
    if let Some(model @ Value::Null) = json.get_mut("model") {
        *model = Value::String(String::new());
    }
    json
}

/// The page's `result_info`; an aggregate no row has (no cost on any) is absent, never null
/// (Cloudflare's schema types them as numbers).
fn page_info(info: &LogPageInfo, page: u32, per_page: u32, count: usize) -> Value {
    let mut info = json!({
        "page": page,
        "per_page": per_page,
        "count": count,
        "total_count": info.total_count,
        "total_pages": info.total_count.div_ceil(u64::from(per_page.max(1))),
        "min_cost": info.min_cost,
        "max_cost": info.max_cost,
        "min_duration": info.min_duration,
        "max_duration": info.max_duration,
        "min_tokens_in": info.min_tokens_in,
        "max_tokens_in": info.max_tokens_in,
        "min_tokens_out": info.min_tokens_out,
        "max_tokens_out": info.max_tokens_out,
        "min_total_tokens": info.min_total_tokens,
        "max_total_tokens": info.max_total_tokens,
    });
    if let Value::Object(fields) = &mut info {
        fields.retain(|_, value| !value.is_null());
    }
    info
}

#[cfg(test)]
mod tests;
