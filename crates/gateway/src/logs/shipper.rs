//! The shipper: follows the spool's committed position and moves records into the store in
//! batches, then advances the checkpoint and deletes shipped segments. Off the request path:
//! a slow or failing store only makes the spool grow (up to its bound).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::record::{SpoolPosition, SpoolRecord};
use super::spool;
use super::unlogged::Unlogged;
use crate::analytics::RollupTally;
use crate::clock::monotonic_now;
use crate::gateways::{GatewayRegistry, LogStrategy};
use crate::store::Store;
use crate::store::logs::RowCap;

const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// How long records gather before a batch ships. Each batch pays a transaction, three rollup
/// upserts per key (each merging stored sketches) and two blocking-pool trips, on the core the
/// requests need: shipping as soon as anything was committed made that one batch per request
/// under load, and at low load put the store's work right beside each request in flight (a
/// streamed response's first byte waited behind it). [`super::LogPipeline::flushed`] and
/// shutdown ship at once; a backlog ships batch after batch.
const BATCH_WINDOW: Duration = Duration::from_millis(50);

pub struct Shipper {
    pub dir: PathBuf,
    /// Whose spool this is: a shared store keeps a checkpoint per instance.
    pub instance_id: String,
    pub store: Arc<dyn Store>,
    pub gateways: Arc<GatewayRegistry>,
    pub checkpoint: SpoolPosition,
    pub unshipped_bytes: Arc<AtomicU64>,
    /// Where the store has caught up to, for those who wait on it ([`super::LogPipeline::flushed`]).
    pub shipped: watch::Sender<SpoolPosition>,
    /// Analytics of requests without a row, stored with the next batch.
    pub unlogged: Arc<Unlogged>,
    /// How many of those ends are stored.
    pub unlogged_shipped: watch::Sender<u64>,
}

impl Shipper {
    /// Ships everything up to `target`; on a store error returns it (start-up replay).
    pub async fn catch_up(&mut self, target: SpoolPosition) -> anyhow::Result<()> {
        while self.checkpoint < target {
            self.ship_once(target).await?;
        }
        Ok(())
    }

    /// Follows the committed position until it stops moving after `stop` fires; `ship_now`
    /// cuts the current batch window short.
    pub async fn run(
        mut self,
        mut committed: watch::Receiver<SpoolPosition>,
        mut stop: watch::Receiver<bool>,
        ship_now: Arc<Notify>,
    ) {
        let mut retry = RETRY_FIRST;
        // When the oldest unshipped record was noticed; `None` ships without waiting (a backlog).
        let mut window_start: Option<Instant> = None;
        let mut backlog = false;
        loop {
            let target = *committed.borrow_and_update();
            if self.checkpoint >= target && !self.unlogged.is_pending() {
                if *stop.borrow() {
                    return;
                }
                tokio::select! {
                    changed = committed.changed() => if changed.is_err() && self.checkpoint >= *committed.borrow() { return },
                    _ = stop.changed() => {}
                    () = self.unlogged.counted.notified() => {}
                }
                window_start = Some(monotonic_now());
                continue;
            }
            if let Some(start) = window_start.take()
                && !backlog
                && !*stop.borrow()
                && start.elapsed() < BATCH_WINDOW
            {
                // Let more records join this batch; the target is read again afterwards.
                tokio::select! {
                    () = tokio::time::sleep_until(start + BATCH_WINDOW) => {}
                    // Stopping (or the pipeline is gone): ship what there is now.
                    _ = stop.changed() => {}
                    () = ship_now.notified() => {}
                }
                continue;
            }
            match self.ship_once(target).await {
                Ok(()) => {
                    retry = RETRY_FIRST;
                    // The batch was cut at its size bound: the rest ships without a window.
                    backlog = self.checkpoint < target;
                }
                Err(error) => {
                    tracing::warn!(%error, ?retry, "log store unavailable; rows stay in the spool");
                    tokio::select! {
                        () = tokio::time::sleep(retry) => {}
                        _ = stop.changed() => {}
                    }
                    retry = (retry * 2).min(RETRY_MAX);
                    if *stop.borrow() && retry == RETRY_MAX {
                        // Shutting down with the store down: the spool keeps the rest for the next start.
                        return;
                    }
                }
            }
            window_start = Some(monotonic_now());
        }
    }

    async fn ship_once(&mut self, target: SpoolPosition) -> anyhow::Result<()> {
        let dir = self.dir.clone();
        let from = self.checkpoint;
        // Decoding and summing a batch is a millisecond or more of CPU: off the request threads.
        let (records, reached, mut rollups) = if from < target {
            tokio::task::spawn_blocking(move || {
                let (records, reached) = spool::read_range(&dir, from, target)?;
                let mut rollups = RollupTally::default();
                for record in &records {
                    if let SpoolRecord::End { end, .. } = record {
                        rollups.count(end);
                    }
                }
                anyhow::Ok((records, reached, rollups))
            })
            .await??
        } else {
            // Only analytics of requests without a row (kept in memory) to store.
            (Vec::new(), from, RollupTally::default())
        };
        if from < target && reached == from {
            anyhow::bail!("the log spool did not advance at {from:?}");
        }
        let (unlogged, counted) = self.unlogged.take();
        if !records.is_empty() || reached.segment != from.segment || !unlogged.is_empty() {
            // Kept until the store took them: a failed batch puts them back (its spool records
            // are read again, so only these would be lost).
            rollups.merge(unlogged.clone());
            let stored = self
                .store
                .ingest(
                    &self.instance_id,
                    records,
                    rollups.into_deltas(),
                    reached,
                    self.caps(),
                )
                .await;
            if let Err(error) = stored {
                self.unlogged.put_back(unlogged);
                return Err(error.into());
            }
        }
        self.unlogged_shipped.send_replace(counted);
        self.checkpoint = reached;
        self.shipped.send_replace(reached);
        if reached == from {
            return Ok(());
        }
        let dir = self.dir.clone();
        let freed =
            tokio::task::spawn_blocking(move || spool::delete_before(&dir, reached)).await??;
        self.unshipped_bytes.fetch_sub(
            freed.min(self.unshipped_bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// The row caps of every gateway that has one.
    fn caps(&self) -> Vec<((String, String), RowCap)> {
        self.gateways
            .all()
            .into_iter()
            .filter_map(|gateway| {
                let limit = u64::from(gateway.settings.log_management?);
                let cap = match gateway.settings.log_management_strategy {
                    Some(LogStrategy::DeleteOldest) => RowCap::DeleteOldest(limit),
                    _ => RowCap::StopInserting(limit),
                };
                Some(((gateway.account_id.clone(), gateway.id.clone()), cap))
            })
            .collect()
    }
}
