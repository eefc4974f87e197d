//! Anthropic Messages usage: the body's `usage`, and a stream's `message_start` counts updated
//! by its `message_delta` events. Also what Bedrock and Vertex return for Claude models.

use serde::Deserialize;

use super::count::{Count, or_zero};
use super::{Extracted, Usage};

/// A body or a stream event; fields other than these are skipped unread.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: Option<Kind>,
    model: Option<String>,
    usage: Option<AnthropicUsage>,
    message: Option<Message>,
    /// A body's reason; a stream gives it in `message_delta`'s `delta`.
    stop_reason: Option<String>,
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    MessageStart,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Message {
    model: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicUsage {
    input_tokens: Option<Count>,
    output_tokens: Option<Count>,
    cache_read_input_tokens: Option<Count>,
    cache_creation_input_tokens: Option<Count>,
}

impl AnthropicUsage {
    fn is_empty(&self) -> bool {
        self.input_tokens.is_none()
            && self.output_tokens.is_none()
            && self.cache_read_input_tokens.is_none()
            && self.cache_creation_input_tokens.is_none()
    }

    /// Counts present here replace those in `usage`; absent ones are left alone, because a
    /// `message_delta` usually carries only the (cumulative) output count.
    fn update(&self, usage: &mut Usage) {
        let fields = [
            (self.input_tokens, &mut usage.input_tokens),
            (self.output_tokens, &mut usage.output_tokens),
            (self.cache_read_input_tokens, &mut usage.cache_read_tokens),
            (
                self.cache_creation_input_tokens,
                &mut usage.cache_write_tokens,
            ),
        ];
        for (count, slot) in fields {
            if let Some(count) = count {
                *slot = count.0;
            }
        }
    }

    fn to_usage(&self) -> Option<Usage> {
        (!self.is_empty()).then(|| Usage {
            input_tokens: or_zero(self.input_tokens),
            output_tokens: or_zero(self.output_tokens),
            cache_read_tokens: or_zero(self.cache_read_input_tokens),
            cache_write_tokens: or_zero(self.cache_creation_input_tokens),
        })
    }
}

/// A non-streamed Messages body (or an InvokeModel body from Bedrock).
pub fn body(json: &[u8]) -> Option<Extracted> {
    let event: Event = serde_json::from_slice(json).ok()?;
    let mut found = Extracted::default();
    found.offer_model(event.model);
    found.usage = event.usage.as_ref().and_then(AnthropicUsage::to_usage);
    found.offer_finish_reason(event.stop_reason);
    Some(found)
}

/// A Messages stream, one event's data at a time (SSE, or Bedrock's decoded chunks).
#[derive(Debug, Default)]
pub struct Stream {
    found: Extracted,
}

impl Stream {
    pub fn event(&mut self, data: &[u8]) {
        let Ok(event) = serde_json::from_slice::<Event>(data) else {
            return;
        };
        if let (Some(Kind::MessageStart), Some(message)) = (&event.kind, event.message) {
            self.found.offer_model(message.model);
            if let Some(usage) = message.usage.as_ref().and_then(AnthropicUsage::to_usage) {
                self.found.usage = Some(usage);
            }
        }
        self.found.offer_model(event.model);
        // One generation: a later message_delta's reason replaces an earlier one.
        if let Some(reason) = event.delta.and_then(|delta| delta.stop_reason) {
            self.found.finish_reasons.clear();
            self.found.offer_finish_reason(Some(reason));
        }
        // message_delta (and a whole body read as one event): update what message_start said.
        if let Some(delta) = event.usage.filter(|u| !u.is_empty()) {
            delta.update(self.found.usage.get_or_insert_default());
        }
    }

    pub fn finish(self) -> Extracted {
        self.found
    }
}
