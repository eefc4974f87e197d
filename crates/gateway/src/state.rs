//! The state every handler shares, built once at start-up from the validated configuration.

use std::sync::Arc;

use crate::auth::{AdminToken, TokenRegistry};
use crate::budgets::SpendLedger;
use crate::cache::ResponseCache;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, StorageConfig};
use crate::gateways::GatewayRegistry;
use crate::keys::Keys;
use crate::logs::{LogPipeline, SpoolSettings};
use crate::metrics::Metrics;
use crate::mirror::{Miss, SharedMirror};
use crate::otel::Telemetry;
use crate::pricing::PriceTable;
use crate::providers::ProviderRegistry;
use crate::proxy::UpstreamClients;
use crate::ratelimit::{DEFAULT_MAX_KEYS, RateLimiter};
use crate::redis::RedisHandle;
use crate::routing::Routes;
use crate::store::Store;
use crate::store::postgres::{ChangeFeed, PostgresStore};
use crate::store::sqlite::SqliteStore;
use crate::tasks::Tasks;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    providers: ProviderRegistry,
    gateways: Arc<GatewayRegistry>,
    tokens: TokenRegistry,
    keys: Arc<Keys>,
    /// Dynamic routes with their live versions (docs/routing.md).
    routes: Arc<Routes>,
    admin_token: AdminToken,
    logs: LogPipeline,
    prices: PriceTable,
    metrics: Metrics,
    clock: SharedClock,
    cache: ResponseCache,
    rate_limiter: RateLimiter,
    budgets: SpendLedger,
    /// Each gateway's committed policies (docs/budgets.md, "Policies").
    policies: crate::policies::PolicyCache,
    /// Each account's custom DLP profiles, compiled (docs/dlp.md, "Custom profiles").
    dlp_profiles: crate::dlp::CustomProfiles,
    /// OpenTelemetry export (docs/observability.md).
    telemetry: Telemetry,
    /// Background tasks that are not the log pipeline's; the server waits for them at shutdown.
    tasks: Tasks,
    /// The WebSocket sessions open here (docs/websockets.md).
    sessions: crate::proxy::Sessions,
    /// Gateways and tokens as mirrored from a shared store (`None` on SQLite, where memory is
    /// the store's only writer).
    mirror: Option<Arc<SharedMirror>>,
    /// When this instance started (the compat model list's `created`).
    started_at: jiff::Timestamp,
    /// The MCP endpoint's service and upstream servers (docs/mcp.md).
    mcp: crate::mcp::McpGateway,
}

/// Spool segments roll at this size; shipped segments are deleted whole.
const SPOOL_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// What start-up produced besides the state: the admin token when it was generated just now.
pub struct Bootstrap {
    pub state: AppState,
    pub new_admin_token: Option<String>,
}

impl AppState {
    /// Opens the store (running migrations), loads gateways and tokens, builds upstream clients.
    pub async fn build(config: Config) -> anyhow::Result<Bootstrap> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`AppState::build`] with a given clock for TTLs and rate-limit windows (tests move it).
    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Bootstrap> {
        std::fs::create_dir_all(&config.server.data_dir)?;
        let started_at = clock.now();
        let tasks = Tasks::new();
        // A shared store comes with a feed of changes other instances made.
        let (store, changes): (Arc<dyn Store>, Option<ChangeFeed>) = match &config.storage {
            StorageConfig::Sqlite { path } => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??;
                (Arc::new(store), None)
            }
            StorageConfig::Postgres { url } => {
                let store = PostgresStore::connect(url.expose()).await?;
                let changes = store.change_feed(&tasks);
                (Arc::new(store), Some(changes))
            }
        };
        let (admin_token, new_admin_token) =
            AdminToken::bootstrap(&config.server, store.as_ref()).await?;
        let mut clients =
            UpstreamClients::new(&config.server.upstream_net, config.server.upstream_pool);
        if let Some(pem_file) = &config.server.upstream_ca_file {
            clients = clients.trusting(pem_file)?;
        }
        let providers = ProviderRegistry::from_config(&config, &clients)?;
        crate::providers::custom::reload(store.as_ref(), &providers).await?;
        let gateways =
            Arc::new(GatewayRegistry::load(store.clone(), clock.clone(), tasks.clone()).await?);
        let tokens = TokenRegistry::load(store.clone(), clock.clone()).await?;
        let keys = Arc::new(
            Keys::open(
                &config.secrets.kek,
                store.clone(),
                clock.clone(),
                tasks.clone(),
            )
            .await?,
        );
        let routes = Arc::new(Routes::load(store.clone(), clock.clone()).await?);
        let prices = PriceTable::new(config.pricing.clone())?;
        let logs = LogPipeline::start(
            SpoolSettings {
                dir: config.server.data_dir.join("spool"),
                max_bytes: config.logs.spool_max_bytes,
                segment_bytes: SPOOL_SEGMENT_BYTES,
                fsync: config.logs.fsync,
                linger: config.logs.commit_linger,
            },
            store.clone(),
            gateways.clone(),
            crate::logs::instance_id(&config.server.data_dir)?,
        )
        .await?;
        // One connection and one breaker for both users of Redis (docs/architecture.md).
        let redis = match &config.redis_url {
            Some(url) => Some(RedisHandle::new(
                url,
                &config.redis_key_prefix,
                clock.clone(),
            )?),
            None => None,
        };
        let cache = match &redis {
            Some(redis) => ResponseCache::on_redis(redis, "cache:"),
            None => ResponseCache::in_memory(clock.clone(), config.cache.max_bytes),
        };
        let budgets = match &redis {
            Some(redis) => SpendLedger::on_redis(redis, "spend:"),
            None => SpendLedger::in_memory(),
        };
        let rate_limiter = match &redis {
            Some(redis) => RateLimiter::on_redis(redis, "ratelimit:", DEFAULT_MAX_KEYS),
            None => RateLimiter::in_memory(clock.clone(), DEFAULT_MAX_KEYS),
        };
        let mirror = changes.map(|changes| {
            let (mirror, completed) = SharedMirror::new();
            (Arc::new(mirror), completed, changes)
        });
        let metrics = Metrics::new(config.limits.metrics_max_label_sets);
        let telemetry = Telemetry::new(
            &config.otel,
            config.server.upstream_net.connect_timeout,
            logs.instance_id(),
            &tasks,
        )?;
        let sessions = crate::proxy::Sessions::new(config.websockets.max_sessions);
        let mcp = crate::mcp::McpGateway::load(
            &config.mcp,
            &config.mcp_servers,
            store.clone(),
            clock.clone(),
            config.server.max_body_bytes,
        )
        .await?;
        let state = AppState {
            inner: Arc::new(Inner {
                config,
                store,
                providers,
                gateways,
                tokens,
                keys,
                routes,
                admin_token,
                logs,
                prices,
                metrics,
                clock,
                cache,
                rate_limiter,
                budgets,
                policies: crate::policies::PolicyCache::default(),
                dlp_profiles: crate::dlp::CustomProfiles::default(),
                telemetry,
                sessions,
                tasks,
                mirror: mirror.as_ref().map(|(mirror, _, _)| mirror.clone()),
                started_at,
                mcp,
            }),
        };
        if let Some((mirror, completed, changes)) = mirror {
            let inner = Arc::downgrade(&state.inner);
            let reload = move || {
                let inner = inner.upgrade()?;
                Some(async move {
                    tokio::try_join!(
                        inner.gateways.reload(),
                        inner.tokens.reload(),
                        inner.keys.reload(),
                        inner.routes.reload(),
                        crate::providers::custom::reload(inner.store.as_ref(), &inner.providers),
                        inner.mcp.reload()
                    )
                    .map(drop)
                })
            };
            state
                .inner
                .tasks
                .spawn_until_shutdown(crate::mirror::reload_loop(
                    mirror, completed, changes, reload,
                ));
        }
        Ok(Bootstrap {
            state,
            new_admin_token,
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    pub fn mcp(&self) -> &crate::mcp::McpGateway {
        &self.inner.mcp
    }
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
    pub fn providers(&self) -> &ProviderRegistry {
        &self.inner.providers
    }
    /// Re-reads the custom providers made through the API after a change here.
    pub async fn reload_custom_providers(&self) -> Result<(), crate::store::StoreError> {
        crate::providers::custom::reload(self.inner.store.as_ref(), &self.inner.providers).await
    }
    pub fn gateways(&self) -> &GatewayRegistry {
        &self.inner.gateways
    }
    pub fn tokens(&self) -> &TokenRegistry {
        &self.inner.tokens
    }
    /// Stored provider keys (docs/keys.md).
    pub fn keys(&self) -> &Arc<Keys> {
        &self.inner.keys
    }
    /// Dynamic routes (docs/routing.md).
    pub fn routes(&self) -> &Arc<Routes> {
        &self.inner.routes
    }
    pub fn admin_token(&self) -> &AdminToken {
        &self.inner.admin_token
    }
    pub fn logs(&self) -> &LogPipeline {
        &self.inner.logs
    }
    /// When this instance started.
    pub fn started_at(&self) -> jiff::Timestamp {
        self.inner.started_at
    }
    pub fn prices(&self) -> &PriceTable {
        &self.inner.prices
    }
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }
    pub fn cache(&self) -> &ResponseCache {
        &self.inner.cache
    }
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.rate_limiter
    }
    pub fn policies(&self) -> &crate::policies::PolicyCache {
        &self.inner.policies
    }
    pub fn dlp_profiles(&self) -> &crate::dlp::CustomProfiles {
        &self.inner.dlp_profiles
    }

    pub fn budgets(&self) -> &SpendLedger {
        &self.inner.budgets
    }
    /// Where background tasks other than the log pipeline's are spawned.
    pub fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }
    pub fn tasks(&self) -> &Tasks {
        &self.inner.tasks
    }
    /// The WebSocket sessions open on this instance (docs/websockets.md).
    pub fn sessions(&self) -> &crate::proxy::Sessions {
        &self.inner.sessions
    }
    /// Advances each time gateways and tokens were re-read from a shared store (never on
    /// SQLite).
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<u64> {
        match &self.inner.mirror {
            Some(mirror) => mirror.reloads(),
            None => tokio::sync::watch::channel(0).1,
        }
    }

    /// Looks up what a request named again after a reload from the shared store, when memory
    /// did not know it (docs/deployment.md); `None` at once on SQLite.
    pub async fn look_again<T>(&self, miss: Miss, look: impl Fn() -> Option<T>) -> Option<T> {
        match &self.inner.mirror {
            Some(mirror) => mirror.look_again(miss, look).await,
            None => None,
        }
    }

    /// Brings gateways and tokens up to date with the shared store before a management read
    /// answers (nothing to do on SQLite).
    pub async fn read_through(&self) {
        if let Some(mirror) = &self.inner.mirror {
            mirror.reload_from_now().await;
        }
    }
}
