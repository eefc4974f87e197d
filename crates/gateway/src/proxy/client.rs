//! Pooled upstream HTTP clients (hyper-util over rustls, HTTP/1.1 and HTTP/2 by ALPN), one per
//! distinct egress setting.
//!
//! hyper-util's client rather than reqwest: half the instructions per call (bench/PROFILE.md,
//! fourth pass, item 6), and nothing of reqwest's is needed here (no redirects, no
//! decompression, no cookies; the request is built once by the proxy).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::connect::{EgressConnector, TimedConnector};
use super::dns::Resolver;
use crate::config::{Egress, UpstreamNet, UpstreamPool};

/// What an upstream call sends: the body is whole before the call (shared between attempts).
pub type UpstreamRequest = http::Request<Full<Bytes>>;
/// What an upstream call answers: the head, and a body read as it arrives.
pub type UpstreamResponse = http::Response<hyper::body::Incoming>;
/// A piece of an answer's body as it arrives.
pub type UpstreamChunk = Result<Bytes, hyper::Error>;
/// Why an upstream call got no response head.
pub type UpstreamError = hyper_util::client::legacy::Error;

type Connector = TimedConnector<hyper_rustls::HttpsConnector<EgressConnector>>;

/// One pooled client; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    inner: Client<Connector, Full<Bytes>>,
}

impl UpstreamClient {
    pub async fn send(&self, request: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        self.inner.request(request).await
    }
}

/// Builds and shares clients so providers with the same egress share one connection pool.
pub struct UpstreamClients {
    clients: Mutex<HashMap<Egress, UpstreamClient>>,
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

    pub fn for_egress(&self, egress: &Egress) -> anyhow::Result<UpstreamClient> {
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

    fn build(&self, egress: &Egress) -> anyhow::Result<UpstreamClient> {
        let mut tcp = HttpConnector::new_with_resolver(self.resolver.clone());
        tcp.set_nodelay(true);
        // `https://` URLs are handed to TLS below; the TCP connector must let them through.
        tcp.enforce_http(false);
        tcp.set_local_address(egress.bind);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(EgressConnector::new(tcp, egress.proxy.as_deref())?);
        // Covers the lookup, the TCP handshake, a proxy's handshake and TLS: a blackholed host
        // costs this, no more.
        let connector = TimedConnector::new(https, self.connect_timeout);
        let inner = Client::builder(TokioExecutor::new())
            // Bounded so a burst of streams does not leave one idle connection per stream
            // behind (docs/configuration.md, `[server] upstream_pool_*`).
            .pool_max_idle_per_host(self.pool.max_idle_per_host)
            .pool_idle_timeout(self.pool.idle_timeout)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .http2_adaptive_window(true)
            .build(connector);
        Ok(UpstreamClient { inner })
    }
}

/// rustls with ring, checking the provider's certificate and name against the system's trust
/// store (`SSL_CERT_FILE` adds a private CA); ALPN is set by the connector.
fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth())
}

/// The body of an answer, read whole up to `limit` bytes (a small answer: a token endpoint's).
pub async fn read_limited(response: UpstreamResponse, limit: usize) -> Result<Bytes, String> {
    use http_body_util::BodyExt;
    http_body_util::Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|e| e.to_string())
}
