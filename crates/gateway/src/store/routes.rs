//! Dynamic routes as the store sees them (docs/routing.md): a route per gateway and name, its
//! versions (each an immutable graph, as JSON text) and its deployments, the latest of which
//! names the live version. The store checks nothing of the graph: it is validated before it is
//! saved (`crate::routing`).

use async_trait::async_trait;

use super::StoreResult;

/// A route: its identity and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoute {
    pub id: String,
    pub account_id: String,
    pub gateway_id: String,
    pub name: String,
    pub created_at: jiff::Timestamp,
    pub modified_at: jiff::Timestamp,
}

/// One version of a route's graph; never changed once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRouteVersion {
    pub id: String,
    pub route_id: String,
    /// The `elements` array, as JSON text.
    pub elements: String,
    pub comment: Option<String>,
    pub created_at: jiff::Timestamp,
}

/// A deployment: from `created_at` on (until the next one), `version_id` is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeployment {
    pub id: String,
    pub route_id: String,
    pub version_id: String,
    pub comment: Option<String>,
    pub created_at: jiff::Timestamp,
}

/// A route with its latest deployment and the version that deployment made live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedRoute {
    pub route: StoredRoute,
    pub deployment: StoredDeployment,
    pub version: StoredRouteVersion,
}

#[async_trait]
pub trait RouteStore: Send + Sync {
    /// Every route of every gateway with what is live (the routing registry keeps them all in
    /// memory), ordered by account, gateway and name.
    async fn list_deployed_routes(&self) -> StoreResult<Vec<DeployedRoute>>;
    /// A new route with its first version, deployed, in one transaction. `NotFound` if the
    /// gateway does not exist, `Conflict` if the gateway has a route of that name (or the id
    /// exists).
    async fn insert_route(
        &self,
        route: &StoredRoute,
        version: &StoredRouteVersion,
        deployment: &StoredDeployment,
    ) -> StoreResult<()>;
    /// Renames a route of a gateway; `NotFound`, or `Conflict` if the name is taken.
    async fn rename_route(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
        name: &str,
        modified_at: jiff::Timestamp,
    ) -> StoreResult<()>;
    /// Deletes a route with its versions and deployments; `NotFound` if it does not exist.
    async fn delete_route(&self, account_id: &str, gateway_id: &str, id: &str) -> StoreResult<()>;
    /// A route's versions, oldest first.
    async fn list_route_versions(&self, route_id: &str) -> StoreResult<Vec<StoredRouteVersion>>;
    /// Adds a version (not deployed); `NotFound` if the route does not exist.
    async fn insert_route_version(&self, version: &StoredRouteVersion) -> StoreResult<()>;
    /// Makes a version of the route live; `NotFound` if the route does not exist or the
    /// version is not one of its own.
    async fn insert_route_deployment(&self, deployment: &StoredDeployment) -> StoreResult<()>;
    /// A route's deployments, oldest first (the last is live).
    async fn list_route_deployments(&self, route_id: &str) -> StoreResult<Vec<StoredDeployment>>;
}
