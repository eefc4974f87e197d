//! Prometheus metrics (`GET /metrics`): one registry per gateway process, fed from the same end
//! records the logs and analytics use, so the three always agree. Labels are bounded: past
//! [`MAX_LABEL_SETS`] distinct gateway/provider/model combinations, new ones are reported as
//! `other` (client-chosen model names must not grow the registry without bound).

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::logs::LogEnd;

/// Distinct (gateway, provider, model) label sets kept before new ones become `other`.
pub const MAX_LABEL_SETS: usize = 1_000;

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

fn latency_histogram() -> Histogram {
    // 1 ms … ~9 min in factors of two: LLM calls span milliseconds to minutes.
    Histogram::new(exponential_buckets(1.0, 2.0, 20))
}

/// Values other components keep, read when `/metrics` is scraped.
pub struct GaugeReadings {
    pub log_queue_depth: usize,
    pub log_spool_bytes: u64,
    pub cache_bypasses: u64,
    pub redis_fallbacks: u64,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<RouteLabels, Counter>,
    cache_hits: Family<RouteLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<RouteLabels, Counter<f64, AtomicU64>>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    ttfb: Family<RouteLabels, Histogram, fn() -> Histogram>,
    upstream_attempts: Family<RouteLabels, Counter>,
    rate_limited: Family<GatewayLabels, Counter>,
    log_queue_depth: Gauge,
    log_spool_bytes: Gauge,
    cache_bypasses: Gauge,
    redis_fallbacks: Gauge,
    /// Read on every request, written only when a new combination appears.
    label_sets: RwLock<HashSet<(String, String, String)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
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
            log_queue_depth: Gauge::default(),
            log_spool_bytes: Gauge::default(),
            cache_bypasses: Gauge::default(),
            redis_fallbacks: Gauge::default(),
            label_sets: RwLock::new(HashSet::new()),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Requests completed, by status class and cache status",
            metrics.requests.clone(),
        );
        registry.register(
            "errors",
            "Requests that failed (gateway or upstream)",
            metrics.errors.clone(),
        );
        registry.register(
            "cache_hits",
            "Requests answered from the cache",
            metrics.cache_hits.clone(),
        );
        registry.register(
            "tokens",
            "Tokens by kind: input, output, cache_read, cache_write",
            metrics.tokens.clone(),
        );
        registry.register(
            "cost_usd",
            "Cost of requests in USD (priced requests only)",
            metrics.cost.clone(),
        );
        registry.register(
            "request_duration_ms",
            "Time from request to the last response byte",
            metrics.duration.clone(),
        );
        registry.register(
            "time_to_first_byte_ms",
            "Time from request to the first response byte",
            metrics.ttfb.clone(),
        );
        registry.register(
            "upstream_attempts",
            "Calls made to providers, retries included",
            metrics.upstream_attempts.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by rate limiting",
            metrics.rate_limited.clone(),
        );
        registry.register(
            "log_queue_depth",
            "Log records waiting for the spool writer",
            metrics.log_queue_depth.clone(),
        );
        registry.register(
            "log_spool_bytes",
            "Log spool bytes not yet shipped to the store",
            metrics.log_spool_bytes.clone(),
        );
        registry.register(
            "cache_store_bypasses",
            "Cache calls that skipped an unreachable Redis (each a MISS)",
            metrics.cache_bypasses.clone(),
        );
        registry.register(
            "ratelimit_redis_fallbacks",
            "Rate-limit checks decided in process because Redis was unreachable",
            metrics.redis_fallbacks.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Counts one finished request from its end record.
    pub fn observe(&self, end: &LogEnd) {
        let Some(facts) = &end.rollup else { return };
        let route = self.route(&facts.gateway_id, &facts.provider, &facts.model);
        let status = end
            .status_code
            .map_or_else(|| "none".to_owned(), |s| format!("{}xx", s / 100));
        let cache = if end.cached { "hit" } else { "miss" };
        self.requests
            .get_or_create(&RequestLabels {
                gateway: route.gateway.clone(),
                provider: route.provider.clone(),
                model: route.model.clone(),
                status,
                cache: cache.to_owned(),
            })
            .inc();
        if !end.success {
            self.errors.get_or_create(&route).inc();
        }
        if end.cached {
            self.cache_hits.get_or_create(&route).inc();
        }
        if end.attempts > 0 && !end.cached && end.status_code.is_some() {
            self.upstream_attempts
                .get_or_create(&route)
                .inc_by(end.attempts as u64);
        }
        let inputs = end.tokens_in.unwrap_or(0)
            - end.cache_read_tokens.unwrap_or(0)
            - end.cache_write_tokens.unwrap_or(0);
        for (kind, count) in [
            ("input", inputs),
            ("output", end.tokens_out.unwrap_or(0)),
            ("cache_read", end.cache_read_tokens.unwrap_or(0)),
            ("cache_write", end.cache_write_tokens.unwrap_or(0)),
        ] {
            if count > 0 {
                self.tokens
                    .get_or_create(&TokenLabels {
                        gateway: route.gateway.clone(),
                        provider: route.provider.clone(),
                        model: route.model.clone(),
                        kind: kind.to_owned(),
                    })
                    .inc_by(count as u64);
            }
        }
        if let Some(cost) = end.cost {
            self.cost.get_or_create(&route).inc_by(cost);
        }
        self.duration
            .get_or_create(&route)
            .observe(end.duration_ms as f64);
        if let Some(ttfb) = end.ttfb_ms {
            self.ttfb.get_or_create(&route).observe(ttfb as f64);
        }
    }

    pub fn rate_limited(&self, gateway: &str) {
        self.rate_limited
            .get_or_create(&GatewayLabels {
                gateway: gateway.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition, with the gauges read now.
    pub fn render(&self, now: &GaugeReadings) -> String {
        self.log_queue_depth.set(now.log_queue_depth as i64);
        self.log_spool_bytes.set(now.log_spool_bytes as i64);
        self.cache_bypasses.set(now.cache_bypasses as i64);
        self.redis_fallbacks.set(now.redis_fallbacks as i64);
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }

    /// The labels for a route, or `other` once the bound is reached.
    fn route(&self, gateway: &str, provider: &str, model: &str) -> RouteLabels {
        let wanted = (gateway.to_owned(), provider.to_owned(), model.to_owned());
        let seen = self
            .label_sets
            .read()
            .map(|sets| sets.contains(&wanted))
            .unwrap_or(false);
        let known = seen
            || match self.label_sets.write() {
                Ok(mut sets) if sets.len() < MAX_LABEL_SETS || sets.contains(&wanted) => {
                    sets.insert(wanted.clone());
                    true
                }
                _ => false,
            };
        if known {
            RouteLabels {
                gateway: wanted.0,
                provider: wanted.1,
                model: wanted.2,
            }
        } else {
            RouteLabels {
                gateway: "other".into(),
                provider: "other".into(),
                model: "other".into(),
            }
        }
    }
}
