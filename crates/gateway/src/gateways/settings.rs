//! The gateway object and its stored settings; updates are read by `super::patch`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::patch::SettingsPatch;
use crate::budgets::SpendLimits;

/// A gateway as stored: identity, timestamps and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    pub account_id: String,
    pub id: String,
    pub settings: GatewaySettings,
    pub created_at: jiff::Timestamp,
    pub modified_at: jiff::Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    pub cache_ttl: u32,
    pub cache_invalidate_on_update: bool,
    /// Tollgate's extension: `cf-aig-cache-key` entries are shared by clients with different
    /// provider credentials (Cloudflare's behaviour). Off by default, since a client without a
    /// key would then read answers another client paid for (docs/cache.md).
    pub cache_custom_key_shared: bool,
    pub collect_logs: bool,
    pub rate_limiting_interval: u32,
    pub rate_limiting_limit: u32,
    pub rate_limiting_technique: RateLimitTechnique,
    pub rate_limiting_key: RateLimitKey,
    pub authentication: bool,
    pub retry_max_attempts: u8,
    pub retry_delay: u32,
    pub retry_backoff: Backoff,
    pub request_timeout_ms: Option<u64>,
    pub log_management: Option<u32>,
    pub log_management_strategy: Option<LogStrategy>,
    /// Cloudflare's spend limits (docs/budgets.md); `null` when none.
    pub spend_limits: Option<SpendLimits>,
    /// Part of every cache key; bumped by an update with `cache_invalidate_on_update`, so old
    /// entries are never served again. Read-only in the API.
    pub cache_generation: u64,
    /// "Require provider credentials": a request with no provider credential of its own and no
    /// stored key for it is refused (400) instead of forwarded (docs/keys.md).
    pub byok_only: bool,
    /// OpenTelemetry collectors of this gateway's spans (docs/observability.md); `null` when
    /// none.
    pub otel: Option<Vec<crate::otel::ExportTarget>>,
    /// Data loss prevention policies (docs/dlp.md), in the shape they were written in; `null`
    /// when none. A stored value this version cannot read (written before `dlp` was acted on)
    /// is dropped with a warning rather than making the gateway unreadable.
    #[serde(deserialize_with = "crate::dlp::lenient_settings")]
    pub dlp: Option<crate::dlp::DlpSettings>,
    /// Llama-Guard guardrails (docs/guardrails.md), in the shape they were written in; `null`
    /// when none. Like `dlp`, a stored value this version cannot read (written before the
    /// field was acted on) is dropped with a warning.
    #[serde(deserialize_with = "crate::guardrails::lenient_settings")]
    pub guardrails: Option<crate::guardrails::GuardrailSettings>,
    /// This gateway's WebSocket session limits (docs/websockets.md); `None` takes the
    /// instance's `[websockets]` value of the same name.
    pub idle_timeout_ms: Option<u64>,
    pub max_session_ms: Option<u64>,
    pub ping_interval_ms: Option<u64>,
    /// Cloudflare's fields Tollgate stores and returns without acting on them yet
    /// (`super::patch::CLOUDFLARE_STORED`).
    #[serde(flatten)]
    pub cloudflare: Map<String, Value>,
}

impl Default for GatewaySettings {
    /// What an auto-created `default` gateway gets: logs on, everything else off.
    fn default() -> Self {
        GatewaySettings {
            cache_ttl: 0,
            cache_invalidate_on_update: false,
            cache_custom_key_shared: false,
            collect_logs: true,
            rate_limiting_interval: 0,
            rate_limiting_limit: 0,
            rate_limiting_technique: RateLimitTechnique::Fixed,
            rate_limiting_key: RateLimitKey::Gateway,
            authentication: false,
            retry_max_attempts: 1,
            retry_delay: 0,
            retry_backoff: Backoff::Constant,
            request_timeout_ms: None,
            log_management: None,
            log_management_strategy: None,
            spend_limits: None,
            cache_generation: 0,
            byok_only: false,
            otel: None,
            dlp: None,
            guardrails: None,
            idle_timeout_ms: None,
            max_session_ms: None,
            ping_interval_ms: None,
            cloudflare: Map::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitTechnique {
    Fixed,
    Sliding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    Constant,
    Linear,
    Exponential,
}

impl Backoff {
    pub fn parse(text: &str) -> Option<Backoff> {
        match text {
            "constant" => Some(Backoff::Constant),
            "linear" => Some(Backoff::Linear),
            "exponential" => Some(Backoff::Exponential),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogStrategy {
    StopInserting,
    DeleteOldest,
}

/// What a rate limit counts per: the whole gateway, each client IP, or each value of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitKey {
    Gateway,
    Ip,
    Header(http::HeaderName),
}

impl RateLimitKey {
    pub fn parse(text: &str) -> Option<RateLimitKey> {
        match text {
            "gateway" => Some(RateLimitKey::Gateway),
            "ip" => Some(RateLimitKey::Ip),
            _ => text
                .strip_prefix("header:")
                .and_then(|name| http::HeaderName::from_bytes(name.trim().as_bytes()).ok())
                .map(RateLimitKey::Header),
        }
    }
}

impl std::fmt::Display for RateLimitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateLimitKey::Gateway => f.write_str("gateway"),
            RateLimitKey::Ip => f.write_str("ip"),
            RateLimitKey::Header(name) => write!(f, "header:{name}"),
        }
    }
}

impl Serialize for RateLimitKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RateLimitKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RateLimitKey::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid rate_limiting_key `{text}`")))
    }
}

/// A validation problem with one field of a body; `field` is the name as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub message: String,
}

impl GatewaySettings {
    /// Applies a create or update body: the fields present are validated (super::patch) and
    /// written, absent ones keep their value; the result must make sense as a whole, or
    /// nothing changes.
    pub fn apply(&mut self, body: &Map<String, Value>) -> Result<(), Vec<FieldError>> {
        let mut next = self.clone();
        next.write(SettingsPatch::parse(body)?);
        next.check_together()?;
        *self = next;
        Ok(())
    }

    /// Rules between fields. A limit without a window would be accepted and never enforced,
    /// which is worse than a refusal.
    fn check_together(&self) -> Result<(), Vec<FieldError>> {
        if self.rate_limiting_limit > 0 && self.rate_limiting_interval == 0 {
            return Err(vec![FieldError {
                field: "rate_limiting_interval".into(),
                message: format!(
                    "must be 1 to {} seconds while rate_limiting_limit is {} (set \
                     rate_limiting_limit to 0 to turn rate limiting off)",
                    super::bounds::RATE_LIMIT_INTERVAL_S.max,
                    self.rate_limiting_limit
                ),
            }]);
        }
        Ok(())
    }
}

impl Gateway {
    /// The Cloudflare v4 gateway object (plus Tollgate's extension fields).
    /// Cloudflare's `internal_id`, a UUID SDKs require: derived from the gateway's account, id
    /// and creation time, so every instance on one store gives the same one, and a gateway
    /// deleted and created again under the same id gets a new one.
    pub fn internal_id(&self) -> uuid::Uuid {
        let hash = crate::auth::sha256(&format!(
            "{}\0{}\0{}",
            self.account_id,
            self.id,
            self.created_at.as_millisecond()
        ));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        uuid::Uuid::new_v8(bytes)
    }

    pub fn to_json(&self) -> Value {
        let mut object = json!({
            "id": self.id,
            "internal_id": self.internal_id(),
            "account_id": self.account_id,
            "account_tag": self.account_id,
            "is_default": self.id == "default",
            "created_at": self.created_at.to_string(),
            "modified_at": self.modified_at.to_string(),
        });
        if let (Value::Object(target), Ok(Value::Object(settings))) =
            (&mut object, serde_json::to_value(&self.settings))
        {
            target.extend(settings);
        }
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(body: Value) -> Result<GatewaySettings, Vec<FieldError>> {
        let mut settings = GatewaySettings::default();
        let Value::Object(map) = body else {
            unreachable!()
        };
        settings.apply(&map).map(|()| settings)
    }

    #[test]
    fn names_every_bad_field() {
        let errors = apply(
            json!({"cache_ttl": -1, "retry_max_attempts": 9, "collect_logs": "yes",
            "rate_limiting_key": "header:bad header", "log_management_strategy": "KEEP"}),
        )
        .err()
        .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| &*e.field).collect();
        assert_eq!(
            fields,
            [
                "cache_ttl",
                "collect_logs",
                "rate_limiting_key",
                "retry_max_attempts",
                "log_management_strategy"
            ]
        );
    }

    #[test]
    fn applies_and_round_trips() {
        let settings = apply(
            json!({"cache_ttl": 60, "rate_limiting_technique": "sliding",
            "rate_limiting_key": "header:x-user-id", "retry_backoff": "exponential",
            "log_management": 10, "log_management_strategy": "DELETE_OLDEST",
            "dlp": {"enabled": true, "action": "FLAG", "profiles": ["financial"]}}),
        )
        .ok()
        .unwrap_or_default();
        assert_eq!(settings.cache_ttl, 60);
        assert_eq!(settings.rate_limiting_key.to_string(), "header:x-user-id");
        let text = serde_json::to_string(&settings).unwrap_or_default();
        let back: Option<GatewaySettings> = serde_json::from_str(&text).ok();
        assert_eq!(back, Some(settings));
    }

    #[test]
    fn a_stored_dlp_value_from_before_it_was_acted_on_does_not_make_the_gateway_unreadable() {
        // Stored as sent by an earlier version, which did not validate it.
        let stored = r#"{"cache_ttl": 5, "dlp": {"enabled": true}}"#;
        let settings: Option<GatewaySettings> = serde_json::from_str(stored).ok();
        assert_eq!(
            settings.as_ref().map(|s| (s.cache_ttl, s.dlp.is_none())),
            Some((5, true))
        );
    }
}
