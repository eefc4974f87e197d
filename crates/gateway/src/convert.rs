//! Number conversions the cast lints (Cargo.toml) steer to: integers that saturate instead of
//! wrapping, for the values that cross between unsigned counts (`u64`, `usize`, `Duration`) and
//! the signed integers SQL stores and JSON numbers use (`i64`), and the one accepted rounding of
//! counts into f64. Each names what it does at the edge, so a call site reads as the decision
//! it is.

use std::time::Duration;

/// Whole milliseconds in `duration`, at most `i64::MAX` (292 million years).
pub fn millis_i64(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Whole milliseconds in `duration`, at most `u64::MAX`.
pub fn millis_u64(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A count as SQL's signed 64-bit integer: counts past `i64::MAX` stay at `i64::MAX` rather
/// than wrapping to a negative number.
pub fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A length or count as SQL's signed 64-bit integer, saturating like [`saturating_i64`].
pub fn saturating_i64_from_usize(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A signed value read back as a count: negative values (which a count never has, but a
/// database row or a provider's JSON could) count as 0.
pub fn non_negative_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A 64-bit size as an in-memory length: past `usize::MAX` (only on 32-bit targets) it stays at
/// `usize::MAX`, a bound no allocation reaches.
pub fn saturating_usize(size: u64) -> usize {
    usize::try_from(size).unwrap_or(usize::MAX)
}

/// A count (tokens, bytes, requests) as the f64 that prices, Prometheus samples and latency
/// sketches are computed in. Exact up to 2^53 (9 quadrillion); beyond that it is rounded to the
/// nearest f64, a relative error of 1e-16 that no count the gateway sees comes near.
#[expect(
    clippy::cast_precision_loss,
    reason = "the documented rounding above 2^53, the one place it is accepted for counts"
)]
pub fn count_as_f64(count: u64) -> f64 {
    count as f64
}

/// A signed value (milliseconds, a store's count) as f64, rounded like [`count_as_f64`].
#[expect(
    clippy::cast_precision_loss,
    reason = "the documented rounding above 2^53, the one place it is accepted for i64"
)]
pub fn signed_as_f64(value: i64) -> f64 {
    value as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_at_the_edges_instead_of_wrapping() {
        assert_eq!(millis_i64(Duration::from_millis(1_500)), 1_500);
        assert_eq!(millis_i64(Duration::MAX), i64::MAX);
        assert_eq!(millis_u64(Duration::MAX), u64::MAX);
        assert_eq!(millis_u64(Duration::from_secs(2)), 2_000);
        assert_eq!(saturating_i64(u64::MAX), i64::MAX);
        assert_eq!(saturating_i64(42), 42);
        assert_eq!(saturating_i64_from_usize(usize::MAX), i64::MAX);
        assert_eq!(non_negative_u64(-5), 0);
        assert_eq!(non_negative_u64(i64::MAX), 9_223_372_036_854_775_807);
        assert_eq!(saturating_usize(u64::MAX), usize::MAX);
        assert_eq!(saturating_usize(7), 7);
    }

    #[test]
    fn floats_are_exact_up_to_two_to_the_53() {
        let exact = 1u64 << 53;
        assert_eq!(count_as_f64(exact), 9_007_199_254_740_992.0);
        assert_eq!(count_as_f64(exact + 1), 9_007_199_254_740_992.0);
        assert_eq!(signed_as_f64(-1_500), -1_500.0);
    }
}
