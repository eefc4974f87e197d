//! Configuration: defaults, then the TOML file, then `TOLLGATE_<SECTION>__<KEY>` environment
//! variables, then command-line flags (docs/configuration.md), parsed once into the validated [`Config`].
//!
//! The raw serde types live in [`raw`]; nothing outside this module sees them. Validation
//! collects every problem before failing so `tollgate config check` can print them all at once.

mod env;
mod guardrails;
mod limits;
mod mcp;
mod mcp_endpoint;
mod metrics;
mod otel;
mod raw;
mod websockets;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

pub use guardrails::GuardrailsConfig;
pub use limits::Limits;
pub use mcp::{
    MAX_COST_PER_CALL_USD, McpServerConfig, StdioCommand, is_cost_per_call,
    is_server_name as is_mcp_server_name,
};
pub use mcp_endpoint::McpConfig;
pub use metrics::MetricsConfig;
pub use otel::OtelConfig;
pub use raw::RawConfig;
pub use websockets::WebSocketsConfig;

/// The validated configuration the rest of the gateway runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    /// Per-slug overrides and custom providers, keyed by slug.
    pub providers: BTreeMap<String, ProviderConfig>,
    pub storage: StorageConfig,
    pub redis_url: Option<String>,
    /// Prefix of every Redis key Tollgate writes, so deployments (and tests) can share a server.
    pub redis_key_prefix: String,
    pub cache: CacheConfig,
    pub logs: LogsConfig,
    /// What a client, connection or request may cost before it is refused.
    pub limits: Limits,
    /// Where `/metrics` is served and who may scrape it.
    pub metrics: MetricsConfig,
    /// OpenTelemetry export and sampling (docs/observability.md).
    pub otel: OtelConfig,
    /// The bounds of a WebSocket session (docs/websockets.md).
    pub websockets: WebSocketsConfig,
    /// Prices that override or extend the bundled table: provider → model → USD per million.
    pub pricing: crate::pricing::PriceOverrides,
    /// Where the key that encrypts stored provider keys comes from (docs/keys.md).
    pub secrets: SecretsConfig,
    /// `[mcp]`: the `/mcp` endpoint's transport, stateless or with sessions (docs/mcp.md).
    pub mcp: McpConfig,
    /// `[[mcp_servers]]`: the upstream MCP servers of each gateway's `/mcp` (docs/mcp.md).
    pub mcp_servers: Vec<McpServerConfig>,
    /// `[guardrails]`: the classifier of the gateways' `guardrails` (docs/guardrails.md).
    pub guardrails: GuardrailsConfig,
}

/// `[secrets]`: the key-encryption key (KEK) of stored provider keys (docs/keys.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsConfig {
    pub kek: KekSource,
}

/// Where the key-encryption key comes from. Each holds one key or several: the first seals new
/// secrets, the others (kept during a rotation) only open old ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// `[secrets] key_file`: one key per line; read at start, and again when the gateway meets a
    /// key id it does not know (a rotation) or is about to seal a secret.
    File(PathBuf),
    /// `[secrets] key` or `TOLLGATE_SECRETS__KEY`: keys separated by commas.
    Inline(Secret),
    /// Neither set: `<data_dir>/secrets.key`, made (mode 0600) at the first start.
    Generated(PathBuf),
}

/// The request log pipeline (docs/logs.md).
#[derive(Debug, Clone)]
pub struct LogsConfig {
    /// Unshipped spool bytes beyond which requests get 503 rather than go unlogged.
    pub spool_max_bytes: u64,
    /// `fdatasync` each group commit: survives power loss, not only a killed process.
    pub fsync: bool,
    /// Request and response bodies are stored up to this many bytes each.
    pub body_max_bytes: usize,
    /// Extra wait before each group commit, to batch more records per write.
    pub commit_linger: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub admin_token: Option<Secret>,
    pub max_body_bytes: usize,
    pub trusted_proxies: Vec<IpNet>,
    pub upstream_timeout: Duration,
    pub upstream_pool: UpstreamPool,
    pub shutdown_grace: Duration,
    pub egress: Egress,
    pub upstream_net: UpstreamNet,
    /// PEM certificates trusted for provider TLS besides the system's (a private CA).
    pub upstream_ca_file: Option<PathBuf>,
    /// How the process log (stderr) is written.
    pub log_format: LogFormat,
    /// One `tollgate::access` line per proxied request (docs/configuration.md, "Server log").
    pub access_log: bool,
}

/// The process log's format: lines for people, or one JSON object per line for collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How provider connections are opened: bounds on the host name lookup and the TCP connect,
/// and how long a failed lookup is remembered (docs/reliability.md, "Upstream provider").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamNet {
    pub connect_timeout: Duration,
    pub dns_timeout: Duration,
    /// Zero remembers nothing: every new connection asks the resolver again.
    pub dns_negative_ttl: Duration,
}

/// How many idle keep-alive connections to providers are kept, and for how long. Unbounded, a
/// burst of streams left one open descriptor (and its buffers) per stream behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamPool {
    /// Per upstream host; the connections a burst opens beyond it close as they go idle.
    pub max_idle_per_host: usize,
    pub idle_timeout: Duration,
}

/// Where traffic to providers leaves from: an outbound proxy and/or a local source address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Egress {
    pub proxy: Option<String>,
    pub bind: Option<IpAddr>,
}

#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    pub base_url: Option<String>,
    pub egress: Egress,
    /// For custom providers: the header that carries the provider credential.
    pub credential_header: Option<String>,
    /// Workers AI: the Cloudflare account id in its base URL.
    pub cf_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    Sqlite {
        path: PathBuf,
    },
    /// `postgres://…` (or `postgresql://…`, or a key=value string); it may carry a password.
    Postgres {
        url: Secret,
    },
}

#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub max_bytes: u64,
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(*****)")
    }
}

/// Command-line flags that override file and environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// Every problem found while loading, one line each.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid configuration:\n  {}", .problems.join("\n  "))]
pub struct ConfigError {
    pub problems: Vec<String>,
    /// The data directory the configuration names, if it could be read that far, so
    /// `tollgate config check` can look at it along with the other problems.
    pub data_dir: Option<PathBuf>,
}

impl ConfigError {
    fn one(problem: String) -> Self {
        ConfigError {
            problems: vec![problem],
            data_dir: None,
        }
    }
}

impl Config {
    /// Loads from an optional file, the process environment and flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        Self::load_from(file, std::env::vars(), overrides)
    }

    /// Like [`Config::load`] with the environment passed in, so tests need not touch the process's.
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| ConfigError::one(format!("cannot read {}: {e}", path.display())))?,
            None => String::new(),
        };
        Self::parse_file(&text, file, vars, overrides)
    }

    /// Parses TOML text, applies environment variables and flags, and validates.
    pub fn parse(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        Self::parse_file(text, None, vars, overrides)
    }

    /// [`Config::parse`] of the text of `file`, which a syntax error names. Every problem is
    /// found in one pass: a value of the wrong type is reported and left out (its default
    /// stands in), so the checks of every other value still run.
    fn parse_file(
        text: &str,
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut document: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::one(syntax_error(text, file, &e)))?;
        let (mut problems, from_env) = env::apply(&mut document, vars);
        let (raw, unknown) = deserialize(document, &mut problems);
        problems.extend(unknown);
        let data_dir = overrides.data_dir.clone().unwrap_or_else(|| raw.data_dir());
        match raw.validate(overrides) {
            Ok(config) if problems.is_empty() => Ok(config),
            result => {
                problems.extend(result.err().unwrap_or_default());
                Err(ConfigError {
                    problems: env::name_variables(problems, &from_env),
                    data_dir: Some(data_dir),
                })
            }
        }
    }

    /// The configuration with every default and nothing else.
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::parse("", std::iter::empty(), &Overrides::default())
    }
}

/// `not valid TOML` with the file, line and column, e.g. `tollgate.toml:3:9: not valid TOML: …`.
fn syntax_error(text: &str, file: Option<&Path>, error: &toml::de::Error) -> String {
    let place = error.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{line}:{column}")
    });
    let message = error.message().trim_end();
    match (file, place) {
        (Some(file), Some(place)) => {
            format!("{}:{place}: not valid TOML: {message}", file.display())
        }
        (Some(file), None) => format!("{}: not valid TOML: {message}", file.display()),
        (None, Some(place)) => format!("line {place}: not valid TOML: {message}"),
        (None, None) => format!("not valid TOML: {message}"),
    }
}

/// The document as [`RawConfig`] and its unknown keys. A value of the wrong type is added to
/// `problems` under its key and removed, and the rest is read again, until it reads.
fn deserialize(mut document: toml::Table, problems: &mut Vec<String>) -> (RawConfig, Vec<String>) {
    // Each round removes a key, so the rounds are bounded by the document's size.
    loop {
        let mut unknown = Vec::new();
        let mut note_unknown =
            |path: serde_ignored::Path<'_>| unknown.push(format!("unknown key `{path}`"));
        let ignored = serde_ignored::Deserializer::new(
            toml::Value::Table(document.clone()),
            &mut note_unknown,
        );
        match serde_path_to_error::deserialize::<_, RawConfig>(ignored) {
            Ok(raw) => return (raw, unknown),
            Err(error) => {
                let removed = remove_key(&mut document, error.path());
                problems.push(format!("{}: {}", error.path(), error.inner().message()));
                if !removed {
                    problems.extend(unknown);
                    return (RawConfig::default(), Vec::new());
                }
            }
        }
    }
}

/// Removes the key `path` leads to (an array's key, if it leads into one); false if there is none.
fn remove_key(document: &mut toml::Table, path: &serde_path_to_error::Path) -> bool {
    let keys: Vec<&str> = path
        .iter()
        .map_while(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut table = document;
    for key in parents {
        match table.get_mut(*key) {
            Some(toml::Value::Table(inner)) => table = inner,
            _ => return false,
        }
    }
    table.remove(*last).is_some()
}

#[cfg(test)]
mod tests;
