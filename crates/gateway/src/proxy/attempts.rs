//! One upstream call with its retries: the begin record before each attempt, the first-byte
//! timeout, backoff, and handing the accepted response to the relay (docs/resilience.md,
//! docs/logs.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use http_body_util::Full;

use super::answer::BufferedAnswer;
use super::caching::{self, CachePlan};
use super::client::{UpstreamChunk, UpstreamRequest, UpstreamResponse};
use super::dlp::{self, CallDlp};
use super::failure::AttemptFailure;
use super::guardrails::CallGuard;
use super::headers::{CACHE_STATUS, EVENT_ID, client_response_headers, set_log_id};
use super::plan::Reshape;
use super::record::{Begin, RequestLog, write_begin};
use super::relay::{CacheFill, ResponseHead};
use super::retry::{RetryPolicy, retry_after, retryable_status};
use crate::budgets::BudgetPlan;
use crate::cache::FlightGuard;
use crate::error::{ErrorCode, GatewayError};
use crate::providers::Provider;
use crate::state::AppState;

pub struct Attempts<'a> {
    pub state: &'a AppState,
    pub provider: &'a Provider,
    pub method: Method,
    pub url: String,
    /// Already filtered for the upstream.
    pub headers: HeaderMap,
    /// Shared, not copied, between attempts.
    pub body: Bytes,
    pub timeout: Duration,
    pub policy: RetryPolicy,
    /// The first attempt's log; later attempts are rows of their own.
    pub record: RequestLog,
    pub begin: Option<Begin>,
    pub first_id: uuid::Uuid,
    pub event_id: Option<String>,
    pub cache: Option<CachePlan>,
    pub leader: Option<FlightGuard>,
    /// Reserved before each attempt (docs/budgets.md).
    pub budget: Option<BudgetPlan>,
    pub reshape: Option<Box<dyn Reshape + 'a>>,
    /// What the request's DLP scan found, and the response's scan (docs/dlp.md).
    pub dlp: CallDlp,
    /// The call's guardrails, when the gateway has some: the response is classified before it
    /// is released (docs/guardrails.md).
    pub guard: Option<CallGuard>,
}

/// How a call ended.
pub enum Delivery {
    /// A response the caller accepted, streaming to the client with its log.
    Delivered(Response),
    /// Every attempt failed or was not accepted: the last answer (buffered), if any.
    Refused {
        answer: Option<Response>,
        failure: GatewayError,
    },
}

impl Attempts<'_> {
    /// Runs the attempts. `accept` decides, from a final attempt's status, whether its response
    /// goes to the client (the universal endpoint moves on to its next step instead).
    /// `dispatched` turns true once a begin record was written (the request may be billed).
    pub async fn run(
        mut self,
        accept: impl Fn(u16) -> bool,
        dispatched: &AtomicBool,
    ) -> Result<Delivery, GatewayError> {
        let mut last_answer: Option<Response> = None;
        // Parsed once for every attempt; the provider's URL was built from checked parts.
        let uri: Uri = self.url.parse().map_err(|_| {
            tracing::error!(provider = %self.provider.slug, "the upstream URL does not parse as a URI");
            GatewayError::new(ErrorCode::UpstreamFailed, "Provider URL is not valid")
        })?;
        let mut attempt: u8 = 1;
        loop {
            let id = if attempt == 1 {
                self.first_id
            } else {
                uuid::Uuid::now_v7()
            };
            let retries_left = attempt < self.policy.max_attempts;
            // The last attempt takes what the others copy (the begin record carries the body head).
            let (begin, headers) = if retries_left {
                (self.begin.clone(), self.headers.clone())
            } else {
                (self.begin.take(), std::mem::take(&mut self.headers))
            };
            let mut record = self.record.for_attempt(id, attempt);
            if let Some(budget) = &self.budget {
                let now_ms = self.state.clock().now_ms();
                let reservation = budget.reserve(self.state.budgets(), now_ms).await?;
                record.reservation = Some(Arc::new(reservation));
            }
            let begin = begin.map(|(mut begin, head)| {
                begin.id.clone_from(&record.id);
                (begin, head)
            });
            // The barrier: a request that may be billed upstream always leaves a trace.
            if let Err(refused) = write_begin(self.state, begin).await {
                record.release().await;
                return Err(refused);
            }
            dispatched.store(true, Ordering::Relaxed);
            let mut headers = headers;
            // The provider's spans become children of this attempt's (docs/observability.md).
            if let (Some(trace), Some(span)) = (&record.trace, &record.span) {
                headers.insert(
                    crate::otel::TRACEPARENT,
                    crate::otel::traceparent(trace.trace_id, span.span_id, true),
                );
            }
            let stored_key = crate::keys::used_in(self.state, self.provider, &headers);
            let mut request = UpstreamRequest::new(Full::new(self.body.clone()));
            *request.method_mut() = self.method.clone();
            request.uri_mut().clone_from(&uri);
            *request.headers_mut() = headers;
            let send = self.provider.client.send(request);
            let failure = match tokio::time::timeout(self.timeout, send).await {
                Ok(Ok(upstream)) => {
                    let status = upstream.status().as_u16();
                    crate::keys::answered(self.state, stored_key.as_ref(), status).await;
                    if retries_left && retryable_status(status) {
                        let wait = self
                            .policy
                            .delay_after(attempt, retry_after(upstream.headers()));
                        let answer = BufferedAnswer::read(upstream, self.timeout).await;
                        answer.finish_row(&record, "retried").await;
                        last_answer = Some(answer.into_response(id));
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    if !accept(status) {
                        let answer = BufferedAnswer::read(upstream, self.timeout).await;
                        answer
                            .finish_row(&record, "fell back to the next step")
                            .await;
                        let failure = GatewayError::new(
                            ErrorCode::UpstreamFailed,
                            "Provider answered with an error",
                        );
                        return Ok(Delivery::Refused {
                            answer: Some(answer.into_response(id)),
                            failure,
                        });
                    }
                    let mut response = self.respond(upstream, record).await;
                    set_log_id(&mut response, id);
                    return Ok(Delivery::Delivered(response));
                }
                Err(_elapsed) => AttemptFailure::timed_out(self.timeout, &self.url),
                Ok(Err(error)) => AttemptFailure::of_send(&error, &self.url, &self.provider.slug),
            };
            record
                .finish_without_response(
                    failure.error.code.status().as_u16(),
                    &failure.cause,
                    Some(failure.error.code),
                )
                .await;
            if retries_left {
                tokio::time::sleep(self.policy.delay_after(attempt, None)).await;
                attempt += 1;
                continue;
            }
            return Ok(Delivery::Refused {
                answer: last_answer,
                failure: failure.error,
            });
        }
    }

    async fn respond(&mut self, upstream: UpstreamResponse, record: RequestLog) -> Response {
        let status = upstream.status().as_u16();
        let mut response = Response::new(Body::empty());
        *response.status_mut() = upstream.status();
        *response.headers_mut() = client_response_headers(upstream.headers());
        let content_type = upstream
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let is_sse = content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let mut end = record.relayed_end(status, content_type.clone(), upstream.headers());
        let mut content_length = http_body::Body::size_hint(upstream.body()).exact();
        let mut report = std::mem::take(&mut self.dlp.request);
        let mut stream_scan = None;
        let mut body: BoxStream<'static, UpstreamChunk> =
            http_body_util::BodyDataStream::new(upstream.into_body()).boxed();
        // Guardrails on the response (docs/guardrails.md): a success read whole, a stream
        // included, and classified before anything of it is released.
        let mut guard = self.guard.take();
        if let Some(guard) = guard
            .as_mut()
            .filter(|guard| guard.checks_response() && (200..300).contains(&status))
        {
            let (whole, ending) = read_to_scan(&mut body, self.timeout).await;
            let checked = match ending {
                // Too large to read whole: relayed unclassified (docs/guardrails.md).
                ReadEnding::TooLarge(_) => Ok(()),
                _ => guard.screen_response(&whole, is_sse).await,
            };
            if let Err(refusal) = checked {
                record
                    .finish_blocked(&refusal, dlp::log_value(&report), true)
                    .await;
                self.cache.take();
                self.leader.take();
                return refusal.into_response();
            }
            let read = futures_util::stream::iter([Ok(whole)]);
            body = match ending {
                ReadEnding::Complete => read.boxed(),
                ReadEnding::Stalled => read.chain(body).boxed(),
                ReadEnding::Broken(error) => {
                    read.chain(futures_util::stream::iter([Err(error)])).boxed()
                }
                ReadEnding::TooLarge(next) => read
                    .chain(futures_util::stream::iter([next]))
                    .chain(body)
                    .boxed(),
            };
        }
        // The response's DLP scan (docs/dlp.md): a stream as it flows (relay.rs), any other
        // body read whole first, so a BLOCK can still replace it.
        if let Some(scan) = self.dlp.response.take() {
            if is_sse {
                stream_scan = Some(crate::dlp::StreamScan::new(scan, report.clone()));
            } else {
                let (whole, ending) = read_to_scan(&mut body, self.timeout).await;
                if let ReadEnding::TooLarge(next) = ending {
                    // Too large to scan: relayed as it is (docs/dlp.md).
                    body = futures_util::stream::iter([Ok(whole), next])
                        .chain(body)
                        .boxed();
                } else {
                    match dlp::screen_response(&scan, whole.clone(), &mut report) {
                        dlp::BodyVerdict::Block(refusal) => {
                            record
                                .finish_blocked(&refusal, dlp::log_value(&report), true)
                                .await;
                            // Dropping the fill's guard lets waiting requests make their own.
                            self.cache.take();
                            self.leader.take();
                            return refusal.into_response();
                        }
                        dlp::BodyVerdict::Send(sent) => {
                            if sent.len() != whole.len() {
                                content_length = None;
                                response.headers_mut().remove(header::CONTENT_LENGTH);
                            }
                            let sent = futures_util::stream::iter([Ok(sent)]);
                            body = match ending {
                                // The relay waits for the rest and cuts the stream on its own
                                // idle timeout; a break is passed on.
                                ReadEnding::Stalled => sent.chain(body).boxed(),
                                ReadEnding::Broken(error) => {
                                    sent.chain(futures_util::stream::iter([Err(error)])).boxed()
                                }
                                _ => sent.boxed(),
                            };
                        }
                    }
                }
            }
        }
        end.dlp = dlp::log_value(&report);
        let transform = self.reshape.as_ref().map(|reshape| {
            // The body's length changes; its type may too.
            let headers = response.headers_mut();
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::CONTENT_ENCODING);
            if let Some(content_type) = reshape.content_type(status) {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
            reshape.transform(status)
        });
        // What a replay sends is what this client gets.
        let fill = self.cache.take().map(|plan| CacheFill {
            storable: !plan.skip && caching::storable(status, response.headers(), 0),
            headers: caching::replayable_headers(response.headers()),
            key: plan.key,
            ttl_secs: plan.ttl_secs,
            leader: self.leader.take(),
        });
        if let Some(value) = self
            .event_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            response.headers_mut().insert(EVENT_ID, value);
        }
        if fill.is_some() {
            response
                .headers_mut()
                .insert(CACHE_STATUS, HeaderValue::from_static("MISS"));
        }
        // After the fill took its headers: a replay answers another request, whose own scan
        // sets the header.
        dlp::mark(&mut response, &report);
        if let Some(guard) = &guard {
            guard.mark(&mut response);
        }
        // Chunks go to the client as they arrive; if the upstream breaks off, so does the
        // client's stream (no synthesized end).
        let head = ResponseHead {
            end,
            status,
            content_type,
            content_length,
            idle_timeout: self.timeout,
        };
        *response.body_mut() =
            super::relay::relay(record, body, head, fill, transform, stream_scan).await;
        response
    }
}

/// How reading a body to scan it ended.
enum ReadEnding {
    Complete,
    /// The upstream went silent for the idle timeout.
    Stalled,
    Broken(hyper::Error),
    /// Over [`dlp::MAX_SCANNED_BODY`]: the chunk that went over (the rest is still unread).
    TooLarge(UpstreamChunk),
}

/// Reads a body to scan it whole, up to [`dlp::MAX_SCANNED_BODY`].
async fn read_to_scan(
    body: &mut BoxStream<'static, UpstreamChunk>,
    idle_timeout: Duration,
) -> (Bytes, ReadEnding) {
    let mut whole = Vec::new();
    let ending = loop {
        match tokio::time::timeout(idle_timeout, body.next()).await {
            Ok(Some(Ok(chunk))) if whole.len() + chunk.len() <= dlp::MAX_SCANNED_BODY => {
                whole.extend_from_slice(&chunk);
            }
            Ok(Some(Ok(chunk))) => break ReadEnding::TooLarge(Ok(chunk)),
            Ok(Some(Err(error))) => break ReadEnding::Broken(error),
            Ok(None) => break ReadEnding::Complete,
            Err(_elapsed) => break ReadEnding::Stalled,
        }
    };
    (Bytes::from(whole), ending)
}
