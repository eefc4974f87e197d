//! Latency sketches: DDSketch with 1 % relative error, mergeable across rollups, stored in the
//! compact DataDog encoding.

use sketches_ddsketch::{Config, DDSketch};

/// Relative error of every percentile read from a sketch (the DDSketch guarantee).
pub const RELATIVE_ERROR: f64 = 0.01;

#[derive(Clone)]
pub struct LatencySketch(DDSketch);

impl std::fmt::Debug for LatencySketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatencySketch(count {})", self.0.count())
    }
}

impl Default for LatencySketch {
    fn default() -> Self {
        LatencySketch(DDSketch::new(Config::defaults()))
    }
}

impl LatencySketch {
    pub fn add(&mut self, value_ms: f64) {
        self.0.add(value_ms.max(0.0));
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        // Both sides use the same configuration, the only case `merge` refuses.
        let _ = self.0.merge(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.count() as u64
    }

    /// The `q` quantile (0–1), or `None` for an empty sketch.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.0.quantile(q).ok().flatten()
    }

    pub fn encode(&self) -> Vec<u8> {
        self.0.to_java_bytes()
    }

    /// An unreadable blob reads as an empty sketch: analytics degrade, they do not fail.
    pub fn decode(bytes: &[u8]) -> LatencySketch {
        match DDSketch::from_java_bytes(bytes) {
            Ok(sketch) => LatencySketch(sketch),
            Err(_) => LatencySketch::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_survive_encoding_and_merging_within_the_error() {
        let mut a = LatencySketch::default();
        let mut b = LatencySketch::default();
        let mut all: Vec<f64> = Vec::new();
        for i in 1..=1000u32 {
            let value = f64::from(i * 7 % 997 + 1);
            all.push(value);
            if i % 2 == 0 {
                a.add(value)
            } else {
                b.add(value)
            }
        }
        let mut merged = LatencySketch::decode(&a.encode());
        merged.merge(&LatencySketch::decode(&b.encode()));
        all.sort_by(f64::total_cmp);
        for q in [0.5, 0.95, 0.99] {
            #[expect(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a rank among a few thousand samples"
            )]
            let truth = all[(q * (all.len() as f64 - 1.0)) as usize];
            let got = merged.quantile(q).unwrap_or(0.0);
            assert!(
                (got - truth).abs() <= truth * RELATIVE_ERROR + 1e-9,
                "q{q}: {got} vs {truth}"
            );
        }
        assert_eq!(merged.count(), 1000);
        assert_eq!(LatencySketch::decode(b"garbage").count(), 0);
    }
}
