//! The gateway's `dlp` field in both of Cloudflare's shapes (docs/dlp.md): the older
//! `{enabled, action, profiles}` and the per-policy `{enabled, policies:[{id, action, check,
//! enabled, profiles}]}`. Kept in the shape it was written in, so a client reads back what it
//! sent, and read by the proxy as a list of policies either way.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::builtin::BUILTIN_IDS;

/// The most policies a gateway may have, and profiles a policy may name.
pub const MAX_POLICIES: usize = 16;
pub const MAX_PROFILES: usize = 16;
/// The longest policy or profile id.
pub const MAX_ID_BYTES: usize = 64;

/// What a match does. Ordered by strength: when several policies match, the strongest acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// Recorded (header, log) and let through.
    Flag,
    /// Matches replaced by `[REDACTED:<entry>]` (a Tollgate extension).
    Redact,
    /// Refused: 400 with code 2029 (request) or 2030 (response).
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Flag => "FLAG",
            Action::Redact => "REDACT",
            Action::Block => "BLOCK",
        }
    }

    fn parse(value: &Value) -> Result<Action, String> {
        match value.as_str() {
            Some("FLAG") => Ok(Action::Flag),
            Some("BLOCK") => Ok(Action::Block),
            Some("REDACT") => Ok(Action::Redact),
            _ => Err("must be \"FLAG\", \"BLOCK\" or \"REDACT\"".into()),
        }
    }
}

/// Which side of a request a policy checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Check {
    Request,
    Response,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Request => "REQUEST",
            Check::Response => "RESPONSE",
        }
    }
}

/// The gateway field, in the shape it was written in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DlpSettings {
    Policies {
        enabled: bool,
        policies: Vec<Policy>,
    },
    Legacy {
        enabled: bool,
        action: Action,
        profiles: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: String,
    pub action: Action,
    pub check: Vec<Check>,
    pub enabled: bool,
    pub profiles: Vec<String>,
}

/// The id the older shape's one policy is reported under (`cf-aig-dlp`, the log).
pub const LEGACY_POLICY_ID: &str = "default";

/// A policy as the proxy applies it.
#[derive(Debug, Clone, Copy)]
pub struct Active<'a> {
    pub id: &'a str,
    pub action: Action,
    pub profiles: &'a [String],
}

impl DlpSettings {
    /// The enabled policies that check `side`. The older shape's policy checks both sides.
    pub fn active(&self, side: Check) -> Vec<Active<'_>> {
        match self {
            DlpSettings::Policies { enabled, policies } if *enabled => policies
                .iter()
                .filter(|p| p.enabled && p.check.contains(&side))
                .map(|p| Active {
                    id: &p.id,
                    action: p.action,
                    profiles: &p.profiles,
                })
                .collect(),
            DlpSettings::Legacy {
                enabled,
                action,
                profiles,
            } if *enabled => vec![Active {
                id: LEGACY_POLICY_ID,
                action: *action,
                profiles,
            }],
            _ => Vec::new(),
        }
    }

    /// The custom profile ids the field names, each once (docs/dlp.md, "Custom profiles").
    pub fn custom_profiles(&self) -> Vec<&str> {
        let named: Vec<&String> = match self {
            DlpSettings::Policies { policies, .. } => {
                policies.iter().flat_map(|p| &p.profiles).collect()
            }
            DlpSettings::Legacy { profiles, .. } => profiles.iter().collect(),
        };
        let mut custom: Vec<&str> = Vec::new();
        for id in named {
            if !BUILTIN_IDS.contains(&id.as_str()) && !custom.contains(&id.as_str()) {
                custom.push(id);
            }
        }
        custom
    }

    /// Reads the field from a create or update body; the message names the part that is wrong
    /// (`policies[1].check: …`).
    pub fn parse(value: &Value) -> Result<DlpSettings, String> {
        Self::parse_object(value).map_err(|why| match why.strip_prefix('.') {
            Some(path) => path.to_owned(),
            None => why,
        })
    }

    fn parse_object(value: &Value) -> Result<DlpSettings, String> {
        let Value::Object(fields) = value else {
            return Err(
                "must be an object: {enabled, action, profiles} or {enabled, policies}".into(),
            );
        };
        let enabled = match fields.get("enabled") {
            Some(Value::Bool(enabled)) => *enabled,
            None => true,
            Some(_) => return Err(".enabled: must be true or false".into()),
        };
        if fields.contains_key("policies") {
            known_keys(fields, &["enabled", "policies"], "")?;
            let Some(Value::Array(list)) = fields.get("policies") else {
                return Err(".policies: must be a list of policies".into());
            };
            if list.len() > MAX_POLICIES {
                return Err(format!(".policies: at most {MAX_POLICIES} policies"));
            }
            let mut policies = Vec::with_capacity(list.len());
            for (index, policy) in list.iter().enumerate() {
                let policy =
                    parse_policy(policy).map_err(|why| format!(".policies[{index}]{why}"))?;
                if policies.iter().any(|p: &Policy| p.id == policy.id) {
                    return Err(format!(
                        ".policies[{index}].id: {:?} is used twice",
                        policy.id
                    ));
                }
                policies.push(policy);
            }
            Ok(DlpSettings::Policies { enabled, policies })
        } else {
            known_keys(fields, &["enabled", "action", "profiles"], "policies")?;
            let action = fields
                .get("action")
                .ok_or_else(|| "must have policies, or an action and profiles".to_owned())
                .and_then(|value| Action::parse(value).map_err(|why| format!(".action: {why}")))?;
            let profiles =
                profiles(fields.get("profiles")).map_err(|why| format!(".profiles{why}"))?;
            Ok(DlpSettings::Legacy {
                enabled,
                action,
                profiles,
            })
        }
    }
}

/// Refuses a key not in `known`, suggesting the nearest of `known` and `also` (the other
/// shape's keys).
fn known_keys(fields: &Map<String, Value>, known: &[&str], also: &str) -> Result<(), String> {
    match fields.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(unknown) => {
            let more = match also {
                "" => String::new(),
                also => format!(" (or {also})"),
            };
            let candidates = known
                .iter()
                .copied()
                .chain((!also.is_empty()).then_some(also));
            let hint = crate::suggest::nearest(unknown, candidates)
                .map(|name| format!("; did you mean {name}?"))
                .unwrap_or_else(|| format!("; known: {}{more}", known.join(", ")));
            Err(format!(".{unknown}: unknown key{hint}"))
        }
    }
}

fn parse_policy(value: &Value) -> Result<Policy, String> {
    let Value::Object(fields) = value else {
        return Err(": must be an object {id, action, check, enabled, profiles}".into());
    };
    known_keys(
        fields,
        &["id", "action", "check", "enabled", "profiles"],
        "",
    )?;
    let id = match fields.get("id") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_ID_BYTES => id.clone(),
        _ => return Err(format!(".id: required, 1 to {MAX_ID_BYTES} bytes")),
    };
    let action = Action::parse(fields.get("action").unwrap_or(&Value::Null))
        .map_err(|why| format!(".action: {why}"))?;
    let check = match fields.get("check") {
        None => vec![Check::Request, Check::Response],
        Some(Value::Array(sides)) if !sides.is_empty() => {
            let mut check = Vec::new();
            for side in sides {
                let side = match side.as_str() {
                    Some("REQUEST") => Check::Request,
                    Some("RESPONSE") => Check::Response,
                    _ => return Err(".check: each must be \"REQUEST\" or \"RESPONSE\"".into()),
                };
                if !check.contains(&side) {
                    check.push(side);
                }
            }
            check
        }
        Some(_) => return Err(".check: must be a list of \"REQUEST\" and/or \"RESPONSE\"".into()),
    };
    let enabled = match fields.get("enabled") {
        None => true,
        Some(Value::Bool(enabled)) => *enabled,
        Some(_) => return Err(".enabled: must be true or false".into()),
    };
    let profiles = profiles(fields.get("profiles")).map_err(|why| format!(".profiles{why}"))?;
    Ok(Policy {
        id,
        action,
        check,
        enabled,
        profiles,
    })
}

/// A list of known profile ids (the built-in ones).
fn profiles(value: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(Value::Array(list)) = value else {
        return Err(": required, a list of profile ids".into());
    };
    if list.is_empty() || list.len() > MAX_PROFILES {
        return Err(format!(": 1 to {MAX_PROFILES} profile ids"));
    }
    let mut ids: Vec<String> = Vec::with_capacity(list.len());
    for (index, id) in list.iter().enumerate() {
        let Some(id) = id.as_str() else {
            return Err(format!("[{index}]: must be a profile id"));
        };
        // A custom profile's existence in the account is checked by the management API,
        // which has the store (docs/dlp.md, "Custom profiles").
        if !BUILTIN_IDS.contains(&id) && !super::custom::is_custom_id(id) {
            let hint = crate::suggest::nearest(id, BUILTIN_IDS.iter().copied())
                .map(|known| format!("did you mean {known}? "))
                .unwrap_or_default();
            return Err(format!(
                "[{index}]: unknown profile {:?}; {hint}known: {}, or a custom profile's id",
                crate::suggest::shown(id),
                BUILTIN_IDS.join(", ")
            ));
        }
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn both_shapes_parse_and_round_trip() {
        for body in [
            json!({"enabled": true, "action": "BLOCK", "profiles": ["financial"]}),
            json!({"enabled": true, "policies": [{"id": "p1", "action": "FLAG",
                "check": ["REQUEST", "RESPONSE"], "enabled": true,
                "profiles": ["national_ids", "credentials"]}]}),
        ] {
            let parsed = DlpSettings::parse(&body);
            assert!(parsed.is_ok(), "{parsed:?}");
            let Ok(parsed) = parsed else { return };
            assert_eq!(serde_json::to_value(&parsed).ok(), Some(body.clone()));
            let stored: Option<DlpSettings> = serde_json::from_value(body).ok();
            assert_eq!(stored, Some(parsed));
        }
    }

    #[test]
    fn active_policies_per_side() {
        let settings = DlpSettings::parse(&json!({"enabled": true, "policies": [
            {"id": "in", "action": "REDACT", "check": ["REQUEST"], "enabled": true, "profiles": ["financial"]},
            {"id": "out", "action": "BLOCK", "check": ["RESPONSE"], "enabled": true, "profiles": ["credentials"]},
            {"id": "off", "action": "BLOCK", "check": ["REQUEST"], "enabled": false, "profiles": ["credentials"]}
        ]}));
        let Ok(settings) = settings else {
            unreachable!("{settings:?}")
        };
        let request: Vec<_> = settings
            .active(Check::Request)
            .iter()
            .map(|a| a.id)
            .collect();
        let response: Vec<_> = settings
            .active(Check::Response)
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!((request, response), (vec!["in"], vec!["out"]));
        let legacy = DlpSettings::parse(
            &json!({"enabled": false, "action": "FLAG", "profiles": ["financial"]}),
        );
        assert!(legacy.is_ok_and(|l| l.active(Check::Request).is_empty()));
    }

    #[test]
    fn problems_name_their_place() {
        let cases = [
            (json!("on"), "must be an object"),
            (
                json!({"enabled": true, "action": "DENY", "profiles": ["financial"]}),
                "action: must be",
            ),
            (
                json!({"enabled": true, "action": "FLAG", "profiles": ["financal"]}),
                "profiles[0]: unknown profile \"financal\"; did you mean financial?",
            ),
            (
                json!({"enabled": true, "action": "FLAG", "profiles": []}),
                "profiles: 1 to",
            ),
            (
                json!({"enabled": true, "action": "FLAG"}),
                "profiles: required",
            ),
            (
                json!({"enabled": true, "polices": []}),
                "polices: unknown key; did you mean policies?",
            ),
            (
                json!({"enabled": true, "policies": [{"id": "a", "action": "FLAG", "check": ["BOTH"], "profiles": ["financial"]}]}),
                "policies[0].check:",
            ),
            (
                json!({"enabled": true, "policies": [
                {"id": "a", "action": "FLAG", "profiles": ["financial"]},
                {"id": "a", "action": "FLAG", "profiles": ["financial"]}]}),
                "policies[1].id:",
            ),
            (
                json!({"enabled": "yes", "action": "FLAG", "profiles": ["financial"]}),
                "enabled: must be",
            ),
        ];
        for (body, expected) in cases {
            let error = DlpSettings::parse(&body).err().unwrap_or_default();
            assert!(error.starts_with(expected), "{body}: {error}");
        }
    }
}
