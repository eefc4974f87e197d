//! A run token's own rate limit (docs/budgets.md, "A token's rate limit and budget"):
//! `{limit, interval, technique}` as a gateway's, counted by the gateway's rate limiter (in
//! process or in Redis) under one key per token, whatever gateway the token is used on.

use std::time::Duration;

use serde_json::{Value, json};

use crate::gateways::{RateLimitTechnique, bounds};
use crate::ratelimit::RateLimitRule;

/// A token's rate limit interval: 1 s to a day, as a gateway's.
const INTERVAL_S: bounds::Bound = bounds::PROVIDER_KEY_RATE_LIMIT_PERIOD_S;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRateLimit {
    /// Requests per interval, at least 1.
    pub limit: u32,
    /// Seconds.
    pub interval: u32,
    pub technique: RateLimitTechnique,
}

impl TokenRateLimit {
    /// `{"limit": n, "interval": seconds, "technique"?: "fixed" | "sliding"}`; the message
    /// names the part that is wrong.
    pub fn parse(value: &Value) -> Result<TokenRateLimit, String> {
        let Value::Object(object) = value else {
            return Err("must be an object {limit, interval, technique} or null".into());
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !["limit", "interval", "technique"].contains(&k.as_str()))
        {
            return Err(format!(
                "unknown field {:?} (expected limit, interval, technique)",
                crate::suggest::shown(unknown)
            ));
        }
        let limit = object
            .get("limit")
            .and_then(Value::as_u64)
            .filter(|n| *n >= 1)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("limit: must be an integer from 1 to {}", u32::MAX))?;
        let interval = object
            .get("interval")
            .and_then(Value::as_u64)
            .filter(|n| INTERVAL_S.contains(*n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("interval: seconds, {}", INTERVAL_S.must_be()))?;
        let technique = match object.get("technique") {
            None | Some(Value::Null) => RateLimitTechnique::Fixed,
            Some(Value::String(t)) if t == "fixed" => RateLimitTechnique::Fixed,
            Some(Value::String(t)) if t == "sliding" => RateLimitTechnique::Sliding,
            Some(_) => return Err("technique: must be \"fixed\" or \"sliding\"".into()),
        };
        Ok(TokenRateLimit {
            limit,
            interval,
            technique,
        })
    }

    pub fn to_json(&self) -> Value {
        let technique = match self.technique {
            RateLimitTechnique::Fixed => "fixed",
            RateLimitTechnique::Sliding => "sliding",
        };
        json!({"limit": self.limit, "interval": self.interval, "technique": technique})
    }

    pub fn rule(&self) -> RateLimitRule {
        RateLimitRule::new(
            self.limit,
            Duration::from_secs(u64::from(self.interval)),
            self.technique,
        )
    }

    /// The limiter's key: gateway keys start `{account}:{gateway}:` with a non-empty gateway
    /// id, so the empty segment keeps a token's key apart from every gateway's.
    pub fn key(account_id: &str, token_id: &str) -> String {
        format!("{account_id}::token:{token_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_reads_back_and_mistakes_are_named() {
        let value = json!({"limit": 10, "interval": 60, "technique": "sliding"});
        assert_eq!(TokenRateLimit::parse(&value).unwrap().to_json(), value);
        let defaulted = TokenRateLimit::parse(&json!({"limit": 1, "interval": 1})).unwrap();
        assert_eq!(defaulted.technique, RateLimitTechnique::Fixed);
        for (value, needle) in [
            (json!({"limit": 0, "interval": 60}), "limit"),
            (json!({"limit": 1.5, "interval": 60}), "limit"),
            (json!({"limit": 1, "interval": 0}), "interval"),
            (json!({"limit": 1, "interval": 86_401}), "interval"),
            (
                json!({"limit": 1, "interval": 60, "technique": "x"}),
                "technique",
            ),
            (json!({"limit": 1, "interval": 60, "burst": 2}), "burst"),
            (json!("10/min"), "object"),
        ] {
            let refused = TokenRateLimit::parse(&value).unwrap_err();
            assert!(refused.contains(needle), "{value}: {refused}");
        }
    }
}
