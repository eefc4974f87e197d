//! The built-in provider table: default base URL, credential headers and usage format per slug.

/// How the provider reports token usage in its responses (SPEC §8; read by the logs pipeline).
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

#[derive(Debug)]
pub struct BuiltinProvider {
    pub slug: &'static str,
    pub base_url: &'static str,
    pub template: UrlTemplate,
    /// Request headers that carry the provider credential: part of the cache key, always redacted.
    pub credential_headers: &'static [&'static str],
    pub usage: UsageFormat,
}

const BEARER: &[&str] = &["authorization"];

macro_rules! provider {
    ($slug:literal, $base:literal, $template:ident, $creds:expr, $usage:ident) => {
        BuiltinProvider {
            slug: $slug,
            base_url: $base,
            template: UrlTemplate::$template,
            credential_headers: $creds,
            usage: UsageFormat::$usage,
        }
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
    ),
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
    ),
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
    ),
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
