//! `/accounts/{account}/ai-gateway/evaluation-types` and
//! `/accounts/{account}/ai-gateway/gateways/{gw}/evaluations[/{id}]` (docs/evaluations.md): an
//! evaluation runs its evaluators over its datasets' logs once, when it is made, and keeps the
//! result (a snapshot: later logs do not change it).

use std::collections::HashSet;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::documents::{self, identified};
use super::envelope::{Paging, ok};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, account, datasets, gateways::named_gateway, read_your_writes};
use crate::evaluations::{EVALUATION_TYPES, EvaluationType, Totals};
use crate::gateways::{FieldError, Gateway};
use crate::state::AppState;
use crate::store::logs::LogQuery;
use crate::store::{DocumentKind, StoreError, StoredDocument};

/// Per gateway; evaluations are kept until deleted.
const MAX_EVALUATIONS: usize = 1_000;
const MAX_DATASETS_PER_EVALUATION: usize = 10;
const MAX_NAME_CHARS: usize = 256;

#[derive(Deserialize)]
pub struct TypeListQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

pub async fn list_types(
    ApiPath(account_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TypeListQuery>,
) -> Result<Response, ApiError> {
    account(&account_id)?;
    let paging = Paging::new(query.page, query.per_page);
    Ok(paging.respond(EVALUATION_TYPES.iter().map(|t| t.to_json()).collect()))
}

#[derive(Deserialize)]
pub struct EvaluationListQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    name: Option<String>,
    processed: Option<bool>,
    search: Option<String>,
    order_by: Option<String>,
    order_by_direction: Option<String>,
}

/// What a create body asks for, checked.
struct Request {
    name: String,
    dataset_ids: Vec<String>,
    types: Vec<EvaluationType>,
}

fn parse(body: &Map<String, Value>) -> Result<Request, ApiError> {
    let mut errors = Vec::new();
    let mut fail = |field: &'static str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        });
    };
    let name = match body.get("name") {
        Some(Value::String(name))
            if !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS =>
        {
            name.clone()
        }
        _ => {
            fail(
                "name",
                format!("required, a string of 1-{MAX_NAME_CHARS} characters"),
            );
            String::new()
        }
    };
    let dataset_ids = match ids(body.get("dataset_ids"), MAX_DATASETS_PER_EVALUATION) {
        Ok(ids) => ids,
        Err(message) => {
            fail("dataset_ids", message);
            Vec::new()
        }
    };
    let mut types = Vec::new();
    match ids(body.get("evaluation_type_ids"), EVALUATION_TYPES.len()) {
        Ok(ids) => {
            for id in ids {
                match EvaluationType::find(&id) {
                    Some(found) => types.push(found),
                    None => fail(
                        "evaluation_type_ids",
                        format!(
                            "unknown evaluation type `{id}` (one of {})",
                            EVALUATION_TYPES.map(|t| t.id).join(", ")
                        ),
                    ),
                }
            }
        }
        Err(message) => fail("evaluation_type_ids", message),
    }
    if errors.is_empty() {
        Ok(Request {
            name,
            dataset_ids,
            types,
        })
    } else {
        Err(ApiError::invalid_fields(errors))
    }
}

/// A list of 1 to `max` distinct string ids.
fn ids(value: Option<&Value>, max: usize) -> Result<Vec<String>, String> {
    let problem = || format!("required, a list of 1-{max} distinct ids");
    let Some(Value::Array(items)) = value else {
        return Err(problem());
    };
    let ids: Vec<String> = items
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(problem)?;
    let distinct: HashSet<&String> = ids.iter().collect();
    if ids.is_empty() || ids.len() > max || distinct.len() != ids.len() {
        return Err(problem());
    }
    Ok(ids)
}

fn to_json(document: &StoredDocument) -> Result<Value, ApiError> {
    let object: Map<String, Value> = serde_json::from_str(&document.body).map_err(|_| {
        tracing::error!(id = %document.id, "a stored evaluation does not read back");
        ApiError::internal()
    })?;
    Ok(identified(document, object))
}

async fn stored_evaluations(
    state: &AppState,
    gateway: &Gateway,
) -> Result<Vec<StoredDocument>, ApiError> {
    Ok(state
        .store()
        .list_documents(&gateway.account_id, &gateway.id, DocumentKind::Evaluation)
        .await?)
}

fn not_found() -> ApiError {
    ApiError::not_found("Evaluation")
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let request = parse(&body)?;
    if stored_evaluations(&state, &gateway).await?.len() >= MAX_EVALUATIONS {
        return Err(ApiError::bad_request(format!(
            "A gateway has at most {MAX_EVALUATIONS} evaluations: delete one first"
        )));
    }
    // The logs written so far are in what the evaluators read.
    read_your_writes(&state).await;
    let mut totals = Totals::default();
    let mut snapshot = Vec::with_capacity(request.dataset_ids.len());
    for id in &request.dataset_ids {
        let document = datasets::find(&state, &gateway, id).await?.ok_or_else(|| {
            ApiError::invalid_fields(vec![FieldError {
                field: "dataset_ids".into(),
                message: format!("no dataset `{id}` in this gateway"),
            }])
        })?;
        let dataset = datasets::stored(&document)?;
        let query = LogQuery {
            filters: datasets::log_filters(&dataset)?,
            page: 1,
            per_page: 1,
            ..LogQuery::default()
        };
        let (_, info) = state
            .store()
            .list_logs(&gateway.account_id, &gateway.id, &query)
            .await?;
        totals.add(&info);
        snapshot.push(datasets::to_json(&document, &dataset));
    }

    let now = state.clock().now();
    let id = uuid::Uuid::now_v7().to_string();
    let results: Vec<Value> = request
        .types
        .iter()
        .map(|evaluator| {
            let outcome = evaluator.evaluate(&totals);
            json!({
                "id": uuid::Uuid::now_v7().to_string(),
                "evaluation_id": id,
                "evaluation_type_id": evaluator.id,
                "result": outcome.result,
                "status": outcome.status,
                "status_description": outcome.status_description,
                "total_logs": outcome.total_logs,
                "created_at": now.to_string(),
                "modified_at": now.to_string(),
            })
        })
        .collect();
    let body = json!({
        "name": request.name,
        "datasets": snapshot,
        "processed": true,
        "total_logs": totals.logs,
        "results": results,
    });
    let document = StoredDocument {
        account_id: gateway.account_id.clone(),
        gateway_id: gateway.id.clone(),
        kind: DocumentKind::Evaluation,
        id,
        body: body.to_string(),
        created_at: now,
        modified_at: now,
    };
    match state.store().insert_document(&document).await {
        Ok(()) => Ok(ok(to_json(&document)?)),
        Err(StoreError::NotFound) => Err(ApiError::gateway_not_found()),
        Err(error) => Err(error.into()),
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<EvaluationListQuery>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let paging = Paging::new(query.page, query.per_page);
    let descending = match query.order_by_direction.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order_by_direction: `{other}` is not asc or desc"
            )));
        }
    };
    let by_name = match query.order_by.as_deref() {
        None | Some("created_at") => false,
        Some("name") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order_by: `{other}` is not created_at or name"
            )));
        }
    };
    let mut matching = Vec::new();
    for document in stored_evaluations(&state, &gateway).await? {
        let object = to_json(&document)?;
        let name = object["name"].as_str().unwrap_or_default().to_owned();
        let keep = query.name.as_deref().is_none_or(|wanted| name == wanted)
            && query
                .processed
                .is_none_or(|wanted| object["processed"] == Value::Bool(wanted))
            && query.search.as_deref().is_none_or(|search| {
                document.id.contains(search) || name.to_lowercase().contains(&search.to_lowercase())
            });
        if keep {
            matching.push((name, object));
        }
    }
    // The store lists oldest first.
    if by_name {
        matching.sort_by(|a, b| a.0.cmp(&b.0));
    }
    if descending {
        matching.reverse();
    }
    Ok(paging.respond(matching.into_iter().map(|(_, object)| object).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let document = documents::find(&state, &gateway, DocumentKind::Evaluation, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ok(to_json(&document)?))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, gateway_id, id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &gateway_id).await?;
    let document = documents::find(&state, &gateway, DocumentKind::Evaluation, &id)
        .await?
        .ok_or_else(not_found)?;
    match state
        .store()
        .delete_document(
            &gateway.account_id,
            &gateway.id,
            DocumentKind::Evaluation,
            &id,
        )
        .await
    {
        Ok(()) => Ok(ok(to_json(&document)?)),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(error) => Err(error.into()),
    }
}
