//! Sending the upstream's response body to the client while the request log watches it: usage
//! is read as chunks pass, the body head is captured (bounded), and the end record is made
//! durable before the last byte goes out (SPEC §15).
//!
//! A task owns the upstream stream and hands chunks to the client's body through a channel of
//! one. Owning the stream is what guarantees an end record on every path: completion, an
//! upstream break, and a client that leaves (noticed even while the upstream is silent).

use std::io;
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::options::CustomCost;
use crate::logs::{LogEnd, LogPipeline};
use crate::pricing::{PriceTable, TokenCounts, custom_cost};
use crate::state::AppState;
use crate::usage::{UsageExtractor, UsageFormat};

/// Markers of a stream's last event: the end record must be durable before they are sent.
const TERMINAL_MARKERS: [&[u8]; 3] = [
    b"data: [DONE]",
    b"event: message_stop",
    b"\"type\":\"response.completed\"",
];

/// One logged request, from its begin record to its end record.
pub struct RequestLog {
    pub state: AppState,
    pub pipeline: LogPipeline,
    pub id: String,
    pub provider: String,
    pub model: Option<String>,
    pub custom_cost: Option<CustomCost>,
    pub keep_payload: bool,
    pub started: Instant,
    pub created_at: jiff::Timestamp,
    pub usage_format: UsageFormat,
}

impl RequestLog {
    /// The end record of a request that got no response (timeout, unreachable provider).
    pub async fn finish_without_response(&self, status: u16, error: &str) {
        let end = LogEnd {
            id: self.id.clone(),
            status_code: Some(status),
            success: false,
            duration_ms: elapsed_ms(self.started),
            attempts: 1,
            error: Some(error.to_owned()),
            ..LogEnd::default()
        };
        if let Err(spool_error) = self.pipeline.end(end, Vec::new()).await {
            tracing::error!(%spool_error, "could not record the end of a request");
        }
    }

    /// The client's body: the upstream's bytes, unchanged, with the log finished on the way.
    pub fn relay<S>(
        self,
        upstream: S,
        status: u16,
        content_type: Option<String>,
        content_length: Option<u64>,
        response_headers: Vec<(String, String)>,
    ) -> Body
    where
        S: Stream<Item = reqwest::Result<Bytes>> + Send + Unpin + 'static,
    {
        let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(1);
        let is_sse = content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let watcher = Watcher {
            extractor: UsageExtractor::new(self.usage_format, content_type.as_deref()),
            head: Vec::new(),
            head_cap: self.state.config().logs.body_max_bytes,
            size: 0,
            ttfb_ms: None,
            end: LogEnd {
                id: self.id.clone(),
                status_code: Some(status),
                success: status < 400,
                attempts: 1,
                response_content_type: content_type,
                response_headers: if self.keep_payload {
                    response_headers
                } else {
                    Vec::new()
                },
                ..LogEnd::default()
            },
            log: self,
        };
        tokio::spawn(drive(upstream, sender, watcher, content_length, is_sse));
        Body::from_stream(futures_util::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
        ))
    }
}

struct Watcher {
    log: RequestLog,
    extractor: UsageExtractor,
    head: Vec<u8>,
    head_cap: usize,
    size: u64,
    ttfb_ms: Option<i64>,
    end: LogEnd,
}

async fn drive<S>(
    mut upstream: S,
    client: mpsc::Sender<Result<Bytes, io::Error>>,
    mut watcher: Watcher,
    content_length: Option<u64>,
    is_sse: bool,
) where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    let mut finished = false;
    loop {
        let next = tokio::select! {
            biased;
            () = client.closed() => {
                watcher.finish_detached("client disconnected");
                return;
            }
            next = upstream.next() => next,
        };
        match next {
            Some(Ok(chunk)) => {
                watcher.observe(&chunk);
                let last = content_length.is_some_and(|length| watcher.size >= length)
                    || (is_sse
                        && TERMINAL_MARKERS
                            .iter()
                            .any(|m| memchr::memmem::find(&chunk, m).is_some()));
                if last && !finished {
                    finished = true;
                    watcher.finish(None).await;
                }
                if client.send(Ok(chunk)).await.is_err() {
                    if !finished {
                        watcher.finish_detached("client disconnected");
                    }
                    return;
                }
            }
            Some(Err(error)) => {
                tracing::warn!(error = %error.without_url(), "upstream response broke off");
                if !finished {
                    watcher.finish(Some("upstream stream broken")).await;
                }
                // The client's stream breaks too: no synthesized end.
                let _ = client
                    .send(Err(io::Error::other("upstream stream broken")))
                    .await;
                return;
            }
            None => {
                if !finished {
                    watcher.finish(None).await;
                }
                return;
            }
        }
    }
}

impl Watcher {
    fn observe(&mut self, chunk: &Bytes) {
        if self.ttfb_ms.is_none() {
            self.ttfb_ms = Some(elapsed_ms(self.log.started));
        }
        self.size += chunk.len() as u64;
        self.extractor.feed(chunk);
        if self.log.keep_payload && self.head.len() < self.head_cap {
            let room = self.head_cap - self.head.len();
            self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    fn take_end(&mut self, error: Option<&str>) -> (LogEnd, Vec<u8>) {
        let mut end = std::mem::take(&mut self.end);
        end.duration_ms = elapsed_ms(self.log.started);
        end.ttfb_ms = self.ttfb_ms;
        end.response_size = self.size as i64;
        end.response_head_complete = self.size <= self.head_cap as u64;
        if let Some(error) = error {
            end.success = false;
            end.error = Some(error.to_owned());
        }
        let extractor = std::mem::replace(
            &mut self.extractor,
            UsageExtractor::new(UsageFormat::None, None),
        );
        let extracted = extractor.finish();
        if let Some(usage) = extracted.usage {
            end.tokens_in = Some(usage.total_input() as i64);
            end.tokens_out = Some(usage.output_tokens as i64);
            end.cache_read_tokens = Some(usage.cache_read_tokens as i64);
            end.cache_write_tokens = Some(usage.cache_write_tokens as i64);
            let tokens = TokenCounts {
                input: usage.input_tokens,
                output: usage.output_tokens,
                cache_read: usage.cache_read_tokens,
                cache_write: usage.cache_write_tokens,
            };
            let model = self
                .log
                .model
                .as_deref()
                .or(extracted.response_model.as_deref());
            (end.cost, end.custom_cost) = cost(self.log.state.prices(), &self.log, model, &tokens);
        } else if let Some(total) = self.log.custom_cost.and_then(|c| c.total_cost) {
            // A total needs no token counts.
            (end.cost, end.custom_cost) = (Some(total), true);
        }
        (end, std::mem::take(&mut self.head))
    }

    async fn finish(&mut self, error: Option<&str>) {
        let (end, head) = self.take_end(error);
        if let Err(spool_error) = self.log.pipeline.end(end, head).await {
            tracing::error!(%spool_error, "could not record the end of a request");
        }
    }

    fn finish_detached(&mut self, error: &str) {
        let (end, head) = self.take_end(Some(error));
        self.log.pipeline.end_detached(end, head);
    }
}

fn cost(
    prices: &PriceTable,
    log: &RequestLog,
    model: Option<&str>,
    tokens: &TokenCounts,
) -> (Option<f64>, bool) {
    if let Some(custom) = &log.custom_cost {
        return (Some(custom_cost(custom, tokens)), true);
    }
    let cost = model.and_then(|model| prices.cost(&log.provider, model, tokens, log.created_at));
    (cost, false)
}

fn elapsed_ms(since: Instant) -> i64 {
    since.elapsed().as_millis() as i64
}
