//! Copying a stopped SQLite deployment into PostgreSQL (`tollgate migrate`, docs/deployment.md): settings,
//! gateways, run tokens (hashes stay hashes), logs with their bodies, analytics rollups and the
//! spool checkpoint.
//!
//! Rows are copied in batches (a few thousand rows, fewer when bodies are large), one
//! transaction per batch, each `ON CONFLICT DO NOTHING` on its key: an interrupted copy is
//! completed by running it again, and what the target already had is kept. Rollups are sums,
//! so they cannot be copied twice: all of them go in one transaction together with a marker
//! setting naming the source, and a run that finds the marker leaves them alone.
//!
//! The target must be new to this source's data: a database that already holds logs or rollups
//! the source did not put there (a gateway ran on it) is refused unless `force` is set, since
//! the copy would then add to analytics that already count something.

mod by_id;
mod logs;
mod registry;
mod rollups;
mod routes;
mod source;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use deadpool_postgres::Object;

pub use self::source::SqliteSource;
use super::postgres::PostgresStore;
use super::{StoreError, StoreResult};
use crate::clock::{Clock, SystemClock};

/// Rows per batch for tables without bodies, and the most rows of a log batch.
pub const DEFAULT_BATCH_ROWS: usize = 2_000;
/// A log batch stops growing once its stored (compressed) bodies reach this size.
pub const DEFAULT_BATCH_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The longest one batch may take before the copy gives up (it can be run again).
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct TransferOptions {
    pub batch_rows: usize,
    pub batch_body_bytes: usize,
    /// Copy into a database that already holds logs or analytics from elsewhere.
    pub force: bool,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            batch_rows: DEFAULT_BATCH_ROWS,
            batch_body_bytes: DEFAULT_BATCH_BODY_BYTES,
            force: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("cannot read the SQLite database: {0}")]
    Source(String),
    #[error(
        "no instance-id file in {}: pass --data-dir with the gateway's data directory (where its spool and instance-id are)",
        data_dir.display()
    )]
    NoInstanceId { data_dir: PathBuf },
    #[error(
        "the spool in {} holds {bytes} bytes of log records that never reached the database \
         (the gateway is running, or it was killed): stop it, or start it once and stop it \
         with SIGTERM so it ships them, then migrate",
        dir.display()
    )]
    UnshippedSpool { dir: PathBuf, bytes: u64 },
    #[error(
        "{rows} requests are still in flight in the database (the gateway is running, or it \
         was killed): stop it, or start it once and stop it with SIGTERM so they are completed \
         or marked interrupted, then migrate"
    )]
    InFlight { rows: u64 },
    #[error(
        "the PostgreSQL database already holds logs or analytics that were not copied from \
         this deployment: use a new database, or pass --force to add this deployment's data to \
         what is there"
    )]
    TargetInUse,
    #[error("cannot write to PostgreSQL: {0}")]
    Target(#[from] StoreError),
}

impl From<tokio_postgres::Error> for TransferError {
    fn from(error: tokio_postgres::Error) -> Self {
        TransferError::Target(error.into())
    }
}

/// How far the copy of one table has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub table: &'static str,
    /// Source rows handled so far (copied or already in the target).
    pub done: u64,
    pub total: u64,
}

/// What happened to one table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSummary {
    pub table: &'static str,
    pub source_rows: u64,
    pub copied: u64,
    /// Rows the target already had (an earlier run copied them, or they were there before).
    pub skipped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub tables: Vec<TableSummary>,
}

impl Summary {
    pub fn table(&self, name: &str) -> Option<&TableSummary> {
        self.tables.iter().find(|t| t.table == name)
    }
}

/// The settings that record what a source has done to the target, keyed by its instance id.
struct Markers {
    started: String,
    rollups: String,
}

impl Markers {
    fn new(instance_id: &str) -> Markers {
        Markers {
            started: format!("migrate.{instance_id}.started"),
            rollups: format!("migrate.{instance_id}.rollups"),
        }
    }
}

/// One run's shared pieces, handed to each table's copy.
struct Run<'a> {
    source: &'a SqliteSource,
    client: Object,
    options: &'a TransferOptions,
    progress: &'a mut (dyn FnMut(&Progress) + Send),
}

impl Run<'_> {
    fn report(&mut self, table: &'static str, done: u64, total: u64) {
        (self.progress)(&Progress { table, done, total });
    }
}

/// Copies everything `source` holds into `target` (whose migrations have run: see
/// [`PostgresStore::connect`]). Safe to run again after an interruption or a success: the
/// second run copies only what is missing.
pub async fn sqlite_to_postgres(
    source: &SqliteSource,
    target: &PostgresStore,
    options: &TransferOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Summary, TransferError> {
    let counts = source.counts().await?;
    let markers = Markers::new(source.instance_id());
    let client = target.pool().get().await.map_err(StoreError::from)?;
    let mut run = Run {
        source,
        client,
        options,
        progress,
    };
    claim(&run.client, &markers, options.force).await?;
    let mut summary = Summary::default();
    summary
        .tables
        .push(registry::copy_settings(&mut run, counts.settings).await?);
    summary
        .tables
        .push(registry::copy_gateways(&mut run, counts.gateways).await?);
    summary
        .tables
        .push(registry::copy_tokens(&mut run, counts.tokens).await?);
    summary
        .tables
        .push(by_id::copy(&mut run, &by_id::provider_keys(), counts.provider_keys).await?);
    summary
        .tables
        .push(registry::copy_documents(&mut run, counts.documents).await?);
    summary
        .tables
        .push(by_id::copy(&mut run, &by_id::policies(), counts.policies).await?);
    summary
        .tables
        .push(by_id::copy(&mut run, &by_id::dlp_profiles(), counts.dlp_profiles).await?);
    summary.tables.push(
        by_id::copy(
            &mut run,
            &by_id::custom_providers(),
            counts.custom_providers,
        )
        .await?,
    );
    summary
        .tables
        .push(by_id::copy(&mut run, &by_id::mcp_servers(), counts.mcp_servers).await?);
    summary
        .tables
        .push(routes::copy_routes(&mut run, counts.routes).await?);
    summary
        .tables
        .push(routes::copy_route_children(&mut run, true, counts.route_versions).await?);
    summary
        .tables
        .push(routes::copy_route_children(&mut run, false, counts.route_deployments).await?);
    summary
        .tables
        .extend(logs::copy_logs(&mut run, counts.logs).await?);
    summary
        .tables
        .extend(rollups::copy_rollups(&mut run, &markers, counts.rollups).await?);
    Ok(summary)
}

/// Refuses a target that holds logs or analytics from elsewhere (unless `force`), then records
/// that this source has started copying, so a later run knows the rows it finds are its own.
async fn claim(client: &Object, markers: &Markers, force: bool) -> Result<(), TransferError> {
    let row = within(client.query_one(
        "SELECT EXISTS (SELECT 1 FROM settings WHERE key = $1),
            EXISTS (SELECT 1 FROM logs) OR EXISTS (SELECT 1 FROM rollups_minute)
            OR EXISTS (SELECT 1 FROM rollups_hour) OR EXISTS (SELECT 1 FROM rollups_day)",
        &[&markers.started],
    ))
    .await?;
    let (started, used): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
    if !started && used && !force {
        return Err(TransferError::TargetInUse);
    }
    within(client.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        &[&markers.started, &SystemClock.now().to_string()],
    ))
    .await?;
    Ok(())
}

/// Runs one batch's statements under [`BATCH_TIMEOUT`].
async fn within<T, E>(work: impl Future<Output = Result<T, E>>) -> StoreResult<T>
where
    StoreError: From<E>,
{
    match tokio::time::timeout(BATCH_TIMEOUT, work).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::Backend(format!(
            "PostgreSQL did not answer within {BATCH_TIMEOUT:?}"
        ))),
    }
}

#[cfg(test)]
mod tests;
