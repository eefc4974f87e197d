//! Deterministic reply text, token counts and ids shared by every wire format.

use serde_json::Value;

use crate::behavior::Behavior;

/// Fixed so that identical requests produce byte-identical responses.
pub(crate) const CREATED: u64 = 1_700_000_000;

/// How many words of the last user message the reply echoes.
const ECHO_WORDS: usize = 8;

/// One parsed request, plus what every format needs to answer it.
pub(crate) struct Ctx<'a> {
    pub(crate) json: Value,
    /// FNV-1a of the raw body (without `stream_options`): ids derive from it instead of
    /// randomness, and a stream is the same response whether or not usage was asked for.
    pub(crate) hash: u64,
    /// From `x-mock-cached-tokens`.
    pub(crate) cached: u64,
    pub(crate) behavior: &'a Behavior,
}

impl<'a> Ctx<'a> {
    /// None when the body is not JSON (an empty body counts as `null`).
    pub(crate) fn new(body: &[u8], behavior: &'a Behavior, cached: u64) -> Option<Ctx<'a>> {
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).ok()?
        };
        let hash = match json.as_object() {
            Some(object) if object.contains_key("stream_options") => {
                let mut without = object.clone();
                without.shift_remove("stream_options");
                fnv1a(&serde_json::to_vec(&without).unwrap_or_default())
            }
            _ => fnv1a(body),
        };
        Some(Ctx {
            json,
            hash,
            cached,
            behavior,
        })
    }

    pub(crate) fn streaming(&self) -> bool {
        self.json["stream"].as_bool() == Some(true)
    }

    pub(crate) fn model(&self) -> &str {
        self.json["model"].as_str().unwrap_or("mock-model")
    }

    pub(crate) fn id(&self, prefix: &str) -> String {
        format!("{prefix}{:016x}", self.hash)
    }
}

/// The reply and its token accounting.
pub(crate) struct Reply {
    pub(crate) text: String,
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
}

impl Reply {
    /// `prompt_words` counts every message text; `last_user` is the text the reply echoes.
    pub(crate) fn new(prompt_words: u64, last_user: &str) -> Reply {
        let echoed: Vec<&str> = last_user.split_whitespace().take(ECHO_WORDS).collect();
        let text = if echoed.is_empty() {
            "Hello!".to_owned()
        } else {
            format!("Hello! You said: {}", echoed.join(" "))
        };
        Reply {
            completion_tokens: words(&text),
            text,
            prompt_tokens: prompt_words.max(1),
        }
    }

    /// One streaming delta per word; concatenated they give back `text`.
    pub(crate) fn chunks(&self) -> Vec<String> {
        self.text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_owned()
                } else {
                    format!(" {w}")
                }
            })
            .collect()
    }

    pub(crate) fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

pub(crate) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The text of a message `content` in any of the formats' shapes: a string, or an array of
/// strings / parts carrying a `text` field (image and tool parts contribute nothing).
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.as_str().or_else(|| p["text"].as_str()))
                .collect();
            texts.join(" ")
        }
        _ => String::new(),
    }
}

/// Stable across Rust versions and platforms, unlike `DefaultHasher`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
