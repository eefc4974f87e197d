//! What a budget's bucket has spent, as the API shows it: a run token's budget
//! (`GET …/tokens/{id}`) and a gateway's spend limits (`GET …/gateways/{id}/spend`,
//! docs/budgets.md, "How much is left").

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::ApiError;
use super::envelope::ok;
use super::extract::ApiPath;
use super::gateways::named_gateway;
use crate::budgets::{Charge, Window, rule_charge};
use crate::gateways::RateLimitTechnique;
use crate::state::AppState;

/// `{spent, limit, remaining, window_start, window_end}` in USD and RFC 3339: the current
/// window, or for a sliding one the last window length, which is what the budget weighs.
pub(super) async fn bucket(state: &AppState, charge: &Charge, limit: f64) -> Value {
    let now_ms = state.clock().now_ms();
    let micros = state.budgets().spent(charge, now_ms).await;
    let span = charge.window.span(now_ms);
    let (start_ms, end_ms) = match charge.window {
        Window::Sliding(length) => (now_ms - length, now_ms),
        _ => (span.start_ms, span.end_ms),
    };
    #[expect(
        clippy::cast_precision_loss,
        reason = "micro-USD far below 2^53 convert exactly"
    )]
    let spent = micros as f64 / 1_000_000.0;
    let time = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms).map_or(Value::Null, |t| json!(t.to_string()))
    };
    json!({
        "spent": spent,
        "limit": limit,
        "remaining": (limit - spent).max(0.0),
        "window_start": time(start_ms),
        "window_end": time(end_ms),
    })
}

/// Each spend-limit rule of a gateway with what its current window holds. A partitioned rule
/// keeps a bucket per value, which this does not list (they are unbounded): its `spend` is
/// `null` and `partition_by` names its partitioning dimensions.
pub async fn gateway(
    State(state): State<AppState>,
    ApiPath((account_id, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let gateway = named_gateway(&state, &account_id, &id).await?;
    let limits = gateway.settings.spend_limits.as_ref();
    let all_enabled = limits.is_some_and(|limits| limits.enabled != Some(false));
    let mut rules = Vec::new();
    for (index, rule) in limits
        .map(|l| l.rules.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let spend = match rule.whole_bucket(index) {
            Some(whole) => bucket(&state, &rule_charge(&gateway, rule, &whole), rule.limit).await,
            None => Value::Null,
        };
        rules.push(json!({
            "id": rule.name(index),
            "enabled": all_enabled && rule.enabled != Some(false),
            "limit": rule.limit,
            "window": rule.window,
            "technique": match rule.technique() {
                RateLimitTechnique::Fixed => "fixed",
                RateLimitTechnique::Sliding => "sliding",
            },
            "partition_by": rule.partition_by(),
            "spend": spend,
        }));
    }
    Ok(ok(json!({"enabled": all_enabled, "rules": rules})))
}
