//! Gateways, run tokens, stored keys, routes, MCP servers and API-created custom providers as
//! mirrored from a shared store (PostgreSQL), kept in step by one reload loop: on the change
//! feed, every few seconds as a safety net, and when a request names a gateway, a token, a
//! `custom-{slug}` provider or an MCP server that memory does not know (docs/deployment.md). A miss waits for a reload that
//! began after it, so what was created through another instance works here at once; misses
//! share reloads (one at a time, spaced), and a name a reload already missed is answered at
//! once until the next reload (a bounded negative cache), so a flood of unknown names cannot
//! load the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::store::StoreError;
use crate::store::postgres::ChangeFeed;

/// How often the loop re-reads without being told to.
const SAFETY_NET_INTERVAL: Duration = Duration::from_secs(5);
/// After a reload for a miss, the next one waits at least this long (misses in between share it).
const MISS_RELOAD_SPACING: Duration = Duration::from_millis(50);
/// The longest a miss waits for its reload (a store that does not answer).
const MISS_WAIT: Duration = Duration::from_secs(2);
/// Names remembered as absent; the memory is cleared when full.
const MAX_ABSENT: usize = 10_000;

pub struct SharedMirror {
    /// The sequence number of the reload running or run last.
    started: AtomicU64,
    /// The sequence number of the last reload that completed.
    completed: watch::Receiver<u64>,
    /// Misses asking for a reload (one stored permit: misses in between share it).
    misses: Notify,
    /// Names a completed reload did not find, with that reload's number.
    absent: Mutex<HashMap<Miss, u64>>,
}

impl SharedMirror {
    /// The mirror and the sender its reload loop publishes completed reloads on.
    pub fn new() -> (SharedMirror, watch::Sender<u64>) {
        let (sender, completed) = watch::channel(0);
        let mirror = SharedMirror {
            started: AtomicU64::new(0),
            completed,
            misses: Notify::new(),
            absent: Mutex::new(HashMap::new()),
        };
        (mirror, sender)
    }

    /// Completed reloads so far (tests wait on it).
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.completed.clone()
    }

    /// Looks `miss` up again after a reload that began after this call: `look` once the
    /// reload completed, `None` when the name is known to be absent since the last reload,
    /// or when no reload completed within [`MISS_WAIT`].
    pub async fn look_again<T>(&self, miss: Miss, look: impl Fn() -> Option<T>) -> Option<T> {
        if self.known_absent(&miss) {
            return None;
        }
        self.reload_from_now().await.then_some(())?;
        let found = look();
        if found.is_none() {
            let reload = *self.completed.borrow();
            let mut absent = self
                .absent
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if absent.len() >= MAX_ABSENT {
                absent.clear();
            }
            absent.insert(miss, reload);
        }
        found
    }

    /// Waits for a reload that began after this call; `false` when none completed in time.
    pub async fn reload_from_now(&self) -> bool {
        let after = self.started.load(Ordering::SeqCst);
        self.misses.notify_one();
        let mut completed = self.completed.clone();
        tokio::time::timeout(MISS_WAIT, completed.wait_for(|done| *done > after))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    fn known_absent(&self, miss: &Miss) -> bool {
        let reload = *self.completed.borrow();
        let absent = self
            .absent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        absent.get(miss) == Some(&reload)
    }
}

/// What a request named that memory did not know.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Miss {
    Gateway {
        account_id: String,
        id: String,
    },
    /// A presented run token, by its hash (the text is not kept).
    Token {
        account_id: String,
        sha256: [u8; 32],
    },
    /// A `custom-{slug}` provider, perhaps created through the API on another instance.
    Provider {
        account_id: String,
        slug: String,
    },
    /// An upstream MCP server of a gateway, perhaps registered through another instance.
    McpServer {
        account_id: String,
        gateway_id: String,
        name: String,
    },
}

impl Miss {
    pub fn gateway(account_id: &str, id: &str) -> Miss {
        Miss::Gateway {
            account_id: account_id.to_owned(),
            id: id.to_owned(),
        }
    }

    pub fn provider(account_id: &str, slug: &str) -> Miss {
        Miss::Provider {
            account_id: account_id.to_owned(),
            slug: slug.to_owned(),
        }
    }

    pub fn mcp_server(account_id: &str, gateway_id: &str, name: &str) -> Miss {
        Miss::McpServer {
            account_id: account_id.to_owned(),
            gateway_id: gateway_id.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn token(account_id: &str, token: &str) -> Miss {
        Miss::Token {
            account_id: account_id.to_owned(),
            sha256: crate::auth::sha256(token),
        }
    }
}

/// Re-reads gateways and tokens (`reload`, `None` once the state is gone) on every change the
/// feed reports, every [`SAFETY_NET_INTERVAL`], and when a miss asks. One reload at a time: a
/// change or miss noticed during a reload is served by the next one.
pub async fn reload_loop<R, F>(
    mirror: Arc<SharedMirror>,
    completed: watch::Sender<u64>,
    mut changes: ChangeFeed,
    reload: R,
) where
    R: Fn() -> Option<F>,
    F: Future<Output = Result<(), StoreError>>,
{
    let mut tick = tokio::time::interval(SAFETY_NET_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let for_miss = tokio::select! {
            _ = tick.tick() => false,
            () = changes.changed() => false,
            () = mirror.misses.notified() => true,
        };
        // The state is gone: the server stopped (and dropping the feed stops the listener).
        let Some(reloading) = reload() else { return };
        let number = mirror.started.fetch_add(1, Ordering::SeqCst) + 1;
        match reloading.await {
            Ok(()) => {
                completed.send_replace(number);
            }
            Err(error) => tracing::warn!(%error, "could not reload gateways from the store"),
        }
        if for_miss {
            tokio::time::sleep(MISS_RELOAD_SPACING).await;
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "the tests play the reload loop in plain tasks"
)]
mod tests {
    use super::*;

    /// Serves misses as the reload loop does (a reload that reads nothing).
    fn serve_misses(mirror: Arc<SharedMirror>, completed: watch::Sender<u64>) {
        tokio::spawn(async move {
            loop {
                mirror.misses.notified().await;
                let number = mirror.started.fetch_add(1, Ordering::SeqCst) + 1;
                completed.send_replace(number);
            }
        });
    }

    #[tokio::test]
    async fn a_miss_waits_for_a_reload_that_began_after_it() {
        let (mirror, completed) = SharedMirror::new();
        let mirror = Arc::new(mirror);
        // A reload that began before the miss, still running: it must not answer the miss.
        mirror.started.store(1, Ordering::SeqCst);
        let waiting = tokio::spawn({
            let mirror = mirror.clone();
            async move {
                mirror
                    .look_again(Miss::gateway("local", "new"), || Some(()))
                    .await
            }
        });
        tokio::task::yield_now().await;
        completed.send_replace(1);
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "answered by a reload older than the miss"
        );
        serve_misses(mirror, completed);
        assert_eq!(waiting.await.unwrap(), Some(()));
    }

    #[tokio::test]
    async fn a_name_found_absent_is_answered_without_a_reload_until_the_next() {
        let (mirror, completed) = SharedMirror::new();
        let mirror = Arc::new(mirror);
        let reloads = mirror.reloads();
        serve_misses(mirror.clone(), completed);
        let ghost = || Miss::gateway("local", "ghost");
        assert_eq!(mirror.look_again(ghost(), || None::<()>).await, None);
        let after_first = *reloads.borrow();
        assert_eq!(after_first, 1);
        for _ in 0..100 {
            assert_eq!(mirror.look_again(ghost(), || None::<()>).await, None);
        }
        assert_eq!(*reloads.borrow(), after_first, "known absent: no reload");
        // Another name still gets its reload, after which the first is asked again.
        assert_eq!(
            mirror
                .look_again(Miss::gateway("local", "other"), || None::<()>)
                .await,
            None
        );
        assert_eq!(*reloads.borrow(), 2);
        assert_eq!(mirror.look_again(ghost(), || Some(())).await, Some(()));
    }

    #[tokio::test]
    async fn the_absent_names_are_bounded() {
        let (mirror, completed) = SharedMirror::new();
        let mirror = Arc::new(mirror);
        serve_misses(mirror.clone(), completed);
        for i in 0..MAX_ABSENT + 10 {
            let token = format!("tgr_{i}");
            let _ = mirror
                .look_again(Miss::token("local", &token), || None::<()>)
                .await;
        }
        assert!(mirror.absent.lock().unwrap().len() <= MAX_ABSENT);
    }
}
