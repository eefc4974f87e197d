//! One call to the database: a pooled connection used under a time limit. A connection whose
//! call ran out of time is discarded, not returned to the pool.
//!
//! Why discard it: a connection cut by a network partition (no RST, packets silently dropped)
//! stays "open" to the pool's cheap recycling check, so every later call handed that connection
//! would wait out its whole time limit again, until TCP gives up minutes later. A call that did
//! not answer in time says nothing good about its connection; a fresh one costs a handshake.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Object, Pool};

use crate::store::{StoreError, StoreResult};

tokio::task_local! {
    /// Set when the call running in this scope ran out of time (its future is being dropped).
    static ABANDONED: Arc<AtomicBool>;
}

/// Runs `work` under `limit`; running out of time is a backend error like any other, and any
/// connection `work` had leased is discarded.
pub(super) async fn bounded<T>(
    limit: Duration,
    work: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    let abandoned = Arc::new(AtomicBool::new(false));
    let mut work = Box::pin(ABANDONED.scope(abandoned.clone(), work));
    match tokio::time::timeout(limit, work.as_mut()).await {
        Ok(result) => result,
        Err(_) => {
            // Flagged before the future (and the leases inside it) is dropped.
            abandoned.store(true, Ordering::Relaxed);
            drop(work);
            Err(StoreError::Backend(format!(
                "PostgreSQL did not answer within {limit:?}"
            )))
        }
    }
}

/// A pooled connection taken inside [`bounded`]; derefs to the pool's object.
pub(super) struct Lease {
    object: Option<Object>,
    abandoned: Option<Arc<AtomicBool>>,
}

/// Takes a connection from the pool (the pool's own timeouts bound the wait and the connect).
pub(super) async fn lease(pool: &Pool) -> StoreResult<Lease> {
    let object = pool.get().await.map_err(StoreError::from)?;
    Ok(Lease {
        object: Some(object),
        abandoned: ABANDONED.try_with(Arc::clone).ok(),
    })
}

impl Deref for Lease {
    type Target = Object;

    fn deref(&self) -> &Object {
        // Present until drop.
        self.object.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Object {
        self.object.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let abandoned = self
            .abandoned
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed));
        if let Some(object) = self.object.take()
            && abandoned
        {
            // Out of the pool; dropping the client closes the connection.
            drop(Object::take(object));
        }
    }
}
