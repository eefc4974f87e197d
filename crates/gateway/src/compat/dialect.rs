//! Which wire format a provider speaks, and the `{provider}/{model}` split of the compat `model`.

/// Which wire format the provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI Chat Completions (also every OpenAI-compatible provider): forwarded as it is.
    OpenAi,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini `generateContent` / `streamGenerateContent`.
    Gemini,
}

/// `anthropic` → [`Dialect::Anthropic`], `google-ai-studio` → [`Dialect::Gemini`], everything
/// else (openai, groq, mistral, custom providers, …) → [`Dialect::OpenAi`].
pub fn dialect_for(provider_slug: &str) -> Dialect {
    match provider_slug {
        "anthropic" => Dialect::Anthropic,
        "google-ai-studio" => Dialect::Gemini,
        _ => Dialect::OpenAi,
    }
}

/// `model: "{provider}/{model}"` → `(provider, model)`. The provider is everything before the
/// FIRST `/`, so the model may itself hold slashes (`workers-ai/@cf/meta/llama-3.1-8b`).
/// `None` when there is no `/`, or either side is empty.
pub fn split_model(model: &str) -> Option<(&str, &str)> {
    let (provider, bare) = model.split_once('/')?;
    (!provider.is_empty() && !bare.is_empty()).then_some((provider, bare))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_provider_ends_at_the_first_slash() {
        assert_eq!(split_model("openai/gpt-4o"), Some(("openai", "gpt-4o")));
        assert_eq!(
            split_model("workers-ai/@cf/meta/llama-3.1-8b"),
            Some(("workers-ai", "@cf/meta/llama-3.1-8b"))
        );
        assert_eq!(split_model("gpt-4o"), None);
        assert_eq!(split_model("/gpt-4o"), None);
        assert_eq!(split_model("openai/"), None);
    }
}
