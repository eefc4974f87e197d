//! `/accounts/{account}/ai-gateway/tokens`: run tokens for authenticated gateways
//! (docs/security.md) and their scopes (docs/budgets.md, "Scoped run tokens").

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::envelope::ok;
use super::extract::{ApiJson, ApiPath};
use super::{ApiError, account, spend};
use crate::auth::TokenScope;
use crate::gateways::FieldError;
use crate::state::AppState;
use crate::store::{StoreError, StoredToken};

const MAX_NAME_CHARS: usize = 128;

/// A token as the API shows it: never its text, which only the create response holds.
fn summary(token: &StoredToken) -> Value {
    let mut result = token.scope.to_json();
    if let Value::Object(map) = &mut result {
        map.insert("id".into(), json!(token.id));
        map.insert("name".into(), json!(token.name));
        map.insert("created_at".into(), json!(token.created_at.to_string()));
    }
    result
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

/// One token, with what it has spent in its budget's current window (`spend`, `null` for a
/// token without a budget).
pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    state.read_through().await;
    let Some(token) = state.tokens().get(account_id, &id) else {
        return Err(ApiError::not_found("Token"));
    };
    let mut result = summary(&token);
    let spend = match &token.scope.budget {
        Some(budget) => {
            let charge = budget.charge(&token.account_id, &token.id);
            spend::bucket(&state, &charge, budget.limit).await
        }
        None => Value::Null,
    };
    if let Value::Object(map) = &mut result {
        map.insert("spend".into(), spend);
    }
    Ok(ok(result))
}

/// The token text is in this response and nowhere else, ever.
pub async fn create(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let (name, scope) = parse(&body, state.clock().now()).map_err(ApiError::invalid_fields)?;
    let created = state
        .tokens()
        .create(account_id, &name, scope)
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

/// A create body: its name and scope, every invalid field reported. An expiry already past is
/// refused: such a token could never be used.
fn parse(
    body: &serde_json::Map<String, Value>,
    now: jiff::Timestamp,
) -> Result<(String, TokenScope), Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = match body.get("name") {
        Some(Value::String(name))
            if !name.trim().is_empty()
                && name.chars().count() <= MAX_NAME_CHARS
                && !name.chars().any(char::is_control) =>
        {
            Some(name.trim().to_owned())
        }
        // Control characters would reach terminals and logs as escape sequences.
        _ => {
            errors.push(FieldError {
                field: "name".into(),
                message: "required, 1-128 characters, no control characters".into(),
            });
            None
        }
    };
    let scope = match TokenScope::parse(body) {
        Ok(scope) if scope.expired(now) => {
            errors.push(FieldError {
                field: "expires_at".into(),
                message: "must be in the future".into(),
            });
            None
        }
        Ok(scope) => Some(scope),
        Err(found) => {
            errors.extend(found);
            None
        }
    };
    match (name, scope) {
        (Some(name), Some(scope)) if errors.is_empty() => Ok((name, scope)),
        _ => Err(errors),
    }
}
