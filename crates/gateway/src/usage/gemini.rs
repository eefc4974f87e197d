//! Gemini `usageMetadata`, in a body, in SSE events, or in the JSON array `streamGenerateContent`
//! returns without `alt=sse`. Vertex AI also serves Claude (Anthropic bodies) and an
//! OpenAI-compatible endpoint under the same provider, so those shapes are recognised too.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::count::{Count, or_zero};
use super::{Extracted, Usage, anthropic, openai};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    usage_metadata: Option<Metadata>,
    model_version: Option<String>,
    candidates: Option<Vec<Candidate>>,
}

/// Only why the candidate stopped: its content is skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    prompt_token_count: Option<Count>,
    candidates_token_count: Option<Count>,
    cached_content_token_count: Option<Count>,
    thoughts_token_count: Option<Count>,
    tool_use_prompt_token_count: Option<Count>,
}

impl Metadata {
    fn to_usage(&self) -> Option<Usage> {
        let counts = [
            self.prompt_token_count,
            self.candidates_token_count,
            self.cached_content_token_count,
            self.thoughts_token_count,
            self.tool_use_prompt_token_count,
        ];
        if counts.iter().all(Option::is_none) {
            return None;
        }
        let cached = or_zero(self.cached_content_token_count);
        // promptTokenCount includes the cached part; tool-use prompts are billed as input too.
        let input = or_zero(self.prompt_token_count)
            .saturating_sub(cached)
            .saturating_add(or_zero(self.tool_use_prompt_token_count));
        // Thinking tokens are billed as output but counted apart from the candidates.
        let output =
            or_zero(self.candidates_token_count).saturating_add(or_zero(self.thoughts_token_count));
        Some(Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: cached,
            cache_write_tokens: 0,
        })
    }
}

impl Body {
    fn into_extracted(self) -> Extracted {
        let mut found = Extracted::default();
        found.offer_model(self.model_version);
        found.usage = self.usage_metadata.as_ref().and_then(Metadata::to_usage);
        for candidate in self.candidates.into_iter().flatten() {
            found.offer_finish_reason(candidate.finish_reason);
        }
        found
    }
}

/// A `generateContent` body, or the JSON array of a `streamGenerateContent` without `alt=sse`
/// (the last element with usage wins), or a Claude / OpenAI-style body from Vertex.
pub fn body(json: &[u8]) -> Option<Extracted> {
    if json.trim_ascii_start().starts_with(b"[") {
        let items: Vec<Body> = serde_json::from_slice(json).ok()?;
        let mut found = Extracted::default();
        for item in items {
            found.absorb(item.into_extracted());
        }
        return Some(found);
    }
    let found = serde_json::from_slice::<Body>(json).ok()?.into_extracted();
    if found.usage.is_some() {
        return Some(found);
    }
    // Not Gemini's shape (or an error): try the other vendors Vertex serves.
    [anthropic::body, openai::body]
        .iter()
        .filter_map(|other| other(json))
        .find(|other| other.usage.is_some())
        .or(Some(found))
}

/// The fields that tell which vendor's stream this is.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "type")]
    kind: Option<IgnoredAny>,
    choices: Option<IgnoredAny>,
    object: Option<IgnoredAny>,
}

/// A Gemini stream, or a Claude / OpenAI-compatible stream from Vertex, told apart by the first
/// event that parses.
#[derive(Debug, Default)]
pub enum Stream {
    #[default]
    Unknown,
    Gemini(Extracted),
    Anthropic(anthropic::Stream),
    OpenAi(Extracted),
}

impl Stream {
    pub fn event(&mut self, data: &[u8]) {
        if let Stream::Unknown = self {
            let Ok(probe) = serde_json::from_slice::<Probe>(data) else {
                return;
            };
            *self = if probe.kind.is_some() {
                Stream::Anthropic(anthropic::Stream::default())
            } else if probe.choices.is_some() || probe.object.is_some() {
                Stream::OpenAi(Extracted::default())
            } else {
                Stream::Gemini(Extracted::default())
            };
        }
        match self {
            Stream::Unknown => {}
            Stream::Gemini(found) => {
                if let Ok(event) = serde_json::from_slice::<Body>(data) {
                    found.absorb(event.into_extracted());
                }
            }
            Stream::Anthropic(stream) => stream.event(data),
            Stream::OpenAi(found) => {
                if let Some(event) = openai::body(data) {
                    found.absorb(event);
                }
            }
        }
    }

    pub fn finish(self) -> Extracted {
        match self {
            Stream::Unknown => Extracted::default(),
            Stream::Gemini(found) | Stream::OpenAi(found) => found,
            Stream::Anthropic(stream) => stream.finish(),
        }
    }
}
