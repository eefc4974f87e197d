//! The log store locked by someone else (FA-19 SQLite, FA-21 PostgreSQL): requests go on while
//! the rows wait in the spool, and every row lands once the lock is gone.

use std::time::Duration;

use tollgate_gateway::config::StorageConfig;
use tollgate_test_support::postgres::TestDatabase;

use super::{CHAT, HANG_GUARD, send};
use crate::support::{TestGateway, chat_body};

const DURING_LOCK: usize = 20;

/// Sends `n` requests, each answered 200 in full.
async fn send_ok(gw: &TestGateway, n: usize) {
    for _ in 0..n {
        let response = send(gw, CHAT, chat_body(false), &[]).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
}

/// While the lock is held the store cannot take the new rows, so the spool cannot be shipped up
/// to what was written (the wait always runs out; its length only bounds the test).
async fn assert_rows_held_back(gw: &TestGateway) {
    let shipped = tokio::time::timeout(Duration::from_millis(300), gw.logs_flushed()).await;
    assert!(shipped.is_err(), "the rows wait in the spool");
}

/// Rows of the `default` gateway, as the logs API lists them.
async fn listed_rows(gw: &TestGateway) -> u64 {
    let (status, body) = gw
        .admin(
            reqwest::Method::GET,
            "/accounts/local/ai-gateway/gateways/default/logs?per_page=1",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["result_info"]["total_count"].as_u64().unwrap()
}

/// FA-19: another process holds SQLite's write lock while requests arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_holds_rows_back_not_requests() {
    let gw = TestGateway::start().await;
    // The gateway row exists before the lock (the first request creates it).
    send_ok(&gw, 1).await;
    gw.logs_flushed().await;
    let StorageConfig::Sqlite { path } = &gw.state.config().storage else {
        unreachable!("the default store is SQLite")
    };
    let locker = rusqlite::Connection::open(path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    send_ok(&gw, DURING_LOCK).await;
    assert_rows_held_back(&gw).await;

    locker.execute_batch("COMMIT").unwrap();
    tokio::time::timeout(HANG_GUARD, gw.logs_flushed())
        .await
        .expect("the spool drains once the lock is gone");
    assert_eq!(listed_rows(&gw).await, 1 + DURING_LOCK as u64);
}

/// FA-21: a session holds an exclusive lock on PostgreSQL's log table while requests arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_postgres_log_table_holds_rows_back_not_requests() {
    let database = TestDatabase::create().await.unwrap();
    let gw =
        TestGateway::with_config("", &format!("[storage]\nurl = \"{}\"\n", database.url())).await;
    send_ok(&gw, 1).await;
    gw.logs_flushed().await;
    let mut locker = database.client().await.unwrap();
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE logs IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    send_ok(&gw, DURING_LOCK).await;
    assert_rows_held_back(&gw).await;

    lock.commit().await.unwrap();
    tokio::time::timeout(HANG_GUARD, gw.logs_flushed())
        .await
        .expect("the spool drains once the lock is gone");
    assert_eq!(listed_rows(&gw).await, 1 + DURING_LOCK as u64);
}
