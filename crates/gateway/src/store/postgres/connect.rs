//! Reaching the database: TLS when the URL asks for it (`sslmode=require`), plain otherwise, a
//! session that bounds work the gateway gave up waiting for, and sockets that notice a dead peer.
//! The pool and the change listener connect the same way.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::stream::{self, BoxStream, StreamExt};
use rustls_platform_verifier::BuilderVerifierExt;
use tokio_postgres::config::SslMode;
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{INGEST_TIMEOUT, OP_TIMEOUT};

/// Connections per instance. Nothing on the request path queries the store, so a few suffice:
/// the shipper, the management API and the analytics endpoint.
const POOL_SIZE: usize = 16;

/// TCP keepalive on idle connections (the listener's is idle most of the time): a peer gone
/// without a word (a failover, a partition) is noticed within idle + interval × retries.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;
/// tokio-postgres's own idle default: 2 hours, far too long to notice a dead database.
const DEFAULT_KEEPALIVE_IDLE: Duration = Duration::from_secs(2 * 60 * 60);

/// Our transactions send their statements back to back; a session idle inside one for this
/// long has lost its client.
const IDLE_IN_TRANSACTION_LIMIT: Duration = Duration::from_secs(10);

/// What a connection yields besides the client: server messages, notifications among them.
pub(super) type Messages = BoxStream<'static, Result<AsyncMessage, tokio_postgres::Error>>;

#[derive(Clone)]
pub(super) struct Connector {
    config: tokio_postgres::Config,
    /// `None`: plain TCP.
    tls: Option<MakeRustlsConnect>,
}

impl Connector {
    pub(super) fn new(mut config: tokio_postgres::Config) -> anyhow::Result<Connector> {
        if config.get_application_name().is_none() {
            // Lets an operator tell the gateway's sessions apart in pg_stat_activity.
            config.application_name("tollgate");
        }
        // A call the gateway abandoned at its timeout would otherwise keep running on the
        // server; the server stops it shortly after the longest wait the gateway accepts.
        let mut options = config.get_options().unwrap_or_default().to_owned();
        if !options.contains("statement_timeout") {
            let ms = INGEST_TIMEOUT.as_millis();
            options = format!("{options} -c statement_timeout={ms}");
        }
        // A partition in the middle of a transaction leaves its session on the server idle in
        // that transaction, holding row locks (the spool checkpoint, rollup rows) that every
        // later batch waits on; the server ends such a session after this long.
        if !options.contains("idle_in_transaction_session_timeout") {
            let ms = IDLE_IN_TRANSACTION_LIMIT.as_millis();
            options = format!("{options} -c idle_in_transaction_session_timeout={ms}");
        }
        config.options(options.trim_start());
        // Settings the URL made are kept; only the defaults are tightened.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(OP_TIMEOUT);
        }
        if config.get_keepalives_idle() == DEFAULT_KEEPALIVE_IDLE {
            config
                .keepalives_idle(KEEPALIVE_IDLE)
                .keepalives_interval(KEEPALIVE_INTERVAL)
                .keepalives_retries(KEEPALIVE_RETRIES);
        }
        if config.get_tcp_user_timeout().is_none() {
            // Data the server never acknowledges (a partition mid-call) fails the socket
            // instead of being retransmitted for a quarter of an hour.
            config.tcp_user_timeout(INGEST_TIMEOUT);
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Some(tls()?),
            _ => None,
        };
        Ok(Connector { config, tls })
    }

    pub(super) fn pool(&self) -> anyhow::Result<Pool> {
        let manager_config = ManagerConfig {
            // Checks only that the connection is open: no extra round trip per call. A
            // connection whose call timed out is discarded instead (`call.rs`).
            recycling_method: RecyclingMethod::Fast,
        };
        let config = self.config.clone();
        let manager = match &self.tls {
            Some(tls) => Manager::from_config(config, tls.clone(), manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        Ok(Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(OP_TIMEOUT))
            .create_timeout(Some(OP_TIMEOUT))
            .recycle_timeout(Some(OP_TIMEOUT))
            .build()?)
    }

    /// One connection outside the pool. The caller drives it by reading the messages: the
    /// client answers only while they are read.
    pub(super) async fn connect(&self) -> Result<(Client, Messages), tokio_postgres::Error> {
        match &self.tls {
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                Ok((client, messages(connection)))
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                Ok((client, messages(connection)))
            }
        }
    }
}

fn messages<T>(mut connection: Connection<Socket, T>) -> Messages
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    stream::poll_fn(move |cx| connection.poll_message(cx)).boxed()
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
