//! OpenAI-style usage: chat completions, the Responses API, embeddings, their stream chunks, and
//! the OpenAI-compatible providers (Groq's `x_groq`, DeepSeek's cache counters).

use serde::Deserialize;

use super::count::{Count, or_zero};
use super::{Extracted, Usage};

/// A body, a chat stream chunk or a Responses stream event: each names its usage in one of
/// these places, and every other field is skipped unread.
#[derive(Deserialize)]
struct Body {
    model: Option<String>,
    usage: Option<OpenAiUsage>,
    /// Responses API stream events (`response.completed` and friends) wrap the response.
    response: Option<Inner>,
    /// Groq reports a stream's usage here, in the last chunk.
    x_groq: Option<Inner>,
    choices: Option<Vec<Choice>>,
}

/// Only why the generation stopped: the message or delta is skipped unread.
#[derive(Deserialize)]
struct Choice {
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Inner {
    model: Option<String>,
    usage: Option<OpenAiUsage>,
}

/// `usage` in chat completions (`prompt_tokens`) and Responses (`input_tokens`) spelling.
#[derive(Deserialize)]
pub struct OpenAiUsage {
    prompt_tokens: Option<Count>,
    completion_tokens: Option<Count>,
    input_tokens: Option<Count>,
    output_tokens: Option<Count>,
    prompt_tokens_details: Option<Details>,
    input_tokens_details: Option<Details>,
    /// DeepSeek reports its cache hits here instead of in the details.
    prompt_cache_hit_tokens: Option<Count>,
}

#[derive(Deserialize)]
struct Details {
    cached_tokens: Option<Count>,
}

impl OpenAiUsage {
    /// `None` when no count is present at all (a `usage: {}` placeholder).
    pub fn to_usage(&self) -> Option<Usage> {
        let prompt = self.prompt_tokens.or(self.input_tokens);
        let output = self.completion_tokens.or(self.output_tokens);
        if prompt.is_none() && output.is_none() {
            return None;
        }
        let cached = self
            .prompt_tokens_details
            .as_ref()
            .or(self.input_tokens_details.as_ref())
            .and_then(|d| d.cached_tokens)
            .or(self.prompt_cache_hit_tokens);
        let cached = or_zero(cached);
        // OpenAI's prompt count includes the cached tokens; ours is the part billed at full price.
        Some(Usage {
            input_tokens: or_zero(prompt).saturating_sub(cached),
            output_tokens: or_zero(output),
            cache_read_tokens: cached,
            cache_write_tokens: 0,
        })
    }
}

pub fn body(json: &[u8]) -> Option<Extracted> {
    let body: Body = serde_json::from_slice(json).ok()?;
    let mut found = Extracted::default();
    found.offer_model(body.model);
    let mut usage = body.usage.as_ref().and_then(OpenAiUsage::to_usage);
    for inner in [body.response, body.x_groq].into_iter().flatten() {
        found.offer_model(inner.model);
        usage = usage.or_else(|| inner.usage.as_ref().and_then(OpenAiUsage::to_usage));
    }
    found.usage = usage;
    for choice in body.choices.into_iter().flatten() {
        found.offer_finish_reason(choice.finish_reason);
    }
    Some(found)
}
