//! `GET …/compat/models` (docs/compat.md): the models that can be called through the unified
//! endpoint, in OpenAI's list shape, or in Anthropic's for an Anthropic SDK (which sends
//! `anthropic-version` and asks for `…/compat/v1/models`).

use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};

use crate::compat::OPENAI_CHAT_PATH;
use crate::gateways::Gateway;
use crate::state::AppState;

/// `{object: "list", data: [{id: "provider/model", object: "model", created, owned_by}]}`: the
/// priced models (bundled prices and `[pricing]` overrides) of the providers this instance is
/// configured for (a `[providers.<slug>]` section) or the gateway has a stored key for (on an
/// authenticated gateway, docs/keys.md), whose unified-endpoint URL can be built
/// (not Azure, Vertex or Bedrock with placeholders in their base URL; not Workers AI without
/// its account). `created` is when the instance started: neither the price data nor the
/// configuration says when a model appeared.
pub(super) fn list(state: &AppState, gateway: &Gateway, client_headers: &HeaderMap) -> Response {
    let models = callable_models(state, gateway);
    let created = state.started_at();
    if client_headers.contains_key("anthropic-version") {
        return anthropic_list(&models, created);
    }
    let created = created.as_second();
    let data: Vec<Value> = models
        .iter()
        .map(|(provider, model)| {
            json!({"id": format!("{provider}/{model}"), "object": "model", "created": created, "owned_by": provider})
        })
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

/// `(provider, model)`, sorted.
fn callable_models(state: &AppState, gateway: &Gateway) -> Vec<(String, String)> {
    let keyed = match gateway.settings.authentication {
        true => state
            .keys()
            .keyed_providers(&gateway.account_id, &gateway.id),
        false => Vec::new(),
    };
    let callable: Vec<&str> = state
        .config()
        .providers
        .keys()
        .chain(&keyed)
        .map(String::as_str)
        .filter(|slug| {
            state
                .providers()
                .get(slug)
                .is_some_and(|provider| provider.compat_url(OPENAI_CHAT_PATH, None).is_ok())
        })
        .collect();
    state
        .prices()
        .known_models()
        .into_iter()
        .filter(|(provider, _)| callable.contains(&provider.as_str()))
        .collect()
}

/// Anthropic's list: `{data: [{type: "model", id, display_name, created_at}], has_more,
/// first_id, last_id}`, every model on one page.
fn anthropic_list(models: &[(String, String)], created: jiff::Timestamp) -> Response {
    let created_at = created.to_string();
    let data: Vec<Value> = models
        .iter()
        .map(|(provider, model)| {
            let id = format!("{provider}/{model}");
            json!({"type": "model", "id": id, "display_name": id, "created_at": created_at})
        })
        .collect();
    let first_id = data.first().map_or(Value::Null, |m| m["id"].clone());
    let last_id = data.last().map_or(Value::Null, |m| m["id"].clone());
    axum::Json(json!({"data": data, "has_more": false, "first_id": first_id, "last_id": last_id}))
        .into_response()
}
