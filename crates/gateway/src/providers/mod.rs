//! Providers: the built-in table (docs/architecture.md), custom providers from configuration and
//! from the management API, and how a provider path becomes an upstream URL.

mod builtin;
pub mod custom;
mod registry;
pub mod url;

pub use builtin::{BUILTIN, BuiltinProvider, CompatBase, UrlTemplate, UsageFormat, builtin};
pub use registry::{AccountProviders, Provider, ProviderRegistry, StoredKeyAuth};

/// Slugs are 1-64 characters of `[a-z0-9_-]`, like gateway ids.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub fn is_builtin(slug: &str) -> bool {
    builtin(slug).is_some()
}
