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

use http::Uri;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;

use super::connect::{BoxError, EgressConnector, TimedConnector};
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
/// A connection opened outside the pool (a WebSocket session's), as tokio I/O.
pub type SocketIo = TokioIo<MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>>;

/// One pooled client; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct UpstreamClient {
    inner: Client<Connector, Full<Bytes>>,
    /// The same lookup, egress and connect timeout, with TLS offering HTTP/1.1 only: a
    /// WebSocket handshake is an HTTP/1.1 upgrade.
    sockets: Connector,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient").finish_non_exhaustive()
    }
}

impl UpstreamClient {
    pub async fn send(&self, request: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        self.inner.request(request).await
    }

    /// A connection to `http_url`'s host (TLS for `https`), for a protocol the pooled client
    /// does not speak. Fails with [`ConnectTimedOut`] among its causes after the connect
    /// timeout.
    pub async fn open_socket(&self, http_url: Uri) -> Result<SocketIo, BoxError> {
        tower::ServiceExt::oneshot(self.sockets.clone(), http_url)
            .await
            .map(TokioIo::new)
    }
}

/// Builds and shares clients so providers with the same egress share one connection pool.
pub struct UpstreamClients {
    clients: Mutex<HashMap<Egress, UpstreamClient>>,
    /// Certificates trusted besides the system's (`server.upstream_ca_file`).
    extra_roots: Vec<CertificateDer<'static>>,
    /// One for every client, so they share lookups under way and remembered failures.
    resolver: Resolver,
    connect_timeout: Duration,
    pool: UpstreamPool,
}

impl UpstreamClients {
    pub fn new(net: &UpstreamNet, pool: UpstreamPool) -> Self {
        UpstreamClients {
            clients: Mutex::default(),
            extra_roots: Vec::new(),
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

    /// Also trusts the certificates of a PEM file (a private CA's) for provider TLS.
    pub fn trusting(mut self, pem_file: &std::path::Path) -> anyhow::Result<Self> {
        use rustls::pki_types::pem::PemObject;
        let certificates = CertificateDer::pem_file_iter(pem_file)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| anyhow::anyhow!("server.upstream_ca_file {}: {e}", pem_file.display()))?;
        if certificates.is_empty() {
            anyhow::bail!(
                "server.upstream_ca_file {}: no certificate in it",
                pem_file.display()
            );
        }
        self.extra_roots = certificates;
        Ok(self)
    }

    fn build(&self, egress: &Egress) -> anyhow::Result<UpstreamClient> {
        self.build_with(egress, tls_config(&self.extra_roots)?)
    }

    fn build_with(
        &self,
        egress: &Egress,
        tls: rustls::ClientConfig,
    ) -> anyhow::Result<UpstreamClient> {
        let mut tcp = HttpConnector::new_with_resolver(self.resolver.clone());
        tcp.set_nodelay(true);
        // `https://` URLs are handed to TLS below; the TCP connector must let them through.
        tcp.enforce_http(false);
        tcp.set_local_address(egress.bind);
        let egress = EgressConnector::new(tcp, egress.proxy.as_deref())?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(egress.clone());
        let http1_only = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(egress);
        // Covers the lookup, the TCP handshake, a proxy's handshake and TLS: a blackholed host
        // costs this, no more.
        let connector = TimedConnector::new(https, self.connect_timeout);
        let sockets = TimedConnector::new(http1_only, self.connect_timeout);
        let inner = Client::builder(TokioExecutor::new())
            // Bounded so a burst of streams does not leave one idle connection per stream
            // behind (docs/configuration.md, `[server] upstream_pool_*`).
            .pool_max_idle_per_host(self.pool.max_idle_per_host)
            .pool_idle_timeout(self.pool.idle_timeout)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .http2_adaptive_window(true)
            .build(connector);
        Ok(UpstreamClient { inner, sockets })
    }
}

/// rustls with ring, checking the provider's certificate and name against the system's trust
/// store (`SSL_CERT_FILE` adds a private CA); ALPN is set by the connector.
fn tls_config(extra_roots: &[CertificateDer<'static>]) -> anyhow::Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    if extra_roots.is_empty() {
        return Ok(builder.with_platform_verifier()?.with_no_client_auth());
    }
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots.to_vec(), provider)?;
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use http_body_util::BodyExt;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::*;
    use crate::config::Config;

    /// A certificate for `localhost` and 127.0.0.1 from a test CA, both valid until 2126.
    const CA: &[u8] = include_bytes!("testdata/ca-cert.pem");
    const CERT: &[u8] = include_bytes!("testdata/provider-cert.pem");
    const KEY: &[u8] = include_bytes!("testdata/provider-key.pem");

    fn provider() -> rustls::crypto::CryptoProvider {
        rustls::crypto::ring::default_provider()
    }

    /// A provider over TLS offering `alpn`, answering each request with its HTTP version.
    #[expect(
        clippy::disallowed_methods,
        reason = "a TLS provider for this test, which ends with the test's runtime"
    )]
    async fn tls_provider(alpn: &[&[u8]]) -> SocketAddr {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(CERT).unwrap()],
                PrivateKeyDer::from_pem_slice(KEY).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let service = hyper::service::service_fn(|request: http::Request<_>| async move {
                    let version = format!("{:?}", request.version());
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                        version,
                    ))))
                });
                tokio::spawn(
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .into_owned(),
                );
            }
        });
        addr
    }

    fn clients() -> UpstreamClients {
        let config = Config::parse("", std::iter::empty(), &Default::default()).unwrap();
        UpstreamClients::new(&config.server.upstream_net, config.server.upstream_pool)
    }

    /// Trusts only the test CA.
    fn trusting_the_test_ca() -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(CA).unwrap())
            .unwrap();
        rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    async fn version_answered(client: &UpstreamClient, url: String) -> String {
        let request = http::Request::get(url).body(Full::default()).unwrap();
        let response = client.send(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn https_providers_get_http2_when_they_offer_it_and_http1_otherwise() {
        let client = clients()
            .build_with(&Egress::default(), trusting_the_test_ca())
            .unwrap();
        let h2 = tls_provider(&[b"h2", b"http/1.1"]).await;
        let h1 = tls_provider(&[b"http/1.1"]).await;
        let port = |addr: SocketAddr| addr.port();
        assert_eq!(
            version_answered(&client, format!("https://localhost:{}/", port(h2))).await,
            "HTTP/2.0"
        );
        assert_eq!(
            version_answered(&client, format!("https://127.0.0.1:{}/", port(h1))).await,
            "HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn a_certificate_the_system_does_not_trust_is_refused() {
        let client = clients().for_egress(&Egress::default()).unwrap();
        let addr = tls_provider(&[b"http/1.1"]).await;
        let request = http::Request::get(format!("https://localhost:{}/", addr.port()))
            .body(Full::default())
            .unwrap();
        let error = client.send(request).await.unwrap_err();
        let failure = super::super::failure::AttemptFailure::of_send(
            &error,
            "https://localhost/v1/chat/completions",
            "test",
        );
        assert_eq!(
            failure.error.message,
            "Provider unreachable: TLS handshake failed"
        );
        assert!(failure.cause.contains("certificate"), "{}", failure.cause);
    }
}
