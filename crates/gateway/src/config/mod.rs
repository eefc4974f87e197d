//! Configuration: defaults, then the TOML file, then `TOLLGATE_<SECTION>__<KEY>` environment
//! variables, then command-line flags (docs/configuration.md), parsed once into the validated [`Config`].
//!
//! The raw serde types live in [`raw`]; nothing outside this module sees them. Validation
//! collects every problem before failing so `tollgate config check` can print them all at once.

mod env;
mod limits;
mod metrics;
mod raw;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

pub use limits::Limits;
pub use metrics::MetricsConfig;
pub use raw::RawConfig;

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
    /// Prices that override or extend the bundled table: provider → model → USD per million.
    pub pricing: crate::pricing::PriceOverrides,
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
}

impl ConfigError {
    fn one(problem: String) -> Self {
        ConfigError {
            problems: vec![problem],
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
        Self::parse(&text, vars, overrides)
    }

    /// Parses TOML text, applies environment variables and flags, and validates.
    pub fn parse(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut document: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError::one(format!("not valid TOML: {}", e.message())))?;
        let mut problems = env::apply(&mut document, vars);
        let mut unknown = Vec::new();
        let raw: RawConfig =
            match serde_ignored::deserialize(toml::Value::Table(document), |path| {
                unknown.push(format!("unknown key `{path}`"))
            }) {
                Ok(raw) => raw,
                Err(e) => {
                    problems.extend(unknown);
                    problems.push(e.to_string());
                    return Err(ConfigError { problems });
                }
            };
        problems.extend(unknown);
        match raw.validate(overrides) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(ConfigError { problems }),
            Err(more) => {
                problems.extend(more);
                Err(ConfigError { problems })
            }
        }
    }

    /// The configuration with every default and nothing else.
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::parse("", std::iter::empty(), &Overrides::default())
    }
}

#[cfg(test)]
mod tests;
