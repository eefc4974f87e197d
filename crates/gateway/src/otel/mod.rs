//! OpenTelemetry traces (docs/observability.md): one server span per proxied request with the
//! GenAI conventions and a child span per phase, continued from the client's trace context and
//! passed on to the provider, exported over OTLP/HTTP to the server's collector and each
//! gateway's own (`otel`), off the request path.
//!
//! A request on a gateway with no collector costs one branch: no trace is made.

mod attributes;
mod exporter;
mod propagation;
mod target;
mod trace;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::HeaderMap;
use opentelemetry::trace::{SpanId, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;

pub use attributes::{BODY_ATTRIBUTE_BYTES, MCP_TOOLS_CALL};
use exporter::Destination;
pub use exporter::ExportCounts;
pub use propagation::{TRACEPARENT, TRACESTATE, span_id, trace_id, traceparent};
pub use target::{ContentType, ExportTarget, check_header, check_url, parse_gateway_field};
pub use trace::{AttemptSpan, McpCall, McpSpan, McpTarget, RequestTrace};

use crate::config::OtelConfig;
use crate::gateways::Gateway;
use crate::tasks::Tasks;

/// A response's extension naming the trace its request was exported in.
#[derive(Debug, Clone, Copy)]
pub struct TracedAs(pub TraceId);

/// Distinct gateway collectors exported to at once; past it the least recently added one is
/// let go (its queue drains, then its task ends).
const MAX_GATEWAY_DESTINATIONS: usize = 64;

/// The process's exporters and sampling.
pub struct Telemetry {
    /// `[otel] endpoint`: every gateway's requests.
    server: Option<Arc<Destination>>,
    sample_ratio: f64,
    gateways: Mutex<GatewayDestinations>,
    client: reqwest::Client,
    resource: Resource,
    scope: InstrumentationScope,
    counts: Arc<ExportCounts>,
    tasks: Tasks,
}

#[derive(Default)]
struct GatewayDestinations {
    started: HashMap<ExportTarget, Arc<Destination>>,
    order: VecDeque<ExportTarget>,
}

/// What [`Telemetry::begin`] needs of a request.
pub struct RequestFacts<'a> {
    pub gateway: &'a Gateway,
    pub headers: &'a HeaderMap,
    pub cf_trace_id: Option<TraceId>,
    pub cf_parent_span_id: Option<SpanId>,
    pub log_id: &'a str,
    pub method: &'a str,
    pub metadata: Option<&'a [(String, serde_json::Value)]>,
    pub created_at: jiff::Timestamp,
    pub started: tokio::time::Instant,
}

impl Telemetry {
    pub fn new(
        config: &OtelConfig,
        connect_timeout: Duration,
        instance_id: &str,
        tasks: &Tasks,
    ) -> anyhow::Result<Telemetry> {
        // reqwest is built without a default crypto provider (proxy/client.rs).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .build()?;
        let resource = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "tollgate"),
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("service.instance.id", instance_id.to_owned()),
            ])
            .build();
        let counts = Arc::new(ExportCounts::default());
        let server = match &config.export {
            Some(target) => Some(Arc::new(Destination::start(
                target,
                client.clone(),
                &resource,
                counts.clone(),
                tasks,
            )?)),
            None => None,
        };
        Ok(Telemetry {
            server,
            sample_ratio: config.sample_ratio,
            gateways: Mutex::default(),
            client,
            resource,
            scope: InstrumentationScope::builder("tollgate")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            counts,
            tasks: tasks.clone(),
        })
    }

    /// Spans exported and dropped since start.
    pub fn counts(&self) -> &ExportCounts {
        &self.counts
    }

    /// The request's trace, when any collector takes its gateway's spans and it is sampled: the
    /// client's sampling decision when its `traceparent` carries one, else `sample_ratio`.
    pub fn begin(&self, request: RequestFacts<'_>) -> Option<Arc<RequestTrace>> {
        let gateway_targets = request.gateway.settings.otel.as_deref().unwrap_or_default();
        if self.server.is_none() && gateway_targets.is_empty() {
            return None;
        }
        let parent = propagation::parent(
            request.headers,
            request.cf_trace_id,
            request.cf_parent_span_id,
        );
        let trace_id = parent.map_or_else(trace::new_trace_id, |p| p.trace_id);
        let sampled = match parent.and_then(|p| p.sampled) {
            Some(decided) => decided,
            None => sampled_by_ratio(trace_id, self.sample_ratio),
        };
        if !sampled {
            return None;
        }
        let mut destinations: Vec<_> = self.server.iter().cloned().collect();
        destinations.extend(
            gateway_targets
                .iter()
                .filter_map(|target| self.gateway_destination(target)),
        );
        let tracestate = request
            .headers
            .get(TRACESTATE)
            .and_then(|value| value.to_str().ok())
            .filter(|_| parent.is_some_and(|p| p.span_id.is_some()))
            .and_then(|text| text.parse::<TraceState>().ok())
            .unwrap_or_default();
        let start = std::time::SystemTime::UNIX_EPOCH
            + Duration::from_nanos(
                u64::try_from(request.created_at.as_nanosecond()).unwrap_or_default(),
            );
        Some(Arc::new(RequestTrace::new(trace::TraceStart {
            destinations,
            trace_id,
            parent: parent.and_then(|p| p.span_id),
            tracestate,
            start,
            started: request.started,
            attributes: attributes::request(
                &request.gateway.account_id,
                &request.gateway.id,
                request.log_id,
                request.method,
                request.metadata,
            ),
            scope: self.scope.clone(),
            counts: self.counts.clone(),
        })))
    }

    /// The running export to a gateway's collector, started on first use.
    fn gateway_destination(&self, target: &ExportTarget) -> Option<Arc<Destination>> {
        let mut gateways = self.gateways.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = gateways.started.get(target) {
            return Some(found.clone());
        }
        let destination = match Destination::start(
            target,
            self.client.clone(),
            &self.resource,
            self.counts.clone(),
            &self.tasks,
        ) {
            Ok(destination) => Arc::new(destination),
            Err(error) => {
                tracing::warn!(%error, "an OpenTelemetry collector of a gateway could not be set up");
                return None;
            }
        };
        if gateways.order.len() >= MAX_GATEWAY_DESTINATIONS
            && let Some(oldest) = gateways.order.pop_front()
        {
            gateways.started.remove(&oldest);
        }
        gateways.order.push_back(target.clone());
        gateways.started.insert(target.clone(), destination.clone());
        Some(destination)
    }
}

/// The same decision for the same trace id on every instance (as OpenTelemetry's trace id
/// ratio sampler): the id's low 64 bits against the ratio.
fn sampled_by_ratio(trace_id: TraceId, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    let value = u64::from_be_bytes(low) >> 1;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "ratio is in (0, 1), so the bound is in [0, 2^63)"
    )]
    let bound = (ratio * 2f64.powi(63)) as u64;
    value < bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_sampling_is_deterministic_and_near_the_ratio() {
        // Fixed, well-spread ids (hashes), so the count is the same on every run.
        let ids: Vec<TraceId> = (0..10_000)
            .map(|i: u32| {
                let hash = crate::auth::sha256(&i.to_string());
                let mut id = [0u8; 16];
                id.copy_from_slice(&hash[..16]);
                TraceId::from_bytes(id)
            })
            .collect();
        let kept = ids.iter().filter(|id| sampled_by_ratio(**id, 0.25)).count();
        // 10,000 draws at p = 0.25 have a standard deviation of ~43.
        assert!((2_350..=2_650).contains(&kept), "{kept}");
        for id in &ids[..100] {
            assert_eq!(sampled_by_ratio(*id, 0.25), sampled_by_ratio(*id, 0.25));
        }
        assert!(ids.iter().all(|id| sampled_by_ratio(*id, 1.0)));
        assert!(!ids.iter().any(|id| sampled_by_ratio(*id, 0.0)));
    }
}
