//! Analytics grouped by run token, by dynamic route and by a metadata key (docs/analytics.md,
//! "Grouping by token, route or metadata"): sums of the log rows per value, the same on SQLite
//! and PostgreSQL.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_test_support::postgres::TestDatabase;

use crate::support::{ADMIN_TOKEN, TestGateway, chat_body};

async fn token(gw: &TestGateway, name: &str) -> (String, String) {
    let (status, created) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let text = |key: &str| created["result"][key].as_str().unwrap().to_owned();
    (text("id"), text("token"))
}

/// One chat call through gateway `grouped` with `credential` (a run token or the admin
/// token), tagged `team`, declaring `cost`; `fail` makes the provider answer 500.
async fn call(gw: &TestGateway, credential: &str, team: &str, cost: f64, fail: bool) {
    let mut request = gw
        .http
        .post(gw.url("/v1/local/grouped/openai/chat/completions"))
        .header("authorization", "Bearer sk-provider")
        .header("cf-aig-authorization", format!("Bearer {credential}"))
        .header("cf-aig-metadata", json!({"team": team}).to_string())
        .header(
            "cf-aig-custom-cost",
            json!({"total_cost": cost}).to_string(),
        )
        .json(&chat_body(false));
    if fail {
        request = request.header("x-mock-status", "500");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), if fail { 500 } else { 200 });
    let _ = response.bytes().await;
}

async fn grouped(gw: &TestGateway, group_by: &str) -> (u16, Value) {
    gw.admin(
        Method::GET,
        &format!("/accounts/local/ai-gateway/analytics?gateway_id=grouped&group_by={group_by}"),
        None,
    )
    .await
}

/// Each series' group value → (requests, errors, cost) summed over its points.
fn per_group(result: &Value, name: &str) -> Vec<(Value, u64, u64, f64)> {
    let mut groups: Vec<(Value, u64, u64, f64)> = result["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|series| {
            let points = series["points"].as_array().unwrap();
            let sum = |field: &str| points.iter().map(|p| p[field].as_u64().unwrap()).sum();
            let cost = points
                .iter()
                .map(|p| p["cost"].as_f64().unwrap())
                .sum::<f64>();
            (
                series["group"][name].clone(),
                sum("requests"),
                sum("errors"),
                (cost * 1e6).round() / 1e6,
            )
        })
        .collect();
    groups.sort_by_key(|g| g.0.to_string());
    groups
}

async fn groups_by_token_and_metadata(sections: &str) {
    let gw = TestGateway::with_config("", sections).await;
    gw.create_gateway(json!({"id": "grouped", "authentication": true}))
        .await;
    let (search_id, search) = token(&gw, "search").await;
    let (ads_id, ads) = token(&gw, "ads").await;
    call(&gw, &search, "search", 0.01, false).await;
    call(&gw, &search, "search", 0.01, false).await;
    call(&gw, &ads, "ads", 0.02, false).await;
    call(&gw, &ads, "ads", 0.0, true).await;
    // The admin token is no run token: its request has no token to be grouped under.
    call(&gw, ADMIN_TOKEN, "ops", 0.5, false).await;

    let (status, by_token) = grouped(&gw, "token").await;
    assert_eq!(status, 200, "{by_token}");
    let by_token = &by_token["result"];
    assert_eq!(by_token["totals"]["requests"], 5);
    assert_eq!(
        by_token["totals"]["duration_p50"],
        Value::Null,
        "no sketches in log groups"
    );
    let mut expected = vec![
        (json!(search_id), 2, 0, 0.02),
        (json!(ads_id), 2, 1, 0.02),
        (Value::Null, 1, 0, 0.5),
    ];
    expected.sort_by_key(|g| g.0.to_string());
    assert_eq!(per_group(by_token, "token"), expected);

    let (status, by_team) = grouped(&gw, "metadata.team").await;
    assert_eq!(status, 200, "{by_team}");
    assert_eq!(
        per_group(&by_team["result"], "metadata.team"),
        [
            (json!("ads"), 2, 1, 0.02),
            (json!("ops"), 1, 0, 0.5),
            (json!("search"), 2, 0, 0.02),
        ]
    );

    // A key no row has: every row in the group without it.
    let (_, absent) = grouped(&gw, "metadata.nobody").await;
    assert_eq!(
        per_group(&absent["result"], "metadata.nobody"),
        [(Value::Null, 5, 1, 0.54)]
    );

    for bad in [
        "metadata.",
        &format!("metadata.{}", "k".repeat(65)),
        "tokens",
    ] {
        let (status, refused) = grouped(&gw, bad).await;
        assert_eq!(status, 400, "{bad}: {refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("group_by:"), "{message}");
    }
}

#[tokio::test]
async fn analytics_group_by_token_and_metadata_on_sqlite() {
    groups_by_token_and_metadata("").await;
}

#[tokio::test]
async fn analytics_group_by_token_and_metadata_on_postgres() {
    let database = TestDatabase::create().await.unwrap();
    groups_by_token_and_metadata(&format!("[storage]\nurl = \"{}\"\n", database.url())).await;
}

/// One chat call through gateway `grouped` for `model` (a provider's, or `dynamic/{route}`).
async fn routed_call(gw: &TestGateway, model: &str) -> u16 {
    let response = gw
        .http
        .post(gw.url("/v1/local/grouped/compat/chat/completions"))
        .header("authorization", "Bearer sk-provider")
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    status
}

async fn groups_by_route(sections: &str) {
    let gw = TestGateway::with_config("", sections).await;
    gw.create_gateway(json!({"id": "grouped"})).await;
    let out = |id: &str| json!({"elementId": id});
    for (name, fallback) in [("support", true), ("sales", false)] {
        let mut outputs = json!({"success": out("end")});
        if fallback {
            outputs["fallback"] = out("backup");
        }
        let elements = json!([
            {"id": "start", "type": "start", "outputs": {"next": out("main")}},
            {"id": "main", "type": "model", "outputs": outputs,
             "properties": {"provider": "openai", "model": "gpt-4o", "retries": 0}},
            {"id": "backup", "type": "model", "outputs": {"success": out("end")},
             "properties": {"provider": "openai", "model": "gpt-4o-mini", "retries": 0}},
            {"id": "end", "type": "end", "outputs": {}},
        ]);
        let (status, body) = gw
            .admin(
                Method::POST,
                "/accounts/local/ai-gateway/gateways/grouped/routes",
                Some(json!({"name": name, "elements": elements})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(routed_call(&gw, "dynamic/support").await, 200);
    // A failed call and its fallback: two rows of the route.
    gw.mock.push(tollgate_mock_upstream::Behavior::status(500));
    assert_eq!(routed_call(&gw, "dynamic/support").await, 200);
    assert_eq!(routed_call(&gw, "dynamic/sales").await, 200);
    // No route: the group without one.
    assert_eq!(routed_call(&gw, "openai/gpt-4o").await, 200);

    let (status, by_route) = grouped(&gw, "route").await;
    assert_eq!(status, 200, "{by_route}");
    let groups: Vec<(Value, u64, u64)> = per_group(&by_route["result"], "route")
        .into_iter()
        .map(|(group, requests, errors, _)| (group, requests, errors))
        .collect();
    assert_eq!(
        groups,
        [
            (json!("sales"), 1, 0),
            (json!("support"), 3, 1),
            (Value::Null, 1, 0),
        ]
    );
    assert_eq!(by_route["result"]["totals"]["requests"], 5);
}

#[tokio::test]
async fn analytics_group_by_route_on_sqlite() {
    groups_by_route("").await;
}

#[tokio::test]
async fn analytics_group_by_route_on_postgres() {
    let database = TestDatabase::create().await.unwrap();
    groups_by_route(&format!("[storage]\nurl = \"{}\"\n", database.url())).await;
}
