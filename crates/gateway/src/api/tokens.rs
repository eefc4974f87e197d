//! `/accounts/{account}/ai-gateway/tokens`: run tokens for authenticated gateways (docs/security.md).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::envelope::ok;
use super::extract::{ApiJson, ApiPath};
use super::{ApiError, account};
use crate::state::AppState;
use crate::store::{StoreError, StoredToken};

const MAX_NAME_CHARS: usize = 128;

fn summary(token: &StoredToken) -> Value {
    json!({"id": token.id, "name": token.name, "created_at": token.created_at.to_string()})
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    state.read_through().await;
    let tokens = state.tokens().list(account_id);
    Ok(ok(Value::Array(tokens.iter().map(summary).collect())))
}

/// The token text is in this response and nowhere else, ever.
pub async fn create(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let name = match body.get("name") {
        Some(Value::String(name))
            if !name.trim().is_empty()
                && name.chars().count() <= MAX_NAME_CHARS
                && !name.chars().any(char::is_control) =>
        {
            name.trim().to_owned()
        }
        // Control characters would reach terminals and logs as escape sequences.
        _ => {
            return Err(ApiError::bad_request(
                "name: required, 1-128 characters, no control characters",
            ));
        }
    };
    let created = state
        .tokens()
        .create(account_id, &name)
        .await
        .map_err(|error| {
            tracing::error!(%error, "could not create a run token");
            ApiError::internal()
        })?;
    let mut result = summary(&created.stored);
    if let Value::Object(map) = &mut result {
        map.insert("token".into(), Value::String(created.token));
    }
    Ok(ok(result))
}

pub async fn revoke(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    match state.tokens().revoke(account(&account_id)?, &id).await {
        Ok(()) => Ok(ok(json!({"id": id}))),
        Err(StoreError::NotFound) => Err(ApiError::not_found("Token")),
        Err(error) => Err(error.into()),
    }
}
