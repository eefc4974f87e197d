//! A gateway settings update, typed: each field absent, null or a value, validated here and
//! nowhere else. Adding a setting is one line of the `fields!` table below.

use serde_json::{Map, Value};

use super::FieldError;
use super::bounds::{self, Bound};
use super::settings::{Backoff, GatewaySettings, LogStrategy, RateLimitKey, RateLimitTechnique};
use crate::budgets::SpendLimits;

/// One field of an update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Not in the body: the field keeps its value.
    #[default]
    Absent,
    /// `null`: the field goes back to its default.
    Null,
    Value(T),
}

impl<T> Patch<T> {
    fn write(self, slot: &mut T, default: T) {
        match self {
            Patch::Absent => {}
            Patch::Null => *slot = default,
            Patch::Value(value) => *slot = value,
        }
    }
}

/// Fields of Cloudflare's gateway object that Tollgate does not act on yet: stored as sent and
/// returned, so clients that set them read back what they wrote (docs/architecture.md).
pub const CLOUDFLARE_STORED: &[&str] = &[
    "log_classification",
    "logpush",
    "logpush_public_key",
    "store_id",
    "stripe",
    "workers_ai_billing_mode",
    "zdr",
];

/// Fields of the returned object that SDKs send back on update; ignored (`id` is checked by the
/// API, which alone knows the path's id).
pub const READ_ONLY: &[&str] = &[
    "id",
    "account_id",
    "account_tag",
    "internal_id",
    "is_default",
    "created_at",
    "modified_at",
    "cache_generation",
];

/// The table: each setting, its type as stored, and how its JSON is read. A parser returns
/// `Patch::Null` only for the fields that take `null`.
macro_rules! fields {
    ($($name:ident: $ty:ty = $parse:expr,)*) => {
        /// A validated update of a gateway's settings.
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct SettingsPatch {
            $(pub $name: Patch<$ty>,)*
            /// Values of [`CLOUDFLARE_STORED`] fields, as sent.
            pub cloudflare: Map<String, Value>,
        }

        /// The fields an update sets, in the order their errors are reported.
        pub const SETTABLE: &[&str] = &[$(stringify!($name)),*];

        impl SettingsPatch {
            fn fields(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> SettingsPatch {
                SettingsPatch {
                    $($name: field(body, stringify!($name), $parse, errors),)*
                    cloudflare: Map::new(),
                }
            }
        }

        impl GatewaySettings {
            /// Writes the fields the patch sets; `null` restores a field's default.
            pub fn write(&mut self, patch: SettingsPatch) {
                let default = GatewaySettings::default();
                $(patch.$name.write(&mut self.$name, default.$name);)*
                self.cloudflare.extend(patch.cloudflare);
            }
        }
    };
}

fields! {
    cache_ttl: u32 = nullable(int(bounds::CACHE_TTL_S)),
    cache_invalidate_on_update: bool = required(boolean),
    cache_custom_key_shared: bool = required(boolean),
    collect_logs: bool = required(boolean),
    rate_limiting_interval: u32 = nullable(int(bounds::RATE_LIMIT_INTERVAL_S)),
    rate_limiting_limit: u32 = nullable(int(bounds::RATE_LIMIT_LIMIT)),
    rate_limiting_technique: RateLimitTechnique = nullable(technique),
    rate_limiting_key: RateLimitKey = nullable(rate_limit_key),
    authentication: bool = required(boolean),
    retry_max_attempts: u8 = nullable(int(bounds::RETRY_MAX_ATTEMPTS)),
    retry_delay: u32 = nullable(int(bounds::RETRY_DELAY_MS)),
    retry_backoff: Backoff = nullable(backoff),
    request_timeout_ms: Option<u64> = nullable(some(int(bounds::REQUEST_TIMEOUT_MS))),
    log_management: Option<u32> = nullable(some(int(bounds::LOG_MANAGEMENT))),
    log_management_strategy: Option<LogStrategy> = nullable(some(strategy)),
    spend_limits: Option<SpendLimits> = nullable(some(SpendLimits::parse)),
    byok_only: bool = required(boolean),
    otel: Option<Vec<crate::otel::ExportTarget>> = nullable(some(crate::otel::parse_gateway_field)),
    dlp: Option<crate::dlp::DlpSettings> = nullable(some(crate::dlp::DlpSettings::parse)),
    guardrails: Option<crate::guardrails::GuardrailSettings> =
        nullable(some(crate::guardrails::GuardrailSettings::parse)),
    idle_timeout_ms: Option<u64> = nullable(some(int(bounds::WS_IDLE_TIMEOUT_MS))),
    max_session_ms: Option<u64> = nullable(some(int(bounds::WS_MAX_SESSION_MS))),
    ping_interval_ms: Option<u64> = nullable(some(int(bounds::WS_PING_INTERVAL_MS))),
}

impl SettingsPatch {
    /// Reads a create or update body. Every invalid field is reported, each naming its field;
    /// a field nobody knows is one of them, with the nearest known name when one is close.
    pub fn parse(body: &Map<String, Value>) -> Result<SettingsPatch, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut patch = SettingsPatch::fields(body, &mut errors);
        for (name, value) in body {
            if CLOUDFLARE_STORED.contains(&name.as_str()) {
                patch.cloudflare.insert(name.clone(), value.clone());
            } else if !SETTABLE.contains(&name.as_str()) && !READ_ONLY.contains(&name.as_str()) {
                errors.push(FieldError {
                    field: name.clone().into(),
                    message: unknown(name),
                });
            }
        }
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }
}

fn field<T>(
    body: &Map<String, Value>,
    name: &'static str,
    parse: impl Fn(&Value) -> Result<Patch<T>, String>,
    errors: &mut Vec<FieldError>,
) -> Patch<T> {
    let Some(value) = body.get(name) else {
        return Patch::Absent;
    };
    parse(value).unwrap_or_else(|message| {
        errors.push(FieldError {
            field: name.into(),
            message,
        });
        Patch::Absent
    })
}

fn unknown(name: &str) -> String {
    match crate::suggest::nearest(name, SETTABLE.iter().chain(CLOUDFLARE_STORED).copied()) {
        Some(known) => format!("unknown field; did you mean {known}?"),
        None => "unknown field".into(),
    }
}

/// `null` resets the field to its default.
fn nullable<T>(
    parse: impl Fn(&Value) -> Result<T, String>,
) -> impl Fn(&Value) -> Result<Patch<T>, String> {
    move |value| match value {
        Value::Null => Ok(Patch::Null),
        _ => parse(value).map(Patch::Value),
    }
}

/// `null` is refused with the parser's own message.
fn required<T>(
    parse: impl Fn(&Value) -> Result<T, String>,
) -> impl Fn(&Value) -> Result<Patch<T>, String> {
    move |value| parse(value).map(Patch::Value)
}

fn some<T>(
    parse: impl Fn(&Value) -> Result<T, String>,
) -> impl Fn(&Value) -> Result<Option<T>, String> {
    move |value| parse(value).map(Some)
}

fn int<T: TryFrom<u64>>(bound: Bound) -> impl Fn(&Value) -> Result<T, String> {
    move |value| {
        value
            .as_u64()
            .filter(|n| bound.contains(*n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| bound.must_be())
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be true or false".into())
}

fn technique(value: &Value) -> Result<RateLimitTechnique, String> {
    match value.as_str() {
        Some("fixed") => Ok(RateLimitTechnique::Fixed),
        Some("sliding") => Ok(RateLimitTechnique::Sliding),
        _ => Err("must be \"fixed\" or \"sliding\"".into()),
    }
}

fn rate_limit_key(value: &Value) -> Result<RateLimitKey, String> {
    let text = value.as_str().ok_or("must be a string")?;
    RateLimitKey::parse(text).ok_or_else(|| {
        "must be \"gateway\", \"ip\" or \"header:<name>\" with a valid header name".into()
    })
}

fn backoff(value: &Value) -> Result<Backoff, String> {
    value
        .as_str()
        .and_then(Backoff::parse)
        .ok_or_else(|| "must be \"constant\", \"linear\" or \"exponential\"".into())
}

fn strategy(value: &Value) -> Result<LogStrategy, String> {
    match value.as_str() {
        Some("STOP_INSERTING") => Ok(LogStrategy::StopInserting),
        Some("DELETE_OLDEST") => Ok(LogStrategy::DeleteOldest),
        _ => Err("must be \"STOP_INSERTING\", \"DELETE_OLDEST\" or null".into()),
    }
}

#[cfg(test)]
mod tests;
