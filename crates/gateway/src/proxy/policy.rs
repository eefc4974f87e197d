//! A gateway's policies at the proxy (docs/budgets.md, "Policies"), per upstream call, where
//! the provider and the model are known: evaluated by the same code as `simulate`, with each
//! bucket's spend read from the spend ledger in its calendar windows. A block, or no policy
//! matching, is 403 (2103); a bucket at its cap is 429 (2104) with `{bucket, spent, limit}`.
//! What the call costs is then counted in its buckets by its reservation and settlement.

use std::collections::HashMap;

use serde_json::json;

use super::context::RequestContext;
use super::options::RequestOptions;
use super::record::RequestLog;
use crate::budgets::{CalendarPeriod, Charge, Window};
use crate::error::{ErrorCode, GatewayError};
use crate::policies::{Enforcement, Facts, evaluate};

/// Refuses the call, or returns the policy buckets its spend counts in (none without
/// policies). When the store cannot say which policies there are, the call is allowed and the
/// failure logged, as Cloudflare allows a request whose policies fail to evaluate: a store
/// outage must not stop every gateway.
pub(super) async fn enforce(
    ctx: &RequestContext<'_>,
    provider: &str,
    options: &RequestOptions,
    record: &RequestLog,
) -> Result<Vec<Charge>, GatewayError> {
    let state = ctx.state;
    let now_ms = state.clock().now_ms();
    let (account_id, gateway_id) = (&ctx.gateway.account_id, &ctx.gateway.id);
    let policies = match state
        .policies()
        .committed(state.store().as_ref(), account_id, gateway_id, now_ms)
        .await
    {
        Ok(policies) => policies,
        Err(error) => {
            tracing::warn!(%error, gateway = %gateway_id, "policies unreadable; request allowed");
            return Ok(Vec::new());
        }
    };
    if policies.is_empty() {
        return Ok(Vec::new());
    }
    let facts = Facts {
        metadata: options.metadata.as_deref().unwrap_or(&[]),
        model: record.model.as_deref(),
        provider,
    };
    let evaluation = evaluate(&policies, &facts);
    let mut charges = Vec::new();
    let mut spent: HashMap<(String, CalendarPeriod), f64> = HashMap::new();
    for bucket in &evaluation.buckets {
        for cap in &bucket.caps {
            let charge = Charge {
                bucket: format!("{account_id}:{gateway_id}::policy:{}", bucket.id),
                // Counted only: the caps were checked against what is spent.
                limit_micros: i64::MAX,
                window: Window::Calendar(cap.period),
            };
            let micros = state.budgets().spent(&charge, now_ms).await;
            spent.insert((bucket.id.clone(), cap.period), usd(micros));
            charges.push(charge);
        }
    }
    match evaluation.enforce(|bucket, period| {
        spent
            .get(&(bucket.to_owned(), period))
            .copied()
            .unwrap_or(0.0)
    }) {
        Enforcement::Allowed => Ok(charges),
        Enforcement::Blocked { .. } => Err(GatewayError::new(
            ErrorCode::DeniedByPolicy,
            "Access denied by policy",
        )),
        Enforcement::LimitExceeded {
            bucket,
            spent,
            limit,
            policy,
        } => {
            let period = evaluation
                .buckets
                .iter()
                .find(|b| b.id == bucket)
                .and_then(|b| b.caps.iter().find(|cap| cap.policy == policy))
                .map_or(CalendarPeriod::Day, |cap| cap.period);
            let ends_ms = Window::Calendar(period).span(now_ms).end_ms;
            let retry_after = u64::try_from(ends_ms - now_ms).unwrap_or(0).div_ceil(1000);
            Err(GatewayError::new(
                ErrorCode::PolicyLimitExceeded,
                format!(
                    "Spending limit exceeded: policy '{}' (limit {limit} per {period} (UTC)) \
                     for bucket '{}'",
                    crate::suggest::shown(&policy),
                    crate::suggest::shown(&bucket)
                ),
            )
            .with_field("bucket", json!(bucket))
            .with_field("spent", json!(spent))
            .with_field("limit", json!(limit))
            .with_header("retry-after", retry_after.max(1)))
        }
    }
}

fn usd(micros: i64) -> f64 {
    #[expect(
        clippy::cast_precision_loss,
        reason = "micro-USD far below 2^53 convert exactly"
    )]
    let usd = micros as f64 / 1_000_000.0;
    usd
}
