//! The `[websockets]` section: the bounds of a WebSocket session through the proxy
//! (docs/websockets.md).

use std::time::Duration;

use serde::Deserialize;

use crate::gateways::bounds::{Bound, WS_IDLE_TIMEOUT_MS, WS_MAX_SESSION_MS, WS_PING_INTERVAL_MS};

/// What one WebSocket session may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketsConfig {
    /// A session with no message either way for this long is closed (1000).
    pub idle_timeout: Duration,
    /// A session is closed (1008) this long after it opened, however busy.
    pub max_session: Duration,
    /// How often each leg is pinged, so NATs and load balancers keep the connection.
    pub ping_interval: Duration,
    /// Sessions open at once on this instance; more are refused (503) before the upgrade.
    pub max_sessions: usize,
    /// The largest message either side may send; a larger one closes the session (1009).
    pub max_message_bytes: usize,
}

impl Default for WebSocketsConfig {
    fn default() -> Self {
        RawWebSockets::default().validate(&mut Vec::new())
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(super) struct RawWebSockets {
    idle_timeout_ms: u64,
    max_session_ms: u64,
    ping_interval_ms: u64,
    max_sessions: u64,
    max_message_bytes: u64,
}

impl Default for RawWebSockets {
    fn default() -> Self {
        RawWebSockets {
            // OpenAI closes a Realtime session after 30 minutes; idle voice apps pause for
            // minutes between turns.
            idle_timeout_ms: 5 * 60 * 1000,
            max_session_ms: 60 * 60 * 1000,
            ping_interval_ms: 30 * 1000,
            max_sessions: 10_000,
            // An audio chunk is base64 in a JSON event: hundreds of KiB, far below this.
            max_message_bytes: 16 * 1024 * 1024,
        }
    }
}

impl RawWebSockets {
    /// The validated section; each bad key adds one problem naming it.
    pub(super) fn validate(self, problems: &mut Vec<String>) -> WebSocketsConfig {
        let mut within = |name: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                problems.push(format!(
                    "websockets.{name}: must be between {min} and {max}"
                ));
            }
            value.clamp(min, max)
        };
        let mut bounded =
            |name: &str, value: u64, bound: Bound| within(name, value, bound.min, bound.max);
        let idle = bounded("idle_timeout_ms", self.idle_timeout_ms, WS_IDLE_TIMEOUT_MS);
        let max_session = bounded("max_session_ms", self.max_session_ms, WS_MAX_SESSION_MS);
        let ping = bounded(
            "ping_interval_ms",
            self.ping_interval_ms,
            WS_PING_INTERVAL_MS,
        );
        let sessions = within("max_sessions", self.max_sessions, 1, 1_000_000);
        let message = within(
            "max_message_bytes",
            self.max_message_bytes,
            1024,
            256 * 1024 * 1024,
        );
        WebSocketsConfig {
            idle_timeout: Duration::from_millis(idle),
            max_session: Duration::from_millis(max_session),
            ping_interval: Duration::from_millis(ping),
            max_sessions: crate::convert::saturating_usize(sessions),
            max_message_bytes: crate::convert::saturating_usize(message),
        }
    }
}
