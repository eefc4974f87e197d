//! The one place a proxied request's log records are built: the begin record before each
//! attempt, and every end record (relayed, answered from the cache, answered but not relayed,
//! no answer, refused), with usage and cost (docs/logs.md). Whether a record is a durable row
//! or only counted for analytics and metrics is decided here too.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::time::Instant;

use http::{HeaderMap, header};

use super::context::RequestContext;
use super::options::{CustomCost, RequestOptions};
use super::plan::UpstreamCall;
use super::redact;
use crate::budgets::Reservation;
use crate::cache::CachedResponse;
use crate::convert::{millis_i64, saturating_i64, saturating_i64_from_usize};
use crate::error::{ErrorCode, GatewayError};
use crate::logs::{LogBegin, LogEnd, RollupFacts};
use crate::otel::{AttemptSpan, RequestTrace};
use crate::pricing::{TokenCounts, custom_cost};
use crate::state::AppState;
use crate::usage::{Extracted, UsageFormat};

/// The response content type of a WebSocket session's row, whose body is the session's
/// summary (docs/websockets.md): filter the logs by it to list sessions.
pub const SESSION_CONTENT_TYPE: &str = "application/vnd.tollgate.websocket-session+json";

/// A begin record and the request body's head it keeps.
pub type Begin = (LogBegin, Vec<u8>);

/// One attempt that went upstream, until its end record: a row's completion when the request
/// is logged (`stored`), otherwise only what analytics and metrics count.
#[derive(Clone)]
pub struct RequestLog {
    pub state: AppState,
    pub id: String,
    pub facts: RollupFacts,
    /// The model the request named, for pricing.
    pub model: Option<String>,
    pub custom_cost: Option<CustomCost>,
    /// A begin record was written: the end record completes a row and is a barrier.
    pub stored: bool,
    pub keep_payload: bool,
    pub started: Instant,
    pub created_at: jiff::Timestamp,
    pub usage_format: UsageFormat,
    /// Which attempt this is (1-based); retries are rows of their own.
    pub attempt: i64,
    /// The attempt's reserved worst-case cost, settled by its end record (docs/budgets.md).
    pub reservation: Option<Arc<Reservation>>,
    /// The request's trace, which the end record closes the attempt's span in.
    pub trace: Option<Arc<RequestTrace>>,
    /// The attempt's span, from when it was sent.
    pub span: Option<AttemptSpan>,
    /// The universal step the call is (0-based).
    pub step: Option<i64>,
    /// What the request's DLP scan found (docs/dlp.md), for end records that do not say more
    /// (a response's scan adds its own findings to the relayed end record).
    pub dlp: Option<String>,
}

impl RequestLog {
    /// The log of `call`'s first attempt (id `id`), and its begin record when it is logged.
    pub fn for_call(
        ctx: &RequestContext<'_>,
        call: &UpstreamCall<'_>,
        options: &RequestOptions,
        id: uuid::Uuid,
        event_id: Option<String>,
    ) -> (RequestLog, Option<Begin>) {
        let state = ctx.state;
        let gateway = &ctx.gateway;
        let stored = options.collect_log.unwrap_or(gateway.settings.collect_logs);
        let keep_payload = stored && options.collect_log_payload.unwrap_or(true);
        let body = &call.body;
        let model = crate::usage::request_model(call.provider.usage, &call.path, body);
        let record = RequestLog {
            state: state.clone(),
            id: id.to_string(),
            facts: RollupFacts {
                created_at_ms: ctx.created_at.as_millisecond(),
                account_id: gateway.account_id.clone(),
                gateway_id: gateway.id.clone(),
                provider: call.provider.slug.clone(),
                model: model.clone().unwrap_or_default(),
            },
            model: model.clone(),
            custom_cost: options.custom_cost,
            stored,
            keep_payload,
            started: ctx.started,
            created_at: ctx.created_at,
            usage_format: call.provider.usage,
            attempt: 1,
            reservation: None,
            trace: ctx.trace.clone(),
            span: None,
            step: call.step,
            dlp: None,
        };
        if let Some(trace) = &ctx.trace {
            trace.call(&call.path, body);
        }
        let begin = stored.then(|| {
            let limit = state.config().logs.body_max_bytes;
            let headers = &*call.logged_headers;
            let begin = LogBegin {
                id: record.id.clone(),
                instance_id: state.logs().instance_id().to_owned(),
                account_id: gateway.account_id.clone(),
                gateway_id: gateway.id.clone(),
                created_at_ms: ctx.created_at.as_millisecond(),
                event_id,
                provider: call.provider.slug.clone(),
                model,
                path: redact::path_and_query(&call.path, call.query.as_deref()),
                method: call.method.to_string(),
                metadata: options.metadata.as_ref().map(|entries| {
                    serde_json::Value::Object(entries.iter().cloned().collect()).to_string()
                }),
                step: call.step,
                request_content_type: header_text(headers, header::CONTENT_TYPE),
                request_size: saturating_i64_from_usize(body.len()),
                client_ip: ctx.client.map(|ip| ip.to_string()),
                user_agent: header_text(headers, header::USER_AGENT),
                keep_payload,
                request_headers: if keep_payload {
                    redact::headers(headers, state.providers().all_credential_headers())
                } else {
                    Vec::new()
                },
                request_head_complete: body.len() <= limit,
                trace_id: ctx.trace.as_ref().map(|trace| trace.trace_id.to_string()),
            };
            let head = if keep_payload {
                body[..body.len().min(limit)].to_vec()
            } else {
                Vec::new()
            };
            (begin, head)
        });
        (record, begin)
    }

    /// The same request's log for attempt `attempt`, a row of its own under `id`.
    pub fn for_attempt(&self, id: uuid::Uuid, attempt: u8) -> RequestLog {
        RequestLog {
            id: id.to_string(),
            attempt: i64::from(attempt),
            reservation: None,
            span: self
                .trace
                .as_ref()
                .map(|trace| trace.begin_attempt(i64::from(attempt), self.step)),
            ..self.clone()
        }
    }

    /// Gives a reservation back whole: the attempt was never sent.
    pub async fn release(&self) {
        if let Some(reservation) = &self.reservation {
            reservation.settle(self.state.budgets(), Some(0.0)).await;
        }
    }

    /// Settles the attempt's reservation with what its end record says it cost, before the
    /// client has the whole answer: its next request sees the budget the last one left.
    async fn settle(&self, end: &LogEnd) {
        if let Some(reservation) = &self.reservation {
            reservation
                .settle(self.state.budgets(), actual_cost(end))
                .await;
        }
    }

    /// [`RequestLog::settle`] off the request's path, for when nobody waits.
    fn settle_detached(&self, end: &LogEnd) {
        let Some(reservation) = self.reservation.clone() else {
            return;
        };
        let (state, actual) = (self.state.clone(), actual_cost(end));
        self.state.tasks().spawn(async move {
            reservation.settle(state.budgets(), actual).await;
        });
    }

    /// Counts the request and writes its end record: durable before returning when it completes
    /// a logged row, otherwise without waiting (analytics only; nobody is owed a row).
    /// `false` when the row's end could not be made durable (the spool is full or the disk is).
    /// `failure` is the gateway error that ended the request, if one did (for metrics).
    pub async fn record(&self, mut end: LogEnd, head: Vec<u8>, failure: Option<ErrorCode>) -> bool {
        end.rollup = Some(self.facts.clone());
        if end.dlp.is_none() {
            end.dlp.clone_from(&self.dlp);
        }
        let head = self.trace_end(&end, head);
        self.settle(&end).await;
        self.state.metrics().observe(&end, failure);
        if !self.stored {
            self.state.logs().end_detached(end, Vec::new());
        } else if let Err(spool_error) = self.state.logs().end(end, head).await {
            tracing::error!(%spool_error, "could not record the end of a request");
            return false;
        }
        true
    }

    /// Like [`RequestLog::record`], for paths with nobody left to wait (the client went away).
    pub fn record_detached(&self, mut end: LogEnd, head: Vec<u8>) {
        end.rollup = Some(self.facts.clone());
        if end.dlp.is_none() {
            end.dlp.clone_from(&self.dlp);
        }
        let head = self.trace_end(&end, head);
        self.settle_detached(&end);
        self.state.metrics().observe(&end, None);
        self.state
            .logs()
            .end_detached(end, if self.stored { head } else { Vec::new() });
    }

    /// Closes the attempt's span (or notes a cache hit) in the request's trace, and returns the
    /// body head the row keeps: a head captured only for the trace is not logged.
    fn trace_end(&self, end: &LogEnd, head: Vec<u8>) -> Vec<u8> {
        if let Some(trace) = &self.trace {
            trace.end_call(self.span.as_ref(), &self.facts, end, &head);
        }
        match self.keep_payload {
            true => head,
            false => Vec::new(),
        }
    }

    /// The end of an attempt that got no response (timeout, unreachable provider; then
    /// `failure` is the gateway's error).
    pub async fn finish_without_response(
        &self,
        status: u16,
        error: &str,
        failure: Option<ErrorCode>,
    ) {
        let end = LogEnd {
            id: self.id.clone(),
            status_code: Some(status),
            success: false,
            duration_ms: elapsed_ms(self.started),
            attempts: self.attempt,
            error: Some(error.to_owned()),
            ..LogEnd::default()
        };
        self.record(end, Vec::new(), failure).await;
    }

    /// The end of an attempt whose answer was read whole and not relayed; `outcome` says what
    /// the gateway did next (`retried`, `fell back to the next step`).
    pub async fn finish_with_unrelayed_answer(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        outcome: &str,
    ) {
        let (head, head_complete) = self.kept_head(body);
        let end = LogEnd {
            id: self.id.clone(),
            status_code: Some(status),
            success: false,
            duration_ms: elapsed_ms(self.started),
            attempts: self.attempt,
            response_content_type: header_text(headers, header::CONTENT_TYPE),
            response_size: saturating_i64_from_usize(body.len()),
            response_headers: self.kept_headers(headers),
            response_head_complete: head_complete,
            error: Some(format!("provider answered {status}; {outcome}")),
            ..LogEnd::default()
        };
        self.record(end, head, None).await;
    }

    /// The end of a request or response DLP blocked (docs/dlp.md): its row says what matched,
    /// with the refusal's status and message. `sent`: the request went upstream (its response
    /// was blocked).
    pub async fn finish_blocked(&self, refusal: &GatewayError, dlp: Option<String>, sent: bool) {
        let end = LogEnd {
            id: self.id.clone(),
            status_code: Some(refusal.code.status().as_u16()),
            success: false,
            duration_ms: elapsed_ms(self.started),
            attempts: if sent { self.attempt } else { 0 },
            error: Some(refusal.message.clone()),
            dlp,
            ..LogEnd::default()
        };
        self.record(end, Vec::new(), Some(refusal.code)).await;
    }

    /// The end of a request served without an upstream call: from the cache, or shared by the
    /// request this one waited for. Counted as `cached`, with no tokens and no cost.
    pub async fn finish_from_cache(&self, cached: &CachedResponse) {
        let (head, head_complete) = self.kept_head(&cached.body);
        let elapsed = elapsed_ms(self.started);
        let end = LogEnd {
            id: self.id.clone(),
            status_code: Some(cached.status),
            success: cached.status < 400,
            cached: true,
            duration_ms: elapsed,
            ttfb_ms: Some(elapsed),
            tokens_in: Some(0),
            tokens_out: Some(0),
            cache_read_tokens: Some(0),
            cache_write_tokens: Some(0),
            cost: Some(0.0),
            attempts: 0,
            response_content_type: cached
                .headers
                .iter()
                .find(|(name, _)| name == "content-type")
                .map(|(_, value)| value.clone()),
            response_size: saturating_i64_from_usize(cached.body.len()),
            response_headers: if self.keep_payload {
                cached.headers.clone()
            } else {
                Vec::new()
            },
            response_head_complete: head_complete,
            ..LogEnd::default()
        };
        self.record(end, head, None).await;
    }

    /// The end record a relayed response starts from; [`RequestLog::complete_relayed`] adds
    /// what the body showed once it ended.
    pub fn relayed_end(
        &self,
        status: u16,
        content_type: Option<String>,
        headers: &HeaderMap,
    ) -> LogEnd {
        LogEnd {
            id: self.id.clone(),
            status_code: Some(status),
            success: status < 400,
            attempts: self.attempt,
            response_content_type: content_type,
            response_headers: self.kept_headers(headers),
            ..LogEnd::default()
        }
    }

    /// Completes a relayed response's end record with its size, timing, error and the usage
    /// the body carried, priced.
    pub fn complete_relayed(&self, end: &mut LogEnd, body: RelayedBody<'_>) {
        end.duration_ms = elapsed_ms(self.started);
        end.ttfb_ms = body.ttfb_ms;
        end.response_size = i64::try_from(body.size).unwrap_or(i64::MAX);
        end.response_head_complete = body.size <= self.state.config().logs.body_max_bytes as u64;
        if let Some(error) = body.error {
            end.success = false;
            end.error = Some(error.to_owned());
        }
        if let (Some(trace), false) = (&self.trace, body.extracted.finish_reasons.is_empty()) {
            trace.finish_reasons(&body.extracted.finish_reasons);
        }
        if let Some(usage) = body.extracted.usage {
            end.tokens_in = Some(saturating_i64(usage.total_input()));
            end.tokens_out = Some(saturating_i64(usage.output_tokens));
            end.cache_read_tokens = Some(saturating_i64(usage.cache_read_tokens));
            end.cache_write_tokens = Some(saturating_i64(usage.cache_write_tokens));
            let tokens = TokenCounts {
                input: usage.input_tokens,
                output: usage.output_tokens,
                cache_read: usage.cache_read_tokens,
                cache_write: usage.cache_write_tokens,
            };
            if let (Some(trace), Some(model)) = (&self.trace, &body.extracted.response_model) {
                trace.response_model(model);
            }
            let model = self
                .model
                .as_deref()
                .or(body.extracted.response_model.as_deref());
            (end.cost, end.custom_cost) = self.cost(model, &tokens);
        } else if let Some(total) = self.custom_cost.and_then(|c| c.total_cost) {
            // A total needs no token counts.
            (end.cost, end.custom_cost) = (Some(total), true);
        }
    }

    /// The end of a WebSocket session (docs/websockets.md): status 101, its duration, the
    /// provider's bytes as the response size, the tokens its usage events reported, priced,
    /// and as its response body the session's summary (messages and bytes each way, the close
    /// code, who closed). `headers`: the provider's 101.
    pub async fn finish_session(
        &self,
        summary: super::realtime::Summary,
        usage: Option<crate::usage::Usage>,
        headers: &HeaderMap,
    ) {
        let described = serde_json::json!({
            "type": "websocket",
            "messages_in": summary.messages_in,
            "messages_out": summary.messages_out,
            "bytes_in": summary.bytes_in,
            "bytes_out": summary.bytes_out,
            "close_code": summary.close_code,
            "close_reason": summary.close_reason,
            "closed_by": summary.closed_by.as_str(),
        });
        let mut end = self.relayed_end(101, Some(SESSION_CONTENT_TYPE.to_owned()), headers);
        let body = RelayedBody {
            size: summary.bytes_out,
            ttfb_ms: summary.first_message_ms,
            error: summary.error.as_deref(),
            extracted: Extracted {
                usage,
                ..Extracted::default()
            },
        };
        self.complete_relayed(&mut end, body);
        end.response_head_complete = true;
        self.record(end, described.to_string().into_bytes(), None)
            .await;
    }

    /// The cost and whether it is the client's own (`cf-aig-custom-cost`).
    fn cost(&self, model: Option<&str>, tokens: &TokenCounts) -> (Option<f64>, bool) {
        if let Some(custom) = &self.custom_cost {
            return (Some(custom_cost(custom, tokens)), true);
        }
        let prices = self.state.prices();
        let cost = model
            .and_then(|model| prices.cost(&self.facts.provider, model, tokens, self.created_at));
        (cost, false)
    }

    /// The most of a response body a row keeps (`logs.body_max_bytes`, and only when payloads
    /// are kept).
    pub fn head_limit(&self) -> usize {
        let for_trace = self
            .trace
            .as_ref()
            .is_some_and(|trace| trace.wants_bodies());
        match (self.keep_payload, for_trace) {
            (true, _) => self.state.config().logs.body_max_bytes,
            (false, true) => crate::otel::BODY_ATTRIBUTE_BYTES,
            (false, false) => 0,
        }
    }

    /// A whole body as its row keeps it: the head and whether the head is all of it.
    fn kept_head(&self, body: &[u8]) -> (Vec<u8>, bool) {
        let limit = self.state.config().logs.body_max_bytes;
        let head = body[..body.len().min(self.head_limit())].to_vec();
        (head, body.len() <= limit)
    }

    /// Response headers as the row keeps them: redacted, and none when payloads are not kept.
    fn kept_headers(&self, headers: &HeaderMap) -> Vec<(String, String)> {
        match self.keep_payload {
            true => redact::headers(headers, self.state.providers().all_credential_headers()),
            false => Vec::new(),
        }
    }
}

/// What an attempt cost as its end record says: its price when known; nothing for a failure
/// with no known cost (providers do not bill refusals); `None`, keep the reserved worst case,
/// when an answer's cost is unknown.
fn actual_cost(end: &LogEnd) -> Option<f64> {
    match (end.cost, end.success) {
        (Some(cost), _) => Some(cost),
        (None, false) => Some(0.0),
        (None, true) => None,
    }
}

/// What a relayed body showed, for its end record.
pub struct RelayedBody<'a> {
    pub size: u64,
    pub ttfb_ms: Option<i64>,
    pub error: Option<&'a str>,
    pub extracted: Extracted,
}

/// Writes a begin record and waits until it is durable; a spool that cannot take it refuses
/// the request (503) rather than let it run unlogged.
pub async fn write_begin(state: &AppState, begin: Option<Begin>) -> Result<(), GatewayError> {
    let Some((begin, head)) = begin else {
        return Ok(());
    };
    state.logs().begin(begin, head).await.map_err(|error| {
        tracing::error!(%error, "request refused: its log record could not be written");
        GatewayError::log_unavailable()
    })
}

/// Counts a request refused before it went upstream under its gateway (never a log row:
/// refusals cost nothing upstream, and a flood of them must not fill the disk). A request that
/// went upstream has its attempts' end records instead.
pub(super) fn refusal(ctx: &RequestContext<'_>, error: &GatewayError) {
    if let Some(trace) = &ctx.trace {
        trace.refused(error.code.status().as_u16(), &error.message);
    }
    if ctx.dispatched.load(Ordering::Relaxed) {
        return;
    }
    let end = LogEnd {
        id: ctx.log_id.to_string(),
        rollup: Some(RollupFacts {
            created_at_ms: ctx.created_at.as_millisecond(),
            account_id: ctx.gateway.account_id.clone(),
            gateway_id: ctx.gateway.id.clone(),
            provider: ctx.provider.clone(),
            model: String::new(),
        }),
        status_code: Some(error.code.status().as_u16()),
        success: false,
        duration_ms: elapsed_ms(ctx.started),
        attempts: 0,
        error: Some(error.message.clone()),
        ..LogEnd::default()
    };
    ctx.state.metrics().observe(&end, Some(error.code));
    ctx.state.logs().end_detached(end, Vec::new());
}

pub fn elapsed_ms(since: Instant) -> i64 {
    millis_i64(since.elapsed())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
