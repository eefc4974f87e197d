//! One log row per tool call (and per prompt got or resource read), built from the same records
//! as a model request's (docs/logs.md): `provider` is `mcp:{server}`, `model` the tool's name at
//! the server (the prompt's name, the resource's URI), `path` `tools/call` (`prompts/get`,
//! `resources/read`), the arguments the request body and the result the response body, both kept
//! only when payloads are (`cf-aig-collect-log-payload`) and cut at `logs.body_max_bytes`;
//! request headers redacted as on every row. Counted in analytics and metrics like a request.

use std::sync::Arc;

use rmcp::model::CallToolResponse;
use tokio::time::Instant;

use super::message::Message;
use super::server::Admitted;
use crate::budgets::Reservation;
use crate::convert::saturating_i64_from_usize;
use crate::error::{ErrorCode, GatewayError};
use crate::logs::{LogBegin, LogEnd, RollupFacts};
use crate::otel::{McpCall, McpSpan, McpTarget, RequestTrace};
use crate::state::AppState;

/// A tool call between its begin record and its end record.
pub struct ToolCallLog {
    state: AppState,
    id: String,
    facts: RollupFacts,
    stored: bool,
    keep_payload: bool,
    started: Instant,
    /// What DLP found in the arguments and the result (docs/dlp.md), as the row keeps it.
    dlp: Option<String>,
    /// A `tools/call` (its spans are the GenAI conventions' tool executions).
    tool_call: bool,
    /// The client's `traceparent`, passed on when the request is not traced.
    client_traceparent: Option<String>,
    /// The request's trace and its client span, when traced.
    trace: Option<(Arc<RequestTrace>, McpSpan)>,
    /// The call's reservation against spend limits and budgets ([`super::budget`]), settled
    /// by the end record to `cost` (nothing for a call never answered).
    reservation: Option<Reservation>,
    /// The server's price, once the server has answered the call.
    cost: Option<f64>,
}

impl ToolCallLog {
    /// Writes the request's begin record (durable before the request goes upstream, as a model
    /// request's is), or refuses the request when the log cannot take it; `body` is the
    /// request's parameters as JSON (a tool's or a prompt's arguments, `{"uri": …}`). The
    /// message's trace, when there is one, becomes the request's (docs/observability.md).
    pub async fn begin(
        admitted: &Admitted,
        message: &Message<'_>,
        target: McpTarget<'_>,
        body: Vec<u8>,
    ) -> Result<ToolCallLog, GatewayError> {
        let (server, tool, path) = (target.server, target.name, target.method);
        let headers = message.headers();
        let state = &admitted.state;
        let gateway = &admitted.gateway;
        let options = &admitted.options;
        let stored = options.collect_log.unwrap_or(gateway.settings.collect_logs);
        let keep_payload = stored && options.collect_log_payload.unwrap_or(true);
        let created_at = state.clock().now();
        let id = uuid::Uuid::now_v7().to_string();
        let provider = format!("mcp:{server}");
        let facts = RollupFacts {
            created_at_ms: created_at.as_millisecond(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            provider: provider.clone(),
            model: tool.to_owned(),
        };
        let mut log = ToolCallLog {
            state: state.clone(),
            id: id.clone(),
            facts,
            stored,
            keep_payload,
            started: crate::clock::monotonic_now(),
            dlp: None,
            tool_call: path == crate::otel::MCP_TOOLS_CALL,
            client_traceparent: message.client_traceparent.clone(),
            trace: None,
            reservation: None,
            cost: None,
        };
        log.trace = message.trace.clone().map(|trace| {
            let span = trace.begin_mcp(
                &McpCall {
                    target: &target,
                    request_id: &message.id,
                    log_id: &log.id,
                },
                &body,
            );
            (trace, span)
        });
        if !stored {
            return Ok(log);
        }
        let limit = state.config().logs.body_max_bytes;
        let begin = LogBegin {
            id,
            instance_id: state.logs().instance_id().to_owned(),
            account_id: gateway.account_id.clone(),
            gateway_id: gateway.id.clone(),
            created_at_ms: created_at.as_millisecond(),
            event_id: options.event_id.clone(),
            provider,
            model: Some(tool.to_owned()),
            path: path.to_owned(),
            method: "POST".to_owned(),
            metadata: options.metadata.as_ref().map(|entries| {
                serde_json::Value::Object(entries.iter().cloned().collect()).to_string()
            }),
            step: None,
            request_content_type: Some("application/json".to_owned()),
            request_size: saturating_i64_from_usize(body.len()),
            client_ip: admitted.client.map(|ip| ip.to_string()),
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            keep_payload,
            request_headers: if keep_payload {
                crate::proxy::redact::headers(headers, state.providers().all_credential_headers())
            } else {
                Vec::new()
            },
            request_head_complete: body.len() <= limit,
            trace_id: log
                .trace
                .as_ref()
                .map(|(trace, _)| trace.trace_id.to_string()),
        };
        let head = if keep_payload {
            body[..body.len().min(limit)].to_vec()
        } else {
            Vec::new()
        };
        if let Err(error) = state.logs().begin(begin, head).await {
            tracing::error!(%error, "tool call refused: its log record could not be written");
            let refused = GatewayError::log_unavailable();
            if let Some((trace, _)) = &log.trace {
                let status = refused.code.status().as_u16().to_string();
                trace.end_mcp(Some((&status, &refused.message)), &[], false);
            }
            return Err(refused);
        }
        Ok(log)
    }

    /// The request goes upstream now: the `traceparent` for its `_meta`, this request's client
    /// span when traced, else the client's own (as a model request's passes through).
    pub fn sending(&mut self) -> Option<String> {
        match &mut self.trace {
            Some((trace, span)) => Some(trace.send_mcp(span)),
            None => self.client_traceparent.clone(),
        }
    }

    /// The server answered, or could not be reached: ends the client span. `tool_error`: the
    /// answer is a tool's `isError: true`.
    pub fn answered<T>(&self, answer: &Result<T, String>, tool_error: bool) {
        let Some((trace, span)) = &self.trace else {
            return;
        };
        match answer {
            Err(why) => trace.answered_mcp(span, Some((&failure_kind(why), why))),
            Ok(_) if tool_error => trace.answered_mcp(span, Some((TOOL_ERROR, TOOL_ERROR_TEXT))),
            Ok(_) => trace.answered_mcp(span, None),
        }
    }

    /// Keeps the call's reservation, to be settled by its end record.
    pub fn hold(&mut self, reservation: Option<Reservation>) {
        self.reservation = reservation;
    }

    /// The server answered the call: it costs the server's price, if it has one.
    pub fn charge(&mut self, price: Option<f64>) {
        self.cost = price;
    }

    /// Records DLP's findings (all of them so far) on the row.
    pub fn set_dlp(&mut self, report: &crate::dlp::Report) {
        self.dlp = crate::proxy::dlp::log_value(report);
    }

    /// The end record of a call the gateway refused after its begin record (DLP's BLOCK).
    pub async fn end_refused(self, error: &GatewayError) {
        let status = error.code.status().as_u16();
        self.finish((false, status, Some(error.message.clone()), Vec::new()))
            .await;
    }

    /// The end record of a request other than a tool call: its answer as JSON, or why there is
    /// none.
    pub async fn end_with(self, answered: Result<Vec<u8>, String>) {
        let outcome = match answered {
            Ok(body) => (true, 200, None, body),
            Err(why) => (false, 502, Some(why), Vec::new()),
        };
        self.finish(outcome).await;
    }

    /// Writes the call's end record: the result, or why there is none.
    pub async fn end(self, called: &Result<CallToolResponse, String>) {
        let outcome = match called {
            Ok(response) => {
                let body = match response {
                    CallToolResponse::Complete(result) => serde_json::to_vec(result),
                    CallToolResponse::InputRequired(input) => serde_json::to_vec(input),
                    CallToolResponse::Task(task) => serde_json::to_vec(task),
                    // A kind newer than this gateway: logged without a body.
                    _ => Ok(Vec::new()),
                }
                .unwrap_or_default();
                match response {
                    CallToolResponse::Complete(result) if result.is_error == Some(true) => {
                        (false, 200, Some(TOOL_ERROR_TEXT.to_owned()), body)
                    }
                    _ => (true, 200, None, body),
                }
            }
            Err(why) => (false, 502, Some(why.clone()), Vec::new()),
        };
        self.finish(outcome).await;
    }

    async fn finish(self, outcome: (bool, u16, Option<String>, Vec<u8>)) {
        let (success, status, error, body) = outcome;
        if let Some((trace, _)) = &self.trace {
            let reason = error.as_deref().unwrap_or_default();
            let kind = match status {
                200 => TOOL_ERROR.to_owned(),
                502 => failure_kind(reason),
                status => status.to_string(),
            };
            let failure = (!success).then_some((kind.as_str(), reason));
            trace.end_mcp(failure, &body, self.tool_call);
        }
        let limit = self.state.config().logs.body_max_bytes;
        let end = LogEnd {
            id: self.id,
            rollup: Some(self.facts),
            status_code: Some(status),
            success,
            duration_ms: crate::convert::millis_i64(self.started.elapsed()),
            attempts: 1,
            response_content_type: Some("application/json".to_owned()),
            response_size: saturating_i64_from_usize(body.len()),
            // The stores keep a response body only with headers (a kept payload's mark); the
            // upstream's HTTP headers are rmcp's, so the row shows the one that describes it.
            response_headers: if self.keep_payload {
                vec![("content-type".to_owned(), "application/json".to_owned())]
            } else {
                Vec::new()
            },
            response_head_complete: body.len() <= limit,
            error,
            dlp: self.dlp,
            cost: self.cost,
            ..LogEnd::default()
        };
        if let Some(reservation) = &self.reservation {
            let spent = self.cost.unwrap_or(0.0);
            reservation.settle(self.state.budgets(), Some(spent)).await;
        }
        let failure = (!success && status == 502).then_some(ErrorCode::UpstreamFailed);
        self.state.metrics().observe(&end, failure);
        let head = if self.keep_payload {
            body[..body.len().min(limit)].to_vec()
        } else {
            Vec::new()
        };
        if !self.stored {
            self.state.logs().end_detached(end, Vec::new());
        } else if let Err(spool_error) = self.state.logs().end(end, head).await {
            tracing::error!(%spool_error, "could not record the end of a tool call");
        }
    }
}

/// The MCP conventions' `error.type` of a tool's `isError: true` answer.
const TOOL_ERROR: &str = "tool_error";
const TOOL_ERROR_TEXT: &str = "the tool reported an error";

/// A low-cardinality class of an upstream failure, for `error.type`: the JSON-RPC error code
/// the server answered with (as the MCP conventions have it), `timeout`, or `error` (the
/// server could not be reached); read from the reasons `Upstreams` gives (mcp/upstream.rs).
fn failure_kind(why: &str) -> String {
    if let Some(code) = why
        .strip_prefix("MCP error ")
        .and_then(|rest| rest.split_once(':'))
        .map(|(code, _)| code)
    {
        return code.to_owned();
    }
    if why.starts_with("no answer within") {
        return "timeout".to_owned();
    }
    "error".to_owned()
}
