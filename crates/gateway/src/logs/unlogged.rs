//! The end of a request that has no log row (a gateway that does not collect logs, a request
//! refused before it went upstream) is counted in memory for analytics, not written to the
//! spool: there is no row for it to complete, and its spool record cost an encode, a write, a
//! read, a decode and an `UPDATE` that found nothing (bench/PROFILE.md, fourth pass). The
//! shipper stores the sums with its next batch (docs/analytics.md, "Durability").
//!
//! Which ends have a row is known exactly: a row exists only once this process wrote its begin
//! record, so the ids of begins written and not yet ended are kept here.

use std::collections::HashSet;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::record::LogEnd;
use crate::analytics::RollupTally;

#[derive(Default)]
pub struct Unlogged {
    /// Log ids (UUIDs) whose begin record was written or is being written, until their end.
    begun: Mutex<HashSet<u128>>,
    pending: Mutex<Pending>,
    /// Wakes the shipper when the first end is counted after it last took the sums.
    pub(super) counted: Notify,
}

/// The sums not yet stored, and how many ends were ever counted (for [`super::LogPipeline::flushed`]).
#[derive(Default)]
struct Pending {
    tally: RollupTally,
    counted: u64,
}

impl Unlogged {
    /// Notes that a begin record for `id` is on its way to the spool; returns the id as kept.
    pub fn begin(&self, id: &str) -> Option<u128> {
        let id = parse(id)?;
        lock(&self.begun).insert(id);
        Some(id)
    }

    /// Forgets a begin that was not written.
    pub fn forget(&self, id: u128) {
        lock(&self.begun).remove(&id);
    }

    /// Whether the request `id` has a row to complete (its begin was written), forgetting it.
    /// An id that is not a UUID is assumed to have one: its end goes to the spool, as before.
    pub fn end(&self, id: &str) -> bool {
        parse(id).is_none_or(|id| lock(&self.begun).remove(&id))
    }

    /// Counts the end of a request that has no row.
    pub fn count(&self, end: &LogEnd) {
        let mut pending = lock(&self.pending);
        let was_empty = pending.tally.is_empty();
        pending.tally.count(end);
        pending.counted += 1;
        drop(pending);
        if was_empty {
            self.counted.notify_one();
        }
    }

    /// Ends counted so far.
    pub fn counted(&self) -> u64 {
        lock(&self.pending).counted
    }

    /// Whether any sums wait to be stored.
    pub fn is_pending(&self) -> bool {
        !lock(&self.pending).tally.is_empty()
    }

    /// The sums to store, and the count of ends they cover.
    pub fn take(&self) -> (RollupTally, u64) {
        let mut pending = lock(&self.pending);
        (std::mem::take(&mut pending.tally), pending.counted)
    }

    /// Puts back sums the store did not take.
    pub fn put_back(&self, tally: RollupTally) {
        lock(&self.pending).tally.merge(tally);
    }
}

fn parse(id: &str) -> Option<u128> {
    uuid::Uuid::try_parse(id).ok().map(|id| id.as_u128())
}

/// The data behind these locks is valid whatever a panicking holder did (a set and sums).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::RollupFacts;

    const ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

    fn end(id: &str) -> LogEnd {
        LogEnd {
            id: id.to_owned(),
            rollup: Some(RollupFacts {
                created_at_ms: 1_700_000_000_000,
                account_id: "local".into(),
                gateway_id: "quiet".into(),
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
            }),
            status_code: Some(200),
            success: true,
            ..LogEnd::default()
        }
    }

    #[test]
    fn only_an_end_whose_begin_was_written_has_a_row() {
        let unlogged = Unlogged::default();
        assert!(!unlogged.end(ID), "no begin: no row");
        unlogged.begin(ID);
        assert!(unlogged.end(ID));
        assert!(!unlogged.end(ID), "the row is completed once");
        let id = unlogged.begin(ID);
        unlogged.forget(id.unwrap_or_default());
        assert!(
            !unlogged.end(ID),
            "a begin that was not written left no row"
        );
        assert!(unlogged.end("not-a-uuid"), "unknown ids go to the spool");
    }

    #[test]
    fn counted_ends_are_taken_once_and_put_back_on_failure() {
        let unlogged = Unlogged::default();
        unlogged.count(&end(ID));
        unlogged.count(&end(ID));
        assert!(unlogged.is_pending());
        let (tally, counted) = unlogged.take();
        assert_eq!(counted, 2);
        assert!(!unlogged.is_pending());
        unlogged.put_back(tally);
        unlogged.count(&end(ID));
        let (tally, counted) = unlogged.take();
        assert_eq!(counted, 3);
        let deltas = tally.into_deltas();
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas[0].measures.requests, 3);
    }
}
