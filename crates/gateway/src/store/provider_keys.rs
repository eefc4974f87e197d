//! Stored provider keys (docs/keys.md) as the store sees them: identity, settings and the sealed
//! secret (ciphertext and wrapped data key only; the store never holds a key it could read).

use async_trait::async_trait;

use super::StoreResult;

/// Whether the provider still takes the key: a 401 or 403 from it marks the key `invalid`
/// until it is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Invalid,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Invalid => "invalid",
        }
    }

    pub fn parse(text: &str) -> Option<KeyStatus> {
        match text {
            "active" => Some(KeyStatus::Active),
            "invalid" => Some(KeyStatus::Invalid),
            _ => None,
        }
    }
}

/// A secret as stored: encrypted under its own data key, which is wrapped by the key-encryption
/// key named by `kek_id` (each blob is its 24-byte nonce followed by the AEAD output).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub kek_id: String,
    pub wrapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

/// One provider key of a gateway, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProviderKey {
    pub id: String,
    pub account_id: String,
    pub gateway_id: String,
    pub alias: String,
    pub provider_slug: String,
    pub default_config: bool,
    /// Names the sealed secret; a new secret gets a new id.
    pub secret_id: String,
    /// At most the first and last 4 characters of the secret (docs/keys.md).
    pub secret_preview: String,
    pub sealed: SealedSecret,
    pub rate_limit: Option<u32>,
    pub rate_limit_period: Option<u32>,
    pub status: KeyStatus,
    pub created_at: jiff::Timestamp,
    pub modified_at: jiff::Timestamp,
    pub last_used_at: Option<jiff::Timestamp>,
}

#[async_trait]
pub trait ProviderKeyStore: Send + Sync {
    /// Every provider key of every gateway (the key ring keeps them all in memory).
    async fn list_provider_keys(&self) -> StoreResult<Vec<StoredProviderKey>>;
    /// Fails with `Conflict` if the id exists, `NotFound` if the gateway does not.
    async fn insert_provider_key(&self, key: &StoredProviderKey) -> StoreResult<()>;
    /// Writes the settings, the status and `modified_at`; the sealed secret, its id and preview
    /// only when `with_secret` (so an edit of an alias cannot write back a data key that a
    /// key-encryption-key rotation rewrapped meanwhile).
    async fn update_provider_key(
        &self,
        key: &StoredProviderKey,
        with_secret: bool,
    ) -> StoreResult<()>;
    async fn delete_provider_key(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<()>;
    /// Sets the status of the key if its secret is still `secret_id` (a key edited since the
    /// provider refused it is left alone); true if it was set.
    async fn set_provider_key_status(
        &self,
        id: &str,
        secret_id: &str,
        status: KeyStatus,
    ) -> StoreResult<bool>;
    /// Replaces the wrapped data key if the row still has `old`; true if it was replaced.
    async fn rewrap_provider_key(
        &self,
        id: &str,
        old: &SealedSecret,
        new: &SealedSecret,
    ) -> StoreResult<bool>;
    /// Records when the key was last used (written now and then, not on every request).
    async fn touch_provider_key(&self, id: &str, at: jiff::Timestamp) -> StoreResult<()>;
}
