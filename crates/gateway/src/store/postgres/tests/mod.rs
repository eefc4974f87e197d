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

use tollgate_test_support::postgres::TestDatabase;

use super::PostgresStore;
use crate::logs::{LogBegin, LogEnd, RollupFacts, SpoolRecord};

/// One test's database (dropped when the guard goes, also when the test fails), with the store
/// and the queries these tests use on it.
pub(super) struct TestDb {
    database: TestDatabase,
}

impl TestDb {
    pub async fn new() -> anyhow::Result<TestDb> {
        Ok(TestDb {
            database: TestDatabase::create().await?,
        })
    }

    pub fn config(&self) -> tokio_postgres::Config {
        self.database.config()
    }

    /// A store on this database (migrations run, as at start-up).
    pub async fn store(&self) -> anyhow::Result<PostgresStore> {
        PostgresStore::connect_with(self.config()).await
    }

    /// A plain connection, for looking at tables the traits do not show.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        self.database.client().await
    }

    /// The single value of a query that yields one BIGINT (counts).
    pub async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(self.client().await?.query_one(sql, &[]).await?.try_get(0)?)
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
        trace_id: None,
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
