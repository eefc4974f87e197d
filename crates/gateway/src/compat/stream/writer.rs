//! Writes OpenAI `chat.completion.chunk` events (`data: {…}\n\n`) into the pending output.

use serde::Serialize;

use crate::compat::openai::{Chunk, ChunkChoice, Delta, FunctionDelta, ToolCallDelta, Usage};
use crate::compat::response::error;

#[derive(Debug)]
pub(crate) struct Writer {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    out: Vec<u8>,
    /// Choices whose first chunk (the one with the role) went out.
    started: Vec<u32>,
    /// Once something went out, id/model/created are fixed: every chunk must repeat the same.
    emitted: bool,
}

impl Writer {
    pub(crate) fn new(id: String, model: String, include_usage: bool) -> Writer {
        Writer {
            id,
            model,
            created: 0,
            include_usage,
            out: Vec::new(),
            started: Vec::new(),
            emitted: false,
        }
    }

    pub(crate) fn include_usage(&self) -> bool {
        self.include_usage
    }

    pub(crate) fn set_created(&mut self, created: u64) {
        if !self.emitted {
            self.created = created;
        }
    }

    /// What the provider says about the response, taken only before the first chunk.
    pub(crate) fn identify(&mut self, id: Option<&str>, model: Option<&str>, created: Option<u64>) {
        if self.emitted {
            return;
        }
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            id.clone_into(&mut self.id);
        }
        if let Some(model) = model.filter(|m| !m.is_empty()) {
            model.clone_into(&mut self.model);
        }
        if let Some(created) = created {
            self.created = created;
        }
    }

    /// The opening chunk of a choice, `{"role":"assistant","content":""}` as OpenAI sends it;
    /// the other methods send it first when it has not gone out yet.
    pub(crate) fn start(&mut self, index: u32) {
        if self.started.contains(&index) {
            return;
        }
        self.started.push(index);
        let delta = Delta {
            role: Some("assistant"),
            content: Some(""),
            tool_calls: None,
        };
        self.choice(index, delta, None);
    }

    pub(crate) fn content(&mut self, index: u32, text: &str) {
        self.start(index);
        let delta = Delta {
            content: Some(text),
            ..Delta::default()
        };
        self.choice(index, delta, None);
    }

    /// `first` carries the call's id and name: only the first delta of each call has them.
    pub(crate) fn tool_call(
        &mut self,
        index: u32,
        tool_index: u32,
        first: Option<(&str, &str)>,
        arguments: &str,
    ) {
        self.start(index);
        let call = [ToolCallDelta {
            index: tool_index,
            id: first.map(|(id, _)| id),
            kind: first.map(|_| "function"),
            function: FunctionDelta {
                name: first.map(|(_, name)| name),
                arguments,
            },
        }];
        let delta = Delta {
            tool_calls: Some(&call),
            ..Delta::default()
        };
        self.choice(index, delta, None);
    }

    pub(crate) fn finish(&mut self, index: u32, reason: &str) {
        self.start(index);
        self.choice(index, Delta::default(), Some(reason));
    }

    /// The `include_usage` chunk: no choices, the usage.
    pub(crate) fn usage(&mut self, usage: &Usage) {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: &[],
            usage: Some(Some(usage)),
        };
        write(&mut self.out, &chunk);
        self.emitted = true;
    }

    /// An error in the stream, the way OpenAI sends one: `data: {"error":{…}}`.
    pub(crate) fn error(&mut self, status: u16, data: &str) {
        let body = error::translate(status, data.as_bytes());
        self.out.extend_from_slice(b"data: ");
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(b"\n\n");
        self.emitted = true;
    }

    pub(crate) fn done(&mut self) {
        self.out.extend_from_slice(b"data: [DONE]\n\n");
        self.emitted = true;
    }

    pub(crate) fn take(&mut self) -> bytes::Bytes {
        bytes::Bytes::from(std::mem::take(&mut self.out))
    }

    fn choice(&mut self, index: u32, delta: Delta<'_>, finish_reason: Option<&str>) {
        let choices = [ChunkChoice {
            index,
            delta,
            logprobs: (),
            finish_reason,
        }];
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: &choices,
            usage: self.include_usage.then_some(None),
        };
        write(&mut self.out, &chunk);
        self.emitted = true;
    }
}

fn write(out: &mut Vec<u8>, chunk: &impl Serialize) {
    let mark = out.len();
    out.extend_from_slice(b"data: ");
    // Serializing these structs into a Vec cannot fail; if it ever did, no half event goes out.
    if serde_json::to_writer(&mut *out, chunk).is_err() {
        out.truncate(mark);
        return;
    }
    out.extend_from_slice(b"\n\n");
}
