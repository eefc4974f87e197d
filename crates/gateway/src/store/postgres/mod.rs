//! The shared store: PostgreSQL, for any number of gateway instances behind a load balancer
//! (docs/deployment.md), with the same traits and semantics as the SQLite store.
//!
//! Every call takes a pooled connection and is bounded by a timeout, so a slow or unreachable
//! database is an error the caller handles (the log spool absorbs it) rather than a task that
//! hangs. Instances share the database: each ships its own spool under its own checkpoint, and
//! concurrent ingests add to the same rollup rows under row locks. Each instance also holds one
//! connection that listens for changes to gateways and tokens (`listener.rs`).

mod call;
mod connect;
mod custom_providers;
mod dlp_profiles;
mod documents;
mod listener;
pub(in crate::store) mod log_arrays;
mod logs_ingest;
mod logs_query;
mod mcp_servers;
mod migrate;
mod policies;
mod provider_keys;
mod registry;
mod rollups;
mod routes;

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Pool, PoolError};
use serde_json::Value;
use tokio_postgres::error::SqlState;

use self::call::{Lease, bounded};
use self::connect::Connector;
pub use self::listener::ChangeFeed;
use super::{Store, StoreError, StoreResult};
use crate::tasks::Tasks;

/// The longest any ordinary call (a management read or write, a log query) may take.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest an ingest batch may take: up to 8 MiB of records, and row locks it may have to
/// wait for while other instances add to the same rollups.
const INGEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// Opens the change listener's own connection, outside the pool.
    connector: Connector,
}

impl PostgresStore {
    /// Connects (TLS if the URL says `sslmode=require`) and runs pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<PostgresStore> {
        // The URL is not quoted in the error: it may hold a password.
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("storage.url is not a valid PostgreSQL URL: {e}"))?;
        Self::connect_with(config).await
    }

    pub(crate) async fn connect_with(config: tokio_postgres::Config) -> anyhow::Result<Self> {
        let connector = Connector::new(config)?;
        let pool = connector.pool()?;
        migrate::run(&pool).await?;
        Ok(PostgresStore { pool, connector })
    }

    /// Starts listening for changes to gateways and run tokens made through any instance (or
    /// any other client of the database), on `tasks`; the listener stops when the feed is
    /// dropped.
    pub fn change_feed(&self, tasks: &Tasks) -> ChangeFeed {
        listener::start(self.connector.clone(), tasks)
    }

    /// The pool, for a bulk copy into this database (`store::transfer`, `tollgate migrate`).
    pub(in crate::store) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A pooled connection; inside [`bounded`], discarded if the call runs out of time.
    async fn client(&self) -> StoreResult<Lease> {
        call::lease(&self.pool).await
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            return StoreError::Conflict;
        }
        // The server's message says what went wrong; the bare error only says "db error".
        match error.as_db_error() {
            Some(db) => StoreError::Backend(format!("PostgreSQL: {}", db.message())),
            None => StoreError::Backend(format!("PostgreSQL: {error}")),
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            other => StoreError::Backend(format!("PostgreSQL connection pool: {other}")),
        }
    }
}

/// A value the database holds but the gateway cannot represent (never written by it).
fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unexpected value in PostgreSQL: {what}"))
}

/// PostgreSQL text cannot hold NUL, which client-chosen strings (a model name, metadata) may
/// contain: one such record must not fail its batch on every retry. NUL is stored as U+FFFD.
pub(in crate::store) fn pg_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// [`pg_text`] for every key and string of a JSON value (`jsonb` refuses `\u0000` too).
pub(in crate::store) fn pg_json(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(pg_text(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(pg_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (pg_text(&k).into_owned(), pg_json(v)))
                .collect(),
        ),
        other => other,
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            self.client().await?.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
