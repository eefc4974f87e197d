//! A run token's own rate limit and budget (docs/budgets.md, "A token's rate limit and
//! budget"): the budget is reserved before each attempt like a spend limit, so concurrent
//! requests through one token cannot overspend it, in one process or across instances sharing
//! Redis; the rate limit refuses past its limit; `GET …/tokens/{id}` shows the spend.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::clock::ManualClock;
use tollgate_test_support::postgres::TestDatabase;

use crate::support::{RedisPrefix, TestGateway, gateway_error_code};

const TOKENS: &str = "/accounts/local/ai-gateway/tokens";
/// USD 1 per million tokens: a request reserves one micro-USD per body byte and output token.
const PRICES: &str = "[pricing.openai.\"budget-model\"]\ninput = 1.0\noutput = 1.0\n";
const MAX_TOKENS: u32 = 1_000;
/// 2026-02-18T15:00:00Z: mid-day, mid-week, mid-month, on an hour's start.
const T0: i64 = 1_771_426_800_000;

fn body() -> Value {
    json!({
        "model": "budget-model",
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": "Spend some of the budget"}],
    })
}

/// What one request reserves, in USD.
fn reserved_usd() -> f64 {
    let bytes = u32::try_from(serde_json::to_vec(&body()).unwrap().len()).unwrap();
    f64::from(bytes + MAX_TOKENS) / 1_000_000.0
}

async fn gateway(clock: &Arc<ManualClock>, sections: &str) -> TestGateway {
    let gw = TestGateway::build(
        "",
        &format!("{PRICES}{sections}"),
        Some(clock.clone()),
        None,
    )
    .await;
    gw.create_gateway(json!({"id": "team", "authentication": true}))
        .await;
    gw
}

/// A token with `scope`: its id and text.
async fn token(gw: &TestGateway, scope: Value) -> (String, String) {
    let mut body = scope;
    body["name"] = json!("limited");
    let (status, created) = gw.admin(Method::POST, TOKENS, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    let text = |key: &str| created["result"][key].as_str().unwrap().to_owned();
    (text("id"), text("token"))
}

/// Sends `count` requests at once through `token`, each declaring it cost what it reserved
/// (so no settlement frees room); their statuses. Every refusal is checked for its code.
async fn statuses(gw: &TestGateway, token: &str, count: usize) -> Vec<u16> {
    let requests = (0..count).map(|_| {
        let request = gw
            .http
            .post(gw.url("/v1/local/team/openai/chat/completions"))
            .header("authorization", "Bearer sk-provider")
            .header("cf-aig-authorization", format!("Bearer {token}"))
            .header(
                "cf-aig-custom-cost",
                json!({"total_cost": reserved_usd()}).to_string(),
            )
            .json(&body());
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if status == 429 {
                let retry_after = response.headers().get("retry-after").cloned();
                let error: Value = response.json().await.unwrap();
                let code = gateway_error_code(&error);
                assert!(code == 2041 || code == 2003, "{error}");
                assert!(retry_after.is_some(), "{error}");
            } else {
                let _ = response.bytes().await;
            }
            status
        }
    });
    futures_util::future::join_all(requests).await
}

fn admitted(statuses: &[u16]) -> usize {
    statuses.iter().filter(|status| **status == 200).count()
}

async fn spend(gw: &TestGateway, id: &str) -> Value {
    let (status, found) = gw.admin(Method::GET, &format!("{TOKENS}/{id}"), None).await;
    assert_eq!(status, 200, "{found}");
    found["result"]["spend"].clone()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn concurrent_requests_cannot_overspend_a_token_budget() {
    let clock = ManualClock::new(T0);
    let gw = gateway(&clock, "").await;
    let limit = reserved_usd() * 10.5;
    let (id, token) = token(&gw, json!({"budget": {"limit": limit, "window": 3600}})).await;
    let sent = statuses(&gw, &token, 50).await;
    assert_eq!(admitted(&sent), 10, "{sent:?}");
    assert_eq!(sent.iter().filter(|s| **s == 429).count(), 40);
    assert_eq!(
        gw.mock.request_count(),
        10,
        "refused requests never went upstream"
    );

    let spend = spend(&gw, &id).await;
    assert!(
        close(spend["spent"].as_f64().unwrap(), reserved_usd() * 10.0),
        "{spend}"
    );
    assert!(close(spend["limit"].as_f64().unwrap(), limit), "{spend}");
    assert_eq!(spend["window_start"], "2026-02-18T15:00:00Z", "{spend}");
    assert_eq!(spend["window_end"], "2026-02-18T16:00:00Z", "{spend}");
}

#[tokio::test]
async fn a_calendar_budget_refuses_with_its_name_until_the_next_utc_day() {
    let clock = ManualClock::new(T0);
    let gw = gateway(&clock, "").await;
    let (id, token) = token(
        &gw,
        json!({"budget": {"limit": reserved_usd() * 1.5, "window": "day"}}),
    )
    .await;
    assert_eq!(statuses(&gw, &token, 1).await, [200]);
    let refused = gw
        .http
        .post(gw.url("/v1/local/team/openai/chat/completions"))
        .header("authorization", "Bearer sk-provider")
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    // Nine hours to midnight UTC.
    assert_eq!(refused.headers()["retry-after"], "32400");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(gateway_error_code(&error), 2041);
    let message = error["error"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("run token 'limited'") && message.contains("per day (UTC)"),
        "{message}"
    );
    assert_eq!(
        spend(&gw, &id).await["window_start"],
        "2026-02-18T00:00:00Z"
    );

    clock.advance(Duration::from_secs(9 * 3600));
    assert_eq!(
        statuses(&gw, &token, 1).await,
        [200],
        "a new day, a new budget"
    );
    let spend = spend(&gw, &id).await;
    assert!(
        close(spend["spent"].as_f64().unwrap(), reserved_usd()),
        "{spend}"
    );
    assert_eq!(spend["window_start"], "2026-02-19T00:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_hold_one_token_budget() {
    let database = TestDatabase::create().await.unwrap();
    let prefix = RedisPrefix::new();
    let sections = format!(
        "[storage]\nurl = \"{}\"\n{}",
        database.url(),
        prefix.section()
    );
    let clock = ManualClock::new(T0);
    let one = gateway(&clock, &sections).await;
    let two = TestGateway::build(
        "",
        &format!("{PRICES}{sections}"),
        Some(clock.clone()),
        None,
    )
    .await;
    let (id, token) = token(
        &one,
        json!({"budget": {"limit": reserved_usd() * 10.5, "window": "month"}}),
    )
    .await;
    // The second instance finds the gateway and the token in the shared store on first use.
    let (a, b) = tokio::join!(statuses(&one, &token, 25), statuses(&two, &token, 25));
    let fallbacks = one.state.budgets().redis_fallbacks() + two.state.budgets().redis_fallbacks();
    assert_eq!(fallbacks, 0, "Redis answered every reservation");
    assert_eq!(admitted(&a) + admitted(&b), 10, "{a:?} {b:?}");
    // Either instance reads the one ledger.
    for gw in [&one, &two] {
        let spend = spend(gw, &id).await;
        assert!(
            close(spend["spent"].as_f64().unwrap(), reserved_usd() * 10.0),
            "{spend}"
        );
        assert_eq!(spend["window_start"], "2026-02-01T00:00:00Z");
    }
}

#[tokio::test]
async fn a_token_rate_limit_refuses_past_its_limit_on_every_gateway() {
    let clock = ManualClock::new(T0);
    let gw = gateway(&clock, "").await;
    gw.create_gateway(json!({"id": "other", "authentication": true}))
        .await;
    let (_, limited) = token(&gw, json!({"rate_limit": {"limit": 3, "interval": 60}})).await;
    let call = |gateway: &'static str| {
        gw.http
            .post(gw.url(&format!("/v1/local/{gateway}/openai/chat/completions")))
            .header("authorization", "Bearer sk-provider")
            .header("cf-aig-authorization", format!("Bearer {limited}"))
            .json(&body())
            .send()
    };
    for gateway in ["team", "other", "team"] {
        assert_eq!(call(gateway).await.unwrap().status(), 200);
    }
    let refused = call("other").await.unwrap();
    assert_eq!(refused.status(), 429);
    // The clock stands at the start of a minute: the fixed window ends in 60 s.
    assert_eq!(refused.headers()["retry-after"], "60");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(gateway_error_code(&error), 2003, "{error}");
    assert_eq!(gw.mock.request_count(), 3);
    // Another token is not limited by this one's counter.
    let (_, free) = token(&gw, json!({})).await;
    assert_eq!(statuses(&gw, &free, 1).await, [200]);
    clock.advance(Duration::from_secs(60));
    assert_eq!(call("team").await.unwrap().status(), 200, "a new window");
}

#[tokio::test]
async fn rate_limits_and_budgets_are_validated_and_shown() {
    let gw = TestGateway::start().await;
    let (status, refused) = gw
        .admin(
            Method::POST,
            TOKENS,
            Some(
                json!({"name": "bad", "rate_limit": {"limit": 0, "interval": 60},
                        "budget": {"limit": 5, "window": "fortnight"}}),
            ),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let errors = refused["errors"].as_array().unwrap();
    let paths: Vec<&Value> = errors.iter().map(|e| &e["path"][1]).collect();
    assert_eq!(paths, [&json!("rate_limit"), &json!("budget")], "{refused}");
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .starts_with("budget: window"),
        "{refused}"
    );
    let (id, _) = token(
        &gw,
        json!({"rate_limit": {"limit": 10, "interval": 60},
               "budget": {"limit": 2.5, "window": "month"}}),
    )
    .await;
    let (_, shown) = gw.admin(Method::GET, &format!("{TOKENS}/{id}"), None).await;
    let shown = &shown["result"];
    assert_eq!(
        shown["rate_limit"],
        json!({"limit": 10, "interval": 60, "technique": "fixed"})
    );
    assert_eq!(shown["budget"], json!({"limit": 2.5, "window": "month"}));
    assert_eq!(shown["spend"]["spent"], 0.0);
    assert_eq!(shown["spend"]["remaining"], 2.5);
    let (plain, _) = token(&gw, json!({})).await;
    assert_eq!(spend(&gw, &plain).await, Value::Null);
}
