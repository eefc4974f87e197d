//! Storage behind small traits (docs/deployment.md). SQLite under `data_dir` is the default; PostgreSQL
//! (`postgres/`) implements the same traits for instances that share one database.

#[cfg(test)]
mod conformance;
pub mod custom_providers;
pub mod dlp_profiles;
pub mod documents;
pub mod logs;
pub mod mcp_servers;
pub mod policies;
pub mod postgres;
pub mod provider_keys;
pub mod routes;
pub(crate) mod sql;
pub mod sqlite;
pub mod transfer;

use std::sync::Arc;

use async_trait::async_trait;

use crate::auth::TokenScope;
use crate::gateways::Gateway;
pub use custom_providers::{CustomProviderStore, StoredCustomProvider};
pub use dlp_profiles::{DlpProfileStore, StoredDlpProfile};
pub use documents::{DocumentKind, DocumentStore, StoredDocument};
pub use mcp_servers::{McpServerStore, StoredMcpServer};
pub use policies::{PolicyStore, StoredPolicy};
pub use provider_keys::{KeyStatus, ProviderKeyStore, SealedSecret, StoredProviderKey};
pub use routes::{DeployedRoute, RouteStore, StoredDeployment, StoredRoute, StoredRouteVersion};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An update or delete that changed no row found nothing to change.
pub(crate) fn changed_one<N: Default + PartialEq>(changed: N) -> StoreResult<()> {
    if changed == N::default() {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A run token as stored: only the SHA-256 of the token, never the token.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredToken {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub token_sha256: [u8; 32],
    pub created_at: jiff::Timestamp,
    /// What the token opens (docs/budgets.md); shared with the requests it admits.
    pub scope: Arc<TokenScope>,
}

#[async_trait]
pub trait GatewayStore: Send + Sync {
    /// Every gateway of every account (the registry keeps them all in memory).
    async fn list_gateways(&self) -> StoreResult<Vec<Gateway>>;
    /// Fails with [`StoreError::Conflict`] if the account already has that id.
    async fn insert_gateway(&self, gateway: &Gateway) -> StoreResult<()>;
    async fn update_gateway(&self, gateway: &Gateway) -> StoreResult<()>;
    async fn delete_gateway(&self, account_id: &str, id: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn list_tokens(&self) -> StoreResult<Vec<StoredToken>>;
    async fn insert_token(&self, token: &StoredToken) -> StoreResult<()>;
    async fn delete_token(&self, account_id: &str, id: &str) -> StoreResult<()>;
}

/// Small named values the gateway keeps for itself (the admin token's hash).
#[async_trait]
pub trait SettingStore: Send + Sync {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` unless `key` already has one, and returns the value `key` has afterwards:
    /// of instances racing to set it on a shared store, the first wins and all see its value.
    async fn insert_setting(&self, key: &str, value: &str) -> StoreResult<String>;
}

/// Everything the gateway stores, as one object.
#[async_trait]
pub trait Store:
    GatewayStore
    + TokenStore
    + SettingStore
    + ProviderKeyStore
    + DocumentStore
    + RouteStore
    + PolicyStore
    + DlpProfileStore
    + CustomProviderStore
    + McpServerStore
    + logs::LogStore
    + logs::AnalyticsStore
{
    /// Cheap liveness check for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
}
