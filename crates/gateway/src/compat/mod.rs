//! The translation layer of the unified endpoint (docs/compat.md): OpenAI Chat Completions in,
//! the provider's own API out, and the answer (plain or streamed) back in OpenAI's shape. The
//! Responses API ([`responses`]) and the Anthropic Messages API ([`messages`]) are translated to
//! and from Chat Completions, which this layer then carries to the provider. [`ask_for_usage`]
//! and [`UsageChunkFilter`] make an OpenAI-format stream report its usage without the client
//! seeing a difference.
//!
//! The HTTP side (`POST /v1/{account}/{gateway}/compat/chat/completions`) lives in the proxy;
//! this module is pure byte/JSON translation and does no I/O.
//!
//! # Use
//!
//! 1. [`split_model`] the request's `model` into provider and bare model; the provider's
//!    descriptor says its [`Dialect`] (`providers::Provider::dialect`).
//! 2. [`translate_request`] → [`UpstreamRequest`]: the provider path, body and extra headers.
//! 3. A non-streamed answer, or any non-2xx answer: [`translate_response`] (or
//!    [`translate_response_full`], which also says when a 2xx body was unreadable). A streamed
//!    2xx answer: a [`StreamTranslator`], `push` per upstream chunk, `finish` at a clean end.
//! 4. A [`CompatError`] is a 400 with [`CompatError::to_body`].
//!
//! # Path conventions
//!
//! [`UpstreamRequest::path`] is the provider path exactly as a client of the pass-through
//! endpoint would write it after `/{provider}/`: relative to the provider's base URL, no
//! leading `/`, query included. It is meant for the same URL builder as the pass-through
//! (`providers::url`), whose `v1` rule drops a leading `v1/` when the base already ends in `/v1`.
//!
//! | dialect   | path |
//! |-----------|------|
//! | OpenAi    | `v1/chat/completions` ([`OPENAI_CHAT_PATH`]): `https://api.openai.com/v1` + rule → `/v1/chat/completions`; `https://api.mistral.ai` → `/v1/chat/completions` |
//! | Anthropic | `v1/messages` |
//! | Gemini    | `v1beta/models/{model}:generateContent`, streaming `v1beta/models/{model}:streamGenerateContent?alt=sse` |
//!
//! Providers whose OpenAI-compatible path is not `{base}/v1/chat/completions` (Azure
//! deployments, Workers AI's `/ai/v1/…`, Perplexity's `/chat/completions`) need the caller to
//! map the path.
//!
//! # Decisions
//!
//! Requests:
//! - OpenAi dialect: identity except `model` (re-serialized from the parsed value, field order
//!   kept).
//! - system and developer messages, wherever they stand, are hoisted in order into Anthropic
//!   `system` (one string, or text blocks when there are several) / Gemini `systemInstruction`
//!   (one text part each).
//! - Consecutive messages of the same role are merged into one turn (tool results must share one
//!   user turn; a user message right after tool results joins them). Empty text is dropped
//!   (Anthropic rejects empty text blocks); a turn left empty is sent as `""` / one empty part.
//!   A lone text block is sent as a plain string to Anthropic.
//! - Anthropic has no JSON mode: `response_format` json_object / json_schema appends an
//!   instruction to `system` to answer with a single JSON object only (with json_schema, the
//!   schema is quoted in it).
//! - `max_completion_tokens` wins over `max_tokens`; Anthropic gets 4096 when neither is set.
//! - `parallel_tool_calls: false` → Anthropic `tool_choice.disable_parallel_tool_use`.
//!   `tool_choice` is only sent with tools.
//! - Gemini: `functionResponse.name` is looked up from the earlier assistant tool call with that
//!   id (400 when none matches); non-object results are wrapped as `{"content": text}`. Tool
//!   schemas and `responseSchema` are cut down to the keys Gemini accepts (local `$ref`s
//!   inlined, `type: [T, "null"]` → `nullable`); a function without properties is declared
//!   without `parameters`. For Gemini ≥ 3, replayed `functionCall` parts carry Google's
//!   `skip_thought_signature_validator` sentinel, since OpenAI messages cannot carry the real
//!   signature. `presence_penalty`, `frequency_penalty`, `seed` and `n` (`candidateCount`) go
//!   into `generationConfig`; `user` has no Gemini field and is dropped.
//! - Dropped for both (no equivalent): `logit_bias`, `logprobs`, `top_logprobs`, `store`,
//!   `metadata`, `service_tier`, `modalities`, `audio`, `prediction`, `reasoning_effort`,
//!   `stream_options` (the usage is always in the provider's stream). Anthropic also loses
//!   `presence_penalty`, `frequency_penalty`, `seed`. Temperatures are passed unchanged
//!   (Anthropic refuses > 1 itself).
//! - Refused with a 400: `n` > 1 for Anthropic, non-function tools, audio/file parts, images
//!   outside user messages, non-base64 data URLs, tool-call arguments that are not a JSON object.
//!
//! Responses:
//! - `id`: the provider's (Anthropic `id`, Gemini `responseId`), else `chatcmpl-{fnv1a of the
//!   body}` (non-streamed) / `chatcmpl-{id_seed}` (streamed).
//! - `created`: Gemini's `createTime` when present, else the caller's fallback (0 by default,
//!   [`translate_response_full`] / [`StreamTranslator::with_created`] take a clock value).
//!   The same upstream bytes always give the same output.
//! - `model`: the model the provider reports (Anthropic `model`, Gemini `modelVersion`), else
//!   the bare model requested.
//! - Gemini function calls get ids `call_0`, `call_1`, … in response order.
//! - Thinking blocks / thought parts are not returned.
//! - Errors keep the provider's status and message: `type` is the provider's (Anthropic) or one
//!   derived from the status; `code` is Gemini's status name (`RESOURCE_EXHAUSTED`).
//!
//! Streams: see [`StreamTranslator`]. `[DONE]` (and the `include_usage` chunk, when usage was
//! reported) only after the provider's own end (Anthropic `message_stop`; every Gemini
//! candidate finished or the prompt blocked); a provider error event is forwarded as
//! `data: {"error":…}` and ends the translation.

mod dialect;
mod error;
pub mod messages;
mod openai;
mod request;
mod response;
pub mod responses;
mod stream;
mod stream_usage;

#[cfg(test)]
mod tests;

pub use dialect::{Dialect, split_model};
pub use error::CompatError;
pub use response::Translated;
pub use stream::StreamTranslator;
pub use stream_usage::{UsageChunkFilter, ask_for_usage};

/// The OpenAI-compatible path [`translate_request`] returns for [`Dialect::OpenAi`].
pub const OPENAI_CHAT_PATH: &str = request::OPENAI_PATH;

/// The provider request for one Chat Completions request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// The provider path incl. query (see "Path conventions" above).
    pub path: String,
    pub body: bytes::Bytes,
    /// Headers the provider needs besides credentials, e.g. `anthropic-version: 2023-06-01`.
    pub extra_headers: Vec<(String, String)>,
    /// The client asked for a stream: answer with a [`StreamTranslator`].
    pub stream: bool,
}

/// Translates an OpenAI Chat Completions request body (already parsed) for `dialect`, with the
/// bare `model` (after [`split_model`]).
pub fn translate_request(
    dialect: Dialect,
    model: &str,
    request: &serde_json::Value,
) -> Result<UpstreamRequest, CompatError> {
    request::translate(dialect, model, request)
}

/// Whether the request set `stream_options.include_usage` (the [`StreamTranslator`] argument).
pub fn include_usage(request: &serde_json::Value) -> bool {
    request
        .pointer("/stream_options/include_usage")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// A complete (non-streamed) provider response → OpenAI `chat.completion` JSON. A non-2xx
/// `status` gives OpenAI's error shape with the provider's message; the caller keeps the
/// provider's status. See [`translate_response_full`] for unreadable 2xx bodies.
pub fn translate_response(dialect: Dialect, model: &str, status: u16, body: &[u8]) -> bytes::Bytes {
    response::translate(dialect, model, status, body, 0).body
}

/// [`translate_response`] with the status to answer: the provider's, except 502 for a 2xx body
/// that is not the provider's format. `created` is used when the provider gives no time.
pub fn translate_response_full(
    dialect: Dialect,
    model: &str,
    status: u16,
    body: &[u8],
    created: u64,
) -> Translated {
    response::translate(dialect, model, status, body, created)
}
