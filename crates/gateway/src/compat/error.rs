//! Requests that cannot be translated, and the OpenAI error shape every compat error is sent in.

use bytes::Bytes;
use serde::Serialize;

/// Why a Chat Completions request could not be translated. Always a client error (400), sent
/// with [`CompatError::to_body`] in OpenAI's error shape so SDKs raise their usual `BadRequestError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompatError {
    /// The body is not a valid Chat Completions request.
    #[error("{message}")]
    Invalid {
        message: String,
        /// Where, as OpenAI names it: `messages[2].content[0].image_url.url`.
        param: Option<String>,
    },
    /// Valid for OpenAI, but the provider has no equivalent (`n` > 1 on Anthropic, audio input, …).
    #[error("{message}")]
    Unsupported {
        message: String,
        param: Option<String>,
    },
}

impl CompatError {
    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> CompatError {
        CompatError::Invalid {
            message: message.into(),
            param: Some(param.into()),
        }
    }

    pub(crate) fn unsupported(param: impl Into<String>, message: impl Into<String>) -> CompatError {
        CompatError::Unsupported {
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        400
    }

    pub fn param(&self) -> Option<&str> {
        match self {
            CompatError::Invalid { param, .. } | CompatError::Unsupported { param, .. } => {
                param.as_deref()
            }
        }
    }

    /// `{"error":{"message","type":"invalid_request_error","param","code"}}`; `code` is
    /// `unsupported_parameter` for [`CompatError::Unsupported`], else null (as OpenAI does).
    pub fn to_body(&self) -> Bytes {
        let code = match self {
            CompatError::Invalid { .. } => None,
            CompatError::Unsupported { .. } => Some("unsupported_parameter"),
        };
        error_body(
            &self.to_string(),
            "invalid_request_error",
            self.param(),
            code,
        )
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

/// OpenAI's error body. Serializing these plain strings cannot fail; the fallback keeps the
/// no-panic rule without pretending otherwise.
pub(crate) fn error_body(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Bytes {
    let envelope = Envelope {
        error: ErrorObject {
            message,
            kind,
            param,
            code,
        },
    };
    serde_json::to_vec(&envelope).map_or_else(|_| Bytes::from_static(b"{}"), Bytes::from)
}
