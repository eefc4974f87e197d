//! The bounds table: every limit on a gateway setting or a per-request option, written once and
//! read by the management API, the `cf-aig-*` headers, universal steps and the retry policy.

/// An inclusive range of whole numbers, with the unit its messages name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bound {
    pub min: u64,
    pub max: u64,
    /// `seconds`, `milliseconds`, or empty for a count.
    pub unit: &'static str,
}

/// Default cache TTL of a gateway, and `cf-aig-cache-ttl` (larger header values are clamped).
pub const CACHE_TTL_S: Bound = Bound::new(0, 2_592_000, "seconds");
/// Wait for the response head of one attempt: `request_timeout_ms`, `cf-aig-request-timeout`,
/// a universal step's `requestTimeout`.
pub const REQUEST_TIMEOUT_MS: Bound = Bound::new(1, 3_600_000, "milliseconds");
/// `retry_max_attempts`, `cf-aig-max-attempts`, a step's `maxAttempts`; 1 means no retry.
pub const RETRY_MAX_ATTEMPTS: Bound = Bound::new(1, 5, "");
/// `retry_delay`, `cf-aig-retry-delay`, a step's `retryDelay`.
pub const RETRY_DELAY_MS: Bound = Bound::new(0, 5_000, "milliseconds");
/// `rate_limiting_interval`: the window, at most a day; 0 only with a `rate_limiting_limit` of 0
/// (rate limiting off).
pub const RATE_LIMIT_INTERVAL_S: Bound = Bound::new(0, 86_400, "seconds");
/// `rate_limiting_limit`: requests per window; 0 turns rate limiting off.
pub const RATE_LIMIT_LIMIT: Bound = Bound::new(0, u32::MAX as u64, "");
/// `log_management`: the most log rows a gateway keeps.
pub const LOG_MANAGEMENT: Bound = Bound::new(1, 10_000_000, "");

/// A stored provider key's `rate_limit` (requests per window) and `rate_limit_period` (the
/// window), docs/keys.md.
pub const PROVIDER_KEY_RATE_LIMIT: Bound = Bound::new(1, u32::MAX as u64, "");
pub const PROVIDER_KEY_RATE_LIMIT_PERIOD_S: Bound = Bound::new(1, 86_400, "seconds");
/// A stored provider key's alias, in characters, and its secret, in bytes.
pub const PROVIDER_KEY_ALIAS_CHARS: usize = 64;
pub const PROVIDER_KEY_SECRET_BYTES: usize = 16 * 1024;

/// `cf-aig-metadata` and a log's `metadata`: entries kept (the rest are dropped), key and value
/// sizes in bytes (longer ones are refused).
pub const METADATA_ENTRIES: usize = 5;
pub const METADATA_KEY_BYTES: usize = 64;
pub const METADATA_VALUE_BYTES: usize = 512;
/// `cf-aig-cache-key` and `cf-aig-event-id`, in bytes.
pub const CACHE_KEY_BYTES: usize = 256;
pub const EVENT_ID_BYTES: usize = 128;
/// Steps of one universal request: more fallbacks than this is a mistake, not a plan.
pub const UNIVERSAL_STEPS: usize = 16;
/// A run token's scope (docs/budgets.md): entries per allowlist (`gateways`, `providers`,
/// `models`) and a pattern's length in bytes.
pub const TOKEN_SCOPE_ENTRIES: usize = 64;
pub const TOKEN_SCOPE_PATTERN_BYTES: usize = 256;
/// Spend limits: rules per gateway, and a rule's window (up to a year).
pub const SPEND_RULES: usize = 20;
pub const SPEND_WINDOW_S: Bound = Bound::new(1, 31_536_000, "seconds");

/// A WebSocket session's limits (docs/websockets.md), in `[websockets]` and as gateway settings
/// of the same names: silence before it is closed, its whole length, the ping interval.
pub const WS_IDLE_TIMEOUT_MS: Bound = Bound::new(1, 86_400_000, "milliseconds");
pub const WS_MAX_SESSION_MS: Bound = Bound::new(1, 604_800_000, "milliseconds");
pub const WS_PING_INTERVAL_MS: Bound = Bound::new(100, 86_400_000, "milliseconds");

/// Each bounded gateway setting and its bound, for clients that show them (the dashboard reads
/// them from `GET …/ai-gateway/settings_bounds` rather than writing the numbers again).
pub const GATEWAY_SETTINGS: &[(&str, Bound)] = &[
    ("cache_ttl", CACHE_TTL_S),
    ("rate_limiting_interval", RATE_LIMIT_INTERVAL_S),
    ("rate_limiting_limit", RATE_LIMIT_LIMIT),
    ("retry_max_attempts", RETRY_MAX_ATTEMPTS),
    ("retry_delay", RETRY_DELAY_MS),
    ("request_timeout_ms", REQUEST_TIMEOUT_MS),
    ("log_management", LOG_MANAGEMENT),
    ("idle_timeout_ms", WS_IDLE_TIMEOUT_MS),
    ("max_session_ms", WS_MAX_SESSION_MS),
    ("ping_interval_ms", WS_PING_INTERVAL_MS),
];

impl Bound {
    pub const fn new(min: u64, max: u64, unit: &'static str) -> Bound {
        Bound { min, max, unit }
    }

    pub const fn contains(&self, n: u64) -> bool {
        self.min <= n && n <= self.max
    }

    pub fn clamp(&self, n: u64) -> u64 {
        n.clamp(self.min, self.max)
    }

    /// The management API's message: `must be an integer from 0 to 2592000`.
    pub fn must_be(&self) -> String {
        format!("must be an integer from {} to {}", self.min, self.max)
    }

    /// A header's or a step's message: `expected milliseconds from 1 to 3600000`.
    pub fn expected(&self) -> String {
        if self.unit.is_empty() {
            format!("expected {} to {}", self.min, self.max)
        } else {
            format!("expected {} from {} to {}", self.unit, self.min, self.max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_clamping_come_from_the_bounds() {
        assert_eq!(
            CACHE_TTL_S.must_be(),
            "must be an integer from 0 to 2592000"
        );
        assert_eq!(
            REQUEST_TIMEOUT_MS.expected(),
            "expected milliseconds from 1 to 3600000"
        );
        assert_eq!(RETRY_MAX_ATTEMPTS.expected(), "expected 1 to 5");
        assert_eq!(CACHE_TTL_S.clamp(u64::MAX), 2_592_000);
        assert!(RETRY_DELAY_MS.contains(0) && !RETRY_DELAY_MS.contains(5_001));
    }

    /// The list clients read is the one the API enforces: each setting's bound accepts its
    /// ends and refuses just past them.
    #[test]
    fn the_published_bounds_are_the_enforced_ones() {
        use crate::gateways::patch::SettingsPatch;
        let accepts = |name: &str, value: u64| {
            let body = serde_json::json!({ name: value });
            SettingsPatch::parse(body.as_object().unwrap()).is_ok()
        };
        for (name, bound) in GATEWAY_SETTINGS {
            assert!(
                accepts(name, bound.min) && accepts(name, bound.max),
                "{name}"
            );
            assert!(!accepts(name, bound.max + 1), "{name}");
            if bound.min > 0 {
                assert!(!accepts(name, bound.min - 1), "{name}");
            }
        }
    }
}
