//! `/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers[/{server}]`: the upstream MCP
//! servers a gateway's `/mcp` endpoint aggregates, registered through the API (docs/mcp.md).
//! The configuration file's `[[mcp_servers]]` are not listed here and cannot be changed here.

use axum::extract::State;
use axum::response::Response;

use super::ApiError;
use super::envelope::{Paging, ok};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::gateways::{ListQuery, named_gateway_read_through};
use crate::mcp::McpServerError;
use crate::state::AppState;

impl From<McpServerError> for ApiError {
    fn from(error: McpServerError) -> ApiError {
        match error {
            McpServerError::Invalid(errors) => ApiError::invalid_fields(errors),
            McpServerError::Conflict(message) => ApiError::conflict(message),
            McpServerError::NotFound => ApiError::not_found("MCP server"),
            McpServerError::Store(error) => error.into(),
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    let paging = Paging::new(query.page, query.per_page);
    Ok(paging.respond(state.mcp().list_json(&gateway.account_id, &gateway.id)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    Ok(ok(state
        .mcp()
        .create(&gateway, state.keys(), &body)
        .await?))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, id, server_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    state
        .mcp()
        .get_json(&gateway.account_id, &gateway.id, &server_id)
        .map(ok)
        .ok_or_else(|| McpServerError::NotFound.into())
}

pub async fn update(
    State(state): State<AppState>,
    ApiPath((account_id, id, server_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    Ok(ok(state
        .mcp()
        .update(&gateway, state.keys(), &server_id, &body)
        .await?))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, id, server_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    Ok(ok(state.mcp().delete(&gateway, &server_id).await?))
}
