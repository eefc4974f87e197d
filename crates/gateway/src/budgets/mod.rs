//! Spend limits that hold under concurrency (docs/budgets.md): before an attempt goes upstream
//! it reserves its worst-case cost in the bucket of every rule that applies, or is refused
//! (429, 2041); its end record settles the reservation to the actual cost. Concurrent requests
//! can therefore overspend a budget by no more than the gap between what they reserved and
//! what they cost, in one process and, with Redis, across instances.

mod estimate;
mod ledger;
mod rules;
mod token;
mod window;

use std::sync::atomic::{AtomicBool, Ordering};

pub use estimate::{DEFAULT_OUTPUT_RESERVE_TOKENS, worst_case_cost};
pub use ledger::{Charge, Counted, MAX_LOCAL_BUCKETS, Refused, SpendLedger};
pub use rules::{AppliedRule, Dimension, RequestFacts, SpendLimits, SpendRule};
pub use token::TokenBudget;
pub use window::{CalendarPeriod, Span, Window};

use crate::error::{ErrorCode, GatewayError};
use crate::gateways::{Gateway, RateLimitTechnique};

/// What each attempt of one call reserves.
#[derive(Debug, Clone)]
pub struct BudgetPlan {
    charges: Vec<Charge>,
    /// Each charge's rule, as the refusal names it.
    described: Vec<String>,
    micros: i64,
    /// `{provider} {model}`, for the refusal.
    subject: String,
}

/// The run token a request came with, when it has a budget of its own.
#[derive(Debug, Clone, Copy)]
pub struct TokenCharge<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub budget: &'a TokenBudget,
}

impl BudgetPlan {
    /// `None` when no rule applies and the token has no budget, or the request cannot be
    /// priced (not reserved).
    /// `counted`: buckets that only count the spend (a policy's, whose caps are checked
    /// before, docs/budgets.md "Policies"); they never refuse.
    pub fn for_request(
        gateway: &Gateway,
        facts: &RequestFacts<'_>,
        token: Option<TokenCharge<'_>>,
        counted: Vec<Charge>,
        worst_case_usd: Option<f64>,
    ) -> Option<BudgetPlan> {
        let applied = gateway
            .settings
            .spend_limits
            .as_ref()
            .map(|limits| limits.applying(facts))
            .unwrap_or_default();
        if applied.is_empty() && token.is_none() && counted.is_empty() {
            return None;
        }
        let micros = to_micros(worst_case_usd?);
        let (mut charges, mut described): (Vec<Charge>, Vec<String>) = applied
            .iter()
            .map(|AppliedRule { rule, name, bucket }| {
                let (technique, window_ms) = (
                    rule.technique(),
                    i64::try_from(rule.window.saturating_mul(1000)).unwrap_or(i64::MAX),
                );
                let charge = Charge {
                    bucket: format!("{}:{}:{bucket}", gateway.account_id, gateway.id),
                    limit_micros: to_micros(rule.limit),
                    window: match technique {
                        RateLimitTechnique::Fixed => Window::Fixed(window_ms),
                        RateLimitTechnique::Sliding => Window::Sliding(window_ms),
                    },
                };
                let technique = match technique {
                    RateLimitTechnique::Fixed => "fixed",
                    RateLimitTechnique::Sliding => "sliding",
                };
                let described = format!(
                    "rule '{name}' (cost limit {} per {}s, {technique})",
                    rule.limit, rule.window
                );
                (charge, described)
            })
            .unzip();
        for charge in counted {
            described.push(format!("policy bucket {}", charge.bucket));
            charges.push(charge);
        }
        if let Some(token) = token {
            charges.push(token.budget.charge(&gateway.account_id, token.id));
            described.push(format!(
                "run token '{}' ({})",
                crate::suggest::shown(token.name),
                token.budget.describe()
            ));
        }
        Some(BudgetPlan {
            charges,
            described,
            micros,
            subject: format!("{} {}", facts.provider, facts.model.unwrap_or("")),
        })
    }

    /// Reserves one attempt's worst case, or refuses it naming the rule.
    pub async fn reserve(
        &self,
        ledger: &SpendLedger,
        now_ms: i64,
    ) -> Result<Reservation, GatewayError> {
        match ledger.reserve(&self.charges, self.micros, now_ms).await {
            Ok(counted) => Ok(Reservation {
                charges: self.charges.clone(),
                counted,
                reserved_at_ms: now_ms,
                micros: self.micros,
                settled: AtomicBool::new(false),
            }),
            Err(Refused {
                charge,
                retry_after_ms,
            }) => {
                let rule = self.described.get(charge).map_or("", String::as_str);
                let retry_after_s = u64::try_from(retry_after_ms).unwrap_or(0).div_ceil(1000);
                Err(GatewayError::new(
                    ErrorCode::SpendLimitExceeded,
                    format!(
                        "Spend limit exceeded: {rule} for {}",
                        self.subject.trim_end()
                    ),
                )
                .with_header("retry-after", retry_after_s.max(1)))
            }
        }
    }
}

/// One attempt's reserved worst case, until its end record settles it (once).
#[derive(Debug)]
pub struct Reservation {
    charges: Vec<Charge>,
    counted: Counted,
    reserved_at_ms: i64,
    micros: i64,
    settled: AtomicBool,
}

impl Reservation {
    /// Replaces the reserved cost with `actual_usd` (`None`: keep the reservation, the cost is
    /// unknown). Only the first call counts.
    pub async fn settle(&self, ledger: &SpendLedger, actual_usd: Option<f64>) {
        if self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(actual) = actual_usd else { return };
        let delta = to_micros(actual).saturating_sub(self.micros);
        ledger
            .settle(&self.charges, self.counted, self.reserved_at_ms, delta)
            .await;
    }
}

pub(crate) fn to_micros(usd: f64) -> i64 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "saturating float to int conversion of a finite, checked USD amount"
    )]
    let micros = (usd * 1_000_000.0).ceil() as i64;
    micros.max(0)
}
