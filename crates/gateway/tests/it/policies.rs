//! Policies' management API (docs/budgets.md, "Policies"): staged writes, commit, simulate,
//! validation (a CEL syntax error is a 400 naming `condition`), and removal with the gateway.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::clock::ManualClock;

use crate::support::TestGateway;

const POLICIES: &str = "/accounts/local/ai-gateway/gateways/guarded/policies";

async fn gateway() -> TestGateway {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "guarded"})).await;
    gw
}

fn cap(name: &str, amount: f64) -> Value {
    json!({
        "name": name, "actor": "user:{metadata.user}", "resource": "*",
        "condition": "metadata.team == 'search'",
        "action": {"type": "limit", "amount": amount, "period": "daily"},
    })
}

async fn simulate(gw: &TestGateway, body: Value) -> Value {
    let (status, answer) = gw
        .admin(Method::POST, &format!("{POLICIES}/simulate"), Some(body))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["result"].clone()
}

#[tokio::test]
async fn staged_policies_apply_once_committed() {
    let gw = gateway().await;
    let (status, created) = gw
        .admin(Method::POST, POLICIES, Some(cap("cap", 5.0)))
        .await;
    assert_eq!(status, 200, "{created}");
    let created = &created["result"];
    assert_eq!(created["staged"], true);
    assert_eq!(created["action"]["period"], "daily");
    let id = created["id"].as_str().unwrap().to_owned();

    // A draft is not a policy: not listed, not evaluated.
    let (_, listed) = gw.admin(Method::GET, POLICIES, None).await;
    assert_eq!(listed["result"], json!([]));
    let (_, staged) = gw
        .admin(
            Method::GET,
            &format!("{POLICIES}?includeStaging=true"),
            None,
        )
        .await;
    assert_eq!(staged["result"].as_array().unwrap().len(), 1);
    let identity = json!({"metadata": {"user": "u1", "team": "search"}});
    let request = json!({"identity": identity, "model": "gpt-4o", "provider": "openai"});
    assert_eq!(simulate(&gw, request.clone()).await["policiesEvaluated"], 0);

    let (status, committed) = gw
        .admin(Method::POST, &format!("{POLICIES}/commit"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["result"]["committed"], 1);
    assert_eq!(committed["result"]["policies"][0]["id"], id.as_str());

    let under = simulate(&gw, request.clone()).await;
    assert_eq!(under["evaluation"]["decision"], "check_limits");
    assert_eq!(under["evaluation"]["buckets"][0]["bucket"], "user:u1|*");
    assert_eq!(under["enforcement"]["allowed"], true);
    let mut spent = request.clone();
    spent["bucketUsage"] = json!({"user:u1|*": 5.0});
    let over = simulate(&gw, spent).await;
    assert_eq!(
        over["enforcement"],
        json!({"allowed": false, "reason": "limit_exceeded", "bucket": "user:u1|*",
               "spent": 5.0, "limit": 5.0, "policyName": "cap"})
    );
    // No policy matches another team: denied by default.
    let mut other = request.clone();
    other["identity"]["metadata"]["team"] = json!("ads");
    let denied = simulate(&gw, other).await;
    assert_eq!(denied["evaluation"]["decision"], "block");
    assert_eq!(denied["enforcement"]["reason"], "blocked");

    // An edit with commit=true replaces the policy at once.
    let (status, raised) = gw
        .admin(
            Method::PUT,
            &format!("{POLICIES}/{id}?commit=true"),
            Some(cap("cap", 50.0)),
        )
        .await;
    assert_eq!(status, 200, "{raised}");
    let mut spent = request;
    spent["bucketUsage"] = json!({"user:u1|*": 5.0});
    assert_eq!(simulate(&gw, spent).await["enforcement"]["allowed"], true);

    let (status, _) = gw
        .admin(Method::DELETE, &format!("{POLICIES}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .admin(Method::GET, &format!("{POLICIES}/{id}"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invalid_policies_are_refused_naming_the_field() {
    let gw = gateway().await;
    let mut bad = cap("bad", 5.0);
    bad["condition"] = json!("metadata.team ==");
    bad["action"] = json!({"type": "limit", "amount": 0, "period": "daily"});
    let (status, refused) = gw.admin(Method::POST, POLICIES, Some(bad)).await;
    assert_eq!(status, 400, "{refused}");
    let paths: Vec<&Value> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["path"][1])
        .collect();
    assert_eq!(paths, [&json!("condition"), &json!("action")], "{refused}");
    let (status, _) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways/missing/policies",
            Some(cap("x", 1.0)),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn policies_go_with_their_gateway() {
    let gw = gateway().await;
    let (status, _) = gw
        .admin(
            Method::POST,
            &format!("{POLICIES}?commit=true"),
            Some(cap("cap", 5.0)),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .admin(
            Method::DELETE,
            "/accounts/local/ai-gateway/gateways/guarded",
            None,
        )
        .await;
    assert_eq!(status, 200);
    gw.create_gateway(json!({"id": "guarded"})).await;
    let (_, listed) = gw
        .admin(
            Method::GET,
            &format!("{POLICIES}?includeStaging=true"),
            None,
        )
        .await;
    assert_eq!(
        listed["result"],
        json!([]),
        "a new gateway of the same id starts without"
    );
}

/// USD 1 per million tokens, so a request is priced and its spend counted.
const PRICES: &str = "[pricing.openai.\"budget-model\"]\ninput = 1.0\noutput = 1.0\n";

/// One chat call through `guarded` as `user` of `team` for `model`, declaring `cost`; its
/// status and body.
async fn call(gw: &TestGateway, user: &str, team: &str, model: &str, cost: f64) -> (u16, Value) {
    let response = gw
        .http
        .post(gw.url("/v1/local/guarded/openai/chat/completions"))
        .header("authorization", "Bearer sk-provider")
        .header(
            "cf-aig-metadata",
            json!({"user": user, "team": team}).to_string(),
        )
        .header(
            "cf-aig-custom-cost",
            json!({"total_cost": cost}).to_string(),
        )
        .json(&json!({"model": model, "max_tokens": 10,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The status the proxy should answer for `simulate`'s enforcement.
fn expected_status(simulated: &Value) -> u16 {
    match simulated["enforcement"]["reason"].as_str() {
        None => 200,
        Some("blocked") => 403,
        Some(_) => 429,
    }
}

#[tokio::test]
async fn the_proxy_decides_as_simulate_does() {
    // Mid-day, so that the daily cap's window cannot turn over between two calls.
    let clock = ManualClock::new(1_771_426_800_000);
    let gw = TestGateway::build("", PRICES, Some(clock), None).await;
    gw.create_gateway(json!({"id": "guarded"})).await;
    for policy in [
        json!({"name": "search cap", "actor": "user:{metadata.user}", "resource": "*",
               "condition": "metadata.team == 'search'",
               "action": {"type": "limit", "amount": 0.001, "period": "daily"}}),
        json!({"name": "no o1", "actor": "all", "resource": {"model": "o1*"},
               "action": {"type": "block"}}),
        json!({"name": "ops", "actor": "team:{metadata.team}", "resource": "*",
               "condition": "metadata.team == 'ops'", "action": {"type": "no-limit"}}),
    ] {
        let (status, created) = gw
            .admin(
                Method::POST,
                &format!("{POLICIES}?commit=true"),
                Some(policy),
            )
            .await;
        assert_eq!(status, 200, "{created}");
    }
    // (user, team, model, cost, what this user's bucket has spent before the call)
    let cases = [
        ("u1", "search", "budget-model", 0.001, 0.0),
        ("u1", "search", "budget-model", 0.001, 0.001),
        ("u2", "search", "budget-model", 0.0005, 0.0),
        ("u3", "ops", "budget-model", 5.0, 0.0),
        ("u3", "ops", "o1-mini", 0.0, 0.0),
        ("u4", "ads", "budget-model", 0.0, 0.0),
    ];
    let mut sent = 0;
    for (user, team, model, cost, spent) in cases {
        let mut request = json!({
            "identity": {"metadata": {"user": user, "team": team}},
            "model": model, "provider": "openai",
        });
        request["bucketUsage"] = json!({format!("user:{user}|*"): spent});
        let simulated = simulate(&gw, request).await;
        let (status, body) = call(&gw, user, team, model, cost).await;
        assert_eq!(
            status,
            expected_status(&simulated),
            "{user} {team} {model}: {body} vs {simulated}"
        );
        if status == 200 {
            sent += 1;
        }
        if status == 429 {
            assert_eq!(body["internalCode"], 2104, "{body}");
            for field in ["bucket", "spent", "limit"] {
                assert_eq!(
                    body[field], simulated["enforcement"][field],
                    "{field}: {body}"
                );
            }
        }
        if status == 403 {
            assert_eq!(body["internalCode"], 2103, "{body}");
            assert_eq!(body["message"], "Access denied by policy");
        }
    }
    assert_eq!(
        gw.mock.request_count(),
        sent,
        "refused calls never went upstream"
    );
    assert_eq!(sent, 3);
}
