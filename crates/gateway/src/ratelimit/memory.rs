//! The in-process limiter: counters in sharded maps, bounded in keys and in stored timestamps.
//!
//! Each check locks one shard (chosen by the key's hash), so requests for different keys rarely
//! wait for each other, and the check-and-count of one key is exact under any concurrency.
//!
//! Memory is bounded two ways, because an attacker controls how many keys exist (one per IP or
//! header value) and how many requests each admits:
//! - at most `max_keys` keys in all (each shard holds its share);
//! - at most [`LOG_BUDGET_BYTES`] of sliding-log timestamps in all (each shard its share),
//!   counted by allocated capacity, not length.
//!
//! When a shard is over either bound it first drops keys that no longer hold anything (their
//! window has passed), then the least recently used ones, down to 7/8 of the bound so the cost
//! of the sweep is spread over many inserts. A dropped live key forgets what it counted: under
//! that pressure a key can be admitted more than its limit, never refused wrongly.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use super::rule::{
    Algorithm, Decision, RateLimitRule, counter_admits, counter_decision, fixed_decision,
    log_decision,
};

/// Upper bound on the shards; fewer when `max_keys` is smaller, so each shard may hold a key.
const SHARDS: usize = 64;

/// Total memory the sliding logs may hold (8-byte timestamps).
pub const LOG_BUDGET_BYTES: usize = 64 * 1024 * 1024;

const LOG_BUDGET_STAMPS: usize = LOG_BUDGET_BYTES / 8;

/// Above this limit a sliding rule is counted with the two-window counter: one key's log may
/// then take at most half of one shard's timestamp budget (65,536 timestamps, 512 KiB), so a
/// single busy key cannot starve the others of its shard.
#[expect(
    clippy::cast_possible_truncation,
    reason = "65,536 fits in u32; `u32::try_from` is not available in a const"
)]
pub const MAX_EXACT_SLIDING_LIMIT: u32 = (LOG_BUDGET_STAMPS / SHARDS / 2) as u32;

#[derive(Debug)]
enum State {
    Fixed { index: i64, count: u32 },
    Log(VecDeque<i64>),
    Counter { index: i64, prev: u32, curr: u32 },
}

#[derive(Debug)]
struct Entry {
    state: State,
    window_ms: i64,
    /// The shard's tick at the last check: a strict recency order for LRU eviction, which
    /// millisecond times are not (many checks share a millisecond, and tests freeze the clock).
    last_used: u64,
    /// From this time on the entry holds nothing that affects a decision.
    expires_at: i64,
}

impl Entry {
    fn new(algorithm: Algorithm, window_ms: i64) -> Entry {
        let state = match algorithm {
            Algorithm::Fixed => State::Fixed {
                index: i64::MIN,
                count: 0,
            },
            Algorithm::Log => State::Log(VecDeque::new()),
            Algorithm::Counter => State::Counter {
                index: i64::MIN,
                prev: 0,
                curr: 0,
            },
        };
        Entry {
            state,
            window_ms,
            last_used: 0,
            expires_at: i64::MIN,
        }
    }

    fn matches(&self, algorithm: Algorithm, window_ms: i64) -> bool {
        let same = matches!(
            (&self.state, algorithm),
            (State::Fixed { .. }, Algorithm::Fixed)
                | (State::Log(_), Algorithm::Log)
                | (State::Counter { .. }, Algorithm::Counter)
        );
        same && self.window_ms == window_ms
    }

    /// Timestamps this entry keeps allocated.
    fn stamps(&self) -> usize {
        match &self.state {
            State::Log(log) => log.capacity(),
            _ => 0,
        }
    }

    fn check(&mut self, limit: u32, now: i64) -> Decision {
        let w = self.window_ms;
        match &mut self.state {
            State::Fixed { index, count } => {
                // `max`: a clock stepping back does not reopen a window already counted.
                let current = now.div_euclid(w).max(*index);
                if current != *index {
                    *index = current;
                    *count = 0;
                }
                let admitted = *count < limit;
                if admitted {
                    *count += 1;
                }
                self.expires_at = current.saturating_add(1).saturating_mul(w);
                fixed_decision(limit, w, now, current, admitted, u64::from(*count))
            }
            State::Log(log) => {
                // Per key, time never goes back: the log stays sorted and pruning from the
                // front stays right even if the wall clock is stepped back.
                let now = log.back().map_or(now, |&newest| now.max(newest));
                while log.front().is_some_and(|&t| t <= now.saturating_sub(w)) {
                    log.pop_front();
                }
                if log.capacity() > 16 && log.len() < log.capacity() / 4 {
                    log.shrink_to(log.len() * 2);
                }
                let limit_len = limit as usize;
                let admitted = log.len() < limit_len;
                if admitted {
                    if log.len() == log.capacity() {
                        // Grow by doubling, but never past `limit`: the budget counts capacity.
                        let want = (log.capacity() * 2).max(4).min(limit_len);
                        log.reserve_exact(want.saturating_sub(log.len()));
                    }
                    log.push_back(now);
                }
                let oldest = log.front().copied().unwrap_or(now);
                let newest = log.back().copied().unwrap_or(now);
                let blocker = log
                    .len()
                    .checked_sub(limit_len)
                    .and_then(|i| log.get(i))
                    .copied()
                    .unwrap_or(oldest);
                self.expires_at = newest.saturating_add(w);
                log_decision(limit, w, now, admitted, log.len() as u64, oldest, blocker)
            }
            State::Counter { index, prev, curr } => {
                let current = now.div_euclid(w).max(*index);
                if current != *index {
                    *prev = if current == index.saturating_add(1) {
                        *curr
                    } else {
                        0
                    };
                    *curr = 0;
                    *index = current;
                }
                let elapsed = (now - current.saturating_mul(w)).clamp(0, w - 1);
                let admitted =
                    counter_admits(limit, w, elapsed, u64::from(*prev), u64::from(*curr));
                if admitted {
                    *curr += 1;
                }
                self.expires_at = current.saturating_add(2).saturating_mul(w);
                counter_decision(
                    limit,
                    w,
                    elapsed,
                    admitted,
                    u64::from(*prev),
                    u64::from(*curr),
                )
            }
        }
    }
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<Box<str>, Entry>,
    tick: u64,
    /// Sum of `Entry::stamps` over the map.
    stamps: usize,
}

impl Shard {
    /// Drops entries until at most `max_keys` keys and `max_stamps` timestamps remain: first
    /// those with nothing left in them, then the least recently used.
    fn shrink(&mut self, now: i64, max_keys: usize, max_stamps: usize) {
        let mut stamps = 0;
        self.map.retain(|_, entry| {
            let keep = entry.expires_at > now;
            if keep {
                stamps += entry.stamps();
            }
            keep
        });
        self.stamps = stamps;
        if self.map.len() <= max_keys && self.stamps <= max_stamps {
            return;
        }
        let mut by_age: Vec<(u64, usize)> = self
            .map
            .values()
            .map(|entry| (entry.last_used, entry.stamps()))
            .collect();
        by_age.sort_unstable();
        let (mut keys, mut stamps) = (self.map.len(), self.stamps);
        let mut cutoff = None;
        for (last_used, cost) in by_age {
            if keys <= max_keys && stamps <= max_stamps {
                break;
            }
            keys -= 1;
            stamps -= cost;
            cutoff = Some(last_used);
        }
        if let Some(cutoff) = cutoff {
            self.map.retain(|_, entry| entry.last_used > cutoff);
            self.stamps = stamps;
        }
    }
}

/// 7/8 of a bound, and at least one below it: where a sweep stops.
fn low_water(bound: usize) -> usize {
    bound.saturating_sub((bound / 8).max(1))
}

/// Counters for all keys of this process.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    keys_per_shard: usize,
    stamps_per_shard: usize,
    max_exact: u32,
}

impl MemoryLimiter {
    pub(crate) fn new(max_keys: usize) -> MemoryLimiter {
        MemoryLimiter::with_bounds(SHARDS, max_keys, LOG_BUDGET_STAMPS, MAX_EXACT_SLIDING_LIMIT)
    }

    /// `max_keys` is clamped to at least 1. The shard count is lowered to `max_keys` when that
    /// is smaller, and each shard holds `max_keys / shards` keys, so the total never exceeds
    /// `max_keys`.
    pub(crate) fn with_bounds(
        shards: usize,
        max_keys: usize,
        max_stamps: usize,
        max_exact: u32,
    ) -> MemoryLimiter {
        let max_keys = max_keys.max(1);
        let shards = shards.clamp(1, max_keys);
        MemoryLimiter {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            keys_per_shard: max_keys / shards,
            stamps_per_shard: (max_stamps / shards).max(1),
            max_exact,
        }
    }

    pub(crate) fn max_exact(&self) -> u32 {
        self.max_exact
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "the remainder is below shards.len(), a usize"
        )]
        let index = (self.hasher.hash_one(key) % self.shards.len() as u64) as usize;
        // A panic while holding a shard cannot leave it inconsistent in a way that matters
        // more than refusing every request would, so a poisoned lock is used as it is.
        let shard = &self.shards[index.min(self.shards.len() - 1)];
        shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn check(&self, key: &str, rule: &RateLimitRule, now: i64) -> Decision {
        let algorithm = rule.algorithm(self.max_exact);
        let window_ms = rule.window_ms();
        let mut guard = self.shard(key);
        let shard = &mut *guard;
        shard.tick += 1;
        let tick = shard.tick;

        let decision = if let Some(entry) = shard.map.get_mut(key) {
            if !entry.matches(algorithm, window_ms) {
                // The gateway's rule changed: what was counted under the old one is dropped.
                shard.stamps -= entry.stamps();
                *entry = Entry::new(algorithm, window_ms);
            }
            let before = entry.stamps();
            entry.last_used = tick;
            let decision = entry.check(rule.limit, now);
            shard.stamps = shard.stamps - before + entry.stamps();
            decision
        } else {
            if shard.map.len() >= self.keys_per_shard {
                shard.shrink(now, low_water(self.keys_per_shard), self.stamps_per_shard);
            }
            let mut entry = Entry::new(algorithm, window_ms);
            entry.last_used = tick;
            let decision = entry.check(rule.limit, now);
            shard.stamps += entry.stamps();
            shard.map.insert(key.into(), entry);
            decision
        };
        if shard.stamps > self.stamps_per_shard {
            // The entry just used has the newest tick, so it is the last to go.
            shard.shrink(now, shard.map.len(), low_water(self.stamps_per_shard));
        }
        decision
    }

    /// Keys currently held (a metric; also what the memory bound is tested with).
    pub(crate) fn keys(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    /// Timestamps currently allocated by sliding logs.
    pub(crate) fn stamps(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|p| p.into_inner()).stamps)
            .sum()
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.shard(key).map.contains_key(key)
    }
}
