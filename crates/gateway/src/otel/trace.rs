//! One request's trace while it runs: the gateway's server span, and the child spans its phases
//! finish (admission, cache lookup, each upstream attempt). Clones of it ride along with the
//! request's attempt logs into the relay; when the last one is dropped the request is over, and
//! its spans go to the collectors in one batch.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use tokio::time::Instant;

use super::attributes;
use super::exporter::Destination;
use crate::logs::{LogEnd, RollupFacts};

/// The most child spans one request records (a universal request's steps times their retries);
/// later ones are counted as dropped.
const MAX_CHILD_SPANS: usize = 64;

pub struct RequestTrace {
    destinations: Vec<Arc<Destination>>,
    pub trace_id: TraceId,
    /// The gateway's own span for the request: every child's parent.
    pub span_id: SpanId,
    parent: Option<SpanId>,
    tracestate: TraceState,
    /// When the request arrived, on both clocks: wall time for the spans, monotonic for
    /// durations.
    start: SystemTime,
    started: Instant,
    scope: InstrumentationScope,
    recorded: Mutex<Recorded>,
    counts: Arc<super::exporter::ExportCounts>,
}

/// What the request's phases reported so far.
#[derive(Default)]
struct Recorded {
    children: Vec<SpanData>,
    dropped_children: usize,
    /// Attributes of the server span: what was known at the start, then the last attempt's.
    attributes: Vec<KeyValue>,
    outcome: Vec<KeyValue>,
    /// What the response of the call under way said of itself (its model, why it stopped),
    /// read as it streamed: goes on the call's attempt span and the server's outcome.
    response: Vec<KeyValue>,
    error: Option<String>,
    status_code: Option<u16>,
    /// The GenAI operation of the call under way (`chat`, `embeddings`…).
    operation: Option<&'static str>,
    name: Option<String>,
}

/// An upstream attempt under way: its span id (the upstream's `traceparent` parent) and start.
#[derive(Debug, Clone, Copy)]
pub struct AttemptSpan {
    pub span_id: SpanId,
    started: Instant,
    attempt: i64,
    step: Option<i64>,
}

/// What a new trace starts from.
pub struct TraceStart {
    pub destinations: Vec<Arc<Destination>>,
    pub trace_id: TraceId,
    pub parent: Option<SpanId>,
    pub tracestate: TraceState,
    pub start: SystemTime,
    pub started: Instant,
    pub attributes: Vec<KeyValue>,
    pub scope: InstrumentationScope,
    pub counts: Arc<super::exporter::ExportCounts>,
}

impl RequestTrace {
    pub fn new(start: TraceStart) -> RequestTrace {
        RequestTrace {
            destinations: start.destinations,
            trace_id: start.trace_id,
            span_id: new_span_id(),
            parent: start.parent,
            tracestate: start.tracestate,
            start: start.start,
            started: start.started,
            scope: start.scope,
            recorded: Mutex::new(Recorded {
                attributes: start.attributes,
                ..Recorded::default()
            }),
            counts: start.counts,
        }
    }

    /// Whether any collector of this request wants prompt and completion bodies.
    pub fn wants_bodies(&self) -> bool {
        self.destinations.iter().any(|d| d.include_bodies)
    }

    /// A phase that began at `began` and ends now, as a child span.
    pub fn phase(&self, name: &'static str, began: Instant, attributes: Vec<KeyValue>) {
        let span = self.span(
            Cow::Borrowed(name),
            SpanKind::Internal,
            new_span_id(),
            Some(self.span_id),
            (began, crate::clock::monotonic_now()),
            attributes,
            Status::Unset,
        );
        self.add_child(span);
    }

    /// An upstream attempt begins: its span id goes upstream in `traceparent`.
    pub fn begin_attempt(&self, attempt: i64, step: Option<i64>) -> AttemptSpan {
        AttemptSpan {
            span_id: new_span_id(),
            started: crate::clock::monotonic_now(),
            attempt,
            step,
        }
    }

    /// An attempt ended (or a request was answered from the cache, with no attempt span): its
    /// span, and the server span's outcome so far. `completion` is the response body's head.
    pub fn end_call(
        &self,
        attempt: Option<&AttemptSpan>,
        facts: &RollupFacts,
        end: &LogEnd,
        completion: &[u8],
    ) {
        let mut outcome = attributes::outcome(facts, end);
        outcome.extend(std::mem::take(&mut self.lock().response));
        if let Some(attempt) = attempt {
            let mut attempt_attributes = outcome.clone();
            attempt_attributes.push(KeyValue::new("tollgate.attempt", attempt.attempt));
            if let Some(step) = attempt.step {
                attempt_attributes.push(KeyValue::new("tollgate.step", step));
            }
            let status = match (end.success, &end.error) {
                (true, _) => Status::Unset,
                (false, error) => Status::error(error.clone().unwrap_or_default()),
            };
            let span = self.span(
                Cow::Borrowed("upstream attempt"),
                SpanKind::Client,
                attempt.span_id,
                Some(self.span_id),
                (attempt.started, crate::clock::monotonic_now()),
                attempt_attributes,
                status,
            );
            self.add_child(span);
        }
        let mut recorded = self.lock();
        recorded.name = attributes::span_name(recorded.operation, &facts.model);
        recorded.outcome = outcome;
        if self.wants_bodies() && !completion.is_empty() {
            recorded
                .outcome
                .push(attributes::body("gen_ai.completion_json", completion));
        }
        recorded.status_code = end.status_code;
        recorded.error = (!end.success).then(|| end.error.clone().unwrap_or_default());
    }

    /// The model a response reported, when it differs from the one asked for.
    pub fn response_model(&self, model: &str) {
        self.lock()
            .response
            .push(KeyValue::new("gen_ai.response.model", model.to_owned()));
    }

    /// Why the model stopped, per generation (`gen_ai.response.finish_reasons`).
    pub fn finish_reasons(&self, reasons: &[String]) {
        let reasons: Vec<opentelemetry::StringValue> =
            reasons.iter().map(|r| r.clone().into()).collect();
        self.lock().response.push(KeyValue::new(
            "gen_ai.response.finish_reasons",
            opentelemetry::Value::Array(reasons.into()),
        ));
    }

    /// A call is planned: its provider path names the operation, and its body is the prompt
    /// (kept when a collector asked for bodies; the first call's, for a universal request).
    pub fn call(&self, path: &str, body: &[u8]) {
        let mut recorded = self.lock();
        recorded.operation = attributes::operation(path);
        if let Some(operation) = recorded.operation {
            recorded
                .attributes
                .retain(|kv| kv.key.as_str() != "gen_ai.operation.name");
            recorded
                .attributes
                .push(KeyValue::new("gen_ai.operation.name", operation));
        }
        let has_prompt = recorded
            .attributes
            .iter()
            .any(|kv| attributes::is_body(&kv.key));
        if self.wants_bodies() && !has_prompt {
            recorded
                .attributes
                .push(attributes::body("gen_ai.prompt_json", body));
        }
    }

    /// The gateway refused the request or gave up on it: the server span says why.
    pub fn refused(&self, status: u16, message: &str) {
        let mut recorded = self.lock();
        recorded.status_code = Some(status);
        recorded.error = Some(message.to_owned());
    }

    fn add_child(&self, span: SpanData) {
        let mut recorded = self.lock();
        if recorded.children.len() < MAX_CHILD_SPANS {
            recorded.children.push(span);
        } else {
            recorded.dropped_children += 1;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a span's fields, named at each call"
    )]
    fn span(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        span_id: SpanId,
        parent: Option<SpanId>,
        (began, ended): (Instant, Instant),
        attributes: Vec<KeyValue>,
        status: Status,
    ) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                self.trace_id,
                span_id,
                TraceFlags::SAMPLED,
                false,
                self.tracestate.clone(),
            ),
            parent_span_id: parent.unwrap_or(SpanId::INVALID),
            parent_span_is_remote: false,
            span_kind: kind,
            name,
            start_time: self.at(began),
            end_time: self.at(ended),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        }
    }

    /// A monotonic instant as wall time, counted from the request's arrival.
    fn at(&self, instant: Instant) -> SystemTime {
        self.start + instant.saturating_duration_since(self.started)
    }
}

impl Drop for RequestTrace {
    /// The request is over: its server span ends now, and every span goes out.
    fn drop(&mut self) {
        let recorded = std::mem::take(&mut *self.lock());
        let mut attributes = recorded.attributes;
        attributes.extend(recorded.outcome);
        if let Some(status) = recorded.status_code {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        let failed = recorded.status_code.is_none_or(|status| status >= 500);
        let status = match recorded.error {
            Some(error) if failed => Status::error(error),
            _ => Status::Unset,
        };
        let name = recorded
            .name
            .unwrap_or_else(|| "gateway request".to_owned());
        let mut server = self.span(
            Cow::Owned(name),
            SpanKind::Server,
            self.span_id,
            self.parent,
            (self.started, crate::clock::monotonic_now()),
            attributes,
            status,
        );
        server.parent_span_is_remote = self.parent.is_some();
        self.counts.drop_spans(recorded.dropped_children);
        let mut spans = recorded.children;
        spans.push(server);
        let Some((last, others)) = self.destinations.split_last() else {
            return;
        };
        for destination in others {
            destination.send(for_destination(destination, spans.clone()));
        }
        last.send(for_destination(last, spans));
    }
}

/// Bodies only for the collectors that asked for them.
fn for_destination(destination: &Destination, mut spans: Vec<SpanData>) -> Vec<SpanData> {
    if !destination.include_bodies {
        for span in &mut spans {
            span.attributes.retain(|kv| !attributes::is_body(&kv.key));
        }
    }
    spans
}

/// A random, valid span id.
pub fn new_span_id() -> SpanId {
    let bytes = uuid::Uuid::new_v4().as_u128().to_le_bytes();
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[..8]);
    match SpanId::from_bytes(id) {
        SpanId::INVALID => SpanId::from_bytes([1; 8]),
        id => id,
    }
}

/// A random, valid trace id.
pub fn new_trace_id() -> TraceId {
    match TraceId::from_bytes(uuid::Uuid::new_v4().as_u128().to_be_bytes()) {
        TraceId::INVALID => TraceId::from_bytes([1; 16]),
        id => id,
    }
}
