//! `tollgate key …` and `tollgate secrets rotate-kek` against a running server (docs/keys.md):
//! a secret given on standard input or through a named variable reaches the upstream and never
//! the terminal; the key-encryption key is rotated while the server runs, and a restarted
//! server opens the keys with the new one.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::process::{Output, Stdio};

use serde_json::{Value, json};
use support::process::{ADMIN_TOKEN, BIN, Tollgate, stop};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tollgate_mock_upstream::MockUpstream;

const SECRET: &str = "sk-cli-canary-1a2b3c4d5e6f7a8b";
const ROTATED: &str = "sk-cli-rotated-9f8e7d6c5b4a3f2e";

/// A verb with the server's URL and token, `env` set and `stdin` written to its standard input.
async fn verb(server: &Tollgate, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .args(["--url", &server.base, "--admin-token", ADMIN_TOKEN])
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
        .env_remove("TOLLGATE_URL")
        .env_remove("TOLLGATE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A chat request with the run token and no provider key; the header the mock got.
async fn upstream_key(server: &Tollgate, mock: &MockUpstream, token: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .post(server.chat("gw"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.bytes().await;
    mock.requests()
        .last()
        .and_then(|r| r.header("authorization").map(str::to_owned))
}

#[tokio::test]
async fn keys_are_added_listed_rotated_and_removed_and_the_kek_rotates_while_serving() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("tollgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{}\"\n[providers.openai]\nbase_url = \"{}/v1\"\n",
            data.display(),
            mock.url()
        ),
    )
    .unwrap();
    let mut server = Tollgate::start(&config, &data).await;
    let http = reqwest::Client::new();
    let created = http
        .post(server.api("/gateways"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "gw", "authentication": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let token: Value = http
        .post(server.api("/tokens"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "cli"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["result"]["token"].as_str().unwrap().to_owned();

    // Added with the secret from a named variable; the output shows the preview only.
    let added = verb(
        &server,
        &[
            "key",
            "add",
            "--gateway",
            "gw",
            "--provider",
            "openai",
            "--alias",
            "prod",
            "--default",
            "--secret-env",
            "TG_TEST_SECRET",
            "--json",
        ],
        &[("TG_TEST_SECRET", SECRET)],
        "",
    )
    .await;
    assert!(!text(&added).contains(SECRET));
    let added: Value = serde_json::from_slice(&added.stdout).unwrap();
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["secret_preview"], "sk-c...7a8b");
    assert_eq!(
        upstream_key(&server, &mock, &token).await,
        Some(format!("Bearer {SECRET}"))
    );

    let listed = verb(&server, &["key", "list", "--gateway", "gw"], &[], "").await;
    let listed = text(&listed);
    assert!(
        listed.contains(&id) && listed.contains("prod") && listed.contains("sk-c...7a8b"),
        "{listed}"
    );
    assert!(!listed.contains(SECRET));

    // Rotated with the secret on standard input.
    let rotated = verb(
        &server,
        &["key", "rotate", &id, "--gateway", "gw"],
        &[],
        &format!("{ROTATED}\n"),
    )
    .await;
    assert!(text(&rotated).contains("sk-c...3f2e"), "{}", text(&rotated));
    assert_eq!(
        upstream_key(&server, &mock, &token).await,
        Some(format!("Bearer {ROTATED}"))
    );

    // The key-encryption key is rotated while the server runs; it keeps using the key.
    let before = std::fs::read_to_string(data.join("secrets.key")).unwrap();
    let rotation = Command::new(BIN)
        .args(["secrets", "rotate-kek", "--config"])
        .arg(&config)
        .env_remove("TOLLGATE_SECRETS__KEY")
        .output()
        .await
        .unwrap();
    assert!(rotation.status.success(), "{}", text(&rotation));
    assert!(
        text(&rotation).contains("1 stored key(s) rewrapped"),
        "{}",
        text(&rotation)
    );
    let after = std::fs::read_to_string(data.join("secrets.key")).unwrap();
    assert_ne!(before, after);
    assert_eq!(
        upstream_key(&server, &mock, &token).await,
        Some(format!("Bearer {ROTATED}"))
    );

    // A restarted server opens the key with the new key-encryption key alone.
    stop(&mut server.child).await;
    let server = Tollgate::start(&config, &data).await;
    assert_eq!(
        upstream_key(&server, &mock, &token).await,
        Some(format!("Bearer {ROTATED}"))
    );

    let removed = verb(&server, &["key", "remove", &id, "--gateway", "gw"], &[], "").await;
    assert!(text(&removed).contains(&id));
    let listed = verb(
        &server,
        &["key", "list", "--gateway", "gw", "--json"],
        &[],
        "",
    )
    .await;
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed, json!([]));
}
