//! The Anthropic Messages API on the unified endpoint (docs/compat.md): a Messages request
//! becomes a Chat Completions request (which the chat translation then carries to the
//! provider's own API), and the Chat Completions answer, whole or streamed, becomes Anthropic's.
//! Requests for Anthropic itself need none of this: they are forwarded as they are.
//!
//! # Decisions
//!
//! - `system` (a string or text blocks) → one system message; text blocks are joined with `\n`.
//! - A user turn's `tool_result` blocks → `tool` messages placed before the rest of the turn
//!   (OpenAI wants them right after the assistant's calls); their text blocks are joined;
//!   `is_error` has no equivalent and is dropped.
//! - Assistant `tool_use` → `tool_calls` (input as the arguments string); `thinking` and
//!   `redacted_thinking` blocks are dropped.
//! - Images: base64 sources → data URLs, url sources → URLs.
//! - `max_tokens` → `max_tokens` (`max_completion_tokens` for OpenAI itself, whose reasoning
//!   models refuse the other), `stop_sequences` → `stop`, `metadata.user_id` → `user`,
//!   `tool_choice` any → required, tool → the function, `disable_parallel_tool_use` →
//!   `parallel_tool_calls: false`. `top_k`, `thinking`, `service_tier` and cache-control marks
//!   have no equivalent and are dropped.
//! - Refused with a 400 in Anthropic's shape: server tools (`web_search_…`, `bash_…`, …),
//!   document and other block types with no chat form.
//! - Answers: `finish_reason` stop → `end_turn`, length → `max_tokens`, tool_calls →
//!   `tool_use`, content_filter → `refusal`; `stop_sequence` is always null (OpenAI does not
//!   say which one matched). `input_tokens` leaves out the cached tokens, which are
//!   `cache_read_input_tokens`. The id and model are the provider's.
//! - Streams: `message_start` has zero usage (OpenAI-format providers report it at the end);
//!   `message_delta` carries the whole usage, input tokens included.

mod error;
mod request;
mod response;
mod stream;

pub use error::anthropic_error;
pub use request::{MaxTokens, to_chat};
pub use response::to_message;
pub use stream::MessagesStream;

#[cfg(test)]
mod tests;
