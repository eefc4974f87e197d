//! Evaluating a gateway's committed policies for one request, as Cloudflare does (order does
//! not matter): a matching `block` wins (403), as does an allowlist whose actor and condition
//! match a request for another resource; the other matches are grouped into buckets by their
//! resolved actor and resource; a bucket with a `no-limit` policy is not checked; otherwise the
//! highest cap of each period applies, and the request must be under it in every bucket, else
//! 429 with the bucket. No match at all is 403: deny by default once a policy exists.

use serde_json::{Value, json};

use super::Facts;
use super::policy::{Action, Policy, period_name, placeholders};
use crate::budgets::CalendarPeriod;

/// What the policies decide for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    /// Each bucket the request counts in, with the caps that apply to it.
    pub buckets: Vec<Bucket>,
    pub evaluated: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Blocked by this policy, or by none matching (`None`).
    Block { policy: Option<String> },
    /// Matched without any cap to check.
    NoLimit,
    /// The buckets' caps decide.
    CheckLimits,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// `{actor}|{resource}`: the spend of everything this bucket counts.
    pub id: String,
    pub no_limit: bool,
    /// The highest cap per period, with the policy that set it.
    pub caps: Vec<Cap>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cap {
    pub limit: f64,
    pub period: CalendarPeriod,
    pub policy: String,
}

/// The verdict once spend is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Enforcement {
    Allowed,
    Blocked {
        policy: Option<String>,
    },
    LimitExceeded {
        bucket: String,
        spent: f64,
        limit: f64,
        policy: String,
    },
}

/// Evaluates `policies` for the request `facts` describes.
pub fn evaluate(policies: &[Policy], facts: &Facts<'_>) -> Evaluation {
    let mut matched: Vec<(&Policy, String)> = Vec::new();
    for policy in policies {
        // A condition that cannot be evaluated does not match: Cloudflare allows the request
        // then, but a broken condition must not open a gateway that denies by default.
        if policy.condition.matches(facts) != Ok(true) {
            continue;
        }
        let actor = resolve(&policy.actor, facts);
        let covered = policy.covers(facts.provider, facts.model);
        let blocks = match policy.action {
            // A block whose actor cannot be resolved still blocks what it covers.
            Action::Block => covered,
            Action::Allow => actor.is_some() && !covered,
            _ => false,
        };
        if blocks {
            return Evaluation {
                decision: Decision::Block {
                    policy: Some(policy.name.clone()),
                },
                buckets: Vec::new(),
                evaluated: policies.len(),
            };
        }
        if let (Some(actor), true) = (actor, covered) {
            matched.push((policy, format!("{actor}|{}", policy.resource_key())));
        }
    }
    if matched.is_empty() {
        return Evaluation {
            decision: Decision::Block { policy: None },
            buckets: Vec::new(),
            evaluated: policies.len(),
        };
    }
    let mut buckets: Vec<Bucket> = Vec::new();
    for (policy, id) in matched {
        let index = match buckets.iter().position(|b| b.id == id) {
            Some(index) => index,
            None => {
                buckets.push(Bucket {
                    id,
                    no_limit: false,
                    caps: Vec::new(),
                });
                buckets.len() - 1
            }
        };
        let Some(bucket) = buckets.get_mut(index) else {
            continue;
        };
        match policy.action {
            Action::NoLimit => bucket.no_limit = true,
            Action::Limit { amount, period } => {
                match bucket.caps.iter_mut().find(|cap| cap.period == period) {
                    Some(cap) if cap.limit >= amount => {}
                    Some(cap) => {
                        cap.limit = amount;
                        cap.policy.clone_from(&policy.name);
                    }
                    None => bucket.caps.push(Cap {
                        limit: amount,
                        period,
                        policy: policy.name.clone(),
                    }),
                }
            }
            Action::Block | Action::Allow => {}
        }
    }
    for bucket in &mut buckets {
        if bucket.no_limit {
            bucket.caps.clear();
        }
    }
    let decision = match buckets.iter().any(|b| !b.caps.is_empty()) {
        true => Decision::CheckLimits,
        false => Decision::NoLimit,
    };
    Evaluation {
        decision,
        buckets,
        evaluated: policies.len(),
    }
}

impl Evaluation {
    /// The verdict given what each bucket has spent in each period's current window (USD):
    /// the request must be under every cap.
    pub fn enforce(&self, spent: impl Fn(&str, CalendarPeriod) -> f64) -> Enforcement {
        if let Decision::Block { policy } = &self.decision {
            return Enforcement::Blocked {
                policy: policy.clone(),
            };
        }
        for bucket in &self.buckets {
            for cap in &bucket.caps {
                let spent = spent(&bucket.id, cap.period);
                if spent >= cap.limit {
                    return Enforcement::LimitExceeded {
                        bucket: bucket.id.clone(),
                        spent,
                        limit: cap.limit,
                        policy: cap.policy.clone(),
                    };
                }
            }
        }
        Enforcement::Allowed
    }

    /// Cloudflare's `simulate` answer for this evaluation and verdict.
    pub fn simulated(&self, enforcement: &Enforcement) -> Value {
        let decision = match self.decision {
            Decision::Block { .. } => "block",
            Decision::NoLimit => "no-limit",
            Decision::CheckLimits => "check_limits",
        };
        let buckets: Vec<Value> = self
            .buckets
            .iter()
            .map(|bucket| {
                let caps: Vec<Value> = bucket
                    .caps
                    .iter()
                    .map(|cap| {
                        json!({"limit": cap.limit, "period": period_name(cap.period),
                               "policyName": cap.policy})
                    })
                    .collect();
                json!({"bucket": bucket.id, "noLimit": bucket.no_limit, "limits": caps})
            })
            .collect();
        let enforcement = match enforcement {
            Enforcement::Allowed => json!({"allowed": true}),
            Enforcement::Blocked { policy } => {
                json!({"allowed": false, "reason": "blocked", "policyName": policy})
            }
            Enforcement::LimitExceeded {
                bucket,
                spent,
                limit,
                policy,
            } => json!({
                "allowed": false, "reason": "limit_exceeded", "bucket": bucket,
                "spent": spent, "limit": limit, "policyName": policy,
            }),
        };
        json!({
            "evaluation": {"decision": decision, "buckets": buckets},
            "enforcement": enforcement,
            "policiesEvaluated": self.evaluated,
        })
    }
}

/// The actor with each `{field}` filled from the request, or `None` when a field is missing.
fn resolve(actor: &str, facts: &Facts<'_>) -> Option<String> {
    let fields = placeholders(actor).ok()?;
    let mut resolved = actor.to_owned();
    for field in fields {
        let value = match field {
            "model" => facts.model?.to_owned(),
            "provider" => facts.provider.to_owned(),
            _ => {
                let key = field.strip_prefix("metadata.")?;
                match &facts.metadata.iter().find(|(k, _)| k == key)?.1 {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                }
            }
        };
        resolved = resolved.replacen(&format!("{{{field}}}"), &value, 1);
    }
    Some(resolved)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(name: &str, body: Value) -> Policy {
        let Value::Object(mut body) = body else {
            unreachable!("the tests pass objects")
        };
        body.insert("name".into(), json!(name));
        Policy::parse(name, &body).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn facts<'a>(metadata: &'a [(String, Value)], model: &'a str) -> Facts<'a> {
        Facts {
            metadata,
            model: Some(model),
            provider: "openai",
        }
    }

    fn user(id: &str) -> Vec<(String, Value)> {
        vec![("user".to_owned(), json!(id))]
    }

    #[test]
    fn no_match_is_denied_and_a_block_wins() {
        let policies = [
            policy(
                "users",
                json!({"actor": "user:{metadata.user}", "resource": "*",
                                   "action": {"type": "no-limit"}}),
            ),
            policy(
                "no-o1",
                json!({"actor": "all", "resource": {"model": "o1*"},
                                   "action": {"type": "block"}}),
            ),
        ];
        let anonymous = evaluate(&policies, &facts(&[], "gpt-4o"));
        assert_eq!(anonymous.decision, Decision::Block { policy: None });
        let known = user("u1");
        assert_eq!(
            evaluate(&policies, &facts(&known, "gpt-4o")).decision,
            Decision::NoLimit
        );
        assert_eq!(
            evaluate(&policies, &facts(&known, "o1-mini")).decision,
            Decision::Block {
                policy: Some("no-o1".into())
            }
        );
    }

    #[test]
    fn an_allowlist_blocks_what_it_does_not_name() {
        let policies = [policy(
            "interns",
            json!({"actor": "user:{metadata.user}", "resource": [{"model": "gpt-4o-mini"}],
                   "condition": "metadata.role == 'intern'",
                   "action": {"type": "block", "except": true}}),
        )];
        let intern = vec![
            ("user".to_owned(), json!("u1")),
            ("role".to_owned(), json!("intern")),
        ];
        assert_eq!(
            evaluate(&policies, &facts(&intern, "gpt-4o-mini")).decision,
            Decision::NoLimit
        );
        assert!(matches!(
            evaluate(&policies, &facts(&intern, "gpt-4o")).decision,
            Decision::Block { policy: Some(_) }
        ));
    }

    #[test]
    fn the_highest_cap_of_a_period_applies_in_every_bucket() {
        let policies = [
            policy(
                "small",
                json!({"actor": "user:{metadata.user}", "resource": "*",
                "action": {"type": "limit", "amount": 1, "period": "daily"}}),
            ),
            policy(
                "large",
                json!({"actor": "user:{metadata.user}", "resource": "*",
                "action": {"type": "limit", "amount": 3, "period": "daily"}}),
            ),
            policy(
                "monthly",
                json!({"actor": "user:{metadata.user}", "resource": "*",
                "action": {"type": "limit", "amount": 10, "period": "monthly"}}),
            ),
        ];
        let u1 = user("u1");
        let evaluation = evaluate(&policies, &facts(&u1, "gpt-4o"));
        assert_eq!(evaluation.decision, Decision::CheckLimits);
        assert_eq!(evaluation.buckets.len(), 1);
        assert_eq!(evaluation.buckets[0].id, "user:u1|*");
        let spent = |daily: f64, monthly: f64| {
            move |_: &str, period: CalendarPeriod| match period {
                CalendarPeriod::Day => daily,
                _ => monthly,
            }
        };
        assert_eq!(evaluation.enforce(spent(2.5, 5.0)), Enforcement::Allowed);
        assert_eq!(
            evaluation.enforce(spent(3.0, 5.0)),
            Enforcement::LimitExceeded {
                bucket: "user:u1|*".into(),
                spent: 3.0,
                limit: 3.0,
                policy: "large".into(),
            }
        );
        let simulated = evaluation.simulated(&evaluation.enforce(spent(0.0, 10.0)));
        assert_eq!(simulated["enforcement"]["reason"], "limit_exceeded");
        assert_eq!(simulated["enforcement"]["policyName"], "monthly");
        assert_eq!(simulated["policiesEvaluated"], 3);
    }

    #[test]
    fn a_no_limit_policy_lifts_its_buckets_caps() {
        let policies = [
            policy(
                "cap",
                json!({"actor": "user:{metadata.user}", "resource": "*",
                "action": {"type": "limit", "amount": 1, "period": "hourly"}}),
            ),
            policy(
                "vip",
                json!({"actor": "user:{metadata.user}", "resource": "*",
                "condition": "metadata.user == 'boss'", "action": {"type": "no-limit"}}),
            ),
        ];
        let boss = user("boss");
        let evaluation = evaluate(&policies, &facts(&boss, "gpt-4o"));
        assert_eq!(evaluation.decision, Decision::NoLimit);
        assert_eq!(evaluation.enforce(|_, _| 1_000.0), Enforcement::Allowed);
    }
}
