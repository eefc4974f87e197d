//! A gateway's policies as the store keeps them (docs/budgets.md, "Policies"): each row holds
//! the committed policy and a staged draft, both as the JSON text of Cloudflare's policy object
//! (validated before it is written); a draft becomes the policy when the gateway's policies are
//! committed. Removing a gateway removes its policies.

use async_trait::async_trait;

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub id: String,
    pub account_id: String,
    pub gateway_id: String,
    /// The policy in force; `None` while only a draft exists.
    pub committed: Option<String>,
    /// The staged draft, if any.
    pub draft: Option<String>,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// The policies of one gateway, oldest first.
    async fn list_policies(
        &self,
        account_id: &str,
        gateway_id: &str,
    ) -> StoreResult<Vec<StoredPolicy>>;
    /// Inserts the policy, or replaces the one of its id in the same gateway; `NotFound` if
    /// the gateway does not exist.
    async fn put_policy(&self, policy: &StoredPolicy) -> StoreResult<()>;
    /// `NotFound` if the gateway has no policy `id`.
    async fn delete_policy(&self, account_id: &str, gateway_id: &str, id: &str) -> StoreResult<()>;
    /// Makes every draft of the gateway its policy, in one statement; how many there were.
    async fn commit_policies(
        &self,
        account_id: &str,
        gateway_id: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<u64>;
}
