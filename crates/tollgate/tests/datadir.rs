//! One process per data directory: a second `serve` and `migrate` on a live directory are
//! refused (naming it and the holder's pid) and cost the running instance no log row; what
//! `serve` creates there is private, and what it finds readable by others is warned about.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::process::{ADMIN_TOKEN, BIN, spawn, stop};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tollgate_gateway::clock::monotonic_now;
use tollgate_mock_upstream::MockUpstream;

/// Guards against hangs only; nothing asserts on durations.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn serve_command(cwd: &Path, data_dir: &Path, mock: &MockUpstream, listen: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .current_dir(cwd)
        .env("TOLLGATE_SERVER__ADMIN_TOKEN", ADMIN_TOKEN)
        .env(
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            format!("{}/v1", mock.url()),
        );
    command
}

/// Runs a verb that must be refused at once: its exit status and stderr.
async fn refused(mut command: Command) -> (std::process::ExitStatus, String) {
    let output = tokio::time::timeout(
        HANG_GUARD,
        command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the refusal is immediate")
    .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Requests one after another until `stop`; the log ids of those answered 200.
async fn load(
    base: String,
    answered: tokio::sync::watch::Sender<usize>,
    stop: Arc<tokio::sync::Notify>,
) -> Vec<String> {
    let http = reqwest::Client::new();
    let chat = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "log me"}]});
    let mut ids = Vec::new();
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        let request = http
            .post(format!("{base}/v1/local/default/openai/chat/completions"))
            .header("authorization", "Bearer sk-test")
            .json(&chat)
            .send();
        let response = tokio::select! {
            () = &mut stopped => return ids,
            response = request => response.unwrap(),
        };
        if response.status() == 200 {
            let id = response.headers()["cf-aig-log-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let _ = response.bytes().await.unwrap();
            ids.push(id);
            answered.send_replace(ids.len());
        }
    }
}

/// Waits until `more` requests beyond those answered now were answered: the load is moving.
async fn wait_for_answers(answered: &mut tokio::sync::watch::Receiver<usize>, more: usize) {
    let count = *answered.borrow_and_update() + more;
    tokio::time::timeout(HANG_GUARD, answered.wait_for(|n| *n >= count))
        .await
        .expect("the load stalled")
        .unwrap();
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_serve_and_migrate_on_a_live_data_directory_are_refused_and_lose_no_rows() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("data");
    let (mut first, base) = spawn(serve_command(cwd.path(), &data, &mock, "127.0.0.1:0")).await;
    let pid = first.id().unwrap();
    let listen = base.strip_prefix("http://").unwrap().to_owned();

    let (answered_tx, mut answered) = tokio::sync::watch::channel(0);
    let stop_load = Arc::new(tokio::sync::Notify::new());
    let load = tokio::spawn(load(base.clone(), answered_tx, stop_load.clone()));
    wait_for_answers(&mut answered, 20).await;

    // The same address too, as an operator repeating the command would: the old failure
    // ("Address already in use") came only after the spool had been recovered.
    let mut verbs = vec![("serve", serve_command(cwd.path(), &data, &mock, &listen))];
    let mut migrate = Command::new(BIN);
    migrate
        .args([
            "migrate",
            "--to",
            "postgres://127.0.0.1:5432/tollgate_never_reached",
        ])
        .arg(format!("--from=sqlite://{}", data.display()))
        .current_dir(cwd.path());
    verbs.push(("migrate", migrate));
    let mut migrate_db = Command::new(BIN);
    migrate_db
        .args([
            "migrate",
            "--to",
            "postgres://127.0.0.1:5432/tollgate_never_reached",
        ])
        .arg(format!(
            "--from=sqlite://{}",
            data.join("tollgate.db").display()
        ))
        .current_dir(cwd.path());
    verbs.push(("migrate (database file)", migrate_db));
    for (verb, command) in verbs {
        let (status, stderr) = refused(command).await;
        assert!(!status.success(), "{verb}: {stderr}");
        assert!(
            stderr.contains(&data.display().to_string()) && stderr.contains(&format!("pid {pid}")),
            "{verb} names the directory and the holder: {stderr}"
        );
        // The first instance keeps answering (and logging) after each refusal.
        wait_for_answers(&mut answered, 10).await;
    }
    // Verbs that work through the API are unaffected.
    let listed = Command::new(BIN)
        .args([
            "gateway",
            "list",
            "--url",
            &base,
            "--admin-token",
            ADMIN_TOKEN,
        ])
        .output()
        .await
        .unwrap();
    assert!(listed.status.success());
    wait_for_answers(&mut answered, 10).await;
    stop_load.notify_one();
    let ids = load.await.unwrap();
    assert_eq!(
        std::fs::read_to_string(data.join("tollgate.lock"))
            .unwrap()
            .trim(),
        pid.to_string(),
        "the refusals left the lock file alone"
    );

    // Every request answered 200 has its complete row.
    let http = reqwest::Client::new();
    let deadline = monotonic_now() + HANG_GUARD;
    for id in &ids {
        loop {
            let response = http
                .get(format!(
                    "{base}/client/v4/accounts/local/ai-gateway/gateways/default/logs/{id}"
                ))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                let row: Value = response.json().await.unwrap();
                let row = &row["result"];
                if row["status_code"] == 200 && row["duration"].is_number() {
                    assert!(row["tokens_in"].is_number(), "{id}: {row}");
                    break;
                }
            }
            assert!(
                monotonic_now() < deadline,
                "request {id} has no complete row"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(ids.len() >= 60, "the load ran: {}", ids.len());
    eprintln!(
        "{} requests answered 200, each with its complete row",
        ids.len()
    );
    assert!(stop(&mut first).await.success());
}

/// Every directory under `root` is 0700 and every file 0600.
fn assert_private(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = 0;
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, wanted, "{} is {mode:o}", path.display());
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
        seen += 1;
    }
    assert!(
        seen >= 6,
        "data directory, spool, database, lock, admin token, instance id"
    );
}

/// Starts `serve` with stderr captured: the child, its base URL and a receiver of stderr lines.
#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
async fn serve_with_stderr(
    cwd: &Path,
    data: &Path,
    mock: &MockUpstream,
) -> (Child, String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut command = serve_command(cwd, data, mock, "127.0.0.1:0");
    command
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
        .stderr(Stdio::piped());
    let (mut child, base) = spawn(command).await;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, base, rx)
}

#[cfg(unix)]
#[tokio::test]
async fn a_fresh_data_directory_is_private_and_a_loose_one_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let data = cwd.path().join("fresh/data");
    let (mut child, base, mut stderr) = serve_with_stderr(cwd.path(), &data, &mock).await;
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/local/default/openai/chat/completions"))
        .header("authorization", "Bearer sk-test")
        .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.bytes().await;
    assert_private(&data);
    assert!(stop(&mut child).await.success());
    assert_private(&data);
    assert_eq!(
        std::fs::metadata(cwd.path().join("fresh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700,
        "a parent created for it too"
    );
    while let Ok(line) = stderr.try_recv() {
        assert!(!line.contains("readable by other users"), "{line}");
    }

    // An older install: a 0755 directory and a 0644 database.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = data.join("tollgate.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (mut child, _, mut stderr) = serve_with_stderr(cwd.path(), &data, &mock).await;
    let mut wanted = vec![
        format!("{} is readable by other users (mode 755", data.display()),
        format!("chmod 700 {}", data.display()),
        format!("{} is readable by other users (mode 644", db.display()),
        format!("chmod 600 {}", db.display()),
    ];
    let deadline = monotonic_now() + HANG_GUARD;
    while !wanted.is_empty() {
        let line = tokio::time::timeout_at(deadline, stderr.recv())
            .await
            .unwrap_or_else(|_| panic!("no warning containing {wanted:?}"))
            .expect("stderr open");
        wanted.retain(|w| !line.contains(w.as_str()));
    }
    assert!(stop(&mut child).await.success());
}

#[tokio::test]
async fn two_data_directories_on_one_sqlite_file_elsewhere_are_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("shared")).unwrap();
    let db = cwd.path().join("shared/tollgate.db");
    let url = format!("sqlite://{}", db.display());
    let mut command = serve_command(cwd.path(), &cwd.path().join("a"), &mock, "127.0.0.1:0");
    command.env("TOLLGATE_STORAGE__URL", &url);
    let (mut first, _) = spawn(command).await;
    let pid = first.id().unwrap();

    let mut second = serve_command(cwd.path(), &cwd.path().join("b"), &mock, "127.0.0.1:0");
    second.env("TOLLGATE_STORAGE__URL", &url);
    let (status, stderr) = refused(second).await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("the database {}", db.display()))
            && stderr.contains(&format!("pid {pid}")),
        "{stderr}"
    );
    assert!(
        !cwd.path().join("b/spool").exists() && !cwd.path().join("b/instance-id").exists(),
        "the refused instance started nothing"
    );
    assert!(stop(&mut first).await.success());
}
