//! The writer connection's own thread, and when it checkpoints the WAL.
//!
//! Every write (the shipper's ingest batches, the management API's changes) runs on one thread
//! that owns the writer connection, in the order it was asked for. Before, each went to tokio's
//! blocking pool: a pool thread woken per batch, a mutex around the connection, and SQLite's
//! automatic WAL checkpoint inside whichever commit crossed 1,000 pages, holding that batch (and
//! the core the requests need) for milliseconds (bench/PROFILE.md, fourth pass).
//!
//! Checkpoints: automatic checkpoints are off (`wal_autocheckpoint = 0`); a commit hook notes
//! how many pages the WAL holds, and once that passes [`CHECKPOINT_PAGES`] the thread runs a
//! `PASSIVE` checkpoint after the job, when the caller already has its answer and nothing else is
//! queued. A checkpoint is deferred at most [`CHECKPOINT_DEFER_PAGES`]: past that it runs even
//! with work queued, so the WAL cannot grow without limit under a steady backlog. Durability is
//! unchanged: a commit is in the WAL either way (`synchronous = NORMAL`), and a checkpoint only
//! copies committed pages into the database file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use crate::store::{StoreError, StoreResult};

/// WAL pages after which a checkpoint runs (SQLite's own automatic threshold).
const CHECKPOINT_PAGES: u32 = 1000;
/// WAL pages after which a checkpoint runs even though more jobs are waiting.
const CHECKPOINT_DEFER_PAGES: u32 = 4 * CHECKPOINT_PAGES;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The handle requests use to reach the writer thread; the thread ends (and closes the
/// connection) when the last handle is dropped.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the thread that owns `connection`.
    pub(super) fn start(mut connection: Connection) -> anyhow::Result<Writer> {
        let wal_pages = Arc::new(AtomicU32::new(0));
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        let noted = wal_pages.clone();
        connection.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            noted.store(u32::try_from(pages).unwrap_or(0), Ordering::Relaxed);
            Ok(())
        }))?;
        let (jobs, queued) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tollgate-sqlite".into())
            .spawn(move || run(connection, &queued, &wal_pages))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` on the writer connection and returns its result.
    pub(super) async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |connection: &mut Connection| {
                let _ = answer.send(work(connection).map_err(super::map_error));
            }))
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the SQLite writer thread stopped".into())
}

fn run(mut connection: Connection, queued: &mpsc::Receiver<Job>, wal_pages: &AtomicU32) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match queued.recv() {
                Ok(job) => job,
                Err(mpsc::RecvError) => return,
            },
        };
        job(&mut connection);
        let pages = wal_pages.load(Ordering::Relaxed);
        if pages >= CHECKPOINT_PAGES {
            next = queued.try_recv().ok();
            if next.is_none() || pages >= CHECKPOINT_DEFER_PAGES {
                checkpoint(&connection, wal_pages);
            }
        }
    }
}

/// Copies the WAL's committed pages into the database without waiting for readers; the WAL is
/// then reused from its start by the next commit once no reader still needs its old pages.
fn checkpoint(connection: &Connection, wal_pages: &AtomicU32) {
    match connection.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
        Ok((frames, copied)) if copied >= frames => wal_pages.store(0, Ordering::Relaxed),
        // A reader holds older pages: try again after the next job.
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "SQLite WAL checkpoint failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With SQLite's automatic checkpoints off, only the thread's own keep the WAL bounded.
    #[tokio::test]
    async fn the_wal_is_checkpointed_between_writes_and_stays_bounded() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let connection = Connection::open(dir.path().join("wal.db"))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.execute("CREATE TABLE t (b BLOB)", [])?;
        let writer = Writer::start(connection)?;
        // About 100 pages a write, 6,000 pages in all: more than a checkpoint may be deferred.
        for _ in 0..60 {
            writer
                .run(|c| c.execute("INSERT INTO t VALUES (zeroblob(400000))", []))
                .await?;
        }
        // (busy, frames in the WAL, frames checkpointed): a checkpoint restarts the WAL, so it
        // holds at most what a deferred checkpoint lets pile up (the next job was already
        // queued: the test sends it as soon as the last is answered) and one more write, never
        // everything written.
        let frames = writer
            .run(|c| {
                c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    row.get::<_, i64>(1)
                })
            })
            .await?;
        assert!(
            frames < i64::from(CHECKPOINT_DEFER_PAGES) + 200,
            "{frames} frames in the WAL"
        );
        Ok(())
    }
}
