//! One client connection: served by hyper with the peer address on every request, closed if no
//! request head arrives in time or its socket takes no byte for too long ([`super::write_stall`]),
//! and drained gracefully when the server stops. Its bytes pass through [`super::head_scan`] so a
//! request with both framing headers can be refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::head_scan::{AmbiguousFraming, FramingWatch, ScanLimits, ScannedIo};
use super::write_stall::{StallWatchedIo, WriteStall};

pub struct Connection {
    pub tcp: TcpStream,
    pub peer: SocketAddr,
    pub router: Router,
    pub builder: Arc<Builder<TokioExecutor>>,
    /// Turns `true` when the server stops accepting; the connection then finishes its
    /// in-flight requests and closes.
    pub stopping: watch::Receiver<bool>,
    pub header_read_timeout: Duration,
    /// Longest the socket may take no byte while the server has some for it.
    pub write_stall_timeout: Duration,
    pub scan_limits: ScanLimits,
}

impl Connection {
    pub async fn serve(self) {
        let Connection {
            tcp,
            peer,
            router,
            builder,
            mut stopping,
            header_read_timeout,
            write_stall_timeout,
            scan_limits,
        } = self;
        let first_head = Arc::new(Notify::new());
        let watch = FramingWatch::new();
        let service = {
            let first_head = first_head.clone();
            let watch = watch.clone();
            // hyper hands HTTP/1 requests over one at a time, in the order their heads arrived,
            // which is the order the scanner numbered them in.
            let heads = Arc::new(AtomicU64::new(0));
            router.map_request(move |request: http::Request<Incoming>| {
                first_head.notify_one();
                let index = heads.fetch_add(1, Ordering::Relaxed);
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                if watch.is_ambiguous(index) {
                    request.extensions_mut().insert(AmbiguousFraming);
                }
                request
            })
        };
        let stall = WriteStall::new();
        let tcp = StallWatchedIo::new(tcp, stall.clone());
        // Upgrades are served for WebSocket sessions only: hyper switches protocols only when
        // the service answers 101, which the proxy does for a bodiless GET with a valid
        // WebSocket handshake after admission (proxy/realtime/), never for a request with a
        // body (smuggling). The upgraded session then lives on the state's tasks, bounded by
        // `[websockets] max_sessions` rather than by this connection's slot.
        let io = TokioIo::new(ScannedIo::new(tcp, scan_limits, watch));
        let connection =
            builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
        let mut connection = std::pin::pin!(connection);
        // hyper's header timeout starts once it knows the protocol; this one also covers the
        // bytes it reads to find out, so a client trickling its first line is closed too.
        let head_deadline = async {
            tokio::select! {
                () = first_head.notified() => std::future::pending::<()>().await,
                () = tokio::time::sleep(header_read_timeout) => {}
            }
        };
        let mut head_deadline = std::pin::pin!(head_deadline);
        let mut draining = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                () = &mut head_deadline => {
                    tracing::debug!(%peer, "no request head in time; closing the connection");
                    return;
                }
                // Also ends a drain that waits on a client which reads nothing.
                () = stall.exceeded(write_stall_timeout) => {
                    tracing::debug!(%peer, "the client took no bytes in time; closing the connection");
                    return;
                }
                changed = stopping.changed(), if !draining => {
                    if changed.is_err() || *stopping.borrow() {
                        draining = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}
