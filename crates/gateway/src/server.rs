//! Listening, TCP options, connection limits and graceful shutdown.
//!
//! Connections are accepted here and served by hyper with the `[limits]` settings: a cap on
//! open connections (more are closed as they are accepted), a deadline for each request head, a
//! bound on how long a connection's socket may take nothing ([`write_stall`]), hyper's parser
//! bounds and the HTTP/2 limits ([`http`]). Per-request limits (in-flight cap, head sizes, body
//! timeouts) are middleware, placed in [`crate::app`].

mod access_log;
mod body_timeout;
pub mod checks;
mod connection;
mod framing;
mod head_limits;
mod head_scan;
mod http;
mod shed;
mod write_stall;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

pub use access_log::{ACCESS_TARGET, access_log};
pub use body_timeout::{BodyTimeout, BodyTimeouts, TimedBody, is_body_timeout};
pub use checks::{CheckSettings, ChecksLayer};
pub use head_limits::HeadLimits;
pub use shed::InFlight;

use crate::app;
use crate::state::AppState;
use connection::Connection;

/// How long shutdown waits for the log store to take the spool's last records.
const LOG_FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// How long shutdown waits for the state's background tasks (a gateway change being written,
/// the shared-store reload and change listener, which stop at once) before shipping the logs.
const BACKGROUND_TASKS_LIMIT: Duration = Duration::from_secs(5);

/// After an accept error such as "too many open files", wait this long before accepting again,
/// so the loop does not spin while descriptors are short.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// A bound, serving gateway.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The listener of `metrics.listen`, serving only `/metrics`, when one is configured.
    pub metrics_addr: Option<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Binds `state`'s listen address (and `metrics.listen`, if set) and serves until
    /// `shutdown` completes; in-flight requests (streams included) then get the configured grace
    /// period to finish.
    pub async fn start(
        state: AppState,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<RunningServer> {
        let listener = bind(state.config().server.listen).await?;
        let addr = listener.local_addr()?;
        let metrics_listener = match state.config().metrics.listen {
            Some(listen) => Some(bind(listen).await?),
            None => None,
        };
        let metrics_addr = match &metrics_listener {
            Some(listener) => Some(listener.local_addr()?),
            None => None,
        };
        #[expect(
            clippy::disallowed_methods,
            reason = "the server's own task: RunningServer::wait is what waits for it, and it \
                      waits for every other task before it ends"
        )]
        let task = tokio::spawn(run(listener, metrics_listener, state, shutdown));
        Ok(RunningServer {
            addr,
            metrics_addr,
            task,
        })
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        Ok(self.task.await??)
    }
}

async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))
}

/// Serves the main listener and the metrics one until `shutdown`, then ships the logs.
async fn run(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let metrics = metrics_listener.map(|listener| {
        let mut stopped = stopped.clone();
        let router = crate::metrics::metrics_router(state.clone());
        state
            .tasks()
            .spawn(serve(listener, state.clone(), router, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }))
    });
    let sessions = state.clone();
    let main = serve(
        listener,
        state.clone(),
        app::router(state.clone()),
        async move {
            shutdown.await;
            // WebSocket sessions close with 1001 at once; they end on the background tasks the
            // server waits for below (docs/websockets.md).
            sessions.sessions().close_all();
            // So do the MCP endpoint's sessions and open streams (docs/mcp.md).
            sessions.mcp().close_all();
            let _ = stop.send(true);
        },
    );
    main.await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    if !state.tasks().shutdown(BACKGROUND_TASKS_LIMIT).await {
        tracing::warn!("background tasks still running at shutdown; not waiting for them");
    }
    // Every response has ended (or been cut): write out and ship the log records.
    if tokio::time::timeout(LOG_FLUSH_LIMIT, state.logs().shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "log store too slow at shutdown; the spool keeps the rest for the next start"
        );
    }
    Ok(())
}

/// Accepts and serves connections with the `[limits]` settings until `shutdown`, then gives
/// those in flight the grace period.
async fn serve(
    listener: TcpListener,
    state: AppState,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = state.config().limits.clone();
    let grace = state.config().server.shutdown_grace;
    let builder = Arc::new(http::builder(&limits));
    let scan_limits = http::scan_limits(&limits);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            // Finished connections are reaped as they end, so the set holds only live ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        pause_after_accept_error(error).await;
                        continue;
                    }
                };
                // Closed at once, before any byte is read: past the cap a connection must cost
                // nothing but the accept.
                let Ok(slot) = open.clone().try_acquire_owned() else {
                    state.metrics().connection_refused();
                    drop(tcp);
                    continue;
                };
                // Streaming tokens must not wait for Nagle's algorithm.
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
                let connection = Connection {
                    tcp,
                    peer,
                    router: router.clone(),
                    builder: builder.clone(),
                    stopping: stopping.clone(),
                    header_read_timeout: limits.header_read_timeout,
                    write_stall_timeout: write_stall::connection_bound(
                        limits.client_write_stall_timeout,
                    ),
                    scan_limits,
                };
                let state = state.clone();
                connections.spawn(async move {
                    state.metrics().connection_opened();
                    connection.serve().await;
                    state.metrics().connection_closed();
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?grace,
            "shutdown grace period over; closing remaining connections"
        );
        connections.shutdown().await;
    }
}

async fn pause_after_accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    // These concern one client's connection, not the listener: accept the next one at once.
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "accept failed; pausing before the next accept");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}
