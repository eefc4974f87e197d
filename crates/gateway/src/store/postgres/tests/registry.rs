//! What only PostgreSQL has beside the conformance suite's registry tests: migrations under
//! concurrent starts, and connecting (TLS, timeouts, session settings).

use super::TestDb;
use crate::store::conformance::registry::gateway;
use crate::store::postgres::PostgresStore;
use crate::store::{GatewayStore, Store};

#[tokio::test]
async fn migrations_run_once_even_when_instances_start_together() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    // Two instances starting at the same moment take turns on the migration lock.
    let (first, second) = tokio::join!(db.store(), db.store());
    let (first, _second) = (first?, second?);
    first.insert_gateway(&gateway("kept")).await?;
    // A third start finds nothing to do and keeps the data.
    let again = db.store().await?;
    assert_eq!(again.list_gateways().await?.len(), 1);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM schema_migrations").await?,
        15
    );
    again.ping().await?;
    Ok(())
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    db.store().await?;
    db.client()
        .await?
        .batch_execute("INSERT INTO schema_migrations (version) VALUES (999)")
        .await?;
    let refused = db.store().await.err().map(|e| e.to_string());
    assert!(
        refused.as_deref().is_some_and(|e| e.contains("newer")),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test]
async fn sslmode_require_speaks_tls_and_checks_the_certificate() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let mut config = db.config();
    config.ssl_mode(tokio_postgres::config::SslMode::Require);
    // The local server has no certificate the system trusts (or no TLS at all): either way
    // the connection is refused rather than made in the clear or to an unchecked server.
    let refused = PostgresStore::connect_with(config)
        .await
        .err()
        .map(|e| format!("{e:#}"));
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("certificate") || e.contains("TLS")),
        "{refused:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_within_the_timeout() -> anyhow::Result<()> {
    // Nothing listens on port 1: the pool's connect fails fast, and nothing hangs.
    let started = crate::clock::monotonic_now();
    let result = PostgresStore::connect("postgres://postgres@127.0.0.1:1/postgres").await;
    assert!(result.is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        PostgresStore::connect("postgres://x/db?nonsense=1")
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn pooled_sessions_name_themselves_and_bound_abandoned_work() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let client = store.client().await?;
    let shown = |row: tokio_postgres::Row| row.try_get::<_, String>(0);
    let timeout = shown(client.query_one("SHOW statement_timeout", &[]).await?)?;
    let name = shown(client.query_one("SHOW application_name", &[]).await?)?;
    assert_eq!((timeout.as_str(), name.as_str()), ("30s", "tollgate"));
    Ok(())
}
