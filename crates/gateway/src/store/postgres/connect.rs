//! The connection pool: TLS when the URL asks for it (`sslmode=require`), plain otherwise, and a
//! session that bounds work the gateway gave up waiting for.

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls_platform_verifier::BuilderVerifierExt;
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{INGEST_TIMEOUT, OP_TIMEOUT};

/// Connections per instance. Nothing on the request path queries the store, so a few suffice:
/// the shipper, the management API and the analytics endpoint.
const POOL_SIZE: usize = 16;

pub(super) fn pool(mut config: tokio_postgres::Config) -> anyhow::Result<Pool> {
    if config.get_application_name().is_none() {
        // Lets an operator tell the gateway's sessions apart in pg_stat_activity.
        config.application_name("tollgate");
    }
    // A call the gateway abandoned at its timeout would otherwise keep running on the server;
    // the server stops it shortly after the longest wait the gateway accepts.
    let options = config.get_options().unwrap_or_default().to_owned();
    if !options.contains("statement_timeout") {
        let ms = INGEST_TIMEOUT.as_millis();
        config.options(format!("{options} -c statement_timeout={ms}").trim_start());
    }
    let manager_config = ManagerConfig {
        // Checks only that the connection is open: no extra round trip per call.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.get_ssl_mode() {
        SslMode::Require => Manager::from_config(config, tls()?, manager_config),
        _ => Manager::from_config(config, NoTls, manager_config),
    };
    Ok(Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(OP_TIMEOUT))
        .create_timeout(Some(OP_TIMEOUT))
        .recycle_timeout(Some(OP_TIMEOUT))
        .build()?)
}

/// rustls with ring, checking the server's certificate and name against the system's trust store
/// (as the upstream clients do; `SSL_CERT_FILE` adds a private CA). Unlike libpq's `require`,
/// which encrypts without checking who answers, a man in the middle is refused.
fn tls() -> anyhow::Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
