//! Stored provider keys in PostgreSQL (docs/keys.md): sealed secrets only. Writes notify the
//! other instances through the triggers of migration 0005.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt};
use crate::store::changed_one;
use crate::store::{KeyStatus, ProviderKeyStore, SealedSecret, StoreResult, StoredProviderKey};

const COLUMNS: &str = "id, account_id, gateway_id, alias, provider_slug, default_config, \
     secret_id, secret_preview, kek_id, wrapped_key, ciphertext, rate_limit, rate_limit_period, \
     status, created_at, modified_at, last_used_at";

fn timestamp(text: &str) -> StoreResult<jiff::Timestamp> {
    text.parse().map_err(corrupt)
}

fn limit(row: &Row, column: &str) -> StoreResult<Option<u32>> {
    let value: Option<i64> = row.try_get(column)?;
    value.map(|v| u32::try_from(v).map_err(corrupt)).transpose()
}

fn key_from_row(row: &Row) -> StoreResult<StoredProviderKey> {
    let status: String = row.try_get("status")?;
    let last_used: Option<String> = row.try_get("last_used_at")?;
    Ok(StoredProviderKey {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        gateway_id: row.try_get("gateway_id")?,
        alias: row.try_get("alias")?,
        provider_slug: row.try_get("provider_slug")?,
        default_config: row.try_get("default_config")?,
        secret_id: row.try_get("secret_id")?,
        secret_preview: row.try_get("secret_preview")?,
        sealed: SealedSecret {
            kek_id: row.try_get("kek_id")?,
            wrapped_key: row.try_get("wrapped_key")?,
            ciphertext: row.try_get("ciphertext")?,
        },
        rate_limit: limit(row, "rate_limit")?,
        rate_limit_period: limit(row, "rate_limit_period")?,
        status: KeyStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        created_at: timestamp(&row.try_get::<_, String>("created_at")?)?,
        modified_at: timestamp(&row.try_get::<_, String>("modified_at")?)?,
        last_used_at: last_used.as_deref().map(timestamp).transpose()?,
    })
}

fn as_i64(value: Option<u32>) -> Option<i64> {
    value.map(i64::from)
}

#[async_trait]
impl ProviderKeyStore for PostgresStore {
    async fn list_provider_keys(&self) -> StoreResult<Vec<StoredProviderKey>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(&format!("SELECT {COLUMNS} FROM provider_keys"), &[])
                .await?;
            let mut keys = rows
                .iter()
                .map(key_from_row)
                .collect::<StoreResult<Vec<_>>>()?;
            // By real time, as the SQLite store's order (RFC 3339 text does not sort by time).
            keys.sort_by(|a, b| {
                (&a.account_id, &a.gateway_id, a.created_at, &a.id).cmp(&(
                    &b.account_id,
                    &b.gateway_id,
                    b.created_at,
                    &b.id,
                ))
            });
            Ok(keys)
        })
        .await
    }

    async fn insert_provider_key(&self, key: &StoredProviderKey) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            // `INSERT … SELECT` from the gateway: no row means no gateway (not a conflict).
            let inserted = client
                .execute(
                    &format!(
                        "INSERT INTO provider_keys ({COLUMNS})
                         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                                $15, $16, $17
                         FROM gateways WHERE account_id = $2 AND id = $3"
                    ),
                    &[
                        &key.id,
                        &key.account_id,
                        &key.gateway_id,
                        &key.alias,
                        &key.provider_slug,
                        &key.default_config,
                        &key.secret_id,
                        &key.secret_preview,
                        &key.sealed.kek_id,
                        &key.sealed.wrapped_key,
                        &key.sealed.ciphertext,
                        &as_i64(key.rate_limit),
                        &as_i64(key.rate_limit_period),
                        &key.status.as_str(),
                        &key.created_at.to_string(),
                        &key.modified_at.to_string(),
                        &key.last_used_at.map(|t| t.to_string()),
                    ],
                )
                .await?;
            changed_one(inserted)
        })
        .await
    }

    async fn update_provider_key(
        &self,
        key: &StoredProviderKey,
        with_secret: bool,
    ) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let mut client = self.client().await?;
            let transaction = client.transaction().await?;
            let changed = transaction
                .execute(
                    "UPDATE provider_keys SET alias = $4, provider_slug = $5,
                         default_config = $6, rate_limit = $7, rate_limit_period = $8,
                         status = $9, modified_at = $10
                     WHERE account_id = $1 AND gateway_id = $2 AND id = $3",
                    &[
                        &key.account_id,
                        &key.gateway_id,
                        &key.id,
                        &key.alias,
                        &key.provider_slug,
                        &key.default_config,
                        &as_i64(key.rate_limit),
                        &as_i64(key.rate_limit_period),
                        &key.status.as_str(),
                        &key.modified_at.to_string(),
                    ],
                )
                .await?;
            if with_secret && changed > 0 {
                transaction
                    .execute(
                        "UPDATE provider_keys SET secret_id = $2, secret_preview = $3,
                             kek_id = $4, wrapped_key = $5, ciphertext = $6
                         WHERE id = $1",
                        &[
                            &key.id,
                            &key.secret_id,
                            &key.secret_preview,
                            &key.sealed.kek_id,
                            &key.sealed.wrapped_key,
                            &key.sealed.ciphertext,
                        ],
                    )
                    .await?;
            }
            transaction.commit().await?;
            changed_one(changed)
        })
        .await
    }

    async fn delete_provider_key(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "DELETE FROM provider_keys WHERE account_id = $1 AND gateway_id = $2 AND id = $3",
                    &[&account_id, &gateway_id, &id],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }

    async fn set_provider_key_status(
        &self,
        id: &str,
        secret_id: &str,
        status: KeyStatus,
    ) -> StoreResult<bool> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE provider_keys SET status = $3
                     WHERE id = $1 AND secret_id = $2 AND status <> $3",
                    &[&id, &secret_id, &status.as_str()],
                )
                .await?;
            Ok(changed > 0)
        })
        .await
    }

    async fn rewrap_provider_key(
        &self,
        id: &str,
        old: &SealedSecret,
        new: &SealedSecret,
    ) -> StoreResult<bool> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE provider_keys SET kek_id = $4, wrapped_key = $5
                     WHERE id = $1 AND kek_id = $2 AND wrapped_key = $3",
                    &[
                        &id,
                        &old.kek_id,
                        &old.wrapped_key,
                        &new.kek_id,
                        &new.wrapped_key,
                    ],
                )
                .await?;
            Ok(changed > 0)
        })
        .await
    }

    async fn touch_provider_key(&self, id: &str, at: jiff::Timestamp) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            self.client()
                .await?
                .execute(
                    "UPDATE provider_keys SET last_used_at = $2 WHERE id = $1",
                    &[&id, &at.to_string()],
                )
                .await?;
            Ok(())
        })
        .await
    }
}
