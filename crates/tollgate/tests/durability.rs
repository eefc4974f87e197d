//! "Nothing lost" (docs/logs.md): requests under load, the gateway killed with SIGKILL at a random
//! moment, restarted; every request the upstream saw has exactly one row, complete for every
//! response the client finished. Repeated over several kills on one data directory.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

use std::collections::{HashMap, HashSet};
mod support;

use std::path::Path;
use std::time::Duration;

use support::process::{BIN, spawn, stop};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tollgate_mock_upstream::MockUpstream;

const ROUNDS: usize = 4;
const REQUESTS_PER_ROUND: usize = 150;
const CONCURRENCY: usize = 24;
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A small deterministic generator: the kill moments vary between rounds but every run of the
/// test makes the same choices, so a failure reproduces.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

async fn start(cwd: &Path, mock: &MockUpstream) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(cwd)
        .env(
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            format!("{}/v1", mock.url()),
        )
        .env(
            "TOLLGATE_SERVER__ADMIN_TOKEN",
            "durability-admin-token-0123",
        )
        // Records wait 20 ms in the writer before each write: a kill then lands inside that
        // window often, and only the barriers keep those records.
        .env("TOLLGATE_LOGS__COMMIT_LINGER_MS", "20");
    spawn(command).await
}

/// Sends one request; reports its sequence number if the client got the whole response.
async fn one_request(
    http: reqwest::Client,
    base: String,
    seq: usize,
    finished: mpsc::UnboundedSender<usize>,
) {
    let stream = seq.is_multiple_of(2);
    let body = serde_json::json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": format!("request number {seq} with a few words")}],
    });
    let sent = http
        .post(format!("{base}/v1/local/default/openai/chat/completions"))
        .header("authorization", "Bearer sk-test")
        .header("cf-aig-event-id", format!("r{seq}"))
        .header("x-seq", seq.to_string())
        .header("x-mock-chunk-delay-ms", if stream { "3" } else { "0" })
        .json(&body)
        .send()
        .await;
    let Ok(response) = sent else { return };
    if response.status() != 200 {
        return;
    }
    if let Ok(text) = response.text().await
        && (!stream || text.ends_with("data: [DONE]\n\n"))
    {
        let _ = finished.send(seq);
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_loses_no_rows() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut rng = Lcg(0x5eed_2026);
    let mut finished_all = HashSet::new();
    let mut next_seq = 0;
    for _ in 0..ROUNDS {
        let (mut child, base) = start(cwd.path(), &mock).await;
        let http = reqwest::Client::new();
        let (finished_tx, mut finished_rx) = mpsc::unbounded_channel();
        let kill_after = 5 + usize::try_from(rng.next(REQUESTS_PER_ROUND as u64 - 20)).unwrap();
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = Vec::new();
        for _ in 0..REQUESTS_PER_ROUND {
            let seq = next_seq;
            next_seq += 1;
            let permit = semaphore.clone().acquire_owned().await.unwrap();
            let (http, base, finished) = (http.clone(), base.clone(), finished_tx.clone());
            tasks.push(tokio::spawn(async move {
                one_request(http, base, seq, finished).await;
                drop(permit);
            }));
            if tasks.len() >= kill_after {
                break;
            }
        }
        drop(finished_tx);
        // Kill once a random number of responses completed, with others still in flight.
        let wanted = kill_after / 2;
        let mut count = 0;
        while count < wanted {
            match tokio::time::timeout(HANG_GUARD, finished_rx.recv())
                .await
                .unwrap()
            {
                Some(seq) => {
                    finished_all.insert(seq);
                    count += 1;
                }
                None => break,
            }
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        for task in tasks {
            let _ = task.await;
        }
        while let Ok(seq) = finished_rx.try_recv() {
            finished_all.insert(seq);
        }
    }
    // The last start replays the spool and marks what the last kill cut off; a clean stop follows.
    let (mut child, _) = start(cwd.path(), &mock).await;
    assert!(stop(&mut child).await.success());

    let db = rusqlite::Connection::open(cwd.path().join("tollgate-data/tollgate.db")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mut rows: HashMap<String, (bool, bool, Option<String>, Option<i64>)> = HashMap::new();
    let mut statement = db
        .prepare("SELECT event_id, completed, success, error, tokens_in FROM logs")
        .unwrap();
    let mut duplicates = Vec::new();
    for row in statement
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })
        .unwrap()
    {
        let (event, completed, success, error, tokens) = row.unwrap();
        if rows
            .insert(event.clone(), (completed, success, error, tokens))
            .is_some()
        {
            duplicates.push(event);
        }
    }
    assert!(duplicates.is_empty(), "duplicate rows: {duplicates:?}");

    let received: HashSet<usize> = mock
        .requests()
        .iter()
        .filter_map(|r| r.header("x-seq")?.parse().ok())
        .collect();
    assert!(
        received.len() > ROUNDS * 5,
        "the load reached the upstream ({})",
        received.len()
    );
    let mut interrupted = 0;
    for seq in &received {
        let row = rows
            .get(&format!("r{seq}"))
            .unwrap_or_else(|| panic!("request r{seq} reached the upstream but has no row"));
        assert!(
            row.0,
            "r{seq}: every row is completed or marked interrupted after restart"
        );
        if row.2.as_deref() == Some("interrupted") {
            interrupted += 1;
        }
    }
    for seq in &finished_all {
        let (completed, success, error, tokens) = rows.get(&format!("r{seq}")).unwrap();
        assert!(
            *completed && *success && error.is_none(),
            "r{seq} finished for the client: {error:?}"
        );
        assert!(tokens.is_some(), "r{seq} has its usage");
    }
    eprintln!(
        "{} requests reached the upstream, {} finished for the client, {interrupted} interrupted by {ROUNDS} kills",
        received.len(),
        finished_all.len()
    );
}

#[tokio::test]
async fn a_lost_spool_directory_does_not_stop_shipping() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let chat = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    for round in 0..2 {
        let (mut child, base) = start(cwd.path(), &mock).await;
        let response = http
            .post(format!("{base}/v1/local/default/openai/chat/completions"))
            .header("authorization", "Bearer sk-test")
            .json(&chat)
            .send()
            .await
            .unwrap();
        let id = response.headers()["cf-aig-log-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let _ = response.bytes().await;
        let row = http
            .get(format!(
                "{base}/client/v4/accounts/local/ai-gateway/gateways/default/logs/{id}"
            ))
            .bearer_auth("durability-admin-token-0123")
            .send()
            .await
            .unwrap();
        assert_eq!(row.status(), 200, "round {round}: the row was shipped");
        assert!(stop(&mut child).await.success());
        // The spool directory goes; the database (with its checkpoint) stays.
        std::fs::remove_dir_all(cwd.path().join("tollgate-data/spool")).unwrap();
    }
}
