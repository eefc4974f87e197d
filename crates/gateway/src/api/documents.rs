//! What the datasets and evaluations APIs share about a stored document (docs/evaluations.md):
//! finding one of a gateway, and its identity and times on the API's object.

use serde_json::{Map, Value};

use super::ApiError;
use crate::gateways::Gateway;
use crate::state::AppState;
use crate::store::{DocumentKind, StoredDocument};

/// The gateway's document of `kind` named `id`, read from the store.
pub(super) async fn find(
    state: &AppState,
    gateway: &Gateway,
    kind: DocumentKind,
    id: &str,
) -> Result<Option<StoredDocument>, ApiError> {
    Ok(state
        .store()
        .list_documents(&gateway.account_id, &gateway.id, kind)
        .await?
        .into_iter()
        .find(|d| d.id == id))
}

/// `object` with the document's id, owner and times.
pub(super) fn identified(document: &StoredDocument, mut object: Map<String, Value>) -> Value {
    let fields = [
        ("id", document.id.clone()),
        ("account_id", document.account_id.clone()),
        // Cloudflare's name for the owner, which the `cloudflare` SDK 4.x requires.
        ("account_tag", document.account_id.clone()),
        ("gateway_id", document.gateway_id.clone()),
        ("created_at", document.created_at.to_string()),
        ("modified_at", document.modified_at.to_string()),
    ];
    for (name, value) in fields {
        object.insert(name.into(), Value::String(value));
    }
    Value::Object(object)
}
