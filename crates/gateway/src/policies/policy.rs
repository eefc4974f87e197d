//! A policy in Cloudflare's shape: `name`, `actor` (a bucket template with `{field}`
//! placeholders), `resource` (`"*"`, `{model?, provider?}`, or a list of them; model globs with
//! `*` not crossing `/`), `condition` (CEL) and `action` (`no-limit`, `block`, `block` with
//! `except: true` (an allowlist), or `limit` of USD per calendar UTC period). Validated when
//! written; every invalid field is reported, naming it.

use serde_json::{Map, Value, json};

use super::condition::Condition;
use crate::budgets::CalendarPeriod;
use crate::gateways::FieldError;

/// Bounds of one policy's parts.
const MAX_NAME_CHARS: usize = 128;
const MAX_ACTOR_BYTES: usize = 256;
const MAX_RESOURCES: usize = 64;
const MAX_PATTERN_BYTES: usize = 256;
const MAX_LIMIT_USD: f64 = 1_000_000_000.0;

#[derive(Debug)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub actor: String,
    /// `None`: every resource (`"*"`).
    pub resources: Option<Vec<Resource>>,
    pub condition: Condition,
    pub action: Action,
}

/// One resource a policy names: a model glob and a provider, either optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub model: Option<String>,
    pub provider: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    NoLimit,
    Block,
    /// `{"type": "block", "except": true}`: block every resource but the policy's.
    Allow,
    Limit {
        amount: f64,
        period: CalendarPeriod,
    },
}

impl Policy {
    /// Reads a policy body (`id` given by the caller); every invalid field is reported.
    pub fn parse(id: &str, body: &Map<String, Value>) -> Result<Policy, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &'static str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            });
        };
        let name = match body.get("name") {
            Some(Value::String(name))
                if !name.trim().is_empty()
                    && name.chars().count() <= MAX_NAME_CHARS
                    && !name.chars().any(char::is_control) =>
            {
                Some(name.trim().to_owned())
            }
            _ => {
                fail(
                    "name",
                    format!("required, 1-{MAX_NAME_CHARS} characters, no control characters"),
                );
                None
            }
        };
        let actor = match body.get("actor") {
            Some(Value::String(actor)) => match check_actor(actor) {
                Ok(()) => Some(actor.clone()),
                Err(why) => {
                    fail("actor", why);
                    None
                }
            },
            _ => {
                fail(
                    "actor",
                    "required, a bucket name such as \"user:{metadata.user_id}\"".into(),
                );
                None
            }
        };
        let resources = match resources(body.get("resource")) {
            Ok(found) => Some(found),
            Err(why) => {
                fail("resource", why);
                None
            }
        };
        let condition = match body.get("condition") {
            None | Some(Value::Null) => Condition::compile("true").map_err(|why| vec![why]),
            Some(Value::String(source)) => Condition::compile(source).map_err(|why| vec![why]),
            Some(_) => Err(vec!["must be a CEL expression as a string".into()]),
        };
        let condition = match condition {
            Ok(condition) => Some(condition),
            Err(why) => {
                fail("condition", why.join("; "));
                None
            }
        };
        let action = match body.get("action").map(action) {
            Some(Ok(action)) => Some(action),
            Some(Err(why)) => {
                fail("action", why);
                None
            }
            None => {
                fail("action", "required, e.g. {\"type\": \"no-limit\"}".into());
                None
            }
        };
        match (name, actor, resources, condition, action) {
            (Some(name), Some(actor), Some(resources), Some(condition), Some(action))
                if errors.is_empty() =>
            {
                Ok(Policy {
                    id: id.to_owned(),
                    name,
                    actor,
                    resources,
                    condition,
                    action,
                })
            }
            _ => Err(errors),
        }
    }

    /// The fields a policy is shown with (the store adds `id`, times and its state).
    pub fn to_json(&self) -> Value {
        let resource = match &self.resources {
            None => json!("*"),
            Some(list) => Value::Array(
                list.iter()
                    .map(|r| {
                        let mut object = Map::new();
                        if let Some(model) = &r.model {
                            object.insert("model".into(), json!(model));
                        }
                        if let Some(provider) = &r.provider {
                            object.insert("provider".into(), json!(provider));
                        }
                        Value::Object(object)
                    })
                    .collect(),
            ),
        };
        let action = match self.action {
            Action::NoLimit => json!({"type": "no-limit"}),
            Action::Block => json!({"type": "block"}),
            Action::Allow => json!({"type": "block", "except": true}),
            Action::Limit { amount, period } => json!({
                "type": "limit", "amount": amount, "period": period_name(period),
                "technique": "named-interval",
            }),
        };
        json!({
            "name": self.name,
            "actor": self.actor,
            "resource": resource,
            "condition": self.condition.source(),
            "action": action,
        })
    }

    /// Whether the request's provider and model are among the policy's resources.
    pub fn covers(&self, provider: &str, model: Option<&str>) -> bool {
        let Some(resources) = &self.resources else {
            return true;
        };
        resources.iter().any(|resource| {
            let provider_ok = resource.provider.as_deref().is_none_or(|p| p == provider);
            let model_ok = resource.model.as_deref().is_none_or(|pattern| {
                model.is_some_and(|model| {
                    crate::auth::glob_matches(pattern, model)
                        || crate::auth::glob_matches(pattern, &format!("{provider}/{model}"))
                })
            });
            provider_ok && model_ok
        })
    }

    /// The resource part of the policy's bucket: `*`, or its resources as written.
    pub fn resource_key(&self) -> String {
        match &self.resources {
            None => "*".to_owned(),
            Some(list) => list
                .iter()
                .map(|r| {
                    format!(
                        "{}/{}",
                        r.provider.as_deref().unwrap_or("*"),
                        r.model.as_deref().unwrap_or("*")
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// Placeholders are `{metadata.<key>}` (the request's metadata, as `cf-aig-metadata` or a run
/// token sets it) or `{model}` / `{provider}`; Access identities (`cf.user.*`) are not known
/// to a self-hosted gateway, so they are refused rather than never resolving.
fn check_actor(actor: &str) -> Result<(), String> {
    if actor.is_empty() || actor.len() > MAX_ACTOR_BYTES || actor.chars().any(char::is_control) {
        return Err(format!(
            "must be 1-{MAX_ACTOR_BYTES} bytes without control characters"
        ));
    }
    for field in placeholders(actor)? {
        let known = field == "model"
            || field == "provider"
            || field
                .strip_prefix("metadata.")
                .is_some_and(|k| !k.is_empty());
        if !known {
            return Err(format!(
                "unknown field {{{field}}}: use {{metadata.<key>}}, {{model}} or {{provider}}"
            ));
        }
    }
    Ok(())
}

/// The `{field}` names of an actor template, in order.
pub(super) fn placeholders(actor: &str) -> Result<Vec<&str>, String> {
    let mut fields = Vec::new();
    let mut rest = actor;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "has a { without its }".to_owned())?;
        fields.push(&after[..close]);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("has a } without its {".into());
    }
    Ok(fields)
}

fn resources(value: Option<&Value>) -> Result<Option<Vec<Resource>>, String> {
    let items = match value {
        None | Some(Value::Null) => {
            return Err("required: \"*\", {model, provider} or a list".into());
        }
        Some(Value::String(star)) if star == "*" => return Ok(None),
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_RESOURCES => {
            items.iter().collect::<Vec<_>>()
        }
        Some(Value::Array(_)) => return Err(format!("a list of 1-{MAX_RESOURCES} resources")),
        Some(object @ Value::Object(_)) => vec![object],
        Some(_) => return Err("must be \"*\", {model, provider} or a list of them".into()),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(star) if star == "*" => Ok(Resource {
                model: None,
                provider: None,
            }),
            Value::Object(object) => {
                let text = |key: &str| match object.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_PATTERN_BYTES => {
                        Ok(Some(s.clone()))
                    }
                    Some(_) => Err(format!(
                        "{key} must be a string of 1-{MAX_PATTERN_BYTES} bytes"
                    )),
                };
                if let Some(unknown) = object.keys().find(|k| *k != "model" && *k != "provider") {
                    return Err(format!(
                        "unknown field {unknown:?} (expected model, provider)"
                    ));
                }
                Ok(Resource {
                    model: text("model")?,
                    provider: text("provider")?,
                })
            }
            _ => Err("each resource must be \"*\" or {model, provider}".into()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn action(value: &Value) -> Result<Action, String> {
    let Value::Object(object) = value else {
        return Err("must be an object with a type".into());
    };
    match object.get("type").and_then(Value::as_str) {
        Some("no-limit") => Ok(Action::NoLimit),
        Some("block") => match object.get("except") {
            None | Some(Value::Bool(false)) => Ok(Action::Block),
            Some(Value::Bool(true)) => Ok(Action::Allow),
            Some(_) => Err("except must be a boolean".into()),
        },
        Some("limit") => {
            let amount = object
                .get("amount")
                .and_then(Value::as_f64)
                .filter(|a| a.is_finite() && *a > 0.0 && *a <= MAX_LIMIT_USD)
                .ok_or_else(|| format!("amount must be USD above 0 and at most {MAX_LIMIT_USD}"))?;
            let period = match object.get("period").and_then(Value::as_str) {
                Some("hourly") => CalendarPeriod::Hour,
                Some("daily") => CalendarPeriod::Day,
                Some("weekly") => CalendarPeriod::Week,
                Some("monthly") => CalendarPeriod::Month,
                _ => return Err("period must be hourly, daily, weekly or monthly".into()),
            };
            match object.get("technique") {
                None | Some(Value::Null) => {}
                Some(Value::String(t)) if t == "named-interval" => {}
                Some(_) => return Err("technique must be \"named-interval\"".into()),
            }
            Ok(Action::Limit { amount, period })
        }
        _ => Err("type must be no-limit, block or limit".into()),
    }
}

pub(super) fn period_name(period: CalendarPeriod) -> &'static str {
    match period {
        CalendarPeriod::Hour => "hourly",
        CalendarPeriod::Day => "daily",
        CalendarPeriod::Week => "weekly",
        CalendarPeriod::Month => "monthly",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<Policy, Vec<FieldError>> {
        let Value::Object(body) = body else {
            unreachable!("the tests pass objects")
        };
        Policy::parse("p1", &body)
    }

    #[test]
    fn a_policy_reads_back_as_written() {
        let body = json!({
            "name": "team cap", "actor": "team:{metadata.team}",
            "resource": [{"provider": "openai", "model": "gpt-4o*"}],
            "condition": "metadata.team != 'ops'",
            "action": {"type": "limit", "amount": 5.0, "period": "daily",
                       "technique": "named-interval"},
        });
        let policy = parse(body.clone()).unwrap();
        assert_eq!(policy.to_json(), body);
        assert!(policy.covers("openai", Some("gpt-4o-mini")));
        assert!(!policy.covers("anthropic", Some("gpt-4o")));
        assert!(!policy.covers("openai", None));
    }

    #[test]
    fn every_invalid_field_is_named() {
        let errors = parse(json!({
            "name": "", "actor": "user:{cf.user.id}", "resource": [],
            "condition": "metadata.x ==", "action": {"type": "limit", "amount": 1, "period": "yearly"},
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| &*e.field).collect();
        assert_eq!(fields, ["name", "actor", "resource", "condition", "action"]);
    }
}
