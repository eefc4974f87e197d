//! Flat rates: a model's prices as five numbers, so a request is priced by four multiplications
//! instead of by genai-prices' calculator (~25,000 instructions: it finds the model again, builds
//! a map of usage, validates it and walks every price unit).
//!
//! The crate exposes no price data (only model ids, names and context windows), so the rates are
//! read back from `calculate` itself, with one kind of token at a time ("probes"). That is only
//! equal to `calculate` where `calculate` is linear in the token counts, which holds for the
//! crate's code (0.2.1: `Calculator::calculate`, `units::calculate_model_price`) and the bundled
//! data as follows. `tests::the_bundled_data_keeps_what_flat_rates_rely_on` checks the data half
//! against the crate's own `prices.json`; re-read the code half when upgrading the crate.
//!
//! - Time: which prices apply changes only at start dates (midnight UTC) and time-of-day bounds,
//!   all of them multiples of [`STRETCH_SECONDS`] into the UTC day. A record holds for one such
//!   stretch, the one it was derived in; the first request past its end derives the next one.
//!   DeepSeek's off-peak hours and price changes on a date are thereby exact, not a fallback.
//! - Variants (batch, flex) need a price context, which Tollgate never sends.
//! - With the prices fixed, each priced unit costs rate × its leaf count, and leaves are linear
//!   in the counts (input minus the cache tokens priced separately). A model without a separate
//!   cache price charges those tokens as input; probing input with cache tokens measures exactly
//!   that, so the convention of `bundled::usage` carries over.
//! - The exception is long-context tiers: a rate that depends on the input total (input plus
//!   cache). In the data every tiered token price rises with each tier, so the rates measured at
//!   1 token hold from 1 token up to some total and never again above it. The record finds that
//!   total by bisection ([`MAX_INPUT`] when no tier applies) and leaves larger requests, and
//!   requests with no input at all, to `calculate`.
//! - A per-request fee (Perplexity) is never tiered in the data: it is the price of no tokens.
//!
//! A model whose probes fail gets a record without rates: `calculate` prices it for the stretch.
//! Results agree with `calculate` to a few units in the last place: the crate divides rate ×
//! count by a million, this multiplies count by rate per token.

use genai_prices::PriceCalculation;

use super::TokenCounts;
use crate::convert::count_as_f64;

/// How long a record holds: every time bound in the data is a multiple of this (half-hours).
pub(super) const STRETCH_SECONDS: i64 = 1800;

/// The largest input total and output a record prices: far above any context window, and small
/// enough that every count and leaf is an exact `f64`.
pub(super) const MAX_INPUT: u64 = 1 << 40;

/// Per-token prices closer than this (relatively) are the same rate: rounding differences are
/// ~1e-16, a tier step in the data is at least 1e-6.
const SAME_RATE: f64 = 1e-12;

/// One model's prices for one stretch of time, as `calculate` charges them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct FlatRates {
    /// The stretch `[from, until)` the record was derived in and holds for.
    from: jiff::Timestamp,
    until: jiff::Timestamp,
    /// `None` when a probe failed: `calculate` prices the model until `until`.
    rates: Option<Rates>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rates {
    /// USD per token of each kind, a cache token's price including its place in the input.
    per_token: PerToken,
    /// USD per request whatever its tokens; zero for almost every model.
    per_request: f64,
    /// The largest input total (input + cache reads + cache writes) the rates hold for: the last
    /// one before the model's first long-context tier.
    max_input: u64,
}

/// USD per token of each kind at one input total, each kind measured alone.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PerToken {
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
}

impl FlatRates {
    /// The record for the stretch holding `at`, read back from `calculate`: the model's price
    /// for some tokens at `at`, `None` if the crate refuses. `None` only if `at` is out of range.
    pub(super) fn derive(
        at: jiff::Timestamp,
        calculate: impl Fn(&TokenCounts) -> Option<PriceCalculation>,
    ) -> Option<FlatRates> {
        let (from, until) = stretch(at)?;
        Some(FlatRates {
            from,
            until,
            rates: Rates::derive(&calculate),
        })
    }

    /// Whether the record holds at `at`.
    pub(super) fn holds_at(&self, at: jiff::Timestamp) -> bool {
        self.from <= at && at < self.until
    }

    /// Whether `at` is past the record's stretch, so a new one is due.
    pub(super) fn ended_by(&self, at: jiff::Timestamp) -> bool {
        at >= self.until
    }

    /// USD for `tokens` at a time the record holds, or `None` if `calculate` must price them.
    pub(super) fn cost(&self, tokens: &TokenCounts) -> Option<f64> {
        self.rates.as_ref()?.cost(tokens)
    }

    /// The largest input total the record prices (0 without rates).
    #[cfg(test)]
    fn max_input(&self) -> u64 {
        self.rates.map_or(0, |rates| rates.max_input)
    }
}

impl Rates {
    fn derive(calculate: &impl Fn(&TokenCounts) -> Option<PriceCalculation>) -> Option<Rates> {
        let empty = calculate(&TokenCounts::default())?;
        // The fee is meant to be neither input nor output; if it were, the probes would mix it in.
        if empty.input_price != 0.0 || empty.output_price != 0.0 {
            return None;
        }
        let base = PerToken::measure(calculate, 1)?;
        let max_input = if base.holds_at(calculate, MAX_INPUT)? {
            MAX_INPUT
        } else {
            // The rates hold on a prefix of input totals (tiers only rise), so bisect for its end.
            let (mut holds, mut fails) = (1, MAX_INPUT);
            while fails - holds > 1 {
                let middle = holds + (fails - holds) / 2;
                if base.holds_at(calculate, middle)? {
                    holds = middle;
                } else {
                    fails = middle;
                }
            }
            holds
        };
        Some(Rates {
            per_token: base,
            per_request: empty.total_price,
            max_input,
        })
    }

    fn cost(&self, tokens: &TokenCounts) -> Option<f64> {
        let input_total = tokens
            .input
            .checked_add(tokens.cache_read)?
            .checked_add(tokens.cache_write)?;
        if input_total == 0 && tokens.output == 0 {
            return Some(self.per_request);
        }
        // No input: a tier starting at 0 tokens would price the output differently (none does,
        // but the probes measured from 1 token on).
        if input_total == 0 || input_total > self.max_input || tokens.output > MAX_INPUT {
            return None;
        }
        let rate = &self.per_token;
        // Summed as the crate does: input-side units in price-key order, output, then the fee.
        let input = rate.cache_read * count_as_f64(tokens.cache_read)
            + rate.cache_write * count_as_f64(tokens.cache_write)
            + rate.input * count_as_f64(tokens.input);
        let output = rate.output * count_as_f64(tokens.output);
        Some(self.per_request + (input + output))
    }
}

impl PerToken {
    /// The prices at an input total of `total` tokens: three probes of `total` tokens each,
    /// input with output, input that is all cache reads, input that is all cache writes.
    fn measure(
        calculate: &impl Fn(&TokenCounts) -> Option<PriceCalculation>,
        total: u64,
    ) -> Option<PerToken> {
        let plain = calculate(&TokenCounts {
            input: total,
            output: total,
            ..TokenCounts::default()
        })?;
        let read = calculate(&TokenCounts {
            cache_read: total,
            ..TokenCounts::default()
        })?;
        let write = calculate(&TokenCounts {
            cache_write: total,
            ..TokenCounts::default()
        })?;
        let per_token = |price: f64| price / count_as_f64(total);
        Some(PerToken {
            input: per_token(plain.input_price),
            output: per_token(plain.output_price),
            cache_read: per_token(read.input_price),
            cache_write: per_token(write.input_price),
        })
    }

    /// Whether these prices are also those at an input total of `total`.
    fn holds_at(
        &self,
        calculate: &impl Fn(&TokenCounts) -> Option<PriceCalculation>,
        total: u64,
    ) -> Option<bool> {
        let there = PerToken::measure(calculate, total)?;
        let same = |a: f64, b: f64| (a - b).abs() <= SAME_RATE * a.abs().max(b.abs());
        Some(
            same(self.input, there.input)
                && same(self.output, there.output)
                && same(self.cache_read, there.cache_read)
                && same(self.cache_write, there.cache_write),
        )
    }
}

/// The stretch of [`STRETCH_SECONDS`] holding `at`, as `[from, until)`.
fn stretch(at: jiff::Timestamp) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
    // Whole seconds rounded down, as the crate counts them (jiff rounds toward zero before 1970).
    let second = at.as_second() - i64::from(at.subsec_nanosecond() < 0);
    let start = second.div_euclid(STRETCH_SECONDS) * STRETCH_SECONDS;
    let from = jiff::Timestamp::from_second(start).ok()?;
    let until = jiff::Timestamp::from_second(start + STRETCH_SECONDS).ok()?;
    Some((from, until))
}

#[cfg(test)]
mod tests {

    use std::collections::BTreeSet;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::SystemTime;

    use genai_prices::Calculator;
    use serde_json::Value;

    use super::*;
    use crate::pricing::bundled::{Bundled, Resolved};
    use crate::pricing::tests::tokens;
    use crate::pricing::{PriceOverrides, PriceTable, names};

    /// Ten minutes into a stretch (DeepSeek's peak hours).
    const AT: &str = "2026-11-20T12:10:00Z";

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().unwrap()
    }

    /// What requests bring: nothing, a few tokens, cache reads and writes, and input totals
    /// around the tier starts in the data (32k, 128k, 200k, 272k) and far above them.
    const CASES: &[(u64, u64, u64, u64)] = &[
        (0, 0, 0, 0),
        (0, 7, 0, 0),
        (1, 0, 0, 0),
        (1, 1, 0, 0),
        (1000, 500, 0, 0),
        (1200, 300, 800, 0),
        (100, 50, 2000, 400),
        (0, 0, 1000, 1000),
        (31_000, 2000, 1000, 0),
        (100_000, 4000, 27_000, 1000),
        (150_000, 4000, 40_000, 5000),
        (199_999, 1, 0, 1),
        (200_001, 1, 0, 0),
        (20_000, 1000, 180_000, 5000),
        (272_001, 1000, 0, 0),
        (2_000_000, 100_000, 0, 0),
        (1 << 41, 1, 0, 0),
    ];

    fn bundled() -> Bundled {
        Bundled::load().unwrap()
    }

    fn resolved(provider: &'static str, model: &str) -> Resolved {
        Resolved {
            provider,
            model: Arc::from(model),
        }
    }

    /// Every model in the data under its own provider, and every (slug, model) the table lists,
    /// as matched (Azure's OpenAI models, Vertex's Claude).
    fn every_model(bundled: &Bundled) -> Vec<Resolved> {
        let mut models = BTreeSet::new();
        for provider in Calculator::bundled().providers() {
            for model in provider.models() {
                models.insert((provider.id(), model.id().to_owned()));
            }
        }
        let table = PriceTable::new(PriceOverrides::new()).unwrap();
        for (slug, model) in table.known_models() {
            let found = bundled.resolve(&slug, names::normalise_model(&slug, &model));
            let found = found.unwrap_or_else(|| panic!("{slug} {model} is listed but not found"));
            models.insert((found.provider, found.model.to_string()));
        }
        models
            .into_iter()
            .map(|(provider, model)| resolved(provider, &model))
            .collect()
    }

    fn assert_same_price(fast: f64, exact: f64, what: &str) {
        let close = (fast - exact).abs() <= 1e-12 * exact.abs();
        assert!(close, "{what}: flat {fast} != calculate {exact}");
    }

    #[test]
    fn flat_rates_price_every_model_as_calculate_does() {
        let bundled = bundled();
        let models = every_model(&bundled);
        let (mut fast, mut direct, mut tiered, mut refused) = (0, 0, 0, 0);
        let (mut exact, mut worst) = (0, 0.0_f64);
        let at = at(AT);
        let time = SystemTime::try_from(at).unwrap();
        for resolved in &models {
            let flat = bundled.flat_rates(resolved, at).unwrap();
            assert!(flat.holds_at(at));
            if flat.rates.is_none() {
                // Only models the calculator cannot price either (ids no name matches).
                let some = bundled.calculate(resolved, &tokens(1000, 100, 0, 0), time);
                assert!(
                    some.is_err(),
                    "{} {}: no rates",
                    resolved.provider,
                    resolved.model
                );
                refused += 1;
            } else if flat.max_input() < MAX_INPUT {
                tiered += 1;
            }
            for &(input, output, cache_read, cache_write) in CASES {
                let t = tokens(input, output, cache_read, cache_write);
                let what = format!("{} {}, {t:?}", resolved.provider, resolved.model);
                // Below every tier start in the data, a model with rates is always flat.
                let total = input + cache_read + cache_write;
                if flat.rates.is_some() && (1..=32_000).contains(&total) {
                    assert!(flat.cost(&t).is_some(), "{what}: not flat");
                }
                match (flat.cost(&t), bundled.calculate(resolved, &t, time)) {
                    (Some(cost), Ok(price)) => {
                        assert_same_price(cost, price.total_price, &what);
                        let error = (cost - price.total_price).abs() / price.total_price;
                        worst = worst.max(if error.is_nan() { 0.0 } else { error });
                        exact += usize::from(cost == price.total_price);
                        fast += 1;
                    }
                    (Some(cost), Err(error)) => {
                        panic!("{what}: flat {cost}, calculate refuses: {error}")
                    }
                    (None, _) => direct += 1,
                }
            }
        }
        eprintln!(
            "{} models: {fast} flat ({exact} bit-identical, worst {worst:e} relative), {direct} by \
             calculate; {tiered} records stop at a tier, {refused} have no rates",
            models.len()
        );
        assert!(fast > 3 * direct && tiered > 100);
    }

    #[test]
    fn tiered_models_are_flat_only_below_their_first_tier() {
        let bundled = bundled();
        let at = at(AT);
        let time = SystemTime::try_from(at).unwrap();
        // Claude Sonnet 4.5 and Gemini 2.5 Pro double their rates above 200k input tokens.
        for (provider, model) in [
            ("anthropic", "claude-sonnet-4-5"),
            ("google", "gemini-2.5-pro"),
        ] {
            let resolved = resolved(provider, model);
            let flat = bundled.flat_rates(&resolved, at).unwrap();
            assert_eq!(flat.max_input(), 200_000, "{model}");
            let below = tokens(150_000, 1000, 40_000, 10_000);
            let above = tokens(150_000, 1000, 40_000, 10_001);
            let exact =
                |t: &TokenCounts| bundled.calculate(&resolved, t, time).unwrap().total_price;
            assert_same_price(flat.cost(&below).unwrap(), exact(&below), model);
            assert_eq!(flat.cost(&above), None, "{model}");
            // Above the tier the calculator prices it, at the higher rate.
            let table = PriceTable::new(PriceOverrides::new()).unwrap();
            let slug = if provider == "google" {
                "google-ai-studio"
            } else {
                provider
            };
            let cost = table.cost(slug, model, &above, at).unwrap();
            assert_eq!(cost, exact(&above), "{model}");
            assert!(cost > 1.5 * exact(&below), "{model}");
        }
        // A model without tiers prices any request.
        let flat = bundled
            .flat_rates(&resolved("openai", "gpt-4o-mini"), at)
            .unwrap();
        assert_eq!(flat.max_input(), MAX_INPUT);
    }

    #[test]
    fn time_of_day_prices_get_a_record_per_stretch() {
        let bundled = bundled();
        let deepseek = resolved("deepseek", "deepseek-chat");
        let t = tokens(3000, 600, 1500, 0);
        // Peak ends at 16:30 UTC: the last peak stretch ends there and off-peak starts.
        let peak_at = at("2026-11-20T16:29:59.999Z");
        let off_peak_at = at("2026-11-20T16:30:00Z");
        let peak = bundled.flat_rates(&deepseek, peak_at).unwrap();
        let off_peak = bundled.flat_rates(&deepseek, off_peak_at).unwrap();
        assert!(peak.holds_at(at("2026-11-20T16:00:00Z")) && peak.holds_at(peak_at));
        assert!(!peak.holds_at(off_peak_at) && peak.ended_by(off_peak_at));
        assert!(off_peak.holds_at(off_peak_at) && !off_peak.holds_at(peak_at));
        for (flat, when) in [(peak, peak_at), (off_peak, off_peak_at)] {
            let time = SystemTime::try_from(when).unwrap();
            let exact = bundled.calculate(&deepseek, &t, time).unwrap();
            assert_same_price(flat.cost(&t).unwrap(), exact.total_price, &when.to_string());
        }
        assert!(off_peak.cost(&t).unwrap() < peak.cost(&t).unwrap());
    }

    #[test]
    fn the_first_request_past_a_stretch_derives_the_next_one() {
        let table = PriceTable::new(PriceOverrides::new()).unwrap();
        let bundled = bundled();
        let deepseek = resolved("deepseek", "deepseek-chat");
        let t = tokens(3000, 600, 1500, 0);
        let exact = |when: &str| {
            let time = SystemTime::try_from(at(when)).unwrap();
            bundled.calculate(&deepseek, &t, time).unwrap().total_price
        };
        let cost = |when: &str| {
            table
                .cost("deepseek", "deepseek-chat", &t, at(when))
                .unwrap()
        };
        let latest = || {
            let priced = table
                .resolved
                .get_or_insert_with("deepseek", "deepseek-chat", || None);
            *priced.unwrap().flat().as_deref().unwrap()
        };

        assert_same_price(
            cost("2026-11-20T16:10:00Z"),
            exact("2026-11-20T16:10:00Z"),
            "peak",
        );
        let first = latest();
        assert_eq!(first.until, at("2026-11-20T16:30:00Z"));
        assert_same_price(
            cost("2026-11-20T16:40:00Z"),
            exact("2026-11-20T16:40:00Z"),
            "off",
        );
        let second = latest();
        assert_eq!(second.from, at("2026-11-20T16:30:00Z"));
        // A request from the previous stretch, finishing late, is priced directly, at its time.
        assert_eq!(cost("2026-11-20T16:20:00Z"), exact("2026-11-20T16:20:00Z"));
        assert_eq!(latest(), second);
    }

    #[test]
    fn counts_beyond_exact_arithmetic_go_to_the_calculator() {
        let bundled = bundled();
        let flat = bundled
            .flat_rates(&resolved("openai", "gpt-4o-mini"), at(AT))
            .unwrap();
        for t in [
            tokens(u64::MAX, 0, 1, 0),
            tokens(MAX_INPUT + 1, 0, 0, 0),
            tokens(1, MAX_INPUT + 1, 0, 0),
            tokens(0, 10, 0, 0),
        ] {
            assert_eq!(flat.cost(&t), None, "{t:?}");
        }
        assert!(flat.cost(&tokens(MAX_INPUT, MAX_INPUT, 0, 0)).is_some());
    }

    #[test]
    fn stretches_are_half_hours_of_utc_time() {
        let (from, until) = stretch(at("2026-11-20T12:29:59.999999999Z")).unwrap();
        assert_eq!(
            (from, until),
            (at("2026-11-20T12:00:00Z"), at("2026-11-20T12:30:00Z"))
        );
        let (from, until) = stretch(at("2026-11-20T12:30:00Z")).unwrap();
        assert_eq!(
            (from, until),
            (at("2026-11-20T12:30:00Z"), at("2026-11-20T13:00:00Z"))
        );
        // Before 1970 a fraction of a second still belongs to the stretch that holds it.
        let (from, until) = stretch(at("1969-12-31T23:59:59.5Z")).unwrap();
        assert_eq!(
            (from, until),
            (at("1969-12-31T23:30:00Z"), at("1970-01-01T00:00:00Z"))
        );
    }

    // === The data half of the argument in the module header ===

    /// The token prices the probes measure, and the per-request fee.
    const TOKEN_PRICES: [&str; 4] = [
        "input_mtok",
        "output_mtok",
        "cache_read_mtok",
        "cache_write_mtok",
    ];

    /// The crate's `data/prices.json`, which it embeds: found from the version in Cargo.lock,
    /// in Cargo's registry sources (the same files the crate was built from).
    fn bundled_json() -> Value {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"));
        let lock = lock.unwrap();
        let (_, after) = lock
            .split_once("name = \"genai-prices\"\nversion = \"")
            .unwrap();
        let version = &after[..after.find('"').unwrap()];
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
            .unwrap();
        let registries = std::fs::read_dir(cargo_home.join("registry/src")).unwrap();
        let file = registries
            .map(|registry| registry.unwrap().path())
            .map(|registry| registry.join(format!("genai-prices-{version}/data/prices.json")))
            .find(|file| file.exists())
            .unwrap_or_else(|| panic!("no genai-prices {version} sources under {cargo_home:?}"));
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
    }

    /// A `HH:MM:SS(Z|±HH:MM)` time of day as seconds into the UTC day.
    fn utc_seconds_of_day(text: &str) -> i64 {
        let number = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
        let local = number(0..2) * 3600 + number(3..5) * 60 + number(6..8);
        let offset = match &text[8..] {
            "Z" => 0,
            zone => {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                assert_eq!(
                    zone.len(),
                    6,
                    "{text}: a fraction of a second or an odd zone"
                );
                sign * (number(9..11) * 3600 + number(12..14) * 60)
            }
        };
        (local - offset).rem_euclid(86_400)
    }

    #[test]
    fn the_bundled_data_keeps_what_flat_rates_rely_on() {
        let data = bundled_json();
        let providers = data.as_array().unwrap();
        // The file is the data the calculator holds.
        let ids = |provider: &Value| -> Vec<String> {
            let models = provider["models"].as_array().unwrap();
            models
                .iter()
                .map(|model| model["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let from_file: Vec<_> = providers
            .iter()
            .map(|provider| (provider["id"].as_str().unwrap().to_owned(), ids(provider)))
            .collect();
        let from_crate: Vec<_> = Calculator::bundled()
            .providers()
            .map(|provider| {
                let models = provider
                    .models()
                    .map(|model| model.id().to_owned())
                    .collect();
                (provider.id().to_owned(), models)
            })
            .collect();
        assert_eq!(from_file, from_crate);

        let (mut tiered, mut time_of_day) = (BTreeSet::new(), BTreeSet::new());
        for provider in providers {
            for model in provider["models"].as_array().unwrap() {
                let name = format!("{} {}", provider["id"], model["id"]);
                // Standard prices: one set, or several with constraints (variants need a context).
                let sets: Vec<(&Value, Option<&Value>)> = match &model["prices"] {
                    Value::Array(conditional) => conditional
                        .iter()
                        .map(|price| (&price["prices"], price.get("constraint")))
                        .collect(),
                    prices => vec![(prices, None)],
                };
                for (prices, constraint) in sets {
                    for key in TOKEN_PRICES {
                        let Some(tiers) = prices.get(key).and_then(|price| price.get("tiers"))
                        else {
                            continue;
                        };
                        // Each tier's price is above the one before: the rates at 1 token hold
                        // up to the first tier and never above it.
                        let mut tiers = tiers.as_array().unwrap().clone();
                        tiers.sort_by_key(|tier| tier["start"].as_i64().unwrap());
                        let mut below = prices[key]["base"].as_f64().unwrap();
                        for tier in &tiers {
                            let price = tier["price"].as_f64().unwrap();
                            assert!(price > below * (1.0 + 1e-6), "{name} {key}: {tiers:?}");
                            below = price;
                        }
                        tiered.insert(name.clone());
                    }
                    let fee = prices.get("requests_kcount");
                    assert!(
                        fee.is_none_or(Value::is_number),
                        "{name}: a tiered request fee"
                    );
                    let Some(constraint) = constraint else {
                        continue;
                    };
                    if let Some(date) = constraint.get("start_date") {
                        // A date starts at midnight UTC, a multiple of every stretch.
                        let date = date.as_str().unwrap();
                        assert!(date.len() == 10 && date.parse::<jiff::civil::Date>().is_ok());
                    } else {
                        for bound in ["start_time", "end_time"] {
                            let seconds = utc_seconds_of_day(constraint[bound].as_str().unwrap());
                            assert_eq!(seconds % STRETCH_SECONDS, 0, "{name}: {constraint}");
                        }
                        time_of_day.insert(name.clone());
                    }
                }
            }
        }
        // What the fallbacks and stretches are for is in the data.
        assert!(
            tiered.contains("\"anthropic\" \"claude-sonnet-4-5\""),
            "{tiered:?}"
        );
        assert!(
            time_of_day.contains("\"deepseek\" \"deepseek-chat\""),
            "{time_of_day:?}"
        );
    }
}
