//! Streaming: provider SSE in (cut anywhere), OpenAI `chat.completion.chunk` SSE out, one
//! translated event per upstream event as soon as that event is complete.

mod anthropic;
mod gemini;
mod writer;

use bytes::Bytes;

use super::Dialect;
use super::openai::Usage;
use crate::usage::sse::SseParser;
use writer::Writer;

/// Translates one streamed response. Feed every upstream chunk to [`push`](Self::push) and
/// forward what it returns at once; call [`finish`](Self::finish) when the upstream body ended
/// cleanly. For a non-2xx upstream status use [`translate_response`](super::translate_response)
/// on the body instead, even when the request asked for a stream.
///
/// Output depends only on the constructor's arguments and the upstream bytes, never on how they
/// were cut into chunks.
#[derive(Debug)]
pub struct StreamTranslator {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// OpenAI-compatible providers already stream the client's format.
    Passthrough,
    Translate(Box<Translating>),
}

#[derive(Debug)]
struct Translating {
    parser: SseParser,
    handler: Handler,
    finished: bool,
}

#[derive(Debug)]
struct Handler {
    writer: Writer,
    state: State,
    progress: Progress,
}

#[derive(Debug)]
enum State {
    Anthropic(anthropic::State),
    Gemini(gemini::State),
}

/// How far the upstream stream got.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The provider's own end marker arrived (Anthropic `message_stop`; every Gemini candidate
    /// finished, or the prompt was blocked).
    pub(crate) ended: bool,
    /// The provider sent an error event: it was forwarded, and nothing more will be.
    pub(crate) failed: bool,
}

impl StreamTranslator {
    /// `model` is the bare model requested (used until the provider names its own); `id_seed`
    /// makes the id `chatcmpl-{id_seed}` when the provider gives none.
    pub fn new(
        dialect: Dialect,
        model: &str,
        include_usage: bool,
        id_seed: &str,
    ) -> StreamTranslator {
        let state = match dialect {
            Dialect::OpenAi => {
                return StreamTranslator {
                    inner: Inner::Passthrough,
                };
            }
            Dialect::Anthropic => State::Anthropic(anthropic::State::default()),
            Dialect::Gemini => State::Gemini(gemini::State::default()),
        };
        let writer = Writer::new(
            format!("chatcmpl-{id_seed}"),
            model.to_owned(),
            include_usage,
        );
        StreamTranslator {
            inner: Inner::Translate(Box::new(Translating {
                parser: SseParser::new(),
                handler: Handler {
                    writer,
                    state,
                    progress: Progress::default(),
                },
                finished: false,
            })),
        }
    }

    /// `created` for every chunk when the provider gives no time (Anthropic never does; the
    /// default is 0). Pass the gateway's clock here for real timestamps.
    pub fn with_created(mut self, created: u64) -> StreamTranslator {
        if let Inner::Translate(t) = &mut self.inner {
            t.handler.writer.set_created(created);
        }
        self
    }

    /// Feeds upstream bytes; returns the OpenAI SSE bytes they completed (may be empty).
    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        match &mut self.inner {
            Inner::Passthrough => Bytes::copy_from_slice(chunk),
            Inner::Translate(t) => {
                let Translating {
                    parser, handler, ..
                } = &mut **t;
                parser.push(chunk, |event| handler.event(event.data));
                handler.writer.take()
            }
        }
    }

    /// The upstream body ended. Emits the usage chunk (when asked for and reported) and
    /// `data: [DONE]` only if the provider's stream reached its proper end; a stream that broke
    /// off gets no synthesized end, so the client can tell. Later calls return nothing.
    pub fn finish(&mut self) -> Bytes {
        let Inner::Translate(t) = &mut self.inner else {
            return Bytes::new();
        };
        if std::mem::replace(&mut t.finished, true) {
            return Bytes::new();
        }
        let Translating {
            parser, handler, ..
        } = &mut **t;
        // An event whose blank line never came is still complete JSON, and read as such.
        parser.finish(|event| handler.event(event.data));
        if handler.progress.ended && !handler.progress.failed {
            if let Some(usage) = handler.usage().filter(|_| handler.writer.include_usage()) {
                handler.writer.usage(&usage);
            }
            handler.writer.done();
        }
        handler.writer.take()
    }
}

impl Handler {
    fn event(&mut self, data: &str) {
        if self.progress.failed {
            return;
        }
        match &mut self.state {
            State::Anthropic(state) => state.event(data, &mut self.writer, &mut self.progress),
            State::Gemini(state) => state.event(data, &mut self.writer, &mut self.progress),
        }
    }

    fn usage(&self) -> Option<Usage> {
        match &self.state {
            State::Anthropic(state) => state.usage(),
            State::Gemini(state) => state.usage(),
        }
    }
}
