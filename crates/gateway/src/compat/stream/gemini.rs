//! Gemini `streamGenerateContent?alt=sse` chunks → chunks. Every Gemini chunk is a small
//! response: its text becomes a content delta, each functionCall a whole tool call (Gemini
//! does not stream arguments), a finishReason the choice's finish.

use serde_json::Value;

use super::Progress;
use super::writer::Writer;
use crate::compat::openai::{self, Usage};
use crate::compat::response::gemini::{Metadata, Response, call_id, created, finish_reason};

#[derive(Debug, Default)]
pub(crate) struct State {
    identified: bool,
    /// Function calls so far, for `call_{n}` ids numbered as in a non-streamed response.
    calls: u32,
    choices: Vec<Choice>,
    blocked: bool,
    usage: Option<Metadata>,
}

#[derive(Debug)]
struct Choice {
    index: u32,
    tools: u32,
    finished: bool,
}

impl State {
    pub(crate) fn event(&mut self, data: &str, writer: &mut Writer, progress: &mut Progress) {
        let Ok(response) = serde_json::from_str::<Response>(data) else {
            return;
        };
        if let Some(error) = &response.error {
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500);
            writer.error(status, data);
            progress.failed = true;
            return;
        }
        if !self.identified {
            self.identified = true;
            writer.identify(
                response.response_id.as_deref(),
                response.model_version.as_deref(),
                created(&response),
            );
        }
        for (position, candidate) in response.candidates.iter().enumerate() {
            let index = candidate
                .index
                .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX));
            let slot = self.choice(index);
            let Some(choice) = self.choices.get_mut(slot) else {
                continue;
            };
            writer.start(index);
            let text: String = candidate
                .parts()
                .iter()
                .filter_map(|p| p.answer_text())
                .collect();
            if !text.is_empty() {
                writer.content(index, &text);
            }
            for call in candidate
                .parts()
                .iter()
                .filter_map(|p| p.function_call.as_ref())
            {
                let id = call_id(self.calls);
                self.calls += 1;
                let tool = choice.tools;
                choice.tools += 1;
                writer.tool_call(
                    index,
                    tool,
                    Some((&id, &call.name)),
                    &openai::arguments(&call.args),
                );
            }
            if let Some(reason) = &candidate.finish_reason
                && !std::mem::replace(&mut choice.finished, true)
            {
                writer.finish(index, finish_reason(reason, choice.tools > 0));
            }
        }
        let blocked = response
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());
        if response.candidates.is_empty() && blocked {
            // The prompt was refused: no candidate will ever come.
            self.blocked = true;
            writer.finish(0, openai::CONTENT_FILTER);
        }
        if let Some(usage) = response.usage_metadata {
            self.usage = Some(usage);
        }
        progress.ended =
            self.blocked || (!self.choices.is_empty() && self.choices.iter().all(|c| c.finished));
    }

    /// The slot of choice `index`, added on first sight.
    fn choice(&mut self, index: u32) -> usize {
        match self.choices.iter().position(|c| c.index == index) {
            Some(slot) => slot,
            None => {
                self.choices.push(Choice {
                    index,
                    tools: 0,
                    finished: false,
                });
                self.choices.len() - 1
            }
        }
    }

    pub(crate) fn usage(&self) -> Option<Usage> {
        self.usage.map(Metadata::to_openai)
    }
}
