//! The `[[mcp_servers]]` section: the upstream MCP servers each gateway's `/mcp` endpoint
//! aggregates (docs/mcp.md). One entry per server and gateway; validated at start-up, every bad
//! entry reported by its position and field.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;

/// One upstream MCP server of one gateway, reached over Streamable HTTP at `url`, or, when
/// `command` is set (configuration file only), a process of the gateway's own spoken to over
/// its stdin and stdout.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServerConfig {
    /// The gateway id whose `/mcp` endpoint lists this server's tools.
    pub gateway: String,
    /// The namespace of its tools (`{name}__{tool}`): 1-32 characters of `[a-z0-9-]`, so the
    /// first `__` of a namespaced name always ends the server's name.
    pub name: String,
    /// Empty for a stdio server.
    pub url: String,
    pub command: Option<StdioCommand>,
    /// Sent on every request to the server (its credentials, typically); never logged.
    pub headers: Vec<(String, Secret)>,
    /// How long one request to the server (connect, list, call) may take.
    pub timeout: Duration,
    /// US dollars per tool call, reserved against budgets and logged as the call's cost
    /// (docs/mcp.md, "Budgets"); `None`: its calls cost nothing.
    pub cost_per_call: Option<f64>,
}

/// A stdio server's process: started on first use, stopped when its connection is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct StdioCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the gateway's environment for the process (credentials, typically); never
    /// logged.
    pub env: Vec<(String, Secret)>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawMcpServer {
    gateway: String,
    name: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default)]
    cost_per_call: Option<f64>,
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// The longest `timeout_ms` accepted: five minutes.
const MAX_TIMEOUT_MS: u64 = 300_000;
/// The highest price per tool call accepted, in US dollars (a guard against a typo'd amount).
pub const MAX_COST_PER_CALL_USD: f64 = 1_000.0;

/// Whether `usd` is a price a tool call may have: finite, 0 to [`MAX_COST_PER_CALL_USD`].
pub fn is_cost_per_call(usd: f64) -> bool {
    (0.0..=MAX_COST_PER_CALL_USD).contains(&usd)
}

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
        match (&server.url, &server.command) {
            (Some(text), None) => match url::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
                _ => problems.push(format!(
                    "{at}.url: `{text}` is not an http:// or https:// URL"
                )),
            },
            (None, Some(command)) if command.trim().is_empty() => {
                problems.push(format!("{at}.command: must name a program"));
            }
            (None, Some(_)) if !server.headers.is_empty() => problems.push(format!(
                "{at}.headers: a stdio server has no HTTP headers; give its credentials in `env`"
            )),
            (None, Some(_)) => {}
            _ => problems.push(format!(
                "{at}: give either `url` (a Streamable HTTP server) or `command` (a stdio server)"
            )),
        }
        if server.command.is_none() && (!server.args.is_empty() || !server.env.is_empty()) {
            problems.push(format!(
                "{at}: `args` and `env` are for a stdio server (`command`)"
            ));
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
        if server
            .cost_per_call
            .is_some_and(|usd| !is_cost_per_call(usd))
        {
            problems.push(format!(
                "{at}.cost_per_call: must be 0 to {MAX_COST_PER_CALL_USD} (US dollars per tool call)"
            ));
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
            url: server.url.unwrap_or_default(),
            command: server.command.map(|program| StdioCommand {
                program,
                args: server.args,
                env: server
                    .env
                    .into_iter()
                    .map(|(name, value)| (name, Secret::new(value)))
                    .collect(),
            }),
            headers: server
                .headers
                .into_iter()
                .map(|(name, value)| (name, Secret::new(value)))
                .collect(),
            timeout: Duration::from_millis(server.timeout_ms),
            cost_per_call: server.cost_per_call.filter(|usd| *usd > 0.0),
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
