//! The `[mcp]` section: how each gateway's `/mcp` endpoint speaks Streamable HTTP, stateless or
//! with sessions, and the bounds of its sessions (docs/mcp.md).

use std::time::Duration;

use serde::Deserialize;

/// The MCP endpoint's transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    /// Whether `initialize` opens a session (`Mcp-Session-Id`, a GET stream, list-changed
    /// notifications, resumable SSE). Off: every message stands alone and any instance answers
    /// it.
    pub sessions: bool,
    /// Sessions open at once on this instance; an `initialize` beyond them is refused (503).
    pub max_sessions: usize,
    /// A session with no message either way for this long is ended; its id then gets 404.
    pub session_idle_timeout: Duration,
}

impl Default for McpConfig {
    fn default() -> Self {
        RawMcp::default().validate(&mut Vec::new())
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(super) struct RawMcp {
    sessions: bool,
    max_sessions: u64,
    session_idle_timeout_ms: u64,
}

impl Default for RawMcp {
    fn default() -> Self {
        RawMcp {
            // Stateless by default: behind a load balancer without sticky routing a session
            // lives on one instance only, and its other messages would get 404 (docs/mcp.md).
            sessions: false,
            max_sessions: 1_000,
            // An agent thinks (or waits for its user) for minutes between tool calls.
            session_idle_timeout_ms: 30 * 60 * 1000,
        }
    }
}

impl RawMcp {
    /// The validated section; each bad key adds one problem naming it.
    pub(super) fn validate(self, problems: &mut Vec<String>) -> McpConfig {
        let mut within = |name: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                problems.push(format!("mcp.{name}: must be between {min} and {max}"));
            }
            value.clamp(min, max)
        };
        let max_sessions = within("max_sessions", self.max_sessions, 1, 1_000_000);
        let idle = within(
            "session_idle_timeout_ms",
            self.session_idle_timeout_ms,
            1000,
            24 * 60 * 60 * 1000,
        );
        McpConfig {
            sessions: self.sessions,
            max_sessions: crate::convert::saturating_usize(max_sessions),
            session_idle_timeout: Duration::from_millis(idle),
        }
    }
}
