//! The state every handler shares, built once at start-up from the validated configuration.

use std::sync::Arc;

use crate::auth::{AdminToken, TokenRegistry};
use crate::cache::ResponseCache;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, StorageConfig};
use crate::gateways::GatewayRegistry;
use crate::keys::Keys;
use crate::logs::{LogPipeline, SpoolSettings};
use crate::metrics::Metrics;
use crate::pricing::PriceTable;
use crate::providers::ProviderRegistry;
use crate::proxy::UpstreamClients;
use crate::ratelimit::{DEFAULT_MAX_KEYS, RateLimiter};
use crate::redis::RedisHandle;
use crate::store::Store;
use crate::store::postgres::{ChangeFeed, PostgresStore};
use crate::store::sqlite::SqliteStore;

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
    admin_token: AdminToken,
    logs: LogPipeline,
    prices: PriceTable,
    metrics: Metrics,
    clock: SharedClock,
    cache: ResponseCache,
    rate_limiter: RateLimiter,
    /// Counts reloads of gateways and tokens from a shared store (tests wait on it).
    reloads: tokio::sync::watch::Receiver<u64>,
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
        // A shared store comes with a feed of changes other instances made.
        let (store, changes): (Arc<dyn Store>, Option<ChangeFeed>) = match &config.storage {
            StorageConfig::Sqlite { path } => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??;
                (Arc::new(store), None)
            }
            StorageConfig::Postgres { url } => {
                let store = PostgresStore::connect(url.expose()).await?;
                let changes = store.change_feed();
                (Arc::new(store), Some(changes))
            }
        };
        let (admin_token, new_admin_token) =
            AdminToken::bootstrap(&config.server, store.as_ref()).await?;
        let providers = ProviderRegistry::from_config(
            &config,
            &UpstreamClients::new(&config.server.upstream_net, config.server.upstream_pool),
        )?;
        let gateways = Arc::new(GatewayRegistry::load(store.clone()).await?);
        let tokens = TokenRegistry::load(store.clone()).await?;
        let keys = Arc::new(Keys::open(&config.secrets.kek, store.clone()).await?);
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
        let rate_limiter = match &redis {
            Some(redis) => RateLimiter::on_redis(redis, "ratelimit:", DEFAULT_MAX_KEYS),
            None => RateLimiter::in_memory(clock.clone(), DEFAULT_MAX_KEYS),
        };
        let (reloaded, reloads) = tokio::sync::watch::channel(0u64);
        let metrics = Metrics::new(config.limits.metrics_max_label_sets);
        let state = AppState {
            inner: Arc::new(Inner {
                config,
                store,
                providers,
                gateways,
                tokens,
                keys,
                admin_token,
                logs,
                prices,
                metrics,
                clock,
                cache,
                rate_limiter,
                reloads,
            }),
        };
        if let Some(changes) = changes {
            tokio::spawn(reload_shared_settings(
                Arc::downgrade(&state.inner),
                reloaded,
                changes,
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
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
    pub fn providers(&self) -> &ProviderRegistry {
        &self.inner.providers
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
    pub fn admin_token(&self) -> &AdminToken {
        &self.inner.admin_token
    }
    pub fn logs(&self) -> &LogPipeline {
        &self.inner.logs
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
    /// Advances each time gateways and tokens were re-read from a shared store.
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.reloads.clone()
    }
}

/// How often an instance on a shared store (PostgreSQL) re-reads gateways, tokens and keys without
/// being told to: a safety net under the change feed, for whatever a notification could miss.
const SHARED_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Re-reads gateways and tokens whenever the change feed says another instance (or this one)
/// changed them, and every [`SHARED_RELOAD_INTERVAL`]. One reload at a time: a change noticed
/// during a reload is read by the next one.
async fn reload_shared_settings(
    inner: std::sync::Weak<Inner>,
    reloaded: tokio::sync::watch::Sender<u64>,
    mut changes: ChangeFeed,
) {
    let mut tick = tokio::time::interval(SHARED_RELOAD_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = changes.changed() => {}
        }
        // The state is gone: the server stopped (and dropping the feed stops the listener).
        let Some(inner) = inner.upgrade() else { return };
        let result = tokio::try_join!(
            inner.gateways.reload(),
            inner.tokens.reload(),
            inner.keys.reload()
        );
        match result {
            Ok(_) => {
                reloaded.send_modify(|count| *count += 1);
            }
            Err(error) => tracing::warn!(%error, "could not reload gateways from the store"),
        }
    }
}
