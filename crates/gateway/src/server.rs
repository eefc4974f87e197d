//! Listening, TCP options and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::app;
use crate::state::AppState;

/// How long shutdown waits for the log store to take the spool's last records.
const LOG_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A bound, serving gateway.
pub struct RunningServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Binds `state`'s listen address and serves until `shutdown` completes; in-flight requests
    /// (streams included) then get the configured grace period to finish.
    pub async fn start(
        state: AppState,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<RunningServer> {
        let listen = state.config().server.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let grace = state.config().server.shutdown_grace;
        let logs = state.logs().clone();
        // Streaming tokens must not wait for Nagle's algorithm.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
        let serve = axum::serve(
            listener,
            app::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = drain_tx.send(());
        });
        let task = tokio::spawn(async move {
            let serve = std::pin::pin!(serve.into_future());
            let mut serve = serve;
            let served = tokio::select! {
                result = &mut serve => result,
                () = async {
                    if drain_rx.await.is_ok() {
                        tokio::time::sleep(grace).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                } => {
                    tracing::warn!(?grace, "shutdown grace period over; closing remaining connections");
                    Ok(())
                }
            };
            // Every response has ended (or been cut): write out and ship the log records.
            if tokio::time::timeout(LOG_FLUSH_LIMIT, logs.shutdown())
                .await
                .is_err()
            {
                tracing::warn!(
                    "log store too slow at shutdown; the spool keeps the rest for the next start"
                );
            }
            served
        });
        Ok(RunningServer { addr, task })
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        Ok(self.task.await??)
    }
}
