//! `/accounts/{account}/ai-gateway/gateways[/{id}]`: gateway CRUD in Cloudflare's shape.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::envelope::{Paging, ok, ok_page};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, account};
use crate::gateways::Gateway;
use crate::mirror::Miss;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ListQuery {
    pub(super) page: Option<usize>,
    pub(super) per_page: Option<usize>,
    search: Option<String>,
}

/// [`named_gateway`] after taking in what other instances changed (PostgreSQL), for the calls
/// that answer from a gateway's objects kept in memory (its routes, its MCP servers).
pub(super) async fn named_gateway_read_through(
    state: &AppState,
    account_id: &str,
    id: &str,
) -> Result<Arc<Gateway>, ApiError> {
    state.read_through().await;
    named_gateway(state, account_id, id).await
}

/// The gateway a management call names; one created through another instance on a shared
/// store a moment ago is read from the store rather than answered 404 (docs/deployment.md).
pub(super) async fn named_gateway(
    state: &AppState,
    account_id: &str,
    id: &str,
) -> Result<Arc<Gateway>, ApiError> {
    let account_id = account(account_id)?;
    let look = || state.gateways().get(account_id, id);
    match look() {
        Some(gateway) => Ok(gateway),
        None => state
            .look_again(Miss::gateway(account_id, id), look)
            .await
            .ok_or_else(ApiError::gateway_not_found),
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    state.read_through().await;
    let paging = Paging::new(query.page, query.per_page);
    let matching: Vec<_> = state
        .gateways()
        .list(account_id)
        .into_iter()
        .filter(|g| query.search.as_deref().is_none_or(|s| g.id.contains(s)))
        .collect();
    let total = matching.len();
    let items = paging
        .slice(&matching)
        .into_iter()
        .map(|g| g.to_json())
        .collect();
    Ok(ok_page(items, paging.page, paging.per_page, total))
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let id = match body.get("id") {
        Some(Value::String(id)) => id.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "id: required, a string of 1-64 characters",
            ));
        }
    };
    super::dlp_profiles::check_gateway_body(&state, account_id, &body).await?;
    let gateway = state.gateways().create(account_id, &id, &body).await?;
    Ok(ok(gateway.to_json()))
}

/// `GET …/ai-gateway/settings_bounds` (a Tollgate extension): every bounded gateway setting's
/// `{min, max, unit}`, as the API enforces them.
pub async fn settings_bounds(ApiPath(account_id): ApiPath<String>) -> Result<Response, ApiError> {
    account(&account_id)?;
    let bounds: serde_json::Map<String, Value> = crate::gateways::bounds::GATEWAY_SETTINGS
        .iter()
        .map(|(name, bound)| ((*name).to_owned(), serde_json::json!(bound)))
        .collect();
    Ok(ok(Value::Object(bounds)))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &id).await?;
    Ok(ok(gateway.to_json()))
}

pub async fn update(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    if body
        .get("id")
        .is_some_and(|v| v.as_str() != Some(id.as_str()))
    {
        return Err(ApiError::bad_request("id: cannot be changed"));
    }
    named_gateway(&state, &account_id, &id).await?;
    super::dlp_profiles::check_gateway_body(&state, account(&account_id)?, &body).await?;
    let gateway = state
        .gateways()
        .update(account(&account_id)?, &id, &body)
        .await?;
    Ok(ok(gateway.to_json()))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    named_gateway(&state, &account_id, &id).await?;
    let gateway = state.gateways().delete(account(&account_id)?, &id).await?;
    // Its stored keys, routes and MCP servers went with it (the store deletes them); memory
    // forgets them too.
    state.keys().reload().await?;
    state.routes().reload().await?;
    state.mcp().reload().await?;
    Ok(ok(gateway.to_json()))
}

/// The proxy URL for one provider on this gateway, as the host the caller used sees it.
pub async fn provider_url(
    State(state): State<AppState>,
    ApiPath((account_id, id, provider)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    named_gateway(&state, &account_id, &id).await?;
    if state
        .providers()
        .for_account(&account_id)
        .get(&provider)
        .is_none()
    {
        return Err(ApiError::bad_request(format!(
            "provider: unknown provider `{provider}`"
        )));
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| state.config().server.listen.to_string());
    Ok(ok(Value::String(format!(
        "http://{host}/v1/{account_id}/{id}/{provider}"
    ))))
}
