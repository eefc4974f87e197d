//! What the compat endpoint answers: OpenAI `chat.completion`, `chat.completion.chunk` and usage;
//! and a chunk read back, for the translators from a chat stream to another API's events.

use serde::Serialize;
use serde_json::Value;

/// `finish_reason` values.
pub(crate) const STOP: &str = "stop";
pub(crate) const LENGTH: &str = "length";
pub(crate) const TOOL_CALLS: &str = "tool_calls";
pub(crate) const CONTENT_FILTER: &str = "content_filter";

#[derive(Debug, Serialize)]
pub(crate) struct Completion {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<Usage>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Choice {
    pub(crate) index: u32,
    pub(crate) message: AssistantMessage,
    /// Always null: no translated provider returns OpenAI-style logprobs.
    pub(crate) logprobs: (),
    pub(crate) finish_reason: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AssistantMessage {
    pub(crate) role: &'static str,
    /// Null when the answer is only tool calls, as OpenAI does.
    pub(crate) content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<ToolCall>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) function: FunctionCall,
}

#[derive(Debug, Serialize)]
pub(crate) struct FunctionCall {
    pub(crate) name: String,
    /// A JSON object, encoded as a string (OpenAI's shape).
    pub(crate) arguments: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Usage {
    /// All prompt-side tokens, cached ones included (OpenAI counts them in).
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) total_tokens: u64,
    pub(crate) prompt_tokens_details: PromptDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct PromptDetails {
    pub(crate) cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CompletionDetails {
    pub(crate) reasoning_tokens: u64,
}

impl Usage {
    pub(crate) fn new(prompt: u64, completion: u64, cached: u64, reasoning: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            prompt_tokens_details: PromptDetails {
                cached_tokens: cached,
            },
            completion_tokens_details: (reasoning > 0).then_some(CompletionDetails {
                reasoning_tokens: reasoning,
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Chunk<'a> {
    pub(crate) id: &'a str,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) model: &'a str,
    pub(crate) choices: &'a [ChunkChoice<'a>],
    /// Absent without `include_usage`; with it, null on every chunk but the last (OpenAI's shape).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<Option<&'a Usage>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChunkChoice<'a> {
    pub(crate) index: u32,
    pub(crate) delta: Delta<'a>,
    pub(crate) logprobs: (),
    pub(crate) finish_reason: Option<&'a str>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_calls: Option<&'a [ToolCallDelta<'a>]>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ToolCallDelta<'a> {
    pub(crate) index: u32,
    /// id, type and name come on the first delta of a call only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<&'static str>,
    pub(crate) function: FunctionDelta<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
    pub(crate) arguments: &'a str,
}

/// FNV-1a: a stable id for a response that brought none, derived from its bytes.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A tool's input (Anthropic) or args (Gemini) as OpenAI's arguments string; none is `{}`.
pub(crate) fn arguments(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_owned(),
        input => input.to_string(),
    }
}

/// What one `chat.completion.chunk` carries that a translated stream acts on.
#[derive(Debug, Default)]
pub(crate) struct ChunkParts<'a> {
    pub(crate) usage: Option<&'a Value>,
    /// The first choice's text delta, when not empty.
    pub(crate) text: Option<&'a str>,
    pub(crate) tool_calls: &'a [Value],
    pub(crate) finish_reason: Option<&'a str>,
}

/// Reads a chunk's usage and its first choice's delta.
pub(crate) fn chunk_parts(chunk: &Value) -> ChunkParts<'_> {
    let usage = chunk.get("usage").filter(|u| u.is_object());
    let Some(choice) = chunk
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    else {
        return ChunkParts {
            usage,
            ..ChunkParts::default()
        };
    };
    let delta = choice.get("delta").unwrap_or(&Value::Null);
    ChunkParts {
        usage,
        text: delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty()),
        tool_calls: delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        finish_reason: choice.get("finish_reason").and_then(Value::as_str),
    }
}
