//! `/accounts/{account}/ai-gateway/dlp/profiles[/{id}]`: an account's custom DLP profiles
//! (docs/dlp.md, "Custom profiles"), in Cloudflare One's shape. Every write is checked (each
//! pattern compiled with the linear-time engine's bounds; a problem names its entry) and bumps
//! the profile's version; a profile a gateway's `dlp` names cannot be deleted.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::envelope::ok;
use super::extract::{ApiJson, ApiPath};
use super::{ApiError, account};
use crate::dlp::{BUILTIN_IDS, CustomProfile, MAX_CUSTOM_PROFILES};
use crate::state::AppState;
use crate::store::{StoreError, StoredDlpProfile};

/// A stored profile as the API shows it: its definition, id, version and times.
fn view(row: &StoredDlpProfile) -> Value {
    let mut value = serde_json::from_str::<Value>(&row.body).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("id".into(), json!(row.id));
        map.insert("type".into(), json!("custom"));
        map.insert("version".into(), json!(row.version));
        map.insert("created_at".into(), json!(row.created_at.to_string()));
        map.insert("updated_at".into(), json!(row.updated_at.to_string()));
    }
    value
}

fn parse(
    body: &serde_json::Map<String, Value>,
    previous: Option<&CustomProfile>,
) -> Result<CustomProfile, ApiError> {
    CustomProfile::parse(body, previous).map_err(ApiError::bad_request)
}

async fn find(state: &AppState, account_id: &str, id: &str) -> Result<StoredDlpProfile, ApiError> {
    state
        .store()
        .list_dlp_profiles(account_id)
        .await?
        .into_iter()
        .find(|row| row.id == id)
        .ok_or_else(|| ApiError::not_found("DLP profile"))
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let rows = state
        .store()
        .list_dlp_profiles(account(&account_id)?)
        .await?;
    Ok(ok(Value::Array(rows.iter().map(view).collect())))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let row = find(&state, account(&account_id)?, &id).await?;
    Ok(ok(view(&row)))
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let profile = parse(&body, None)?;
    let existing = state.store().list_dlp_profiles(account_id).await?;
    if existing.len() >= MAX_CUSTOM_PROFILES {
        return Err(ApiError::bad_request(format!(
            "an account has at most {MAX_CUSTOM_PROFILES} custom DLP profiles"
        )));
    }
    let now = state.clock().now();
    let row = StoredDlpProfile {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account_id.to_owned(),
        name: profile.name.clone(),
        body: serde_json::to_string(&profile).map_err(|_| ApiError::internal())?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    state.store().insert_dlp_profile(&row).await?;
    state.dlp_profiles().forget(account_id);
    Ok(ok(view(&row)))
}

pub async fn update(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let mut row = find(&state, account_id, &id).await?;
    let previous = serde_json::from_str::<CustomProfile>(&row.body).ok();
    let profile = parse(&body, previous.as_ref())?;
    row.name.clone_from(&profile.name);
    row.body = serde_json::to_string(&profile).map_err(|_| ApiError::internal())?;
    row.version += 1;
    row.updated_at = state.clock().now();
    match state.store().update_dlp_profile(&row).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(ApiError::not_found("DLP profile")),
        Err(error) => return Err(error.into()),
    }
    state.dlp_profiles().forget(account_id);
    Ok(ok(view(&row)))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    // A BLOCK policy whose profile vanished would stop blocking without a word.
    let users: Vec<String> = state
        .gateways()
        .list(account_id)
        .iter()
        .filter(|gateway| {
            gateway
                .settings
                .dlp
                .as_ref()
                .is_some_and(|dlp| dlp.custom_profiles().contains(&id.as_str()))
        })
        .map(|gateway| gateway.id.clone())
        .collect();
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "DLP profile {id} is used by gateway(s) {}: remove it from their dlp first",
            users.join(", ")
        )));
    }
    match state.store().delete_dlp_profile(account_id, &id).await {
        Ok(()) => {
            state.dlp_profiles().forget(account_id);
            Ok(ok(json!({"id": id})))
        }
        Err(StoreError::NotFound) => Err(ApiError::not_found("DLP profile")),
        Err(error) => Err(error.into()),
    }
}

/// Checks that every custom profile a gateway body's `dlp` names exists in the account: a
/// 400 naming the first that does not (the field's own checks run later, with the others).
pub async fn check_gateway_body(
    state: &AppState,
    account_id: &str,
    body: &serde_json::Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(Ok(dlp)) = body
        .get("dlp")
        .filter(|value| !value.is_null())
        .map(crate::dlp::DlpSettings::parse)
    else {
        return Ok(());
    };
    let named = dlp.custom_profiles();
    if named.is_empty() {
        return Ok(());
    }
    let stored = state.store().list_dlp_profiles(account_id).await?;
    match named
        .into_iter()
        .find(|id| !stored.iter().any(|row| row.id == *id))
    {
        Some(missing) => Err(ApiError::bad_request(format!(
            "dlp: profiles: account {account_id:?} has no DLP profile {missing:?} (built in: {}; \
             custom ones are made under /accounts/{account_id}/ai-gateway/dlp/profiles)",
            BUILTIN_IDS.join(", ")
        ))),
        None => Ok(()),
    }
}
