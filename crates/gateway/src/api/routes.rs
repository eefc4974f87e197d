//! `/accounts/{account}/ai-gateway/gateways/{id}/routes[…]`: dynamic routes, their versions and
//! deployments (docs/routing.md), in the shapes of Cloudflare's API and its `cloudflare` SDK:
//! lists as `{success, data: {routes | versions | deployments, page, per_page, order_by,
//! order_by_direction}}`, a rename as `{success, route}`, everything else in the v4 envelope.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiError;
use super::envelope::{Paging, ok};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::gateways::{ListQuery, named_gateway_read_through};
use crate::routing::RouteError;
use crate::state::AppState;

impl From<RouteError> for ApiError {
    fn from(error: RouteError) -> ApiError {
        match error {
            RouteError::Invalid(errors) => ApiError::invalid_fields(errors),
            RouteError::Conflict(message) => ApiError::conflict(message),
            RouteError::NotFound(what) => ApiError::not_found(what),
            RouteError::Store(error) => error.into(),
        }
    }
}

/// Cloudflare's list shape for `items` under `name`, one page of them.
fn list(name: &str, items: Vec<Value>, query: &ListQuery, order_by: &str) -> Response {
    let paging = Paging::new(query.page, query.per_page);
    let total = items.len();
    let (page, per_page) = (paging.page, paging.per_page);
    let items = paging.slice(items);
    Json(json!({
        "success": true, "errors": [], "messages": [],
        "data": {
            name: items, "page": page, "per_page": per_page, "total_count": total,
            "order_by": order_by, "order_by_direction": "asc",
        },
    }))
    .into_response()
}

pub async fn list_routes(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    let routes = state
        .routes()
        .of_gateway(&gateway.account_id, &gateway.id)
        .iter()
        .map(|route| route.to_json())
        .collect();
    Ok(list("routes", routes, &query, "name"))
}

pub async fn create_route(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    let created = state
        .routes()
        .create(
            &gateway,
            &state.providers().for_account(&gateway.account_id),
            &body,
        )
        .await?;
    Ok(ok(created))
}

pub async fn get_route(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    state
        .routes()
        .by_id(&gateway.account_id, &gateway.id, &route_id)
        .map(|route| ok(route.to_json()))
        .ok_or_else(|| ApiError::not_found("Route"))
}

pub async fn update_route(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    let route = state.routes().rename(&gateway, &route_id, &body).await?;
    // The SDK reads this answer as `{route, success}`; `result` is there for v4 clients.
    Ok(Json(json!({
        "success": true, "errors": [], "messages": [], "route": route, "result": route,
    }))
    .into_response())
}

pub async fn delete_route(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    Ok(ok(state.routes().delete(&gateway, &route_id).await?))
}

pub async fn list_versions(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    let versions = state.routes().versions(&gateway, &route_id).await?;
    Ok(list("versions", versions, &query, "created_at"))
}

pub async fn create_version(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    let created = state
        .routes()
        .add_version(
            &gateway,
            &state.providers().for_account(&gateway.account_id),
            &route_id,
            &body,
        )
        .await?;
    Ok(ok(created))
}

pub async fn get_version(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id, version_id)): ApiPath<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    Ok(ok(state
        .routes()
        .version(&gateway, &route_id, &version_id)
        .await?))
}

pub async fn list_deployments(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id)): ApiPath<(String, String, String)>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    let deployments = state.routes().deployments(&gateway, &route_id).await?;
    Ok(list("deployments", deployments, &query, "created_at"))
}

pub async fn create_deployment(
    State(state): State<AppState>,
    ApiPath((account_id, id, route_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway_read_through(&state, &account_id, &id).await?;
    Ok(ok(state
        .routes()
        .deploy(&gateway, &route_id, &body)
        .await?))
}
