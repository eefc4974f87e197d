//! Routes each JSON value of a response (a whole body, an SSE event's data, an NDJSON line, an
//! event-stream payload) to the reader of the provider's usage format.

use super::lines::Line;
use super::{Extracted, UsageFormat, anthropic, bedrock, cohere, gemini, openai, workers_ai};

/// Reads a whole JSON body. `None` when it is not JSON this format understands at all.
pub fn body(format: UsageFormat, json: &[u8]) -> Option<Extracted> {
    match format {
        UsageFormat::OpenAi => openai::body(json),
        UsageFormat::Anthropic => anthropic::body(json),
        UsageFormat::Gemini => gemini::body(json),
        UsageFormat::Bedrock => bedrock::body(json),
        UsageFormat::Cohere => cohere::body(json),
        UsageFormat::WorkersAi => workers_ai::body(json),
        UsageFormat::None => None,
    }
}

/// The state of one streamed response.
#[derive(Debug)]
pub enum Reader {
    /// Formats whose every event is a self-contained body.
    LastWins {
        body: fn(&[u8]) -> Option<Extracted>,
        found: Extracted,
    },
    Anthropic(anthropic::Stream),
    Gemini(gemini::Stream),
    Bedrock(bedrock::Stream),
    Nothing,
}

impl Reader {
    pub fn new(format: UsageFormat) -> Reader {
        let last_wins = |body| Reader::LastWins {
            body,
            found: Extracted::default(),
        };
        match format {
            UsageFormat::OpenAi => last_wins(openai::body),
            UsageFormat::Cohere => last_wins(cohere::body),
            UsageFormat::WorkersAi => last_wins(workers_ai::body),
            UsageFormat::Anthropic => Reader::Anthropic(anthropic::Stream::default()),
            UsageFormat::Gemini => Reader::Gemini(gemini::Stream::default()),
            UsageFormat::Bedrock => Reader::Bedrock(bedrock::Stream::default()),
            UsageFormat::None => Reader::Nothing,
        }
    }

    pub fn event(&mut self, data: &[u8]) {
        // OpenAI's end marker, and the keep-alive blank lines of NDJSON: nothing to parse.
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return;
        }
        match self {
            Reader::LastWins { body, found } => {
                if let Some(event) = body(data) {
                    found.absorb(event);
                }
            }
            Reader::Anthropic(stream) => stream.event(data),
            Reader::Gemini(stream) => stream.event(data),
            Reader::Bedrock(stream) => stream.event(data),
            Reader::Nothing => {}
        }
    }

    pub fn line(&mut self, line: Line<'_>) {
        if let Line::Text(text) = line {
            self.event(text);
        }
    }

    pub fn finish(self) -> Extracted {
        match self {
            Reader::LastWins { found, .. } => found,
            Reader::Anthropic(stream) => stream.finish(),
            Reader::Gemini(stream) => stream.finish(),
            Reader::Bedrock(stream) => stream.finish(),
            Reader::Nothing => Extracted::default(),
        }
    }
}
