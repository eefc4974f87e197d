//! The logs and analytics verbs against a running server: `logs tail` keeps up with a burst,
//! `logs list|get|export` read every matching row with the API's filters, `analytics summary`
//! gives the API's totals, overall and per group.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::cli;
use support::process::{ADMIN_TOKEN, BIN, Tollgate};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tollgate_gateway::clock::{Clock, SystemClock};
use tollgate_mock_upstream::MockUpstream;

/// Guards against hangs only; nothing asserts on durations.
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn start(dir: &Path, mock: &MockUpstream) -> Tollgate {
    let config = dir.join("tollgate.toml");
    std::fs::write(
        &config,
        format!("[providers.openai]\nbase_url = \"{}/v1\"\n", mock.url()),
    )
    .unwrap();
    Tollgate::start(&config, &dir.join("data")).await
}

/// One chat request through the proxy; its log id.
async fn chat(
    http: &reqwest::Client,
    server: &Tollgate,
    model: &str,
    status: Option<u16>,
) -> String {
    let mut request = http
        .post(server.chat("default"))
        .json(&json!({"model": model, "messages": [{"role": "user", "content": format!("hello {model}")}]}));
    if let Some(status) = status {
        request = request.header("x-mock-status", status.to_string());
    }
    let response = request.send().await.unwrap();
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await.unwrap();
    id
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn logs_tail_prints_every_row_of_a_burst_larger_than_a_page() {
    const BURST: usize = 120;
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &mock).await;
    let http = http();
    let before = chat(&http, &server, "gpt-4o-mini", None).await;

    // A long interval: the whole burst lands between two polls.
    let mut tail = Command::new(BIN)
        .args(["logs", "tail", "--json", "--interval-ms", "2000"])
        .args(["--limit", &(BURST + 1).to_string()])
        .args(["--url", &server.base, "--admin-token", ADMIN_TOKEN])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(HANG_GUARD, lines.next_line())
            .await
            .expect("tail printed every row in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(next().await["id"], before.as_str(), "the newest row first");

    let burst: Vec<String> = futures_util::future::join_all(
        (0..BURST).map(|_| chat(&http, &server, "gpt-4o-mini", None)),
    )
    .await;
    let mut printed = Vec::new();
    for _ in 0..BURST {
        printed.push(next().await["id"].as_str().unwrap().to_owned());
    }
    let unique: HashSet<&String> = printed.iter().collect();
    assert_eq!(unique.len(), BURST, "no row twice");
    assert_eq!(unique, burst.iter().collect(), "every row of the burst");
    let status = tokio::time::timeout(HANG_GUARD, tail.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "--limit ends the tail");
}

#[tokio::test]
async fn logs_list_get_export_and_analytics_read_every_matching_row() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &mock).await;
    let http = http();
    let started = SystemClock.now();
    let mut ok_ids = Vec::new();
    for _ in 0..55 {
        ok_ids.push(chat(&http, &server, "gpt-4o-mini", None).await);
    }
    let mut failed_ids = Vec::new();
    for _ in 0..3 {
        failed_ids.push(chat(&http, &server, "gpt-x", Some(500)).await);
    }

    // list: newest first, past one API page, with --limit and the filters.
    let all = cli::json(&server, &["logs", "list", "--limit", "1000"]).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 58);
    let times: Vec<&str> = all
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(
        cli::json(&server, &["logs", "list", "--limit", "7"])
            .await
            .as_array()
            .unwrap()
            .len(),
        7
    );
    for filter in [
        vec!["--success", "false"],
        vec!["--status", "500"],
        vec!["--status", "5xx"],
        vec!["--model", "gpt-x"],
    ] {
        let mut args = vec!["logs", "list"];
        args.extend(&filter);
        let rows = cli::json(&server, &args).await;
        let mut got = ids(rows.as_array().unwrap());
        got.sort();
        let mut want = failed_ids.clone();
        want.sort();
        assert_eq!(got, want, "{filter:?}");
    }
    let since = cli::json(
        &server,
        &[
            "logs", "list", "--since", "1h", "--limit", "100", "--status", "2xx",
        ],
    )
    .await;
    assert_eq!(since.as_array().unwrap().len(), 55);
    let before_start = (started - jiff::SignedDuration::from_secs(1)).to_string();
    let until = cli::json(&server, &["logs", "list", "--until", &before_start]).await;
    assert_eq!(until, json!([]));
    let text = cli::ok(&server, &["logs", "list", "--limit", "3"]).await;
    assert_eq!(text.lines().count(), 4, "a header and three rows: {text}");
    assert!(text.contains(&failed_ids[2]), "the newest row's id: {text}");

    // get: the row with its stored bodies.
    let row = cli::json(&server, &["logs", "get", &failed_ids[0]]).await;
    assert_eq!(row["status_code"], 500);
    assert!(
        row["request_head"]
            .as_str()
            .unwrap()
            .contains("hello gpt-x")
    );
    let text = cli::ok(&server, &["logs", "get", &ok_ids[0]]).await;
    assert!(
        text.contains("request body:") && text.contains("hello gpt-4o-mini"),
        "{text}"
    );
    assert!(
        !cli::run(&server, &["logs", "get", "no-such-id"])
            .await
            .status
            .success()
    );

    // export: every row, oldest first, one JSON object a line.
    let file = dir.path().join("export.ndjson");
    cli::ok(
        &server,
        &["logs", "export", "--output", file.to_str().unwrap()],
    )
    .await;
    let exported: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut want: Vec<String> = ok_ids.iter().chain(&failed_ids).cloned().collect();
    let mut got = ids(&exported);
    let oldest_first: Vec<&str> = exported
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(
        oldest_first.windows(2).all(|w| w[0] <= w[1]),
        "oldest first"
    );
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let stdout = cli::ok(
        &server,
        &["logs", "export", "--provider", "openai", "--model", "gpt-x"],
    )
    .await;
    assert_eq!(stdout.lines().count(), 3);

    // analytics: the API's totals, per model with each model's own percentiles.
    let summary = cli::json(&server, &["analytics", "summary", "--since", "1h"]).await;
    assert_eq!(summary["totals"]["requests"], 58, "{summary}");
    assert_eq!(summary["totals"]["errors"], 3, "{summary}");
    let grouped = cli::json(&server, &["analytics", "summary", "--group-by", "model"]).await;
    let groups = grouped["groups"].as_array().unwrap();
    let of = |model: &str| groups.iter().find(|g| g["model"] == model).unwrap()["totals"].clone();
    assert_eq!(of("gpt-4o-mini")["requests"], 55, "{grouped}");
    assert_eq!(of("gpt-x")["errors"], 3, "{grouped}");
    assert!(of("gpt-x")["duration_p95"].is_number(), "{grouped}");
    // No request used a route: they are all the one group without one.
    let by_route = cli::json(&server, &["analytics", "summary", "--group-by", "route"]).await;
    let groups = by_route["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{by_route}");
    assert_eq!(
        groups[0]["totals"]["requests"].as_f64(),
        Some(58.0),
        "{by_route}"
    );
    let text = cli::ok(&server, &["analytics", "summary", "--group-by", "provider"]).await;
    assert!(
        text.contains("openai") && text.lines().any(|l| l.starts_with("all ")),
        "{text}"
    );
}
