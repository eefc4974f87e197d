//! Custom DLP profiles as the store keeps them (docs/dlp.md, "Custom profiles"): one row per
//! profile of an account, its definition as the JSON text of Cloudflare One's profile shape
//! (validated before it is written), and a version bumped on every update so each instance
//! compiles a profile once per version.

use async_trait::async_trait;

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDlpProfile {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// `{name, description, entries: [...]}` as JSON text.
    pub body: String,
    /// 1 when created, +1 on every update.
    pub version: i64,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

#[async_trait]
pub trait DlpProfileStore: Send + Sync {
    /// The profiles of an account, oldest first.
    async fn list_dlp_profiles(&self, account_id: &str) -> StoreResult<Vec<StoredDlpProfile>>;
    /// `Conflict` if the id exists.
    async fn insert_dlp_profile(&self, profile: &StoredDlpProfile) -> StoreResult<()>;
    /// Replaces name, body, version and `updated_at` of the account's profile `profile.id`;
    /// `NotFound` if there is none.
    async fn update_dlp_profile(&self, profile: &StoredDlpProfile) -> StoreResult<()>;
    /// `NotFound` if the account has no profile `id`.
    async fn delete_dlp_profile(&self, account_id: &str, id: &str) -> StoreResult<()>;
}
