//! Workers AI usage: native `/ai/run` bodies (`result.usage`), their SSE streams (the last data
//! event carries `usage`), and the OpenAI-compatible routes (OpenAI's `usage` and `model`).

use serde::Deserialize;

use super::Extracted;
use super::openai::OpenAiUsage;

#[derive(Deserialize)]
struct Body {
    result: Option<Inner>,
    /// Stream events and the OpenAI-compatible routes.
    usage: Option<OpenAiUsage>,
    /// Only the OpenAI-compatible routes echo it.
    model: Option<String>,
}

#[derive(Deserialize)]
struct Inner {
    usage: Option<OpenAiUsage>,
}

pub fn body(json: &[u8]) -> Option<Extracted> {
    let body: Body = serde_json::from_slice(json).ok()?;
    let mut found = Extracted::default();
    found.offer_model(body.model);
    found.usage = body
        .result
        .and_then(|r| r.usage)
        .or(body.usage)
        .as_ref()
        .and_then(OpenAiUsage::to_usage);
    Some(found)
}
