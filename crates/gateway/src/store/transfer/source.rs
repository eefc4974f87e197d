//! The SQLite side of a transfer: the deployment found from `sqlite://…`, checked to be at rest,
//! opened read-only inside one read transaction (so every batch comes from the same snapshot),
//! and read in keyset batches that never hold more than one batch in memory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::TransferError;
use crate::convert::saturating_i64_from_usize;
use crate::logs::SpoolPosition;
use crate::store::logs::LogRow;
use crate::store::logs::columns::{self, LOG_COLUMNS};
use crate::store::sqlite::logs_query::read;
use crate::store::sqlite::to_text;

/// The SQLite schema version whose columns the transfer maps one by one. A new SQLite
/// migration must be mapped here before the transfer accepts databases that have it.
const SCHEMA_VERSION: i64 = 14;

/// The database file inside a data directory (the default `storage.url`).
const DB_FILE: &str = "tollgate.db";

/// A stopped SQLite deployment, read-only.
pub struct SqliteSource {
    connection: Arc<Mutex<Connection>>,
    db_path: PathBuf,
    instance_id: String,
    checkpoint: Option<SpoolPosition>,
}

/// Rows per table in the source's snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct SourceCounts {
    pub settings: u64,
    pub gateways: u64,
    pub tokens: u64,
    pub provider_keys: u64,
    pub policies: u64,
    pub dlp_profiles: u64,
    pub custom_providers: u64,
    pub mcp_servers: u64,
    pub documents: u64,
    pub routes: u64,
    pub route_versions: u64,
    pub route_deployments: u64,
    pub logs: u64,
    pub rollups: [u64; 3],
}

pub(super) struct SettingRow {
    pub key: String,
    pub value: String,
}

pub(super) struct GatewayRow {
    pub account_id: String,
    pub id: String,
    /// The settings object as JSON text.
    pub settings: String,
    pub created_at: String,
    pub modified_at: String,
}

/// A dataset or an evaluation, its columns as stored (docs/evaluations.md).
pub(super) struct DocumentRow {
    pub account_id: String,
    pub gateway_id: String,
    pub kind: String,
    pub id: String,
    pub body: String,
    pub created_at: String,
    pub modified_at: String,
}

pub(super) struct TokenRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub token_sha256: Vec<u8>,
    pub created_at: String,
    /// The scope's JSON text, copied as it is (docs/budgets.md).
    pub scope: Option<String>,
}

/// A log row with what the API's [`LogRow`] leaves out: its writer and its stored bodies
/// (raw below 1 KiB, zstd above: `store::logs::body_codec`; copied as they are).
pub(super) struct LogCopy {
    pub row: LogRow,
    pub instance_id: String,
    pub bodies: Option<BodiesCopy>,
}

pub(super) struct BodiesCopy {
    pub request: Option<Vec<u8>>,
    pub request_headers: Option<String>,
    pub response: Option<Vec<u8>>,
    pub response_headers: Option<String>,
}

impl LogCopy {
    fn body_bytes(&self) -> usize {
        self.bodies.as_ref().map_or(0, |b| {
            b.request.as_ref().map_or(0, Vec::len) + b.response.as_ref().map_or(0, Vec::len)
        })
    }
}

/// A rollup row's primary key, in column order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RollupKey {
    pub account_id: String,
    pub bucket: i64,
    pub gateway_id: String,
    pub provider: String,
    pub model: String,
    pub status_class: i16,
    pub cached: bool,
}

/// A stored rollup row; sketches stay in their stored encoding unless they must be merged.
#[derive(Debug, Clone)]
pub(super) struct RollupCopy {
    pub key: RollupKey,
    /// requests, errors, cached_requests, tokens_in, tokens_out, cache_read_tokens,
    /// cache_write_tokens.
    pub counters: [i64; 7],
    pub cost: f64,
    pub duration_sketch: Vec<u8>,
    pub ttfb_sketch: Vec<u8>,
}

impl SqliteSource {
    /// Opens the deployment at `location` (its database file, or the data directory holding
    /// `tollgate.db`). The spool and `instance-id` are looked for in `data_dir`, by default the
    /// database's directory. Refuses a deployment that is not at rest: records in its spool
    /// that were never shipped into the database, or requests still in flight.
    pub fn open(location: &Path, data_dir: Option<&Path>) -> Result<SqliteSource, TransferError> {
        let db_path = SqliteSource::db_path_of(location);
        if !db_path.is_file() {
            return Err(TransferError::Source(format!(
                "no SQLite database at {}",
                db_path.display()
            )));
        }
        let data_dir = SqliteSource::data_dir_of(location, data_dir);
        let instance_id = read_instance_id(&data_dir)?;
        let connection = open_snapshot(&db_path)?;
        let checkpoint = read_checkpoint(&connection).map_err(source_error)?;
        let unshipped = unshipped_spool_bytes(&data_dir.join("spool"), checkpoint)
            .map_err(|e| TransferError::Source(format!("cannot read the spool: {e}")))?;
        if unshipped > 0 {
            return Err(TransferError::UnshippedSpool {
                dir: data_dir.join("spool"),
                bytes: unshipped,
            });
        }
        let in_flight: i64 = connection
            .query_row("SELECT count(*) FROM logs WHERE completed = 0", [], |r| {
                r.get(0)
            })
            .map_err(source_error)?;
        if in_flight > 0 {
            return Err(TransferError::InFlight {
                rows: in_flight.unsigned_abs(),
            });
        }
        Ok(SqliteSource {
            connection: Arc::new(Mutex::new(connection)),
            db_path,
            instance_id,
            checkpoint,
        })
    }

    /// The data directory [`SqliteSource::open`] reads the spool and `instance-id` from (the
    /// directory the caller locks first: docs/deployment.md).
    pub fn data_dir_of(location: &Path, data_dir: Option<&Path>) -> PathBuf {
        match data_dir {
            Some(dir) => dir.to_owned(),
            None => SqliteSource::db_path_of(location)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_owned),
        }
    }

    /// The database file of `location`: itself, or `tollgate.db` inside it when it is a
    /// directory.
    pub fn db_path_of(location: &Path) -> PathBuf {
        if location.is_dir() {
            location.join(DB_FILE)
        } else {
            location.to_owned()
        }
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The deployment's instance id: its log rows' writer and the name of its spool checkpoint.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    pub(super) fn checkpoint(&self) -> Option<SpoolPosition> {
        self.checkpoint
    }

    /// Runs `work` on the connection, off the async threads.
    pub(super) async fn read<T, F>(&self, work: F) -> Result<T, TransferError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let guard = connection
                .lock()
                .map_err(|_| TransferError::Source("connection lock poisoned".into()))?;
            work(&guard).map_err(source_error)
        })
        .await
        .map_err(|e| TransferError::Source(e.to_string()))?
    }

    pub(super) async fn counts(&self) -> Result<SourceCounts, TransferError> {
        self.read(|c| {
            let count = |table: &str| -> rusqlite::Result<u64> {
                c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(i64::unsigned_abs)
            };
            Ok(SourceCounts {
                settings: count("settings")?,
                gateways: count("gateways")?,
                tokens: count("tokens")?,
                provider_keys: count("provider_keys")?,
                policies: count("policies")?,
                dlp_profiles: count("dlp_profiles")?,
                custom_providers: count("custom_providers")?,
                mcp_servers: count("mcp_servers")?,
                documents: count("documents")?,
                routes: count("routes")?,
                route_versions: count("route_versions")?,
                route_deployments: count("route_deployments")?,
                logs: count("logs")?,
                rollups: [
                    count("rollups_minute")?,
                    count("rollups_hour")?,
                    count("rollups_day")?,
                ],
            })
        })
        .await
    }

    pub(super) async fn settings(
        &self,
        after: String,
        limit: usize,
    ) -> Result<Vec<SettingRow>, TransferError> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT key, value FROM settings WHERE key > ?1 ORDER BY key LIMIT ?2",
            )?;
            statement
                .query_map(params![after, saturating_i64_from_usize(limit)], |r| {
                    Ok(SettingRow {
                        key: r.get(0)?,
                        value: r.get(1)?,
                    })
                })?
                .collect()
        })
        .await
    }

    pub(super) async fn gateways(
        &self,
        after: (String, String),
        limit: usize,
    ) -> Result<Vec<GatewayRow>, TransferError> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT account_id, id, settings, created_at, modified_at FROM gateways
                 WHERE (account_id, id) > (?1, ?2) ORDER BY account_id, id LIMIT ?3",
            )?;
            statement
                .query_map(
                    params![after.0, after.1, saturating_i64_from_usize(limit)],
                    |r| {
                        Ok(GatewayRow {
                            account_id: r.get(0)?,
                            id: r.get(1)?,
                            settings: r.get(2)?,
                            created_at: r.get(3)?,
                            modified_at: r.get(4)?,
                        })
                    },
                )?
                .collect()
        })
        .await
    }

    pub(super) async fn tokens(
        &self,
        after: String,
        limit: usize,
    ) -> Result<Vec<TokenRow>, TransferError> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT id, account_id, name, token_sha256, created_at, scope FROM tokens
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            statement
                .query_map(params![after, saturating_i64_from_usize(limit)], |r| {
                    Ok(TokenRow {
                        id: r.get(0)?,
                        account_id: r.get(1)?,
                        name: r.get(2)?,
                        token_sha256: r.get(3)?,
                        created_at: r.get(4)?,
                        scope: r.get(5)?,
                    })
                })?
                .collect()
        })
        .await
    }

    /// Rows of `table` after `after` (by id), read from `columns` by `from_row`.
    pub(super) async fn rows_by_id<T: Send + 'static>(
        &self,
        table: &'static str,
        columns: &'static str,
        from_row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
        after: String,
        limit: usize,
    ) -> Result<Vec<T>, TransferError> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {columns} FROM {table} WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            statement
                .query_map(params![after, saturating_i64_from_usize(limit)], from_row)?
                .collect()
        })
        .await
    }

    /// Datasets and evaluations after `after` (by their key).
    pub(super) async fn documents(
        &self,
        after: [String; 4],
        limit: usize,
    ) -> Result<Vec<DocumentRow>, TransferError> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT account_id, gateway_id, kind, id, body, created_at, modified_at
                 FROM documents WHERE (account_id, gateway_id, kind, id) > (?1, ?2, ?3, ?4)
                 ORDER BY account_id, gateway_id, kind, id LIMIT ?5",
            )?;
            let [account, gateway, kind, id] = after;
            statement
                .query_map(
                    params![account, gateway, kind, id, saturating_i64_from_usize(limit)],
                    |r| {
                        Ok(DocumentRow {
                            account_id: r.get(0)?,
                            gateway_id: r.get(1)?,
                            kind: r.get(2)?,
                            id: r.get(3)?,
                            body: r.get(4)?,
                            created_at: r.get(5)?,
                            modified_at: r.get(6)?,
                        })
                    },
                )?
                .collect()
        })
        .await
    }

    /// Log rows after `after` (by id), with their bodies: at most `limit` rows, and no more
    /// once `max_body_bytes` of bodies are in the batch (a row's bodies are never split).
    pub(super) async fn logs(
        &self,
        after: String,
        limit: usize,
        max_body_bytes: usize,
    ) -> Result<Vec<LogCopy>, TransferError> {
        self.read(move |c| {
            let columns: Vec<String> = LOG_COLUMNS
                .iter()
                .map(|c| format!("l.{}", c.name))
                .collect();
            let mut statement = c.prepare_cached(&format!(
                "SELECT {}, l.instance_id,
                    b.log_id, b.request, b.request_headers, b.response, b.response_headers
                 FROM logs l LEFT JOIN log_bodies b ON b.log_id = l.id
                 WHERE l.id > ?1 ORDER BY l.id LIMIT ?2",
                columns.join(", ")
            ))?;
            let mut rows = statement.query(params![after, saturating_i64_from_usize(limit)])?;
            let (mut batch, mut bytes) = (Vec::new(), 0);
            while let Some(row) = rows.next()? {
                let copy = log_from_row(row)?;
                bytes += copy.body_bytes();
                batch.push(copy);
                if bytes >= max_body_bytes {
                    break;
                }
            }
            Ok(batch)
        })
        .await
    }

    /// Rollup rows of `table` after `after` (by primary key).
    pub(super) async fn rollups(
        &self,
        table: &'static str,
        after: RollupKey,
        limit: usize,
    ) -> Result<Vec<RollupCopy>, TransferError> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT account_id, bucket, gateway_id, provider, model, status_class, cached,
                    requests, errors, cached_requests, tokens_in, tokens_out, cache_read_tokens,
                    cache_write_tokens, cost, duration_sketch, ttfb_sketch
                 FROM {table}
                 WHERE (account_id, bucket, gateway_id, provider, model, status_class, cached)
                     > (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ORDER BY account_id, bucket, gateway_id, provider, model, status_class, cached
                 LIMIT ?8"
            ))?;
            let k = after;
            statement
                .query_map(
                    params![
                        k.account_id,
                        k.bucket,
                        k.gateway_id,
                        k.provider,
                        k.model,
                        k.status_class,
                        k.cached,
                        saturating_i64_from_usize(limit)
                    ],
                    |r| {
                        let mut counters = [0i64; 7];
                        for (i, counter) in counters.iter_mut().enumerate() {
                            *counter = r.get(7 + i)?;
                        }
                        Ok(RollupCopy {
                            key: RollupKey {
                                account_id: r.get(0)?,
                                bucket: r.get(1)?,
                                gateway_id: r.get(2)?,
                                provider: r.get(3)?,
                                model: r.get(4)?,
                                status_class: r.get(5)?,
                                cached: r.get(6)?,
                            },
                            counters,
                            cost: r.get(14)?,
                            duration_sketch: r.get(15)?,
                            ttfb_sketch: r.get(16)?,
                        })
                    },
                )?
                .collect()
        })
        .await
    }
}

impl RollupKey {
    /// Sorts before every stored key: the cursor of a first batch.
    pub(super) fn first() -> RollupKey {
        RollupKey {
            account_id: String::new(),
            bucket: i64::MIN,
            gateway_id: String::new(),
            provider: String::new(),
            model: String::new(),
            status_class: i16::MIN,
            cached: false,
        }
    }
}

fn source_error(error: rusqlite::Error) -> TransferError {
    TransferError::Source(error.to_string())
}

fn read_instance_id(data_dir: &Path) -> Result<String, TransferError> {
    let path = data_dir.join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => Err(TransferError::NoInstanceId {
            data_dir: data_dir.to_owned(),
        }),
    }
}

/// A read-only connection inside a read transaction: every later query sees the database as
/// its first query did, whatever else happens to the file meanwhile.
fn open_snapshot(path: &Path) -> Result<Connection, TransferError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(source_error)?;
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(source_error)?;
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(source_error)?;
    if version != SCHEMA_VERSION {
        return Err(TransferError::Source(format!(
            "the database has schema version {version}, this tollgate copies version \
             {SCHEMA_VERSION}: start the matching `tollgate serve` on it once, or use the \
             matching tollgate to migrate"
        )));
    }
    connection.execute_batch("BEGIN").map_err(source_error)?;
    Ok(connection)
}

fn read_checkpoint(connection: &Connection) -> rusqlite::Result<Option<SpoolPosition>> {
    connection
        .query_row(
            "SELECT segment, offset FROM spool_checkpoint WHERE id = 1",
            [],
            |r| {
                Ok(SpoolPosition {
                    segment: r.get::<_, i64>(0)?.unsigned_abs(),
                    offset: r.get::<_, i64>(1)?.unsigned_abs(),
                })
            },
        )
        .optional()
}

/// Bytes in the spool past the checkpoint: records the database has not received. Segments
/// are `<number>.spool` files (see `logs::spool`); the shipper deletes those wholly shipped.
fn unshipped_spool_bytes(dir: &Path, checkpoint: Option<SpoolPosition>) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut unshipped = 0;
    for entry in entries {
        let entry = entry?;
        let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_suffix(".spool"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let size = entry.metadata()?.len();
        unshipped += match checkpoint {
            Some(c) if number < c.segment => 0,
            Some(c) if number == c.segment => size.saturating_sub(c.offset),
            _ => size,
        };
    }
    Ok(unshipped)
}

/// A row of [`SqliteSource::logs`]: the table's columns, the instance id, then the bodies.
fn log_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogCopy> {
    let row = columns::decode(|i, _| read(r, i), |i, why| to_text(i)(why))?;
    let n = LOG_COLUMNS.len();
    let bodies = match r.get::<_, Option<String>>(n + 1)? {
        Some(_) => Some(BodiesCopy {
            request: r.get(n + 2)?,
            request_headers: r.get(n + 3)?,
            response: r.get(n + 4)?,
            response_headers: r.get(n + 5)?,
        }),
        None => None,
    };
    Ok(LogCopy {
        row,
        instance_id: r.get(n)?,
        bodies,
    })
}
