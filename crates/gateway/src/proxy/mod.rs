//! The provider pass-through (docs/architecture.md): `/v1/{account}/{gateway}/{provider}/{path…}`.

mod admission;
mod answer;
mod caching;
mod client;
mod client_ip;
mod compat;
mod credentials;
mod dispatch;
mod dns;
mod failure;
mod handler;
mod headers;
mod options;
mod path;
mod redact;
mod relay;
mod retry;
mod universal;

pub use client::UpstreamClients;
pub use client_ip::client_ip;
pub use handler::proxy;
pub use options::{CustomCost, RequestOptions, validate_metadata};
pub use path::{ProxyPath, is_compat, parse as parse_path};

/// 1-64 characters of `[a-z0-9_-]`.
pub fn is_gateway_id(id: &str) -> bool {
    path::is_id(id, false)
}

/// Account ids also allow upper case (Cloudflare's are hex, clients vary in case).
pub fn is_account_id(id: &str) -> bool {
    path::is_id(id, true)
}
