//! A complete provider response → OpenAI `chat.completion` (or OpenAI's error shape).

pub(crate) mod anthropic;
pub(crate) mod error;
pub(crate) mod gemini;

use bytes::Bytes;

use super::Dialect;
use super::error::error_body;
use super::openai::{Completion, fnv1a};

/// A translated response: what to answer the client with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The provider's status, except a 2xx whose body could not be read: 502.
    pub status: u16,
    pub body: Bytes,
}

pub(crate) fn translate(
    dialect: Dialect,
    model: &str,
    status: u16,
    body: &[u8],
    created: u64,
) -> Translated {
    let build: fn(&[u8], &Context<'_>) -> Option<Completion> = match dialect {
        // Already the client's format, errors included.
        Dialect::OpenAi => {
            return Translated {
                status,
                body: Bytes::copy_from_slice(body),
            };
        }
        Dialect::Anthropic => anthropic::completion,
        Dialect::Gemini => gemini::completion,
    };
    if !(200..300).contains(&status) {
        return Translated {
            status,
            body: error::translate(status, body),
        };
    }
    let fallback_id = format!("chatcmpl-{:016x}", fnv1a(body));
    let context = Context {
        model,
        fallback_id: &fallback_id,
        created,
    };
    match build(body, &context).map(|json| serde_json::to_vec(&json)) {
        Some(Ok(json)) => Translated {
            status,
            body: Bytes::from(json),
        },
        _ => Translated {
            status: 502,
            body: error_body(
                "the provider's response could not be translated to the OpenAI format",
                "api_error",
                None,
                Some("invalid_provider_response"),
            ),
        },
    }
}

/// What the response builders need besides the body.
pub(crate) struct Context<'a> {
    /// The model requested, used when the provider does not say which one answered.
    pub(crate) model: &'a str,
    /// The id used when the provider's response has none.
    pub(crate) fallback_id: &'a str,
    /// `created` when the provider gives no time.
    pub(crate) created: u64,
}
