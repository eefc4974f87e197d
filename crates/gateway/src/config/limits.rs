//! The `[limits]` section: what one client, connection or request may cost the server before it
//! is refused (slow headers and bodies, oversized heads, connection and in-flight caps, HTTP/2).

use std::time::Duration;

use serde::Deserialize;

use crate::convert::saturating_usize;

/// hyper refuses request targets longer than this itself, so a larger setting would never apply.
const HYPER_MAX_URI: u64 = 65_534;

/// The validated limits the server and its request guards run on.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A connection must deliver a complete request head this soon after it opens or goes idle;
    /// otherwise it is closed (slowloris). Also bounds how long an idle keep-alive connection stays.
    pub header_read_timeout: Duration,
    /// Longest gap between two pieces of a request body before the request gets 408.
    pub body_idle_timeout: Duration,
    /// Longest time to receive a whole request body before the request gets 408.
    pub body_timeout: Duration,
    /// Longest request target (path and query); longer gets 414.
    pub max_uri_bytes: usize,
    /// Largest sum of header name and value bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more gets 431.
    pub max_headers: usize,
    /// Open client connections; connections beyond it are closed as they are accepted.
    pub max_connections: usize,
    /// Requests being served at once (streams included until their last byte); beyond it new
    /// requests get 503 with `Retry-After` instead of queueing until memory runs out.
    pub max_in_flight: usize,
    /// Longest a response may wait for a client that reads nothing before the stream is cut:
    /// a reader that stalls must not hold its upstream stream and its row open for ever.
    pub client_write_stall_timeout: Duration,
    /// HTTP/2 streams one connection may have open at once.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 keep-alive ping interval; `None` sends no pings.
    pub h2_keep_alive_interval: Option<Duration>,
    /// Distinct gateway/provider/model label sets `/metrics` keeps with their own model; past
    /// it new models are reported as `other`, so client-chosen names cannot grow the registry.
    pub metrics_max_label_sets: usize,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(super) struct RawLimits {
    header_read_timeout_ms: u64,
    body_idle_timeout_ms: u64,
    body_timeout_ms: u64,
    max_uri_bytes: u64,
    max_header_bytes: u64,
    max_headers: u64,
    max_connections: u64,
    max_in_flight: u64,
    client_write_stall_timeout_ms: u64,
    h2_max_concurrent_streams: u64,
    h2_keep_alive_interval_ms: u64,
    metrics_max_label_sets: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            header_read_timeout_ms: 10_000,
            body_idle_timeout_ms: 30_000,
            body_timeout_ms: 300_000,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_connections: 10_000,
            max_in_flight: 5_000,
            client_write_stall_timeout_ms: 60_000,
            h2_max_concurrent_streams: 100,
            h2_keep_alive_interval_ms: 30_000,
            metrics_max_label_sets: 1_000,
        }
    }
}

impl RawLimits {
    /// The validated limits; each out-of-range key adds one problem naming it.
    pub(super) fn validate(self, problems: &mut Vec<String>) -> Limits {
        let mut within = |key: &str, value: u64, min: u64, max: u64| {
            if value < min || value > max {
                problems.push(format!("limits.{key}: must be between {min} and {max}"));
            }
            value.clamp(min, max)
        };
        const HOUR_MS: u64 = 3_600_000;
        let header_read_timeout_ms = within(
            "header_read_timeout_ms",
            self.header_read_timeout_ms,
            100,
            HOUR_MS,
        );
        let body_idle_timeout_ms = within(
            "body_idle_timeout_ms",
            self.body_idle_timeout_ms,
            100,
            HOUR_MS,
        );
        let body_timeout_ms = within("body_timeout_ms", self.body_timeout_ms, 100, 24 * HOUR_MS);
        let max_uri_bytes = within("max_uri_bytes", self.max_uri_bytes, 1024, HYPER_MAX_URI);
        let max_header_bytes = within("max_header_bytes", self.max_header_bytes, 4096, 1024 * 1024);
        let max_headers = within("max_headers", self.max_headers, 16, 1000);
        let max_connections = within("max_connections", self.max_connections, 1, 1_000_000);
        let max_in_flight = within("max_in_flight", self.max_in_flight, 1, 1_000_000);
        let write_stall_ms = within(
            "client_write_stall_timeout_ms",
            self.client_write_stall_timeout_ms,
            100,
            HOUR_MS,
        );
        let h2_streams = within(
            "h2_max_concurrent_streams",
            self.h2_max_concurrent_streams,
            1,
            10_000,
        );
        let h2_ping_ms = within(
            "h2_keep_alive_interval_ms",
            self.h2_keep_alive_interval_ms,
            0,
            HOUR_MS,
        );
        let metrics_max_label_sets = within(
            "metrics_max_label_sets",
            self.metrics_max_label_sets,
            1,
            1_000_000,
        );
        Limits {
            header_read_timeout: Duration::from_millis(header_read_timeout_ms),
            body_idle_timeout: Duration::from_millis(body_idle_timeout_ms),
            body_timeout: Duration::from_millis(body_timeout_ms),
            max_uri_bytes: saturating_usize(max_uri_bytes),
            max_header_bytes: saturating_usize(max_header_bytes),
            max_headers: saturating_usize(max_headers),
            max_connections: saturating_usize(max_connections),
            max_in_flight: saturating_usize(max_in_flight),
            client_write_stall_timeout: Duration::from_millis(write_stall_ms),
            h2_max_concurrent_streams: u32::try_from(h2_streams).unwrap_or(u32::MAX),
            h2_keep_alive_interval: (h2_ping_ms > 0).then(|| Duration::from_millis(h2_ping_ms)),
            metrics_max_label_sets: saturating_usize(metrics_max_label_sets),
        }
    }
}
