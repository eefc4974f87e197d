//! Prometheus metrics (`GET /metrics`): one registry per gateway process, fed from the same end
//! records the logs and analytics use, so the three always agree. Labels are bounded: gateway
//! and provider labels only ever name configured ones (the proxy counts an unknown provider as
//! `unknown` and never counts an unknown gateway), and past `limits.metrics_max_label_sets`
//! distinct gateway/provider/model combinations new models are reported as `other`
//! (client-chosen model names must not grow the registry without bound).

mod routes;

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::logs::LogEnd;
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
    connections_open: Gauge,
    connections_refused: Counter,
    requests_shed: Counter,
    label_sets_folded: Counter,
    /// Each route's series, found once: read on every request, written when a route is new.
    routes: Routes,
}

impl Metrics {
    /// A registry keeping at most `max_label_sets` routes with their own model.
    pub fn new(max_label_sets: usize) -> Self {
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
            connections_open: Gauge::default(),
            connections_refused: Counter::default(),
            requests_shed: Counter::default(),
            label_sets_folded: Counter::default(),
            routes: Routes::new(max_label_sets),
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
        registry.register(
            "connections_open",
            "Client connections being served",
            metrics.connections_open.clone(),
        );
        registry.register(
            "connections_refused",
            "Client connections closed at accept because limits.max_connections were open",
            metrics.connections_refused.clone(),
        );
        registry.register(
            "requests_shed",
            "Requests refused with 503 because limits.max_in_flight were being served",
            metrics.requests_shed.clone(),
        );
        registry.register(
            "metrics_label_sets_folded",
            "Requests counted under an other label set because limits.metrics_max_label_sets sets were in use",
            metrics.label_sets_folded.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Counts one finished request from its end record.
    pub fn observe(&self, end: &LogEnd) {
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
            route.series(&route.errors, &self.errors).inc();
        }
        if end.cached {
            route.series(&route.cache_hits, &self.cache_hits).inc();
        }
        if end.attempts > 0 && !end.cached && end.status_code.is_some() {
            route
                .series(&route.upstream_attempts, &self.upstream_attempts)
                .inc_by(end.attempts as u64);
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
                route.tokens(&self.tokens, kind).inc_by(count as u64);
            }
        }
        if let Some(cost) = end.cost {
            route.series(&route.cost, &self.cost).inc_by(cost);
        }
        route
            .series(&route.duration, &self.duration)
            .observe(end.duration_ms as f64);
        if let Some(ttfb) = end.ttfb_ms {
            route.series(&route.ttfb, &self.ttfb).observe(ttfb as f64);
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
}

#[cfg(test)]
mod tests;
