//! Guardrails on an upstream call (docs/guardrails.md): the prompt classified before anything
//! is sent (a BLOCK refuses with 424/2016), the response read whole and classified before it
//! is released (424/2017), each classifier call one log row under the request's event id, and a
//! classifier that cannot answer refusing the call (503/7013) only when a BLOCK rule applies to
//! that side. The classifier is `[guardrails] provider`'s OpenAI-compatible chat completions.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Method, header};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::client::{UpstreamRequest, read_limited};
use super::context::RequestContext;
use super::failure::AttemptFailure;
use super::options::RequestOptions;
use super::plan::UpstreamCall;
use super::record::{RelayedBody, RequestLog, write_begin};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::guardrails::{
    Category, Direction, GuardAction, GuardrailSettings, Verdict, chunks, parse_answer,
    prompt_text, response_text,
};
use crate::logs::{LogBegin, RollupFacts};
use crate::state::AppState;

/// The response header saying what the guardrails found (Tollgate's; Cloudflare shows it in
/// its logs only).
pub const GUARDRAILS_HEADER: &str = "cf-aig-guardrails";
/// The most of a classifier's answer read (a verdict is a few bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The end of the prompt sent with each response chunk, as the user turn the assistant's is
/// judged against (Llama Guard classifies the last turn of a conversation).
const PROMPT_CONTEXT_BYTES: usize = 1024;
/// Classifier calls of one side in flight at once.
const PARALLEL_CALLS: usize = 4;

/// One call's guardrails: the gateway's rules and what a classifier call needs to be made and
/// logged.
pub struct CallGuard {
    state: AppState,
    gateway: Arc<Gateway>,
    settings: GuardrailSettings,
    event_id: String,
    stored: bool,
    keep_payload: bool,
    /// The client's own credential for the classifier's provider, when its call goes there.
    credentials: HeaderMap,
    /// The end of the prompt's text.
    prompt_context: String,
    /// What was found, per side, for [`GUARDRAILS_HEADER`].
    found: Map<String, Value>,
}

impl CallGuard {
    /// `None` when the gateway has no guardrail rules. `event_id` links the call's rows and
    /// its classifier calls' rows.
    pub fn for_call(
        ctx: &RequestContext<'_>,
        call: &UpstreamCall<'_>,
        options: &RequestOptions,
        event_id: &str,
    ) -> Option<CallGuard> {
        let settings = ctx.gateway.settings.guardrails.as_ref()?;
        if settings.rules(Direction::Prompt).is_none()
            && settings.rules(Direction::Response).is_none()
        {
            return None;
        }
        let classifier = &ctx.state.config().guardrails.provider;
        let mut credentials = HeaderMap::new();
        if call.provider.slug == *classifier {
            for name in &call.provider.credential_headers {
                if let Some(value) = call.upstream_headers.get(name) {
                    credentials.insert(name.clone(), value.clone());
                }
            }
        }
        let stored = options
            .collect_log
            .unwrap_or(ctx.gateway.settings.collect_logs);
        Some(CallGuard {
            state: ctx.state.clone(),
            gateway: ctx.gateway.clone(),
            settings: settings.clone(),
            event_id: event_id.to_owned(),
            stored,
            keep_payload: stored && options.collect_log_payload.unwrap_or(true),
            credentials,
            prompt_context: String::new(),
            found: Map::new(),
        })
    }

    /// Whether the gateway has guardrails at all (the event id is then always set).
    pub fn applies(ctx: &RequestContext<'_>) -> bool {
        ctx.gateway.settings.guardrails.as_ref().is_some_and(|s| {
            s.rules(Direction::Prompt).is_some() || s.rules(Direction::Response).is_some()
        })
    }

    /// Classifies the prompt. `Err` is the refusal: 424/2016, or 503/7013.
    pub async fn screen_prompt(&mut self, body: &[u8]) -> Result<(), GatewayError> {
        let text = prompt_text(body);
        self.prompt_context = tail(&text, PROMPT_CONTEXT_BYTES).to_owned();
        if self.settings.rules(Direction::Prompt).is_none() {
            return Ok(());
        }
        let config = &self.state.config().guardrails;
        let (pieces, left_over) = chunks(&text, config.chunk_bytes, config.max_chunks);
        let conversations = pieces
            .into_iter()
            .map(|piece| json!([{"role": "user", "content": piece}]))
            .collect();
        self.screen(Direction::Prompt, conversations, left_over)
            .await
    }

    /// Whether responses are classified.
    pub fn checks_response(&self) -> bool {
        self.settings.rules(Direction::Response).is_some()
    }

    /// Classifies a response read whole (a stream's events included). `Err` is the refusal:
    /// 424/2017, or 503/7013.
    pub async fn screen_response(&mut self, body: &[u8], is_sse: bool) -> Result<(), GatewayError> {
        let text = response_text(body, is_sse);
        let config = &self.state.config().guardrails;
        let (pieces, left_over) = chunks(&text, config.chunk_bytes, config.max_chunks);
        let user = match self.prompt_context.is_empty() {
            true => "(no text)",
            false => self.prompt_context.as_str(),
        };
        let conversations = pieces
            .into_iter()
            .map(|piece| {
                json!([{"role": "user", "content": user},
                    {"role": "assistant", "content": piece}])
            })
            .collect();
        self.screen(Direction::Response, conversations, left_over)
            .await
    }

    /// Sets [`GUARDRAILS_HEADER`] when anything was found or left unchecked.
    pub fn mark(&self, response: &mut Response) {
        if self.found.is_empty() {
            return;
        }
        if let Ok(value) = HeaderValue::from_str(&Value::Object(self.found.clone()).to_string()) {
            response.headers_mut().insert(GUARDRAILS_HEADER, value);
        }
    }

    async fn screen(
        &mut self,
        direction: Direction,
        conversations: Vec<Value>,
        left_over: bool,
    ) -> Result<(), GatewayError> {
        let total = conversations.len();
        let verdicts: Vec<Result<Verdict, String>> = futures_util::stream::iter(
            conversations
                .into_iter()
                .enumerate()
                .map(|(index, messages)| self.classify(direction, index + 1, total, messages)),
        )
        .buffered(PARALLEL_CALLS)
        .collect()
        .await;
        let mut named = BTreeSet::new();
        let mut failure = None;
        for verdict in verdicts {
            match verdict {
                Ok(verdict) => named.extend(verdict.categories),
                Err(why) => failure = Some(why),
            }
        }
        let rules = self.settings.rules(direction).cloned().unwrap_or_default();
        let acted: Vec<(Category, GuardAction)> = named
            .iter()
            .filter_map(|category| rules.get(category).map(|action| (*category, *action)))
            .collect();
        let action = acted.iter().map(|(_, action)| *action).max();
        let mut side = Map::new();
        if let Some(action) = action {
            side.insert("action".into(), json!(action.as_str()));
            side.insert(
                "categories".into(),
                json!(acted.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>()),
            );
        }
        if failure.is_some() {
            side.insert("unavailable".into(), json!(true));
        }
        if left_over {
            side.insert("truncated".into(), json!(true));
        }
        if !side.is_empty() {
            self.found
                .insert(direction.as_str().into(), Value::Object(side));
        }
        if action == Some(GuardAction::Block) {
            let categories: Vec<&str> = acted
                .iter()
                .filter(|(_, action)| *action == GuardAction::Block)
                .map(|(category, _)| category.as_str())
                .collect();
            return Err(self.refusal(blocked(direction, &categories)));
        }
        if let Some(why) = failure {
            if self.settings.blocks(direction) {
                return Err(self.refusal(unavailable(direction, &why)));
            }
            tracing::warn!(direction = direction.as_str(), %why,
                "a guardrail classifier call failed; flag-only rules let the call through");
        }
        Ok(())
    }

    /// A refusal with the header saying what was found.
    fn refusal(&self, error: GatewayError) -> GatewayError {
        error.with_header(GUARDRAILS_HEADER, Value::Object(self.found.clone()))
    }

    /// One classifier call and its log row. `Err` says why it gave no verdict.
    async fn classify(
        &self,
        direction: Direction,
        index: usize,
        total: usize,
        messages: Value,
    ) -> Result<Verdict, String> {
        let state = &self.state;
        let config = &state.config().guardrails;
        let Some(provider) = state.providers().get(&config.provider).cloned() else {
            return Err(format!("provider {} is not configured", config.provider));
        };
        let url = provider
            .compat_url(crate::compat::OPENAI_CHAT_PATH, None)
            .map_err(|error| error.message)?;
        let uri: http::Uri = url
            .parse()
            .map_err(|_| "the classifier's URL is not valid".to_owned())?;
        let body = Bytes::from(json!({"model": config.model, "messages": messages}).to_string());
        let mut headers = HeaderMap::new();
        let outgoing = crate::keys::Outgoing {
            method: &Method::POST,
            url: &url,
            body: &body,
        };
        let stored_key =
            crate::keys::apply_gateway_key(state, &self.gateway, &provider, outgoing, &mut headers)
                .await
                .map_err(|error| error.message)?;
        if stored_key.is_none() {
            headers.extend(self.credentials.clone());
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );

        let (record, begin) = self.row(&provider, direction, index, total, &body);
        write_begin(state, begin)
            .await
            .map_err(|error| error.message)?;
        let mut request = UpstreamRequest::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let upstream =
            match tokio::time::timeout(config.timeout, provider.client.send(request)).await {
                Ok(Ok(upstream)) => upstream,
                Ok(Err(error)) => {
                    let failure = AttemptFailure::of_send(&error, &url, &provider.slug);
                    return Err(no_answer(&record, failure).await);
                }
                Err(_elapsed) => {
                    let failure = AttemptFailure::timed_out(config.timeout, &url);
                    return Err(no_answer(&record, failure).await);
                }
            };
        let status = upstream.status().as_u16();
        let ttfb_ms = super::record::elapsed_ms(record.started);
        let content_type = upstream
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut end = record.relayed_end(status, content_type.clone(), upstream.headers());
        let answer =
            match tokio::time::timeout(config.timeout, read_limited(upstream, MAX_ANSWER_BYTES))
                .await
            {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(why)) => Err(format!("the classifier's answer could not be read: {why}")),
                Err(_elapsed) => Err("the classifier's answer timed out".to_owned()),
            };
        let body = answer.as_ref().cloned().unwrap_or_default();
        let verdict = answer.and_then(|answer| match status {
            200..=299 => verdict_of(&answer),
            _ => Err(format!("the classifier answered {status}")),
        });
        let mut usage = crate::usage::UsageExtractor::new(provider.usage, content_type.as_deref());
        usage.feed(&body);
        record.complete_relayed(
            &mut end,
            RelayedBody {
                size: body.len() as u64,
                ttfb_ms: Some(ttfb_ms),
                error: verdict.as_ref().err().map(String::as_str),
                extracted: usage.finish(),
            },
        );
        record.record(end, body.to_vec(), None).await;
        verdict
    }

    /// The classifier call's log (one row: begin and end) under the request's event id. Its
    /// metadata says which side and chunk it classified; its body, the verdict, is kept
    /// whenever the gateway keeps logs (the prompt it was sent only when payloads are kept).
    fn row(
        &self,
        provider: &crate::providers::Provider,
        direction: Direction,
        index: usize,
        total: usize,
        body: &Bytes,
    ) -> (RequestLog, Option<super::record::Begin>) {
        let state = &self.state;
        let model = state.config().guardrails.model.clone();
        let created_at = state.clock().now();
        let id = uuid::Uuid::now_v7().to_string();
        let record = RequestLog {
            state: state.clone(),
            id: id.clone(),
            facts: RollupFacts {
                created_at_ms: created_at.as_millisecond(),
                account_id: self.gateway.account_id.clone(),
                gateway_id: self.gateway.id.clone(),
                provider: provider.slug.clone(),
                model: model.clone(),
            },
            model: Some(model.clone()),
            custom_cost: None,
            stored: self.stored,
            keep_payload: self.stored,
            started: crate::clock::monotonic_now(),
            created_at,
            usage_format: provider.usage,
            attempt: 1,
            reservation: None,
            trace: None,
            span: None,
            step: None,
            dlp: None,
        };
        let begin = self.stored.then(|| {
            let limit = state.config().logs.body_max_bytes;
            let head = match self.keep_payload {
                true => body[..body.len().min(limit)].to_vec(),
                false => Vec::new(),
            };
            let metadata = json!({
                "guardrails": direction.as_str(),
                "chunk": format!("{index}/{total}"),
            });
            let begin = LogBegin {
                id,
                instance_id: state.logs().instance_id().to_owned(),
                account_id: self.gateway.account_id.clone(),
                gateway_id: self.gateway.id.clone(),
                created_at_ms: created_at.as_millisecond(),
                event_id: Some(self.event_id.clone()),
                provider: provider.slug.clone(),
                model: Some(model),
                path: crate::compat::OPENAI_CHAT_PATH.to_owned(),
                method: "POST".into(),
                metadata: Some(metadata.to_string()),
                step: None,
                request_content_type: Some("application/json".into()),
                request_size: crate::convert::saturating_i64_from_usize(body.len()),
                client_ip: None,
                user_agent: None,
                keep_payload: true,
                request_headers: Vec::new(),
                request_head_complete: self.keep_payload && body.len() <= limit,
                trace_id: None,
            };
            (begin, head)
        });
        (record, begin)
    }
}

/// Ends the row of a classifier call that got no answer; the reason, for the verdict.
async fn no_answer(record: &RequestLog, failure: AttemptFailure) -> String {
    record
        .finish_without_response(
            failure.error.code.status().as_u16(),
            &failure.cause,
            Some(failure.error.code),
        )
        .await;
    failure.error.message
}

/// The verdict in an OpenAI chat completion's first message.
fn verdict_of(answer: &[u8]) -> Result<Verdict, String> {
    let json: Value = serde_json::from_slice(answer)
        .map_err(|_| "the classifier's answer is not JSON".to_owned())?;
    let content = json["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| "the classifier's answer has no message content".to_owned())?;
    parse_answer(content)
}

/// 424, code 2016 or 2017, naming the categories (Cloudflare's words, with them).
fn blocked(direction: Direction, categories: &[&str]) -> GatewayError {
    let (code, side) = match direction {
        Direction::Prompt => (ErrorCode::GuardrailPromptBlocked, "Prompt"),
        Direction::Response => (ErrorCode::GuardrailResponseBlocked, "Response"),
    };
    GatewayError::new(
        code,
        format!(
            "{side} blocked due to security configurations (guardrails: {})",
            categories.join(", ")
        ),
    )
}

/// 503, code 7013: a BLOCK rule applies and the classifier gave no verdict.
fn unavailable(direction: Direction, why: &str) -> GatewayError {
    GatewayError::new(
        ErrorCode::GuardrailUnavailable,
        format!(
            "Guardrails scanner unavailable: the {} could not be classified ({why}) and a \
             BLOCK rule applies",
            direction.as_str()
        ),
    )
}

/// The last `bytes` of `text` at most, cut at a character boundary.
fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
