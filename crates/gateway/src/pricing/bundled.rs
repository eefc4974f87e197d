//! The genai-prices data: matching a request's model once, then pricing it at the request's time.
//!
//! The crate's own calculator does the pricing, so price history (start dates), time-of-day
//! rates (DeepSeek's off-peak) and long-context tiers (Claude, Gemini above 200k input tokens)
//! all apply. Its model matching (rules per model, a dated-name retry, fallback providers) runs
//! once per distinct name; afterwards each request is priced by the matched model's own id, and
//! mostly by flat rates read back from the calculator once per half-hour ([`super::flat`]).

use std::sync::Arc;
use std::time::SystemTime;

use genai_prices::{Calculator, PriceCalculation, PriceRequest, Usage, UsageKey};

use super::TokenCounts;
use super::cache::Priced;
use super::flat::FlatRates;
use super::names::{self, HUGGINGFACE_PREFIX, Source};
use crate::convert::count_as_f64;

/// A model found in the data: the provider id and a name that matches it directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resolved {
    pub(super) provider: &'static str,
    pub(super) model: Arc<str>,
}

#[derive(Debug)]
pub(super) struct Bundled {
    calculator: &'static Calculator,
}

impl Bundled {
    /// The data embedded in the crate, decoded once per process.
    pub(super) fn load() -> anyhow::Result<Bundled> {
        // The crate decodes its JSON in a lazy static that panics on broken data (its own tests
        // guard against that); catching it turns a broken release into a startup error.
        let calculator = std::panic::catch_unwind(Calculator::bundled)
            .map_err(|_| anyhow::anyhow!("the genai-prices bundled price data does not decode"))?;
        Ok(Bundled { calculator })
    }

    /// Matches `model` (already normalised) under the provider `slug` maps to.
    pub(super) fn resolve(&self, slug: &str, model: &str) -> Option<Resolved> {
        self.resolve_to_id(slug, model)
            .map(|(resolved, _)| resolved)
    }

    /// [`Bundled::resolve`], and the data id of the model it matched.
    fn resolve_to_id(&self, slug: &str, model: &str) -> Option<(Resolved, String)> {
        let (provider_id, model_ref) = names::lookup_ref(slug, model)?;
        let (matched_provider, matched_id) = self.matched_id(&provider_id, model_ref)?;
        // Only the provider asked for: the crate would also accept an alias (`huggingface_openai`
        // would find OpenAI), which is not where a Hugging Face request was served.
        if matched_provider != provider_id {
            return None;
        }
        let provider = self.static_provider_id(&matched_provider)?;
        // Pricing by the matched id skips the dated-name retry on every request, but some ids
        // are labels no request name matches (`regional.anthropic.…`); those keep the request's.
        let by_id = self
            .matched_id(provider, &matched_id)
            .is_some_and(|again| again.1 == matched_id);
        let model = if by_id {
            matched_id.as_str()
        } else {
            model_ref
        };
        let resolved = Resolved {
            provider,
            model: Arc::from(model),
        };
        Some((resolved, matched_id))
    }

    /// USD for `tokens` at `at`; `None` only if the crate refuses the calculation. The model's
    /// flat rates price it when they hold (see [`super::flat`]), the crate's calculator otherwise.
    pub(super) fn cost(
        &self,
        priced: &Priced,
        tokens: &TokenCounts,
        at: jiff::Timestamp,
    ) -> Option<f64> {
        let latest = priced.flat();
        match latest.as_deref() {
            Some(flat) if flat.holds_at(at) => {
                if let Some(cost) = flat.cost(tokens) {
                    return Some(cost);
                }
            }
            // Older than the latest record (a long request finishing late): priced directly.
            Some(flat) if !flat.ended_by(at) => {}
            _ => {
                if let Some(fresh) = self.flat_rates(&priced.resolved, at) {
                    priced.set_flat(fresh);
                    if let Some(cost) = fresh.cost(tokens) {
                        return Some(cost);
                    }
                }
            }
        }
        let resolved = &priced.resolved;
        let at = SystemTime::try_from(at).ok()?;
        match self.calculate(resolved, tokens, at) {
            Ok(price) => Some(price.total_price),
            Err(error) => {
                tracing::warn!(%error, provider = resolved.provider, model = %resolved.model,
                    "could not price a request");
                None
            }
        }
    }

    /// The model's flat rates for the stretch of time holding `at`.
    pub(super) fn flat_rates(&self, resolved: &Resolved, at: jiff::Timestamp) -> Option<FlatRates> {
        let at_time = SystemTime::try_from(at).ok()?;
        FlatRates::derive(at, |tokens| self.calculate(resolved, tokens, at_time).ok())
    }

    /// The crate's price for `tokens` at `at`, by the resolved model's own id.
    pub(super) fn calculate(
        &self,
        resolved: &Resolved,
        tokens: &TokenCounts,
        at: SystemTime,
    ) -> genai_prices::Result<PriceCalculation> {
        let usage = usage(tokens);
        let request = PriceRequest::new(&resolved.model, &usage)
            .with_provider_id(resolved.provider)
            .with_timestamp(at);
        self.calculator.calculate(&request)
    }

    /// Every (slug, model name) `cost` prices, named by the data's model ids: the slug's own
    /// provider's models and those it falls back to (Azure serves OpenAI's, Vertex Anthropic's),
    /// Hugging Face's as `id:provider`. Ids that are labels matching no request name (Bedrock's
    /// `regional.anthropic.…`) are left out: those models are priced but not listed.
    pub(super) fn models(&self) -> Vec<(&'static str, String)> {
        let mut models = Vec::new();
        for (slug, source) in names::PROVIDERS {
            // The crate does not expose fallback providers, so every provider's ids are tried.
            for provider in self.calculator.providers() {
                let name = |id: &str| match source {
                    Source::Provider(_) => Some(id.to_owned()),
                    Source::HuggingFace => provider
                        .id()
                        .strip_prefix(HUGGINGFACE_PREFIX)
                        .map(|served_by| format!("{id}:{served_by}")),
                    Source::Unpriced => None,
                };
                for model in provider.models() {
                    let Some(name) = name(model.id()) else {
                        continue;
                    };
                    // Only names that match the model they name: `claude-opus-4-5` also finds a
                    // Bedrock model, but is not what Bedrock calls it.
                    let matched = self.resolve_to_id(slug, names::normalise_model(slug, &name));
                    if matched.is_some_and(|(_, id)| id == model.id()) {
                        models.push((*slug, name));
                    }
                }
            }
        }
        models
    }

    /// The (provider id, model id) the crate matches for a name, from its own rules.
    fn matched_id(&self, provider_id: &str, model: &str) -> Option<(String, String)> {
        let usage = Usage::from([(UsageKey::INPUT_TOKENS, 1.0)]);
        let request = PriceRequest::new(model, &usage).with_provider_id(provider_id);
        let price = self.calculator.calculate(&request).ok()?;
        Some((price.provider_id, price.model_id))
    }

    /// The data's own copy of a provider id, which lives as long as the process.
    fn static_provider_id(&self, id: &str) -> Option<&'static str> {
        self.calculator
            .providers()
            .map(|provider| provider.id())
            .find(|known| *known == id)
    }
}

/// The crate counts cache reads and writes inside `input_tokens` and prices each leaf once: a
/// model without a cache-read (or cache-write) price charges those tokens at its input price.
fn usage(tokens: &TokenCounts) -> Usage {
    let input = tokens
        .input
        .saturating_add(tokens.cache_read)
        .saturating_add(tokens.cache_write);
    let mut usage = Usage::from([
        (UsageKey::INPUT_TOKENS, count_as_f64(input)),
        (UsageKey::OUTPUT_TOKENS, count_as_f64(tokens.output)),
    ]);
    if tokens.cache_read > 0 {
        usage.insert(UsageKey::CACHE_READ_TOKENS, count_as_f64(tokens.cache_read));
    }
    if tokens.cache_write > 0 {
        usage.insert(
            UsageKey::CACHE_WRITE_TOKENS,
            count_as_f64(tokens.cache_write),
        );
    }
    usage
}
