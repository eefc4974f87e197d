//! The `tollgate` binary as a user runs it: a fresh start with no config, the CLI verbs, and
//! SIGTERM draining a stream in flight.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed assumption in a test is a failed test"
)]

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tollgate_mock_upstream::{Behavior, MockUpstream};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
/// Guards against hangs only; nothing asserts on durations.
const HANG_GUARD: Duration = Duration::from_secs(30);

struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    base: String,
}

async fn serve(cwd: &Path, envs: &[(&str, String)]) -> Running {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(cwd)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = next_line(&mut lines).await;
    let base = first
        .strip_prefix("tollgate listening on ")
        .expect(&first)
        .to_owned();
    Running { child, lines, base }
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(HANG_GUARD, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("a line")
}

async fn cli(cwd: &Path, base: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .args(args)
        .args(["--url", base, "--json"])
        .current_dir(cwd)
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn sigterm(child: &Child) {
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn fresh_start_needs_no_config_and_writes_a_private_admin_token() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = serve(cwd.path(), &[]).await;
    assert!(
        next_line(&mut server.lines)
            .await
            .starts_with("management API: ")
    );
    assert!(
        next_line(&mut server.lines)
            .await
            .starts_with("dashboard: ")
    );
    let token_line = next_line(&mut server.lines).await;
    let printed = token_line.rsplit(' ').next().unwrap().to_owned();
    let file = cwd.path().join("tollgate-data/admin-token");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), printed);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(cwd.path().join("tollgate-data/tollgate.db").exists());
    let db = std::fs::read(cwd.path().join("tollgate-data/tollgate.db")).unwrap();
    let wal = std::fs::read(cwd.path().join("tollgate-data/tollgate.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes
                .windows(printed.len())
                .any(|w| w == printed.as_bytes()),
            "only the hash is stored"
        );
    }

    let http = http();
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let listed = http
        .get(format!(
            "{}/client/v4/accounts/local/ai-gateway/gateways",
            server.base
        ))
        .bearer_auth(&printed)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);

    // A restart keeps the token and does not print it again.
    sigterm(&server.child);
    assert!(
        tokio::time::timeout(HANG_GUARD, server.child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    let mut again = serve(cwd.path(), &[]).await;
    assert!(
        next_line(&mut again.lines)
            .await
            .starts_with("management API: ")
    );
    assert!(next_line(&mut again.lines).await.starts_with("dashboard: "));
    sigterm(&again.child);
    assert!(
        tokio::time::timeout(HANG_GUARD, again.child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    let rest = tokio::time::timeout(HANG_GUARD, again.lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rest, None,
        "the admin token is printed only on the first start"
    );
}

#[tokio::test]
async fn gateway_and_token_verbs_talk_to_the_running_server() {
    let cwd = tempfile::tempdir().unwrap();
    let server = serve(cwd.path(), &[]).await;
    let base = server.base.clone();
    let (ok, out) = cli(
        cwd.path(),
        &base,
        &[
            "gateway",
            "create",
            "from-cli",
            "--settings",
            r#"{"cache_ttl":30}"#,
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["cache_ttl"],
        30
    );
    let (ok, out) = cli(cwd.path(), &base, &["gateway", "list"]).await;
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[0]["id"],
        "from-cli"
    );
    let (ok, _) = cli(cwd.path(), &base, &["gateway", "create", "BAD ID"]).await;
    assert!(!ok, "errors exit non-zero");

    let (ok, out) = cli(cwd.path(), &base, &["token", "create", "deploy"]).await;
    assert!(ok, "{out}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert!(created["token"].as_str().unwrap().starts_with("tgr_"));
    let (_, out) = cli(cwd.path(), &base, &["token", "list"]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[0]["name"],
        "deploy"
    );
    let id = created["id"].as_str().unwrap();
    assert!(cli(cwd.path(), &base, &["token", "revoke", id]).await.0);
    assert!(
        cli(cwd.path(), &base, &["gateway", "delete", "from-cli"])
            .await
            .0
    );
    let (_, out) = cli(cwd.path(), &base, &["gateway", "list"]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        Value::Array(vec![])
    );
}

#[tokio::test]
async fn config_check_prints_every_problem() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("bad.toml"),
        "[server]\nlisen = 1\nmax_body_bytes = 0\n[nope]\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["config", "check", "--config", "bad.toml"])
        .current_dir(cwd.path())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "unknown key `server.lisen`",
        "unknown key `nope`",
        "server.max_body_bytes",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    std::fs::write(
        cwd.path().join("good.toml"),
        "[server]\nlisten = \"127.0.0.1:9000\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["config", "check", "--config", "good.toml"])
        .current_dir(cwd.path())
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
}

#[tokio::test]
async fn serve_with_a_typo_in_the_configuration_prints_one_problem_a_line() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("bad.toml"),
        "[server]\nlisen = 1\n[[mcp_servers]]\ngateway = \"a\"\nname = \"x\"\ncomand = \"python3\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--config", "bad.toml", "--data-dir", "data"])
        .current_dir(cwd.path())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "  unknown key `server.lisen`",
        "  unknown key `mcp_servers.0.comand`",
        "  mcp_servers[0]: give either `url` (a Streamable HTTP server) or `command` (a stdio server)",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected} missing from:\n{text}"
        );
    }
}

/// A key-encryption key file others can read, or one that holds no key, is what `serve` would
/// refuse: `config check` says so first (docs/keys.md).
#[cfg(unix)]
#[tokio::test]
async fn config_check_refuses_a_key_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let cwd = tempfile::tempdir().unwrap();
    let key = cwd.path().join("kek");
    std::fs::write(&key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(
        cwd.path().join("kek.toml"),
        "[server]\ndata_dir = \"data\"\n[secrets]\nkey_file = \"kek\"\n",
    )
    .unwrap();
    let check = || {
        Command::new(BIN)
            .args(["config", "check", "--config", "kek.toml"])
            .current_dir(cwd.path())
            .env_remove("TOLLGATE_SECRETS__KEY")
            .output()
    };
    let output = check().await.unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("secrets.key_file: the secrets key file kek is readable or writable by others (mode 0644)")
            && text.contains("chmod 600 kek"),
        "{text}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = check().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[tokio::test]
async fn config_check_reports_types_checks_variables_and_the_data_dir_in_one_round() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("file"), "").unwrap();
    std::fs::write(
        cwd.path().join("two-rounds.toml"),
        "[server]\nmax_body_bytes = \"big\"\ndata_dir = \"file/data\"\n[logs]\nspool_max_bytes = 5\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["config", "check", "--config", "two-rounds.toml"])
        .current_dir(cwd.path())
        .env("TOLLGATE_SERVER__LISTEN", "garbage")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "server.max_body_bytes: invalid type: string \"big\"",
        "logs.spool_max_bytes: must be at least 1048576",
        "TOLLGATE_SERVER__LISTEN: server.listen: `garbage` is not an address",
        "server.data_dir: cannot create the data directory file/data: file is not a directory",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("4 problem(s) found"),
        "{text}"
    );

    std::fs::write(
        cwd.path().join("syntax.toml"),
        "[server]\nlisten = \"127.0.0.1:1\nmax_body_bytes = 3\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["config", "check", "--config", "syntax.toml"])
        .current_dir(cwd.path())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("syntax.toml:2:"),
        "the file, line and column: {text}"
    );
}

#[tokio::test]
async fn sigterm_lets_a_stream_in_flight_finish_then_exits_zero() {
    let mock = MockUpstream::start().await.unwrap();
    let release = Arc::new(tokio::sync::Notify::new());
    mock.push(Behavior::pause_after_first_chunk(release.clone()));
    let cwd = tempfile::tempdir().unwrap();
    let mut server = serve(
        cwd.path(),
        &[(
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            format!("{}/v1", mock.url()),
        )],
    )
    .await;
    let response = http()
        .post(format!("{}/v1/local/default/openai/chat/completions", server.base))
        .json(&serde_json::json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "drain me"}]}))
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let first = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with(b"data: "));

    sigterm(&server.child);
    release.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
    {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert!(
        String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"),
        "the stream completed"
    );
    let status = tokio::time::timeout(HANG_GUARD, server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[expect(
    clippy::disallowed_methods,
    reason = "reads the child's stderr while it runs; joined before the test ends"
)]
#[tokio::test]
async fn a_canary_provider_key_reaches_no_api_response_and_no_process_output() {
    const CANARY: &str = "sk-canary-7f3a9c";
    let mock = MockUpstream::start().await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(cwd.path())
        .env("TOLLGATE_LOG", "debug")
        .env("TOLLGATE_SERVER__ADMIN_TOKEN", "canary-test-admin-token-01")
        .env(
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            format!("{}/v1", mock.url()),
        )
        .env(
            "TOLLGATE_PROVIDERS__GROQ__BASE_URL",
            format!("http://{closed}/openai/v1"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = next_line(&mut stdout).await;
    let base = first
        .strip_prefix("tollgate listening on ")
        .unwrap()
        .to_owned();
    let stderr = tokio::spawn({
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        async move {
            let mut all = String::new();
            while let Ok(Some(line)) = stderr.next_line().await {
                all.push_str(&line);
                all.push('\n');
            }
            all
        }
    });

    let http = http();
    let chat = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]});
    let mut log_ids = Vec::new();
    for (path, extra) in [
        ("/v1/local/default/openai/chat/completions", None),
        (
            &format!("/v1/local/default/openai/chat/completions?key={CANARY}") as &str,
            None,
        ),
        (
            "/v1/local/default/openai/chat/completions",
            Some(("x-mock-status", "500")),
        ),
        (
            &format!("/v1/local/default/groq/chat/completions?key={CANARY}") as &str,
            None,
        ),
    ] {
        let mut request = http
            .post(format!("{base}{path}"))
            .header("authorization", format!("Bearer {CANARY}"))
            .header("x-api-key", CANARY)
            .json(&chat);
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        log_ids.push(
            response.headers()["cf-aig-log-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        let body = response.text().await.unwrap();
        assert!(!body.contains(CANARY), "{body}");
    }
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {CANARY}") as &str))
    );

    let api = |path: String| {
        http.get(format!(
            "{base}/client/v4/accounts/local/ai-gateway/gateways/default/logs{path}"
        ))
        .bearer_auth("canary-test-admin-token-01")
        .send()
    };
    let listed = api(String::new()).await.unwrap().text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&listed).unwrap()["result"]
            .as_array()
            .unwrap()
            .len(),
        4,
        "{listed}"
    );
    assert!(!listed.contains(CANARY));
    for id in &log_ids {
        for suffix in ["", "/request", "/response"] {
            let text = api(format!("/{id}{suffix}"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!text.contains(CANARY), "{id}{suffix}: {text}");
        }
    }

    // `logs tail` shows the rows (and no key).
    let tail = Command::new(BIN)
        .args([
            "logs",
            "tail",
            "--limit",
            "4",
            "--url",
            &base,
            "--admin-token",
            "canary-test-admin-token-01",
        ])
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&tail.stdout);
    assert!(tail.status.success(), "{printed}");
    assert_eq!(
        printed
            .lines()
            .filter(|l| l.contains("openai") || l.contains("groq"))
            .count(),
        4,
        "{printed}"
    );
    assert!(
        printed.contains("gpt-4o-mini") && printed.contains("502"),
        "{printed}"
    );
    assert!(!printed.contains(CANARY));

    sigterm(&child);
    assert!(
        tokio::time::timeout(HANG_GUARD, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    while let Ok(Some(line)) = stdout.next_line().await {
        rest.push_str(&line);
    }
    let stderr = stderr.await.unwrap();
    assert!(
        stderr.contains("DEBUG") || stderr.contains("WARN"),
        "debug logging was on: {stderr}"
    );
    assert!(
        !stderr.contains(CANARY),
        "the key leaked into the process log:\n{stderr}"
    );
    assert!(!rest.contains(CANARY));
}

#[tokio::test]
async fn logs_tail_shows_control_characters_in_logged_fields_as_visible_escapes() {
    let mock = MockUpstream::start().await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let server = serve(
        cwd.path(),
        &[(
            "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
            format!("{}/v1", mock.url()),
        )],
    )
    .await;
    // An OSC that retitles the terminal and an 8-bit CSI that clears the screen.
    let model = "gpt\x1b]0;pwned\x07\u{9b}2J";
    let response = http()
        .post(format!(
            "{}/v1/local/default/openai/chat/completions",
            server.base
        ))
        .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.bytes().await;

    let output = tokio::time::timeout(
        HANG_GUARD,
        Command::new(BIN)
            .args(["logs", "tail", "--limit", "1", "--interval-ms", "50"])
            .args(["--url", &server.base])
            .current_dir(cwd.path())
            .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(r"gpt\x1b]0;pwned\x07\u{9b}2J"),
        "the model is shown escaped: {text:?}"
    );
    let controls: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        controls.is_empty(),
        "raw controls reached the terminal: {controls:?}"
    );
}
