//! The WebSocket sessions open on this instance: a bound on how many (each holds two sockets
//! and two frame buffers), and the signal that closes them all with 1001 when the server stops
//! (docs/websockets.md).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Shared by every session of the instance (one in the state).
pub struct Sessions {
    open: Arc<Semaphore>,
    closing: CancellationToken,
}

/// One open session's place; given back when the session ends.
pub struct SessionSlot {
    _permit: OwnedSemaphorePermit,
    pub closing: CancellationToken,
}

impl Sessions {
    pub fn new(max_sessions: usize) -> Sessions {
        Sessions {
            open: Arc::new(Semaphore::new(max_sessions)),
            closing: CancellationToken::new(),
        }
    }

    /// A place for one more session, or `None` at the bound (or once the server is stopping).
    pub fn admit(&self) -> Option<SessionSlot> {
        if self.closing.is_cancelled() {
            return None;
        }
        let permit = self.open.clone().try_acquire_owned().ok()?;
        Some(SessionSlot {
            _permit: permit,
            closing: self.closing.clone(),
        })
    }

    /// Sessions open now.
    pub fn open(&self, max_sessions: usize) -> usize {
        max_sessions.saturating_sub(self.open.available_permits())
    }

    /// Tells every session to close (1001, going away); the server calls it when it stops
    /// accepting, and waits for the sessions with its background tasks.
    pub fn close_all(&self) {
        self.closing.cancel();
    }
}
