//! `/accounts/{account}/ai-gateway/gateways/{gw}/datasets[/{id}]` (docs/evaluations.md): saved
//! log filters in Cloudflare's shape, read from the store on every call.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::documents::{self, identified};
use super::envelope::{Paging, ok};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, gateways::named_gateway, logs::dataset_filter};
use crate::evaluations::{Dataset, DatasetFilter};
use crate::gateways::Gateway;
use crate::state::AppState;
use crate::store::logs::LogFilter;
use crate::store::{DocumentKind, StoreError, StoredDocument};

/// Per gateway: each is a saved query, and an evaluation runs all it names.
pub(super) const MAX_DATASETS: usize = 100;

#[derive(Deserialize)]
pub struct DatasetListQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    enable: Option<bool>,
    name: Option<String>,
    search: Option<String>,
}

/// A filter's values, checked and typed as the logs API checks its own.
fn log_filter(filter: &DatasetFilter) -> Result<LogFilter, String> {
    dataset_filter(&filter.key, &filter.operator, &filter.values)
        .map_err(|message| message.trim_start_matches("filters: ").to_owned())
}

/// The log query's filters of an accepted dataset.
pub(super) fn log_filters(dataset: &Dataset) -> Result<Vec<LogFilter>, ApiError> {
    dataset
        .filters
        .iter()
        .map(log_filter)
        .collect::<Result<_, _>>()
        .map_err(|why| {
            tracing::error!(%why, "a stored dataset's filter is no longer accepted");
            ApiError::internal()
        })
}

fn parse(body: &Map<String, Value>) -> Result<Dataset, ApiError> {
    Dataset::parse(body, |filter| log_filter(filter).map(drop)).map_err(ApiError::invalid_fields)
}

/// A stored dataset, read back through the same checks it passed when written.
pub(super) fn stored(document: &StoredDocument) -> Result<Dataset, ApiError> {
    serde_json::from_str::<Map<String, Value>>(&document.body)
        .ok()
        .and_then(|body| parse(&body).ok())
        .ok_or_else(|| {
            tracing::error!(id = %document.id, "a stored dataset does not read back");
            ApiError::internal()
        })
}

/// The API's object: the body with its id, owner and times.
pub(super) fn to_json(document: &StoredDocument, dataset: &Dataset) -> Value {
    identified(document, dataset.to_json())
}

pub(super) async fn find(
    state: &AppState,
    gateway: &Gateway,
    id: &str,
) -> Result<Option<StoredDocument>, ApiError> {
    documents::find(state, gateway, DocumentKind::Dataset, id).await
}

fn not_found() -> ApiError {
    ApiError::not_found("Dataset")
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DatasetListQuery>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let paging = Paging::new(query.page, query.per_page);
    let mut matching = Vec::new();
    for document in state
        .store()
        .list_documents(&gateway.account_id, &gateway.id, DocumentKind::Dataset)
        .await?
    {
        let dataset = stored(&document)?;
        let keep = query.enable.is_none_or(|enable| dataset.enable == enable)
            && query
                .name
                .as_deref()
                .is_none_or(|name| dataset.name == name)
            && query.search.as_deref().is_none_or(|search| {
                document.id.contains(search) || dataset.matches_search(search)
            });
        if keep {
            matching.push(to_json(&document, &dataset));
        }
    }
    Ok(paging.respond(matching))
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let dataset = parse(&body)?;
    let existing = state
        .store()
        .list_documents(&gateway.account_id, &gateway.id, DocumentKind::Dataset)
        .await?;
    if existing.len() >= MAX_DATASETS {
        return Err(ApiError::bad_request(format!(
            "A gateway has at most {MAX_DATASETS} datasets: delete one first"
        )));
    }
    let now = state.clock().now();
    let document = StoredDocument {
        account_id: gateway.account_id.clone(),
        gateway_id: gateway.id.clone(),
        kind: DocumentKind::Dataset,
        id: uuid::Uuid::now_v7().to_string(),
        body: Value::Object(dataset.to_json()).to_string(),
        created_at: now,
        modified_at: now,
    };
    match state.store().insert_document(&document).await {
        Ok(()) => Ok(ok(to_json(&document, &dataset))),
        // The gateway went away meanwhile.
        Err(StoreError::NotFound) => Err(ApiError::gateway_not_found()),
        Err(error) => Err(error.into()),
    }
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let document = find(&state, &gateway, &id).await?.ok_or_else(not_found)?;
    Ok(ok(to_json(&document, &stored(&document)?)))
}

/// `PUT`: the whole dataset is replaced (name, enable and filters are all required).
pub async fn update(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let dataset = parse(&body)?;
    let document = find(&state, &gateway, &id).await?.ok_or_else(not_found)?;
    let document = StoredDocument {
        body: Value::Object(dataset.to_json()).to_string(),
        modified_at: state.clock().now(),
        ..document
    };
    match state.store().update_document(&document).await {
        Ok(()) => Ok(ok(to_json(&document, &dataset))),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(error) => Err(error.into()),
    }
}

/// Answers with the dataset as it was. Evaluations made from it keep their own copy.
pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let document = find(&state, &gateway, &id).await?.ok_or_else(not_found)?;
    let dataset = stored(&document)?;
    match state
        .store()
        .delete_document(&gateway.account_id, &gateway.id, DocumentKind::Dataset, &id)
        .await
    {
        Ok(()) => Ok(ok(to_json(&document, &dataset))),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(error) => Err(error.into()),
    }
}
