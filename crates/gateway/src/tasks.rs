//! Tasks that outlive the call that starts them. Every such task is spawned on a [`Tasks`]
//! tracker whose owner waits for it at shutdown, so none is cut off in the middle of its work
//! when the runtime ends (docs/reliability.md, "Shutdown"). `clippy.toml` steers raw
//! `tokio::spawn` here.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A set of background tasks its owner can stop and wait for. Clones share the set.
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// Runs `task` to its end; [`Tasks::shutdown`] waits for it. The handle may be awaited for
    /// its result or dropped.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Runs `task` until it ends or [`Tasks::shutdown`] begins, whichever comes first: for loops
    /// that would otherwise run for as long as the process (reloads, listeners).
    pub fn spawn_until_shutdown<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Ends the loops of [`Tasks::spawn_until_shutdown`] and lets [`Tasks::wait`] complete
    /// once the rest have ended. Tasks spawned later still run, but nothing waits for them.
    pub fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
    }

    /// Waits until every task has ended, once [`Tasks::stop`] was called.
    pub async fn wait(&self) {
        self.tracker.wait().await;
    }

    /// [`Tasks::stop`], then waits up to `limit` for the tasks still running. Returns whether
    /// all of them ended in time; those that did not keep running.
    pub async fn shutdown(&self, limit: Duration) -> bool {
        self.stop();
        tokio::time::timeout(limit, self.wait()).await.is_ok()
    }

    /// Tasks still running.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn shutdown_waits_for_spawned_tasks_and_stops_loops() {
        let tasks = Tasks::new();
        let (finish, finished) = oneshot::channel::<()>();
        let (done_tx, mut done) = oneshot::channel();
        tasks.spawn(async move {
            let _ = finished.await;
            let _ = done_tx.send(());
        });
        tasks.spawn_until_shutdown(std::future::pending());
        assert_eq!(tasks.running(), 2);
        // The one-shot task is still waiting: shutdown cannot finish yet.
        assert!(!tasks.shutdown(Duration::ZERO).await);
        finish.send(()).unwrap();
        assert!(tasks.shutdown(Duration::from_secs(60)).await);
        assert!(done.try_recv().is_ok());
        assert_eq!(tasks.running(), 0);
    }
}
