//! Gemini `generateContent` response → `chat.completion`; the chunk shape, finish-reason and
//! usage rules the stream translator shares (a stream chunk is a whole response in small).

use serde::Deserialize;
use serde_json::Value;

use super::Context;
use crate::compat::openai::{
    self, AssistantMessage, Choice, Completion, FunctionCall, ToolCall, Usage,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Response {
    #[serde(default)]
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) usage_metadata: Option<Metadata>,
    pub(crate) model_version: Option<String>,
    pub(crate) response_id: Option<String>,
    pub(crate) create_time: Option<String>,
    pub(crate) prompt_feedback: Option<PromptFeedback>,
    /// A stream can end with an error object instead of a chunk.
    pub(crate) error: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    pub(crate) content: Option<Content>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) index: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Content {
    #[serde(default)]
    pub(crate) parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part {
    pub(crate) text: Option<String>,
    /// Thought summaries (with includeThoughts) are not part of the answer.
    #[serde(default)]
    pub(crate) thought: bool,
    pub(crate) function_call: Option<FunctionCallPart>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCallPart {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) args: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptFeedback {
    pub(crate) block_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Metadata {
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
}

impl Metadata {
    /// promptTokenCount already includes the cached tokens; tool-use prompts are prompt tokens
    /// too. Thinking is billed as output, so it counts as completion (and reasoning) tokens.
    pub(crate) fn to_openai(self) -> Usage {
        let prompt = self
            .prompt_token_count
            .unwrap_or(0)
            .saturating_add(self.tool_use_prompt_token_count.unwrap_or(0));
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        let completion = self
            .candidates_token_count
            .unwrap_or(0)
            .saturating_add(thoughts);
        Usage::new(
            prompt,
            completion,
            self.cached_content_token_count.unwrap_or(0),
            thoughts,
        )
    }
}

impl Part {
    /// The answer's text, if this part is some.
    pub(crate) fn answer_text(&self) -> Option<&str> {
        self.text.as_deref().filter(|_| !self.thought)
    }
}

impl Candidate {
    pub(crate) fn parts(&self) -> &[Part] {
        self.content.as_ref().map_or(&[], |c| c.parts.as_slice())
    }
}

/// `finishReason` → `finish_reason`; `called` says whether the candidate made function calls
/// (Gemini says STOP for those, OpenAI says tool_calls).
pub(crate) fn finish_reason(reason: &str, called: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => openai::LENGTH,
        // SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY, …
        r if ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED", "SPII"]
            .iter()
            .any(|word| r.contains(word)) =>
        {
            openai::CONTENT_FILTER
        }
        _ if called => openai::TOOL_CALLS,
        // STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, …: OpenAI has nothing closer.
        _ => openai::STOP,
    }
}

/// The id OpenAI clients get for a function call (Gemini's calls have none): `call_{n}`,
/// numbered from 0 across the whole response in order.
pub(crate) fn call_id(n: u32) -> String {
    format!("call_{n}")
}

/// Gemini's RFC 3339 `createTime`, as Unix seconds.
pub(crate) fn created(response: &Response) -> Option<u64> {
    let time: jiff::Timestamp = response.create_time.as_deref()?.parse().ok()?;
    u64::try_from(time.as_second()).ok()
}

pub(crate) fn completion(body: &[u8], context: &Context<'_>) -> Option<Completion> {
    let response: Response = serde_json::from_slice(body).ok()?;
    let mut calls = 0;
    let mut choices: Vec<Choice> = response
        .candidates
        .iter()
        .enumerate()
        .map(|(position, candidate)| {
            let mut text = String::new();
            let mut tool_calls = Vec::new();
            for part in candidate.parts() {
                if let Some(piece) = part.answer_text() {
                    text.push_str(piece);
                }
                if let Some(call) = &part.function_call {
                    tool_calls.push(ToolCall {
                        id: call_id(calls),
                        kind: "function",
                        function: FunctionCall {
                            name: call.name.clone(),
                            arguments: openai::arguments(&call.args),
                        },
                    });
                    calls += 1;
                }
            }
            let called = !tool_calls.is_empty();
            Choice {
                index: candidate
                    .index
                    .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX)),
                message: AssistantMessage {
                    role: "assistant",
                    content: (!text.is_empty() || !called).then_some(text),
                    tool_calls,
                },
                logprobs: (),
                finish_reason: candidate
                    .finish_reason
                    .as_deref()
                    .map(|reason| finish_reason(reason, called)),
            }
        })
        .collect();
    if choices.is_empty() {
        // A blocked prompt has no candidates; clients still read choices[0].
        let blocked = response
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());
        choices.push(Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: None,
                tool_calls: Vec::new(),
            },
            logprobs: (),
            finish_reason: Some(if blocked {
                openai::CONTENT_FILTER
            } else {
                openai::STOP
            }),
        });
    }
    Some(Completion {
        id: response
            .response_id
            .clone()
            .unwrap_or_else(|| context.fallback_id.to_owned()),
        object: "chat.completion",
        created: created(&response).unwrap_or(context.created),
        model: response
            .model_version
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| context.model.to_owned()),
        choices,
        usage: response.usage_metadata.map(Metadata::to_openai),
    })
}
