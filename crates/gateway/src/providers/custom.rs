//! Custom providers created through the management API (docs/configuration.md, "Custom providers
//! through the API"): what a create or update body may hold, the object the API answers with,
//! and the reload that puts every account's providers in the registry after a change (here, or
//! through another instance on a shared store).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::registry::Created;
use super::{ProviderRegistry, is_builtin};
use crate::gateways::FieldError;
use crate::store::{Store, StoreResult, StoredCustomProvider};

/// Characters of a slug (requests name the provider `custom-{slug}`).
pub const MAX_SLUG_CHARS: usize = 64;
/// Characters of the name, the link and the base URL.
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_URL_CHARS: usize = 2048;
/// Characters of the description and of each example.
pub const MAX_TEXT_CHARS: usize = 16 * 1024;

/// Why a body was refused, each with the field it is about.
#[derive(Debug)]
pub enum Refusal {
    /// Fields that are missing or malformed (code 1001).
    Invalid(Vec<FieldError>),
    /// `base_url` is not `https://` (Cloudflare's code 1002).
    NotHttps,
    /// The slug names a provider of configuration or a built-in one (code 1003).
    Reserved(String),
}

/// A slug: lowercase letters, digits and `-`, neither first nor last.
pub fn is_valid_slug(slug: &str) -> bool {
    (1..=MAX_SLUG_CHARS).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// Applies a create body (`creating`: `name`, `slug` and `base_url` are required) or an update
/// body (the fields present replace the provider's) to a provider.
pub fn apply(
    body: &Map<String, Value>,
    provider: &mut StoredCustomProvider,
    creating: bool,
    providers: &ProviderRegistry,
) -> Result<(), Refusal> {
    let mut errors = Vec::new();
    let mut invalid = |field: &'static str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        });
    };
    let mut not_https = false;
    for field in ["name", "slug", "base_url"] {
        match body.get(field) {
            None if creating => invalid(field, "required".into()),
            None => {}
            Some(Value::String(text)) => match field {
                "name" if text.trim().is_empty() || text.chars().count() > MAX_NAME_CHARS => {
                    invalid(field, format!("1 to {MAX_NAME_CHARS} characters"))
                }
                "name" => provider.name = text.clone(),
                "slug" if !is_valid_slug(text) => invalid(
                    field,
                    format!(
                        "1 to {MAX_SLUG_CHARS} lowercase letters, digits and '-' (not first or \
                         last); requests name the provider custom-<slug>"
                    ),
                ),
                "slug" => provider.slug = text.clone(),
                _ => match check_base_url(text) {
                    Ok(url) => provider.base_url = url,
                    Err(None) => not_https = true,
                    Err(Some(why)) => invalid(field, why),
                },
            },
            Some(_) => invalid(field, "expected a string".into()),
        }
    }
    for (field, max) in [
        ("description", MAX_TEXT_CHARS),
        ("link", MAX_URL_CHARS),
        ("curl_example", MAX_TEXT_CHARS),
        ("js_example", MAX_TEXT_CHARS),
    ] {
        let value = match body.get(field) {
            None => continue,
            Some(Value::Null) => None,
            Some(Value::String(text)) if text.chars().count() <= max => Some(text.clone()),
            Some(_) => {
                invalid(
                    field,
                    format!("expected a string of at most {max} characters"),
                );
                continue;
            }
        };
        match field {
            "description" => provider.description = value,
            "link" => provider.link = value,
            "curl_example" => provider.curl_example = value,
            _ => provider.js_example = value,
        }
    }
    match body.get("position") {
        None => {}
        Some(Value::Null) => provider.position = None,
        Some(position) => match position.as_i64() {
            Some(n) if (0..=i64::from(u32::MAX)).contains(&n) => provider.position = Some(n),
            _ => invalid("position", "expected a whole number from 0".into()),
        },
    }
    // Extra headers would hold credentials in a plain row; stored keys are sealed.
    if body.get("headers").is_some_and(|h| !h.is_null()) {
        invalid(
            "headers",
            "not supported: store the provider's credential as a key \
             (…/gateways/{id}/provider_configs, docs/keys.md) or send it with each request"
                .into(),
        );
    }
    for field in ["enable", "beta"] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(on)) if field == "enable" => provider.enable = *on,
            Some(Value::Bool(on)) => provider.beta = *on,
            Some(_) => invalid(field, "expected true or false".into()),
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors));
    }
    if not_https {
        return Err(Refusal::NotHttps);
    }
    // Checked when the slug is given: one the configuration took later keeps its other edits.
    let slug = &provider.slug;
    let custom = format!("custom-{slug}");
    let taken =
        is_builtin(slug) || providers.get(slug).is_some() || providers.get(&custom).is_some();
    if body.contains_key("slug") && taken {
        return Err(Refusal::Reserved(format!(
            "The slug {slug:?} is taken by a {} provider: choose another",
            if is_builtin(slug) {
                "built-in"
            } else {
                "configured ([providers.<slug>] in the configuration file)"
            }
        )));
    }
    Ok(())
}

/// The base URL without a trailing `/`; `Err(None)` when it is not `https://` (Cloudflare's
/// rule for providers made through the API; the configuration file may name `http://` ones).
fn check_base_url(text: &str) -> Result<String, Option<String>> {
    if !text.starts_with("https://") {
        return Err(None);
    }
    if text.chars().count() > MAX_URL_CHARS {
        return Err(Some(format!("at most {MAX_URL_CHARS} characters")));
    }
    let parsed = url::Url::parse(text).map_err(|e| Some(format!("not a URL: {e}")))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Some("needs a host".into()));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Some("must not have a query or fragment".into()));
    }
    // Stored and shown as written: credentials in it would be answered to every reader.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Some(
            "must not carry credentials; send them with each request or store a key \
             (docs/keys.md)"
                .into(),
        ));
    }
    if text.contains(['{', '}']) {
        return Err(Some("must not have placeholders".into()));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// The API's object, in Cloudflare's shape (its schema types the times as date-times).
pub fn to_json(provider: &StoredCustomProvider) -> Value {
    let mut object = json!({
        "id": provider.id,
        "account_id": provider.account_id,
        "account_tag": provider.account_id,
        "name": provider.name,
        "slug": provider.slug,
        "base_url": provider.base_url,
        "description": provider.description,
        "link": provider.link,
        "curl_example": provider.curl_example,
        "js_example": provider.js_example,
        "enable": provider.enable,
        "beta": provider.beta,
        "position": provider.position,
        "logo": logo(&provider.name),
        "created_at": provider.created_at.to_string(),
        "modified_at": provider.modified_at.to_string(),
    });
    // Optional fields not set are absent, not null (the schema types them as strings).
    if let Value::Object(fields) = &mut object {
        fields.retain(|_, value| !value.is_null());
    }
    object
}

/// Cloudflare answers with a generated logo: a data URL of an SVG with the name's initial.
fn logo(name: &str) -> String {
    use base64::Engine;
    let initial: String = name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map_or('?', |c| c.to_ascii_uppercase())
        .to_string();
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\"><rect width=\"64\" \
         height=\"64\" rx=\"12\" fill=\"#f6821f\"/><text x=\"32\" y=\"42\" font-size=\"30\" \
         font-family=\"sans-serif\" text-anchor=\"middle\" fill=\"#fff\">{}</text></svg>",
        escape(&initial)
    );
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Re-reads every account's custom providers into the registry (after a change here, or one
/// another instance made).
pub async fn reload(store: &dyn Store, providers: &ProviderRegistry) -> StoreResult<()> {
    let _one = providers.reloading.lock().await;
    let rows = store.list_custom_providers().await?;
    let mut by_account: HashMap<String, Created> = HashMap::new();
    for row in rows {
        let provider = row.enable.then(|| {
            let version = format!("{}:{}", row.id, row.modified_at);
            Arc::new(providers.api_provider(&row.slug, &row.base_url, &version))
        });
        by_account
            .entry(row.account_id)
            .or_default()
            .insert(format!("custom-{}", row.slug), provider);
    }
    providers.replace_created(
        by_account
            .into_iter()
            .map(|(account, created)| (account, Arc::new(created)))
            .collect(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_https_without_query_or_credentials() {
        assert_eq!(
            check_base_url("https://api.example.com/v1/")
                .ok()
                .as_deref(),
            Some("https://api.example.com/v1")
        );
        assert_eq!(check_base_url("http://api.example.com"), Err(None));
        assert_eq!(check_base_url("ftp://x"), Err(None));
        assert!(matches!(check_base_url("https://h/?a=1"), Err(Some(_))));
        assert!(matches!(check_base_url("https://u:p@h/"), Err(Some(_))));
        assert!(matches!(check_base_url("https://"), Err(Some(_))));
    }

    fn registry() -> ProviderRegistry {
        let config =
            crate::config::Config::parse("", std::iter::empty(), &Default::default()).unwrap();
        let clients = crate::proxy::UpstreamClients::new(
            &config.server.upstream_net,
            config.server.upstream_pool,
        );
        ProviderRegistry::from_config(&config, &clients).unwrap()
    }

    #[test]
    fn each_account_sees_its_own_providers_and_a_disabled_one_says_so() {
        let registry = registry();
        let acme = Arc::new(registry.api_provider("acme", "https://acme.example", "v1"));
        let created: Created = [
            ("custom-acme".to_owned(), Some(acme)),
            ("custom-off".to_owned(), None),
        ]
        .into_iter()
        .collect();
        registry.replace_created([("local".to_owned(), Arc::new(created))].into());

        let local = registry.for_account("local");
        assert_eq!(local.named("custom-acme").unwrap().slug, "custom-acme");
        assert_eq!(
            local
                .named("custom-acme")
                .unwrap()
                .upstream_url("chat/completions", None)
                .unwrap(),
            "https://acme.example/chat/completions"
        );
        assert!(local.get("openai").is_some(), "configuration's too");
        let off = local.named("custom-off").unwrap_err();
        assert!(off.message.contains("disabled"), "{}", off.message);
        let typo = local.named("custom-acm").unwrap_err();
        assert!(typo.message.contains("custom-acme"), "{}", typo.message);
        assert!(registry.for_account("other").get("custom-acme").is_none());
        // A request keeps the view it took.
        registry.replace_created(HashMap::new());
        assert!(local.get("custom-acme").is_some());
        assert!(registry.for_account("local").get("custom-acme").is_none());
    }

    #[test]
    fn slugs_are_lowercase_letters_digits_and_inner_hyphens() {
        assert!(is_valid_slug("neon"));
        assert!(is_valid_slug("salad-cloud-2"));
        for bad in ["", "-a", "a-", "Neon", "a_b", "a/b", &"a".repeat(65)] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }
}
