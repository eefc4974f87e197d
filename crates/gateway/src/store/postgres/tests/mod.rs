//! The PostgreSQL store against a real server (`TOLLGATE_TEST_POSTGRES_URL`, by default the local
//! one). Each test gets a database of its own, created here and dropped when its guard goes, so
//! tests run in parallel and never see each other's rows or any other database.

mod ingest;
mod listener;
mod pairs;
mod pipeline;
mod query;
mod registry;
mod rollups;

use tokio_postgres::NoTls;

use super::PostgresStore;
use crate::logs::{LogBegin, LogEnd, RollupFacts, SpoolRecord};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_config() -> anyhow::Result<tokio_postgres::Config> {
    let url = std::env::var("TOLLGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    Ok(url.parse()?)
}

/// One test's database: `tollgate_test_<uuid>`, dropped with `WITH (FORCE)` (closing any
/// connection the test left open) when the guard is dropped, also when the test fails.
pub(super) struct TestDb {
    admin: tokio_postgres::Config,
    name: String,
}

impl TestDb {
    pub async fn new() -> anyhow::Result<TestDb> {
        let admin = admin_config()?;
        let name = format!("tollgate_test_{}", uuid::Uuid::now_v7().simple());
        let (client, connection) = admin.connect(NoTls).await?;
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        drop(client);
        let _ = connection.await;
        Ok(TestDb { admin, name })
    }

    pub fn config(&self) -> tokio_postgres::Config {
        let mut config = self.admin.clone();
        config.dbname(&self.name);
        config
    }

    /// A store on this database (migrations run, as at start-up).
    pub async fn store(&self) -> anyhow::Result<PostgresStore> {
        PostgresStore::connect_with(self.config()).await
    }

    /// A plain connection, for looking at tables the traits do not show.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, connection) = self.config().connect(NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// The single value of a query that yields one BIGINT (counts).
    pub async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(self.client().await?.query_one(sql, &[]).await?.try_get(0)?)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop cannot await, and the test's runtime may be single-threaded: a thread of its
        // own with its own runtime drops the database.
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let (client, connection) = admin.connect(NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

pub(super) const ACCOUNT: &str = "local";
pub(super) const GATEWAY: &str = "gw";

/// A begin record of gateway `gw` written by `instance`.
pub(super) fn begin(id: &str, instance: &str, created_at_ms: i64) -> LogBegin {
    LogBegin {
        id: id.into(),
        instance_id: instance.into(),
        account_id: ACCOUNT.into(),
        gateway_id: GATEWAY.into(),
        created_at_ms,
        event_id: None,
        provider: "openai".into(),
        model: Some("gpt-4o-mini".into()),
        path: "v1/chat/completions".into(),
        method: "POST".into(),
        metadata: None,
        step: None,
        request_content_type: Some("application/json".into()),
        request_size: 100,
        client_ip: None,
        user_agent: None,
        keep_payload: false,
        request_headers: Vec::new(),
        request_head_complete: true,
    }
}

/// The end record of `begin`, answered 200 in `duration_ms`, with its rollup facts.
pub(super) fn end(begin: &LogBegin, duration_ms: i64) -> LogEnd {
    LogEnd {
        id: begin.id.clone(),
        rollup: Some(RollupFacts::of(begin)),
        status_code: Some(200),
        success: true,
        duration_ms,
        ttfb_ms: Some(duration_ms / 2),
        tokens_in: Some(10),
        tokens_out: Some(5),
        cost: Some(0.25),
        attempts: 1,
        response_content_type: Some("application/json".into()),
        response_size: 200,
        ..LogEnd::default()
    }
}

pub(super) fn begin_record(begin: &LogBegin) -> SpoolRecord {
    SpoolRecord::begin_of(begin, b"")
}

pub(super) fn end_record(end: &LogEnd) -> SpoolRecord {
    SpoolRecord::end_of(end, b"")
}
