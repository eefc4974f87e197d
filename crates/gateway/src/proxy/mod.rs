//! The provider pass-through (docs/architecture.md): `/v1/{account}/{gateway}/{provider}/{path…}`.
//!
//! The phases are written once, in [`handler`]; below it, in the order a request meets them:
//! admission (the checks), the routes' planners (native, compat, universal), execute (cache and
//! attempts), the relay, and the log records every phase's outcome ends in ([`record`]).

// The entry point and the request's context.
pub(crate) mod context;
mod handler;
// Admission.
mod admission;
mod client_ip;
mod options;
mod path;
// The routes' plans.
mod body;
mod compat;
mod credentials;
mod headers;
mod native;
mod plan;
mod routed;
mod universal;
// Execute: cache, attempts, relay.
mod answer;
mod attempts;
mod caching;
mod client;
pub(crate) mod connect;
pub(crate) mod dlp;
mod dns;
mod execute;
mod failure;
mod guardrails;
mod policy;
mod realtime;
mod relay;
mod retry;
// Log records.
mod record;
pub(crate) mod redact;

pub use admission::enforce_limits;
pub use body::read_body;
pub use client::{UpstreamClient, UpstreamClients, read_limited};
pub use client_ip::client_ip;
pub use compat::speaks_anthropic;
pub use connect::check_proxy_url;
pub use context::RequestContext;
pub use failure::{causes, innermost as deepest_cause};
pub use handler::proxy;
pub use options::{CustomCost, RequestOptions, validate_metadata};
pub use path::{ProxyPath, is_compat, parse as parse_path};
pub use realtime::{Sessions, open_sessions};

/// 1-64 characters of `[a-z0-9_-]`.
pub fn is_gateway_id(id: &str) -> bool {
    path::is_id(id, false)
}

/// Account ids also allow upper case (Cloudflare's are hex, clients vary in case).
pub fn is_account_id(id: &str) -> bool {
    path::is_id(id, true)
}
