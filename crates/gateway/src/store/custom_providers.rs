//! Custom providers created through the management API (docs/configuration.md, "Custom
//! providers through the API"): one row per account and slug, every field of Cloudflare's
//! object. The store checks only that a slug is unique in its account; the rest is validated
//! before it is written (`crate::providers::custom`).

use async_trait::async_trait;

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCustomProvider {
    pub id: String,
    pub account_id: String,
    /// Requests name it `custom-{slug}`.
    pub slug: String,
    pub name: String,
    /// `https://…`, without a trailing `/`.
    pub base_url: String,
    pub description: Option<String>,
    pub link: Option<String>,
    pub curl_example: Option<String>,
    pub js_example: Option<String>,
    pub enable: bool,
    pub beta: bool,
    /// Where lists put it (before those without one), then by name.
    pub position: Option<i64>,
    pub created_at: jiff::Timestamp,
    pub modified_at: jiff::Timestamp,
}

#[async_trait]
pub trait CustomProviderStore: Send + Sync {
    /// Every account's custom providers (each instance keeps them all in memory).
    async fn list_custom_providers(&self) -> StoreResult<Vec<StoredCustomProvider>>;
    /// `Conflict` when the account already has the slug (or the id exists).
    async fn insert_custom_provider(&self, provider: &StoredCustomProvider) -> StoreResult<()>;
    /// Replaces every field but the id, account and creation time; `NotFound` when the account
    /// has no such id, `Conflict` when the new slug is another provider's.
    async fn update_custom_provider(&self, provider: &StoredCustomProvider) -> StoreResult<()>;
    /// `NotFound` when the account has no such id.
    async fn delete_custom_provider(&self, account_id: &str, id: &str) -> StoreResult<()>;
}
