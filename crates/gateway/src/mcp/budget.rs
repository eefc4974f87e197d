//! What a tool call spends (docs/mcp.md, "Budgets"): its server's `cost_per_call`, reserved
//! against the gateway's spend limits and the run token's budget before the call goes upstream,
//! as a model request's worst case is, and settled by the call's end record. A server without a
//! price reserves nothing, so only a budget already spent refuses its calls.

use super::server::Admitted;
use crate::budgets::{BudgetPlan, RequestFacts, Reservation, TokenCharge};
use crate::error::GatewayError;

/// Reserves one call of `tool` at `server`, or refuses it (429, 2041, naming the rule).
/// `None` when no spend limit applies and the token has no budget.
pub async fn reserve(
    admitted: &Admitted,
    server: &str,
    tool: &str,
    price: Option<f64>,
) -> Result<Option<Reservation>, GatewayError> {
    let token = admitted.run_token.as_ref().and_then(|token| {
        token.scope.budget.as_ref().map(|budget| TokenCharge {
            id: &token.id,
            name: &token.name,
            budget,
        })
    });
    // A spend rule names a server as its rows do:
    // `"provider": {"mode": "filter", "values": ["mcp:github"]}`.
    let provider = format!("mcp:{server}");
    let facts = RequestFacts {
        provider: &provider,
        model: Some(tool),
        metadata: admitted.options.metadata.as_deref(),
    };
    let Some(plan) = BudgetPlan::for_request(
        &admitted.gateway,
        &facts,
        token,
        Vec::new(),
        Some(price.unwrap_or(0.0)),
    ) else {
        return Ok(None);
    };
    let state = &admitted.state;
    plan.reserve(state.budgets(), state.clock().now_ms())
        .await
        .map(Some)
}

/// Gives a reservation back whole: the call was never sent.
pub async fn release(admitted: &Admitted, reservation: Option<Reservation>) {
    if let Some(reservation) = reservation {
        reservation
            .settle(admitted.state.budgets(), Some(0.0))
            .await;
    }
}
