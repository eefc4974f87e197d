//! "Nothing lost" (docs/logs.md) with PostgreSQL: the database becomes unreachable for a while under load (through a
//! TCP proxy the test cuts), requests keep succeeding meanwhile, and once it is back every
//! request the upstream saw has exactly one complete row.
//!
//! Two ways to lose the database: connections closed and new ones refused, and a blackhole
//! (nothing passes, nothing closes, and the silenced connections never come back, as after a
//! failover), which only the gateway's own timeouts get it out of.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::process::{ADMIN_TOKEN, Tollgate};
use support::tcp_proxy::TcpProxy;
use tokio::sync::{Mutex, watch};
use tollgate_mock_upstream::MockUpstream;
use tollgate_test_support::postgres::TestDatabase;

const CONCURRENCY: usize = 16;
/// Requests before the outage, during it, and after it.
const BEFORE: usize = 64;
const DURING: usize = 192;
const AFTER: usize = 64;
const TOTAL: usize = BEFORE + DURING + AFTER;
/// Requests only wait for the local spool, so a bound this loose still catches a request that
/// waits for the database.
const REQUEST_GUARD: Duration = Duration::from_secs(30);
/// Catching up may first wait out the store's own timeouts (30 s for an ingest on a silent
/// connection) and the shipper's backoff.
const DRAIN_GUARD: Duration = Duration::from_secs(180);

#[derive(Clone, Copy)]
enum Outage {
    Cut,
    Blackhole,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cut_database_loses_no_rows() {
    outage_under_load(Outage::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blackholed_database_loses_no_rows() {
    outage_under_load(Outage::Blackhole).await;
}

/// One request: `x-seq` names it to the mock, `cf-aig-event-id` to its log row. Even ones
/// stream. Returns whether the client got a 200 and the whole body.
async fn one_request(http: &reqwest::Client, gateway: &Tollgate, seq: usize) -> Result<(), String> {
    let stream = seq.is_multiple_of(2);
    let body = json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": format!("request {seq}")}],
    });
    let response = http
        .post(gateway.chat("load"))
        .header("authorization", "Bearer sk-test")
        .header("cf-aig-event-id", format!("r{seq}"))
        .header("x-seq", seq.to_string())
        .header("x-mock-chunk-delay-ms", if stream { "2" } else { "0" })
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("r{seq}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("r{seq}: {e}"))?;
    if status != 200 {
        return Err(format!("r{seq}: {status} {text}"));
    }
    if stream && !text.ends_with("data: [DONE]\n\n") {
        return Err(format!("r{seq}: the stream was cut"));
    }
    Ok(())
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
async fn outage_under_load(outage: Outage) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let database = TestDatabase::create().await.unwrap();
    let proxy = TcpProxy::start(database.server()).await;
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("tollgate.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.openai]\nbase_url = \"{}/v1\"\n[storage]\nurl = \"{}\"\n",
            mock.url(),
            database.url_via("127.0.0.1", proxy.addr.port())
        ),
    )
    .unwrap();
    let gateway = Arc::new(Tollgate::start(&config, &work.path().join("data")).await);
    let http = reqwest::Client::new();
    let created = http
        .post(gateway.api("/gateways"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "load"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);

    // Workers take sequence numbers from a channel the test feeds phase by phase.
    let (jobs_tx, jobs_rx) = tokio::sync::mpsc::channel::<usize>(CONCURRENCY);
    let jobs_rx = Arc::new(Mutex::new(jobs_rx));
    let (done_tx, done_rx) = watch::channel(0usize);
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, gateway, jobs, done, failures) = (
            http.clone(),
            gateway.clone(),
            jobs_rx.clone(),
            done_tx.clone(),
            failures.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let Some(seq) = jobs.lock().await.recv().await else {
                    return;
                };
                let result = tokio::time::timeout(REQUEST_GUARD, one_request(&http, &gateway, seq))
                    .await
                    .unwrap_or_else(|_| Err(format!("r{seq}: no answer within {REQUEST_GUARD:?}")));
                if let Err(failure) = result {
                    failures.lock().unwrap().push(failure);
                }
                done.send_modify(|count| *count += 1);
            }
        }));
    }
    let feed = |range: std::ops::Range<usize>| {
        let jobs = jobs_tx.clone();
        let mut done = done_rx.clone();
        async move {
            let end = range.end;
            for seq in range {
                jobs.send(seq).await.unwrap();
            }
            tokio::time::timeout(REQUEST_GUARD * 4, done.wait_for(|count| *count >= end))
                .await
                .expect("the phase's requests finished")
                .unwrap();
        }
    };

    feed(0..BEFORE).await;
    match outage {
        Outage::Cut => proxy.cut(),
        Outage::Blackhole => proxy.blackhole(),
    }
    feed(BEFORE..BEFORE + DURING).await;
    // The outage was real: no request made during it reached the database.
    let pg = database.client().await.unwrap();
    let during: Vec<String> = (BEFORE..BEFORE + DURING).map(|s| format!("r{s}")).collect();
    let leaked: i64 = pg
        .query_one(
            "SELECT COUNT(*) FROM logs WHERE event_id = ANY($1)",
            &[&during],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0, "rows of the outage arrived while it lasted");
    proxy.restore();
    feed(BEFORE + DURING..TOTAL).await;
    drop(jobs_tx);
    for worker in workers {
        worker.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "requests failed: {failures:?}");

    // Every request the upstream saw, exactly once.
    let mut seen = HashMap::new();
    for request in mock.requests() {
        if let Some(seq) = request.header("x-seq") {
            *seen.entry(format!("r{seq}")).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), TOTAL);
    assert!(
        seen.values().all(|n| *n == 1),
        "no request went upstream twice"
    );

    // The spool drains into the database once it is back.
    let drained = tokio::time::timeout(DRAIN_GUARD, async {
        loop {
            let complete: i64 = pg
                .query_one(
                    "SELECT COUNT(*) FROM logs WHERE gateway_id = 'load' AND completed",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if usize::try_from(complete).unwrap() >= TOTAL {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "the spool did not drain within {DRAIN_GUARD:?}"
    );

    let rows = pg
        .query(
            "SELECT event_id, completed, success, error FROM logs WHERE gateway_id = 'load'",
            &[],
        )
        .await
        .unwrap();
    let mut by_event: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let event: Option<String> = row.get(0);
        let event = event.expect("every row has its event id");
        let (completed, success, error): (bool, bool, Option<String>) =
            (row.get(1), row.get(2), row.get(3));
        assert!(
            completed && success && error.is_none(),
            "{event}: {error:?}"
        );
        *by_event.entry(event).or_insert(0) += 1;
    }
    let duplicates: Vec<_> = by_event.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "duplicate rows: {duplicates:?}");
    let stored: HashSet<&String> = by_event.keys().collect();
    let upstream: HashSet<&String> = seen.keys().collect();
    assert_eq!(stored, upstream, "rows and upstream requests differ");
    drop(gateway);
    drop(proxy);
    drop(database);
}
