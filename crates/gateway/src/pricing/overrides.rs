//! Configured prices, `[pricing.<provider>."<model>"]`: they win over the bundled data, and they
//! are the only way to price custom providers and self-hosted models.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::TokenCounts;
use crate::convert::count_as_f64;

/// One model's prices in USD per million tokens.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    pub input: f64,
    pub output: f64,
    /// Cached input (cache reads); the input price when absent.
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Cache writes; the input price when absent.
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// Overrides keyed by provider slug, then model name (as sent, without a leading `models/`).
pub type PriceOverrides = BTreeMap<String, BTreeMap<String, PriceOverride>>;

impl PriceOverride {
    /// Every price must be a finite number, zero or more (zero is a free model).
    pub fn validate(&self) -> Result<(), String> {
        let prices = [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
        ];
        for (name, price) in prices {
            if let Some(price) = price
                && !(price.is_finite() && price >= 0.0)
            {
                return Err(format!("`{name}` must be a finite number, 0 or more"));
            }
        }
        Ok(())
    }

    /// USD for `tokens`.
    pub(super) fn cost(&self, tokens: &TokenCounts) -> f64 {
        let cache_read = self.cache_read.unwrap_or(self.input);
        let cache_write = self.cache_write.unwrap_or(self.input);
        (count_as_f64(tokens.input) * self.input
            + count_as_f64(tokens.output) * self.output
            + count_as_f64(tokens.cache_read) * cache_read
            + count_as_f64(tokens.cache_write) * cache_write)
            / 1_000_000.0
    }
}

/// Checks every override; each problem names its section, for `tollgate config check`.
pub fn validate_overrides(overrides: &PriceOverrides) -> Vec<String> {
    let mut problems = Vec::new();
    for (provider, models) in overrides {
        if !crate::providers::is_valid_slug(provider) {
            problems.push(format!(
                "pricing.{provider}: a provider slug is 1-64 characters of a-z, 0-9, '-' and '_'"
            ));
        }
        for (model, price) in models {
            if model.trim().is_empty() {
                problems.push(format!(
                    "pricing.{provider}: a model name must not be empty"
                ));
            }
            if let Err(why) = price.validate() {
                problems.push(format!("{}: {why}", section(provider, model)));
            }
        }
    }
    problems
}

/// Parses the `[pricing]` table of the configuration file and validates it, reporting every
/// problem rather than the first (a typo in one model does not hide another's).
pub fn parse_overrides(value: toml::Value) -> Result<PriceOverrides, Vec<String>> {
    let toml::Value::Table(providers) = value else {
        return Err(vec![
            "pricing: expected a table of providers, each a table of models".into(),
        ]);
    };
    let mut problems = Vec::new();
    let mut overrides = PriceOverrides::new();
    for (provider, models) in providers {
        let toml::Value::Table(models) = models else {
            problems.push(format!("pricing.{provider}: expected a table of models"));
            continue;
        };
        let mut prices = BTreeMap::new();
        for (model, price) in models {
            match PriceOverride::deserialize(price) {
                Ok(price) => {
                    prices.insert(model, price);
                }
                Err(error) => problems.push(format!(
                    "{}: {}",
                    section(&provider, &model),
                    error.message()
                )),
            }
        }
        overrides.insert(provider, prices);
    }
    problems.extend(validate_overrides(&overrides));
    if problems.is_empty() {
        Ok(overrides)
    } else {
        Err(problems)
    }
}

fn section(provider: &str, model: &str) -> String {
    format!("pricing.{provider}.\"{model}\"")
}
