//! Request logs that lose nothing (docs/logs.md).
//!
//! A request appends a begin record to the local spool (and waits until it is written to the
//! OS) before going upstream, and an end record before the last byte of the response reaches
//! the client. The shipper then moves records from the spool into the store in batches, off the
//! request path; the store is never on the hot path. After a crash, the spool is replayed and
//! rows that never got their end record are marked interrupted.

mod record;

pub use record::{LogBegin, LogEnd, RollupFacts, SpoolPosition, SpoolRecord};
mod shipper;
mod spool;
mod unlogged;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Notify, watch};

pub use spool::{SpoolError, SpoolSettings};

use crate::gateways::GatewayRegistry;
use crate::store::Store;
use crate::tasks::Tasks;

/// The request side of the log pipeline, shared by every request.
#[derive(Clone)]
pub struct LogPipeline {
    writer: spool::SpoolWriter,
    instance_id: Arc<str>,
    stop: Arc<watch::Sender<bool>>,
    committed: watch::Receiver<SpoolPosition>,
    shipped: watch::Receiver<SpoolPosition>,
    /// Ends of requests without a row, counted in memory; and how many of them are stored.
    unlogged: Arc<unlogged::Unlogged>,
    unlogged_shipped: watch::Receiver<u64>,
    /// Cuts the shipper's batch window short, for those waiting on [`LogPipeline::flushed`].
    ship_now: Arc<Notify>,
    /// The shipper and the spool's feeding task; shutdown waits for both to end.
    background: Tasks,
    /// Tasks that still owe an end record (response relays); shutdown waits for them, briefly.
    owing_ends: Tasks,
}

/// How long shutdown waits for relays cut at the end of the grace period to record the cut, so
/// their rows are complete in this run's flush rather than marked interrupted at the next start.
const OWING_ENDS_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

impl LogPipeline {
    /// Replays whatever an earlier run left in the spool into the store, marks rows cut by a
    /// crash as interrupted, then starts the writer and the shipper.
    pub async fn start(
        settings: SpoolSettings,
        store: Arc<dyn Store>,
        gateways: Arc<GatewayRegistry>,
        instance_id: String,
    ) -> anyhow::Result<LogPipeline> {
        std::fs::create_dir_all(&settings.dir)?;
        let existing = spool::segments(&settings.dir)?;
        let first_existing = existing.first().map(|(n, _)| *n);
        let stored_checkpoint = store.checkpoint(&instance_id).await?;
        // Past both the files on disk and the store's checkpoint: a spool directory that was
        // lost while the store kept its checkpoint must not restart numbering below it.
        let next_segment = existing
            .last()
            .map_or(1, |(n, _)| n + 1)
            .max(stored_checkpoint.map_or(0, |c| c.segment + 1));
        let existing_bytes = existing.iter().map(|(_, size)| size).sum();
        let checkpoint = match (stored_checkpoint, first_existing) {
            (Some(checkpoint), Some(first)) if checkpoint.segment < first => SpoolPosition {
                segment: first,
                offset: 0,
            },
            (Some(checkpoint), _) => checkpoint,
            (None, first) => SpoolPosition {
                segment: first.unwrap_or(next_segment),
                offset: 0,
            },
        };
        let background = Tasks::new();
        let (writer, committed, unshipped_bytes) =
            spool::start_writer(settings.clone(), next_segment, existing_bytes, &background)?;
        let (shipped_tx, shipped) = watch::channel(checkpoint);
        let unlogged = Arc::new(unlogged::Unlogged::default());
        let (unlogged_shipped_tx, unlogged_shipped) = watch::channel(0);
        let mut shipper = shipper::Shipper {
            dir: settings.dir.clone(),
            instance_id: instance_id.clone(),
            store: store.clone(),
            gateways,
            checkpoint,
            unshipped_bytes,
            shipped: shipped_tx,
            unlogged: unlogged.clone(),
            unlogged_shipped: unlogged_shipped_tx,
        };
        shipper
            .catch_up(SpoolPosition {
                segment: next_segment,
                offset: 0,
            })
            .await?;
        let interrupted = store.mark_interrupted(&instance_id).await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "requests cut by an earlier crash are logged as interrupted"
            );
        }
        let (stop, stopped) = watch::channel(false);
        let ship_now = Arc::new(Notify::new());
        background.spawn(shipper.run(committed.clone(), stopped, ship_now.clone()));
        Ok(LogPipeline {
            writer,
            instance_id: instance_id.into(),
            stop: Arc::new(stop),
            committed,
            shipped,
            unlogged,
            unlogged_shipped,
            ship_now,
            background,
            owing_ends: Tasks::new(),
        })
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Makes the begin record durable before the request goes upstream.
    pub async fn begin(&self, begin: LogBegin, body: Vec<u8>) -> Result<(), SpoolError> {
        // Until the write is acknowledged, the id may have a row: its end goes to the spool.
        // If the write fails (or the request is dropped while it waits), no end will follow.
        let written = Begun {
            unlogged: &self.unlogged,
            id: self.unlogged.begin(&begin.id),
        };
        self.writer
            .append(encode(SpoolRecord::Begin {
                begin: Box::new(begin),
                body,
            })?)
            .await?;
        written.keep();
        Ok(())
    }

    /// Makes the end record durable; the caller then lets the last byte go to the client.
    pub async fn end(&self, end: LogEnd, body: Vec<u8>) -> Result<(), SpoolError> {
        self.unlogged.end(&end.id);
        self.writer
            .append(encode(SpoolRecord::End {
                end: Box::new(end),
                body,
            })?)
            .await
    }

    /// Records the end without waiting: nobody is left to wait (the client went away, or the
    /// request has no row). The end of a request with no row is only counted for analytics, in
    /// memory ([`unlogged`]).
    pub fn end_detached(&self, end: LogEnd, body: Vec<u8>) {
        if !self.unlogged.end(&end.id) {
            self.unlogged.count(&end);
            return;
        }
        match encode(SpoolRecord::End {
            end: Box::new(end),
            body,
        }) {
            Ok(frame) => self.writer.append_detached(frame),
            Err(error) => tracing::error!(%error, "could not encode a log record"),
        }
    }

    /// Waits until every record written so far is in the store (tests, `/readyz` checks).
    pub async fn flushed(&self) {
        let target = *self.committed.borrow();
        let counted = self.unlogged.counted();
        let mut shipped = self.shipped.clone();
        let mut unlogged_shipped = self.unlogged_shipped.clone();
        self.ship_now.notify_one();
        let _ = shipped.wait_for(|position| *position >= target).await;
        let _ = unlogged_shipped.wait_for(|stored| *stored >= counted).await;
    }

    /// Spool bytes on disk not yet shipped and deleted (a metric; bounded by the configuration).
    pub fn spool_bytes(&self) -> u64 {
        self.writer.unshipped_bytes()
    }

    /// Records waiting for the spool writer (a metric).
    pub fn queue_depth(&self) -> usize {
        self.writer.queue_depth()
    }

    /// Runs `task`, which will write an end record, as one shutdown waits for.
    pub fn spawn_owing_end(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.owing_ends.spawn(task);
    }

    /// Waits (briefly) for the tasks that owe end records, writes what is queued, ships the
    /// spool to the store and stops. Whatever the store does not take in time stays in the spool
    /// for the next start.
    pub async fn shutdown(&self) {
        self.owing_ends.shutdown(OWING_ENDS_LIMIT).await;
        self.writer.close().await;
        let _ = self.stop.send(true);
        self.background.stop();
        self.background.wait().await;
    }
}

/// Forgets a begin's id unless [`Begun::keep`] says its record was written.
struct Begun<'a> {
    unlogged: &'a unlogged::Unlogged,
    id: Option<u128>,
}

impl Begun<'_> {
    fn keep(mut self) {
        self.id = None;
    }
}

impl Drop for Begun<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.unlogged.forget(id);
        }
    }
}

fn encode(record: SpoolRecord) -> Result<Vec<u8>, SpoolError> {
    let mut frame = Vec::new();
    record
        .encode_into(&mut frame)
        .map_err(|e| SpoolError::Io(e.to_string()))?;
    Ok(frame)
}

/// The id of this gateway process's data directory, kept across restarts so crash recovery
/// marks only its own rows.
pub fn instance_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            let id = uuid::Uuid::now_v7().to_string();
            std::fs::write(&path, &id)?;
            Ok(id)
        }
    }
}
