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

/// What an MCP request to an upstream server is, as its log row and its spans name it.
pub struct McpTarget<'a> {
    /// `tools/call`, `prompts/get` or `resources/read` (the row's `path`).
    pub method: &'static str,
    /// The upstream server's name in the gateway.
    pub server: &'a str,
    /// What the request names at the server: the tool, the prompt, the resource's URI (the
    /// row's `model`).
    pub name: &'a str,
    /// The same as the client named it (`{server}__{tool}`, `{server}+{uri}`).
    pub namespaced: &'a str,
}

/// An MCP request to an upstream server, as its spans describe it.
pub struct McpCall<'a> {
    pub target: &'a McpTarget<'a>,
    /// The JSON-RPC id of the client's message.
    pub request_id: &'a str,
    /// The request's log row.
    pub log_id: &'a str,
}

/// The client span of an MCP request: from when it is sent to its server until it answers.
pub struct McpSpan {
    span_id: SpanId,
    started: Option<Instant>,
    name: String,
    attributes: Vec<KeyValue>,
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

    /// An MCP request to an upstream server begins (a tool call, a prompt got, a resource read;
    /// docs/mcp.md): the server span becomes the call's, named and described by the MCP
    /// conventions, and finds the call's log row (`tollgate.log_id`) rather than the HTTP
    /// request's. With a collector's `include_bodies`, the arguments go on it too.
    pub fn begin_mcp(&self, call: &McpCall<'_>, arguments: &[u8]) -> McpSpan {
        let mut recorded = self.lock();
        recorded
            .attributes
            .retain(|kv| kv.key.as_str() != "tollgate.log_id");
        recorded
            .attributes
            .extend(attributes::mcp(call, call.target.namespaced));
        recorded
            .attributes
            .push(KeyValue::new("tollgate.log_id", call.log_id.to_owned()));
        if call.target.method == attributes::MCP_TOOLS_CALL && self.wants_bodies() {
            recorded
                .attributes
                .push(attributes::body("gen_ai.tool.call.arguments", arguments));
        }
        recorded.name = Some(attributes::mcp_span_name(
            call.target.method,
            call.target.namespaced,
        ));
        McpSpan {
            span_id: new_span_id(),
            started: None,
            name: attributes::mcp_span_name(call.target.method, call.target.name),
            attributes: attributes::mcp(call, call.target.name),
        }
    }

    /// The MCP request goes to its server now: the `traceparent` it carries (in its `_meta`,
    /// as the MCP conventions propagate it), naming the client span that covers the call.
    pub fn send_mcp(&self, span: &mut McpSpan) -> String {
        span.started = Some(crate::clock::monotonic_now());
        format!("00-{}-{}-01", self.trace_id, span.span_id)
    }

    /// The server answered (or failed to): the client span, with `failure` (`error.type` and
    /// the reason) when the request failed or the tool reported an error.
    pub fn answered_mcp(&self, span: &McpSpan, failure: Option<(&str, &str)>) {
        let Some(started) = span.started else {
            return;
        };
        let mut attributes = span.attributes.clone();
        let status = match failure {
            Some((kind, reason)) => {
                attributes.push(KeyValue::new("error.type", kind.to_owned()));
                Status::error(reason.to_owned())
            }
            None => Status::Unset,
        };
        let span = self.span(
            Cow::Owned(span.name.clone()),
            SpanKind::Client,
            span.span_id,
            Some(self.span_id),
            (started, crate::clock::monotonic_now()),
            attributes,
            status,
        );
        self.add_child(span);
    }

    /// The MCP request's outcome as its log row has it: the server span has an error status
    /// when the client got a JSON-RPC error or a tool's error (the MCP conventions' rule), and
    /// the result when a collector asked for bodies.
    pub fn end_mcp(&self, failure: Option<(&str, &str)>, result: &[u8], tool_call: bool) {
        let mut recorded = self.lock();
        if let Some((kind, reason)) = failure {
            recorded
                .outcome
                .push(KeyValue::new("error.type", kind.to_owned()));
            recorded.error = Some(reason.to_owned());
        }
        if tool_call && self.wants_bodies() && !result.is_empty() {
            recorded
                .outcome
                .push(attributes::body("gen_ai.tool.call.result", result));
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
