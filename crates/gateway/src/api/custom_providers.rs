//! `/accounts/{account}/ai-gateway/custom-providers[/{id}]` (docs/configuration.md, "Custom
//! providers through the API"): an account's own providers in Cloudflare's shape. Reads answer
//! from the store; every change is written to the store, then put in this instance's registry
//! at once (other instances follow the shared store's change feed).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::envelope::{Paging, ok};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, account};
use crate::providers::custom::{self, Refusal};
use crate::state::AppState;
use crate::store::{StoreError, StoredCustomProvider};

/// Per account: each is a row every instance keeps in memory.
const MAX_PER_ACCOUNT: usize = 1000;

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    enable: Option<bool>,
    beta: Option<bool>,
    search: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::not_found("Custom Provider")
}

fn slug_taken() -> ApiError {
    ApiError::with_code(
        StatusCode::CONFLICT,
        1003,
        "slug",
        "A custom provider with this slug already exists",
    )
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::Invalid(errors) => ApiError::invalid_fields(errors),
            Refusal::NotHttps => ApiError::with_code(
                StatusCode::BAD_REQUEST,
                1002,
                "base_url",
                "base_url must be a valid HTTPS URL starting with https://",
            ),
            Refusal::Reserved(message) => {
                ApiError::with_code(StatusCode::CONFLICT, 1003, "slug", message)
            }
        }
    }
}

/// The account's providers, in list order: by `position` (those with one first), then name.
async fn of_account(
    state: &AppState,
    account_id: &str,
) -> Result<Vec<StoredCustomProvider>, ApiError> {
    let mut providers: Vec<StoredCustomProvider> = state
        .store()
        .list_custom_providers()
        .await?
        .into_iter()
        .filter(|p| p.account_id == account_id)
        .collect();
    providers.sort_by(|a, b| {
        (a.position.is_none(), a.position, &a.name, &a.id).cmp(&(
            b.position.is_none(),
            b.position,
            &b.name,
            &b.id,
        ))
    });
    Ok(providers)
}

async fn find(
    state: &AppState,
    account_id: &str,
    id: &str,
) -> Result<StoredCustomProvider, ApiError> {
    of_account(state, account_id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(not_found)
}

/// Puts the change in this instance's registry; the store already has it, so a failure here
/// is logged and left to the next reload rather than failing the call.
async fn apply_here(state: &AppState) {
    if let Err(error) = state.reload_custom_providers().await {
        tracing::warn!(%error, "could not reload custom providers after a change");
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let paging = Paging::new(query.page, query.per_page);
    let search = query.search.as_deref().map(str::to_lowercase);
    let matching: Vec<Value> = of_account(&state, account_id)
        .await?
        .iter()
        .filter(|p| query.enable.is_none_or(|enable| p.enable == enable))
        .filter(|p| query.beta.is_none_or(|beta| p.beta == beta))
        .filter(|p| {
            search.as_deref().is_none_or(|search| {
                [&p.id, &p.name, &p.slug]
                    .iter()
                    .any(|field| field.to_lowercase().contains(search))
            })
        })
        .map(custom::to_json)
        .collect();
    Ok(paging.respond(matching))
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let now = state.clock().now();
    let mut provider = StoredCustomProvider {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account_id.to_owned(),
        slug: String::new(),
        name: String::new(),
        base_url: String::new(),
        description: None,
        link: None,
        curl_example: None,
        js_example: None,
        // Cloudflare's defaults.
        enable: false,
        beta: false,
        position: None,
        created_at: now,
        modified_at: now,
    };
    custom::apply(&body, &mut provider, true, state.providers())?;
    if of_account(&state, account_id).await?.len() >= MAX_PER_ACCOUNT {
        return Err(ApiError::bad_request(format!(
            "An account has at most {MAX_PER_ACCOUNT} custom providers: delete one first"
        )));
    }
    match state.store().insert_custom_provider(&provider).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(slug_taken()),
        Err(error) => return Err(error.into()),
    }
    apply_here(&state).await;
    Ok(ok(custom::to_json(&provider)))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    Ok(ok(custom::to_json(&find(&state, account_id, &id).await?)))
}

/// `PATCH`: the fields present replace the provider's.
pub async fn update(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let mut provider = find(&state, account_id, &id).await?;
    custom::apply(&body, &mut provider, false, state.providers())?;
    provider.modified_at = state.clock().now();
    match state.store().update_custom_provider(&provider).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(slug_taken()),
        Err(StoreError::NotFound) => return Err(not_found()),
        Err(error) => return Err(error.into()),
    }
    apply_here(&state).await;
    Ok(ok(custom::to_json(&provider)))
}

/// Answers with the provider as it was; requests naming it fail from now on.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let account_id = account(&account_id)?;
    let provider = find(&state, account_id, &id).await?;
    match state.store().delete_custom_provider(account_id, &id).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(not_found()),
        Err(error) => return Err(error.into()),
    }
    apply_here(&state).await;
    Ok(ok(custom::to_json(&provider)))
}
