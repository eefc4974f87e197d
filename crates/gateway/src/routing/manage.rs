//! Changes to routes (the management API's `…/gateways/{gw}/routes`, docs/routing.md): each
//! writes the store, then reloads the in-memory routes, one change at a time. Also the objects
//! the API answers with, in the shapes of Cloudflare's API and its `cloudflare` SDK.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::graph;
use super::registry::{Deployed, Routes};
use crate::gateways::{FieldError, Gateway};
use crate::providers::AccountProviders;
use crate::store::{StoreError, StoredDeployment, StoredRoute, StoredRouteVersion};

/// Characters of a route name (it is written in `model: "dynamic/{name}"`).
pub const MAX_NAME_CHARS: usize = 64;
/// Characters of a version's or deployment's comment.
pub const MAX_COMMENT_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("invalid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    /// What was not found: `Route`, `Version`.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> RouteError {
    RouteError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

fn name_of(body: &Map<String, Value>) -> Result<String, RouteError> {
    match body.get("name").and_then(Value::as_str) {
        Some(name)
            if !name.is_empty()
                && name.chars().count() <= MAX_NAME_CHARS
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            Ok(name.to_owned())
        }
        _ => Err(invalid(
            "name",
            format!(
                "expected 1 to {MAX_NAME_CHARS} letters, digits, '-', '_' or '.' (it is written \
                 in model: \"dynamic/<name>\")"
            ),
        )),
    }
}

fn comment_of(body: &Map<String, Value>) -> Result<Option<String>, RouteError> {
    match body.get("comment") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() <= MAX_COMMENT_CHARS => {
            Ok(Some(text.clone()))
        }
        Some(_) => Err(invalid(
            "comment",
            format!("expected a string of at most {MAX_COMMENT_CHARS} characters"),
        )),
    }
}

/// The body's `elements`, checked; as stored (JSON text).
fn elements_of(
    body: &Map<String, Value>,
    providers: &AccountProviders<'_>,
) -> Result<String, RouteError> {
    let elements = body.get("elements").unwrap_or(&Value::Null);
    graph::parse(elements, &|slug| providers.get(slug).is_some()).map_err(RouteError::Invalid)?;
    Ok(elements.to_string())
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl Routes {
    fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    fn route(&self, gateway: &Gateway, id: &str) -> Result<Arc<Deployed>, RouteError> {
        self.by_id(&gateway.account_id, &gateway.id, id)
            .ok_or(RouteError::NotFound("Route"))
    }

    /// A new route with its first version, deployed at once.
    pub async fn create(
        &self,
        gateway: &Gateway,
        providers: &AccountProviders<'_>,
        body: &Map<String, Value>,
    ) -> Result<Value, RouteError> {
        let name = name_of(body);
        let elements = elements_of(body, providers);
        let (name, elements) = match (name, elements) {
            (Ok(name), Ok(elements)) => (name, elements),
            (Err(RouteError::Invalid(mut a)), Err(RouteError::Invalid(b))) => {
                a.extend(b);
                return Err(RouteError::Invalid(a));
            }
            (Err(error), _) | (_, Err(error)) => return Err(error),
        };
        let _one = self.changes.lock().await;
        let now = self.now();
        let route = StoredRoute {
            id: new_id(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            name: name.clone(),
            created_at: now,
            modified_at: now,
        };
        let version = StoredRouteVersion {
            id: new_id(),
            route_id: route.id.clone(),
            elements,
            comment: comment_of(body)?,
            created_at: now,
        };
        let deployment = StoredDeployment {
            id: new_id(),
            route_id: route.id.clone(),
            version_id: version.id.clone(),
            comment: None,
            created_at: now,
        };
        match self.store.insert_route(&route, &version, &deployment).await {
            Err(StoreError::Conflict) => {
                return Err(RouteError::Conflict(format!(
                    "Gateway {:?} already has a route named {name:?}",
                    gateway.id
                )));
            }
            other => other?,
        }
        self.reload().await?;
        Ok(self.route(gateway, &route.id)?.to_json())
    }

    /// Renames a route (`{name}`); its versions and deployment stay.
    pub async fn rename(
        &self,
        gateway: &Gateway,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, RouteError> {
        let name = name_of(body)?;
        let _one = self.changes.lock().await;
        self.route(gateway, id)?;
        match self
            .store
            .rename_route(&gateway.account_id, &gateway.id, id, &name, self.now())
            .await
        {
            Err(StoreError::Conflict) => {
                return Err(RouteError::Conflict(format!(
                    "Gateway {:?} already has a route named {name:?}",
                    gateway.id
                )));
            }
            Err(StoreError::NotFound) => return Err(RouteError::NotFound("Route")),
            other => other?,
        }
        self.reload().await?;
        Ok(self.route(gateway, id)?.to_json())
    }

    /// Deletes a route with its versions and deployments; answers with the route as it was.
    pub async fn delete(&self, gateway: &Gateway, id: &str) -> Result<Value, RouteError> {
        let _one = self.changes.lock().await;
        let route = self.route(gateway, id)?;
        match self
            .store
            .delete_route(&gateway.account_id, &gateway.id, id)
            .await
        {
            Err(StoreError::NotFound) => return Err(RouteError::NotFound("Route")),
            other => other?,
        }
        self.reload().await?;
        Ok(route.summary_json())
    }

    /// A new version (not deployed): `{elements, comment?}`.
    pub async fn add_version(
        &self,
        gateway: &Gateway,
        providers: &AccountProviders<'_>,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, RouteError> {
        let route = self.route(gateway, id)?;
        let version = StoredRouteVersion {
            id: new_id(),
            route_id: id.to_owned(),
            elements: elements_of(body, providers)?,
            comment: comment_of(body)?,
            created_at: self.now(),
        };
        match self.store.insert_route_version(&version).await {
            Err(StoreError::NotFound) => return Err(RouteError::NotFound("Route")),
            other => other?,
        }
        let mut answer = route.summary_json();
        answer["elements"] = serde_json::from_str(&version.elements).unwrap_or(Value::Null);
        answer["version_id"] = json!(version.id);
        answer["version"] = version_json(&version, false);
        Ok(answer)
    }

    /// A route's versions, oldest first.
    pub async fn versions(&self, gateway: &Gateway, id: &str) -> Result<Vec<Value>, RouteError> {
        let route = self.route(gateway, id)?;
        let live = &route.row.version.id;
        Ok(self
            .store
            .list_route_versions(id)
            .await?
            .iter()
            .map(|version| version_json(version, &version.id == live))
            .collect())
    }

    /// One version, with the route's identity.
    pub async fn version(
        &self,
        gateway: &Gateway,
        id: &str,
        version_id: &str,
    ) -> Result<Value, RouteError> {
        let route = self.route(gateway, id)?;
        let version = self
            .store
            .list_route_versions(id)
            .await?
            .into_iter()
            .find(|version| version.id == version_id)
            .ok_or(RouteError::NotFound("Version"))?;
        let mut answer = version_json(&version, version.id == route.row.version.id);
        let stored = &route.row.route;
        answer["id"] = json!(stored.id);
        answer["name"] = json!(stored.name);
        answer["gateway_id"] = json!(stored.gateway_id);
        answer["account_tag"] = json!(stored.account_id);
        answer["modified_at"] = json!(stored.modified_at.to_string());
        answer["elements"] = serde_json::from_str(&version.elements).unwrap_or(Value::Null);
        answer["is_valid"] = json!(true);
        Ok(answer)
    }

    /// Makes a version live (`{version_id, comment?}`): a deployment, or a rollback to an
    /// older version.
    pub async fn deploy(
        &self,
        gateway: &Gateway,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, RouteError> {
        let Some(version_id) = body.get("version_id").and_then(Value::as_str) else {
            return Err(invalid(
                "version_id",
                "expected the id of one of the route's versions",
            ));
        };
        let comment = comment_of(body)?;
        let _one = self.changes.lock().await;
        self.route(gateway, id)?;
        let deployment = StoredDeployment {
            id: new_id(),
            route_id: id.to_owned(),
            version_id: version_id.to_owned(),
            comment,
            created_at: self.now(),
        };
        match self.store.insert_route_deployment(&deployment).await {
            Err(StoreError::NotFound) => return Err(RouteError::NotFound("Version")),
            other => other?,
        }
        self.reload().await?;
        Ok(self.route(gateway, id)?.to_json())
    }

    /// A route's deployments, oldest first (the last is live).
    pub async fn deployments(&self, gateway: &Gateway, id: &str) -> Result<Vec<Value>, RouteError> {
        self.route(gateway, id)?;
        Ok(self
            .store
            .list_route_deployments(id)
            .await?
            .iter()
            .map(deployment_json)
            .collect())
    }
}

fn version_json(version: &StoredRouteVersion, active: bool) -> Value {
    json!({
        "version_id": version.id,
        "active": if active { "true" } else { "false" },
        "created_at": version.created_at.to_string(),
        // Cloudflare's `data` is the version's graph as a JSON string.
        "data": version.elements,
        "comment": version.comment,
    })
}

fn deployment_json(deployment: &StoredDeployment) -> Value {
    json!({
        "deployment_id": deployment.id,
        "version_id": deployment.version_id,
        "created_at": deployment.created_at.to_string(),
        "comment": deployment.comment,
    })
}

impl Deployed {
    /// The route object without its deployment and version (what deletes answer with).
    pub fn summary_json(&self) -> Value {
        let route = &self.row.route;
        json!({
            "id": route.id,
            "account_tag": route.account_id,
            "gateway_id": route.gateway_id,
            "name": route.name,
            "elements": self.elements,
            "created_at": route.created_at.to_string(),
            "modified_at": route.modified_at.to_string(),
        })
    }

    /// The route object: identity, live elements, deployment and version.
    pub fn to_json(&self) -> Value {
        let mut route = self.summary_json();
        route["deployment"] = deployment_json(&self.row.deployment);
        route["version"] = version_json(&self.row.version, true);
        route
    }
}
