//! Prometheus metrics (`GET /metrics`, docs/metrics.md): one registry per gateway process, fed
//! from the same end records the logs and analytics use, so the three always agree. Labels are
//! bounded: gateway and provider labels only ever name configured ones (the proxy counts an
//! unknown provider as `unknown` and never counts an unknown gateway), the error reason is one
//! of a fixed set, and past `limits.metrics_max_label_sets` distinct gateway/provider/model
//! combinations new models are reported as `other` (client-chosen model names must not grow the
//! registry without bound).

mod endpoint;
mod process;
mod reason;
mod routes;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::convert::{non_negative_u64, saturating_i64, signed_as_f64};
use crate::error::ErrorCode;
use crate::logs::LogEnd;
pub use endpoint::{metrics_router, scrape};
use routes::{Found, Routes};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    gateway: String,
    provider: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    gateway: String,
    provider: String,
    model: String,
    status: String,
    cache: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    gateway: String,
    provider: String,
    model: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    gateway: String,
    provider: String,
    model: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayLabels {
    gateway: String,
}

/// Bucket bounds in seconds, shared by both latency histograms so they can be compared: LLM
/// calls take from milliseconds (a cache hit) to minutes (a long generation; the default
/// upstream timeout is 600 s).
const LATENCY_BUCKETS: [f64; 17] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Values other components keep, read when `/metrics` is scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Readings {
    pub log_queue_depth: usize,
    pub log_spool_bytes: u64,
    /// Since start.
    pub cache_bypasses: u64,
    /// Since start.
    pub redis_fallbacks: u64,
    /// OpenTelemetry spans sent to collectors, since start.
    pub otel_spans_exported: u64,
    /// OpenTelemetry spans dropped (a full queue, a failed export), since start.
    pub otel_spans_dropped: u64,
    /// WebSocket sessions open on this instance (docs/websockets.md).
    pub websocket_sessions_open: usize,
}

/// The two text formats a scraper may ask for (docs/metrics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: what any scraper reads.
    Text,
    /// OpenMetrics 1.0: what Prometheus asks for first.
    OpenMetrics,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    cache_hits: Family<RouteLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<RouteLabels, Counter<f64, AtomicU64>>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    ttfb: Family<RouteLabels, Histogram, fn() -> Histogram>,
    upstream_attempts: Family<RouteLabels, Counter>,
    rate_limited: Family<GatewayLabels, Counter>,
    connections_open: Gauge,
    connections_refused: Counter,
    requests_shed: Counter,
    label_sets_folded: Counter,
    /// What the last scrape read from other components, encoded by [`ReadingsCollector`].
    readings: Arc<Mutex<Readings>>,
    /// Each route's series, found once: read on every request, written when a route is new.
    routes: Routes,
}

impl Metrics {
    /// A registry keeping at most `max_label_sets` routes with their own model.
    pub fn new(max_label_sets: usize) -> Self {
        let metrics = Metrics {
            requests: Family::default(),
            errors: Family::default(),
            cache_hits: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            duration: Family::new_with_constructor(latency_histogram),
            ttfb: Family::new_with_constructor(latency_histogram),
            upstream_attempts: Family::default(),
            rate_limited: Family::default(),
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            requests_shed: Counter::default(),
            label_sets_folded: Counter::default(),
            readings: Arc::default(),
            routes: Routes::new(max_label_sets),
            registry: Registry::default(),
        };
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::ProcessCollector));
        metrics.register(registry.sub_registry_with_prefix("tollgate"));
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Registers every `tollgate_` family; the encoders add `_total` to counters and the unit
    /// to names registered with one.
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "requests",
            "Requests completed, by status class and cache status",
            self.requests.clone(),
        );
        registry.register(
            "errors",
            "Requests that failed (gateway or upstream), by reason",
            self.errors.clone(),
        );
        registry.register(
            "cache_hits",
            "Requests answered from the cache",
            self.cache_hits.clone(),
        );
        registry.register(
            "tokens",
            "Tokens by kind: input, output, cache_read, cache_write",
            self.tokens.clone(),
        );
        registry.register(
            "cost_usd",
            "Cost of requests in USD (priced requests only)",
            self.cost.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from request to the last response byte",
            Unit::Seconds,
            self.duration.clone(),
        );
        registry.register_with_unit(
            "time_to_first_byte",
            "Time from request to the first response byte",
            Unit::Seconds,
            self.ttfb.clone(),
        );
        registry.register(
            "upstream_attempts",
            "Calls made to providers, retries included",
            self.upstream_attempts.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by rate limiting",
            self.rate_limited.clone(),
        );
        registry.register(
            "connections_open",
            "Client connections being served",
            self.connections_open.clone(),
        );
        registry.register(
            "connections_refused",
            "Client connections closed at accept because limits.max_connections were open",
            self.connections_refused.clone(),
        );
        registry.register(
            "requests_shed",
            "Requests refused with 503 because limits.max_in_flight were being served",
            self.requests_shed.clone(),
        );
        registry.register(
            "metrics_label_sets_folded",
            "Requests counted under an other label set because limits.metrics_max_label_sets sets were in use",
            self.label_sets_folded.clone(),
        );
        let build_info = Family::<[(&str, &str); 2], Gauge>::default();
        build_info.get_or_create(&BUILD_LABELS).set(1);
        registry.register(
            "build_info",
            "Always 1; the labels say which build is running",
            build_info,
        );
        registry.register_collector(Box::new(ReadingsCollector {
            readings: self.readings.clone(),
        }));
    }

    /// Counts one finished request from its end record; `failure` is the gateway error that
    /// ended it, if one did (it decides the `reason` of `tollgate_errors_total`).
    pub fn observe(&self, end: &LogEnd, failure: Option<ErrorCode>) {
        let Some(facts) = &end.rollup else { return };
        let route = match self
            .routes
            .get(&facts.gateway_id, &facts.provider, &facts.model)
        {
            Found::Own(route) => route,
            Found::Folded(route) => {
                self.label_sets_folded.inc();
                route
            }
        };
        route.count_request(&self.requests, end.status_code, end.cached);
        if !end.success {
            route
                .errors(&self.errors, reason::reason(failure, end.status_code))
                .inc();
        }
        if end.cached {
            route.series(&route.cache_hits, &self.cache_hits).inc();
        }
        if end.attempts > 0 && !end.cached && end.status_code.is_some() {
            route
                .series(&route.upstream_attempts, &self.upstream_attempts)
                .inc_by(non_negative_u64(end.attempts));
        }
        let inputs = end.tokens_in.unwrap_or(0)
            - end.cache_read_tokens.unwrap_or(0)
            - end.cache_write_tokens.unwrap_or(0);
        let counts = [
            inputs,
            end.tokens_out.unwrap_or(0),
            end.cache_read_tokens.unwrap_or(0),
            end.cache_write_tokens.unwrap_or(0),
        ];
        for (kind, count) in counts.into_iter().enumerate() {
            if count > 0 {
                route
                    .tokens(&self.tokens, kind)
                    .inc_by(non_negative_u64(count));
            }
        }
        if let Some(cost) = end.cost {
            route.series(&route.cost, &self.cost).inc_by(cost);
        }
        route
            .series(&route.duration, &self.duration)
            .observe(seconds(end.duration_ms));
        if let Some(ttfb) = end.ttfb_ms {
            route.series(&route.ttfb, &self.ttfb).observe(seconds(ttfb));
        }
    }

    pub fn rate_limited(&self, gateway: &str) {
        self.rate_limited
            .get_or_create(&GatewayLabels {
                gateway: gateway.to_owned(),
            })
            .inc();
    }

    pub fn connection_opened(&self) {
        self.connections_open.inc();
    }

    pub fn connection_closed(&self) {
        self.connections_open.dec();
    }

    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    pub fn request_shed(&self) {
        self.requests_shed.inc();
    }

    /// The exposition in `format`, with other components' figures as read now.
    pub fn render(&self, now: Readings, format: Format) -> String {
        *self.readings.lock().unwrap_or_else(PoisonError::into_inner) = now;
        let mut text = String::new();
        let encoded = match format {
            Format::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut text, &self.registry)
            }
        };
        if encoded.is_err() {
            text.clear();
        }
        text
    }
}

/// `version` is the crate's; `revision` is whatever `TOLLGATE_REVISION` held at build time
/// (a release build sets it to the commit), empty otherwise.
const BUILD_LABELS: [(&str, &str); 2] = [
    ("version", env!("CARGO_PKG_VERSION")),
    (
        "revision",
        match option_env!("TOLLGATE_REVISION") {
            Some(revision) => revision,
            None => "",
        },
    ),
];

/// Milliseconds as the seconds Prometheus durations are in.
fn seconds(ms: i64) -> f64 {
    signed_as_f64(ms) / 1000.0
}

/// Encodes what other components keep (queue depth, spool size, since-start counts) as read at
/// the scrape, so nothing has to push them on every change.
#[derive(Debug)]
struct ReadingsCollector {
    readings: Arc<Mutex<Readings>>,
}

impl Collector for ReadingsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = *self.readings.lock().unwrap_or_else(PoisonError::into_inner);
        let gauges = [
            (
                "log_queue_depth",
                "Log records waiting for the spool writer.",
                None,
                now.log_queue_depth as u64,
            ),
            (
                "log_spool",
                "Log spool bytes not yet shipped to the store.",
                Some(Unit::Bytes),
                now.log_spool_bytes,
            ),
            (
                "websocket_sessions_open",
                "WebSocket sessions open on this instance.",
                None,
                now.websocket_sessions_open as u64,
            ),
        ];
        for (name, help, unit, value) in gauges {
            let gauge = ConstGauge::new(saturating_i64(value));
            gauge.encode(encoder.encode_descriptor(
                name,
                help,
                unit.as_ref(),
                gauge.metric_type(),
            )?)?;
        }
        let counters = [
            (
                "cache_store_bypasses",
                "Cache calls that skipped an unreachable Redis (each a MISS).",
                now.cache_bypasses,
            ),
            (
                "ratelimit_redis_fallbacks",
                "Rate-limit checks decided in process because Redis was unreachable.",
                now.redis_fallbacks,
            ),
            (
                "otel_spans_exported",
                "OpenTelemetry spans a collector accepted.",
                now.otel_spans_exported,
            ),
            (
                "otel_spans_dropped",
                "OpenTelemetry spans dropped: the export queue was full or the collector failed.",
                now.otel_spans_dropped,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
