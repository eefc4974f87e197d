//! The process log as a file or a pipe receives it: no colour codes, JSON lines with
//! `server.log_format = "json"`, and with `server.access_log` one `tollgate::access` line per
//! proxied request that carries no key.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::path::Path;

use serde_json::Value;
use support::process::{self, ADMIN_TOKEN, BIN};
use tokio::process::Command;
use tollgate_mock_upstream::MockUpstream;

const CANARY: &str = "sk-canary-access-5d1e";

/// Runs `serve` with stderr into a file, sends one chat request carrying a key in its header
/// and its query, stops the server and returns the request's log id and the log file's bytes.
async fn serve_and_log(dir: &Path, envs: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mock = MockUpstream::start().await.unwrap();
    let log_path = dir.join("stderr.log");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .env("TOLLGATE_SERVER__ADMIN_TOKEN", ADMIN_TOKEN)
        .env(
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            format!("{}/v1", mock.url()),
        )
        .env_remove("NO_COLOR")
        .env_remove("TOLLGATE_LOG")
        .envs(envs.iter().copied())
        .stderr(std::fs::File::create(&log_path).unwrap());
    let (mut child, base) = process::spawn(command).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/local/default/openai/chat/completions?key={CANARY}"))
        .bearer_auth(CANARY)
        .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await.unwrap();
    assert!(process::stop(&mut child).await.success());
    (log_id, std::fs::read(&log_path).unwrap())
}

#[tokio::test]
async fn a_text_log_in_a_file_has_no_colour_codes_and_an_access_line_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (log_id, bytes) =
        serve_and_log(dir.path(), &[("TOLLGATE_SERVER__ACCESS_LOG", "true")]).await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        !text.contains('\x1b'),
        "no ANSI escapes in a file:\n{text:?}"
    );
    assert!(!text.contains(CANARY), "{text}");
    let access: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("tollgate::access"))
        .collect();
    assert_eq!(access.len(), 1, "{text}");
    for field in [
        "INFO",
        "method=POST",
        "path=/v1/local/default/openai/chat/completions ",
        "status=200",
        "duration_ms=",
        "gateway=default",
        "provider=openai",
        &format!("log_id={log_id}"),
    ] {
        assert!(
            access[0].contains(field),
            "{field} missing from {}",
            access[0]
        );
    }
}

#[tokio::test]
async fn the_json_log_format_writes_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (log_id, bytes) = serve_and_log(
        dir.path(),
        &[
            ("TOLLGATE_SERVER__LOG_FORMAT", "json"),
            ("TOLLGATE_SERVER__ACCESS_LOG", "true"),
        ],
    )
    .await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains(CANARY), "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.len() >= 2,
        "start-up, access and shutdown lines: {text}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "tollgate::access")
        .collect();
    assert_eq!(access.len(), 1, "{text}");
    let line = access[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["path"], "/v1/local/default/openai/chat/completions");
    assert_eq!(line["status"], 200);
    assert!(line["duration_ms"].is_u64());
    assert_eq!(line["gateway"], "default");
    assert_eq!(line["provider"], "openai");
    assert_eq!(line["log_id"], log_id.as_str());
}

#[tokio::test]
async fn the_access_log_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = serve_and_log(dir.path(), &[]).await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("tollgate::access"), "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");
}
