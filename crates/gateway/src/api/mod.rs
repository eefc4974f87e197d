//! The management REST API under `/client/v4` (README.md) in Cloudflare's v4 envelope, and the
//! unauthenticated health routes.

mod analytics;
mod custom_providers;
mod datasets;
mod dlp_profiles;
mod dlp_test;
mod documents;
mod envelope;
mod evaluations;
mod extract;
mod gateways;
mod health;
mod logs;
mod mcp_servers;
mod policies;
mod provider_configs;
mod routes;
mod spend;
mod tokens;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header;

pub use envelope::ApiError;

use crate::state::AppState;

/// Management routes plus `/healthz` and `/readyz`. The admin token is checked by
/// [`refuse_without_admin_token`], which the server's checks apply by path prefix.
pub fn router() -> Router<AppState> {
    let management = Router::new()
        .route(
            "/accounts/{account}/ai-gateway/gateways",
            get(gateways::list).post(gateways::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}",
            get(gateways::get)
                .put(gateways::update)
                .delete(gateways::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/url/{provider}",
            get(gateways::provider_url),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/spend",
            get(spend::gateway),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/logs",
            get(logs::list).delete(logs::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/logs/{log_id}",
            get(logs::get).patch(logs::patch),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/logs/{log_id}/request",
            get(logs::request_body),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/logs/{log_id}/response",
            get(logs::response_body),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/provider_configs",
            get(provider_configs::list).post(provider_configs::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/provider_configs/{config}",
            get(provider_configs::get)
                .patch(provider_configs::update)
                .delete(provider_configs::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers",
            get(mcp_servers::list).post(mcp_servers::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers/{server}",
            get(mcp_servers::get)
                .patch(mcp_servers::update)
                .put(mcp_servers::update)
                .delete(mcp_servers::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/datasets",
            get(datasets::list).post(datasets::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/datasets/{dataset}",
            get(datasets::get)
                .put(datasets::update)
                .delete(datasets::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/evaluations",
            get(evaluations::list).post(evaluations::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/evaluations/{evaluation}",
            get(evaluations::get).delete(evaluations::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/custom-providers",
            get(custom_providers::list).post(custom_providers::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/custom-providers/{id}",
            get(custom_providers::get)
                .patch(custom_providers::update)
                .delete(custom_providers::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/evaluation-types",
            get(evaluations::list_types),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/routes",
            get(routes::list_routes).post(routes::create_route),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}",
            get(routes::get_route)
                .patch(routes::update_route)
                .delete(routes::delete_route),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/versions",
            get(routes::list_versions).post(routes::create_version),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/versions/{version}",
            get(routes::get_version),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/deployments",
            get(routes::list_deployments).post(routes::create_deployment),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/policies",
            get(policies::list).post(policies::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/policies/commit",
            post(policies::commit),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/policies/simulate",
            post(policies::simulate),
        )
        .route(
            "/accounts/{account}/ai-gateway/gateways/{id}/policies/{policy}",
            get(policies::get)
                .put(policies::update)
                .delete(policies::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/dlp/profiles",
            get(dlp_profiles::list).post(dlp_profiles::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/dlp/profiles/{id}",
            get(dlp_profiles::get)
                .put(dlp_profiles::update)
                .delete(dlp_profiles::delete),
        )
        .route(
            "/accounts/{account}/ai-gateway/dlp/test",
            post(dlp_test::test),
        )
        .route(
            "/accounts/{account}/ai-gateway/settings_bounds",
            get(gateways::settings_bounds),
        )
        .route(
            "/accounts/{account}/ai-gateway/analytics",
            get(analytics::get),
        )
        .route(
            "/accounts/{account}/ai-gateway/tokens",
            get(tokens::list).post(tokens::create),
        )
        .route(
            "/accounts/{account}/ai-gateway/tokens/{id}",
            get(tokens::get).delete(tokens::revoke),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest(MANAGEMENT_BASE, management)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

/// Every route this router serves under `/client/v4`, as `(method, path)`: the test that
/// checks each one refuses unauthenticated calls enumerates this list.
pub const MANAGEMENT_ROUTES: &[(&str, &str)] = &[
    ("GET", "/accounts/{account}/ai-gateway/analytics"),
    ("GET", "/accounts/{account}/ai-gateway/custom-providers"),
    ("POST", "/accounts/{account}/ai-gateway/custom-providers"),
    (
        "GET",
        "/accounts/{account}/ai-gateway/custom-providers/{id}",
    ),
    (
        "PATCH",
        "/accounts/{account}/ai-gateway/custom-providers/{id}",
    ),
    (
        "DELETE",
        "/accounts/{account}/ai-gateway/custom-providers/{id}",
    ),
    ("GET", "/accounts/{account}/ai-gateway/dlp/profiles"),
    ("POST", "/accounts/{account}/ai-gateway/dlp/profiles"),
    ("GET", "/accounts/{account}/ai-gateway/dlp/profiles/{id}"),
    ("PUT", "/accounts/{account}/ai-gateway/dlp/profiles/{id}"),
    ("DELETE", "/accounts/{account}/ai-gateway/dlp/profiles/{id}"),
    ("POST", "/accounts/{account}/ai-gateway/dlp/test"),
    ("GET", "/accounts/{account}/ai-gateway/gateways"),
    ("POST", "/accounts/{account}/ai-gateway/gateways"),
    ("GET", "/accounts/{account}/ai-gateway/gateways/{id}"),
    ("PUT", "/accounts/{account}/ai-gateway/gateways/{id}"),
    ("DELETE", "/accounts/{account}/ai-gateway/gateways/{id}"),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/url/{provider}",
    ),
    ("GET", "/accounts/{account}/ai-gateway/gateways/{id}/spend"),
    ("GET", "/accounts/{account}/ai-gateway/gateways/{id}/logs"),
    (
        "DELETE",
        "/accounts/{account}/ai-gateway/gateways/{id}/logs",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/logs/{log_id}",
    ),
    (
        "PATCH",
        "/accounts/{account}/ai-gateway/gateways/{id}/logs/{log_id}",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/logs/{log_id}/request",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/logs/{log_id}/response",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/provider_configs",
    ),
    (
        "POST",
        "/accounts/{account}/ai-gateway/gateways/{id}/provider_configs",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/provider_configs/{config}",
    ),
    (
        "PATCH",
        "/accounts/{account}/ai-gateway/gateways/{id}/provider_configs/{config}",
    ),
    (
        "DELETE",
        "/accounts/{account}/ai-gateway/gateways/{id}/provider_configs/{config}",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers",
    ),
    (
        "POST",
        "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers/{server}",
    ),
    (
        "PATCH",
        "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers/{server}",
    ),
    (
        "PUT",
        "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers/{server}",
    ),
    (
        "DELETE",
        "/accounts/{account}/ai-gateway/gateways/{id}/mcp_servers/{server}",
    ),
    ("GET", "/accounts/{account}/ai-gateway/gateways/{id}/routes"),
    (
        "POST",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}",
    ),
    (
        "PATCH",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}",
    ),
    (
        "DELETE",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/versions",
    ),
    (
        "POST",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/versions",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/versions/{version}",
    ),
    (
        "GET",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/deployments",
    ),
    (
        "POST",
        "/accounts/{account}/ai-gateway/gateways/{id}/routes/{route}/deployments",
    ),
    ("GET", "/accounts/{account}/ai-gateway/tokens"),
    ("POST", "/accounts/{account}/ai-gateway/tokens"),
    ("GET", "/accounts/{account}/ai-gateway/tokens/{id}"),
    ("DELETE", "/accounts/{account}/ai-gateway/tokens/{id}"),
];

/// The management base; everything under it, known route or not, needs the admin token, so
/// an unauthenticated caller learns nothing about what exists.
pub const MANAGEMENT_BASE: &str = "/client/v4";

/// The 401 for a request under [`MANAGEMENT_BASE`] without the admin token; `None` lets it
/// through.
pub fn refuse_without_admin_token(state: &AppState, request: &Request) -> Option<Response> {
    let path = request.uri().path();
    let is_management = path
        .strip_prefix(MANAGEMENT_BASE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if !is_management {
        return None;
    }
    let presented = request.headers().get(header::AUTHORIZATION).map(|value| {
        value
            .to_str()
            .ok()
            .and_then(crate::auth::bearer)
            .unwrap_or("")
    });
    let why = match presented {
        Some(token) if !token.is_empty() && state.admin_token().matches(token) => return None,
        None => "send Authorization: Bearer <admin token>",
        Some("") => "Authorization must be \"Bearer <admin token>\"",
        Some(_) => "the admin token is not valid",
    };
    Some(ApiError::unauthorized(why).into_response())
}

/// The account segment of a management path, if well-formed (else no such route).
fn account(account: &str) -> Result<&str, ApiError> {
    if crate::proxy::is_account_id(account) {
        Ok(account)
    } else {
        Err(ApiError::no_route())
    }
}

/// How long a read of logs or analytics waits for the records already written to be stored.
const READ_YOUR_WRITES_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits (briefly) until every log record written so far is in the store, so a client that
/// just got a response finds its row and its counts.
async fn read_your_writes(state: &AppState) {
    let _ = tokio::time::timeout(READ_YOUR_WRITES_LIMIT, state.logs().flushed()).await;
}

/// Any path no route serves.
pub async fn no_route() -> ApiError {
    ApiError::no_route()
}

/// A route that exists, asked with a method it does not serve: the envelope, not an empty 405.
async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
