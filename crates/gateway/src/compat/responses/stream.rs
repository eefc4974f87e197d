//! OpenAI `chat.completion.chunk` SSE → OpenAI Responses stream events: `response.created`,
//! `response.in_progress`, per output item `response.output_item.added` … `.done` (text:
//! `content_part` and `output_text` deltas; function calls: `function_call_arguments` deltas),
//! and `response.completed` (or `response.incomplete`) with the usage.

use bytes::Bytes;
use serde_json::{Value, json};

use super::response::{
    Finish, ResponseContext, finish, function_call_item, message_item, output_text,
};
use crate::compat::openai::chunk_parts;
use crate::usage::sse::SseParser;

/// Translates one streamed chat completion; `push` every upstream chunk and forward what it
/// returns, `finish` at the upstream's clean end. The request must have asked for usage
/// (`include_usage`): it comes after the last choice, and `response.completed` carries it.
#[derive(Debug)]
pub struct ResponsesStream {
    parser: SseParser,
    out: Vec<u8>,
    context: ResponseContext,
    model: String,
    created_at: u64,
    sequence: u64,
    started: bool,
    items: Vec<Item>,
    /// The index in `items` of the item still receiving deltas.
    open: Option<usize>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    /// The final event (or a failure) went out: nothing more will.
    ended: bool,
}

#[derive(Debug)]
enum Item {
    Message {
        id: String,
        text: String,
    },
    Call {
        /// The chat stream's tool-call index it is built from.
        index: u64,
        call_id: String,
        name: String,
        arguments: String,
    },
}

impl Item {
    fn id(&self) -> String {
        match self {
            Item::Message { id, .. } => id.clone(),
            Item::Call { call_id, .. } => format!("fc_{call_id}"),
        }
    }

    fn done(&self) -> Value {
        match self {
            Item::Message { id, text } => message_item(id, text, "completed"),
            Item::Call {
                call_id,
                name,
                arguments,
                ..
            } => function_call_item(call_id, name, arguments, "completed"),
        }
    }
}

impl ResponsesStream {
    pub fn new(context: ResponseContext) -> ResponsesStream {
        ResponsesStream {
            parser: SseParser::new(),
            out: Vec::new(),
            model: context.model.clone(),
            created_at: context.created_at,
            context,
            sequence: 0,
            started: false,
            items: Vec::new(),
            open: None,
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

    /// The upstream ended. A stream that never said `[DONE]` gets no `response.completed`:
    /// the client can tell it was cut.
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
            self.fail(error);
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
        if let Some(model) = chunk
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            model.clone_into(&mut self.model);
        }
        if let Some(created) = chunk
            .get("created")
            .and_then(Value::as_u64)
            .filter(|c| *c > 0)
        {
            self.created_at = created;
        }
        let response = self.object(Finish::InProgress, Vec::new(), None);
        self.write(
            "response.created",
            json!({"type": "response.created", "response": response}),
        );
        let response = self.object(Finish::InProgress, Vec::new(), None);
        self.write(
            "response.in_progress",
            json!({"type": "response.in_progress", "response": response}),
        );
    }

    fn text(&mut self, text: &str) {
        let output_index = match self.open.map(|i| (i, &self.items[i])) {
            Some((i, Item::Message { .. })) => i,
            _ => {
                self.close();
                let id = self.context.message_id();
                let output_index = self.items.len();
                self.write(
                    "response.output_item.added",
                    json!({"type": "response.output_item.added", "output_index": output_index,
                        "item": message_item(&id, "", "in_progress")}),
                );
                self.write(
                    "response.content_part.added",
                    json!({"type": "response.content_part.added", "item_id": id,
                        "output_index": output_index, "content_index": 0, "part": output_text("")}),
                );
                self.items.push(Item::Message {
                    id,
                    text: String::new(),
                });
                self.open = Some(output_index);
                output_index
            }
        };
        let Item::Message { id, text: all } = &mut self.items[output_index] else {
            return;
        };
        all.push_str(text);
        let id = id.clone();
        self.write(
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "item_id": id, "output_index": output_index,
                "content_index": 0, "delta": text, "logprobs": []}),
        );
    }

    fn tool_call(&mut self, call: &Value) {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let function = call.get("function").unwrap_or(&Value::Null);
        let output_index = match self.open.map(|i| (i, &self.items[i])) {
            Some((i, Item::Call { index: open, .. })) if *open == index => i,
            _ => {
                self.close();
                let call_id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let name = function
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let output_index = self.items.len();
                self.write(
                    "response.output_item.added",
                    json!({"type": "response.output_item.added", "output_index": output_index,
                        "item": function_call_item(&call_id, &name, "", "in_progress")}),
                );
                self.items.push(Item::Call {
                    index,
                    call_id,
                    name,
                    arguments: String::new(),
                });
                self.open = Some(output_index);
                output_index
            }
        };
        let Some(delta) = function
            .get("arguments")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        else {
            return;
        };
        let Item::Call { arguments, .. } = &mut self.items[output_index] else {
            return;
        };
        arguments.push_str(delta);
        let item_id = self.items[output_index].id();
        self.write(
            "response.function_call_arguments.delta",
            json!({"type": "response.function_call_arguments.delta", "item_id": item_id,
                "output_index": output_index, "delta": delta}),
        );
    }

    /// The open item is complete: its `.done` events.
    fn close(&mut self) {
        let Some(output_index) = self.open.take() else {
            return;
        };
        let item_id = self.items[output_index].id();
        let done = self.items[output_index].done();
        match &self.items[output_index] {
            Item::Message { text, .. } => {
                let text = text.clone();
                self.write(
                    "response.output_text.done",
                    json!({"type": "response.output_text.done", "item_id": item_id,
                        "output_index": output_index, "content_index": 0, "text": text, "logprobs": []}),
                );
                self.write(
                    "response.content_part.done",
                    json!({"type": "response.content_part.done", "item_id": item_id,
                        "output_index": output_index, "content_index": 0, "part": output_text(&text)}),
                );
            }
            Item::Call {
                name, arguments, ..
            } => {
                let event = json!({"type": "response.function_call_arguments.done",
                    "item_id": item_id, "output_index": output_index, "name": name, "arguments": arguments});
                self.write("response.function_call_arguments.done", event);
            }
        }
        self.write(
            "response.output_item.done",
            json!({"type": "response.output_item.done", "output_index": output_index, "item": done}),
        );
    }

    /// `[DONE]`: the last item closes, then the whole response with its usage.
    fn end(&mut self) {
        self.start(&Value::Null);
        self.close();
        let finish = finish(self.finish_reason.as_deref());
        let output = self.items.iter().map(Item::done).collect();
        let usage = self.usage.take();
        let response = self.object(finish, output, usage.as_ref());
        let kind = match finish {
            Finish::Incomplete(_) => "response.incomplete",
            Finish::Completed | Finish::InProgress => "response.completed",
        };
        self.write(kind, json!({"type": kind, "response": response}));
        self.ended = true;
    }

    /// A provider error mid-stream: `response.failed` with its message, and the end.
    fn fail(&mut self, error: &Value) {
        self.start(&Value::Null);
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the provider's stream failed");
        let mut response = self.object(Finish::InProgress, Vec::new(), None);
        response["status"] = json!("failed");
        response["error"] = json!({"code": "server_error", "message": message});
        self.write(
            "response.failed",
            json!({"type": "response.failed", "response": response}),
        );
        self.ended = true;
    }

    fn object(&self, finish: Finish, output: Vec<Value>, usage: Option<&Value>) -> Value {
        self.context
            .object(&self.model, self.created_at, finish, output, usage)
    }

    fn write(&mut self, event: &str, mut data: Value) {
        if let Some(object) = data.as_object_mut() {
            object.insert("sequence_number".to_owned(), json!(self.sequence));
        }
        self.sequence += 1;
        let mark = self.out.len();
        self.out.extend_from_slice(b"event: ");
        self.out.extend_from_slice(event.as_bytes());
        self.out.extend_from_slice(b"\ndata: ");
        // A Value always serializes; if it ever did not, no half event goes out.
        if serde_json::to_writer(&mut self.out, &data).is_err() {
            self.out.truncate(mark);
            return;
        }
        self.out.extend_from_slice(b"\n\n");
    }
}
