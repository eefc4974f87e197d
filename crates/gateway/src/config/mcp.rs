//! The `[[mcp_servers]]` section: the upstream MCP servers each gateway's `/mcp` endpoint
//! aggregates (docs/mcp.md). One entry per server and gateway; validated at start-up, every bad
//! entry reported by its position and field.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;

/// One upstream MCP server of one gateway, reached over Streamable HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServerConfig {
    /// The gateway id whose `/mcp` endpoint lists this server's tools.
    pub gateway: String,
    /// The namespace of its tools (`{name}__{tool}`): 1-32 characters of `[a-z0-9-]`, so the
    /// first `__` of a namespaced name always ends the server's name.
    pub name: String,
    pub url: String,
    /// Sent on every request to the server (its credentials, typically); never logged.
    pub headers: Vec<(String, Secret)>,
    /// How long one request to the server (connect, list, call) may take.
    pub timeout: Duration,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawMcpServer {
    gateway: String,
    name: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// The longest `timeout_ms` accepted: five minutes.
const MAX_TIMEOUT_MS: u64 = 300_000;
/// Servers per configuration: each is listed on every `tools/list` of its gateway.
const MAX_SERVERS: usize = 256;

pub(super) fn validate(raw: Vec<RawMcpServer>, problems: &mut Vec<String>) -> Vec<McpServerConfig> {
    if raw.len() > MAX_SERVERS {
        problems.push(format!(
            "mcp_servers: at most {MAX_SERVERS} servers, found {}",
            raw.len()
        ));
    }
    let mut servers: Vec<McpServerConfig> = Vec::new();
    for (index, server) in raw.into_iter().enumerate() {
        let at = format!("mcp_servers[{index}]");
        let before = problems.len();
        if !crate::proxy::is_gateway_id(&server.gateway) {
            problems.push(format!(
                "{at}.gateway: `{}` is not a gateway id (1-64 characters of a-z, 0-9, '-' and '_')",
                server.gateway
            ));
        }
        if !is_server_name(&server.name) {
            problems.push(format!(
                "{at}.name: `{}` must be 1-32 characters of a-z, 0-9 and '-' (tools are \
                 named {{name}}__{{tool}})",
                server.name
            ));
        }
        match url::Url::parse(&server.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => problems.push(format!(
                "{at}.url: `{}` is not an http:// or https:// URL",
                server.url
            )),
        }
        for (name, value) in &server.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                problems.push(format!("{at}.headers: `{name}` is not a header name"));
            }
            // The value is not quoted: it is usually a credential.
            if http::HeaderValue::from_str(value).is_err() {
                problems.push(format!("{at}.headers.{name}: not a valid header value"));
            }
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&server.timeout_ms) {
            problems.push(format!("{at}.timeout_ms: must be 1 to {MAX_TIMEOUT_MS}"));
        }
        if servers
            .iter()
            .any(|s| s.gateway == server.gateway && s.name == server.name)
        {
            problems.push(format!(
                "{at}: gateway `{}` already has a server named `{}`",
                server.gateway, server.name
            ));
        }
        if problems.len() > before {
            continue;
        }
        servers.push(McpServerConfig {
            gateway: server.gateway,
            name: server.name,
            url: server.url,
            headers: server
                .headers
                .into_iter()
                .map(|(name, value)| (name, Secret::new(value)))
                .collect(),
            timeout: Duration::from_millis(server.timeout_ms),
        });
    }
    servers
}

/// A server name: 1-32 characters of `[a-z0-9-]` (no `_`, so the first `__` of a namespaced
/// name ends it).
pub fn is_server_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
