use std::time::SystemTime;

use genai_prices::{Calculator, PriceRequest, Usage, UsageKey};

use super::*;
use crate::convert::count_as_f64;
use crate::proxy::CustomCost;

const AT: &str = "2026-11-20T12:00:00Z";

fn at(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

fn table() -> PriceTable {
    PriceTable::new(PriceOverrides::new()).unwrap()
}

pub(super) fn tokens(input: u64, output: u64, cache_read: u64, cache_write: u64) -> TokenCounts {
    TokenCounts {
        input,
        output,
        cache_read,
        cache_write,
    }
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-12 + 1e-9 * expected.abs();
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} != {expected}"
    );
}

/// A model's published prices, read from the crate's data through its own calculator: the
/// price of 1,000 units of one kind at a time (below every long-context tier), per million.
#[derive(Debug)]
struct Published {
    model_id: String,
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
    /// A per-request fee (Perplexity), charged whatever the tokens.
    per_request: f64,
}

fn published(provider_id: &str, model_id: &str, at: jiff::Timestamp) -> Published {
    let at = SystemTime::try_from(at).unwrap();
    let price = |pairs: &[(UsageKey, f64)]| {
        let usage = Usage::from_iter(pairs.iter().cloned());
        let request = PriceRequest::new(model_id, &usage)
            .with_provider_id(provider_id)
            .with_timestamp(at);
        Calculator::bundled().calculate(&request).unwrap()
    };
    let per_request = price(&[]).total_price;
    let per_million = |pairs: &[(UsageKey, f64)]| (price(pairs).total_price - per_request) * 1000.0;
    Published {
        model_id: price(&[]).model_id,
        input: per_million(&[(UsageKey::INPUT_TOKENS, 1000.0)]),
        output: per_million(&[(UsageKey::OUTPUT_TOKENS, 1000.0)]),
        cache_read: per_million(&[
            (UsageKey::INPUT_TOKENS, 1000.0),
            (UsageKey::CACHE_READ_TOKENS, 1000.0),
        ]),
        cache_write: per_million(&[
            (UsageKey::INPUT_TOKENS, 1000.0),
            (UsageKey::CACHE_WRITE_TOKENS, 1000.0),
        ]),
        per_request,
    }
}

impl Published {
    fn cost(&self, t: &TokenCounts) -> f64 {
        (count_as_f64(t.input) * self.input
            + count_as_f64(t.output) * self.output
            + count_as_f64(t.cache_read) * self.cache_read
            + count_as_f64(t.cache_write) * self.cache_write)
            / 1e6
            + self.per_request
    }
}

#[test]
fn known_models_cost_tokens_times_the_published_price() {
    // (slug, model as sent, data provider, data model id, tokens)
    let cases = [
        (
            "openai",
            "gpt-4o",
            "openai",
            "gpt-4o",
            tokens(1200, 300, 800, 0),
        ),
        (
            "openai",
            "gpt-4o-mini",
            "openai",
            "gpt-4o-mini",
            tokens(1000, 500, 2000, 0),
        ),
        (
            "openai",
            "gpt-4o-mini-2024-07-18",
            "openai",
            "gpt-4o-mini",
            tokens(10, 20, 30, 0),
        ),
        (
            "anthropic",
            "claude-sonnet-4-5",
            "anthropic",
            "claude-sonnet-4-5",
            tokens(1000, 500, 20_000, 3000),
        ),
        (
            "anthropic",
            "claude-sonnet-4-5-20250929",
            "anthropic",
            "claude-sonnet-4-5",
            tokens(1, 2, 3, 4),
        ),
        (
            "anthropic",
            "claude-3-5-haiku-20241022",
            "anthropic",
            "claude-3-5-haiku-latest",
            tokens(900, 100, 50, 25),
        ),
        (
            "google-ai-studio",
            "gemini-2.5-flash",
            "google",
            "gemini-2.5-flash",
            tokens(5000, 700, 1000, 0),
        ),
        (
            "google-ai-studio",
            "models/gemini-2.5-flash",
            "google",
            "gemini-2.5-flash",
            tokens(5000, 700, 0, 0),
        ),
        (
            "google-vertex-ai",
            "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
            "google",
            "gemini-2.5-flash",
            tokens(100, 10, 0, 0),
        ),
        (
            "groq",
            "llama-3.3-70b-versatile",
            "groq",
            "llama-3.3-70b-versatile",
            tokens(2000, 400, 0, 0),
        ),
        (
            "mistral",
            "mistral-large-latest",
            "mistral",
            "mistral-large",
            tokens(2000, 400, 0, 0),
        ),
        (
            "deepseek",
            "deepseek-chat",
            "deepseek",
            "deepseek-chat",
            tokens(3000, 600, 1500, 0),
        ),
        (
            "aws-bedrock",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "aws",
            "regional.anthropic.claude-3-5-sonnet-20241022-v2:0",
            tokens(1000, 200, 4000, 800),
        ),
        (
            "aws-bedrock",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "aws",
            "regional.anthropic.claude-3-5-sonnet-20241022-v2:0",
            tokens(1000, 200, 0, 0),
        ),
        (
            "workers-ai",
            "@cf/meta/llama-3.1-8b-instruct",
            "cloudflare",
            "@cf/meta/llama-3.1-8b-instruct",
            tokens(700, 70, 0, 0),
        ),
        (
            "openrouter",
            "openai/gpt-4o",
            "openrouter",
            "openai/gpt-4o",
            tokens(1000, 1000, 0, 0),
        ),
        (
            "grok",
            "grok-4",
            "x-ai",
            "grok-4-0709",
            tokens(1000, 1000, 500, 0),
        ),
        (
            "azure-openai",
            "gpt-4o-mini",
            "azure",
            "gpt-4o-mini",
            tokens(1000, 1000, 0, 0),
        ),
        (
            "cohere",
            "command-r-plus",
            "cohere",
            "command-r-plus",
            tokens(1000, 1000, 0, 0),
        ),
        (
            "cerebras",
            "llama3.1-8b",
            "cerebras",
            "llama3.1-8b",
            tokens(1000, 1000, 0, 0),
        ),
        (
            "perplexity-ai",
            "sonar",
            "perplexity",
            "sonar",
            tokens(1000, 1000, 0, 0),
        ),
        (
            "huggingface",
            "meta-llama/Llama-3.1-8B-Instruct:novita",
            "huggingface_novita",
            "meta-llama/Llama-3.1-8B-Instruct",
            tokens(1000, 1000, 0, 0),
        ),
    ];
    let table = table();
    let at = at(AT);
    for (slug, model, provider_id, model_id, tokens) in cases {
        let published = published(provider_id, model_id, at);
        assert_eq!(published.model_id, model_id, "the data's id for {model_id}");
        assert!(
            published.input > 0.0 && published.output > 0.0,
            "{model_id}: {published:?}"
        );

        let name = names::normalise_model(slug, model);
        let resolved = table.bundled.resolve(slug, name);
        let resolved = resolved.unwrap_or_else(|| panic!("{slug} {model} is not matched"));
        assert_eq!(resolved.provider, provider_id, "{slug} {model}");
        assert_eq!(&*resolved.model, model_id, "{slug} {model}");

        let cost = table.cost(slug, model, &tokens, at);
        let cost = cost.unwrap_or_else(|| panic!("{slug} {model} has no cost"));
        assert_close(cost, published.cost(&tokens), &format!("{slug} {model}"));
    }
}

#[test]
fn well_known_prices_are_pinned() {
    let table = table();
    let at = at(AT);
    // gpt-4o-mini: $0.15/M in, $0.60/M out, $0.075/M cached input.
    let cost = table.cost("openai", "gpt-4o-mini", &tokens(1000, 500, 2000, 0), at);
    assert_close(
        cost.unwrap(),
        (1000.0 * 0.15 + 500.0 * 0.6 + 2000.0 * 0.075) / 1e6,
        "gpt-4o-mini",
    );
    // Claude Sonnet 4.5: $3 in, $15 out, $0.30 cache read, $3.75 cache write (5-minute).
    let cost = table.cost(
        "anthropic",
        "claude-sonnet-4-5",
        &tokens(1000, 500, 2000, 400),
        at,
    );
    let expected = (1000.0 * 3.0 + 500.0 * 15.0 + 2000.0 * 0.3 + 400.0 * 3.75) / 1e6;
    assert_close(cost.unwrap(), expected, "claude-sonnet-4-5");
}

#[test]
fn missing_cache_prices_fall_back_to_the_input_price() {
    // Groq's llama prices no cached input: cache reads and writes cost what input does.
    let table = table();
    let at = at(AT);
    let published = published("groq", "llama-3.3-70b-versatile", at);
    assert_close(published.cache_read, published.input, "cache read");
    assert_close(published.cache_write, published.input, "cache write");
    let cached = table.cost(
        "groq",
        "llama-3.3-70b-versatile",
        &tokens(0, 0, 1000, 1000),
        at,
    );
    let plain = table.cost(
        "groq",
        "llama-3.3-70b-versatile",
        &tokens(2000, 0, 0, 0),
        at,
    );
    assert_close(cached.unwrap(), plain.unwrap(), "groq");
}

#[test]
fn prices_are_those_in_effect_at_the_request_time() {
    let table = table();
    let one = tokens(1_000_000, 0, 0, 0);
    // DeepSeek's off-peak rate (16:30-00:30 UTC) is lower than its standard rate.
    let peak = table.cost(
        "deepseek",
        "deepseek-chat",
        &one,
        at("2026-11-20T02:00:00Z"),
    );
    let off_peak = table.cost(
        "deepseek",
        "deepseek-chat",
        &one,
        at("2026-11-20T20:00:00Z"),
    );
    assert!(
        off_peak.unwrap() < peak.unwrap(),
        "{off_peak:?} vs {peak:?}"
    );
    // A price change from 2026-10-19 in the data's history.
    let model = "@cf/cloudflare/clef-flash";
    let before = table.cost("workers-ai", model, &one, at("2026-10-01T12:00:00Z"));
    let after = table.cost("workers-ai", model, &one, at("2026-11-01T12:00:00Z"));
    assert_close(
        before.unwrap(),
        published("cloudflare", model, at("2026-10-01T12:00:00Z")).input,
        "before",
    );
    assert_close(
        after.unwrap(),
        published("cloudflare", model, at("2026-11-01T12:00:00Z")).input,
        "after",
    );
    assert!(after.unwrap() < before.unwrap());
}

#[test]
fn long_contexts_are_priced_at_the_higher_tier() {
    let table = table();
    let at = at(AT);
    let long = tokens(300_000, 1000, 0, 0);
    let cost = table
        .cost("anthropic", "claude-sonnet-4-5", &long, at)
        .unwrap();
    let base = published("anthropic", "claude-sonnet-4-5", at).cost(&long);
    assert!(cost > base, "{cost} should be above the base-rate {base}");
}

#[test]
fn unknown_models_and_providers_cost_none() {
    let table = table();
    let at = at(AT);
    let some = tokens(1000, 1000, 0, 0);
    for (slug, model) in [
        ("openai", "no-such-model"),
        ("anthropic", ""),
        ("my-vllm", "llama-3-8b"),
        ("replicate", "meta/meta-llama-3-70b-instruct"),
        ("fal", "fal-ai/flux/dev"),
        // Hugging Face without a `:provider` suffix, or with one that is not an inference provider.
        ("huggingface", "meta-llama/Llama-3.1-8B-Instruct"),
        ("huggingface", "openai/gpt-oss-120b:openai"),
        // The model of another provider.
        ("groq", "gpt-4o-mini"),
    ] {
        assert_eq!(table.cost(slug, model, &some, at), None, "{slug} {model}");
    }
    // Known but nothing used: free, not unknown.
    assert_eq!(
        table.cost("openai", "gpt-4o", &TokenCounts::default(), at),
        Some(0.0)
    );
}

fn price(
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
) -> PriceOverride {
    PriceOverride {
        input,
        output,
        cache_read,
        cache_write,
    }
}

fn overrides(entries: &[(&str, &str, PriceOverride)]) -> PriceOverrides {
    let mut overrides = PriceOverrides::new();
    for (provider, model, price) in entries {
        overrides
            .entry((*provider).to_owned())
            .or_default()
            .insert((*model).to_owned(), price.clone());
    }
    overrides
}

#[test]
fn overrides_win_and_price_custom_providers() {
    let table = PriceTable::new(overrides(&[
        ("openai", "gpt-4o-mini", price(1.0, 2.0, Some(0.5), None)),
        ("my-vllm", "llama-3-8b", price(0.1, 0.2, None, Some(0.4))),
        (
            "google-ai-studio",
            "models/gemini-custom",
            price(3.0, 4.0, None, None),
        ),
    ]))
    .unwrap();
    let at = at(AT);
    let t = tokens(1000, 500, 200, 100);
    let cost = table.cost("openai", "gpt-4o-mini", &t, at);
    assert_close(
        cost.unwrap(),
        (1000.0 + 500.0 * 2.0 + 200.0 * 0.5 + 100.0 * 1.0) / 1e6,
        "override",
    );
    // Cache reads without a price cost the input price.
    let cost = table.cost("my-vllm", "llama-3-8b", &t, at);
    assert_close(
        cost.unwrap(),
        (1000.0 * 0.1 + 500.0 * 0.2 + 200.0 * 0.1 + 100.0 * 0.4) / 1e6,
        "custom",
    );
    // Keys are normalised like request names.
    for model in ["gemini-custom", "models/gemini-custom"] {
        let cost = table.cost("google-ai-studio", model, &tokens(1_000_000, 0, 0, 0), at);
        assert_close(cost.unwrap(), 3.0, model);
    }
    // Other models of an overridden provider still come from the data.
    let cost = table.cost("openai", "gpt-4o", &tokens(1_000_000, 0, 0, 0), at);
    assert_close(
        cost.unwrap(),
        published("openai", "gpt-4o", at).input,
        "gpt-4o",
    );
    assert_eq!(table.cost("my-vllm", "other", &t, at), None);
}

#[test]
fn validation_rejects_negative_and_non_finite_prices() {
    assert_eq!(price(0.0, 0.0, Some(0.0), Some(0.0)).validate(), Ok(()));
    for bad in [-0.01, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for (field, override_) in [
            ("input", price(bad, 1.0, None, None)),
            ("output", price(1.0, bad, None, None)),
            ("cache_read", price(1.0, 1.0, Some(bad), None)),
            ("cache_write", price(1.0, 1.0, None, Some(bad))),
        ] {
            let why = override_.validate().unwrap_err();
            assert!(why.contains(field), "{why}");
        }
    }
    let invalid = overrides(&[
        ("openai", "gpt-4o", price(-1.0, 1.0, None, None)),
        ("Not A Slug", "m", price(1.0, 1.0, None, None)),
        ("custom", " ", price(1.0, 1.0, None, None)),
    ]);
    let problems = validate_overrides(&invalid);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].starts_with("pricing.Not A Slug:"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("pricing.openai.\"gpt-4o\": `input`"))
    );
    assert!(PriceTable::new(invalid).is_err());
}

#[test]
fn parse_reads_the_pricing_table_and_reports_every_problem() {
    let value: toml::Table = toml::from_str(
        r#"
        [my-vllm."llama-3-8b"]
        input = 0.15
        output = 1
        [anthropic."claude-custom"]
        input = 3
        output = 15
        cache_read = 0.3
        cache_write = 3.75
        "#,
    )
    .unwrap();
    let parsed = parse_overrides(toml::Value::Table(value)).unwrap();
    assert_eq!(
        parsed["my-vllm"]["llama-3-8b"],
        price(0.15, 1.0, None, None)
    );
    assert_eq!(
        parsed["anthropic"]["claude-custom"],
        price(3.0, 15.0, Some(0.3), Some(3.75))
    );

    let value: toml::Table = toml::from_str(
        r#"
        flat = 3
        [a."typo"]
        input = 1
        output = 1
        cached = 2
        [a."missing"]
        input = 1
        [a."text"]
        input = "cheap"
        output = 1
        [a."negative"]
        input = -1
        output = 1
        "#,
    )
    .unwrap();
    let problems = parse_overrides(toml::Value::Table(value)).unwrap_err();
    assert_eq!(problems.len(), 5, "{problems:?}");
    let mentions = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(mentions("pricing.flat: expected a table"), "{problems:?}");
    assert!(
        mentions("pricing.a.\"typo\": unknown field `cached`"),
        "{problems:?}"
    );
    assert!(
        mentions("pricing.a.\"missing\": missing field `output`"),
        "{problems:?}"
    );
    assert!(mentions("pricing.a.\"text\":"), "{problems:?}");
    assert!(mentions("pricing.a.\"negative\": `input`"), "{problems:?}");

    assert!(parse_overrides(toml::Value::Integer(1)).is_err());
}

#[test]
fn custom_cost_arithmetic() {
    let t = tokens(1000, 500, 200, 100);
    let per_token = CustomCost {
        per_token_in: Some(0.000_001),
        per_token_out: Some(0.000_002),
        total_cost: None,
    };
    // Cache reads and writes are charged as input.
    assert_close(
        custom_cost(&per_token, &t),
        1300.0 * 0.000_001 + 500.0 * 0.000_002,
        "per token",
    );
    let only_out = CustomCost {
        per_token_out: Some(0.01),
        ..CustomCost::default()
    };
    assert_close(custom_cost(&only_out, &t), 5.0, "only out");
    let total = CustomCost {
        total_cost: Some(0.25),
        ..per_token
    };
    assert_eq!(custom_cost(&total, &t), 0.25);
    assert_eq!(custom_cost(&total, &TokenCounts::default()), 0.25);
}

#[test]
fn the_lookup_cache_stays_bounded() {
    let mut table = table();
    table.resolved = cache::ResolvedCache::new(16);
    let at = at(AT);
    let t = tokens(10, 10, 0, 0);
    let expected = table.cost("openai", "gpt-4o-mini", &t, at);
    assert!(expected.is_some());
    for i in 0..100 {
        assert_eq!(table.cost("openai", &format!("made-up-{i}"), &t, at), None);
        assert!(
            table.resolved.len() <= 16,
            "{} entries",
            table.resolved.len()
        );
    }
    // Repeats do not add entries, and an evicted model resolves again to the same price.
    let before = table.resolved.len();
    for _ in 0..10 {
        assert_eq!(table.cost("openai", "made-up-99", &t, at), None);
    }
    assert_eq!(table.resolved.len(), before);
    assert_eq!(table.cost("openai", "gpt-4o-mini", &t, at), expected);
}

#[test]
fn known_models_lists_priced_names_and_overrides() {
    let table = PriceTable::new(overrides(&[(
        "my-vllm",
        "llama-3-8b",
        price(0.1, 0.2, None, None),
    )]))
    .unwrap();
    let known = table.known_models();
    let has = |slug: &str, model: &str| known.iter().any(|(s, m)| s == slug && m == model);
    assert!(has("openai", "gpt-4o-mini"));
    assert!(has("azure-openai", "gpt-4o-mini"));
    assert!(has("anthropic", "claude-sonnet-4-5"));
    assert!(has("google-ai-studio", "gemini-2.5-flash"));
    assert!(has("google-vertex-ai", "gemini-2.5-flash"));
    assert!(has("workers-ai", "@cf/meta/llama-3.1-8b-instruct"));
    assert!(has(
        "huggingface",
        "meta-llama/Llama-3.1-8B-Instruct:novita"
    ));
    assert!(has("my-vllm", "llama-3-8b"));
    assert!(!known.iter().any(|(slug, _)| slug == "replicate"));
    assert!(
        known.windows(2).all(|pair| pair[0] < pair[1]),
        "sorted, no duplicates"
    );
    // Every listed name is one `cost` prices.
    let at = at(AT);
    for (slug, model) in &known {
        assert!(
            table
                .cost(slug, model, &TokenCounts::default(), at)
                .is_some(),
            "{slug} {model}"
        );
    }
}

#[test]
fn every_builtin_provider_has_a_mapping() {
    let builtin: Vec<&str> = crate::providers::BUILTIN.iter().map(|p| p.slug).collect();
    let mapped: Vec<&str> = names::PROVIDERS.iter().map(|(slug, _)| *slug).collect();
    assert_eq!(mapped, builtin);
    // And every mapped provider id exists in the data.
    for (slug, source) in names::PROVIDERS {
        if let names::Source::Provider(id) = source {
            let found = Calculator::bundled().providers().any(|p| p.id() == *id);
            assert!(found, "{slug} → {id}");
        }
    }
}

#[test]
fn model_names_are_normalised() {
    for (slug, model, expected) in [
        (
            "google-ai-studio",
            "models/gemini-2.5-flash",
            "gemini-2.5-flash",
        ),
        (
            "google-ai-studio",
            " gemini-2.5-flash:generateContent",
            "gemini-2.5-flash",
        ),
        (
            "google-vertex-ai",
            "publishers/anthropic/models/claude-3-5-sonnet-v2@20241022:rawPredict",
            "claude-3-5-sonnet-v2@20241022",
        ),
        (
            "aws-bedrock",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
        ),
        ("openrouter", "openai/gpt-4o", "openai/gpt-4o"),
        ("huggingface", "models/gpt2", "gpt2"),
    ] {
        assert_eq!(
            names::normalise_model(slug, model),
            expected,
            "{slug} {model}"
        );
    }
}
