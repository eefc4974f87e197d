//! The `cf-aig-*` request headers (docs/architecture.md), parsed and validated before anything goes upstream.

use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;

use crate::error::GatewayError;
use crate::gateways::Backoff;
use crate::gateways::bounds::{self, CACHE_KEY_BYTES, EVENT_ID_BYTES};

mod metadata;

pub use metadata::validate as validate_metadata;

/// What the client asked of the gateway for this one request. `None` means "use the gateway's
/// setting".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOptions {
    /// The token from `cf-aig-authorization: Bearer …`; empty when the header is there but not
    /// of that form.
    pub gateway_token: Option<String>,
    pub cache_ttl: Option<u32>,
    pub skip_cache: bool,
    pub cache_key: Option<String>,
    pub metadata: Option<Vec<(String, Value)>>,
    pub collect_log: Option<bool>,
    pub collect_log_payload: Option<bool>,
    pub custom_cost: Option<CustomCost>,
    pub request_timeout: Option<Duration>,
    pub max_attempts: Option<u8>,
    pub retry_delay: Option<Duration>,
    pub backoff: Option<Backoff>,
    pub event_id: Option<String>,
    /// `cf-aig-byok-alias`: which stored provider key to use (docs/keys.md).
    pub byok_alias: Option<String>,
    /// `cf-aig-otel-trace-id`: the trace the request's spans join (docs/observability.md).
    pub otel_trace_id: Option<opentelemetry::trace::TraceId>,
    /// `cf-aig-otel-parent-span-id`: the caller's span, their parent.
    pub otel_parent_span_id: Option<opentelemetry::trace::SpanId>,
}

/// `cf-aig-custom-cost`: USD per token in and out, or a total.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CustomCost {
    pub per_token_in: Option<f64>,
    pub per_token_out: Option<f64>,
    pub total_cost: Option<f64>,
}

impl RequestOptions {
    pub fn from_headers(headers: &HeaderMap) -> Result<RequestOptions, GatewayError> {
        let mut options = RequestOptions::default();
        for (name, value) in headers {
            let name = name.as_str();
            let Some(option) = name.strip_prefix("cf-aig-") else {
                continue;
            };
            let text = value
                .to_str()
                .map_err(|_| GatewayError::invalid_header(name, "not visible ASCII"))?
                .trim();
            let bad = |why: &str| GatewayError::invalid_header(name, why);
            match option {
                "authorization" => {
                    // A malformed credential is an authentication failure, decided by auth.
                    options.gateway_token =
                        Some(crate::auth::bearer(text).unwrap_or("").to_owned());
                }
                "cache-ttl" => {
                    let seconds = digits(text).ok_or_else(|| bad("expected whole seconds"))?;
                    // Above the bound is clamped, not refused (docs/cache.md).
                    options.cache_ttl = u32::try_from(bounds::CACHE_TTL_S.clamp(seconds)).ok();
                }
                "skip-cache" => options.skip_cache = text.eq_ignore_ascii_case("true"),
                "cache-key" => {
                    if text.is_empty() || text.len() > CACHE_KEY_BYTES {
                        return Err(bad(&format!("must be 1-{CACHE_KEY_BYTES} bytes")));
                    }
                    options.cache_key = Some(text.to_owned());
                }
                "metadata" => options.metadata = Some(parse_metadata(text).map_err(|w| bad(&w))?),
                "collect-log" => {
                    options.collect_log =
                        Some(boolean(text).ok_or_else(|| bad("expected true or false"))?)
                }
                "collect-log-payload" => {
                    options.collect_log_payload =
                        Some(boolean(text).ok_or_else(|| bad("expected true or false"))?)
                }
                "custom-cost" => {
                    options.custom_cost = Some(parse_custom_cost(text).map_err(|w| bad(&w))?)
                }
                "request-timeout" => {
                    options.request_timeout =
                        Some(request_timeout(number(text)).map_err(|w| bad(&w))?);
                }
                "max-attempts" => {
                    options.max_attempts = Some(max_attempts(number(text)).map_err(|w| bad(&w))?);
                }
                "retry-delay" => {
                    options.retry_delay = Some(retry_delay(number(text)).map_err(|w| bad(&w))?);
                }
                "backoff" => {
                    options.backoff = Some(
                        Backoff::parse(text)
                            .ok_or_else(|| bad("expected constant, linear or exponential"))?,
                    )
                }
                "event-id" => {
                    if text.is_empty() || text.len() > EVENT_ID_BYTES {
                        return Err(bad(&format!("must be 1-{EVENT_ID_BYTES} bytes")));
                    }
                    options.event_id = Some(text.to_owned());
                }
                "byok-alias" => options.byok_alias = Some(text.to_owned()),
                "otel-trace-id" => {
                    options.otel_trace_id = Some(
                        crate::otel::trace_id(text)
                            .ok_or_else(|| bad("expected 32 hex digits, not all zero"))?,
                    );
                }
                "otel-parent-span-id" => {
                    options.otel_parent_span_id = Some(
                        crate::otel::span_id(text)
                            .ok_or_else(|| bad("expected 16 hex digits, not all zero"))?,
                    );
                }
                // Other cf-aig-* headers (Cloudflare features Tollgate lacks) are ignored, and
                // like every cf-aig-* header never forwarded.
                _ => {}
            }
        }
        Ok(options)
    }
}

impl RequestOptions {
    /// These options with every value `other` sets taking precedence (a universal-endpoint
    /// step's own headers over the request's).
    pub fn overridden_by(&self, other: &RequestOptions) -> RequestOptions {
        RequestOptions {
            gateway_token: self.gateway_token.clone(),
            cache_ttl: other.cache_ttl.or(self.cache_ttl),
            skip_cache: self.skip_cache || other.skip_cache,
            cache_key: other.cache_key.clone().or_else(|| self.cache_key.clone()),
            metadata: other.metadata.clone().or_else(|| self.metadata.clone()),
            collect_log: other.collect_log.or(self.collect_log),
            collect_log_payload: other.collect_log_payload.or(self.collect_log_payload),
            custom_cost: other.custom_cost.or(self.custom_cost),
            request_timeout: other.request_timeout.or(self.request_timeout),
            max_attempts: other.max_attempts.or(self.max_attempts),
            retry_delay: other.retry_delay.or(self.retry_delay),
            backoff: other.backoff.or(self.backoff),
            event_id: self.event_id.clone(),
            byok_alias: other.byok_alias.clone().or_else(|| self.byok_alias.clone()),
            // One request, one trace.
            otel_trace_id: self.otel_trace_id,
            otel_parent_span_id: self.otel_parent_span_id,
        }
    }
}

fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Beyond u64 is "very large": saturate, then the caller clamps or rejects.
    Some(text.parse().unwrap_or(u64::MAX))
}

/// Not a whole number reads as `u64::MAX`, outside every bound, so it gets the bound's message.
fn number(text: &str) -> u64 {
    digits(text).unwrap_or(u64::MAX)
}

fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_metadata(text: &str) -> Result<Vec<(String, Value)>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            let kept = validate_metadata(map)?;
            crate::auth::refuse_reserved_key(&kept)?;
            Ok(kept)
        }
        _ => Err("expected a JSON object".into()),
    }
}

/// `cf-aig-request-timeout` and a universal step's `requestTimeout`: refused outside the bound.
pub fn request_timeout(ms: u64) -> Result<Duration, String> {
    within(bounds::REQUEST_TIMEOUT_MS, ms).map(Duration::from_millis)
}

/// `cf-aig-max-attempts` and a step's `maxAttempts`.
pub fn max_attempts(attempts: u64) -> Result<u8, String> {
    within(bounds::RETRY_MAX_ATTEMPTS, attempts)
        .and_then(|n| u8::try_from(n).map_err(|_| bounds::RETRY_MAX_ATTEMPTS.expected()))
}

/// `cf-aig-retry-delay` and a step's `retryDelay`.
pub fn retry_delay(ms: u64) -> Result<Duration, String> {
    within(bounds::RETRY_DELAY_MS, ms).map(Duration::from_millis)
}

fn within(bound: bounds::Bound, n: u64) -> Result<u64, String> {
    if bound.contains(n) {
        Ok(n)
    } else {
        Err(bound.expected())
    }
}

fn parse_custom_cost(text: &str) -> Result<CustomCost, String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return Err("expected a JSON object".into());
    };
    let mut cost = CustomCost::default();
    for (key, value) in &map {
        let number = value
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| format!("`{key}` must be a non-negative number"))?;
        match key.as_str() {
            "per_token_in" => cost.per_token_in = Some(number),
            "per_token_out" => cost.per_token_out = Some(number),
            "total_cost" => cost.total_cost = Some(number),
            other => return Err(format!("unknown field `{other}`")),
        }
    }
    if cost == CustomCost::default() {
        return Err("expected per_token_in, per_token_out or total_cost".into());
    }
    Ok(cost)
}

#[cfg(test)]
mod tests;
