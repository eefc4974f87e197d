//! Llama-Guard guardrails (docs/guardrails.md): the gateway's `guardrails` field (per category
//! and direction, FLAG or BLOCK), the text of a prompt or a response cut into bounded chunks,
//! and a Llama-Guard answer read into the categories it names. The classifier calls themselves,
//! with their log rows, are made on the request's path (`crate::proxy`, `guardrails.rs`).

mod settings;
mod text;
mod verdict;

pub use settings::{Category, Direction, GuardAction, GuardrailSettings, Rules, lenient_settings};
pub use text::{chunks, prompt_text, response_text};
pub use verdict::{Verdict, parse_answer};

#[cfg(test)]
mod tests;
