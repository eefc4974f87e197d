//! Gateways, run tokens and settings in PostgreSQL: the small tables the in-memory registries
//! are loaded from.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt};
use crate::auth::TokenScope;
use crate::gateways::{Gateway, GatewaySettings};
use crate::store::changed_one;
use crate::store::{GatewayStore, SettingStore, StoreError, StoreResult, StoredToken, TokenStore};

fn timestamp(row: &Row, column: &str) -> StoreResult<jiff::Timestamp> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(corrupt)
}

fn gateway_from_row(row: &Row) -> StoreResult<Gateway> {
    let settings: serde_json::Value = row.try_get("settings")?;
    Ok(Gateway {
        account_id: row.try_get("account_id")?,
        id: row.try_get("id")?,
        settings: serde_json::from_value::<GatewaySettings>(settings).map_err(corrupt)?,
        created_at: timestamp(row, "created_at")?,
        modified_at: timestamp(row, "modified_at")?,
    })
}

fn settings_json(gateway: &Gateway) -> StoreResult<serde_json::Value> {
    serde_json::to_value(&gateway.settings).map_err(|e| StoreError::Backend(e.to_string()))
}

/// An UPDATE or DELETE of one keyed row: no row is "not found", as in SQLite.
#[async_trait]
impl GatewayStore for PostgresStore {
    async fn list_gateways(&self) -> StoreResult<Vec<Gateway>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT account_id, id, settings, created_at, modified_at FROM gateways",
                    &[],
                )
                .await?;
            let mut gateways = rows
                .iter()
                .map(gateway_from_row)
                .collect::<StoreResult<Vec<_>>>()?;
            // Ordered here, by real time: RFC 3339 text with varying fraction digits does not
            // sort chronologically.
            gateways.sort_by(|a, b| {
                (&a.account_id, a.created_at, &a.id).cmp(&(&b.account_id, b.created_at, &b.id))
            });
            Ok(gateways)
        })
        .await
    }

    async fn insert_gateway(&self, gateway: &Gateway) -> StoreResult<()> {
        let settings = settings_json(gateway)?;
        bounded(OP_TIMEOUT, async {
            self.client()
                .await?
                .execute(
                    "INSERT INTO gateways (account_id, id, settings, created_at, modified_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &gateway.account_id,
                        &gateway.id,
                        &settings,
                        &gateway.created_at.to_string(),
                        &gateway.modified_at.to_string(),
                    ],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn update_gateway(&self, gateway: &Gateway) -> StoreResult<()> {
        let settings = settings_json(gateway)?;
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE gateways SET settings = $3, modified_at = $4
                     WHERE account_id = $1 AND id = $2",
                    &[
                        &gateway.account_id,
                        &gateway.id,
                        &settings,
                        &gateway.modified_at.to_string(),
                    ],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }

    async fn delete_gateway(&self, account_id: &str, id: &str) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "DELETE FROM gateways WHERE account_id = $1 AND id = $2",
                    &[&account_id, &id],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }
}

#[async_trait]
impl TokenStore for PostgresStore {
    async fn list_tokens(&self) -> StoreResult<Vec<StoredToken>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT id, account_id, name, token_sha256, created_at, scope FROM tokens",
                    &[],
                )
                .await?;
            let mut tokens = rows
                .iter()
                .map(|row| {
                    let hash: Vec<u8> = row.try_get("token_sha256")?;
                    let scope: Option<String> = row.try_get("scope")?;
                    Ok(StoredToken {
                        id: row.try_get("id")?,
                        account_id: row.try_get("account_id")?,
                        name: row.try_get("name")?,
                        token_sha256: hash
                            .try_into()
                            .map_err(|_| corrupt("a token hash that is not 32 bytes"))?,
                        created_at: timestamp(row, "created_at")?,
                        scope: Arc::new(
                            TokenScope::from_stored(scope.as_deref()).map_err(corrupt)?,
                        ),
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            tokens.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(tokens)
        })
        .await
    }

    async fn insert_token(&self, token: &StoredToken) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            self.client()
                .await?
                .execute(
                    "INSERT INTO tokens (id, account_id, name, token_sha256, created_at, scope)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &token.id,
                        &token.account_id,
                        &token.name,
                        &token.token_sha256.as_slice(),
                        &token.created_at.to_string(),
                        &token.scope.stored(),
                    ],
                )
                .await?;
            Ok(())
        })
        .await
    }

    async fn delete_token(&self, account_id: &str, id: &str) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "DELETE FROM tokens WHERE account_id = $1 AND id = $2",
                    &[&account_id, &id],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }
}

#[async_trait]
impl SettingStore for PostgresStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        bounded(OP_TIMEOUT, async {
            let row = self
                .client()
                .await?
                .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
                .await?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        })
        .await
    }

    async fn insert_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        bounded(OP_TIMEOUT, async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO NOTHING",
                    &[&key, &value],
                )
                .await?;
            // A statement of its own: its snapshot includes a row a racing instance committed.
            let row = client
                .query_one("SELECT value FROM settings WHERE key = $1", &[&key])
                .await?;
            Ok(row.try_get(0)?)
        })
        .await
    }
}
