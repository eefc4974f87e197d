//! The connection write-stall guard: a connection whose socket has taken no byte for too long
//! while the server has bytes for it is closed. No stream's timer covers what a connection
//! itself writes — HTTP/2 PING and SETTINGS acknowledgements, resets, the GOAWAY that would end
//! it — so a client that floods frames and never reads would otherwise hold its connection for
//! ever (docs/reliability.md, LD-11).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::clock::monotonic_now;

/// The connection bound is this many times `client_write_stall_timeout_ms`, so that a stalled
/// response stream is cut (and its row says `client stalled`) before its connection is.
const STREAM_BOUNDS_PER_CONNECTION_BOUND: u32 = 2;

/// How long a connection's writes may make no progress before it is closed.
pub fn connection_bound(client_write_stall_timeout: Duration) -> Duration {
    client_write_stall_timeout.saturating_mul(STREAM_BOUNDS_PER_CONNECTION_BOUND)
}

/// When the connection's writes last started waiting on a full socket; shared by the socket
/// wrapper and the connection's task.
pub struct WriteStall {
    origin: Instant,
    /// Nanoseconds after `origin` plus one at which the current stall began; 0 when none.
    since: AtomicU64,
    begun: Notify,
}

impl WriteStall {
    pub fn new() -> Arc<WriteStall> {
        Arc::new(WriteStall {
            origin: monotonic_now(),
            since: AtomicU64::new(0),
            begun: Notify::new(),
        })
    }

    fn stalled(&self) {
        if self.since.load(Ordering::Relaxed) == 0 {
            let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
            self.since.store(nanos + 1, Ordering::Relaxed);
            self.begun.notify_one();
        }
    }

    fn progressed(&self) {
        if self.since.load(Ordering::Relaxed) != 0 {
            self.since.store(0, Ordering::Relaxed);
        }
    }

    fn since(&self) -> Option<Instant> {
        match self.since.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(self.origin + Duration::from_nanos(nanos - 1)),
        }
    }

    /// Completes once one stall has lasted `limit`.
    pub async fn exceeded(&self, limit: Duration) {
        loop {
            match self.since() {
                // `notify_one` keeps a permit, so a stall beginning right here is not missed.
                None => self.begun.notified().await,
                Some(since) => {
                    let deadline = since + limit;
                    if monotonic_now() >= deadline {
                        return;
                    }
                    tokio::time::sleep_until(deadline).await;
                }
            }
        }
    }
}

/// A socket whose write progress is reported to a [`WriteStall`].
pub struct StallWatchedIo<T> {
    inner: T,
    stall: Arc<WriteStall>,
}

impl<T> StallWatchedIo<T> {
    pub fn new(inner: T, stall: Arc<WriteStall>) -> StallWatchedIo<T> {
        StallWatchedIo { inner, stall }
    }

    fn observe(&self, poll: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &poll {
            Poll::Pending => self.stall.stalled(),
            Poll::Ready(Ok(1..)) => self.stall.progressed(),
            Poll::Ready(_) => {}
        }
        poll
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallWatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallWatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.observe(poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.observe(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    /// Writes into a 64-byte pipe until a write waits; returns the reading end.
    async fn fill(
        stall: &Arc<WriteStall>,
    ) -> (
        StallWatchedIo<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
    ) {
        let (ours, theirs) = duplex(64);
        let mut io = StallWatchedIo::new(ours, stall.clone());
        io.write_all(&[0; 64]).await.unwrap();
        assert_next_write_waits(&mut io).await;
        (io, theirs)
    }

    async fn assert_next_write_waits(io: &mut StallWatchedIo<tokio::io::DuplexStream>) {
        let waiting = tokio::time::timeout(Duration::from_millis(1), io.write_all(&[0; 1])).await;
        assert!(waiting.is_err());
    }

    /// Waits for the stall to be reported and returns how long that took.
    async fn reported(stall: &WriteStall) -> Duration {
        let started = monotonic_now();
        tokio::time::timeout(LIMIT * 2, stall.exceeded(LIMIT))
            .await
            .unwrap();
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_waits_for_the_limit_is_reported() {
        let stall = WriteStall::new();
        let _pipe = fill(&stall).await;
        assert!(reported(&stall).await >= LIMIT - Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_restarts_the_clock() {
        let stall = WriteStall::new();
        let (mut io, mut theirs) = fill(&stall).await;
        tokio::time::advance(LIMIT / 2).await;
        // The client reads a little, a write goes through, and the next one waits anew.
        theirs.read_exact(&mut [0; 8]).await.unwrap();
        io.write_all(&[0; 8]).await.unwrap();
        assert!(stall.since().is_none());
        assert_next_write_waits(&mut io).await;
        assert!(reported(&stall).await >= LIMIT - Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn writes_that_never_wait_never_trip_it() {
        let stall = WriteStall::new();
        let (ours, _theirs) = duplex(1024);
        let mut io = StallWatchedIo::new(ours, stall.clone());
        io.write_all(&[0; 512]).await.unwrap();
        let tripped = tokio::time::timeout(LIMIT * 3, stall.exceeded(LIMIT)).await;
        assert!(tripped.is_err());
    }
}
