//! The rate and budget elements on the gateway's own counters (docs/routing.md): `count` on
//! the rate limiter, `cost` on the spend ledger, each in a bucket per route, element and value
//! of the element's key (hashed: a key such as a user id is never kept as sent).

use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::eval::Limits;
use super::graph::{LimitNode, LimitType};
use crate::budgets::{Charge, Window};
use crate::ratelimit::{Decision, RateLimitRule};
use crate::state::AppState;

/// Hex characters of the key value's SHA-256 kept in a bucket name.
const KEY_HASH_HEX: usize = 32;

/// One request's limits, on one route of one gateway.
pub struct StateLimits<'a> {
    state: &'a AppState,
    account_id: &'a str,
    gateway_id: &'a str,
    route_id: &'a str,
    /// The budget elements the walk passed: the models after them are charged to them.
    passed: Mutex<Vec<(Charge, String)>>,
}

impl<'a> StateLimits<'a> {
    pub fn new(
        state: &'a AppState,
        account_id: &'a str,
        gateway_id: &'a str,
        route_id: &'a str,
    ) -> StateLimits<'a> {
        StateLimits {
            state,
            account_id,
            gateway_id,
            route_id,
            passed: Mutex::new(Vec::new()),
        }
    }

    /// The budget elements passed so far, each with how a refusal names it.
    pub fn passed(&self) -> Vec<(Charge, String)> {
        self.passed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// `{account}:{gateway}:route:{route}:{element length}:{element}:{key hash}`: apart from
    /// the gateway's own limits (`…:gw`, `…:ip:…`, `…:h:…`) and spend rules (`…::…`).
    fn bucket(&self, element_id: &str, key_value: Option<&str>) -> String {
        let hash = key_value.map_or_else(String::new, |value| {
            let digest = Sha256::digest(value.as_bytes());
            let mut hex = String::with_capacity(KEY_HASH_HEX);
            for byte in digest.iter().take(KEY_HASH_HEX / 2) {
                use std::fmt::Write as _;
                let _ = write!(hex, "{byte:02x}");
            }
            hex
        });
        format!(
            "{}:{}:route:{}:{}:{element_id}:{hash}",
            self.account_id,
            self.gateway_id,
            self.route_id,
            element_id.len()
        )
    }
}

#[async_trait::async_trait]
impl Limits for StateLimits<'_> {
    async fn admit(&self, element_id: &str, node: &LimitNode, key_value: Option<&str>) -> bool {
        let bucket = self.bucket(element_id, key_value);
        match node.limit_type {
            LimitType::Count => {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a count limit is checked to be a whole number within u32 when saved"
                )]
                let limit = node.limit as u32;
                let rule =
                    RateLimitRule::new(limit, Duration::from_secs(node.window_s), node.technique);
                matches!(
                    self.state.rate_limiter().check(&bucket, &rule).await,
                    Decision::Allowed { .. }
                )
            }
            LimitType::Cost => {
                // Under budget while what the window has spent is below the limit; the models
                // the request then calls reserve and settle their cost in the same bucket.
                let charge = cost_charge(bucket, node);
                let now_ms = self.state.clock().now_ms();
                let ledger = self.state.budgets();
                match ledger
                    .reserve(std::slice::from_ref(&charge), 1, now_ms)
                    .await
                {
                    Ok(counted) => {
                        ledger
                            .settle(std::slice::from_ref(&charge), counted, now_ms, -1)
                            .await;
                        let described = format!(
                            "route {} element '{element_id}' (cost limit {} per {}s)",
                            self.route_id, node.limit, node.window_s
                        );
                        self.passed
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push((charge, described));
                        true
                    }
                    Err(_) => false,
                }
            }
        }
    }
}

/// The ledger bucket of a cost element.
pub fn cost_charge(bucket: String, node: &LimitNode) -> Charge {
    Charge {
        bucket,
        limit_micros: to_micros(node.limit),
        window: {
            let window_ms = i64::try_from(node.window_s.saturating_mul(1000)).unwrap_or(i64::MAX);
            match node.technique {
                crate::gateways::RateLimitTechnique::Fixed => Window::Fixed(window_ms),
                crate::gateways::RateLimitTechnique::Sliding => Window::Sliding(window_ms),
            }
        },
    }
}

fn to_micros(usd: f64) -> i64 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "saturating float to int conversion of a finite, checked USD amount"
    )]
    let micros = (usd * 1_000_000.0).ceil() as i64;
    micros.max(0)
}
