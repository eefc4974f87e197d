//! OpenAI `chat.completion.chunk` SSE → Anthropic Messages SSE: `message_start`, per content
//! block `content_block_start` / `content_block_delta` / `content_block_stop`, `message_delta`
//! with the stop reason and usage, `message_stop`.

use bytes::Bytes;
use serde_json::{Value, json};

use super::response::{stop_reason, usage};
use crate::compat::openai::chunk_parts;
use crate::usage::sse::SseParser;

/// Translates one streamed chat completion; `push` every upstream chunk and forward what it
/// returns, `finish` at the upstream's clean end. The request must have asked for usage
/// (`include_usage`): it comes after the last choice, and `message_delta` carries it.
#[derive(Debug)]
pub struct MessagesStream {
    parser: SseParser,
    out: Vec<u8>,
    /// The model requested, until a chunk names one.
    model: String,
    id: String,
    started: bool,
    /// The open content block: its index and whether it is text (else a tool call, with the
    /// OpenAI tool-call index it belongs to).
    open: Option<Open>,
    next_block: u32,
    finish_reason: Option<String>,
    usage: Option<Value>,
    /// `message_stop` or an error went out: nothing more will.
    ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(u32),
    Tool { block: u32, call: u64 },
}

impl MessagesStream {
    /// `model` is the bare model requested; `id_seed` makes the id `msg_{id_seed}` when the
    /// provider gives none.
    pub fn new(model: &str, id_seed: &str) -> MessagesStream {
        MessagesStream {
            parser: SseParser::new(),
            out: Vec::new(),
            model: model.to_owned(),
            id: format!("msg_{id_seed}"),
            started: false,
            open: None,
            next_block: 0,
            finish_reason: None,
            usage: None,
            ended: false,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        let mut parser = std::mem::take(&mut self.parser);
        parser.push(chunk, |event| self.event(event.data));
        self.parser = parser;
        Bytes::from(std::mem::take(&mut self.out))
    }

    /// The upstream ended. A stream that never said `[DONE]` gets no `message_stop`: the
    /// client can tell it was cut.
    pub fn finish(&mut self) -> Bytes {
        let mut parser = std::mem::take(&mut self.parser);
        parser.finish(|event| self.event(event.data));
        self.parser = parser;
        Bytes::from(std::mem::take(&mut self.out))
    }

    fn event(&mut self, data: &str) {
        if self.ended {
            return;
        }
        if data.trim() == "[DONE]" {
            self.end();
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return;
        };
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the provider's stream failed");
            self.write(
                "error",
                &json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            );
            self.ended = true;
            return;
        }
        self.start(&chunk);
        let parts = chunk_parts(&chunk);
        if let Some(usage) = parts.usage {
            self.usage = Some(usage.clone());
        }
        if let Some(text) = parts.text {
            self.text(text);
        }
        for call in parts.tool_calls {
            self.tool_call(call);
        }
        if let Some(reason) = parts.finish_reason {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    fn start(&mut self, chunk: &Value) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        if let Some(id) = chunk
            .get("id")
            .and_then(Value::as_str)
            .filter(|i| !i.is_empty())
        {
            id.clone_into(&mut self.id);
        }
        if let Some(model) = chunk
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            model.clone_into(&mut self.model);
        }
        let message = json!({"type": "message_start", "message": {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }});
        self.write("message_start", &message);
    }

    fn text(&mut self, text: &str) {
        let index = match self.open {
            Some(Open::Text(index)) => index,
            _ => {
                self.close();
                let index = self.open_block(&json!({"type": "text", "text": ""}));
                self.open = Some(Open::Text(index));
                index
            }
        };
        self.write(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
        );
    }

    fn tool_call(&mut self, call: &Value) {
        let call_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let function = call.get("function").unwrap_or(&Value::Null);
        let block = match self.open {
            Some(Open::Tool { block, call }) if call == call_index => block,
            _ => {
                self.close();
                let block = self.open_block(&json!({
                    "type": "tool_use",
                    "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
                    "name": function.get("name").and_then(Value::as_str).unwrap_or(""),
                    "input": {},
                }));
                self.open = Some(Open::Tool {
                    block,
                    call: call_index,
                });
                block
            }
        };
        if let Some(arguments) = function
            .get("arguments")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            self.write(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": block, "delta": {"type": "input_json_delta", "partial_json": arguments}}),
            );
        }
    }

    fn open_block(&mut self, block: &Value) -> u32 {
        let index = self.next_block;
        self.next_block += 1;
        self.write(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    fn close(&mut self) {
        let index = match self.open.take() {
            Some(Open::Text(index) | Open::Tool { block: index, .. }) => index,
            None => return,
        };
        self.write(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        );
    }

    /// `[DONE]`: the last block closes, then the stop reason with the usage, then the end.
    fn end(&mut self) {
        self.start(&Value::Null);
        self.close();
        let usage = usage(self.usage.as_ref());
        self.write(
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(self.finish_reason.as_deref()), "stop_sequence": null},
                "usage": usage}),
        );
        self.write("message_stop", &json!({"type": "message_stop"}));
        self.ended = true;
    }

    fn write(&mut self, event: &str, data: &Value) {
        let mark = self.out.len();
        self.out.extend_from_slice(b"event: ");
        self.out.extend_from_slice(event.as_bytes());
        self.out.extend_from_slice(b"\ndata: ");
        // A Value always serializes; if it ever did not, no half event goes out.
        if serde_json::to_writer(&mut self.out, data).is_err() {
            self.out.truncate(mark);
            return;
        }
        self.out.extend_from_slice(b"\n\n");
    }
}
