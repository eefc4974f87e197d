//! Anthropic Messages response → `chat.completion`; the finish-reason and usage rules the
//! stream translator shares.

use serde::Deserialize;
use serde_json::Value;

use super::Context;
use crate::compat::openai::{
    self, AssistantMessage, Choice, Completion, FunctionCall, ToolCall, Usage,
};

#[derive(Deserialize)]
struct Message {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// thinking, redacted_thinking, server tool blocks: nothing OpenAI's message can hold.
    #[serde(other)]
    Other,
}

/// Anthropic's counts. A `message_delta` carries only some of them, so each is optional.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct AnthropicUsage {
    pub(crate) input_tokens: Option<u64>,
    pub(crate) output_tokens: Option<u64>,
    pub(crate) cache_read_input_tokens: Option<u64>,
    pub(crate) cache_creation_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Counts present in `later` replace ours (a stream's `message_delta` updates `message_start`).
    pub(crate) fn update(&mut self, later: &AnthropicUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
    }

    /// Anthropic's input_tokens exclude cache reads and writes; OpenAI's prompt_tokens include
    /// every prompt token, with the cache reads repeated as cached_tokens.
    pub(crate) fn to_openai(self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let prompt = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(read)
            .saturating_add(self.cache_creation_input_tokens.unwrap_or(0));
        Usage::new(prompt, self.output_tokens.unwrap_or(0), read, 0)
    }
}

/// `stop_reason` → `finish_reason`. Unknown reasons (Anthropic adds some now and then) read as
/// a normal stop.
pub(crate) fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => openai::LENGTH,
        "tool_use" => openai::TOOL_CALLS,
        "refusal" => openai::CONTENT_FILTER,
        // end_turn, stop_sequence, pause_turn
        _ => openai::STOP,
    }
}

pub(crate) fn completion(body: &[u8], context: &Context<'_>) -> Option<Completion> {
    let message: Message = serde_json::from_slice(body).ok()?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block {
            Block::Text { text: piece } => text.push_str(&piece),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: "function",
                function: FunctionCall {
                    name,
                    arguments: openai::arguments(&input),
                },
            }),
            Block::Other => {}
        }
    }
    let content = (!text.is_empty() || tool_calls.is_empty()).then_some(text);
    Some(Completion {
        id: message.id.unwrap_or_else(|| context.fallback_id.to_owned()),
        object: "chat.completion",
        created: context.created,
        model: message
            .model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| context.model.to_owned()),
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content,
                tool_calls,
            },
            logprobs: (),
            finish_reason: message.stop_reason.as_deref().map(finish_reason),
        }],
        usage: message.usage.map(AnthropicUsage::to_openai),
    })
}
