//! Sending a request upstream: the begin record before each attempt, retries with backoff,
//! the first-byte timeout, and handing the accepted response to the relay (docs/resilience.md, docs/logs.md).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};

use super::answer::BufferedAnswer;
use super::caching::{self, CACHE_STATUS, CachePlan, Lookup, look_up};
use super::failure::AttemptFailure;
use super::handler::Seen;
use super::headers::client_response_headers;
use super::options::RequestOptions;
use super::redact;
use super::relay::{BodyTransform, CacheFill, RequestLog, ResponseHead};
use super::retry::{RetryPolicy, retry_after, retryable_status};
use crate::cache::FlightGuard;
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::logs::{LogBegin, RollupFacts};
use crate::providers::Provider;
use crate::state::AppState;

pub const LOG_ID: &str = "cf-aig-log-id";
const EVENT_ID: &str = "cf-aig-event-id";

/// What the logging of one request to one provider is built from.
pub struct Logging<'a> {
    pub state: &'a AppState,
    pub gateway: &'a Gateway,
    pub provider: &'a Provider,
    pub options: &'a RequestOptions,
    pub log_id: uuid::Uuid,
    pub started: Instant,
    pub created_at: jiff::Timestamp,
    pub method: &'a Method,
    pub provider_path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    pub client: Option<IpAddr>,
    /// The universal endpoint's step index.
    pub step: Option<i64>,
    pub event_id: Option<String>,
}

/// The request's log context for its first attempt, and its begin record when it is logged.
pub fn logging(l: &Logging<'_>) -> (RequestLog, Option<(LogBegin, Vec<u8>)>) {
    let stored = l
        .options
        .collect_log
        .unwrap_or(l.gateway.settings.collect_logs);
    let keep_payload = stored && l.options.collect_log_payload.unwrap_or(true);
    let model = crate::usage::request_model(l.provider.usage, l.provider_path, l.body);
    let record = RequestLog {
        state: l.state.clone(),
        id: l.log_id.to_string(),
        facts: RollupFacts {
            created_at_ms: l.created_at.as_millisecond(),
            account_id: l.gateway.account_id.clone(),
            gateway_id: l.gateway.id.clone(),
            provider: l.provider.slug.clone(),
            model: model.clone().unwrap_or_default(),
        },
        model: model.clone(),
        custom_cost: l.options.custom_cost,
        stored,
        keep_payload,
        started: l.started,
        created_at: l.created_at,
        usage_format: l.provider.usage,
        attempt: 1,
    };
    let begin = stored.then(|| {
        let limit = l.state.config().logs.body_max_bytes;
        let begin = LogBegin {
            id: l.log_id.to_string(),
            instance_id: l.state.logs().instance_id().to_owned(),
            account_id: l.gateway.account_id.clone(),
            gateway_id: l.gateway.id.clone(),
            created_at_ms: l.created_at.as_millisecond(),
            event_id: l.event_id.clone(),
            provider: l.provider.slug.clone(),
            model,
            path: redact::path_and_query(l.provider_path, l.query),
            method: l.method.to_string(),
            metadata: l.options.metadata.as_ref().map(|entries| {
                serde_json::Value::Object(entries.iter().cloned().collect()).to_string()
            }),
            step: l.step,
            request_content_type: header_text(l.headers, header::CONTENT_TYPE),
            request_size: l.body.len() as i64,
            client_ip: l.client.map(|ip| ip.to_string()),
            user_agent: header_text(l.headers, header::USER_AGENT),
            keep_payload,
            request_headers: if keep_payload {
                redact::headers(l.headers, l.state.providers().all_credential_headers())
            } else {
                Vec::new()
            },
            request_head_complete: l.body.len() <= limit,
        };
        let head = if keep_payload {
            l.body[..l.body.len().min(limit)].to_vec()
        } else {
            Vec::new()
        };
        (begin, head)
    });
    (record, begin)
}

/// One request to one provider, as the native and the compat routes send it.
pub struct Outbound<'a> {
    pub state: &'a AppState,
    pub gateway: &'a Gateway,
    pub provider: &'a Provider,
    pub options: &'a RequestOptions,
    pub log_id: uuid::Uuid,
    pub client: Option<IpAddr>,
    pub method: Method,
    pub url: String,
    /// The provider path (no leading `/`) and query, as logged and as part of the cache key.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The headers the log keeps (credentials are redacted there).
    pub logged_headers: &'a HeaderMap,
    /// The headers sent upstream, already filtered.
    pub upstream_headers: HeaderMap,
    pub body: Bytes,
    pub reshape: Option<Box<dyn Reshape + 'a>>,
}

/// Logs, consults the cache, then calls the provider with retries; the client gets the first
/// answer it may have (the last attempt's, whatever its status).
pub async fn send(out: Outbound<'_>, seen: &mut Seen) -> Result<Response, GatewayError> {
    let state = out.state;
    let policy = RetryPolicy::new(&out.gateway.settings, out.options);
    // The rows of a request that may be retried share an event id, the client's or the first
    // attempt's log id, so its attempts can be found together (docs/logs.md).
    let event_id = out
        .options
        .event_id
        .clone()
        .or_else(|| (policy.max_attempts > 1).then(|| out.log_id.to_string()));
    let (record, begin) = logging(&Logging {
        state,
        gateway: out.gateway,
        provider: out.provider,
        options: out.options,
        log_id: out.log_id,
        started: seen.started,
        created_at: seen.created_at,
        method: &out.method,
        provider_path: out.path,
        query: out.query,
        headers: out.logged_headers,
        body: &out.body,
        client: out.client,
        step: None,
        event_id: event_id.clone(),
    });
    // The raw query: a key in it (Gemini's `?key=`) must keep entries apart, and the cache key
    // is a hash, so nothing secret is stored.
    let path_and_query = match out.query {
        Some(query) => format!("{}?{query}", out.path),
        None => out.path.to_owned(),
    };
    let cache = CachePlan::for_request(
        out.gateway,
        out.provider,
        out.options,
        out.method.as_str(),
        &path_and_query,
        out.logged_headers,
        &out.body,
    );
    let leader = match look_up(state.cache(), cache.as_ref()).await {
        Lookup::Answered(cached) => {
            write_begin(state, begin).await?;
            seen.dispatched = true;
            let event_id = out.options.event_id.as_deref();
            return Ok(record.answer_from_cache(&cached, event_id).await);
        }
        Lookup::Miss(leader) => leader,
    };
    let dispatch = Dispatch {
        state,
        provider: out.provider,
        method: out.method,
        url: out.url,
        headers: out.upstream_headers,
        body: out.body,
        timeout: attempt_timeout(state, out.gateway, out.options),
        policy,
        record,
        begin,
        first_id: out.log_id,
        event_id,
        cache,
        leader,
        reshape: out.reshape,
    };
    match dispatch.run(|_| true, &mut seen.dispatched).await? {
        Delivery::Delivered(response) => Ok(response),
        Delivery::Refused {
            answer: Some(answer),
            ..
        } => Ok(answer),
        Delivery::Refused { failure, .. } => Err(failure),
    }
}

/// The wait for each attempt's first byte: the request's header, the gateway's setting, or
/// the server default.
pub fn attempt_timeout(state: &AppState, gateway: &Gateway, options: &RequestOptions) -> Duration {
    options
        .request_timeout
        .or(gateway
            .settings
            .request_timeout_ms
            .map(Duration::from_millis))
        .unwrap_or(state.config().server.upstream_timeout)
}

/// One upstream call with its retries.
pub struct Dispatch<'a> {
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
    pub record: RequestLog,
    pub begin: Option<(LogBegin, Vec<u8>)>,
    pub first_id: uuid::Uuid,
    pub event_id: Option<String>,
    pub cache: Option<CachePlan>,
    pub leader: Option<FlightGuard>,
    /// Rewrites the accepted response for the client (the OpenAI-compatible endpoint).
    pub reshape: Option<Box<dyn Reshape + 'a>>,
}

/// Chooses, from the accepted response's status, how its body is rewritten for the client.
pub trait Reshape: Send + Sync {
    fn transform(&self, status: u16) -> Box<dyn BodyTransform>;
    /// The content type of the rewritten body.
    fn content_type(&self, status: u16) -> &'static str;
}

/// How a dispatch ended.
pub enum Delivery {
    /// A response the caller accepted, streaming to the client with its log.
    Delivered(Response),
    /// Every attempt failed or was not accepted: the last answer (buffered), if any.
    Refused {
        answer: Option<Response>,
        failure: GatewayError,
    },
}

impl Dispatch<'_> {
    /// Runs the attempts. `accept` decides, from a final attempt's status, whether its response
    /// goes to the client (the universal endpoint moves on to its next step instead).
    /// `dispatched` turns true once a begin record was written (the request may be billed).
    pub async fn run(
        mut self,
        accept: impl Fn(u16) -> bool,
        dispatched: &mut bool,
    ) -> Result<Delivery, GatewayError> {
        let mut last_answer: Option<Response> = None;
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
            let record = RequestLog {
                id: id.to_string(),
                attempt: i64::from(attempt),
                ..self.record.clone()
            };
            // The barrier: a request that may be billed upstream always leaves a trace.
            let begin = begin.map(|(begin, head)| {
                (
                    LogBegin {
                        id: id.to_string(),
                        ..begin
                    },
                    head,
                )
            });
            write_begin(self.state, begin).await?;
            *dispatched = true;
            let stored_key = crate::keys::used_in(self.state, self.provider, &headers);
            let send = self
                .provider
                .client
                .request(self.method.clone(), &self.url)
                .headers(headers)
                .body(self.body.clone())
                .send();
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
                Ok(Err(error)) => AttemptFailure::of_send(&error, &self.provider.slug),
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

    async fn respond(&mut self, upstream: reqwest::Response, record: RequestLog) -> Response {
        let status = upstream.status().as_u16();
        let mut response = Response::new(Body::empty());
        *response.status_mut() = upstream.status();
        *response.headers_mut() = client_response_headers(upstream.headers());
        let transform = self.reshape.as_ref().map(|reshape| {
            // The body's length changes; its type may too.
            let headers = response.headers_mut();
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::CONTENT_ENCODING);
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(reshape.content_type(status)),
            );
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
        let content_type = header_text(upstream.headers(), header::CONTENT_TYPE);
        let content_length = upstream.content_length();
        let headers = if record.keep_payload {
            redact::headers(
                upstream.headers(),
                self.state.providers().all_credential_headers(),
            )
        } else {
            Vec::new()
        };
        // Chunks go to the client as they arrive; if the upstream breaks off, so does the
        // client's stream (no synthesized end).
        let head = ResponseHead {
            status,
            content_type,
            content_length,
            headers,
            idle_timeout: self.timeout,
        };
        *response.body_mut() = record
            .relay(upstream.bytes_stream(), head, fill, transform)
            .await;
        response
    }
}

/// Writes a begin record and waits until it is durable; a spool that cannot take it refuses
/// the request (503) rather than let it run unlogged.
pub async fn write_begin(
    state: &AppState,
    begin: Option<(LogBegin, Vec<u8>)>,
) -> Result<(), GatewayError> {
    let Some((begin, head)) = begin else {
        return Ok(());
    };
    state.logs().begin(begin, head).await.map_err(|error| {
        tracing::error!(%error, "request refused: its log record could not be written");
        GatewayError::log_unavailable()
    })
}

pub fn set_log_id(response: &mut Response, id: uuid::Uuid) {
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(LOG_ID, value);
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
