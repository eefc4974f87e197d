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
    /// A dynamic route's budget elements (docs/routing.md): they had room when the route was
    /// walked, so each attempt reserves nothing in them (refused only if they are over by
    /// now) and its end record adds what it cost.
    route: Vec<Charge>,
    route_described: Vec<String>,
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
                let charge = rule_charge(gateway, rule, bucket);
                let technique = match rule.technique() {
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
            route: Vec::new(),
            route_described: Vec::new(),
        })
    }

    /// `plan` with a dynamic route's budget elements added (docs/routing.md): each attempt's
    /// end record adds what it cost to them.
    pub fn with_route_charges(
        plan: Option<BudgetPlan>,
        charges: &[(Charge, String)],
        worst_case_usd: Option<f64>,
        subject: String,
    ) -> Option<BudgetPlan> {
        if charges.is_empty() {
            return plan;
        }
        let mut plan = plan.unwrap_or(BudgetPlan {
            charges: Vec::new(),
            described: Vec::new(),
            micros: worst_case_usd.map_or(0, to_micros),
            subject,
            route: Vec::new(),
            route_described: Vec::new(),
        });
        for (charge, described) in charges {
            plan.route.push(charge.clone());
            plan.route_described.push(described.clone());
        }
        Some(plan)
    }

    /// Reserves one attempt's worst case, or refuses it naming the rule.
    pub async fn reserve(
        &self,
        ledger: &SpendLedger,
        now_ms: i64,
    ) -> Result<Reservation, GatewayError> {
        let counted = match self.charges.is_empty() {
            true => Counted::Local,
            false => ledger
                .reserve(&self.charges, self.micros, now_ms)
                .await
                .map_err(|refused| self.refusal(&self.described, refused))?,
        };
        let route_counted = match self.route.is_empty() {
            true => Counted::Local,
            false => match ledger.reserve(&self.route, 0, now_ms).await {
                Ok(counted) => counted,
                Err(refused) => {
                    // All or nothing: the gateway's rules get their reservation back.
                    if !self.charges.is_empty() {
                        ledger
                            .settle(&self.charges, counted, now_ms, -self.micros)
                            .await;
                    }
                    return Err(self.refusal(&self.route_described, refused));
                }
            },
        };
        Ok(Reservation {
            charges: self.charges.clone(),
            counted,
            reserved_at_ms: now_ms,
            micros: self.micros,
            route: self.route.clone(),
            route_counted,
            settled: AtomicBool::new(false),
        })
    }

    /// 429, code 2041, naming the rule or element that refused.
    fn refusal(&self, described: &[String], refused: Refused) -> GatewayError {
        let Refused {
            charge,
            retry_after_ms,
        } = refused;
        let rule = described.get(charge).map_or("", String::as_str);
        let retry_after_s = u64::try_from(retry_after_ms).unwrap_or(0).div_ceil(1000);
        GatewayError::new(
            ErrorCode::SpendLimitExceeded,
            format!(
                "Spend limit exceeded: {rule} for {}",
                self.subject.trim_end()
            ),
        )
        .with_header("retry-after", retry_after_s.max(1))
    }
}

/// One attempt's reserved worst case, until its end record settles it (once).
#[derive(Debug)]
pub struct Reservation {
    charges: Vec<Charge>,
    counted: Counted,
    reserved_at_ms: i64,
    micros: i64,
    /// A dynamic route's budget elements, reserved at nothing: settled to the actual cost.
    route: Vec<Charge>,
    route_counted: Counted,
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
        let actual = to_micros(actual);
        if !self.charges.is_empty() {
            let delta = actual.saturating_sub(self.micros);
            ledger
                .settle(&self.charges, self.counted, self.reserved_at_ms, delta)
                .await;
        }
        if !self.route.is_empty() {
            ledger
                .settle(&self.route, self.route_counted, self.reserved_at_ms, actual)
                .await;
        }
    }
}

/// The bucket `bucket` of one of `gateway`'s rules, as a reservation charges it (and as the
/// gateway's spend endpoint reads it).
pub fn rule_charge(gateway: &Gateway, rule: &SpendRule, bucket: &str) -> Charge {
    let window_ms = i64::try_from(rule.window.saturating_mul(1000)).unwrap_or(i64::MAX);
    Charge {
        bucket: format!("{}:{}:{bucket}", gateway.account_id, gateway.id),
        limit_micros: to_micros(rule.limit),
        window: match rule.technique() {
            RateLimitTechnique::Fixed => Window::Fixed(window_ms),
            RateLimitTechnique::Sliding => Window::Sliding(window_ms),
        },
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
