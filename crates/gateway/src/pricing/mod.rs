//! The price table and request cost (docs/analytics.md): USD per million tokens per provider and model.
//!
//! Prices come from the `genai-prices` crate (Pydantic's maintained, MIT-licensed price data, with
//! price history), with configured overrides on top. The parts:
//! - [`names`]: Tollgate provider slugs and request model names → the crate's provider ids.
//! - [`bundled`]: the crate's data: matching a model once, pricing it at the request's time.
//! - [`cache`]: the bounded map of resolved (provider, model) pairs the hot path reads.
//! - [`flat`]: a model's prices as per-token rates for half an hour, read back from the calculator
//!   and equal to it where they apply, so most requests skip it.
//! - [`overrides`]: `[pricing.<provider>."<model>"]` prices from configuration.
//! - [`custom`]: the `cf-aig-custom-cost` header's arithmetic.

mod bundled;
mod cache;
mod custom;
mod flat;
mod names;
mod overrides;

use std::collections::{BTreeSet, HashMap};

pub use custom::custom_cost;
pub use overrides::{PriceOverride, PriceOverrides, parse_overrides, validate_overrides};

use bundled::Bundled;
use cache::ResolvedCache;

/// Distinct (provider, model) pairs remembered at once. Real deployments see tens to hundreds;
/// the cap only matters when clients send made-up model names.
const MAX_RESOLVED: usize = 4096;

/// Token counts of one request. `input` excludes cache reads and writes (Anthropic's convention;
/// OpenAI's `prompt_tokens` includes `cached_tokens`, so subtract them before building this).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

/// Bundled prices plus configured overrides; built once at startup and shared.
#[derive(Debug)]
pub struct PriceTable {
    bundled: Bundled,
    overrides: HashMap<String, HashMap<String, PriceOverride>>,
    resolved: ResolvedCache,
}

impl PriceTable {
    /// Loads the bundled data (decoded once per process, tens of milliseconds) and checks the
    /// overrides again, so a table is never built from prices config validation would refuse.
    pub fn new(overrides: PriceOverrides) -> anyhow::Result<PriceTable> {
        let problems = validate_overrides(&overrides);
        if !problems.is_empty() {
            anyhow::bail!("invalid prices: {}", problems.join("; "));
        }
        // Keys are looked up the way request names are, so `models/gemini-x` also matches.
        let overrides = overrides
            .into_iter()
            .map(|(provider, models)| {
                let models = models
                    .into_iter()
                    .map(|(model, price)| {
                        (names::normalise_model(&provider, &model).to_owned(), price)
                    })
                    .collect();
                (provider, models)
            })
            .collect();
        Ok(PriceTable {
            bundled: Bundled::load()?,
            overrides,
            resolved: ResolvedCache::new(MAX_RESOLVED),
        })
    }

    /// USD cost, or None if the model is unknown. `at` is the request time (for price history).
    ///
    /// A configured override wins; otherwise the bundled data prices the model at `at`, with its
    /// long-context tiers and time-of-day rates. Cache reads and writes a model has no separate
    /// price for are charged at its input price. Units a [`TokenCounts`] cannot carry (images,
    /// audio seconds, web searches) are not charged; a per-request fee in the data is.
    pub fn cost(
        &self,
        provider: &str,
        model: &str,
        tokens: &TokenCounts,
        at: jiff::Timestamp,
    ) -> Option<f64> {
        let model = names::normalise_model(provider, model);
        if let Some(price) = self.overrides.get(provider).and_then(|m| m.get(model)) {
            return Some(price.cost(tokens));
        }
        let priced = self
            .resolved
            .get_or_insert_with(provider, model, || self.bundled.resolve(provider, model))?;
        self.bundled.cost(&priced, tokens, at)
    }

    /// Every (provider slug, model) the table knows, sorted and without duplicates: the bundled
    /// models each built-in slug prices (by their data ids) and every override. Computed on
    /// demand, every name matched afresh: about 60 ms in a release build for ~1,900 pairs.
    pub fn known_models(&self) -> Vec<(String, String)> {
        let mut known = BTreeSet::new();
        for (slug, model) in self.bundled.models() {
            known.insert((slug.to_owned(), model));
        }
        for (provider, models) in &self.overrides {
            for model in models.keys() {
                known.insert((provider.clone(), model.clone()));
            }
        }
        known.into_iter().collect()
    }
}

#[cfg(test)]
mod tests;
