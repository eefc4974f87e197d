//! The configuration file's shape (serde) and its validation into [`super::Config`].

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{
    CacheConfig, Config, Egress, KekSource, LogFormat, LogsConfig, Overrides, ProviderConfig,
    Secret, SecretsConfig, ServerConfig, StorageConfig, UpstreamNet, UpstreamPool,
};
use crate::convert::saturating_usize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawConfig {
    server: RawServer,
    providers: BTreeMap<String, RawProvider>,
    storage: RawStorage,
    redis: RawRedis,
    cache: RawCache,
    logs: RawLogs,
    limits: super::limits::RawLimits,
    metrics: super::metrics::RawMetrics,
    otel: super::otel::RawOtel,
    websockets: super::websockets::RawWebSockets,
    pricing: crate::pricing::PriceOverrides,
    secrets: RawSecrets,
    mcp: super::mcp_endpoint::RawMcp,
    mcp_servers: Vec<super::mcp::RawMcpServer>,
    guardrails: super::guardrails::RawGuardrails,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSecrets {
    key_file: Option<PathBuf>,
    key: Option<String>,
}

impl RawSecrets {
    /// The key's value is never quoted in a problem: it is the secret.
    fn validate(self, data_dir: &std::path::Path, problems: &mut Vec<String>) -> SecretsConfig {
        let kek = match (self.key_file, self.key) {
            (Some(_), Some(_)) => {
                problems.push("secrets: set key_file or key, not both".into());
                KekSource::Generated(data_dir.join(GENERATED_KEK_FILE))
            }
            (Some(path), None) => KekSource::File(path),
            (None, Some(keys)) => {
                let parsed: Vec<_> = keys.split(',').map(crate::keys::Kek::parse).collect();
                if let Some(Err(why)) = parsed.iter().find(|k| k.is_err()) {
                    problems.push(format!("secrets.key: {why}"));
                }
                KekSource::Inline(Secret::new(keys))
            }
            (None, None) => KekSource::Generated(data_dir.join(GENERATED_KEK_FILE)),
        };
        SecretsConfig { kek }
    }
}

/// The key-encryption key made at the first start when none is configured.
const GENERATED_KEK_FILE: &str = "secrets.key";

#[derive(Debug, Deserialize)]
#[serde(default)]
struct RawLogs {
    spool_max_bytes: u64,
    fsync: bool,
    body_max_bytes: u64,
    commit_linger_ms: u64,
}

impl Default for RawLogs {
    fn default() -> Self {
        RawLogs {
            spool_max_bytes: 1024 * 1024 * 1024,
            fsync: false,
            body_max_bytes: 1024 * 1024,
            commit_linger_ms: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct RawServer {
    listen: String,
    data_dir: PathBuf,
    admin_token: Option<String>,
    max_body_bytes: u64,
    trusted_proxies: Vec<String>,
    upstream_timeout_ms: u64,
    upstream_pool_max_idle_per_host: usize,
    upstream_pool_idle_timeout_ms: u64,
    shutdown_grace_ms: u64,
    egress_proxy: Option<String>,
    egress_bind: Option<String>,
    connect_timeout_ms: u64,
    dns_timeout_ms: u64,
    dns_negative_ttl_ms: u64,
    log_format: String,
    access_log: bool,
    upstream_ca_file: Option<PathBuf>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8787".into(),
            data_dir: PathBuf::from("./tollgate-data"),
            admin_token: None,
            max_body_bytes: 32 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            upstream_timeout_ms: 600_000,
            upstream_pool_max_idle_per_host: 32,
            upstream_pool_idle_timeout_ms: 30_000,
            shutdown_grace_ms: 30_000,
            egress_proxy: None,
            egress_bind: None,
            connect_timeout_ms: 10_000,
            dns_timeout_ms: 5_000,
            dns_negative_ttl_ms: 5_000,
            log_format: "text".into(),
            access_log: false,
            upstream_ca_file: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawProvider {
    base_url: Option<String>,
    egress_proxy: Option<String>,
    egress_bind: Option<String>,
    credential_header: Option<String>,
    cf_account: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawStorage {
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct RawRedis {
    url: String,
    key_prefix: String,
}

impl Default for RawRedis {
    fn default() -> Self {
        RawRedis {
            url: String::new(),
            key_prefix: "tollgate:".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct RawCache {
    max_bytes: u64,
}

impl Default for RawCache {
    fn default() -> Self {
        RawCache {
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The largest body a deployment may allow; beyond this a single request could exhaust memory.
const MAX_BODY_LIMIT: u64 = 1024 * 1024 * 1024;

impl RawConfig {
    /// `server.data_dir` as written (a `--data-dir` flag replaces it).
    pub(super) fn data_dir(&self) -> PathBuf {
        self.server.data_dir.clone()
    }

    pub(super) fn validate(self, overrides: &Overrides) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let server = self.server;

        let listen_text = overrides.listen.clone().unwrap_or(server.listen);
        let listen = parse_listen(&listen_text).unwrap_or_else(|why| {
            problems.push(format!("server.listen: {why}"));
            SocketAddr::from(([127, 0, 0, 1], 8787))
        });
        let data_dir = overrides.data_dir.clone().unwrap_or(server.data_dir);

        let admin_token = match server.admin_token {
            Some(token) if token.trim().len() < 16 => {
                problems.push("server.admin_token: must be at least 16 characters".into());
                None
            }
            Some(token) => Some(Secret::new(token.trim().to_owned())),
            None => None,
        };
        if server.max_body_bytes == 0 || server.max_body_bytes > MAX_BODY_LIMIT {
            problems.push(format!(
                "server.max_body_bytes: must be between 1 and {MAX_BODY_LIMIT}"
            ));
        }
        let mut trusted_proxies = Vec::new();
        for cidr in &server.trusted_proxies {
            match parse_cidr(cidr) {
                Some(net) => trusted_proxies.push(net),
                None => problems.push(format!("server.trusted_proxies: `{cidr}` is not a CIDR")),
            }
        }
        if server.upstream_timeout_ms == 0 {
            problems.push("server.upstream_timeout_ms: must be greater than 0".into());
        }
        for (key, value) in [
            ("connect_timeout_ms", server.connect_timeout_ms),
            ("dns_timeout_ms", server.dns_timeout_ms),
        ] {
            if !(1..=600_000).contains(&value) {
                problems.push(format!("server.{key}: must be between 1 and 600000"));
            }
        }
        if server.dns_negative_ttl_ms > 600_000 {
            problems.push("server.dns_negative_ttl_ms: must be at most 600000".into());
        }
        if server.upstream_pool_idle_timeout_ms == 0 {
            problems.push("server.upstream_pool_idle_timeout_ms: must be greater than 0".into());
        }
        let log_format = match server.log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                problems.push(format!(
                    "server.log_format: `{other}` is not `text` or `json`"
                ));
                LogFormat::Text
            }
        };
        let egress = parse_egress(
            "server",
            server.egress_proxy,
            server.egress_bind,
            &mut problems,
        );

        let mut providers = BTreeMap::new();
        for (slug, raw) in self.providers {
            let section = format!("providers.{slug}");
            if !crate::providers::is_valid_slug(&slug) {
                problems.push(format!(
                    "{section}: a provider slug is 1-64 characters of a-z, 0-9, '-' and '_'"
                ));
            }
            if slug == "unknown" {
                // Metrics and analytics count requests for unconfigured providers under
                // `unknown` (docs/analytics.md); a real provider of that name would hide in them.
                problems.push(format!("{section}: `unknown` is reserved"));
            }
            if let Some(url) = &raw.base_url
                && let Err(why) = check_base_url(url)
            {
                problems.push(format!("{section}.base_url: {why}"));
            }
            if !crate::providers::is_builtin(&slug) && raw.base_url.is_none() {
                problems.push(format!(
                    "{section}: `{slug}` is not a built-in provider, so it needs a base_url"
                ));
            }
            if let Some(name) = &raw.credential_header
                && http::HeaderName::from_bytes(name.as_bytes()).is_err()
            {
                problems.push(format!(
                    "{section}.credential_header: `{name}` is not a header name"
                ));
            }
            let provider_egress =
                parse_egress(&section, raw.egress_proxy, raw.egress_bind, &mut problems);
            providers.insert(
                slug,
                ProviderConfig {
                    base_url: raw.base_url.map(|u| u.trim_end_matches('/').to_owned()),
                    egress: Egress {
                        proxy: provider_egress.proxy.or_else(|| egress.proxy.clone()),
                        bind: provider_egress.bind.or(egress.bind),
                    },
                    credential_header: raw.credential_header.map(|h| h.to_ascii_lowercase()),
                    cf_account: raw.cf_account,
                },
            );
        }

        let storage = match self.storage.url {
            None => StorageConfig::Sqlite {
                path: data_dir.join("tollgate.db"),
            },
            Some(url) => parse_storage_url(&url).unwrap_or_else(|why| {
                problems.push(format!("storage.url: {why}"));
                StorageConfig::Sqlite {
                    path: data_dir.join("tollgate.db"),
                }
            }),
        };
        let redis_url = Some(self.redis.url).filter(|url| !url.is_empty());
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            problems.push("redis.url: must start with redis:// or rediss://".into());
        }

        problems.extend(crate::pricing::validate_overrides(&self.pricing));
        if self.logs.spool_max_bytes < 1024 * 1024 {
            problems.push("logs.spool_max_bytes: must be at least 1048576".into());
        }
        if self.logs.commit_linger_ms > 1000 {
            problems.push("logs.commit_linger_ms: must be at most 1000".into());
        }
        if self.logs.body_max_bytes > 64 * 1024 * 1024 {
            problems.push("logs.body_max_bytes: must be at most 67108864".into());
        }

        let secrets = self.secrets.validate(&data_dir, &mut problems);
        let limits = self.limits.validate(&mut problems);
        let metrics = self.metrics.validate(listen, &mut problems);
        let otel = self.otel.validate(&mut problems);
        let websockets = self.websockets.validate(&mut problems);
        let mcp = self.mcp.validate(&mut problems);
        let mcp_servers = super::mcp::validate(self.mcp_servers, &mut problems);
        let configured: Vec<&str> = providers.keys().map(String::as_str).collect();
        let guardrails = self.guardrails.validate(&configured, &mut problems);

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            server: ServerConfig {
                listen,
                data_dir,
                admin_token,
                max_body_bytes: saturating_usize(server.max_body_bytes),
                trusted_proxies,
                upstream_timeout: Duration::from_millis(server.upstream_timeout_ms),
                upstream_pool: UpstreamPool {
                    max_idle_per_host: server.upstream_pool_max_idle_per_host,
                    idle_timeout: Duration::from_millis(server.upstream_pool_idle_timeout_ms),
                },
                shutdown_grace: Duration::from_millis(server.shutdown_grace_ms),
                egress,
                upstream_net: UpstreamNet {
                    connect_timeout: Duration::from_millis(server.connect_timeout_ms),
                    dns_timeout: Duration::from_millis(server.dns_timeout_ms),
                    dns_negative_ttl: Duration::from_millis(server.dns_negative_ttl_ms),
                },
                upstream_ca_file: server.upstream_ca_file,
                log_format,
                access_log: server.access_log,
            },
            providers,
            storage,
            redis_url,
            redis_key_prefix: self.redis.key_prefix,
            cache: CacheConfig {
                max_bytes: self.cache.max_bytes,
            },
            logs: LogsConfig {
                spool_max_bytes: self.logs.spool_max_bytes,
                fsync: self.logs.fsync,
                body_max_bytes: saturating_usize(self.logs.body_max_bytes),
                commit_linger: Duration::from_millis(self.logs.commit_linger_ms),
            },
            limits,
            metrics,
            otel,
            websockets,
            pricing: self.pricing,
            secrets,
            mcp,
            mcp_servers,
            guardrails,
        })
    }
}

pub(super) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    // Host names such as `localhost:8787` resolve locally, without the network.
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("`{text}` is not an address such as 127.0.0.1:8787"))
}

fn parse_cidr(text: &str) -> Option<ipnet::IpNet> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

fn parse_egress(
    section: &str,
    proxy: Option<String>,
    bind: Option<String>,
    problems: &mut Vec<String>,
) -> Egress {
    let proxy = proxy.filter(|p| !p.is_empty());
    if let Some(url) = &proxy
        && let Err(problem) = crate::proxy::check_proxy_url(url)
    {
        problems.push(format!("{section}.egress_proxy: {problem}"));
    }
    let bind = bind
        .filter(|b| !b.is_empty())
        .and_then(|text| match text.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                problems.push(format!(
                    "{section}.egress_bind: `{text}` is not an IP address"
                ));
                None
            }
        });
    Egress { proxy, bind }
}

fn check_base_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{url}`: scheme must be http or https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("`{url}`: must not have a query or fragment"));
    }
    Ok(())
}

fn parse_storage_url(url: &str) -> Result<StorageConfig, String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("sqlite:// needs a file path".into());
        }
        return Ok(StorageConfig::Sqlite {
            path: PathBuf::from(path),
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // Checked here so a bad URL is reported with the other problems, not at first connect.
        // The URL is not echoed: it may hold a password.
        return match url.parse::<tokio_postgres::Config>() {
            Ok(_) => Ok(StorageConfig::Postgres {
                url: Secret::new(url.to_owned()),
            }),
            Err(error) => Err(format!("not a valid PostgreSQL URL: {error}")),
        };
    }
    Err(format!(
        "`{url}`: expected sqlite://PATH or postgres://USER@HOST/DATABASE"
    ))
}
