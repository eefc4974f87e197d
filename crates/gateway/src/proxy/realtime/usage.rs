//! Token usage read from a session's provider events as they pass: OpenAI Realtime's
//! `response.done` (`response.usage`), and Gemini Live's `usageMetadata`, summed over the
//! session. Only text messages that name these events are parsed, so audio frames cost a
//! substring search, not a JSON parse.

use serde_json::Value;

use crate::usage::{Usage, UsageFormat};

/// A message larger than this is not parsed for usage (`response.done` events are small).
const MAX_PARSED_BYTES: usize = 1024 * 1024;

/// The usage summed so far.
#[derive(Debug)]
pub struct SessionUsage {
    format: UsageFormat,
    pub usage: Option<Usage>,
}

impl SessionUsage {
    pub fn new(format: UsageFormat) -> SessionUsage {
        SessionUsage {
            format,
            usage: None,
        }
    }

    /// Reads one message from the provider.
    pub fn observe(&mut self, text: &str) {
        if text.len() > MAX_PARSED_BYTES {
            return;
        }
        let found = match self.format {
            UsageFormat::Gemini => text
                .contains("\"usageMetadata\"")
                .then(|| gemini(text))
                .flatten(),
            _ => text
                .contains("response.done")
                .then(|| openai(text))
                .flatten(),
        };
        if let Some(found) = found {
            let total = self.usage.get_or_insert_with(Usage::default);
            total.input_tokens = total.input_tokens.saturating_add(found.input_tokens);
            total.output_tokens = total.output_tokens.saturating_add(found.output_tokens);
            total.cache_read_tokens = total
                .cache_read_tokens
                .saturating_add(found.cache_read_tokens);
        }
    }
}

/// `{"type":"response.done","response":{"usage":{"input_tokens","output_tokens",
/// "input_token_details":{"cached_tokens"}}}}`; input tokens include the cached ones.
fn openai(text: &str) -> Option<Usage> {
    let event: Value = serde_json::from_str(text).ok()?;
    if event.get("type")?.as_str()? != "response.done" {
        return None;
    }
    let usage = event.get("response")?.get("usage")?;
    let count = |value: Option<&Value>| value.and_then(Value::as_u64).unwrap_or(0);
    let input = count(usage.get("input_tokens"));
    let cached = count(usage.pointer("/input_token_details/cached_tokens")).min(input);
    Some(Usage {
        input_tokens: input - cached,
        output_tokens: count(usage.get("output_tokens")),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    })
}

/// `{"usageMetadata":{"promptTokenCount","responseTokenCount"|"candidatesTokenCount",
/// "cachedContentTokenCount"}}`, one per turn.
fn gemini(text: &str) -> Option<Usage> {
    let message: Value = serde_json::from_str(text).ok()?;
    let usage = message.get("usageMetadata")?;
    let count = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    let prompt = count("promptTokenCount");
    let cached = count("cachedContentTokenCount").min(prompt);
    Some(Usage {
        input_tokens: prompt - cached,
        output_tokens: count("responseTokenCount").max(count("candidatesTokenCount")),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_done_usage_is_summed() {
        let mut session = SessionUsage::new(UsageFormat::OpenAi);
        let done = r#"{"type":"response.done","response":{"usage":{"total_tokens":30,"input_tokens":20,"output_tokens":10,"input_token_details":{"cached_tokens":5}}}}"#;
        session.observe(r#"{"type":"response.text.delta","delta":"response.done"}"#);
        session.observe(done);
        session.observe(done);
        let usage = session.usage.unwrap();
        assert_eq!(
            (
                usage.input_tokens,
                usage.cache_read_tokens,
                usage.output_tokens
            ),
            (30, 10, 20)
        );
    }

    #[test]
    fn gemini_turns_are_summed() {
        let mut session = SessionUsage::new(UsageFormat::Gemini);
        session.observe(
            r#"{"serverContent":{},"usageMetadata":{"promptTokenCount":7,"responseTokenCount":3}}"#,
        );
        let usage = session.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (7, 3));
    }
}
