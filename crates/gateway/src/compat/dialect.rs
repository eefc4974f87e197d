//! The wire formats the unified endpoint translates to (each provider's is in its descriptor,
//! `providers::BuiltinProvider::dialect`), and the `{provider}/{model}` split of the compat `model`.

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
