//! Pooled upstream HTTP clients (rustls, HTTP/1.1 and HTTP/2), one per distinct egress setting.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::dns::Resolver;
use crate::config::{Egress, UpstreamNet, UpstreamPool};

/// Builds and shares clients so providers with the same egress share one connection pool.
pub struct UpstreamClients {
    clients: Mutex<HashMap<Egress, reqwest::Client>>,
    /// One for every client, so they share lookups under way and remembered failures.
    resolver: Resolver,
    connect_timeout: Duration,
    pool: UpstreamPool,
}

impl UpstreamClients {
    pub fn new(net: &UpstreamNet, pool: UpstreamPool) -> Self {
        UpstreamClients {
            clients: Mutex::default(),
            resolver: Resolver::system(net.dns_timeout, net.dns_negative_ttl),
            connect_timeout: net.connect_timeout,
            pool,
        }
    }

    pub fn for_egress(&self, egress: &Egress) -> anyhow::Result<reqwest::Client> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| anyhow::anyhow!("client table lock poisoned"))?;
        if let Some(client) = clients.get(egress) {
            return Ok(client.clone());
        }
        let client = self.build(egress)?;
        clients.insert(egress.clone(), client.clone());
        Ok(client)
    }

    fn build(&self, egress: &Egress) -> anyhow::Result<reqwest::Client> {
        // reqwest is built without a default crypto provider; ring keeps C builds out of the tree.
        // Installing twice is harmless (the second call reports the first is in place).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            // A proxy passes redirects to its client; following them would change the upstream
            // host.
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            // Covers the lookup, the TCP handshake and TLS: a blackholed host costs this, no more.
            .connect_timeout(self.connect_timeout)
            .dns_resolver(self.resolver.clone())
            // Bounded so a burst of streams does not leave one idle connection per stream behind
            // (docs/configuration.md, `[server] upstream_pool_*`).
            .pool_max_idle_per_host(self.pool.max_idle_per_host)
            .pool_idle_timeout(self.pool.idle_timeout)
            .http2_adaptive_window(true);
        if let Some(proxy) = &egress.proxy {
            builder = builder.proxy(reqwest::Proxy::all(proxy.as_str())?);
        }
        if let Some(bind) = egress.bind {
            builder = builder.local_address(bind);
        }
        Ok(builder.build()?)
    }
}
