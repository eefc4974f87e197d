//! Tollgate provider slugs and request model names, mapped to what genai-prices looks up.

use std::borrow::Cow;

/// Where a built-in provider's prices are in the genai-prices data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// One provider id in the data.
    Provider(&'static str),
    /// Hugging Face: the data prices each inference provider separately (`huggingface_novita`, …),
    /// so only a router-style `model:provider` name says which one served the request.
    HuggingFace,
    /// The data has no token prices for this provider; only configured overrides price it.
    Unpriced,
}

/// The provider id prefix of Hugging Face's inference providers in the data.
pub(super) const HUGGINGFACE_PREFIX: &str = "huggingface_";

/// Every built-in slug (docs/architecture.md). Custom providers are not guessed from their slug: a custom
/// `openai` look-alike may serve anything, so only overrides price it.
pub(super) const PROVIDERS: &[(&str, Source)] = &[
    ("openai", Source::Provider("openai")),
    ("anthropic", Source::Provider("anthropic")),
    // Azure model names are deployment names; the data's `azure` falls back to OpenAI's models.
    ("azure-openai", Source::Provider("azure")),
    ("google-ai-studio", Source::Provider("google")),
    // Vertex also serves Claude; the data's `google` falls back to Anthropic's models.
    ("google-vertex-ai", Source::Provider("google")),
    // Matches plain ids and cross-region profiles (`us.anthropic.…`) alike.
    ("aws-bedrock", Source::Provider("aws")),
    ("workers-ai", Source::Provider("cloudflare")),
    ("huggingface", Source::HuggingFace),
    // Replicate bills by compute time, not tokens.
    ("replicate", Source::Unpriced),
    ("groq", Source::Provider("groq")),
    ("mistral", Source::Provider("mistral")),
    ("cohere", Source::Provider("cohere")),
    ("deepseek", Source::Provider("deepseek")),
    ("perplexity-ai", Source::Provider("perplexity")),
    ("grok", Source::Provider("x-ai")),
    ("openrouter", Source::Provider("openrouter")),
    ("cerebras", Source::Provider("cerebras")),
    ("elevenlabs", Source::Provider("elevenlabs")),
    // Audio, image and video providers bill per character, second or image.
    ("cartesia", Source::Unpriced),
    ("fal", Source::Unpriced),
    ("ideogram", Source::Unpriced),
];

/// Where a slug's prices are; `Unpriced` for custom providers.
pub(super) fn source(slug: &str) -> Source {
    PROVIDERS
        .iter()
        .find(|(known, _)| *known == slug)
        .map_or(Source::Unpriced, |(_, source)| *source)
}

/// The model name as prices are looked up (overrides included): trimmed, without the
/// `models/` prefix Gemini uses, and for Google without a resource path (`publishers/google/
/// models/…`) or method (`:generateContent`). Bedrock's `:0` version suffix is part of its name.
pub(super) fn normalise_model<'m>(slug: &str, model: &'m str) -> &'m str {
    let model = model.trim();
    let model = model.strip_prefix("models/").unwrap_or(model);
    if slug.starts_with("google-") {
        let model = model
            .rsplit_once("/models/")
            .map_or(model, |(_, name)| name);
        return model.split_once(':').map_or(model, |(name, _)| name);
    }
    model
}

/// The genai-prices provider id and model reference for a normalised model name.
pub(super) fn lookup_ref<'m>(slug: &str, model: &'m str) -> Option<(Cow<'static, str>, &'m str)> {
    match source(slug) {
        Source::Provider(id) => Some((Cow::Borrowed(id), model)),
        Source::HuggingFace => {
            let (name, provider) = model.rsplit_once(':')?;
            let valid = !provider.is_empty()
                && provider
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            valid.then(|| (Cow::Owned(format!("{HUGGINGFACE_PREFIX}{provider}")), name))
        }
        Source::Unpriced => None,
    }
}
