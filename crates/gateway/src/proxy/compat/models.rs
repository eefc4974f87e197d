//! `GET …/compat/models` (docs/compat.md): the models that can be called through the unified
//! endpoint, in OpenAI's list shape.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::compat::OPENAI_CHAT_PATH;
use crate::state::AppState;

/// `{object: "list", data: [{id: "provider/model", object: "model", created, owned_by}]}`: the
/// priced models (bundled prices and `[pricing]` overrides) of the providers this instance is
/// configured for (a `[providers.<slug>]` section) whose unified-endpoint URL can be built
/// (not Azure, Vertex or Bedrock with placeholders in their base URL; not Workers AI without
/// its account). `created` is when the instance started: neither the price data nor the
/// configuration says when a model appeared.
pub(super) fn list(state: &AppState) -> Response {
    let callable: Vec<&str> = state
        .config()
        .providers
        .keys()
        .map(String::as_str)
        .filter(|slug| {
            state
                .providers()
                .get(slug)
                .is_some_and(|provider| provider.compat_url(OPENAI_CHAT_PATH, None).is_ok())
        })
        .collect();
    let created = state.started_at().as_second();
    let data: Vec<Value> = state
        .prices()
        .known_models()
        .into_iter()
        .filter(|(provider, _)| callable.contains(&provider.as_str()))
        .map(|(provider, model)| {
            json!({"id": format!("{provider}/{model}"), "object": "model", "created": created, "owned_by": provider})
        })
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}
