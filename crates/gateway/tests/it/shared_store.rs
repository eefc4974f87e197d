//! Gateways on one PostgreSQL database behave as one (docs/deployment.md): what is created, logged or
//! changed through one is seen by the other.

use reqwest::Method;
use serde_json::json;
use tollgate_test_support::postgres::TestDatabase;

use crate::support::{TestGateway, chat_body};

/// Waits until a reload of the shared store left `gw` with the gateway `shared` in the state
/// `seen` accepts (a notification triggers the reload; the periodic one is the safety net).
async fn reloaded(gw: &TestGateway, seen: impl Fn(&tollgate_gateway::gateways::Gateway) -> bool) {
    let mut reloads = gw.state.reloads();
    reloads
        .wait_for(|_| {
            gw.state
                .gateways()
                .get("local", "shared")
                .is_some_and(|g| seen(&g))
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_database_are_one_gateway() {
    let database = TestDatabase::create().await.unwrap();
    let storage = format!("[storage]\nurl = \"{}\"\n", database.url());
    let one = TestGateway::with_config("", &storage).await;
    let two = TestGateway::with_config("", &storage).await;

    // Created through one, served by the other.
    one.create_gateway(json!({"id": "shared"})).await;
    reloaded(&two, |_| true).await;
    let response = two
        .http
        .post(two.url("/v1/local/shared/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.bytes().await;

    // Logged through two, listed through one.
    two.logs_flushed().await;
    let (status, row) = one
        .admin(
            Method::GET,
            &format!("/accounts/local/ai-gateway/gateways/shared/logs/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{row}");
    assert_eq!(row["result"]["provider"], "openai");

    // A setting changed through one applies on two.
    let (status, _) = one
        .admin(
            Method::PUT,
            "/accounts/local/ai-gateway/gateways/shared",
            Some(json!({"authentication": true})),
        )
        .await;
    assert_eq!(status, 200);
    reloaded(&two, |gateway| gateway.settings.authentication).await;
    let response = two
        .http
        .post(two.url("/v1/local/shared/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    drop((one, two));
    drop(database);
}

/// A client behind a load balancer creates a gateway and a run token through one instance and
/// uses them through the other at once: a miss in memory is read from the shared store before
/// a 404 or a 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_instance_creates_works_on_the_other_at_once() {
    let database = TestDatabase::create().await.unwrap();
    let storage = format!("[storage]\nurl = \"{}\"\n", database.url());
    let one = TestGateway::with_config("", &storage).await;
    let two = TestGateway::with_config("", &storage).await;

    one.create_gateway(json!({"id": "fresh", "authentication": true}))
        .await;
    let (status, body) = two
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/gateways/fresh",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, created) = one
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "lb"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let token = created["result"]["token"].as_str().unwrap().to_owned();
    let response = two
        .http
        .post(two.url("/v1/local/fresh/openai/chat/completions"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A name nobody created is still 404 (docs/deployment.md; the negative cache is tested in
    // mirror::tests).
    let ghost = two
        .http
        .post(two.url("/v1/local/ghost/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(ghost.status(), 404);
    drop((one, two));
    drop(database);
}
