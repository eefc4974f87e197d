//! Single flight (docs/cache.md): concurrent identical requests on a miss make one upstream call. The
//! first caller for a key leads; the others wait for its outcome. In-process only: instances
//! sharing a Redis may each make one call, which is the price of not holding locks in Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::CachedResponse;

/// What a follower gets from its leader.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The leader's complete response, cacheable or not (e.g. a 500): followers replay it.
    Response(CachedResponse),
    /// The leader failed, was truncated or dropped: make your own request.
    Retry,
}

/// What [`super::ResponseCache::join`] made of this request.
pub enum Flight {
    /// You are the leader: make the upstream call, then call [`FlightGuard::finish`] (also on
    /// failure or truncation, or drop the guard: dropping without `finish` releases waiters with
    /// [`Outcome::Retry`]).
    Leader(FlightGuard),
    /// Another request was leader; here is its outcome.
    Follower(Outcome),
}

impl std::fmt::Debug for Flight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flight::Leader(guard) => f.debug_tuple("Leader").field(&guard.key).finish(),
            Flight::Follower(outcome) => f.debug_tuple("Follower").field(outcome).finish(),
        }
    }
}

/// `None` until the leader finishes; a sender dropped while `None` means [`Outcome::Retry`].
type Slot = watch::Sender<Option<Outcome>>;
type InFlight = Arc<Mutex<HashMap<String, Slot>>>;

/// This instance's in-flight keys: one entry per key being fetched, removed when its leader
/// finishes or is dropped, so the map never outgrows the requests in progress.
#[derive(Default)]
pub(crate) struct Flights {
    in_flight: InFlight,
}

impl Flights {
    pub(crate) async fn join(&self, key: &str) -> Flight {
        let mut receiver = {
            let mut map = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match map.get(key) {
                Some(slot) => slot.subscribe(),
                None => {
                    let (slot, _) = watch::channel(None);
                    map.insert(key.to_owned(), slot.clone());
                    return Flight::Leader(FlightGuard {
                        key: key.to_owned(),
                        slot: Some(slot),
                        in_flight: Arc::clone(&self.in_flight),
                    });
                }
            }
        };
        // The current value is checked before the closed state, so an outcome sent just before
        // the leader went away is still seen.
        let outcome = match receiver.wait_for(Option::is_some).await {
            Ok(value) => value.clone().unwrap_or(Outcome::Retry),
            Err(_) => Outcome::Retry,
        };
        Flight::Follower(outcome)
    }
}

/// The leader's handle on its key.
pub struct FlightGuard {
    key: String,
    /// `None` once finished.
    slot: Option<Slot>,
    in_flight: InFlight,
}

impl FlightGuard {
    /// Hands `outcome` to every follower and frees the key: the next `join` leads a new flight
    /// (by then a cacheable response is in the cache).
    pub fn finish(mut self, outcome: Outcome) {
        if let Some(slot) = self.release() {
            slot.send_replace(Some(outcome));
        }
    }

    /// Removes this flight from the map, unless it was already replaced (it cannot be while we
    /// hold it, but a stale guard must never remove a newer flight).
    fn release(&mut self) -> Option<Slot> {
        let slot = self.slot.take()?;
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&self.key)
            .is_some_and(|current| current.same_channel(&slot))
        {
            map.remove(&self.key);
        }
        Some(slot)
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        // Dropping the sender while it still holds `None` wakes followers with `Retry`.
        drop(self.release());
    }
}

impl std::fmt::Debug for FlightGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightGuard")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
impl Flights {
    pub(crate) fn len(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Followers currently waiting on `key`'s leader.
    pub(crate) fn waiting(&self, key: &str) -> usize {
        let map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(key).map_or(0, watch::Sender::receiver_count)
    }
}
