//! The OpenAI Chat Completions request read once into [`Chat`]: validated, provider-neutral,
//! borrowing from the parsed JSON. Errors name the field as OpenAI does (`messages[2].content`).

use serde_json::{Number, Value};

use super::content::{self, Allow, Part};
use super::not_an_object;
use crate::compat::error::CompatError;

/// A Chat Completions request, read and checked. Fields OpenAI has but no translated provider
/// can use (`logit_bias`, `logprobs`, `service_tier`, `store`, `metadata`, `audio`, …) are not
/// read at all; see the module docs for the list of what is dropped per dialect.
#[derive(Debug)]
pub(crate) struct Chat<'a> {
    /// Text of every system and developer message, in order, wherever it stood.
    pub(crate) system: Vec<&'a str>,
    pub(crate) messages: Vec<Message<'a>>,
    pub(crate) tools: Vec<Tool<'a>>,
    pub(crate) tool_choice: Option<ToolChoice<'a>>,
    pub(crate) parallel_tool_calls: Option<bool>,
    pub(crate) stop: Vec<&'a str>,
    pub(crate) temperature: Option<&'a Number>,
    pub(crate) top_p: Option<&'a Number>,
    pub(crate) presence_penalty: Option<&'a Number>,
    pub(crate) frequency_penalty: Option<&'a Number>,
    pub(crate) seed: Option<&'a Number>,
    /// `max_completion_tokens`, else the older `max_tokens`.
    pub(crate) max_tokens: Option<u64>,
    pub(crate) response_format: ResponseFormat<'a>,
    pub(crate) n: Option<u64>,
    pub(crate) user: Option<&'a str>,
    pub(crate) stream: bool,
}

#[derive(Debug)]
pub(crate) enum Message<'a> {
    User(Vec<Part<'a>>),
    Assistant {
        /// Text only; empty strings are already dropped (providers reject empty text blocks).
        text: Vec<&'a str>,
        tool_calls: Vec<ToolCall<'a>>,
    },
    Tool {
        call_id: &'a str,
        text: Vec<&'a str>,
        /// Where it stood, for errors about it.
        param: String,
    },
}

#[derive(Debug)]
pub(crate) struct ToolCall<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    /// The parsed `function.arguments`: always a JSON object.
    pub(crate) arguments: Value,
}

#[derive(Debug)]
pub(crate) struct Tool<'a> {
    pub(crate) name: &'a str,
    pub(crate) description: Option<&'a str>,
    pub(crate) parameters: Option<&'a Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolChoice<'a> {
    Auto,
    None,
    Required,
    Function(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ResponseFormat<'a> {
    Text,
    JsonObject,
    JsonSchema { schema: Option<&'a Value> },
}

impl<'a> Chat<'a> {
    pub(crate) fn read(request: &'a Value) -> Result<Chat<'a>, CompatError> {
        let object = request.as_object().ok_or_else(not_an_object)?;
        let field = |name: &str| object.get(name).filter(|v| !v.is_null());

        let messages = field("messages")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                CompatError::invalid("messages", "messages must be a non-empty array")
            })?;
        let mut system = Vec::new();
        let mut read = Vec::with_capacity(messages.len());
        for (i, message) in messages.iter().enumerate() {
            read_message(message, i, &mut system, &mut read)?;
        }

        let max_tokens = match field("max_completion_tokens") {
            Some(value) => Some(count(value, "max_completion_tokens")?),
            None => field("max_tokens")
                .map(|value| count(value, "max_tokens"))
                .transpose()?,
        };
        Ok(Chat {
            system,
            messages: read,
            tools: field("tools").map(tools).transpose()?.unwrap_or_default(),
            tool_choice: field("tool_choice").map(tool_choice).transpose()?,
            parallel_tool_calls: field("parallel_tool_calls")
                .map(|v| {
                    v.as_bool()
                        .ok_or_else(|| must_be("parallel_tool_calls", "a boolean"))
                })
                .transpose()?,
            stop: field("stop").map(stop).transpose()?.unwrap_or_default(),
            temperature: field("temperature")
                .map(|v| number(v, "temperature"))
                .transpose()?,
            top_p: field("top_p").map(|v| number(v, "top_p")).transpose()?,
            presence_penalty: field("presence_penalty")
                .map(|v| number(v, "presence_penalty"))
                .transpose()?,
            frequency_penalty: field("frequency_penalty")
                .map(|v| number(v, "frequency_penalty"))
                .transpose()?,
            seed: field("seed").map(|v| number(v, "seed")).transpose()?,
            max_tokens,
            response_format: field("response_format")
                .map(response_format)
                .transpose()?
                .unwrap_or(ResponseFormat::Text),
            n: field("n").map(|v| count(v, "n")).transpose()?,
            user: field("user")
                .map(|v| v.as_str().ok_or_else(|| must_be("user", "a string")))
                .transpose()?,
            stream: field("stream")
                .map(|v| v.as_bool().ok_or_else(|| must_be("stream", "a boolean")))
                .transpose()?
                .unwrap_or(false),
        })
    }

    /// The instruction Anthropic gets for `response_format` (it has no JSON mode), if any.
    pub(crate) fn json_instruction(&self) -> Option<String> {
        const BASE: &str = "Respond with a single valid JSON object and nothing else: no text, \
                            no Markdown code fences before or after it.";
        match self.response_format {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject | ResponseFormat::JsonSchema { schema: None } => {
                Some(BASE.to_owned())
            }
            ResponseFormat::JsonSchema {
                schema: Some(schema),
            } => Some(format!(
                "{BASE} The object must conform to this JSON schema: {schema}"
            )),
        }
    }
}

fn must_be(param: &str, what: &str) -> CompatError {
    CompatError::invalid(param, format!("{param} must be {what}"))
}

fn number<'a>(value: &'a Value, param: &str) -> Result<&'a Number, CompatError> {
    match value {
        Value::Number(n) => Ok(n),
        _ => Err(must_be(param, "a number")),
    }
}

fn count(value: &Value, param: &str) -> Result<u64, CompatError> {
    value
        .as_u64()
        .ok_or_else(|| must_be(param, "a non-negative integer"))
}

fn read_message<'a>(
    message: &'a Value,
    i: usize,
    system: &mut Vec<&'a str>,
    out: &mut Vec<Message<'a>>,
) -> Result<(), CompatError> {
    let param = format!("messages[{i}]");
    let role = message.get("role").and_then(Value::as_str).ok_or_else(|| {
        CompatError::invalid(
            format!("{param}.role"),
            "every message needs a string `role`",
        )
    })?;
    let content = message.get("content").unwrap_or(&Value::Null);
    let content_param = format!("{param}.content");
    match role {
        "system" | "developer" => {
            system.extend(content::texts(content, &content_param)?);
        }
        "user" => out.push(Message::User(content::parts(
            content,
            &content_param,
            Allow::TextAndImages,
        )?)),
        "assistant" => {
            let mut text = content::texts(content, &content_param)?;
            text.retain(|t| !t.is_empty());
            let tool_calls = match message.get("tool_calls").filter(|v| !v.is_null()) {
                Some(calls) => tool_calls(calls, &format!("{param}.tool_calls"))?,
                None => Vec::new(),
            };
            out.push(Message::Assistant { text, tool_calls });
        }
        "tool" => {
            let call_id = message
                .get("tool_call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    CompatError::invalid(
                        format!("{param}.tool_call_id"),
                        "a tool message needs a string `tool_call_id`",
                    )
                })?;
            out.push(Message::Tool {
                call_id,
                text: content::texts(content, &content_param)?,
                param,
            });
        }
        "function" => {
            return Err(CompatError::unsupported(
                format!("{param}.role"),
                "the deprecated `function` role cannot be translated; use tools and `tool` messages",
            ));
        }
        other => {
            return Err(CompatError::invalid(
                format!("{param}.role"),
                format!("unknown role `{other}`"),
            ));
        }
    }
    Ok(())
}

fn tool_calls<'a>(calls: &'a Value, param: &str) -> Result<Vec<ToolCall<'a>>, CompatError> {
    let calls = calls.as_array().ok_or_else(|| must_be(param, "an array"))?;
    calls
        .iter()
        .enumerate()
        .map(|(j, call)| {
            let param = format!("{param}[{j}]");
            let kind = call
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("function");
            if kind != "function" {
                return Err(CompatError::unsupported(
                    format!("{param}.type"),
                    format!("tool calls of type `{kind}` cannot be translated"),
                ));
            }
            let id = call.get("id").and_then(Value::as_str).ok_or_else(|| {
                CompatError::invalid(format!("{param}.id"), "a tool call needs a string `id`")
            })?;
            let function = call.get("function");
            let name = function
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    CompatError::invalid(
                        format!("{param}.function.name"),
                        "a tool call needs a string `function.name`",
                    )
                })?;
            let arguments = function
                .and_then(|f| f.get("arguments"))
                .unwrap_or(&Value::Null);
            Ok(ToolCall {
                id,
                name,
                arguments: arguments_object(arguments, &format!("{param}.function.arguments"))?,
            })
        })
        .collect()
}

/// Anthropic's `input` and Gemini's `args` are JSON objects; OpenAI's arguments are a string
/// holding one. An empty string means no arguments. Anything else cannot be sent on faithfully,
/// so it is refused rather than guessed at.
fn arguments_object(arguments: &Value, param: &str) -> Result<Value, CompatError> {
    let parsed = match arguments {
        Value::Null => return Ok(Value::Object(Default::default())),
        Value::String(s) if s.trim().is_empty() => return Ok(Value::Object(Default::default())),
        Value::String(s) => serde_json::from_str::<Value>(s).ok(),
        // Some clients send the object itself.
        Value::Object(_) => Some(arguments.clone()),
        _ => None,
    };
    parsed.filter(Value::is_object).ok_or_else(|| {
        CompatError::invalid(
            param,
            format!("{param} must be a JSON object encoded as a string"),
        )
    })
}

fn tools(value: &Value) -> Result<Vec<Tool<'_>>, CompatError> {
    let tools = value
        .as_array()
        .ok_or_else(|| must_be("tools", "an array"))?;
    tools
        .iter()
        .enumerate()
        .map(|(i, tool)| {
            let param = format!("tools[{i}]");
            let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
            if kind != "function" {
                return Err(CompatError::unsupported(
                    format!("{param}.type"),
                    format!("tools of type `{kind}` cannot be translated; only `function` tools"),
                ));
            }
            let function = tool.get("function");
            let name = function
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    CompatError::invalid(
                        format!("{param}.function.name"),
                        "a function tool needs a `name`",
                    )
                })?;
            let parameters = function
                .and_then(|f| f.get("parameters"))
                .filter(|p| !p.is_null());
            if parameters.is_some_and(|p| !p.is_object()) {
                return Err(must_be(
                    &format!("{param}.function.parameters"),
                    "a JSON schema object",
                ));
            }
            Ok(Tool {
                name,
                description: function
                    .and_then(|f| f.get("description"))
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty()),
                parameters,
            })
        })
        .collect()
}

fn tool_choice(value: &Value) -> Result<ToolChoice<'_>, CompatError> {
    match value {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(CompatError::invalid(
                "tool_choice",
                format!(
                    "unknown tool_choice `{other}`; expected auto, none, required or a function"
                ),
            )),
        },
        Value::Object(_) => {
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
            let name = value
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match (kind, name) {
                ("function", Some(name)) => Ok(ToolChoice::Function(name)),
                ("function", None) => Err(CompatError::invalid(
                    "tool_choice.function.name",
                    "tool_choice needs `function.name`",
                )),
                (other, _) => Err(CompatError::unsupported(
                    "tool_choice.type",
                    format!("tool_choice of type `{other}` cannot be translated"),
                )),
            }
        }
        _ => Err(must_be("tool_choice", "a string or an object")),
    }
}

fn stop(value: &Value) -> Result<Vec<&str>, CompatError> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| must_be("stop", "a string or an array of strings"))
            })
            .collect(),
        _ => Err(must_be("stop", "a string or an array of strings")),
    }
}

fn response_format(value: &Value) -> Result<ResponseFormat<'_>, CompatError> {
    match value.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => Ok(ResponseFormat::JsonSchema {
            schema: value
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .filter(|s| s.is_object()),
        }),
        Some(other) => Err(CompatError::unsupported(
            "response_format.type",
            format!("response_format of type `{other}` cannot be translated"),
        )),
        None => Err(CompatError::invalid(
            "response_format.type",
            "response_format needs a `type`",
        )),
    }
}
