//! A `provider_configs` create or update body, read into typed fields: each checked here,
//! every mistake reported naming its field, a field nobody knows refused with the nearest
//! known name. The secret is never quoted back.

use serde_json::{Map, Value};

use super::secret::SecretText;
use crate::gateways::bounds::{self, Bound, PROVIDER_KEY_ALIAS_CHARS, PROVIDER_KEY_SECRET_BYTES};
use crate::gateways::{FieldError, Patch};
use crate::store::KeyStatus;

/// What a body sets; absent fields are `None` / `Patch::Absent`.
#[derive(Debug, Default)]
pub(super) struct KeyBody {
    pub alias: Option<String>,
    pub default_config: Option<bool>,
    pub provider_slug: Option<String>,
    pub secret: Option<SecretText>,
    pub rate_limit: Patch<u32>,
    pub rate_limit_period: Patch<u32>,
    pub status: Option<KeyStatus>,
}

/// The fields a body may set.
const SETTABLE: &[&str] = &[
    "alias",
    "default_config",
    "provider_slug",
    "secret",
    "rate_limit",
    "rate_limit_period",
    "status",
];

/// Fields of the returned object (and Cloudflare's `secret_id`, which names a secret in its
/// Secrets Store): accepted and ignored, since clients send objects back.
const IGNORED: &[&str] = &[
    "id",
    "gateway_id",
    "secret_id",
    "secret_preview",
    "created_at",
    "modified_at",
    "last_used_at",
];

pub(super) fn parse(body: &Map<String, Value>) -> Result<KeyBody, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut bad = |field: &'static str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        });
    };
    let mut parsed = KeyBody::default();
    if let Some(value) = body.get("alias") {
        match value.as_str() {
            Some(alias) if is_alias(alias) => parsed.alias = Some(alias.to_owned()),
            _ => bad(
                "alias",
                format!(
                    "must be 1-{PROVIDER_KEY_ALIAS_CHARS} characters of a-z, A-Z, 0-9, '.', '-' \
                     and '_'"
                ),
            ),
        }
    }
    if let Some(value) = body.get("default_config") {
        match value.as_bool() {
            Some(on) => parsed.default_config = Some(on),
            None => bad("default_config", "must be true or false".into()),
        }
    }
    if let Some(value) = body.get("provider_slug") {
        match value.as_str() {
            Some(slug) if crate::providers::is_valid_slug(slug) => {
                parsed.provider_slug = Some(slug.to_owned());
            }
            _ => bad(
                "provider_slug",
                "must be a provider slug such as openai".into(),
            ),
        }
    }
    if let Some(value) = body.get("secret") {
        match value.as_str() {
            Some(secret) if is_secret(secret) => {
                parsed.secret = Some(SecretText::new(secret.to_owned()));
            }
            _ => bad(
                "secret",
                format!("must be a string of 1-{PROVIDER_KEY_SECRET_BYTES} bytes"),
            ),
        }
    }
    for (field, bound, slot) in [
        (
            "rate_limit",
            bounds::PROVIDER_KEY_RATE_LIMIT,
            &mut parsed.rate_limit,
        ),
        (
            "rate_limit_period",
            bounds::PROVIDER_KEY_RATE_LIMIT_PERIOD_S,
            &mut parsed.rate_limit_period,
        ),
    ] {
        if let Some(value) = body.get(field) {
            match limit(value, bound) {
                Ok(patch) => *slot = patch,
                Err(message) => bad(field, message),
            }
        }
    }
    if let Some(value) = body.get("status") {
        match value.as_str().and_then(KeyStatus::parse) {
            Some(status) => parsed.status = Some(status),
            None => bad("status", "must be \"active\" or \"invalid\"".into()),
        }
    }
    for name in body.keys() {
        if !SETTABLE.contains(&name.as_str()) && !IGNORED.contains(&name.as_str()) {
            let message = match crate::suggest::nearest(name, SETTABLE.iter().copied()) {
                Some(known) => format!("unknown field; did you mean {known}?"),
                None => "unknown field".into(),
            };
            errors.push(FieldError {
                field: crate::suggest::shown(name).to_owned().into(),
                message,
            });
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

fn limit(value: &Value, bound: Bound) -> Result<Patch<u32>, String> {
    if value.is_null() {
        return Ok(Patch::Null);
    }
    // Cloudflare's SDKs type these as floats: 60.0 is 60.
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
            .map(|f| {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a whole, non-negative float below 2^32 converts exactly"
                )]
                let whole = f as u64;
                whole
            })
    });
    whole
        .filter(|n| bound.contains(*n))
        .and_then(|n| u32::try_from(n).ok())
        .map(Patch::Value)
        .ok_or_else(|| format!("{} or null", bound.must_be()))
}

fn is_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias.chars().count() <= PROVIDER_KEY_ALIAS_CHARS
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn is_secret(secret: &str) -> bool {
    !secret.is_empty() && secret.len() <= PROVIDER_KEY_SECRET_BYTES
}

/// What a header value can carry as it is: printable ASCII, no space at either end.
pub(super) fn is_header_secret(secret: &str) -> bool {
    secret.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !secret.starts_with(' ')
        && !secret.ends_with(' ')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(body: Value) -> Vec<String> {
        let Value::Object(map) = body else {
            return Vec::new();
        };
        parse(&map)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn every_bad_field_is_named_and_the_secret_never_quoted() {
        let errors = fields(json!({
            "alias": "no spaces", "default_config": "yes", "secret": "",
            "rate_limit": 0, "rate_limit_period": 86_401, "status": "expired",
            "provider_slg": "openai",
        }));
        let named: Vec<&str> = errors
            .iter()
            .map(|e| e.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            named,
            [
                "alias",
                "default_config",
                "secret",
                "rate_limit",
                "rate_limit_period",
                "status",
                "provider_slg"
            ]
        );
        assert!(
            errors.iter().all(|e| !e.contains("sk-canary")),
            "{errors:?}"
        );
        assert!(
            errors
                .last()
                .is_some_and(|e| e.contains("did you mean provider_slug?")),
            "{errors:?}"
        );
    }

    #[test]
    fn read_only_fields_are_ignored_and_null_clears_a_limit() {
        let Value::Object(map) = json!({
            "id": "x", "secret_id": "y", "secret_preview": "z", "rate_limit": null,
            "rate_limit_period": 60,
        }) else {
            return;
        };
        let parsed = parse(&map).ok().unwrap_or_default();
        assert_eq!(parsed.rate_limit, Patch::Null);
        assert_eq!(parsed.rate_limit_period, Patch::Value(60));
    }
}
