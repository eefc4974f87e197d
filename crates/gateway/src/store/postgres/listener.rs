//! The change listener: one connection per instance, outside the pool, that LISTENs on
//! [`CHANNEL`] (notified by triggers on gateways and run tokens, migration 0004, on stored
//! provider keys, 0005, on routes, 0009, and on MCP servers, 0013) and tells the instance to
//! re-read them, so a change made through any instance applies on all at once.
//!
//! The connection is re-made with backoff when it drops. Notifications sent while it was down
//! are lost, so each new session starts with one "changed" of its own.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

use super::OP_TIMEOUT;
use super::connect::{Connector, Messages};
use crate::tasks::Tasks;

/// The channel the triggers notify on (its name is in the migration too).
const CHANNEL: &str = "tollgate_changes";

/// A listening connection is idle: asking it something this often shows that it still answers
/// (a partition gives no error on a connection that only waits).
const PING_INTERVAL: Duration = Duration::from_secs(10);

/// Reconnect backoff, as the log shipper's.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// How long a first notification waits for others of the same burst (a `tollgate migrate`, a
/// script creating many gateways): they become one reload.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// Changes seen by the listener, for the one task that reloads on them.
pub struct ChangeFeed {
    changes: watch::Receiver<u64>,
}

impl ChangeFeed {
    /// Waits until gateways or tokens may have changed, and a little more so a burst of changes
    /// ends in one wake-up.
    pub async fn changed(&mut self) {
        if self.changes.changed().await.is_err() {
            // The listener stopped (it only does once the feed is dropped): nothing will come.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(DEBOUNCE).await;
        self.changes.mark_unchanged();
    }
}

/// Starts the listener on `tasks`; it runs until the feed is dropped.
pub(super) fn start(connector: Connector, tasks: &Tasks) -> ChangeFeed {
    let (changed, changes) = watch::channel(0u64);
    tasks.spawn(async move {
        tokio::select! {
            () = changed.closed() => {}
            () = listen(&connector, &changed) => {}
        }
    });
    ChangeFeed { changes }
}

/// Listens for good: every session ends in an error, followed by a new one after a backoff.
async fn listen(connector: &Connector, changed: &watch::Sender<u64>) {
    let mut retry = RETRY_FIRST;
    loop {
        let (listened, error) = session(connector, changed).await;
        if listened {
            retry = RETRY_FIRST;
        }
        tracing::warn!(%error, ?retry, "the change listener lost PostgreSQL; reconnecting");
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// One connection: LISTEN, then relay notifications until the connection fails. Returns whether
/// it got as far as listening, and why it ended.
async fn session(connector: &Connector, changed: &watch::Sender<u64>) -> (bool, String) {
    let (client, mut messages) = match tokio::time::timeout(OP_TIMEOUT, connector.connect()).await {
        Ok(Ok(connected)) => connected,
        Ok(Err(error)) => return (false, error.to_string()),
        Err(_) => return (false, format!("no connection within {OP_TIMEOUT:?}")),
    };
    let mut listened = false;
    // The client's calls make progress only while `messages` is read, hence one select over both.
    let error = relay(
        keep_listening(&client, changed, &mut listened),
        &mut messages,
        changed,
    )
    .await;
    (listened, error)
}

/// LISTEN, then a ping now and then; ends only with the error that broke the connection.
async fn keep_listening(
    client: &tokio_postgres::Client,
    changed: &watch::Sender<u64>,
    listened: &mut bool,
) -> String {
    if let Err(error) = ask(client, &format!("LISTEN {CHANNEL}")).await {
        return error;
    }
    *listened = true;
    changed.send_modify(|count| *count += 1);
    loop {
        tokio::time::sleep(PING_INTERVAL).await;
        if let Err(error) = ask(client, "SELECT 1").await {
            return error;
        }
    }
}

/// Drives the connection: counts notifications while `calls` runs; returns why either ended.
async fn relay(
    calls: impl Future<Output = String>,
    messages: &mut Messages,
    changed: &watch::Sender<u64>,
) -> String {
    let mut calls = std::pin::pin!(calls);
    loop {
        tokio::select! {
            error = &mut calls => return error,
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    changed.send_modify(|count| *count += 1);
                }
                // Notices (warnings from the server) carry nothing for the gateway.
                Some(Ok(_)) => {}
                Some(Err(error)) => return error.to_string(),
                None => return "the connection closed".into(),
            },
        }
    }
}

async fn ask(client: &tokio_postgres::Client, sql: &str) -> Result<(), String> {
    match tokio::time::timeout(OP_TIMEOUT, client.batch_execute(sql)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {OP_TIMEOUT:?}")),
    }
}
