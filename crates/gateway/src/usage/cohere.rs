//! Cohere usage: v2 `usage.tokens` / `usage.billed_units` (bodies and the `message-end` event's
//! `delta.usage`), v1 `meta.tokens` / `meta.billed_units` (bodies and NDJSON `stream-end`'s
//! `response.meta`), embeddings' `meta.billed_units`.

use serde::Deserialize;

use super::count::{Count, or_zero};
use super::{Extracted, Usage};

/// Every place a Cohere value keeps its counts; the last one found in a stream wins.
#[derive(Deserialize)]
struct Body {
    /// v2 bodies.
    usage: Option<Counts>,
    /// v1 bodies and embeddings.
    meta: Option<Counts>,
    /// v2 `message-end` event.
    delta: Option<Delta>,
    /// v1 `stream-end` line.
    response: Option<Response>,
}

#[derive(Deserialize)]
struct Delta {
    usage: Option<Counts>,
}

#[derive(Deserialize)]
struct Response {
    meta: Option<Counts>,
}

#[derive(Deserialize)]
struct Counts {
    tokens: Option<Tokens>,
    billed_units: Option<Tokens>,
}

#[derive(Deserialize)]
struct Tokens {
    input_tokens: Option<Count>,
    output_tokens: Option<Count>,
}

impl Counts {
    /// `tokens` are what the model processed (prompt template included), like every other
    /// provider's counts; `billed_units` are only used when that is all there is.
    fn to_usage(&self) -> Option<Usage> {
        [&self.tokens, &self.billed_units]
            .into_iter()
            .flatten()
            .find(|t| t.input_tokens.is_some() || t.output_tokens.is_some())
            .map(|t| Usage {
                input_tokens: or_zero(t.input_tokens),
                output_tokens: or_zero(t.output_tokens),
                ..Usage::default()
            })
    }
}

pub fn body(json: &[u8]) -> Option<Extracted> {
    let body: Body = serde_json::from_slice(json).ok()?;
    let usage = [
        body.usage,
        body.meta,
        body.delta.and_then(|d| d.usage),
        body.response.and_then(|r| r.meta),
    ]
    .iter()
    .flatten()
    .find_map(Counts::to_usage);
    // Cohere does not echo the model in its responses.
    Some(Extracted {
        usage,
        ..Extracted::default()
    })
}
