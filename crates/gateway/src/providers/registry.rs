//! The providers a running gateway knows: built-ins with their overrides and custom slugs from
//! configuration, fixed at start-up, plus each account's custom providers created through the
//! management API, swapped whole on every change (an atomic load on the request path, no lock).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderName;

use super::{BUILTIN, CompatBase, UrlTemplate, UsageFormat, url};
use crate::compat::Dialect;
use crate::config::{Config, ProviderConfig};
use crate::error::{ErrorCode, GatewayError};
use crate::proxy::{UpstreamClient, UpstreamClients};

/// How a stored provider key is put on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKeyAuth<'a> {
    /// The key goes in this header (`Bearer <key>` in `authorization`).
    Header(&'a HeaderName),
    /// The key is AWS credentials that sign the request for this service.
    SigV4 { service: &'static str },
    /// The key is a Google service account; requests carry access tokens minted from it.
    ServiceAccount,
    /// Not yet: stored keys are refused for the provider.
    Unsupported,
}

/// One provider as the proxy uses it.
#[derive(Debug)]
pub struct Provider {
    pub slug: String,
    base_url: String,
    template: UrlTemplate,
    cf_account: Option<String>,
    pub credential_headers: Vec<HeaderName>,
    pub usage: UsageFormat,
    /// What the unified endpoint translates requests for this provider to.
    pub dialect: Dialect,
    compat_base: CompatBase,
    /// The pooled client for this provider's egress settings.
    pub client: UpstreamClient,
    /// The provider's part of a cache key: its slug, and for one made through the API also
    /// its id and last change, so changing or re-creating it leaves its cached answers behind
    /// (Cloudflare clears them; here they are no longer found and expire).
    pub cache_scope: String,
}

impl Provider {
    /// The upstream URL for a raw provider path (no leading `/`) and query string.
    pub fn upstream_url(&self, path: &str, query: Option<&str>) -> Result<String, GatewayError> {
        url::upstream_url(
            &self.base_url,
            self.template,
            self.cf_account.as_deref(),
            path,
            query,
        )
    }

    /// How a stored key of this provider authenticates a request (docs/keys.md).
    pub fn stored_key_auth(&self) -> StoredKeyAuth<'_> {
        match self.template {
            // Bedrock signs each request with the key pair (SigV4).
            UrlTemplate::BedrockRegion => StoredKeyAuth::SigV4 { service: "bedrock" },
            // Vertex AI takes short-lived OAuth tokens minted from a service account.
            UrlTemplate::VertexRegion => StoredKeyAuth::ServiceAccount,
            _ => match self.credential_headers.first() {
                Some(name) => StoredKeyAuth::Header(name),
                None => StoredKeyAuth::Unsupported,
            },
        }
    }

    /// The unified endpoint's upstream URL: nothing of the host comes from the request.
    pub fn compat_url(&self, path: &str, query: Option<&str>) -> Result<String, GatewayError> {
        url::compat_url(
            &self.slug,
            &self.base_url,
            self.template,
            self.compat_base,
            self.cf_account.as_deref(),
            path,
            query,
        )
    }
}

/// One account's custom providers created through the API, by `custom-{slug}`; `None` for one
/// that is disabled (`enable: false`), which requests cannot use.
pub type Created = HashMap<String, Option<Arc<Provider>>>;

/// Slug → provider: those of configuration, built once, and those created through the API, by
/// account (docs/configuration.md, "Custom providers through the API").
#[derive(Debug)]
pub struct ProviderRegistry {
    by_slug: HashMap<String, Arc<Provider>>,
    /// Every credential header name any provider uses, sorted.
    all_credential_headers: Vec<HeaderName>,
    /// By account; replaced whole after every change (`super::custom`).
    created: ArcSwap<HashMap<String, Arc<Created>>>,
    /// The client of providers created through the API (the server's egress settings).
    created_client: UpstreamClient,
    /// One reload at a time, so an older read never replaces a newer one.
    pub(super) reloading: tokio::sync::Mutex<()>,
}

impl ProviderRegistry {
    pub fn from_config(config: &Config, clients: &UpstreamClients) -> anyhow::Result<Self> {
        let mut by_slug = HashMap::new();
        let none = ProviderConfig::default();
        for builtin in BUILTIN {
            let overrides = config.providers.get(builtin.slug).unwrap_or(&none);
            let provider = Provider {
                slug: builtin.slug.to_owned(),
                base_url: overrides
                    .base_url
                    .clone()
                    .unwrap_or_else(|| builtin.base_url.to_owned()),
                template: builtin.template,
                cf_account: overrides.cf_account.clone(),
                credential_headers: builtin
                    .credential_headers
                    .iter()
                    .map(|h| HeaderName::from_static(h))
                    .collect(),
                usage: builtin.usage,
                dialect: builtin.dialect,
                compat_base: builtin.compat_base,
                client: clients.for_egress(&overrides.egress)?,
                cache_scope: builtin.slug.to_owned(),
            };
            by_slug.insert(builtin.slug.to_owned(), Arc::new(provider));
        }
        for (slug, custom) in &config.providers {
            if by_slug.contains_key(slug) {
                continue;
            }
            let Some(base_url) = custom.base_url.clone() else {
                continue;
            };
            let credential = custom
                .credential_header
                .as_deref()
                .unwrap_or("authorization");
            let provider = Arc::new(Provider {
                slug: slug.clone(),
                base_url,
                template: UrlTemplate::Fixed,
                cf_account: None,
                credential_headers: vec![HeaderName::from_bytes(credential.as_bytes())?],
                // Custom providers are read as OpenAI-compatible (docs/configuration.md).
                usage: UsageFormat::OpenAi,
                dialect: Dialect::OpenAi,
                compat_base: CompatBase::Native,
                client: clients.for_egress(&custom.egress)?,
                cache_scope: slug.clone(),
            });
            // Cloudflare's spelling of a custom provider is `custom-<slug>`.
            by_slug.insert(format!("custom-{slug}"), provider.clone());
            by_slug.insert(slug.clone(), provider);
        }
        // API-created providers take their credential in `authorization`.
        let mut all_credential_headers: Vec<HeaderName> = by_slug
            .values()
            .flat_map(|p| p.credential_headers.iter().cloned())
            .chain([http::header::AUTHORIZATION])
            .collect();
        all_credential_headers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        all_credential_headers.dedup();
        Ok(ProviderRegistry {
            by_slug,
            all_credential_headers,
            created: ArcSwap::from_pointee(HashMap::new()),
            created_client: clients.for_egress(&config.server.egress)?,
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// A provider of configuration (a built-in or a `[providers.<slug>]`); those created
    /// through the API are an account's: [`ProviderRegistry::for_account`].
    pub fn get(&self, slug: &str) -> Option<&Arc<Provider>> {
        self.by_slug.get(slug)
    }

    /// [`ProviderRegistry::get`], or 400/2008 saying how to fix it.
    pub fn named(&self, slug: &str) -> Result<&Arc<Provider>, GatewayError> {
        self.get(slug)
            .ok_or_else(|| unknown(slug, self.by_slug.keys().map(String::as_str)))
    }

    /// The providers one account's requests can name: configuration's and the account's own,
    /// as they are now (a request keeps the view it started with).
    pub fn for_account(&self, account_id: &str) -> AccountProviders<'_> {
        AccountProviders {
            registry: self,
            created: self.created.load().get(account_id).cloned(),
        }
    }

    /// Puts every account's API-created providers in place at once.
    pub(super) fn replace_created(&self, created: HashMap<String, Arc<Created>>) {
        self.created.store(Arc::new(created));
    }

    /// A provider created through the API: OpenAI-compatible, its credential in
    /// `authorization`, requests named `custom-{slug}`; `version` tells its cached answers
    /// from those of an earlier state of it.
    pub(super) fn api_provider(&self, slug: &str, base_url: &str, version: &str) -> Provider {
        Provider {
            cache_scope: format!("custom-{slug}@{version}"),
            slug: format!("custom-{slug}"),
            base_url: base_url.to_owned(),
            template: UrlTemplate::Fixed,
            cf_account: None,
            credential_headers: vec![http::header::AUTHORIZATION],
            usage: UsageFormat::OpenAi,
            dialect: Dialect::OpenAi,
            compat_base: CompatBase::Native,
            client: self.created_client.clone(),
        }
    }

    /// Every credential header name any provider uses: what redaction covers on every route,
    /// whichever provider the request is for.
    pub fn all_credential_headers(&self) -> &[HeaderName] {
        &self.all_credential_headers
    }
}

/// 400/2008 for a slug no provider has: the nearest slug when the name looks like a typo of
/// one, else every slug there is.
fn unknown<'s>(slug: &str, known: impl Iterator<Item = &'s str> + Clone) -> GatewayError {
    let hint = match crate::suggest::nearest(slug, known.clone()) {
        Some(near) => format!("did you mean {near}?"),
        None => {
            let mut slugs: Vec<&str> = known.collect();
            slugs.sort_unstable();
            format!("the providers are {}", slugs.join(", "))
        }
    };
    GatewayError::new(
        ErrorCode::InvalidProvider,
        format!("Invalid provider {:?}; {hint}", crate::suggest::shown(slug)),
    )
}

/// What one account's requests can name: configuration's providers and the account's own
/// custom providers as of when the view was taken.
pub struct AccountProviders<'r> {
    registry: &'r ProviderRegistry,
    created: Option<Arc<Created>>,
}

impl AccountProviders<'_> {
    pub fn get(&self, slug: &str) -> Option<&Arc<Provider>> {
        self.registry.get(slug).or_else(|| {
            self.created
                .as_ref()
                .and_then(|created| created.get(slug))
                .and_then(Option::as_ref)
        })
    }

    /// [`AccountProviders::get`], or 400/2008 saying how to fix it (or that the custom
    /// provider is disabled).
    pub fn named(&self, slug: &str) -> Result<&Arc<Provider>, GatewayError> {
        if let Some(provider) = self.get(slug) {
            return Ok(provider);
        }
        let created = self.created.as_deref();
        if created.is_some_and(|created| created.contains_key(slug)) {
            return Err(GatewayError::new(
                ErrorCode::InvalidProvider,
                format!(
                    "Custom provider {slug:?} is disabled: set \"enable\": true on it \
                     (…/ai-gateway/custom-providers)"
                ),
            ));
        }
        let known = self
            .registry
            .by_slug
            .keys()
            .chain(created.into_iter().flat_map(HashMap::keys))
            .map(String::as_str);
        Err(unknown(slug, known))
    }
}
