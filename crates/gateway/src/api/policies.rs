//! `/accounts/{account}/ai-gateway/gateways/{id}/policies[/{policy}|/commit|/simulate]`:
//! Cloudflare's identity-based policies (docs/budgets.md, "Policies"). Writes without
//! `?commit=true` are staged drafts; `POST …/policies/commit` makes every draft the policy;
//! `simulate` evaluates the committed policies for a request described in its body.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::envelope::ok;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, account};
use crate::budgets::CalendarPeriod;
use crate::gateways::Gateway;
use crate::policies::{Facts, Policy, evaluate};
use crate::state::AppState;
use crate::store::{StoreError, StoredPolicy};

/// Policies per gateway at most: each is evaluated for every request.
pub const MAX_POLICIES: usize = 100;

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

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true")
}

/// A stored version as the API shows it: the policy's fields, its id, its times (Unix
/// seconds, as Cloudflare's) and whether it is a staged draft.
fn view(row: &StoredPolicy, text: &str, staged: bool) -> Value {
    let mut value = serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("id".into(), json!(row.id));
        map.insert("created_at".into(), json!(row.created_at.as_second()));
        map.insert("updated_at".into(), json!(row.updated_at.as_second()));
        map.insert("staged".into(), json!(staged));
    }
    value
}

/// The committed version of a row, else its draft.
fn current(row: &StoredPolicy) -> Value {
    match (&row.committed, &row.draft) {
        (Some(committed), _) => view(row, committed, false),
        (None, Some(draft)) => view(row, draft, true),
        (None, None) => Value::Null,
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let rows = state
        .store()
        .list_policies(&gateway.account_id, &gateway.id)
        .await?;
    let staging = flag(&params, "includeStaging");
    let mut shown = Vec::new();
    for row in &rows {
        if let Some(committed) = &row.committed {
            shown.push(view(row, committed, false));
        }
        if let (true, Some(draft)) = (staging, &row.draft) {
            shown.push(view(row, draft, true));
        }
    }
    Ok(ok(Value::Array(shown)))
}

pub async fn get(
    State(state): State<AppState>,
    ApiPath((account_id, id, policy_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let rows = state
        .store()
        .list_policies(&gateway.account_id, &gateway.id)
        .await?;
    rows.iter()
        .find(|row| row.id == policy_id)
        .map(|row| ok(current(row)))
        .ok_or_else(|| ApiError::not_found("Policy"))
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let policy_id = uuid::Uuid::now_v7().to_string();
    let text = validated(&policy_id, &body)?;
    let rows = state
        .store()
        .list_policies(&gateway.account_id, &gateway.id)
        .await?;
    if rows.len() >= MAX_POLICIES {
        return Err(ApiError::bad_request(format!(
            "a gateway has at most {MAX_POLICIES} policies"
        )));
    }
    let now = state.clock().now();
    let commit = flag(&params, "commit");
    let row = StoredPolicy {
        id: policy_id,
        account_id: gateway.account_id.clone(),
        gateway_id: gateway.id.clone(),
        committed: commit.then(|| text.clone()),
        draft: (!commit).then_some(text),
        created_at: now,
        updated_at: now,
    };
    state.store().put_policy(&row).await?;
    state.policies().forget(&gateway.account_id, &gateway.id);
    Ok(ok(current(&row)))
}

pub async fn update(
    State(state): State<AppState>,
    ApiPath((account_id, id, policy_id)): ApiPath<(String, String, String)>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let text = validated(&policy_id, &body)?;
    let rows = state
        .store()
        .list_policies(&gateway.account_id, &gateway.id)
        .await?;
    let Some(existing) = rows.into_iter().find(|row| row.id == policy_id) else {
        return Err(ApiError::not_found("Policy"));
    };
    let mut row = existing;
    if flag(&params, "commit") {
        row.committed = Some(text);
        row.draft = None;
    } else {
        row.draft = Some(text);
    }
    row.updated_at = state.clock().now();
    state.store().put_policy(&row).await?;
    state.policies().forget(&gateway.account_id, &gateway.id);
    Ok(ok(current(&row)))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath((account_id, id, policy_id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    match state
        .store()
        .delete_policy(&gateway.account_id, &gateway.id, &policy_id)
        .await
    {
        Ok(()) => {
            state.policies().forget(&gateway.account_id, &gateway.id);
            Ok(ok(json!({"id": policy_id})))
        }
        Err(StoreError::NotFound) => Err(ApiError::not_found("Policy")),
        Err(error) => Err(error.into()),
    }
}

/// Every draft of the gateway becomes its policy: `{committed, failed, policies}`.
pub async fn commit(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let committed = state
        .store()
        .commit_policies(&gateway.account_id, &gateway.id, state.clock().now())
        .await?;
    state.policies().forget(&gateway.account_id, &gateway.id);
    let rows = state
        .store()
        .list_policies(&gateway.account_id, &gateway.id)
        .await?;
    let policies: Vec<Value> = rows
        .iter()
        .filter_map(|row| row.committed.as_ref().map(|text| view(row, text, false)))
        .collect();
    // Drafts were validated when written, so none can fail here.
    Ok(ok(
        json!({"committed": committed, "failed": 0, "policies": policies}),
    ))
}

/// `{identity?: {metadata?: {...}}, model, provider, bucketUsage?: {bucket: USD}}` →
/// Cloudflare's `{evaluation, enforcement, policiesEvaluated}` for the committed policies.
/// A bucket's usage counts for each of its periods.
pub async fn simulate(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let gateway = gateway(&state, &account_id, &id)?;
    let text = |field: &str| -> Result<Option<String>, ApiError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) if !value.is_empty() => Ok(Some(value.clone())),
            Some(_) => Err(ApiError::bad_request(format!(
                "{field}: must be a non-empty string"
            ))),
        }
    };
    let model = text("model")?;
    let provider = text("provider")?
        .ok_or_else(|| ApiError::bad_request("provider: required, e.g. \"openai\""))?;
    let metadata = match body.get("identity").and_then(|i| i.get("metadata")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(object)) => crate::proxy::validate_metadata(object.clone())
            .map_err(|why| ApiError::bad_request(format!("identity.metadata: {why}")))?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "identity.metadata: must be a flat object",
            ));
        }
    };
    let usage: HashMap<String, f64> = match body.get("bucketUsage") {
        None | Some(Value::Null) => HashMap::new(),
        Some(Value::Object(object)) => object
            .iter()
            .map(|(bucket, spent)| match spent.as_f64() {
                Some(spent) if spent.is_finite() && spent >= 0.0 => Ok((bucket.clone(), spent)),
                _ => Err(ApiError::bad_request(format!(
                    "bucketUsage: {bucket:?} must be USD of 0 or more"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bucketUsage: must be an object of bucket → USD",
            ));
        }
    };
    let policies = committed(&state, &gateway).await?;
    let facts = Facts {
        metadata: &metadata,
        model: model.as_deref(),
        provider: &provider,
    };
    let evaluation = evaluate(&policies, &facts);
    let enforcement = evaluation
        .enforce(|bucket: &str, _: CalendarPeriod| usage.get(bucket).copied().unwrap_or(0.0));
    Ok(ok(evaluation.simulated(&enforcement)))
}

/// The gateway's committed policies, compiled, read from the store.
async fn committed(state: &AppState, gateway: &Gateway) -> Result<Vec<Policy>, ApiError> {
    let rows = state
        .store()
        .list_policies(&gateway.account_id, &gateway.id)
        .await?;
    Ok(crate::policies::compile(&rows))
}

/// The body as a policy: every invalid field is a 400 naming it (a CEL syntax error too);
/// the JSON text stored is the policy as it reads back.
fn validated(policy_id: &str, body: &Map<String, Value>) -> Result<String, ApiError> {
    let policy = Policy::parse(policy_id, body).map_err(ApiError::invalid_fields)?;
    Ok(policy.to_json().to_string())
}
