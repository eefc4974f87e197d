//! What the scenarios measured, per target, before it becomes the table.

use super::wrk::WrkRun;

/// Positions in [`PerTarget`].
pub const DIRECT: usize = 0;
pub const NGINX: usize = 1;
pub const TOLLGATE: usize = 2;
pub const TARGET_NAMES: [&str; 3] = ["direct", "nginx", "tollgate"];

/// One measurement per target (direct, nginx, Tollgate); None when it failed or does not apply.
pub type PerTarget<T> = [Option<T>; 3];

/// Fixed-rate load against a slow upstream.
pub struct RateRun {
    pub p50_us: f64,
    pub p99_us: f64,
    /// Requests that started more than 10 ms after their scheduled time (the client fell behind).
    pub late: u64,
    /// CPU time of the target process over the run, in % of one core.
    pub cpu_percent: Option<f64>,
    pub rss_mib: Option<f64>,
}

/// Sequential streams: time to first byte and the gaps between SSE events.
pub struct StreamRun {
    pub first_byte_p50_us: f64,
    pub first_byte_p99_us: f64,
    pub gap_p50_us: f64,
    pub gap_p99_us: f64,
}

/// Many streams at once.
pub struct ManyStreams {
    /// Streams with a gap between events above ten times the pace.
    pub stalled: usize,
    pub rss_before_mib: Option<f64>,
    pub rss_peak_mib: Option<f64>,
}

impl ManyStreams {
    pub fn rss_growth_mib(&self) -> Option<f64> {
        Some(self.rss_peak_mib? - self.rss_before_mib?)
    }
}

/// Cache HITs through Tollgate, and the same request answered by the mock with the same client.
pub struct CacheRun {
    pub hit_p50_us: f64,
    pub hit_p99_us: f64,
    pub direct_p50_us: f64,
}

/// The same exchange made directly with the mock and through Tollgate, one after another on one
/// connection: each a round trip, so the latency Tollgate adds to one message is half the
/// difference for a WebSocket frame (it crosses twice) and the whole of it for a tool call.
pub struct RoundTrips {
    pub direct: crate::Summary,
    pub through: crate::Summary,
}

/// Realtime sessions through Tollgate.
pub struct RealtimeRun {
    /// A text frame sent and the mock's echo received.
    pub frames: RoundTrips,
    /// Tollgate's RSS growth while the plan's idle sessions were open (handshake done,
    /// `session.created` read, then silence), per session.
    pub kib_per_idle_session: Option<f64>,
}

#[derive(Default)]
pub struct Results {
    pub c1: PerTarget<WrkRun>,
    pub c32: PerTarget<WrkRun>,
    pub c256: PerTarget<WrkRun>,
    /// Tollgate with `collect_logs = false`.
    pub logs_off_c1: Option<WrkRun>,
    pub logs_off_c32: Option<WrkRun>,
    /// Tollgate with every span going to a collector that never answers.
    pub traced_c32: Option<WrkRun>,
    /// Tollgate with a spend limit (reserve and settle) and DLP on requests and responses.
    pub governed_c32: Option<WrkRun>,
    /// The unified endpoint with a provider/model, and the same request through a dynamic route.
    pub compat_c32: Option<WrkRun>,
    pub routed_c32: Option<WrkRun>,
    pub realtime: Option<RealtimeRun>,
    /// MCP `tools/call` of the mock's `echo`, direct and through the gateway's `/mcp`.
    pub mcp: Option<RoundTrips>,
    pub rate: PerTarget<RateRun>,
    pub stream: PerTarget<StreamRun>,
    pub many_streams: PerTarget<ManyStreams>,
    pub cache: Option<CacheRun>,
    /// (scenario, error) for every scenario that failed.
    pub errors: Vec<(String, String)>,
}
