//! A mock AI provider (OpenAI, Anthropic and Gemini wire formats, an OpenAI Realtime
//! WebSocket, and an MCP server with one tool) for tests and benchmarks.
//!
//! [`MockUpstream::start`] serves on an ephemeral loopback port until the handle is dropped.
//! Every reply is deterministic (same request body → byte-identical response), so tests can
//! compare bytes and benchmarks measure the gateway rather than the mock.

mod anthropic;
mod behavior;
mod control;
mod gemini;
mod mcp;
mod openai;
mod realtime;
mod record;
mod reply;
mod respond;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;

pub use behavior::Behavior;
pub use record::RecordedRequest;

use server::Shared;

/// A running mock provider. Dropping it stops the server and closes every open connection.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl MockUpstream {
    /// Binds 127.0.0.1:0 and serves in a background tokio task until dropped.
    pub async fn start() -> std::io::Result<MockUpstream> {
        Self::bind("127.0.0.1:0").await
    }

    /// Like [`MockUpstream::start`] but on a chosen address (the `tollgate-mock` binary uses it).
    pub async fn bind(addr: impl ToSocketAddrs) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        #[expect(
            clippy::disallowed_methods,
            reason = "the mock's server task: MockUpstream owns its handle and aborts it on drop"
        )]
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        Ok(MockUpstream { addr, shared, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://127.0.0.1:PORT"
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, oldest first (bounded to the last 10,000).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.snapshot()
    }

    /// Total number of requests ever received (control requests excluded); not capped and not
    /// reset by [`MockUpstream::clear_requests`], so `wait_for_requests` stays monotonic.
    pub fn request_count(&self) -> usize {
        self.shared.recorder.total()
    }

    /// Forgets the recorded requests (the total count is kept).
    pub fn clear_requests(&self) {
        self.shared.recorder.clear();
    }

    /// Switches request recording on or off (on by default). Requests are still counted when
    /// off; benchmarks turn it off to skip copying headers.
    pub fn set_recording(&self, on: bool) {
        self.shared.recorder.set_enabled(on);
    }

    /// Queue a behaviour for the next request (FIFO); each queued entry is consumed by one request.
    pub fn push(&self, behavior: Behavior) {
        self.shared.push_n(behavior, 1);
    }

    /// Queue the same behaviour for the next n requests ("fail N times").
    pub fn push_n(&self, behavior: Behavior, n: usize) {
        self.shared.push_n(behavior, n);
    }

    /// Drops every queued behaviour that no request has consumed yet.
    pub fn clear_behaviors(&self) {
        self.shared.clear_behaviors();
    }

    /// Client connections open right now.
    pub fn open_connections(&self) -> usize {
        *self.shared.open_connections.borrow()
    }

    /// Waits until at most n client connections are open.
    pub async fn wait_for_open_connections_at_most(&self, n: usize) {
        let mut rx = self.shared.open_connections.subscribe();
        // Only fails if the sender is gone, which cannot happen while `self` is borrowed.
        let _ = rx.wait_for(|open| *open <= n).await;
    }

    /// Waits until at least n requests were received in total.
    pub async fn wait_for_requests(&self, n: usize) {
        self.shared.recorder.wait_for(n).await;
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        // The serve task owns every connection task (a JoinSet), so aborting it also closes
        // hung and paused connections instead of leaving them to the runtime.
        self.task.abort();
    }
}
