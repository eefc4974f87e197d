//! Three `tollgate serve` processes on one PostgreSQL database and one Redis behave as one
//! gateway (docs/deployment.md): a gateway created through one is served by the others with its settings,
//! a log written through one is listed by another, a limit of N admits N in total, a response
//! cached by one is a HIT on another, and a setting changed through one applies on the others
//! within a second.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::process::{ADMIN_TOKEN, Tollgate};
use tollgate_gateway::clock::monotonic_now;
use tollgate_mock_upstream::MockUpstream;
use tollgate_test_support::postgres::TestDatabase;
use tollgate_test_support::redis::RedisPrefix;

const HANG_GUARD: Duration = Duration::from_secs(30);
/// docs/deployment.md: "a setting changed through one applies on all within a second".
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);
const RATE_LIMIT: usize = 5;

fn chat(content: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})
}

/// Polls `check` until it holds; returns how long that took.
async fn until<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = monotonic_now();
    tokio::time::timeout(HANG_GUARD, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within {HANG_GUARD:?}"));
    start.elapsed()
}

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_on_one_database_and_redis_are_one_gateway() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await.unwrap();
    let database = TestDatabase::create().await.unwrap();
    let prefix = RedisPrefix::new();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("tollgate.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.openai]\nbase_url = \"{}/v1\"\n[storage]\nurl = \"{}\"\n{}",
            mock.url(),
            database.url(),
            prefix.section()
        ),
    )
    .unwrap();
    // Each has its own data directory (spool, instance id); they start together.
    let dirs = ["a", "b", "c"].map(|name| work.path().join(name));
    let (a, b, c) = tokio::join!(
        Tollgate::start(&config, &dirs[0]),
        Tollgate::start(&config, &dirs[1]),
        Tollgate::start(&config, &dirs[2]),
    );
    let http = reqwest::Client::new();

    // Created through A, served by B and C with the settings A was given.
    let settings = json!({"id": "shared", "cache_ttl": 600, "rate_limiting_limit": 1000,
                          "rate_limiting_interval": 3600, "collect_logs": true});
    let created = http
        .post(a.api("/gateways"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    for other in [&b, &c] {
        let took = until("the new gateway reaches another instance", || async {
            let response = http
                .get(other.api("/gateways/shared"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            if response.status() != 200 {
                return false;
            }
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["result"]["cache_ttl"], 600);
            assert_eq!(body["result"]["rate_limiting_limit"], 1000);
            true
        })
        .await;
        eprintln!("gateway creation reached {} in {took:?}", other.base);
        assert!(took < PROPAGATION_BOUND, "creation took {took:?}");
    }

    // Cache: stored through A, a HIT on B and C (with A's bytes).
    let send = |instance: &Tollgate, body: &Value| {
        http.post(instance.chat("shared"))
            .header("authorization", "Bearer sk-test")
            .json(body)
            .send()
    };
    let cached = chat("shared cache");
    let first = send(&a, &cached).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cf-aig-cache-status"], "MISS");
    let log_id = first.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let first = first.bytes().await.unwrap();
    for other in [&b, &c] {
        let hit = send(other, &cached).await.unwrap();
        assert_eq!(hit.status(), 200);
        assert_eq!(hit.headers()["cf-aig-cache-status"], "HIT");
        assert_eq!(hit.bytes().await.unwrap(), first);
    }
    assert_eq!(mock.request_count(), 1, "only A's MISS went upstream");

    // A request proxied through B on the gateway made through A.
    let through_b = send(&b, &chat("through b")).await.unwrap();
    assert_eq!(through_b.status(), 200);
    assert_eq!(through_b.headers()["cf-aig-cache-status"], "MISS");
    let _ = through_b.bytes().await;

    // A log written through A is listed through B.
    until("A's log row is listed through B", || async {
        let listed: Value = http
            .get(b.api("/gateways/shared/logs?per_page=50"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed["result"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|row| row["id"] == log_id.as_str()))
    })
    .await;
    let row: Value = http
        .get(b.api(&format!("/gateways/shared/logs/{log_id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(row["result"]["provider"], "openai", "{row}");

    // A limit of N on a gateway admits exactly N across the three.
    let limited = http
        .post(a.api("/gateways"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "limited", "rate_limiting_limit": RATE_LIMIT,
                      "rate_limiting_interval": 3600, "rate_limiting_technique": "fixed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 200);
    for other in [&b, &c] {
        until("the limited gateway reaches another instance", || async {
            http.get(other.api("/gateways/limited"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .status()
                == 200
        })
        .await;
    }
    let instances = [a.base.clone(), b.base.clone(), c.base.clone()];
    let mut requests = Vec::new();
    for i in 0..RATE_LIMIT * 4 {
        let url = format!(
            "{}/v1/local/limited/openai/chat/completions",
            instances[i % 3]
        );
        let request = http
            .post(url)
            .header("authorization", "Bearer sk-test")
            .json(&chat(&format!("limited {i}")));
        requests.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (admitted, limited),
        (RATE_LIMIT, RATE_LIMIT * 3),
        "{statuses:?}"
    );

    // A setting changed through A applies on B and C within a second: authentication on, so a
    // request without a run token is refused (polled with the cached request: no upstream call).
    let changed = http
        .put(a.api("/gateways/shared"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"authentication": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed_at = monotonic_now();
    for other in [&b, &c] {
        until("the setting applies on another instance", || async {
            send(other, &cached).await.unwrap().status() == 401
        })
        .await;
        let took = changed_at.elapsed();
        eprintln!(
            "the setting change applied on {} after {took:?}",
            other.base
        );
        assert!(took < PROPAGATION_BOUND, "the change took {took:?}");
    }
    drop((a, b, c));
    drop(database);
}
