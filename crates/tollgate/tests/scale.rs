//! Several `tollgate` processes sharing one Redis behave as one gateway for rate limits and the
//! cache (docs/resilience.md, docs/cache.md, docs/deployment.md).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use support::process::{ADMIN_TOKEN as ADMIN, Tollgate};
use tollgate_mock_upstream::MockUpstream;
use tollgate_test_support::redis::RedisPrefix;

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_redis_share_limits_and_cache() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let prefix = RedisPrefix::new();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("tollgate.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.openai]\nbase_url = \"{}/v1\"\n{}",
            mock.url(),
            prefix.section()
        ),
    )
    .unwrap();
    // Each process has its own data directory (its own SQLite): only Redis is shared here.
    let one = Tollgate::start(&config, &work.path().join("a")).await;
    let two = Tollgate::start(&config, &work.path().join("b")).await;
    let (a, b) = (one.base.clone(), two.base.clone());
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
