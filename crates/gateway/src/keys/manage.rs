//! Creating, changing, deleting and showing stored keys: what the management API's
//! `provider_configs` routes do (docs/keys.md). Each change seals what it must, writes the store
//! and rebuilds the ring, in a task of its own so a caller that goes away midway cannot leave
//! the two apart.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::body::{self, KeyBody};
use super::crypto::{self, CryptoError, Row};
use super::ring::{DEFAULT_ALIAS, LiveKey};
use super::{Keys, secret};
use crate::gateways::{FieldError, Gateway, Patch};
use crate::providers::{AccountProviders, ProviderRegistry, StoredKeyAuth};
use crate::store::{KeyStatus, StoreError, StoredProviderKey};

/// Why a change to a stored key was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// A request that cannot be done as asked; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("provider key not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
    #[error("could not seal the secret: {0}")]
    Crypto(#[from] CryptoError),
}

impl From<StoreError> for KeyError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => KeyError::NotFound,
            other => KeyError::Store(other),
        }
    }
}

fn field(field: &'static str, message: impl Into<String>) -> KeyError {
    KeyError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// The object the API returns: everything but the secret, of which only the preview.
pub(super) fn to_json(key: &LiveKey) -> Value {
    let row = &key.row;
    let mut object = json!({
        "id": row.id,
        "alias": row.alias,
        "default_config": row.default_config,
        "gateway_id": row.gateway_id,
        "provider_slug": row.provider_slug,
        "secret_id": row.secret_id,
        "secret_preview": row.secret_preview,
        "status": key.status().as_str(),
        "created_at": row.created_at.to_string(),
        "modified_at": row.modified_at.to_string(),
        "last_used_at": key
            .last_used_ms()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_string()),
    });
    if let Value::Object(map) = &mut object {
        if let Some(limit) = row.rate_limit {
            map.insert("rate_limit".into(), json!(limit));
        }
        if let Some(period) = row.rate_limit_period {
            map.insert("rate_limit_period".into(), json!(period));
        }
    }
    object
}

/// One write to the store.
enum Change {
    Insert(StoredProviderKey),
    Update(StoredProviderKey, bool),
    Delete(StoredProviderKey),
}

impl Keys {
    /// The gateway's keys, oldest first.
    pub fn list_json(&self, account_id: &str, gateway_id: &str) -> Vec<Value> {
        self.ring()
            .keys
            .iter()
            .filter(|k| k.row.account_id == account_id && k.row.gateway_id == gateway_id)
            .map(|k| to_json(k))
            .collect()
    }

    pub fn get_json(&self, account_id: &str, gateway_id: &str, id: &str) -> Option<Value> {
        self.ring()
            .get(account_id, gateway_id, id)
            .map(|k| to_json(k))
    }

    pub async fn create(
        self: &Arc<Self>,
        gateway: &Gateway,
        providers: &ProviderRegistry,
        body: &Map<String, Value>,
    ) -> Result<Value, KeyError> {
        let parsed = body::parse(body).map_err(KeyError::Invalid)?;
        if !gateway.settings.authentication {
            return Err(KeyError::Refused(format!(
                "provider keys are used only on gateways with authentication on, since anyone \
                 who can reach gateway {:?} could otherwise spend them: turn its authentication \
                 on first (\"authentication\": true)",
                gateway.id
            )));
        }
        let slug = parsed
            .provider_slug
            .clone()
            .ok_or_else(|| field("provider_slug", "required, e.g. \"openai\""))?;
        // The account's custom providers made through the API take keys too.
        let providers = &providers.for_account(&gateway.account_id);
        check_provider(providers, &slug)?;
        let Some(secret) = &parsed.secret else {
            return Err(field("secret", "required: the provider's API key"));
        };
        let secret_preview = check_secret(providers, &slug, secret.expose())?;
        let now = self.clock.now();
        let (rate_limit, rate_limit_period) = limits(&parsed, None, None)?;
        let id = uuid::Uuid::now_v7().to_string();
        let sealed = self.seal(gateway, &id, secret.expose()).await?;
        let row = StoredProviderKey {
            id: id.clone(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            alias: parsed
                .alias
                .clone()
                .unwrap_or_else(|| DEFAULT_ALIAS.to_owned()),
            provider_slug: slug,
            default_config: parsed.default_config.unwrap_or(false),
            secret_id: uuid::Uuid::now_v7().to_string(),
            secret_preview,
            sealed,
            rate_limit,
            rate_limit_period,
            status: KeyStatus::Active,
            created_at: now,
            modified_at: now,
            last_used_at: None,
        };
        self.commit(Change::Insert(row)).await?;
        self.get_json(&gateway.account_id, &gateway.id, &id)
            .ok_or(KeyError::NotFound)
    }

    /// Applies the fields present in `body`. A new secret makes the key active again.
    pub async fn update(
        self: &Arc<Self>,
        gateway: &Gateway,
        providers: &ProviderRegistry,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, KeyError> {
        let parsed = body::parse(body).map_err(KeyError::Invalid)?;
        let providers = &providers.for_account(&gateway.account_id);
        let current = self
            .ring()
            .get(&gateway.account_id, &gateway.id, id)
            .cloned()
            .ok_or(KeyError::NotFound)?;
        let mut row = current.row.clone();
        row.status = current.status();
        if let Some(slug) = &parsed.provider_slug {
            check_provider(providers, slug)?;
            row.provider_slug = slug.clone();
        }
        if let Some(alias) = &parsed.alias {
            row.alias = alias.clone();
        }
        if let Some(default_config) = parsed.default_config {
            row.default_config = default_config;
        }
        (row.rate_limit, row.rate_limit_period) =
            limits(&parsed, row.rate_limit, row.rate_limit_period)?;
        if let Some(status) = parsed.status {
            row.status = status;
        }
        let with_secret = parsed.secret.is_some();
        if let Some(secret) = &parsed.secret {
            row.secret_preview = check_secret(providers, &row.provider_slug, secret.expose())?;
            row.sealed = self.seal(gateway, id, secret.expose()).await?;
            row.secret_id = uuid::Uuid::now_v7().to_string();
            row.status = parsed.status.unwrap_or(KeyStatus::Active);
        } else if parsed.provider_slug.is_some()
            && let Some(secret) = &current.secret
        {
            // The stored secret must suit the new provider too.
            check_secret(providers, &row.provider_slug, secret.expose())?;
        }
        row.modified_at = self.clock.now();
        self.commit(Change::Update(row, with_secret)).await?;
        self.get_json(&gateway.account_id, &gateway.id, id)
            .ok_or(KeyError::NotFound)
    }

    /// Deletes and returns the deleted key.
    pub async fn delete(
        self: &Arc<Self>,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> Result<Value, KeyError> {
        let current = self
            .ring()
            .get(account_id, gateway_id, id)
            .cloned()
            .ok_or(KeyError::NotFound)?;
        let shown = to_json(&current);
        self.commit(Change::Delete(current.row.clone())).await?;
        Ok(shown)
    }

    /// Seals a secret for the row under the current key-encryption key, read again from its
    /// file first, so a secret stored after a rotation is sealed under the new key.
    async fn seal(
        &self,
        gateway: &Gateway,
        id: &str,
        secret: &str,
    ) -> Result<crate::store::SealedSecret, KeyError> {
        self.refresh_keks().await;
        let keks = self.keks.load_full();
        let row = Row {
            account_id: &gateway.account_id,
            gateway_id: &gateway.id,
            id,
        };
        Ok(crypto::seal(keks.current(), row, secret.as_bytes())?)
    }

    async fn commit(self: &Arc<Self>, change: Change) -> Result<(), KeyError> {
        let keys = self.clone();
        let task = self.tasks.spawn(async move {
            let _one = keys.changes.lock().await;
            let written = match &change {
                Change::Insert(row) => keys.store.insert_provider_key(row).await,
                Change::Update(row, with_secret) => {
                    keys.store.update_provider_key(row, *with_secret).await
                }
                Change::Delete(row) => {
                    keys.store
                        .delete_provider_key(&row.account_id, &row.gateway_id, &row.id)
                        .await
                }
            };
            let reloaded = keys.reload().await;
            written?;
            reloaded
        });
        match task.await {
            Ok(result) => result.map_err(KeyError::from),
            Err(error) => Err(KeyError::Store(StoreError::Backend(format!(
                "provider key change task failed: {error}"
            )))),
        }
    }
}

/// A provider the gateway knows, whose keys it can put on requests.
fn check_provider(providers: &AccountProviders<'_>, slug: &str) -> Result<(), KeyError> {
    let provider = providers
        .named(slug)
        .map_err(|error| field("provider_slug", error.message))?;
    if provider.stored_key_auth() == StoredKeyAuth::Unsupported {
        return Err(field(
            "provider_slug",
            format!(
                "{slug} has no credential header for a stored key (docs/keys.md); send its \
                 credentials with each request"
            ),
        ));
    }
    Ok(())
}

/// A secret the provider's kind of key can be (a header value, or AWS credentials); its
/// preview. Messages never quote the secret.
fn check_secret(
    providers: &AccountProviders<'_>,
    slug: &str,
    secret: &str,
) -> Result<String, KeyError> {
    let provider = providers
        .named(slug)
        .map_err(|error| field("provider_slug", error.message))?;
    match provider.stored_key_auth() {
        StoredKeyAuth::ServiceAccount => {
            let account = super::vertex::ServiceAccount::parse(secret)
                .map_err(|why| field("secret", format!("for {slug}, {why}")))?;
            Ok(secret::preview(&account.client_email))
        }
        StoredKeyAuth::SigV4 { .. } => {
            let aws = super::sigv4::AwsKey::parse(secret)
                .map_err(|why| field("secret", format!("for {slug}, {why}")))?;
            Ok(secret::preview(&aws.access_key_id))
        }
        _ if body::is_header_secret(secret) => Ok(secret::preview(secret)),
        _ => Err(field(
            "secret",
            "must be printable ASCII without spaces at either end (what the provider expects \
             in its key header)",
        )),
    }
}

/// The key's rate limit after the body: both set or neither.
fn limits(
    parsed: &KeyBody,
    limit: Option<u32>,
    period: Option<u32>,
) -> Result<(Option<u32>, Option<u32>), KeyError> {
    let apply = |patch: &Patch<u32>, current: Option<u32>| match patch {
        Patch::Absent => current,
        Patch::Null => None,
        Patch::Value(value) => Some(*value),
    };
    let limit = apply(&parsed.rate_limit, limit);
    let period = apply(&parsed.rate_limit_period, period);
    match (limit, period) {
        (Some(_), None) => Err(field(
            "rate_limit_period",
            "required with rate_limit: the window, in seconds, the limit counts requests in",
        )),
        (None, Some(_)) => Err(field(
            "rate_limit",
            "required with rate_limit_period: how many requests the key takes per window",
        )),
        both => Ok(both),
    }
}
