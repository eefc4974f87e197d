//! The most a request can cost, reserved before it is sent: its body's bytes as prompt tokens
//! (a byte-level tokenizer never makes more tokens than bytes, so this is an upper bound for
//! the text in it) and the output limit it asks for, at the price table's rates.

use serde_json::Value;

use crate::pricing::{PriceTable, TokenCounts};

/// Output tokens reserved when the request names no limit: an estimate, not a bound
/// (docs/budgets.md).
pub const DEFAULT_OUTPUT_RESERVE_TOKENS: u64 = 4_096;

/// USD, or `None` for a model the price table does not know (such requests are not reserved).
pub fn worst_case_cost(
    prices: &PriceTable,
    provider: &str,
    model: Option<&str>,
    body: &[u8],
    at: jiff::Timestamp,
) -> Option<f64> {
    let tokens = TokenCounts {
        input: u64::try_from(body.len()).unwrap_or(u64::MAX),
        output: max_output_tokens(body).unwrap_or(DEFAULT_OUTPUT_RESERVE_TOKENS),
        cache_read: 0,
        cache_write: 0,
    };
    prices.cost(provider, model?, &tokens, at)
}

/// The output limit a request body names, in any of the providers' spellings.
fn max_output_tokens(body: &[u8]) -> Option<u64> {
    let body: Value = serde_json::from_slice(body).ok()?;
    ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|name| body.get(name).and_then(Value::as_u64))
        .or_else(|| body.pointer("/generationConfig/maxOutputTokens")?.as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_limit_is_read_in_every_spelling() {
        for body in [
            r#"{"max_tokens": 7}"#,
            r#"{"max_completion_tokens": 7}"#,
            r#"{"max_output_tokens": 7}"#,
            r#"{"generationConfig": {"maxOutputTokens": 7}}"#,
        ] {
            assert_eq!(max_output_tokens(body.as_bytes()), Some(7), "{body}");
        }
        assert_eq!(max_output_tokens(b"{}"), None);
        assert_eq!(max_output_tokens(b"not json"), None);
    }
}
