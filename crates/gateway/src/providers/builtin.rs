//! The built-in provider table: every fact about a built-in provider that code needs (base URL,
//! credential headers, usage format, compat dialect and URL, path rules), so that no code
//! compares slugs: it asks the provider. Adding a provider, or a quirk, is one entry here.

use crate::compat::Dialect;

/// How the provider reports token usage in its responses (docs/analytics.md; read by the logs pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageFormat {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
    Cohere,
    WorkersAi,
    None,
}

/// Parts of a base URL filled in per request or from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlTemplate {
    /// The base URL is used as it is.
    Fixed,
    /// `{resource}` and `{deployment}` are the first two provider-path segments (Azure OpenAI).
    AzureDeployment,
    /// `{region}` is read from the `locations/{region}` part of the path (Vertex AI).
    VertexRegion,
    /// The path starts `bedrock-runtime/{region}/`; both segments are consumed (Bedrock).
    BedrockRegion,
    /// `{cf_account}` comes from `[providers.workers-ai] cf_account` (Workers AI).
    CloudflareAccount,
}

impl UrlTemplate {
    /// Whether configuration fills the placeholders (so the unified endpoint, whose path supplies
    /// nothing, can use the template), rather than the native route's path.
    pub fn is_filled_by_configuration(self) -> bool {
        self == UrlTemplate::CloudflareAccount
    }
}

/// Where the provider's OpenAI-compatible API (the unified endpoint's target) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompatBase {
    /// At the native base URL.
    Native,
    /// Beside it: the base URL's last segment `native` becomes `compat` (Workers AI's
    /// `…/ai/run` → `…/ai/v1`). A configured base URL not ending in `native` is used as it is.
    Sibling {
        native: &'static str,
        compat: &'static str,
    },
}

#[derive(Debug)]
pub struct BuiltinProvider {
    pub slug: &'static str,
    pub base_url: &'static str,
    pub template: UrlTemplate,
    /// Request headers that carry the provider credential: part of the cache key, always redacted.
    pub credential_headers: &'static [&'static str],
    pub usage: UsageFormat,
    /// The wire format its chat API speaks: what the unified endpoint translates to.
    pub dialect: Dialect,
    pub compat_base: CompatBase,
    /// Model names are path segments starting with `@` (Workers AI's `@cf/…`, `@hf/…`), so the
    /// path guard lets `@` open a segment for this provider only.
    pub allows_at_segments: bool,
}

impl BuiltinProvider {
    /// An OpenAI-dialect provider without quirks; the `with_*` methods add them.
    const fn new(
        slug: &'static str,
        base_url: &'static str,
        template: UrlTemplate,
        credential_headers: &'static [&'static str],
        usage: UsageFormat,
    ) -> BuiltinProvider {
        BuiltinProvider {
            slug,
            base_url,
            template,
            credential_headers,
            usage,
            dialect: Dialect::OpenAi,
            compat_base: CompatBase::Native,
            allows_at_segments: false,
        }
    }

    const fn with_dialect(mut self, dialect: Dialect) -> BuiltinProvider {
        self.dialect = dialect;
        self
    }

    const fn with_compat_base(mut self, compat_base: CompatBase) -> BuiltinProvider {
        self.compat_base = compat_base;
        self
    }

    const fn with_at_segments(mut self) -> BuiltinProvider {
        self.allows_at_segments = true;
        self
    }
}

const BEARER: &[&str] = &["authorization"];

macro_rules! provider {
    ($slug:literal, $base:literal, $template:ident, $creds:expr, $usage:ident) => {
        BuiltinProvider::new(
            $slug,
            $base,
            UrlTemplate::$template,
            $creds,
            UsageFormat::$usage,
        )
    };
}

pub static BUILTIN: &[BuiltinProvider] = &[
    provider!("openai", "https://api.openai.com/v1", Fixed, BEARER, OpenAi),
    provider!(
        "anthropic",
        "https://api.anthropic.com",
        Fixed,
        &["x-api-key", "authorization"],
        Anthropic
    )
    .with_dialect(Dialect::Anthropic),
    provider!(
        "azure-openai",
        "https://{resource}.openai.azure.com/openai/deployments/{deployment}",
        AzureDeployment,
        &["api-key", "authorization"],
        OpenAi
    ),
    provider!(
        "google-ai-studio",
        "https://generativelanguage.googleapis.com",
        Fixed,
        &["x-goog-api-key", "authorization"],
        Gemini
    )
    .with_dialect(Dialect::Gemini),
    provider!(
        "google-vertex-ai",
        "https://{region}-aiplatform.googleapis.com",
        VertexRegion,
        BEARER,
        Gemini
    ),
    provider!(
        "aws-bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        BedrockRegion,
        &["authorization", "x-amz-security-token"],
        Bedrock
    ),
    provider!(
        "workers-ai",
        "https://api.cloudflare.com/client/v4/accounts/{cf_account}/ai/run",
        CloudflareAccount,
        BEARER,
        WorkersAi
    )
    .with_compat_base(CompatBase::Sibling {
        native: "run",
        compat: "v1",
    })
    .with_at_segments(),
    provider!(
        "huggingface",
        "https://api-inference.huggingface.co/models",
        Fixed,
        BEARER,
        OpenAi
    ),
    provider!(
        "replicate",
        "https://api.replicate.com/v1",
        Fixed,
        BEARER,
        None
    ),
    provider!(
        "groq",
        "https://api.groq.com/openai/v1",
        Fixed,
        BEARER,
        OpenAi
    ),
    provider!("mistral", "https://api.mistral.ai", Fixed, BEARER, OpenAi),
    provider!("cohere", "https://api.cohere.ai", Fixed, BEARER, Cohere),
    provider!(
        "deepseek",
        "https://api.deepseek.com",
        Fixed,
        BEARER,
        OpenAi
    ),
    provider!(
        "perplexity-ai",
        "https://api.perplexity.ai",
        Fixed,
        BEARER,
        OpenAi
    ),
    provider!("grok", "https://api.x.ai", Fixed, BEARER, OpenAi),
    provider!(
        "openrouter",
        "https://openrouter.ai/api",
        Fixed,
        BEARER,
        OpenAi
    ),
    provider!(
        "cerebras",
        "https://api.cerebras.ai/v1",
        Fixed,
        BEARER,
        OpenAi
    ),
    provider!(
        "elevenlabs",
        "https://api.elevenlabs.io",
        Fixed,
        &["xi-api-key"],
        None
    ),
    provider!(
        "cartesia",
        "https://api.cartesia.ai",
        Fixed,
        &["x-api-key", "authorization"],
        None
    ),
    provider!("fal", "https://fal.run", Fixed, BEARER, None),
    provider!(
        "ideogram",
        "https://api.ideogram.ai",
        Fixed,
        &["api-key"],
        None
    ),
];

/// The built-in provider called `slug`, if there is one.
pub fn builtin(slug: &str) -> Option<&'static BuiltinProvider> {
    BUILTIN.iter().find(|p| p.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the unified endpoint speaks to a provider: its entry's dialect, and OpenAI's for
    /// any slug without one (custom providers).
    fn dialect_for(slug: &str) -> Dialect {
        builtin(slug).map_or(Dialect::OpenAi, |p| p.dialect)
    }

    #[test]
    fn dialects_by_slug() {
        assert_eq!(dialect_for("anthropic"), Dialect::Anthropic);
        assert_eq!(dialect_for("google-ai-studio"), Dialect::Gemini);
        for slug in [
            "openai",
            "groq",
            "workers-ai",
            "google-vertex-ai",
            "custom-x",
            "",
        ] {
            assert_eq!(dialect_for(slug), Dialect::OpenAi, "{slug}");
        }
    }

    #[test]
    fn only_workers_ai_has_at_segments_and_a_sibling_compat_base() {
        let quirky: Vec<&str> = BUILTIN
            .iter()
            .filter(|p| p.allows_at_segments || p.compat_base != CompatBase::Native)
            .map(|p| p.slug)
            .collect();
        assert_eq!(quirky, ["workers-ai"]);
    }
}
