//! Spend limits (docs/budgets.md): each attempt reserves its worst-case cost before it is sent
//! and settles to the actual cost, so concurrent requests cannot overspend a budget, in one
//! process or across instances sharing Redis.

use serde_json::{Value, json};
use tollgate_gateway::clock::ManualClock;

use crate::support::{RedisPrefix, TestGateway, gateway_error_code};

/// USD per million tokens of 1 for input and output: a request reserves one micro-USD per byte
/// of its body plus one per output token it allows.
const PRICES: &str = "[pricing.openai.\"budget-model\"]\ninput = 1.0\noutput = 1.0\n";
const MAX_TOKENS: u32 = 1_000;
/// 2026-02-18T15:00:00Z: on an hour's start.
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

async fn budgeted(gw: &TestGateway, rule: Value) {
    gw.create_gateway(json!({
        "id": "budgeted",
        "spend_limits": {"rules": [rule]},
    }))
    .await;
}

/// Sends `count` requests at once; each declares its cost (`cf-aig-custom-cost`) when `cost` is
/// given, else the provider's usage prices it.
async fn statuses(gw: &TestGateway, count: usize, cost: Option<f64>, user: &str) -> Vec<u16> {
    let requests = (0..count).map(|_| {
        let mut request = gw
            .http
            .post(gw.url("/v1/local/budgeted/openai/chat/completions"))
            .header("cf-aig-metadata", json!({"user": user}).to_string())
            .json(&body());
        if let Some(cost) = cost {
            request = request.header(
                "cf-aig-custom-cost",
                json!({"total_cost": cost}).to_string(),
            );
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if status == 429 {
                assert!(response.headers().contains_key("retry-after"));
                let error: Value = response.json().await.unwrap();
                assert_eq!(gateway_error_code(&error), 2041, "{error}");
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

#[tokio::test]
async fn concurrent_requests_cannot_overspend_a_budget() {
    let gw = TestGateway::with_config("", PRICES).await;
    // Room for ten reservations and a half.
    budgeted(
        &gw,
        json!({"id": "ten", "limit": reserved_usd() * 10.5, "window": 3600}),
    )
    .await;
    // Each costs exactly what it reserved, so no settlement frees room: ten fit, whatever the
    // interleaving.
    let sent = statuses(&gw, 50, Some(reserved_usd()), "a").await;
    assert_eq!(admitted(&sent), 10, "{sent:?}");
    assert_eq!(sent.iter().filter(|s| **s == 429).count(), 40);
    assert_eq!(
        gw.mock.request_count(),
        10,
        "refused requests never went upstream"
    );
}

#[tokio::test]
async fn a_request_settles_to_what_it_cost() {
    let gw = TestGateway::with_config("", PRICES).await;
    // One and a half reservations: a second request fits only if the first gave back the
    // difference between its reservation and its (small) actual cost.
    budgeted(
        &gw,
        json!({"id": "half", "limit": reserved_usd() * 1.5, "window": 3600}),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(statuses(&gw, 1, None, "a").await, [200]);
    }
    // A request that costs what it reserved leaves no room for another.
    assert_eq!(statuses(&gw, 1, Some(reserved_usd()), "a").await, [200]);
    assert_eq!(statuses(&gw, 1, None, "a").await, [429]);
}

#[tokio::test]
async fn partitioned_rules_keep_each_value_apart() {
    let gw = TestGateway::with_config("", PRICES).await;
    budgeted(
        &gw,
        json!({"id": "per-user", "limit": reserved_usd() * 1.5, "window": 3600,
               "metadata": {"user": {"mode": "partition"}}}),
    )
    .await;
    assert_eq!(statuses(&gw, 1, Some(reserved_usd()), "a").await, [200]);
    assert_eq!(statuses(&gw, 1, Some(reserved_usd()), "a").await, [429]);
    assert_eq!(statuses(&gw, 1, Some(reserved_usd()), "b").await, [200]);
}

#[tokio::test]
async fn two_instances_sharing_redis_hold_one_budget() {
    let prefix = RedisPrefix::new();
    let config = format!("{PRICES}{}", prefix.section());
    let one = TestGateway::with_config("", &config).await;
    let two = TestGateway::with_config("", &config).await;
    for gw in [&one, &two] {
        budgeted(
            gw,
            json!({"id": "ten", "limit": reserved_usd() * 10.5, "window": 3600,
                   "metadata": {"user": {"mode": "partition"}}}),
        )
        .await;
    }
    let cost = Some(reserved_usd());
    let fallbacks =
        || one.state.budgets().redis_fallbacks() + two.state.budgets().redis_fallbacks();
    // A reservation Redis does not answer within its timeout (a loaded machine) is held by
    // that instance alone, as designed (docs/budgets.md), and proves nothing about sharing:
    // the property is checked on a round Redis answered whole, each round in its own bucket.
    for round in 0..3 {
        let before = fallbacks();
        let user = format!("round-{round}");
        let (a, b) = tokio::join!(
            statuses(&one, 15, cost, &user),
            statuses(&two, 15, cost, &user)
        );
        if fallbacks() == before {
            assert_eq!(admitted(&a) + admitted(&b), 10, "{a:?} {b:?}");
            return;
        }
    }
    panic!("Redis missed a reservation's timeout in every round");
}

#[tokio::test]
async fn spend_limits_are_validated_and_returned() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .admin(
            reqwest::Method::POST,
            "/accounts/local/ai-gateway/gateways",
            Some(json!({"id": "bad", "spend_limits": {"rules": [{"limit": 0, "window": 60}]}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("limit"),
        "{body}"
    );
    let rule = json!({"id": "r1", "limit": 5.0, "limitType": "cost", "window": 60,
                      "technique": "sliding", "provider": {"mode": "filter", "values": ["openai"]}});
    let created = gw
        .create_gateway(
            json!({"id": "good", "spend_limits": {"enabled": true, "rules": [rule.clone()]}}),
        )
        .await;
    assert_eq!(created["spend_limits"]["rules"][0], rule);
}

async fn gateway_spend(gw: &TestGateway) -> Value {
    let (status, body) = gw
        .admin(
            reqwest::Method::GET,
            "/accounts/local/ai-gateway/gateways/budgeted/spend",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// `GET …/gateways/{id}/spend` (docs/budgets.md, "How much is left"): each rule's spent, limit
/// and remaining in its current window, the numbers the reservations and settlements left.
#[tokio::test]
async fn the_spend_endpoint_shows_what_each_rule_has_left() {
    let clock = ManualClock::new(T0);
    let gw = TestGateway::build("", PRICES, Some(clock.clone()), None).await;
    let limit = reserved_usd() * 10.5;
    gw.create_gateway(json!({
        "id": "budgeted",
        "spend_limits": {"rules": [
            {"id": "hourly", "limit": limit, "window": 3600},
            {"id": "per-user", "limit": limit, "window": 3600,
             "metadata": {"user": {"mode": "partition"}}},
            {"id": "other", "limit": 1, "window": 60, "technique": "sliding",
             "provider": {"mode": "filter", "values": ["anthropic"]}},
        ]},
    }))
    .await;
    let before = gateway_spend(&gw).await;
    assert_eq!(before["enabled"], true);
    assert_eq!(before["rules"][0]["spend"]["spent"], 0.0, "{before}");

    // Three requests that cost what they reserved, and one priced by its usage.
    assert_eq!(statuses(&gw, 3, Some(reserved_usd()), "a").await, [200; 3]);
    let after = gateway_spend(&gw).await;
    let hourly = &after["rules"][0];
    assert_eq!(hourly["id"], "hourly");
    assert_eq!(hourly["limit"].as_f64(), Some(limit));
    let spent = hourly["spend"]["spent"].as_f64().unwrap();
    assert!((spent - reserved_usd() * 3.0).abs() < 1e-9, "{after}");
    let remaining = hourly["spend"]["remaining"].as_f64().unwrap();
    assert!((remaining - (limit - spent)).abs() < 1e-9, "{after}");
    assert_eq!(hourly["spend"]["window_start"], "2026-02-18T15:00:00Z");
    assert_eq!(hourly["spend"]["window_end"], "2026-02-18T16:00:00Z");
    assert_eq!(hourly["partition_by"], json!([]));
    // A partitioned rule has a bucket per value: not listed.
    assert_eq!(after["rules"][1]["spend"], Value::Null);
    assert_eq!(after["rules"][1]["partition_by"], json!(["metadata.user"]));
    // A rule the requests did not match spent nothing; a sliding one weighs the last minute.
    assert_eq!(after["rules"][2]["spend"]["spent"], 0.0);
    assert_eq!(after["rules"][2]["technique"], "sliding");
    assert_eq!(
        after["rules"][2]["spend"]["window_end"],
        "2026-02-18T15:00:00Z"
    );

    // The next window starts empty.
    clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(gateway_spend(&gw).await["rules"][0]["spend"]["spent"], 0.0);

    // A gateway without spend limits has no rules; an unknown one is 404.
    gw.create_gateway(json!({"id": "open"})).await;
    let (status, body) = gw
        .admin(
            reqwest::Method::GET,
            "/accounts/local/ai-gateway/gateways/open/spend",
            None,
        )
        .await;
    assert_eq!(
        (status, &body["result"]),
        (200, &json!({"enabled": false, "rules": []}))
    );
    let (status, _) = gw
        .admin(
            reqwest::Method::GET,
            "/accounts/local/ai-gateway/gateways/nope/spend",
            None,
        )
        .await;
    assert_eq!(status, 404);
}
