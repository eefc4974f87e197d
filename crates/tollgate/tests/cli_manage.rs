//! The gateway and token verbs against a running server: `gateway list` past one API page,
//! `token create` with a scope, `token revoke` by name, and `--config`: the verbs find the server and its admin token in
//! the file `serve` reads, while flags and environment still win.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use support::cli;
use support::process::{ADMIN_TOKEN, BIN, Tollgate};
use tokio::process::Command;

async fn start(dir: &Path) -> Tollgate {
    let config = dir.join("tollgate.toml");
    std::fs::write(&config, "").unwrap();
    Tollgate::start(&config, &dir.join("data")).await
}

#[tokio::test]
async fn gateway_list_reads_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    for i in 0..130 {
        let created = http
            .post(server.api("/gateways"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"id": format!("gw-{i:03}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
    }
    let listed = cli::json(&server, &["gateway", "list"]).await;
    let mut ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .filter(|id| id.starts_with("gw-"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 130);
    let text = cli::ok(&server, &["gateway", "list"]).await;
    assert!(text.contains("gw-000") && text.contains("gw-129"), "{text}");
}

#[tokio::test]
async fn a_token_is_revoked_by_name_and_an_ambiguous_name_lists_the_matches() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let deploy = cli::json(&server, &["token", "create", "deploy"]).await;
    let ci: Vec<Value> = vec![
        cli::json(&server, &["token", "create", "ci"]).await,
        cli::json(&server, &["token", "create", "ci"]).await,
    ];
    let out = cli::ok(&server, &["token", "revoke", "deploy"]).await;
    assert!(out.contains(deploy["id"].as_str().unwrap()), "{out}");

    let refused = cli::run(&server, &["token", "revoke", "ci"]).await;
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("2 run tokens are named `ci`"), "{error}");
    for token in &ci {
        assert!(error.contains(token["id"].as_str().unwrap()), "{error}");
    }
    let missing = cli::run(&server, &["token", "revoke", "nobody"]).await;
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("no run token has the id or name `nobody`")
    );

    cli::ok(&server, &["token", "revoke", ci[0]["id"].as_str().unwrap()]).await;
    cli::ok(&server, &["token", "revoke", "ci"]).await;
    assert_eq!(cli::json(&server, &["token", "list"]).await, json!([]));
}

#[tokio::test]
async fn a_token_is_created_with_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let created = cli::json(
        &server,
        &[
            "token",
            "create",
            "search",
            "--gateways",
            "prod,staging",
            "--providers",
            "openai",
            "--models",
            "gpt-4o*,anthropic/claude-*",
            "--expires-at",
            "2099-01-01T00:00:00Z",
            "--metadata",
            r#"{"team":"search"}"#,
        ],
    )
    .await;
    assert!(created["token"].as_str().unwrap().starts_with("tgr_"));
    let listed = cli::json(&server, &["token", "list"]).await;
    let shown = &listed[0];
    assert_eq!(shown["gateways"], json!(["prod", "staging"]));
    assert_eq!(shown["providers"], json!(["openai"]));
    assert_eq!(shown["models"], json!(["gpt-4o*", "anthropic/claude-*"]));
    assert_eq!(shown["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(shown["metadata"], json!({"team": "search"}));

    let refused = cli::run(
        &server,
        &["token", "create", "late", "--expires-at", "yesterday"],
    )
    .await;
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("expires_at"), "{error}");
}

/// `tollgate <args>` run elsewhere, with no URL or token in the environment.
async fn bare(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
        .env_remove("TOLLGATE_URL")
        .env_remove("TOLLGATE_CONFIG")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_verbs_read_the_server_config_and_flags_win() {
    // A fresh start writes its admin token to <data_dir>/admin-token.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN");
    let (_child, base) = support::process::spawn(command).await;
    let port = base.rsplit(':').next().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = dir.path().join("tollgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"0.0.0.0:{port}\"\ndata_dir = \"{}\"\n",
            data_dir.display()
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();

    let listed = bare(
        elsewhere.path(),
        &["gateway", "list", "--json", "-c", config_arg],
    )
    .await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let without = bare(elsewhere.path(), &["gateway", "list"]).await;
    assert!(!without.status.success(), "no config, no token file here");
    let via_env = Command::new(BIN)
        .args(["token", "list"])
        .current_dir(elsewhere.path())
        .env("TOLLGATE_CONFIG", &config)
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
        .env_remove("TOLLGATE_URL")
        .output()
        .await
        .unwrap();
    assert!(
        via_env.status.success(),
        "TOLLGATE_CONFIG names the file too"
    );

    // The file's admin token is used, and --admin-token beats it; --url beats server.listen.
    let token = std::fs::read_to_string(data_dir.join("admin-token")).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        format!("[server]\nlisten = \"{closed}\"\nadmin_token = \"not-the-admin-token-0000\"\n"),
    )
    .unwrap();
    let wrong_arg = wrong.to_str().unwrap();
    let refused = bare(
        elsewhere.path(),
        &["gateway", "list", "-c", wrong_arg, "--url", &base],
    )
    .await;
    assert!(
        !refused.status.success(),
        "the file's (wrong) token was sent"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    let flags = bare(
        elsewhere.path(),
        &[
            "gateway",
            "list",
            "-c",
            wrong_arg,
            "--url",
            &base,
            "--admin-token",
            token.trim(),
        ],
    )
    .await;
    assert!(
        flags.status.success(),
        "{}",
        String::from_utf8_lossy(&flags.stderr)
    );
    let unreachable = bare(elsewhere.path(), &["gateway", "list", "-c", wrong_arg]).await;
    assert!(
        String::from_utf8_lossy(&unreachable.stderr)
            .contains(&format!("cannot reach the gateway at http://{closed}"))
    );
}

#[tokio::test]
async fn mcp_servers_are_added_listed_and_removed_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let created = reqwest::Client::new()
        .post(server.api("/gateways"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "agents"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let added = cli::ok(
        &server,
        &[
            "mcp-server",
            "add",
            "search",
            "http://127.0.0.1:9/mcp",
            "--gateway",
            "agents",
            "--header",
            "x-tenant=acme",
            "--cost-per-call",
            "0.005",
        ],
    )
    .await;
    assert!(added.contains("search__<tool>"), "{added}");
    // A bad name is refused, naming the field.
    let refused = cli::run(
        &server,
        &[
            "mcp-server",
            "add",
            "Bad_Name",
            "http://127.0.0.1:9/mcp",
            "--gateway",
            "agents",
        ],
    )
    .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("name"), "{stderr}");
    let listed = cli::json(&server, &["mcp-server", "list", "--gateway", "agents"]).await;
    assert_eq!(listed[0]["name"], "search", "{listed}");
    assert_eq!(listed[0]["headers"], json!({"x-tenant": "acme"}));
    assert_eq!(listed[0]["cost_per_call"], json!(0.005));
    let table = cli::ok(&server, &["mcp-server", "list", "--gateway", "agents"]).await;
    assert!(
        table.contains("search") && table.contains("http://127.0.0.1:9/mcp"),
        "{table}"
    );
    let removed = cli::ok(
        &server,
        &["mcp-server", "remove", "search", "--gateway", "agents"],
    )
    .await;
    assert!(removed.contains("removed MCP server search"), "{removed}");
    let listed = cli::json(&server, &["mcp-server", "list", "--gateway", "agents"]).await;
    assert_eq!(listed, json!([]));
}
