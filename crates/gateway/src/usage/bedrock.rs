//! Bedrock usage: Converse (`usage.inputTokens`…), InvokeModel bodies (Claude's `usage`, Llama's
//! token counts), and the event-stream payloads of both stream APIs: ConverseStream's `metadata`
//! event, InvokeModelWithResponseStream's base64 `chunk`s with their invocation metrics.

use std::borrow::Cow;

use serde::Deserialize;

use super::count::{Count, or_zero};
use super::{Extracted, Usage, anthropic, base64};

/// A body or an event-stream payload; fields other than these are skipped unread.
#[derive(Deserialize)]
struct Body<'a> {
    model: Option<String>,
    usage: Option<BedrockUsage>,
    /// Llama and Mistral-style InvokeModel bodies.
    prompt_token_count: Option<Count>,
    generation_token_count: Option<Count>,
    /// A `chunk` event of InvokeModelWithResponseStream: the model's own event, base64-encoded.
    #[serde(borrow)]
    bytes: Option<Cow<'a, str>>,
}

/// Converse spells the counts in camelCase; Claude bodies from InvokeModel in snake_case. Both
/// leave cache reads and writes out of the input count.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BedrockUsage {
    #[serde(alias = "input_tokens")]
    input_tokens: Option<Count>,
    #[serde(alias = "output_tokens")]
    output_tokens: Option<Count>,
    #[serde(alias = "cache_read_input_tokens")]
    cache_read_input_tokens: Option<Count>,
    #[serde(alias = "cache_creation_input_tokens")]
    cache_write_input_tokens: Option<Count>,
}

impl BedrockUsage {
    fn to_usage(&self) -> Option<Usage> {
        let counts = [
            self.input_tokens,
            self.output_tokens,
            self.cache_read_input_tokens,
            self.cache_write_input_tokens,
        ];
        counts.iter().any(Option::is_some).then(|| Usage {
            input_tokens: or_zero(self.input_tokens),
            output_tokens: or_zero(self.output_tokens),
            cache_read_tokens: or_zero(self.cache_read_input_tokens),
            cache_write_tokens: or_zero(self.cache_write_input_tokens),
        })
    }
}

impl Body<'_> {
    fn usage(&self) -> Option<Usage> {
        self.usage
            .as_ref()
            .and_then(BedrockUsage::to_usage)
            .or_else(|| llama(self.prompt_token_count, self.generation_token_count))
    }
}

fn llama(prompt: Option<Count>, generation: Option<Count>) -> Option<Usage> {
    (prompt.is_some() || generation.is_some()).then(|| Usage {
        input_tokens: or_zero(prompt),
        output_tokens: or_zero(generation),
        ..Usage::default()
    })
}

/// A decoded `chunk`, beyond the Claude events read by [`anthropic::Stream`].
#[derive(Deserialize)]
struct Chunk {
    /// What the last chunk carries whatever the model: Bedrock's own count.
    #[serde(rename = "amazon-bedrock-invocationMetrics")]
    metrics: Option<Metrics>,
    /// Llama's running counts.
    prompt_token_count: Option<Count>,
    generation_token_count: Option<Count>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    input_token_count: Option<Count>,
    output_token_count: Option<Count>,
    cache_read_input_token_count: Option<Count>,
    cache_write_input_token_count: Option<Count>,
}

/// A Converse or InvokeModel body.
pub fn body(json: &[u8]) -> Option<Extracted> {
    let body: Body<'_> = serde_json::from_slice(json).ok()?;
    let mut found = Extracted {
        usage: body.usage(),
        ..Extracted::default()
    };
    found.offer_model(body.model);
    Some(found)
}

#[derive(Debug, Default)]
pub struct Stream {
    /// ConverseStream's `metadata` event, or a model's own counts in plain payloads.
    reported: Option<Usage>,
    /// The Claude events inside InvokeModelWithResponseStream chunks.
    claude: anthropic::Stream,
    /// The invocation metrics of the last chunk: Bedrock's word, preferred over the model's.
    metrics: Option<Metrics>,
    /// Reused for every chunk's decoded bytes.
    decoded: Vec<u8>,
}

impl Stream {
    pub fn event(&mut self, data: &[u8]) {
        let Ok(payload) = serde_json::from_slice::<Body<'_>>(data) else {
            return;
        };
        let Some(bytes) = payload.bytes.as_deref() else {
            if let Some(usage) = payload.usage() {
                self.reported = Some(usage);
            }
            return;
        };
        if !base64::decode_into(bytes.as_bytes(), &mut self.decoded) {
            return;
        }
        self.claude.event(&self.decoded);
        let Ok(chunk) = serde_json::from_slice::<Chunk>(&self.decoded) else {
            return;
        };
        // Llama sends its prompt count once and a running generation count: keep both.
        if chunk.prompt_token_count.is_some() || chunk.generation_token_count.is_some() {
            let reported = self.reported.get_or_insert_default();
            if let Some(prompt) = chunk.prompt_token_count {
                reported.input_tokens = prompt.0;
            }
            if let Some(generation) = chunk.generation_token_count {
                reported.output_tokens = generation.0;
            }
        }
        if chunk.metrics.is_some() {
            self.metrics = chunk.metrics;
        }
    }

    pub fn finish(self) -> Extracted {
        let mut found = self.claude.finish();
        let model_usage = self.reported.or(found.usage);
        found.usage = match self.metrics {
            Some(metrics) => {
                // The metrics may omit the cache counts; the model's own report has them.
                let fallback = model_usage.unwrap_or_default();
                Some(Usage {
                    input_tokens: or_zero(metrics.input_token_count),
                    output_tokens: or_zero(metrics.output_token_count),
                    cache_read_tokens: metrics
                        .cache_read_input_token_count
                        .map_or(fallback.cache_read_tokens, |c| c.0),
                    cache_write_tokens: metrics
                        .cache_write_input_token_count
                        .map_or(fallback.cache_write_tokens, |c| c.0),
                })
            }
            None => model_usage,
        };
        found
    }
}
