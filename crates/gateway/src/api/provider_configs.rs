//! `/accounts/{account}/ai-gateway/gateways/{id}/provider_configs[/{config}]`: stored provider
//! keys in Cloudflare's shape (docs/keys.md). The secret goes in and never comes out: responses
//! carry its `secret_preview` only.

use axum::extract::State;
use axum::response::Response;

use super::envelope::{Paging, ok};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::gateways::ListQuery;
use super::{ApiError, account};
use crate::gateways::Gateway;
use crate::keys::KeyError;
use crate::state::AppState;

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> ApiError {
        match error {
            KeyError::Invalid(errors) => ApiError::invalid_fields(errors),
            KeyError::Refused(message) => ApiError::bad_request(message),
            KeyError::NotFound => ApiError::not_found("Provider config"),
            KeyError::Store(error) => error.into(),
            KeyError::Crypto(error) => {
                tracing::error!(%error, "could not seal a provider key");
                ApiError::internal()
            }
        }
    }
}

fn gateway(
    state: &AppState,
    account_id: &str,
    id: &str,
) -> Result<std::sync::Arc<Gateway>, ApiError> {
    state
        .gateways()
        .get(account(account_id)?, id)
        .ok_or_else(ApiError::gateway_not_found)
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let paging = Paging::new(query.page, query.per_page);
    Ok(paging.respond(state.keys().list_json(&gateway.account_id, &gateway.id)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let created = state
        .keys()
        .create(&gateway, state.providers(), &body)
        .await?;
    Ok(ok(created))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, id, key_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    state
        .keys()
        .get_json(&gateway.account_id, &gateway.id, &key_id)
        .map(ok)
        .ok_or_else(|| KeyError::NotFound.into())
}

pub async fn update(
    State(state): State<AppState>,
    ApiPath((account_id, id, key_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let updated = state
        .keys()
        .update(&gateway, state.providers(), &key_id, &body)
        .await?;
    Ok(ok(updated))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, id, key_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let deleted = state
        .keys()
        .delete(&gateway.account_id, &gateway.id, &key_id)
        .await?;
    Ok(ok(deleted))
}
