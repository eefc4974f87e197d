//! The providers a running gateway knows: built-ins with their overrides, plus custom slugs.

use std::collections::HashMap;
use std::sync::Arc;

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

/// Slug → provider, built once from configuration.
#[derive(Debug, Default)]
pub struct ProviderRegistry {
    by_slug: HashMap<String, Arc<Provider>>,
    /// Every credential header name any provider uses, sorted.
    all_credential_headers: Vec<HeaderName>,
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
            });
            // Cloudflare's spelling of a custom provider is `custom-<slug>`.
            by_slug.insert(format!("custom-{slug}"), provider.clone());
            by_slug.insert(slug.clone(), provider);
        }
        let mut all_credential_headers: Vec<HeaderName> = by_slug
            .values()
            .flat_map(|p| p.credential_headers.iter().cloned())
            .collect();
        all_credential_headers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        all_credential_headers.dedup();
        Ok(ProviderRegistry {
            by_slug,
            all_credential_headers,
        })
    }

    pub fn get(&self, slug: &str) -> Option<&Arc<Provider>> {
        self.by_slug.get(slug)
    }

    /// The provider a slug names, or 400/2008 saying how to fix it: the nearest configured
    /// slug when the name looks like a typo of one, else every slug there is.
    pub fn named(&self, slug: &str) -> Result<&Arc<Provider>, GatewayError> {
        self.get(slug).ok_or_else(|| {
            let hint = match crate::suggest::nearest(slug, self.by_slug.keys().map(String::as_str))
            {
                Some(near) => format!("did you mean {near}?"),
                None => {
                    let mut slugs: Vec<&str> = self.by_slug.keys().map(String::as_str).collect();
                    slugs.sort_unstable();
                    format!("the providers are {}", slugs.join(", "))
                }
            };
            GatewayError::new(
                ErrorCode::InvalidProvider,
                format!("Invalid provider {:?}; {hint}", crate::suggest::shown(slug)),
            )
        })
    }

    /// Every credential header name any provider uses: what redaction covers on every route,
    /// whichever provider the request is for.
    pub fn all_credential_headers(&self) -> &[HeaderName] {
        &self.all_credential_headers
    }
}
