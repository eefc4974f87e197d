//! Anthropic Messages stream events → chunks: message_start opens the choice, text_delta and
//! input_json_delta become content and tool-call argument deltas, message_delta the finish.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::Progress;
use super::writer::Writer;
use crate::compat::openai::Usage;
use crate::compat::response::anthropic::{AnthropicUsage, finish_reason};

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Content block index → tool-call index (tool calls are numbered apart from text blocks).
    tools: HashMap<u64, u32>,
    next_tool: u32,
    usage: Option<AnthropicUsage>,
    /// The finish chunk went out: a repeated message_delta only updates the usage.
    finished: bool,
}

/// One event; borrowed where the text has no escapes, since deltas are the hot path.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    message: Option<Start>,
    index: Option<u64>,
    content_block: Option<BlockStart>,
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct Start {
    id: Option<String>,
    model: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct BlockStart {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    name: Option<String>,
    text: Option<String>,
    input: Option<Value>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    partial_json: Option<Cow<'a, str>>,
    stop_reason: Option<String>,
}

impl State {
    pub(crate) fn event(&mut self, data: &str, writer: &mut Writer, progress: &mut Progress) {
        // Pings, comments and anything unreadable carry nothing to translate.
        let Ok(event) = serde_json::from_str::<Event<'_>>(data) else {
            return;
        };
        if progress.ended {
            return;
        }
        match event.kind.as_ref() {
            "message_start" => {
                if let Some(start) = event.message {
                    writer.identify(start.id.as_deref(), start.model.as_deref(), None);
                    if let Some(usage) = start.usage {
                        self.usage.get_or_insert_default().update(&usage);
                    }
                }
                writer.start(0);
            }
            "content_block_start" => self.block_start(event.index, event.content_block, writer),
            "content_block_delta" => {
                let Some(delta) = event.delta else { return };
                if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
                    writer.content(0, &text);
                }
                let tool = event.index.and_then(|i| self.tools.get(&i));
                if let (Some(&tool), Some(json)) = (tool, delta.partial_json)
                    && !json.is_empty()
                {
                    writer.tool_call(0, tool, None, &json);
                }
            }
            "message_delta" => {
                if let Some(usage) = event.usage {
                    self.usage.get_or_insert_default().update(&usage);
                }
                if let Some(reason) = event.delta.and_then(|d| d.stop_reason)
                    && !std::mem::replace(&mut self.finished, true)
                {
                    writer.finish(0, finish_reason(&reason));
                }
            }
            "message_stop" => progress.ended = true,
            "error" => {
                writer.error(500, data);
                progress.failed = true;
            }
            // ping, content_block_stop, and event types added later.
            _ => {}
        }
    }

    fn block_start(&mut self, index: Option<u64>, block: Option<BlockStart>, writer: &mut Writer) {
        let Some(block) = block else { return };
        match block.kind.as_str() {
            "text" => {
                if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                    writer.content(0, &text);
                }
            }
            "tool_use" => {
                let tool = self.next_tool;
                self.next_tool += 1;
                if let Some(index) = index {
                    self.tools.insert(index, tool);
                }
                // The input arrives as input_json_delta pieces; the start holds `{}`. A
                // non-empty one (not seen in practice) is sent whole rather than lost.
                let arguments = match block.input {
                    Some(Value::Object(input)) if !input.is_empty() => {
                        Value::Object(input).to_string()
                    }
                    _ => String::new(),
                };
                let id = block.id.unwrap_or_default();
                let name = block.name.unwrap_or_default();
                writer.tool_call(0, tool, Some((&id, &name)), &arguments);
            }
            // thinking, redacted_thinking, server tools: not part of an OpenAI message.
            _ => {}
        }
    }

    pub(crate) fn usage(&self) -> Option<Usage> {
        self.usage.map(AnthropicUsage::to_openai)
    }
}
