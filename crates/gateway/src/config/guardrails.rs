//! The `[guardrails]` section: which Llama-Guard-compatible classifier the gateways' guardrails
//! call, through the provider table, and how long text is cut up (docs/guardrails.md).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// The classifier every gateway's `guardrails` field uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardrailsConfig {
    /// A provider slug (built-in or `[providers.<slug>]`), called at its OpenAI-compatible
    /// `chat/completions`.
    pub provider: String,
    pub model: String,
    /// The most text one classifier call reads.
    pub chunk_bytes: usize,
    /// The most calls one prompt or one response is cut into; text beyond them is not
    /// classified (the rows say so).
    pub max_chunks: usize,
    /// How long a classifier call may take, answer included, before it counts as unreachable.
    pub timeout: Duration,
}

impl Default for GuardrailsConfig {
    fn default() -> Self {
        RawGuardrails::default().validate(&[], &mut Vec::new())
    }
}

/// The section's keys, for "did you mean".
const KEYS: &[&str] = &[
    "provider",
    "model",
    "chunk_bytes",
    "max_chunks",
    "timeout_ms",
];

#[derive(Debug, Deserialize)]
#[serde(default)]
pub(super) struct RawGuardrails {
    provider: String,
    model: String,
    chunk_bytes: u64,
    max_chunks: u64,
    timeout_ms: u64,
    /// Keys the section does not have, reported with the nearest known one.
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

impl Default for RawGuardrails {
    fn default() -> Self {
        RawGuardrails {
            provider: "workers-ai".into(),
            model: "@cf/meta/llama-guard-3-8b".into(),
            // Llama Guard 3 reads 8K tokens; 4 KiB of text is about 1K, leaving room for its
            // prompt template and keeping each call quick.
            chunk_bytes: 4096,
            max_chunks: 16,
            timeout_ms: 10_000,
            unknown: BTreeMap::new(),
        }
    }
}

impl RawGuardrails {
    /// The validated section; `custom`: the `[providers.<slug>]` slugs configured. Each bad key
    /// adds one problem naming it.
    pub(super) fn validate(self, custom: &[&str], problems: &mut Vec<String>) -> GuardrailsConfig {
        for key in self.unknown.keys() {
            problems.push(match crate::suggest::nearest(key, KEYS.iter().copied()) {
                Some(known) => format!("guardrails.{key}: unknown key; did you mean {known}?"),
                None => format!("guardrails.{key}: unknown key"),
            });
        }
        let provider = self.provider.trim().to_owned();
        if !crate::providers::is_builtin(&provider) && !custom.contains(&provider.as_str()) {
            let known = crate::providers::BUILTIN
                .iter()
                .map(|p| p.slug)
                .chain(custom.iter().copied());
            problems.push(match crate::suggest::nearest(&provider, known) {
                Some(known) => format!(
                    "guardrails.provider: `{provider}` is not a provider; did you mean {known}?"
                ),
                None => format!(
                    "guardrails.provider: `{provider}` is not a built-in provider or a \
                     [providers.<slug>] section"
                ),
            });
        }
        let model = self.model.trim().to_owned();
        if model.is_empty() || model.len() > 256 {
            problems.push("guardrails.model: must be 1 to 256 bytes".into());
        }
        let mut within = |name: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                problems.push(format!(
                    "guardrails.{name}: must be between {min} and {max}"
                ));
            }
            value.clamp(min, max)
        };
        let chunk_bytes = within("chunk_bytes", self.chunk_bytes, 256, 64 * 1024);
        let max_chunks = within("max_chunks", self.max_chunks, 1, 64);
        let timeout_ms = within("timeout_ms", self.timeout_ms, 100, 120_000);
        GuardrailsConfig {
            provider,
            model,
            chunk_bytes: crate::convert::saturating_usize(chunk_bytes),
            max_chunks: crate::convert::saturating_usize(max_chunks),
            timeout: Duration::from_millis(timeout_ms),
        }
    }
}
