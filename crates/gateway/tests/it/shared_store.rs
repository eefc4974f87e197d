//! Gateways on one PostgreSQL database behave as one (docs/deployment.md): what is created, logged or
//! changed through one is seen by the other.

use reqwest::Method;
use serde_json::json;
use tollgate_test_support::postgres::TestDatabase;

use crate::support::{TestGateway, chat_body, two_instances_on_one_database};

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
    let (database, one, two) = two_instances_on_one_database().await;

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
    let (_database, one, two) = two_instances_on_one_database().await;

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
}

/// Stored provider keys (docs/keys.md): a key added through one instance is used by the other
/// at once, a refusal seen by one marks it invalid on both, and a dump of the database holds
/// no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_added_through_one_instance_is_used_by_another_at_once() {
    const CANARY: &str = "sk-canary-pg-5e1d0b7a9c3f2e4d6b8a";
    let database = TestDatabase::create().await.unwrap();
    let kek = tollgate_gateway::keys::Kek::generate().unwrap().encode();
    let config = format!(
        "[storage]\nurl = \"{}\"\n[secrets]\nkey = \"{}\"\n",
        database.url(),
        kek.as_str()
    );
    let one = TestGateway::with_config("", &config).await;
    let two = TestGateway::with_config("", &config).await;
    one.create_gateway(json!({"id": "shared", "authentication": true}))
        .await;
    let (_, token) = one
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "app"})),
        )
        .await;
    let token = token["result"]["token"].as_str().unwrap().to_owned();
    reloaded(&two, |gateway| gateway.settings.authentication).await;

    let (status, created) = one
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways/shared/provider_configs",
            Some(json!({"default_config": true, "provider_slug": "openai", "secret": CANARY})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    let shown = |gw: &TestGateway| gw.state.keys().get_json("local", "shared", &id);
    two.state
        .reloads()
        .wait_for(|_| shown(&two).is_some())
        .await
        .unwrap();
    let chat = |gw: &TestGateway| {
        gw.http
            .post(gw.url("/v1/local/shared/openai/chat/completions"))
            .header("cf-aig-authorization", format!("Bearer {token}"))
            .json(&chat_body(false))
            .send()
    };
    assert_eq!(chat(&two).await.unwrap().status(), 200);
    let sent = two.mock.requests().last().unwrap().clone();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {CANARY}").as_str())
    );

    // The provider refuses it through two: one learns the key is invalid.
    two.mock.push(tollgate_mock_upstream::Behavior::status(401));
    assert_eq!(chat(&two).await.unwrap().status(), 401);
    one.state
        .reloads()
        .wait_for(|_| shown(&one).is_some_and(|k| k["status"] == "invalid"))
        .await
        .unwrap();

    // Nothing of the secret is in the database.
    let dump = std::process::Command::new("pg_dump")
        .arg("--no-owner")
        .arg(database.url())
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(
        String::from_utf8_lossy(&dump.stdout).contains("provider_keys"),
        "the dump has the keys table"
    );
    let holds = |needle: &str| {
        dump.stdout
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    assert!(
        !holds(CANARY) && !holds(&CANARY[3..]),
        "the dump holds the secret"
    );
    drop((one, two));
    drop(database);
}

/// Dynamic routes (docs/routing.md): a route created, deployed and rolled back through one
/// instance serves its live version on the other as soon as the change feed has been heard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_or_rollback_through_one_instance_applies_on_the_other() {
    let (database, one, two) = two_instances_on_one_database().await;
    one.create_gateway(json!({"id": "shared"})).await;
    let routes = "/accounts/local/ai-gateway/gateways/shared/routes";
    let version = |model: &str| {
        json!([
            {"id": "s", "type": "start", "outputs": {"next": {"elementId": "m"}}},
            {"id": "m", "type": "model", "properties": {"provider": "openai", "model": model},
             "outputs": {"success": {"elementId": "e"}}},
            {"id": "e", "type": "end"},
        ])
    };
    let (status, created) = one
        .admin(
            Method::POST,
            routes,
            Some(json!({"name": "support", "elements": version("gpt-4o")})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    let first = created["result"]["version"]["version_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Waits until two's live version of the route is `version_id`: a notification triggers
    // the reload, well within the bound (the safety net alone reloads every 5 s); nothing here
    // sleeps.
    let live_on_two = |version_id: String| {
        let two = &two;
        async move {
            let mut reloads = two.state.reloads();
            let seen = reloads.wait_for(|_| {
                two.state
                    .routes()
                    .named("local", "shared", "support")
                    .is_some_and(|route| route.row.version.id == version_id)
            });
            tokio::time::timeout(std::time::Duration::from_secs(3), seen)
                .await
                .expect("the change feed carried the deployment")
                .unwrap();
        }
    };
    let model_on_two = || async {
        let response = two
            .http
            .post(two.url("/v1/local/shared/compat/chat/completions"))
            .bearer_auth("sk-shared")
            .json(&json!({"model": "dynamic/support",
                          "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.headers()["cf-aig-model"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    live_on_two(first.clone()).await;
    assert_eq!(model_on_two().await, "gpt-4o");

    // A new version deployed through one.
    let (_, added) = one
        .admin(
            Method::POST,
            &format!("{routes}/{id}/versions"),
            Some(json!({"elements": version("gpt-4o-mini")})),
        )
        .await;
    let second = added["result"]["version_id"].as_str().unwrap().to_owned();
    let (status, _) = one
        .admin(
            Method::POST,
            &format!("{routes}/{id}/deployments"),
            Some(json!({"version_id": second})),
        )
        .await;
    assert_eq!(status, 200);
    live_on_two(second).await;
    assert_eq!(model_on_two().await, "gpt-4o-mini");

    // The rollback, through one, reaches two the same way.
    let (status, _) = one
        .admin(
            Method::POST,
            &format!("{routes}/{id}/deployments"),
            Some(json!({"version_id": first, "comment": "rollback"})),
        )
        .await;
    assert_eq!(status, 200);
    live_on_two(first).await;
    assert_eq!(model_on_two().await, "gpt-4o");
    drop((one, two));
    drop(database);
}
