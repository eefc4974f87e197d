//! The OpenAI Responses API on the unified endpoint (docs/compat.md): a Responses request
//! becomes a Chat Completions request (which the chat translation then carries to the
//! provider's own API), and the Chat Completions answer, whole or streamed, becomes a Responses
//! answer. Requests for OpenAI itself need none of this: they are forwarded as they are.
//!
//! # Decisions
//!
//! - `instructions` → a system message; `input` as a string → one user message; input items:
//!   messages by role (`developer` → system; `input_text` / `output_text` parts → text,
//!   `input_image` with an `image_url` → `image_url`), `function_call` items → the assistant's
//!   `tool_calls` (consecutive ones in one message), `function_call_output` → `tool` messages,
//!   `reasoning` items dropped.
//! - `max_output_tokens` → `max_tokens`, `text.format` → `response_format`, `reasoning.effort`
//!   → `reasoning_effort`, `safety_identifier` (or `user`) → `user`; function tools and
//!   `tool_choice` as they are in Chat Completions. `store`, `include`, `truncation`,
//!   `background`, `prompt_cache_key`, `service_tier` and `metadata` (echoed, not sent) have no
//!   Chat Completions meaning for another provider.
//! - Refused with a 400 in OpenAI's shape: `previous_response_id` (no stored responses),
//!   built-in tools (web / file search, computer use, …), file inputs and other item types.
//! - Answers: ids are `resp_{log id}` / `msg_{log id}` / `fc_{call id}`; `created_at` is the
//!   provider's time or the gateway's; finish `length` → status `incomplete` with
//!   `max_output_tokens`, `content_filter` → `incomplete` with `content_filter`; usage keeps
//!   cached and reasoning tokens. The request's settings are echoed in the response object.

mod request;
mod response;
mod stream;

pub use request::to_chat;
pub use response::{ResponseContext, echo, to_response};
pub use stream::ResponsesStream;

#[cfg(test)]
mod tests;
