//! Process-level faults (reliability plan FA-18, FA-24): SIGTERM under load, and a data
//! directory whose disk is really full.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use support::process::{BIN, signal, spawn};
use tokio::process::{Child, Command};
use tollgate_gateway::clock::monotonic_now;
use tollgate_mock_upstream::MockUpstream;

const HANG_GUARD: Duration = Duration::from_secs(60);

async fn start(cwd: &Path, mock: &MockUpstream, env: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(cwd)
        .env(
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            format!("{}/v1", mock.url()),
        )
        .env("TOLLGATE_SERVER__ADMIN_TOKEN", "faults-admin-token-0123456");
    for (name, value) in env {
        command.env(name, value);
    }
    spawn(command).await
}

fn chat(stream: bool, n: usize) -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": format!("request {n} for the shutdown test")}],
    })
}

/// (event id, completed, success, error) of every row.
fn rows(db: &Path) -> Vec<(String, bool, bool, Option<String>)> {
    let db = rusqlite::Connection::open(db).unwrap();
    let mut statement = db
        .prepare("SELECT event_id, completed, success, error FROM logs")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// FA-24: SIGTERM with streams in flight. Those that fit in the grace period finish intact;
/// one that does not is cut when the grace ends; the process exits 0 soon after, and every
/// request has exactly one completed row.
#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_streams_finish_within_the_grace_period() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let grace = Duration::from_millis(3000);
    let (mut child, base) = start(
        cwd.path(),
        &mock,
        &[("TOLLGATE_SERVER__SHUTDOWN_GRACE_MS", "3000")],
    )
    .await;
    let http = reqwest::Client::new();
    let url = format!("{base}/v1/local/default/openai/chat/completions");
    // Short streams (~14 events 100 ms apart) and one that would take a minute.
    let mut bodies = Vec::new();
    for n in 0..11 {
        let delay = if n == 10 { "5000" } else { "100" };
        let response = http
            .post(&url)
            .header("authorization", "Bearer sk-test")
            .header("cf-aig-event-id", format!("term-{n}"))
            .header("x-mock-chunk-delay-ms", delay)
            .json(&chat(true, n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut stream = response.bytes_stream();
        // Each stream is under way before the signal.
        let first = tokio::time::timeout(HANG_GUARD, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        bodies.push((n, first, stream));
    }
    signal(&child, "-TERM");
    let stopped_at = monotonic_now();
    let readers: Vec<_> = bodies
        .into_iter()
        .map(|(n, first, mut stream)| {
            tokio::spawn(async move {
                let mut body = first.to_vec();
                let mut clean = true;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(chunk) => body.extend_from_slice(&chunk),
                        Err(_) => {
                            clean = false;
                            break;
                        }
                    }
                }
                (n, clean && body.ends_with(b"data: [DONE]\n\n"))
            })
        })
        .collect();
    let status = tokio::time::timeout(HANG_GUARD, child.wait())
        .await
        .unwrap()
        .unwrap();
    let took = stopped_at.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(took < grace + Duration::from_secs(5), "exit took {took:?}");
    for reader in readers {
        let (n, complete) = reader.await.unwrap();
        assert_eq!(complete, n != 10, "stream {n}: complete = {complete}");
    }
    let rows = rows(&cwd.path().join("tollgate-data/tollgate.db"));
    assert_eq!(rows.len(), 11, "{rows:?}");
    for (event, completed, success, error) in &rows {
        assert!(completed, "{event} completed");
        if event == "term-10" {
            assert!(
                !success && error.is_some(),
                "the cut stream is marked: {error:?}"
            );
        } else {
            assert!(success, "{event}: {error:?}");
        }
    }
}

/// A tmpfs mounted for one test and unmounted when dropped, even if the test fails.
struct TinyDisk {
    path: std::path::PathBuf,
}

impl TinyDisk {
    /// None unless running as root (mounting needs it); the caller then skips.
    fn mount(path: &Path, size: &str) -> Option<TinyDisk> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let uid = status
            .lines()
            .find(|l| l.starts_with("Uid:"))?
            .split_whitespace()
            .nth(1)?;
        if uid != "0" {
            return None;
        }
        std::fs::create_dir_all(path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .ok()?
            .success();
        mounted.then(|| TinyDisk {
            path: path.to_path_buf(),
        })
    }

    /// Writes a file until the disk refuses more (ENOSPC).
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        let error = loop {
            if let Err(error) = file.write_all(&block).and_then(|()| file.sync_all()) {
                break error;
            }
        };
        assert_eq!(error.raw_os_error(), Some(28), "ENOSPC: {error}");
        path
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        // Lazy: a process still holding a file there must not keep the mount alive.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// FA-18: the disk under the data directory fills up. The gateway neither crashes nor runs
/// requests unlogged: each request is answered 200 with its row, refused with 503, or (its
/// begin written, its end not) cut before the last byte of its body; once
/// space is freed it serves again without a restart; the database stays intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_requests_and_recovers_when_space_returns() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cwd = tempfile::tempdir().unwrap();
    let Some(disk) = TinyDisk::mount(&cwd.path().join("disk"), "24m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    let data_dir = disk.path.join("tollgate-data");
    let data_dir_text = data_dir.to_str().unwrap().to_owned();
    let (mut child, base) = start(
        cwd.path(),
        &mock,
        &[("TOLLGATE_SERVER__DATA_DIR", data_dir_text.as_str())],
    )
    .await;
    let http = reqwest::Client::new();
    let url = format!("{base}/v1/local/default/openai/chat/completions");
    let mut served_ids = Vec::new();
    let mut send = async |n: usize| -> u16 {
        let response = http
            .post(&url)
            .header("authorization", "Bearer sk-test")
            .json(&chat(n.is_multiple_of(2), n))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let id = response
            .headers()
            .get("cf-aig-log-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let Ok(body) = response.bytes().await else {
            // Answered 200, then the body broke: its end record could not be written, so the
            // last byte was held back. Not a complete answer, so no completed row is owed.
            assert_eq!(status, 200, "request {n}: a broken body");
            return 0;
        };
        match status {
            200 => served_ids.push(id.unwrap()),
            503 => {
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(body["internalCode"], 2015, "{body}");
            }
            other => panic!("request {n}: {other} {}", String::from_utf8_lossy(&body)),
        }
        status
    };
    assert_eq!(send(0).await, 200);

    let filler = disk.fill();
    let mut refused = 0;
    for n in 1..40 {
        if send(n).await == 503 {
            refused += 1;
        }
    }
    eprintln!("disk full: {refused} of 39 requests refused");
    assert!(
        refused > 0,
        "a full disk refuses requests rather than serving them unlogged"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the gateway is still running"
    );

    std::fs::remove_file(filler).unwrap();
    let recovered = tokio::time::timeout(HANG_GUARD, async {
        let mut n = 100;
        loop {
            n += 1;
            if send(n).await == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(recovered.is_ok(), "serves again once space is back");

    signal(&child, "-TERM");
    let status = tokio::time::timeout(HANG_GUARD, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let db = rusqlite::Connection::open(data_dir.join("tollgate.db")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    for id in &served_ids {
        let completed: bool = db
            .query_row("SELECT completed FROM logs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap_or_else(|e| panic!("served request {id} has no row: {e}"));
        assert!(completed, "{id}");
    }
    drop(db);
    drop(disk);
}
