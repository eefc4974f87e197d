//! Stored provider keys, "bring your own key" (docs/keys.md): provider credentials kept by the
//! gateway, encrypted at rest, and put on requests that carry none of their own.
//!
//! - [`crypto`]: envelope encryption (XChaCha20-Poly1305; a data key per secret, wrapped by the
//!   key-encryption key).
//! - [`kek`]: where the key-encryption key comes from; the key file.
//! - [`ring`]: every key in memory, decrypted once; which key a request gets.
//! - [`sigv4`]: stored AWS credentials, signing each request (Bedrock).
//! - [`vertex`]: stored Google service accounts, access tokens minted and cached (Vertex AI).
//! - [`apply`]: the one call the proxy makes ([`apply_stored_key`]), and what it learns from
//!   the provider's answer ([`used_in`], [`answered`]).
//! - [`manage`]: create, change, delete and show keys (the management API's `provider_configs`).
//! - [`rotate`]: a new key-encryption key, while gateways keep serving.
//!
//! Like gateways, keys live in the store and are mirrored in memory; every change writes the
//! store first and then rebuilds the mirror, and on PostgreSQL every instance rebuilds it when
//! any instance changes a key (the change listener).

mod apply;
mod body;
pub mod crypto;
pub mod kek;
mod manage;
mod ring;
mod rotate;
mod secret;
mod sigv4;
mod vertex;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub use apply::{KeyUse, Outgoing, answered, apply_gateway_key, apply_stored_key, used_in};
pub use crypto::Kek;
pub use kek::KekRing;
pub use manage::KeyError;
pub use ring::DEFAULT_ALIAS;
pub use rotate::{Rotation, rotate_kek};
pub use secret::{SecretText, preview};

use self::ring::Ring;
use crate::clock::SharedClock;
use crate::config::KekSource;
use crate::store::{Store, StoreError, StoredProviderKey};
use crate::tasks::Tasks;

/// The stored keys of every gateway, in memory, and the key-encryption keys that open them.
pub struct Keys {
    store: Arc<dyn Store>,
    source: KekSource,
    keks: ArcSwap<KekRing>,
    ring: ArcSwap<Ring>,
    /// One change at a time, each with its reload.
    changes: tokio::sync::Mutex<()>,
    /// One reload at a time, so an older read never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
    /// Access tokens minted from stored service accounts.
    tokens: vertex::TokenCache,
    clock: SharedClock,
    /// Changes run in tasks of their own (a caller that goes away cannot leave the store and
    /// memory apart), waited for at shutdown.
    tasks: Tasks,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("keys", &self.ring.load().keys.len())
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads the key-encryption keys (making `<data_dir>/secrets.key` at the first start) and
    /// every stored key.
    pub async fn open(
        source: &KekSource,
        store: Arc<dyn Store>,
        clock: SharedClock,
        tasks: Tasks,
    ) -> anyhow::Result<Keys> {
        let from = source.clone();
        let keks = tokio::task::spawn_blocking(move || kek::load(&from)).await??;
        let keys = Keys {
            store,
            source: source.clone(),
            keks: ArcSwap::from_pointee(keks),
            ring: ArcSwap::from_pointee(Ring::default()),
            changes: tokio::sync::Mutex::new(()),
            reloading: tokio::sync::Mutex::new(()),
            tokens: vertex::TokenCache::default(),
            clock,
            tasks,
        };
        keys.reload().await?;
        Ok(keys)
    }

    /// Re-reads every key from the store (after a change here, or one another instance made).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one = self.reloading.lock().await;
        let rows = self.store.list_provider_keys().await?;
        let known = self.keks.load_full();
        let unknown = rows
            .iter()
            .any(|row| known.find(&row.sealed.kek_id).is_none());
        if unknown {
            // A rotation elsewhere: the key file may list the new key by now.
            self.refresh_keks().await;
        }
        let keks = self.keks.load_full();
        let new_keks = keks.all().len() != known.all().len();
        let old = self.ring.load_full();
        let ring = Ring::build(rows, &old, new_keks, |row| open_row(&keks, row));
        self.ring.store(Arc::new(ring));
        Ok(())
    }

    /// Reads the key file again, keeping the keys already loaded; a failure keeps them as
    /// they are (and says why).
    pub(crate) async fn refresh_keks(&self) {
        if kek::file_of(&self.source).is_none() {
            return;
        }
        let source = self.source.clone();
        match tokio::task::spawn_blocking(move || kek::load(&source)).await {
            Ok(Ok(fresh)) => {
                let merged = fresh.merged_with(&self.keks.load());
                self.keks.store(Arc::new(merged));
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not read the key-encryption key file again");
            }
            Err(error) => tracing::warn!(%error, "could not read the key-encryption key file"),
        }
    }

    /// The ring as it is now (a cheap guard, for the request path; not held across awaits).
    fn ring(&self) -> arc_swap::Guard<Arc<Ring>> {
        self.ring.load()
    }

    /// The providers a gateway has a usable stored key for (the unified endpoint lists their
    /// models).
    pub fn keyed_providers(&self, account_id: &str, gateway_id: &str) -> Vec<String> {
        let mut slugs: Vec<String> = self
            .ring()
            .keys
            .iter()
            .filter(|key| {
                key.row.account_id == account_id && key.row.gateway_id == gateway_id && key.usable()
            })
            .map(|key| key.row.provider_slug.clone())
            .collect();
        slugs.sort();
        slugs.dedup();
        slugs
    }

    /// The secret of stored key `id` of a gateway and the id of that secret (a new secret has
    /// a new id), when the key is usable; for credentials sent elsewhere than to a provider
    /// (an upstream MCP server's, docs/mcp.md).
    pub fn secret_of(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> Option<(String, SecretText)> {
        let ring = self.ring();
        let key = ring.get(account_id, gateway_id, id)?;
        let secret = key.secret.clone().filter(|_| key.usable())?;
        Some((key.row.secret_id.clone(), secret))
    }

    /// Whether the gateway has a stored key `id` (usable or not).
    pub fn has_key(&self, account_id: &str, gateway_id: &str, id: &str) -> bool {
        self.ring().get(account_id, gateway_id, id).is_some()
    }

    /// The key-encryption key new secrets are sealed under (as loaded; see `refresh_keks`).
    pub fn current_kek_id(&self) -> String {
        self.keks.load().current().id().to_owned()
    }
}

/// The secret of `row`, if a loaded key-encryption key opens it. A row that does not open is
/// skipped by requests and reported here, without anything of the secret.
fn open_row(keks: &KekRing, row: &StoredProviderKey) -> Option<SecretText> {
    let identity = crypto::Row {
        account_id: &row.account_id,
        gateway_id: &row.gateway_id,
        id: &row.id,
    };
    let Some(kek) = keks.find(&row.sealed.kek_id) else {
        tracing::error!(
            key = %row.id,
            kek = %row.sealed.kek_id,
            "a stored provider key is sealed under a key-encryption key this instance does not \
             have; it is not used (docs/keys.md)"
        );
        return None;
    };
    match crypto::open(kek, identity, &row.sealed) {
        Ok(plain) => SecretText::from_bytes(&plain),
        Err(error) => {
            tracing::error!(key = %row.id, %error, "a stored provider key does not open; it is not used");
            None
        }
    }
}
