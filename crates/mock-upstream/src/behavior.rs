//! How the mock misbehaves for one request: queued [`Behavior`]s or `x-mock-*` request headers.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use axum::http::HeaderMap;
use bytes::Bytes;
use tokio::sync::Notify;

/// What to do with one request instead of (or on top of) the normal reply.
#[derive(Clone, Debug, Default)]
pub struct Behavior {
    /// Respond with this status instead of the normal reply. Body = `body` if set, else an
    /// OpenAI-style error JSON `{"error":{"message":"mock error","type":"mock_error","code":STATUS}}`.
    pub status: Option<u16>,
    /// Respond with this body instead of the normal reply (status 200 unless `status` is set).
    pub body: Option<Bytes>,
    /// Extra response headers (e.g. ("retry-after","1")); they replace a header of the same name.
    pub headers: Vec<(String, String)>,
    /// Wait this long before sending response headers.
    pub delay_before_headers: Duration,
    /// Wait between SSE chunks when streaming.
    pub chunk_delay: Duration,
    /// Streaming: after sending this many chunks (SSE events), abort the connection. The stream
    /// never ends cleanly when set, even if it has fewer events.
    pub reset_after_chunks: Option<usize>,
    /// Streaming: after this many chunks end the body cleanly, without the terminal event
    /// (`[DONE]`, `message_stop`, `response.completed`, Gemini's final chunk).
    pub end_after_chunks: Option<usize>,
    /// Streaming: after the first chunk, wait until this Notify is notified before sending the rest.
    /// A `notify_one` sent before the wait starts is not lost.
    pub pause_after_first_chunk: Option<Arc<Notify>>,
    /// Never send response headers (until the connection is dropped by the client).
    pub hang: bool,
    /// Streaming: send this many filler events of about this many bytes each (then `[DONE]`)
    /// instead of the normal reply; for backpressure and large-stream tests.
    pub filler_events: Option<(usize, usize)>,
    /// Streaming: counts the events handed to the connection so far (one ahead of what the
    /// socket took, at most), so a test can see whether the mock is being held back.
    pub sent_events: Option<Arc<AtomicUsize>>,
}

impl Behavior {
    pub fn status(status: u16) -> Behavior {
        Behavior {
            status: Some(status),
            ..Behavior::default()
        }
    }

    pub fn delay(delay: Duration) -> Behavior {
        Behavior {
            delay_before_headers: delay,
            ..Behavior::default()
        }
    }

    pub fn reset_after(chunks: usize) -> Behavior {
        Behavior {
            reset_after_chunks: Some(chunks),
            ..Behavior::default()
        }
    }

    pub fn end_after(chunks: usize) -> Behavior {
        Behavior {
            end_after_chunks: Some(chunks),
            ..Behavior::default()
        }
    }

    pub fn pause_after_first_chunk(notify: Arc<Notify>) -> Behavior {
        Behavior {
            pause_after_first_chunk: Some(notify),
            ..Behavior::default()
        }
    }

    pub fn hang() -> Behavior {
        Behavior {
            hang: true,
            ..Behavior::default()
        }
    }

    /// A stream of `events` filler events of `bytes` each, then `[DONE]` (OpenAI shape).
    pub fn filler_stream(events: usize, bytes: usize) -> Behavior {
        Behavior {
            filler_events: Some((events, bytes)),
            ..Behavior::default()
        }
    }

    /// Counts, into `counter`, the events this stream handed to the connection.
    pub fn counting_into(mut self, counter: Arc<AtomicUsize>) -> Behavior {
        self.sent_events = Some(counter);
        self
    }

    /// A chat completion answering `content`: a guardrail classifier's answer (`"unsafe\nS1"`,
    /// or one that is not Llama Guard's). A model named like Llama Guard answers as it
    /// without this (`UNSAFE-S1` in the text classified; see the crate's `openai` module).
    pub fn chat_answer(content: &str) -> Behavior {
        let body = crate::openai::chat_answer_body("llama-guard", content);
        Behavior::default().with_body(body.to_string())
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Behavior {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Behavior {
        self.body = Some(body.into());
        self
    }

    pub fn with_chunk_delay(mut self, delay: Duration) -> Behavior {
        self.chunk_delay = delay;
        self
    }

    /// Lets clients that only control request headers (through the gateway, Python SDKs) steer
    /// the mock. Unparsable values are ignored rather than rejected: the mock must not fail
    /// a request the gateway forwarded correctly.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Behavior {
        let ms = |name| header_u64(headers, name).map(Duration::from_millis);
        let count = |name| header_u64(headers, name).and_then(|n| usize::try_from(n).ok());
        Behavior {
            status: header_u64(headers, "x-mock-status").and_then(|s| u16::try_from(s).ok()),
            delay_before_headers: ms("x-mock-delay-ms").unwrap_or_default(),
            chunk_delay: ms("x-mock-chunk-delay-ms").unwrap_or_default(),
            reset_after_chunks: count("x-mock-reset-after"),
            end_after_chunks: count("x-mock-end-after"),
            hang: header_u64(headers, "x-mock-hang").is_some_and(|v| v != 0),
            ..Behavior::default()
        }
    }
}

pub(crate) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}
