//! The embedded store: one SQLite database in WAL mode under `data_dir`.
//!
//! Nothing here is on the proxy's hot path: the registries cache what requests read, and log
//! rows arrive through the shipper. One connection writes (SQLite has one writer at a time
//! anyway), on a thread of its own ([`writer`]), and one reads, so the logs API never waits
//! behind an ingest batch (WAL).

pub(super) mod custom_providers;
pub(super) mod dlp_profiles;
mod documents;
mod logs_ingest;
pub(super) mod logs_query;
pub(super) mod mcp_servers;
mod migrate;
mod pacer;
pub(super) mod policies;
pub(super) mod provider_keys;
mod rollups;
mod routes;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{GatewayStore, SettingStore, Store, StoreError, StoreResult, StoredToken, TokenStore};
use crate::auth::TokenScope;
use crate::gateways::{Gateway, GatewaySettings};

#[derive(Clone)]
pub struct SqliteStore {
    writer: writer::Writer,
    reader: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database and runs pending migrations.
    pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut writer = open_connection(path)?;
        rollups::register_functions(&writer)?;
        migrate::run(&mut writer)?;
        let reader = open_connection(path)?;
        Ok(SqliteStore {
            writer: writer::Writer::start(writer)?,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Runs `work` on the writer connection, on its thread.
    async fn with<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.writer.run(work).await
    }

    /// Runs `work` on the reader connection, off the async threads.
    async fn with_read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        run_blocking(self.reader.clone(), work).await
    }
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(connection)
}

async fn run_blocking<T, F>(connection: Arc<Mutex<Connection>>, work: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let mut guard = connection
            .lock()
            .map_err(|_| StoreError::Backend("connection lock poisoned".into()))?;
        work(&mut guard).map_err(map_error)
    })
    .await
    .map_err(|e| StoreError::Backend(e.to_string()))?
}

pub(super) fn map_error(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict
        }
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        other => StoreError::Backend(other.to_string()),
    }
}

/// Refuses a row of a gateway that does not exist as not found: the foreign key would say
/// "constraint failed", which reads as a conflict.
pub(super) fn require_gateway(
    c: &Connection,
    account_id: &str,
    gateway_id: &str,
) -> rusqlite::Result<()> {
    let found: i64 = c.query_row(
        "SELECT count(*) FROM gateways WHERE account_id = ?1 AND id = ?2",
        rusqlite::params![account_id, gateway_id],
        |row| row.get(0),
    )?;
    if found == 0 {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    }
    Ok(())
}

pub(super) fn to_text<E: std::fmt::Display>(column: usize) -> impl Fn(E) -> rusqlite::Error {
    move |e| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            e.to_string().into(),
        )
    }
}

fn gateway_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Gateway> {
    let settings: String = row.get(2)?;
    let created: String = row.get(3)?;
    let modified: String = row.get(4)?;
    Ok(Gateway {
        account_id: row.get(0)?,
        id: row.get(1)?,
        settings: serde_json::from_str::<GatewaySettings>(&settings).map_err(to_text(2))?,
        created_at: created.parse().map_err(to_text(3))?,
        modified_at: modified.parse().map_err(to_text(4))?,
    })
}

fn settings_json(gateway: &Gateway) -> StoreResult<String> {
    serde_json::to_string(&gateway.settings).map_err(|e| StoreError::Backend(e.to_string()))
}

#[async_trait]
impl GatewayStore for SqliteStore {
    async fn list_gateways(&self) -> StoreResult<Vec<Gateway>> {
        self.with(|c| {
            let mut statement = c.prepare(
                "SELECT account_id, id, settings, created_at, modified_at FROM gateways
                 ORDER BY account_id, created_at, id",
            )?;
            statement
                .query_map([], gateway_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn insert_gateway(&self, gateway: &Gateway) -> StoreResult<()> {
        let settings = settings_json(gateway)?;
        let gateway = gateway.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO gateways (account_id, id, settings, created_at, modified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    gateway.account_id,
                    gateway.id,
                    settings,
                    gateway.created_at.to_string(),
                    gateway.modified_at.to_string()
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn update_gateway(&self, gateway: &Gateway) -> StoreResult<()> {
        let settings = settings_json(gateway)?;
        let gateway = gateway.clone();
        let changed = self
            .with(move |c| {
                c.execute(
                    "UPDATE gateways SET settings = ?3, modified_at = ?4
                     WHERE account_id = ?1 AND id = ?2",
                    params![
                        gateway.account_id,
                        gateway.id,
                        settings,
                        gateway.modified_at.to_string()
                    ],
                )
            })
            .await?;
        if changed == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn delete_gateway(&self, account_id: &str, id: &str) -> StoreResult<()> {
        let (account_id, id) = (account_id.to_owned(), id.to_owned());
        let changed = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM gateways WHERE account_id = ?1 AND id = ?2",
                    params![account_id, id],
                )
            })
            .await?;
        if changed == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn list_tokens(&self) -> StoreResult<Vec<StoredToken>> {
        self.with(|c| {
            let mut statement = c.prepare(
                "SELECT id, account_id, name, token_sha256, created_at, scope FROM tokens
                 ORDER BY created_at, id",
            )?;
            statement
                .query_map([], |row| {
                    let created: String = row.get(4)?;
                    let scope: Option<String> = row.get(5)?;
                    Ok(StoredToken {
                        id: row.get(0)?,
                        account_id: row.get(1)?,
                        name: row.get(2)?,
                        token_sha256: row.get(3)?,
                        created_at: created.parse().map_err(to_text(4))?,
                        scope: Arc::new(
                            TokenScope::from_stored(scope.as_deref()).map_err(to_text(5))?,
                        ),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn insert_token(&self, token: &StoredToken) -> StoreResult<()> {
        let token = token.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO tokens (id, account_id, name, token_sha256, created_at, scope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    token.id,
                    token.account_id,
                    token.name,
                    token.token_sha256.as_slice(),
                    token.created_at.to_string(),
                    token.scope.stored()
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn delete_token(&self, account_id: &str, id: &str) -> StoreResult<()> {
        let (account_id, id) = (account_id.to_owned(), id.to_owned());
        let changed = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM tokens WHERE account_id = ?1 AND id = ?2",
                    params![account_id, id],
                )
            })
            .await?;
        if changed == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SettingStore for SqliteStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.with(move |c| {
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
        })
        .await
    }

    async fn insert_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.with(move |c| {
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO NOTHING",
                params![key, value],
            )?;
            c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                row.get(0)
            })
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
}
