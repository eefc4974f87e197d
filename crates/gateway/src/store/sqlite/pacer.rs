//! Lets a long ingest batch step aside for request threads every few rows.
//!
//! A shipper batch is milliseconds of SQLite work. On a busy core the scheduler lets a running
//! thread finish its time slice before a thread it just woke gets to run, so a request whose
//! packet arrives during a batch waited for most of it: a 3–4 ms p99 at concurrency 1 with the
//! gateway on one core (bench/PROFILE.md, third pass). Yielding every few rows bounds that wait
//! to a few rows' work; when nothing else is runnable the yield returns at once.

/// Rows written between two yields (a row and its rollup upserts are ~10–20 µs).
const ROWS_PER_YIELD: u32 = 8;

#[derive(Default)]
pub(super) struct Pacer {
    rows: u32,
}

impl Pacer {
    /// Counts one written row; every [`ROWS_PER_YIELD`] rows, offers the core to others.
    pub(super) fn row(&mut self) {
        self.rows += 1;
        if self.rows.is_multiple_of(ROWS_PER_YIELD) {
            std::thread::yield_now();
        }
    }
}
