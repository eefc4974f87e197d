//! Several `tollgate` processes sharing one Redis behave as one gateway for rate limits and the
//! cache (SPEC §10, §9, §14).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tollgate_mock_upstream::MockUpstream;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const ADMIN: &str = "scale-test-admin-token-0123";
const HANG_GUARD: Duration = Duration::from_secs(30);

struct RedisPrefix(String);

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let url = std::env::var("TOLLGATE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let Ok(mut connection) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
            return;
        };
        let keys: Vec<String> =
            redis::Commands::scan_match::<_, String>(&mut connection, format!("{}*", self.0))
                .map(|keys| keys.filter_map(Result::ok).collect())
                .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

async fn start(dir: &Path, config: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(dir)
        .env("TOLLGATE_SERVER__ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(HANG_GUARD, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (
        child,
        first
            .strip_prefix("tollgate listening on ")
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_redis_share_limits_and_cache() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let prefix = RedisPrefix(format!("tollgate-test-{}:", uuid_like()));
    let url = std::env::var("TOLLGATE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("tollgate.toml");
    std::fs::write(
        &config,
        format!("[providers.openai]\nbase_url = \"{}/v1\"\n[redis]\nurl = \"{url}\"\nkey_prefix = \"{}\"\n", mock.url(), prefix.0),
    )
    .unwrap();
    // Each process has its own data directory (its own SQLite): only Redis is shared here.
    let (_one, a) = start(&work.path().join("a"), &config).await;
    let (_two, b) = start(&work.path().join("b"), &config).await;
    let http = reqwest::Client::new();
    for base in [&a, &b] {
        let created = http
            .post(format!("{base}/client/v4/accounts/local/ai-gateway/gateways"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"id": "shared", "rate_limiting_limit": 7, "rate_limiting_interval": 3600, "cache_ttl": 600}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
    }
    // Cache: a response stored through one process is a HIT on the other.
    let cached = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "shared cache"}]});
    let send = |base: &str, body: &serde_json::Value| {
        http.post(format!("{base}/v1/local/shared/openai/chat/completions"))
            .header("authorization", "Bearer sk-test")
            .json(body)
            .send()
    };
    let first = send(&a, &cached).await.unwrap();
    assert_eq!(first.headers()["cf-aig-cache-status"], "MISS");
    let second = send(&b, &cached).await.unwrap();
    assert_eq!(second.headers()["cf-aig-cache-status"], "HIT");
    assert_eq!(first.bytes().await.unwrap(), second.bytes().await.unwrap());
    // Limit 7 across both processes: two used above, 5 more of 20 concurrent get through.
    let mut requests = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 { a.clone() } else { b.clone() };
        let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": format!("n{i}")}]});
        let http = http.clone();
        requests.push(tokio::spawn(async move {
            http.post(format!("{base}/v1/local/shared/openai/chat/completions"))
                .header("authorization", "Bearer sk-test")
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15);
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{}", std::process::id())
}
