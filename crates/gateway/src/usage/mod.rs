//! Token usage (docs/analytics.md) and the model name, read from provider responses in the same pass that
//! forwards them, with bounded memory; plus the model a request names.
//!
//! The proxy hands every response chunk to a [`UsageExtractor`] as it forwards it, then calls
//! [`UsageExtractor::finish`]. The response's content type picks the transport (JSON buffered up
//! to [`MAX_JSON_BYTES`], Server-Sent Events, NDJSON, AWS event-stream); the provider's
//! [`UsageFormat`] picks which fields are read from each JSON value.
//!
//! [`sse`], [`lines`] and [`eventstream`] know nothing of usage: they are the general streaming
//! parsers the cache and the OpenAI-compatible translation reuse.

mod anthropic;
mod base64;
mod bedrock;
mod cohere;
mod count;
pub mod eventstream;
mod gemini;
pub mod lines;
mod openai;
mod reader;
mod request_model;
pub mod sse;
mod workers_ai;

#[cfg(test)]
mod tests;

pub use crate::providers::UsageFormat;
pub use request_model::request_model;

use eventstream::EventStreamDecoder;
use lines::LineSplitter;
use reader::Reader;
use sse::{MAX_EVENT_BYTES, SseParser};

/// The most of a non-streamed (JSON) body kept for parsing; past it the usage is given up.
pub const MAX_JSON_BYTES: usize = 8 << 20;

/// Token counts of one response, split the way prices are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens NOT counting cache reads/writes when the provider reports them separately
    /// (Anthropic), i.e. what is billed at the normal input price. For OpenAI, whose prompt_tokens
    /// include cached ones, this is prompt_tokens - cached_tokens.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's prompt cache (OpenAI prompt_tokens_details.cached_tokens,
    /// input_tokens_details.cached_tokens for Responses; Anthropic cache_read_input_tokens; Gemini cachedContentTokenCount;
    /// Bedrock cacheReadInputTokens).
    pub cache_read_tokens: u64,
    /// Anthropic cache_creation_input_tokens, Bedrock cacheWriteInputTokens (0 elsewhere).
    pub cache_write_tokens: u64,
}

impl Usage {
    /// All prompt-side tokens: input + cache read + cache write (what Cloudflare calls tokens_in).
    pub fn total_input(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

/// What a response revealed once it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// `None` when the response carried no usage, or could not be read (not parseable, over
    /// [`MAX_JSON_BYTES`], an unsupported content type).
    pub usage: Option<Usage>,
    /// The model the response reports (OpenAI `model`, Anthropic `message.model`, Gemini
    /// `modelVersion`), which can be more precise than the one requested.
    pub response_model: Option<String>,
    /// Why the model stopped, per generation in the order received (OpenAI `finish_reason`,
    /// Anthropic `stop_reason`, Gemini `finishReason`), at most [`MAX_FINISH_REASONS`].
    pub finish_reasons: Vec<String>,
}

/// Bounds on what a response can make the gateway keep of its finish reasons.
const MAX_FINISH_REASONS: usize = 16;
const MAX_FINISH_REASON_BYTES: usize = 64;

impl Extracted {
    /// Keeps a reason the provider gave (empty and null ones say nothing).
    fn offer_finish_reason(&mut self, reason: Option<String>) {
        let Some(mut reason) = reason.filter(|r| !r.is_empty()) else {
            return;
        };
        if self.finish_reasons.len() < MAX_FINISH_REASONS {
            if reason.len() > MAX_FINISH_REASON_BYTES {
                let mut end = MAX_FINISH_REASON_BYTES;
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                reason.truncate(end);
            }
            self.finish_reasons.push(reason);
        }
    }

    /// Streams repeat the model in every event, and some (Azure's content-filter preamble) send
    /// it empty first: the first non-empty one is kept.
    fn offer_model(&mut self, model: Option<String>) {
        if self.response_model.is_none() {
            self.response_model = model.filter(|m| !m.is_empty());
        }
    }

    /// For streams that repeat their usage: the last usage and the first model win.
    fn absorb(&mut self, later: Extracted) {
        if later.usage.is_some() {
            self.usage = later.usage;
        }
        self.offer_model(later.response_model);
        // Stream events give each generation's reason once, in the event that ends it.
        for reason in later.finish_reasons {
            self.offer_finish_reason(Some(reason));
        }
    }
}

/// Reads one response as it streams through. Feed it every chunk, cut anywhere.
#[derive(Debug)]
pub struct UsageExtractor {
    format: UsageFormat,
    transport: Transport,
    reader: Reader,
}

#[derive(Debug)]
enum Transport {
    Json { body: Vec<u8>, over_cap: bool },
    Sse(SseParser),
    Ndjson(LineSplitter),
    EventStream(EventStreamDecoder),
    Ignore,
}

impl UsageExtractor {
    /// `response_content_type` decides SSE (`text/event-stream`) vs JSON vs other; `format` is the provider's.
    pub fn new(format: UsageFormat, response_content_type: Option<&str>) -> UsageExtractor {
        let transport = match (format, media_type(response_content_type)) {
            (UsageFormat::None, _) => Transport::Ignore,
            (_, Media::Json) => Transport::Json {
                body: Vec::new(),
                over_cap: false,
            },
            (_, Media::Sse) => Transport::Sse(SseParser::new()),
            (_, Media::Ndjson) => Transport::Ndjson(LineSplitter::new(MAX_EVENT_BYTES)),
            (_, Media::EventStream) => {
                Transport::EventStream(EventStreamDecoder::new(MAX_EVENT_BYTES))
            }
            (_, Media::Other) => Transport::Ignore,
        };
        UsageExtractor {
            format,
            transport,
            reader: Reader::new(format),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        let reader = &mut self.reader;
        match &mut self.transport {
            Transport::Json { body, over_cap } if !*over_cap => {
                if body.len() + chunk.len() > MAX_JSON_BYTES {
                    // Never grow past the cap; the memory goes back at once.
                    *over_cap = true;
                    *body = Vec::new();
                } else {
                    body.extend_from_slice(chunk);
                }
            }
            Transport::Sse(parser) => {
                parser.push(chunk, |event| reader.event(event.data.as_bytes()))
            }
            Transport::Ndjson(lines) => lines.push(chunk, |line| reader.line(line)),
            Transport::EventStream(decoder) => decoder.push(chunk, |frame| {
                // Exceptions carry an error message, never usage.
                if frame.message_type.is_none_or(|t| t == "event") {
                    reader.event(frame.payload);
                }
            }),
            Transport::Json { .. } | Transport::Ignore => {}
        }
    }

    /// The usage and model found, once the response has ended.
    pub fn finish(self) -> Extracted {
        let mut reader = self.reader;
        match self.transport {
            Transport::Json { over_cap: true, .. } | Transport::Ignore => Extracted::default(),
            Transport::Json { body, .. } => {
                reader::body(self.format, &body).unwrap_or_else(|| mislabeled(reader, &body))
            }
            Transport::Sse(mut parser) => {
                parser.finish(|event| reader.event(event.data.as_bytes()));
                reader.finish()
            }
            Transport::Ndjson(mut lines) => {
                lines.finish(|line| reader.line(line));
                reader.finish()
            }
            Transport::EventStream(_) => reader.finish(),
        }
    }
}

/// A body labelled JSON that is not one JSON value is usually a stream under the wrong content
/// type (some proxies rewrite it): read it as SSE or NDJSON before giving up.
fn mislabeled(mut reader: Reader, body: &[u8]) -> Extracted {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |at| &body[at..]);
    if [&b"data:"[..], b"event:", b":"]
        .iter()
        .any(|p| start.starts_with(p))
    {
        let mut parser = SseParser::new();
        parser.push(body, |event| reader.event(event.data.as_bytes()));
        parser.finish(|event| reader.event(event.data.as_bytes()));
    } else {
        let mut lines = LineSplitter::new(MAX_EVENT_BYTES);
        lines.push(body, |line| reader.line(line));
        lines.finish(|line| reader.line(line));
    }
    reader.finish()
}

enum Media {
    Json,
    Sse,
    Ndjson,
    EventStream,
    Other,
}

fn media_type(content_type: Option<&str>) -> Media {
    // No content type at all: try JSON, the common case, rather than give up.
    let Some(content_type) = content_type else {
        return Media::Json;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/event-stream" => Media::Sse,
        "application/vnd.amazon.eventstream" => Media::EventStream,
        "application/x-ndjson"
        | "application/ndjson"
        | "application/stream+json"
        | "application/jsonl"
        | "application/x-jsonlines"
        | "application/jsonlines" => Media::Ndjson,
        "application/json" | "text/json" | "" => Media::Json,
        other if other.ends_with("+json") => Media::Json,
        _ => Media::Other,
    }
}
