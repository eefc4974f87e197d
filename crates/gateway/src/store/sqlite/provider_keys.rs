//! Stored provider keys in SQLite (docs/keys.md): sealed secrets only.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, to_text};
use crate::store::changed_one;
use crate::store::{KeyStatus, ProviderKeyStore, SealedSecret, StoreResult, StoredProviderKey};

pub(in crate::store) const COLUMNS: &str = "id, account_id, gateway_id, alias, provider_slug, default_config, \
     secret_id, secret_preview, kek_id, wrapped_key, ciphertext, rate_limit, rate_limit_period, \
     status, created_at, modified_at, last_used_at";

pub(in crate::store) fn key_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredProviderKey> {
    let status: String = row.get(13)?;
    let created: String = row.get(14)?;
    let modified: String = row.get(15)?;
    let last_used: Option<String> = row.get(16)?;
    let limit = |column: usize| -> rusqlite::Result<Option<u32>> {
        let value: Option<i64> = row.get(column)?;
        value
            .map(|v| u32::try_from(v).map_err(to_text(column)))
            .transpose()
    };
    Ok(StoredProviderKey {
        id: row.get(0)?,
        account_id: row.get(1)?,
        gateway_id: row.get(2)?,
        alias: row.get(3)?,
        provider_slug: row.get(4)?,
        default_config: row.get(5)?,
        secret_id: row.get(6)?,
        secret_preview: row.get(7)?,
        sealed: SealedSecret {
            kek_id: row.get(8)?,
            wrapped_key: row.get(9)?,
            ciphertext: row.get(10)?,
        },
        rate_limit: limit(11)?,
        rate_limit_period: limit(12)?,
        status: KeyStatus::parse(&status).ok_or_else(|| to_text(13)(status))?,
        created_at: created.parse().map_err(to_text(14))?,
        modified_at: modified.parse().map_err(to_text(15))?,
        last_used_at: last_used
            .map(|t| t.parse().map_err(to_text(16)))
            .transpose()?,
    })
}

#[async_trait]
impl ProviderKeyStore for SqliteStore {
    async fn list_provider_keys(&self) -> StoreResult<Vec<StoredProviderKey>> {
        self.with_read(|c| {
            let mut statement = c.prepare(&format!(
                "SELECT {COLUMNS} FROM provider_keys ORDER BY account_id, gateway_id, created_at, id"
            ))?;
            statement
                .query_map([], key_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn insert_provider_key(&self, key: &StoredProviderKey) -> StoreResult<()> {
        let key = key.clone();
        self.with(move |c| {
            super::require_gateway(c, &key.account_id, &key.gateway_id)?;
            c.execute(
                &format!(
                    "INSERT INTO provider_keys ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                             ?16, ?17)"
                ),
                params![
                    key.id,
                    key.account_id,
                    key.gateway_id,
                    key.alias,
                    key.provider_slug,
                    key.default_config,
                    key.secret_id,
                    key.secret_preview,
                    key.sealed.kek_id,
                    key.sealed.wrapped_key,
                    key.sealed.ciphertext,
                    key.rate_limit,
                    key.rate_limit_period,
                    key.status.as_str(),
                    key.created_at.to_string(),
                    key.modified_at.to_string(),
                    key.last_used_at.map(|t| t.to_string()),
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn update_provider_key(
        &self,
        key: &StoredProviderKey,
        with_secret: bool,
    ) -> StoreResult<()> {
        let key = key.clone();
        let changed = self
            .with(move |c| {
                let transaction = c.transaction()?;
                let changed = transaction.execute(
                    "UPDATE provider_keys SET alias = ?4, provider_slug = ?5, default_config = ?6,
                         rate_limit = ?7, rate_limit_period = ?8, status = ?9, modified_at = ?10
                     WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
                    params![
                        key.account_id,
                        key.gateway_id,
                        key.id,
                        key.alias,
                        key.provider_slug,
                        key.default_config,
                        key.rate_limit,
                        key.rate_limit_period,
                        key.status.as_str(),
                        key.modified_at.to_string(),
                    ],
                )?;
                if with_secret && changed > 0 {
                    transaction.execute(
                        "UPDATE provider_keys SET secret_id = ?2, secret_preview = ?3,
                             kek_id = ?4, wrapped_key = ?5, ciphertext = ?6
                         WHERE id = ?1",
                        params![
                            key.id,
                            key.secret_id,
                            key.secret_preview,
                            key.sealed.kek_id,
                            key.sealed.wrapped_key,
                            key.sealed.ciphertext,
                        ],
                    )?;
                }
                transaction.commit()?;
                Ok(changed)
            })
            .await?;
        changed_one(changed)
    }

    async fn delete_provider_key(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<()> {
        let (account_id, gateway_id, id) =
            (account_id.to_owned(), gateway_id.to_owned(), id.to_owned());
        let changed = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM provider_keys WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
                    params![account_id, gateway_id, id],
                )
            })
            .await?;
        changed_one(changed)
    }

    async fn set_provider_key_status(
        &self,
        id: &str,
        secret_id: &str,
        status: KeyStatus,
    ) -> StoreResult<bool> {
        let (id, secret_id) = (id.to_owned(), secret_id.to_owned());
        let changed = self
            .with(move |c| {
                c.execute(
                    "UPDATE provider_keys SET status = ?3
                     WHERE id = ?1 AND secret_id = ?2 AND status <> ?3",
                    params![id, secret_id, status.as_str()],
                )
            })
            .await?;
        Ok(changed > 0)
    }

    async fn rewrap_provider_key(
        &self,
        id: &str,
        old: &SealedSecret,
        new: &SealedSecret,
    ) -> StoreResult<bool> {
        let (id, old, new) = (id.to_owned(), old.clone(), new.clone());
        let changed = self
            .with(move |c| {
                c.execute(
                    "UPDATE provider_keys SET kek_id = ?4, wrapped_key = ?5
                     WHERE id = ?1 AND kek_id = ?2 AND wrapped_key = ?3",
                    params![id, old.kek_id, old.wrapped_key, new.kek_id, new.wrapped_key],
                )
            })
            .await?;
        Ok(changed > 0)
    }

    async fn touch_provider_key(&self, id: &str, at: jiff::Timestamp) -> StoreResult<()> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE provider_keys SET last_used_at = ?2 WHERE id = ?1",
                params![id, at.to_string()],
            )
            .map(drop)
        })
        .await
    }
}
