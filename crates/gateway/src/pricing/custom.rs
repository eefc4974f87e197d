//! The `cf-aig-custom-cost` header's arithmetic: the client's own prices replace the table's.

use super::TokenCounts;
use crate::convert::count_as_f64;
use crate::proxy::CustomCost;

/// USD for `tokens` at the client's prices. `total_cost` is the cost outright; otherwise
/// `per_token_in` and `per_token_out` are USD per token (not per million), cache reads and
/// writes are charged at `per_token_in`, and a side the header leaves out costs nothing.
pub fn custom_cost(cost: &CustomCost, tokens: &TokenCounts) -> f64 {
    if let Some(total) = cost.total_cost {
        return total;
    }
    let input = tokens
        .input
        .saturating_add(tokens.cache_read)
        .saturating_add(tokens.cache_write);
    count_as_f64(input) * cost.per_token_in.unwrap_or(0.0)
        + count_as_f64(tokens.output) * cost.per_token_out.unwrap_or(0.0)
}
