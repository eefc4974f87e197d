//! `tollgate migrate` on a populated deployment (docs/deployment.md, issue #8): a gateway on SQLite serves
//! real traffic, stops, is copied into a new PostgreSQL database, and a gateway started on that
//! database with the same data directory shows the same gateways, tokens, logs, bodies and
//! analytics through the management API. A second run copies nothing.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tollgate_mock_upstream::MockUpstream;

use support::process::{BIN, spawn, stop};
use tollgate_test_support::postgres::TestDatabase;

const HANG_GUARD: Duration = Duration::from_secs(60);
/// Given in the target URL; trust authentication ignores it, and no output may show it.
const PASSWORD: &str = "not-a-real-secret-7f3a";

/// `tollgate serve` with a generated admin token (so the copy of its hash is what lets the
/// same token in afterwards).
async fn serve(config: &Path, data_dir: &Path) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("TOLLGATE_SERVER__ADMIN_TOKEN");
    spawn(command).await
}

/// `tollgate migrate`: its exit status and everything it printed.
async fn migrate(from: &Path, to: &str) -> (bool, String) {
    let output = tokio::time::timeout(
        HANG_GUARD,
        Command::new(BIN)
            .arg("migrate")
            .arg("--from")
            .arg(format!("sqlite://{}", from.display()))
            .args(["--to", to, "--batch-rows", "16"])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains(PASSWORD),
        "the password was printed:\n{text}"
    );
    (output.status.success(), text)
}

/// The summary's COPIED column, per table.
fn copied(output: &str) -> Vec<(String, u64)> {
    output
        .lines()
        .skip_while(|line| !line.starts_with("TABLE"))
        .skip(1)
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            match cells.as_slice() {
                [table, _, copied, _] => Some(((*table).to_owned(), copied.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

struct Api {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(
                method,
                format!("{}/client/v4/accounts/local/ai-gateway{path}", self.base),
            )
            .bearer_auth(&self.admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let envelope: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {envelope}");
        envelope
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// A stored body as the API returns it: content type and bytes, or 404.
    async fn body(&self, path: &str) -> (u16, Option<String>, Vec<u8>) {
        let response = self
            .http
            .get(format!(
                "{}/client/v4/accounts/local/ai-gateway{path}",
                self.base
            ))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            status,
            content_type,
            response.bytes().await.unwrap().to_vec(),
        )
    }

    async fn total_logs(&self, gateway: &str) -> u64 {
        self.get(&format!("/gateways/{gateway}/logs?per_page=1"))
            .await["result_info"]["total_count"]
            .as_u64()
            .unwrap()
    }

    /// Everything the API shows of this deployment: gateways, tokens, analytics, and each log
    /// with its bodies.
    async fn snapshot(&self, logs: &[(String, String)]) -> Value {
        let mut rows = Vec::new();
        for (gateway, id) in logs {
            let path = format!("/gateways/{gateway}/logs/{id}");
            let request = self.body(&format!("{path}/request")).await;
            let response = self.body(&format!("{path}/response")).await;
            rows.push(json!({
                "row": self.get(&path).await["result"],
                "request": format!("{request:?}"),
                "response": format!("{response:?}"),
            }));
        }
        let range = "start=2020-01-01T00:00:00Z&end=2100-01-01T00:00:00Z&interval=day";
        json!({
            "gateways": self.get("/gateways?per_page=100").await["result"],
            "tokens": self.get("/tokens").await["result"],
            "analytics": self.get(&format!("/analytics?{range}")).await["result"],
            "by_model": self.get(&format!("/analytics?{range}&group_by=model")).await["result"],
            "alpha": self.get(&format!("/analytics?{range}&gateway_id=alpha&group_by=status")).await["result"],
            "logs": rows,
            "totals": [self.total_logs("alpha").await, self.total_logs("beta").await],
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_populated_sqlite_deployment_moves_to_postgres() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    let providers = format!("[providers.openai]\nbase_url = \"{}/v1\"\n", mock.url());
    let sqlite_config = work.path().join("sqlite.toml");
    std::fs::write(&sqlite_config, &providers).unwrap();

    // 1. A deployment on SQLite with traffic, feedback and analytics.
    let (mut gateway, base) = serve(&sqlite_config, &data_dir).await;
    let admin = std::fs::read_to_string(data_dir.join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    let http = reqwest::Client::new();
    let api = Api {
        http: http.clone(),
        base: base.clone(),
        admin: admin.clone(),
    };
    let gateways = [
        json!({"id": "alpha", "cache_ttl": 300, "authentication": true, "retry_max_attempts": 2,
               "retry_delay": 50, "retry_backoff": "exponential", "log_management": 5000,
               "log_management_strategy": "DELETE_OLDEST", "rate_limiting_limit": 1000,
               "rate_limiting_interval": 60, "request_timeout_ms": 20000}),
        json!({"id": "beta", "cache_ttl": 0, "collect_logs": true}),
        json!({"id": "quiet", "collect_logs": false}),
    ];
    for body in gateways {
        api.call(reqwest::Method::POST, "/gateways", Some(body))
            .await;
    }
    let token = api
        .call(
            reqwest::Method::POST,
            "/tokens",
            Some(json!({"name": "ci"})),
        )
        .await["result"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let chat = |gateway: &str| format!("{base}/v1/local/{gateway}/openai/chat/completions");
    let mut logged = Vec::new();
    let mut send = async |gateway: &str, body: Value, extra: &[(&str, &str)]| {
        let mut request = http
            .post(chat(gateway))
            .header("authorization", "Bearer sk-test")
            .header("cf-aig-authorization", format!("Bearer {token}"))
            .json(&body);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        // Every response names its log id, also where logs are not collected.
        if let Some(id) = response.headers().get("cf-aig-log-id")
            && gateway != "quiet"
        {
            logged.push((gateway.to_owned(), id.to_str().unwrap().to_owned()));
        }
        let _ = response.bytes().await.unwrap();
        status
    };
    let prompt = |text: String| json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]});
    let mut statuses = Vec::new();
    for i in 0..24 {
        let metadata = format!(r#"{{"team":"t{}","n":{i}}}"#, i % 3);
        statuses.push(
            send(
                "alpha",
                prompt(format!("alpha {i}")),
                &[("cf-aig-metadata", &metadata)],
            )
            .await,
        );
    }
    for _ in 0..6 {
        // The same request again: cache hits.
        statuses.push(send("alpha", prompt("alpha 0".into()), &[]).await);
    }
    for i in 0..12 {
        let body = json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": format!("beta {i}")}]});
        statuses.push(send("beta", body, &[]).await);
    }
    for (i, status) in ["500", "429", "400", "503", "500", "404"]
        .iter()
        .enumerate()
    {
        statuses.push(
            send(
                "beta",
                prompt(format!("fail {i}")),
                &[("x-mock-status", status)],
            )
            .await,
        );
    }
    for i in 0..8 {
        statuses.push(send("quiet", prompt(format!("quiet {i}")), &[]).await);
    }
    assert_eq!(statuses.len(), 56);
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        50,
        "{statuses:?}"
    );
    assert_eq!(
        logged.len(),
        48,
        "every request but the uncollected ones has a log id"
    );
    // The shipper is asynchronous: wait until every row is listed.
    tokio::time::timeout(HANG_GUARD, async {
        while api.total_logs("alpha").await < 30 || api.total_logs("beta").await < 18 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("all rows shipped");
    for (n, (gateway, id)) in logged.iter().enumerate().filter(|(n, _)| n % 5 == 0) {
        let patch = json!({"feedback": if n % 2 == 0 { 1 } else { -1 }, "score": n, "metadata": {"reviewed": "yes"}});
        api.call(
            reqwest::Method::PATCH,
            &format!("/gateways/{gateway}/logs/{id}"),
            Some(patch),
        )
        .await;
    }
    let before = api.snapshot(&logged).await;
    // Exactly the 56 the client sent, the uncollected and cached ones included.
    assert_eq!(
        before["analytics"]["totals"]["requests"], 56,
        "{}",
        before["analytics"]
    );
    assert!(stop(&mut gateway).await.success());

    // 2. The copy, then a gateway on PostgreSQL with the same data directory.
    let database = TestDatabase::create().await.unwrap();
    let url = database.url().replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
        1,
    );
    assert!(url.contains(PASSWORD), "{url}");
    let (ok, output) = migrate(&data_dir, &url).await;
    assert!(ok, "{output}");
    eprintln!("{output}");
    let first: Vec<(String, u64)> = copied(&output);
    let count = |table: &str| first.iter().find(|(t, _)| t == table).map(|(_, n)| *n);
    assert_eq!(count("gateways"), Some(3), "{output}");
    assert_eq!(count("tokens"), Some(1), "{output}");
    assert_eq!(count("logs"), Some(48), "{output}");
    assert!(count("rollups_minute").unwrap() > 0, "{output}");
    assert_eq!(count("spool_checkpoints"), Some(1), "{output}");

    let pg_config = work.path().join("pg.toml");
    std::fs::write(
        &pg_config,
        format!("{providers}[storage]\nurl = \"{}\"\n", database.url()),
    )
    .unwrap();
    let (mut gateway, base) = serve(&pg_config, &data_dir).await;
    let api = Api {
        http: http.clone(),
        base: base.clone(),
        admin: admin.clone(),
    };
    let after = api.snapshot(&logged).await;
    assert_eq!(after["gateways"], before["gateways"]);
    assert_eq!(after["tokens"], before["tokens"]);
    assert_eq!(after["totals"], before["totals"]);
    assert_eq!(after["analytics"], before["analytics"]);
    assert_eq!(after["by_model"], before["by_model"]);
    assert_eq!(after["alpha"], before["alpha"]);
    for (row, (was, is)) in before["logs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["logs"].as_array().unwrap())
        .enumerate()
    {
        assert_eq!(is, was, "log {row}");
    }

    // 3. A second run adds nothing. The gateway owns the data directory while it runs (its
    // lock refuses `migrate`), so it is stopped for the run.
    assert!(stop(&mut gateway).await.success());
    let (ok, output) = migrate(&data_dir, &url).await;
    assert!(ok, "{output}");
    let second = copied(&output);
    assert_eq!(second.len(), first.len(), "{output}");
    assert!(second.iter().all(|(_, n)| *n == 0), "{output}");
    let (mut gateway, base) = serve(&pg_config, &data_dir).await;
    let api = Api {
        http: http.clone(),
        base: base.clone(),
        admin: admin.clone(),
    };
    assert_eq!(api.snapshot(&logged).await, after);

    // 4. The run token still opens the authenticated gateway; nothing else does.
    let request = |token: Option<&str>| {
        let mut request = http
            .post(format!("{base}/v1/local/alpha/openai/chat/completions"))
            .header("authorization", "Bearer sk-test")
            .json(&prompt("after the move".into()));
        if let Some(token) = token {
            request = request.header("cf-aig-authorization", format!("Bearer {token}"));
        }
        request.send()
    };
    assert_eq!(request(Some(&token)).await.unwrap().status(), 200);
    assert_eq!(request(Some("not-a-token")).await.unwrap().status(), 401);
    assert_eq!(request(None).await.unwrap().status(), 401);
    assert!(stop(&mut gateway).await.success());
}
