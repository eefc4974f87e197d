//! Run tokens: created and revoked through the management API, checked on every request to an
//! authenticated gateway from an in-memory copy of their hashes.

use std::sync::Arc;

use arc_swap::ArcSwap;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::{TOKEN_HEX_CHARS, TokenScope, generate_token, hashes_equal, sha256};
use crate::clock::SharedClock;
use crate::store::{Store, StoreResult, StoredToken};

const PREFIX: &str = "tgr_";

/// Whether `value` has a run token's shape (`tgr_` and 48 hex digits); says nothing of whether
/// it is one.
pub fn looks_like_run_token(value: &str) -> bool {
    value.len() == PREFIX.len() + TOKEN_HEX_CHARS && value.starts_with(PREFIX)
}

pub struct TokenRegistry {
    store: Arc<dyn Store>,
    tokens: ArcSwap<Vec<Arc<StoredToken>>>,
    /// Stamps `created_at`.
    clock: SharedClock,
}

/// A token just created: the only moment its text exists outside the client.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub stored: StoredToken,
    pub token: String,
}

impl TokenRegistry {
    pub async fn load(store: Arc<dyn Store>, clock: SharedClock) -> StoreResult<TokenRegistry> {
        let tokens = store.list_tokens().await?;
        Ok(TokenRegistry {
            store,
            tokens: ArcSwap::from_pointee(tokens.into_iter().map(Arc::new).collect()),
            clock,
        })
    }

    /// Re-reads tokens from the store (after a change here or, later, on another instance).
    pub async fn reload(&self) -> StoreResult<()> {
        let tokens = self.store.list_tokens().await?;
        self.tokens
            .store(Arc::new(tokens.into_iter().map(Arc::new).collect()));
        Ok(())
    }

    /// The run token of `account_id` that `presented` is, if it is one, with its scope. Every
    /// token of the account is compared in constant time, and the match is picked without a
    /// branch, so timing says nothing about which one nearly matched.
    pub fn verify(&self, account_id: &str, presented: &str) -> Option<Arc<StoredToken>> {
        let hash = sha256(presented);
        let tokens = self.tokens.load();
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, token) in (0u64..).zip(tokens.iter()) {
            if token.account_id == account_id {
                let equal = token.token_sha256.ct_eq(&hash);
                index = u64::conditional_select(&index, &i, equal);
                found |= equal;
            }
        }
        if !bool::from(found) {
            return None;
        }
        let token = tokens.get(usize::try_from(index).ok()?)?;
        Some(Arc::clone(token))
    }

    /// Whether `value` is a run token of any account: such a value must never leave the
    /// gateway. Values not shaped like a run token are answered without hashing.
    pub fn is_run_token(&self, value: &str) -> bool {
        if !looks_like_run_token(value) {
            return false;
        }
        let hash = sha256(value);
        let mut found = false;
        for token in self.tokens.load().iter() {
            found |= hashes_equal(&token.token_sha256, &hash);
        }
        found
    }

    pub fn list(&self, account_id: &str) -> Vec<StoredToken> {
        self.tokens
            .load()
            .iter()
            .filter(|t| t.account_id == account_id)
            .map(|t| StoredToken::clone(t))
            .collect()
    }

    /// The token `id` of `account_id`.
    pub fn get(&self, account_id: &str, id: &str) -> Option<StoredToken> {
        self.tokens
            .load()
            .iter()
            .find(|t| t.account_id == account_id && t.id == id)
            .map(|t| StoredToken::clone(t))
    }

    pub async fn create(
        &self,
        account_id: &str,
        name: &str,
        scope: TokenScope,
    ) -> anyhow::Result<CreatedToken> {
        let token = generate_token(PREFIX)?;
        let stored = StoredToken {
            id: uuid::Uuid::now_v7().to_string(),
            account_id: account_id.to_owned(),
            name: name.to_owned(),
            token_sha256: sha256(&token),
            created_at: self.clock.now(),
            scope: Arc::new(scope),
        };
        self.store.insert_token(&stored).await?;
        self.reload().await?;
        Ok(CreatedToken { stored, token })
    }

    pub async fn revoke(&self, account_id: &str, id: &str) -> StoreResult<()> {
        self.store.delete_token(account_id, id).await?;
        self.reload().await
    }
}
