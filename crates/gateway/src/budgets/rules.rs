//! A gateway's `spend_limits` in Cloudflare's shape: rules of a USD limit per window, each over
//! a bucket chosen by the request's provider, model and metadata (docs/budgets.md). Parsed and
//! validated once, when the gateway is written; matched on every request.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gateways::RateLimitTechnique;
use crate::gateways::bounds;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpendLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub rules: Vec<SpendRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// USD.
    pub limit: f64,
    #[serde(rename = "limitType", default = "cost")]
    pub limit_type: String,
    /// Seconds.
    pub window: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<RateLimitTechnique>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

fn cost() -> String {
    "cost".to_owned()
}

/// How a rule reads one of the request's values: only some values (`filter`), or a bucket per
/// value (`partition`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Dimension {
    Filter { values: Vec<String> },
    Partition,
}

/// What a request is matched on.
pub struct RequestFacts<'a> {
    pub provider: &'a str,
    pub model: Option<&'a str>,
    pub metadata: Option<&'a [(String, Value)]>,
}

/// A rule that applies to a request, and the bucket the request counts in.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedRule<'r> {
    pub rule: &'r SpendRule,
    /// The rule's id, or its position when it has none.
    pub name: String,
    /// The rule's name and each partitioned value, each length-prefixed: the bucket's key.
    pub bucket: String,
}

impl SpendLimits {
    /// Reads and checks a `spend_limits` value; the message names what is wrong.
    pub fn parse(value: &Value) -> Result<SpendLimits, String> {
        let limits: SpendLimits =
            serde_json::from_value(value.clone()).map_err(|error| error.to_string())?;
        if limits.rules.len() > bounds::SPEND_RULES {
            return Err(format!("at most {} rules", bounds::SPEND_RULES));
        }
        for (index, rule) in limits.rules.iter().enumerate() {
            rule.check()
                .map_err(|why| format!("rules[{index}]: {why}"))?;
        }
        Ok(limits)
    }

    /// The rules that apply to a request, each with its bucket.
    pub fn applying<'r>(&'r self, facts: &RequestFacts<'_>) -> Vec<AppliedRule<'r>> {
        if self.enabled == Some(false) {
            return Vec::new();
        }
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.enabled != Some(false))
            .filter_map(|(index, rule)| rule.bucket(index, facts))
            .collect()
    }
}

impl SpendRule {
    fn check(&self) -> Result<(), String> {
        if self.id.as_deref().is_some_and(str::is_empty) {
            return Err("id: must not be empty".into());
        }
        if !(self.limit.is_finite() && self.limit > 0.0) {
            return Err("limit: must be a number of USD above 0".into());
        }
        if self.limit_type != "cost" {
            return Err("limitType: must be \"cost\"".into());
        }
        if !bounds::SPEND_WINDOW_S.contains(self.window) {
            return Err(format!("window: {}", bounds::SPEND_WINDOW_S.must_be()));
        }
        for (name, dimension) in [("provider", &self.provider), ("model", &self.model)] {
            if let Some(Dimension::Filter { values }) = dimension
                && values.is_empty()
            {
                return Err(format!("{name}: a filter needs values"));
            }
        }
        for (key, dimension) in self.metadata.iter().flatten() {
            match serde_json::from_value::<Dimension>(dimension.clone()) {
                Ok(Dimension::Filter { values }) if values.is_empty() => {
                    return Err(format!("metadata.{key}: a filter needs values"));
                }
                Ok(_) => {}
                Err(error) => return Err(format!("metadata.{key}: {error}")),
            }
        }
        Ok(())
    }

    pub fn technique(&self) -> RateLimitTechnique {
        self.technique.unwrap_or(RateLimitTechnique::Fixed)
    }

    /// The name the rule goes by in messages and bucket keys.
    pub fn name(&self, index: usize) -> String {
        self.id.clone().unwrap_or_else(|| index.to_string())
    }

    /// The rule's one bucket when no dimension partitions it (filters only choose which
    /// requests count), `None` when it keeps a bucket per value: what the gateway's spend
    /// endpoint reads (docs/budgets.md, "How much is left").
    pub fn whole_bucket(&self, index: usize) -> Option<String> {
        if !self.partition_by().is_empty() {
            return None;
        }
        let mut bucket = String::new();
        push(&mut bucket, &self.name(index));
        Some(bucket)
    }

    /// The dimensions that give the rule a bucket per value: `provider`, `model`,
    /// `metadata.<key>`.
    pub fn partition_by(&self) -> Vec<String> {
        let mut found: Vec<String> = [("provider", &self.provider), ("model", &self.model)]
            .into_iter()
            .filter(|(_, dimension)| matches!(dimension, Some(Dimension::Partition)))
            .map(|(name, _)| name.to_owned())
            .collect();
        for (key, dimension) in self.metadata.iter().flatten() {
            if matches!(
                serde_json::from_value::<Dimension>(dimension.clone()),
                Ok(Dimension::Partition)
            ) {
                found.push(format!("metadata.{key}"));
            }
        }
        found
    }

    /// The request's bucket under this rule, or `None` when the rule does not apply to it.
    fn bucket<'r>(&'r self, index: usize, facts: &RequestFacts<'_>) -> Option<AppliedRule<'r>> {
        let name = self.name(index);
        let mut bucket = String::new();
        push(&mut bucket, &name);
        let model_names = |value: &str| {
            facts.model.is_some_and(|model| {
                value == model
                    || value
                        .split_once('/')
                        .is_some_and(|(provider, bare)| provider == facts.provider && bare == model)
            })
        };
        match &self.provider {
            Some(Dimension::Filter { values }) if !values.iter().any(|v| v == facts.provider) => {
                return None;
            }
            Some(Dimension::Partition) => push(&mut bucket, facts.provider),
            _ => {}
        }
        match &self.model {
            Some(Dimension::Filter { values }) if !values.iter().any(|v| model_names(v)) => {
                return None;
            }
            Some(Dimension::Partition) => push(&mut bucket, facts.model.unwrap_or("")),
            _ => {}
        }
        for (key, dimension) in self.metadata.iter().flatten() {
            let value = facts
                .metadata
                .and_then(|entries| entries.iter().find(|(name, _)| name == key))
                .map(|(_, value)| match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })?;
            match serde_json::from_value::<Dimension>(dimension.clone()).ok()? {
                Dimension::Filter { values } if !values.contains(&value) => return None,
                Dimension::Filter { .. } => {}
                Dimension::Partition => push(&mut bucket, &value),
            }
        }
        Some(AppliedRule {
            rule: self,
            name,
            bucket,
        })
    }
}

/// Appends a name or a partitioned value to a bucket key, unambiguously (either may hold any
/// character).
fn push(bucket: &mut String, value: &str) {
    bucket.push(':');
    bucket.push_str(&value.len().to_string());
    bucket.push(':');
    bucket.push_str(value);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn limits(rules: Value) -> SpendLimits {
        SpendLimits::parse(&json!({ "rules": rules })).unwrap()
    }

    fn buckets(
        limits: &SpendLimits,
        provider: &str,
        model: &str,
        user: Option<&str>,
    ) -> Vec<String> {
        let metadata: Vec<(String, Value)> = user
            .map(|user| vec![("user".to_owned(), json!(user))])
            .unwrap_or_default();
        let facts = RequestFacts {
            provider,
            model: Some(model),
            metadata: Some(&metadata),
        };
        limits
            .applying(&facts)
            .into_iter()
            .map(|applied| applied.bucket)
            .collect()
    }

    #[test]
    fn filters_and_partitions_choose_the_bucket() {
        let limits = limits(json!([
            {"id": "all", "limit": 1, "window": 60},
            {"id": "claude", "limit": 1, "window": 60,
             "model": {"mode": "filter", "values": ["anthropic/claude-x", "gpt-x"]}},
            {"limit": 1, "window": 60, "provider": {"mode": "filter", "values": ["openai"]},
             "metadata": {"user": {"mode": "partition"}}},
            {"id": "off", "enabled": false, "limit": 1, "window": 60},
        ]));
        assert_eq!(
            buckets(&limits, "anthropic", "claude-x", None),
            [":3:all", ":6:claude"]
        );
        assert_eq!(
            buckets(&limits, "openai", "gpt-x", Some("u1")),
            [":3:all", ":6:claude", ":1:2:2:u1"]
        );
        // A partitioned key the request lacks: the rule does not apply.
        assert_eq!(buckets(&limits, "openai", "other", None), [":3:all"]);
    }

    #[test]
    fn only_an_unpartitioned_rule_has_one_bucket() {
        let limits = limits(json!([
            {"id": "all", "limit": 1, "window": 60,
             "provider": {"mode": "filter", "values": ["openai"]}},
            {"limit": 1, "window": 60, "metadata": {"user": {"mode": "partition"}}},
            {"limit": 1, "window": 60, "model": {"mode": "partition"}},
        ]));
        let whole: Vec<_> = limits
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| rule.whole_bucket(index))
            .collect();
        assert_eq!(whole, [Some(":3:all".to_owned()), None, None]);
        // It is the bucket a request counts in.
        assert_eq!(buckets(&limits, "anthropic", "x", None), [":1:2:1:x"]);
        assert_eq!(buckets(&limits, "openai", "gpt-x", None)[0], ":3:all");
    }

    #[test]
    fn bad_rules_are_refused_naming_the_problem() {
        for (rules, needle) in [
            (json!([{"limit": 0, "window": 60}]), "rules[0]: limit"),
            (json!([{"limit": 1, "window": 0}]), "rules[0]: window"),
            (
                json!([{"limit": 1, "window": 60, "limitType": "tokens"}]),
                "limitType",
            ),
            (
                json!([{"limit": 1, "window": 60, "model": {"mode": "filter", "values": []}}]),
                "model",
            ),
            (
                json!([{"limit": 1, "window": 60, "metadata": {"k": {"mode": "both"}}}]),
                "metadata.k",
            ),
            (
                json!(
                    (0..21)
                        .map(|_| json!({"limit": 1, "window": 60}))
                        .collect::<Vec<_>>()
                ),
                "20",
            ),
        ] {
            let refused = SpendLimits::parse(&json!({ "rules": rules })).unwrap_err();
            assert!(refused.contains(needle), "{refused}");
        }
    }
}
