//! What a rollup is keyed by and what it adds up, and how a batch of end records becomes
//! rollup deltas (one per distinct key and minute, so a busy minute is one upsert per batch).

use std::collections::HashMap;

use super::sketch::LatencySketch;
use crate::convert::{non_negative_u64, signed_as_f64};
use crate::logs::LogEnd;

/// Longest model name kept in a rollup key; longer ones are cut (client-chosen strings must not
/// grow rollup rows without bound).
const MAX_MODEL_CHARS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];

    pub fn millis(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }

    /// The start of the bucket holding `ms` (UTC-aligned).
    pub fn floor(self, ms: i64) -> i64 {
        ms.div_euclid(self.millis()) * self.millis()
    }

    pub fn parse(text: &str) -> Option<Resolution> {
        match text {
            "minute" => Some(Resolution::Minute),
            "hour" => Some(Resolution::Hour),
            "day" => Some(Resolution::Day),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RollupKey {
    /// Start of the minute (for deltas) or of the row's bucket (for stored rows), Unix ms.
    pub bucket_ms: i64,
    pub account_id: String,
    pub gateway_id: String,
    pub provider: String,
    pub model: String,
    /// 2, 3, 4 or 5 (status / 100); 0 when no status was produced.
    pub status_class: u8,
    pub cached: bool,
}

/// Sums for one key.
#[derive(Debug, Clone, Default)]
pub struct RollupMeasures {
    pub requests: u64,
    pub errors: u64,
    pub cached_requests: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost: f64,
    pub duration: LatencySketch,
    pub ttfb: LatencySketch,
}

impl RollupMeasures {
    pub fn add(&mut self, other: &RollupMeasures) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.cached_requests += other.cached_requests;
        self.tokens_in += other.tokens_in;
        self.tokens_out += other.tokens_out;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost += other.cost;
        self.duration.merge(&other.duration);
        self.ttfb.merge(&other.ttfb);
    }
}

/// What one batch adds to one key (at minute resolution; the store also folds it into the
/// hour and day rollups).
#[derive(Debug, Clone)]
pub struct RollupDelta {
    pub key: RollupKey,
    pub measures: RollupMeasures,
}

/// A stored rollup row.
pub type RollupRow = RollupDelta;

/// Folds the end records of a batch into deltas. Records without their rollup fields (written
/// by an older version) are skipped.
pub fn rollup_deltas<'a>(ends: impl IntoIterator<Item = &'a LogEnd>) -> Vec<RollupDelta> {
    let mut tally = RollupTally::default();
    for end in ends {
        tally.count(end);
    }
    tally.into_deltas()
}

/// Rollup sums by key (at minute resolution), as end records are counted.
#[derive(Debug, Default, Clone)]
pub struct RollupTally {
    by_key: HashMap<RollupKey, RollupMeasures>,
}

impl RollupTally {
    /// Adds one request's end; one without its rollup fields (written by an older version) is
    /// skipped.
    pub fn count(&mut self, end: &LogEnd) {
        let Some(facts) = &end.rollup else { return };
        let key = RollupKey {
            bucket_ms: Resolution::Minute.floor(facts.created_at_ms),
            account_id: facts.account_id.clone(),
            gateway_id: facts.gateway_id.clone(),
            provider: facts.provider.clone(),
            model: facts.model.chars().take(MAX_MODEL_CHARS).collect(),
            // HTTP statuses are 100-999: the class is one digit.
            status_class: end
                .status_code
                .map_or(0, |s| u8::try_from(s / 100).unwrap_or(u8::MAX)),
            cached: end.cached,
        };
        let measures = self.by_key.entry(key).or_default();
        measures.requests += 1;
        measures.errors += u64::from(!end.success);
        measures.cached_requests += u64::from(end.cached);
        measures.tokens_in += non_negative_u64(end.tokens_in.unwrap_or(0));
        measures.tokens_out += non_negative_u64(end.tokens_out.unwrap_or(0));
        measures.cache_read_tokens += non_negative_u64(end.cache_read_tokens.unwrap_or(0));
        measures.cache_write_tokens += non_negative_u64(end.cache_write_tokens.unwrap_or(0));
        measures.cost += end.cost.unwrap_or(0.0);
        measures.duration.add(signed_as_f64(end.duration_ms));
        if let Some(ttfb) = end.ttfb_ms {
            measures.ttfb.add(signed_as_f64(ttfb));
        }
    }

    /// Adds what another tally summed (a batch that could not be stored goes back in).
    pub fn merge(&mut self, other: RollupTally) {
        for (key, measures) in other.by_key {
            self.by_key.entry(key).or_default().add(&measures);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn into_deltas(self) -> Vec<RollupDelta> {
        self.by_key
            .into_iter()
            .map(|(key, measures)| RollupDelta { key, measures })
            .collect()
    }
}
