//! The universal endpoint (docs/resilience.md): ordered fallback steps, `cf-aig-step`, a row per attempt
//! sharing the event id.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body, gateway_error_code};

fn openai_step(extra_headers: Value) -> Value {
    let mut headers =
        json!({"authorization": "Bearer sk-openai", "content-type": "application/json"});
    if let (Value::Object(target), Value::Object(more)) = (&mut headers, extra_headers) {
        target.extend(more);
    }
    json!({"provider": "openai", "endpoint": "chat/completions", "headers": headers, "query": chat_body(false)})
}

fn anthropic_step() -> Value {
    json!({"provider": "anthropic", "endpoint": "v1/messages",
        "headers": {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"},
        "query": {"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "fall back to me"}]}})
}

async fn universal(gw: &TestGateway, steps: Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gw.http.post(gw.url("/v1/local/default")).json(&steps);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_first_step_that_succeeds_answers_with_its_index() {
    let gw = TestGateway::start().await;
    let response = universal(&gw, json!([openai_step(json!({})), anthropic_step()]), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cf-aig-step"], "0");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(gw.mock.request_count(), 1);
    let seen = &gw.mock.requests()[0];
    assert_eq!(seen.path_and_query, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-openai"));
}

#[tokio::test]
async fn a_failing_step_falls_back_to_the_next_after_its_retries() {
    let gw = TestGateway::start().await;
    gw.mock.push_n(Behavior::status(503), 2);
    let first = openai_step(json!({"cf-aig-max-attempts": "2", "cf-aig-retry-delay": "0"}));
    let response = universal(
        &gw,
        json!([first, anthropic_step()]),
        &[("cf-aig-event-id", "fallback-1")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cf-aig-step"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"], "message",
        "the second step's answer, unchanged"
    );
    let paths: Vec<String> = gw
        .mock
        .requests()
        .iter()
        .map(|r| r.path_and_query.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1/messages"
        ]
    );
    // Three rows, one per attempt, with their steps, sharing the event id.
    gw.logs_flushed().await;
    let (_, listed) = gw
        .admin(Method::GET, "/accounts/local/ai-gateway/gateways/default/logs?order_by=created_at&order_by_direction=asc", None)
        .await;
    let rows: Vec<(u64, u64, String)> = listed["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["step"].as_u64().unwrap(),
                r["status_code"].as_u64().unwrap(),
                r["event_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (0, 503, "fallback-1".to_owned()),
            (0, 503, "fallback-1".to_owned()),
            (1, 200, "fallback-1".to_owned())
        ]
    );
}

#[tokio::test]
async fn when_every_step_fails_the_last_answer_comes_back_with_its_index() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::status(500));
    gw.mock.push(Behavior::status(429).with_body("last one"));
    let response = universal(&gw, json!([openai_step(json!({})), anthropic_step()]), &[]).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["cf-aig-step"], "1");
    assert_eq!(response.text().await.unwrap(), "last one");
}

#[tokio::test]
async fn a_non_retryable_error_moves_on_too() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::status(400));
    let response = universal(&gw, json!([openai_step(json!({})), anthropic_step()]), &[]).await;
    assert_eq!(
        (
            response.status().as_u16(),
            response.headers()["cf-aig-step"].to_str().unwrap()
        ),
        (200, "1")
    );
}

#[tokio::test]
async fn bad_steps_are_refused_before_anything_is_sent() {
    let gw = TestGateway::start().await;
    for (steps, code) in [
        (json!("not steps"), 2014),
        (json!([]), 2014),
        (
            json!([{"provider": "nope", "endpoint": "x", "query": {}}]),
            2008,
        ),
        (
            json!([{"provider": "openai", "endpoint": "../admin", "query": {}}]),
            2012,
        ),
        (
            json!([{"provider": "openai", "endpoint": "chat/completions", "headers": {"cf-aig-max-attempts": "9"}, "query": {}}]),
            2013,
        ),
        (
            json!([{"provider": "openai", "endpoint": "chat/completions", "query": {}, "config": {"maxAttempts": 9}}]),
            2014,
        ),
        (
            json!([openai_step(json!({})), {"provider": "openai", "endpoint": "x", "surprise": 1}]),
            2014,
        ),
    ] {
        let response = universal(&gw, steps.clone(), &[]).await;
        assert_eq!(response.status(), 400, "{steps}");
        assert_eq!(
            gateway_error_code(&response.json().await.unwrap()),
            code,
            "{steps}"
        );
    }
    assert_eq!(gw.mock.request_count(), 0);
}

#[tokio::test]
async fn step_config_is_held_to_the_headers_bounds() {
    let gw = TestGateway::start().await;
    for (config, message) in [
        (
            json!({"requestTimeout": 0}),
            "config.requestTimeout: expected milliseconds from 1 to 3600000",
        ),
        (
            json!({"requestTimeout": 3_600_001}),
            "config.requestTimeout: expected milliseconds from 1 to 3600000",
        ),
        (
            json!({"maxAttempts": 300}),
            "config.maxAttempts: expected 1 to 5",
        ),
        (
            json!({"retryDelay": 5_001}),
            "config.retryDelay: expected milliseconds from 0 to 5000",
        ),
    ] {
        let mut step = openai_step(json!({}));
        step["config"] = config.clone();
        let response = universal(&gw, json!([step]), &[]).await;
        assert_eq!(response.status(), 400, "{config}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(gateway_error_code(&body), 2014, "{config}");
        assert!(body.to_string().contains(message), "{body}");
    }
    // The header says the same about the same value.
    let response = universal(
        &gw,
        json!([openai_step(json!({}))]),
        &[("cf-aig-request-timeout", "3600001")],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2013);
    assert!(
        body.to_string()
            .contains("expected milliseconds from 1 to 3600000"),
        "{body}"
    );
    assert_eq!(gw.mock.request_count(), 0);
    // The largest bounded timeout is accepted.
    let mut step = openai_step(json!({}));
    step["config"] = json!({"requestTimeout": 3_600_000});
    assert_eq!(universal(&gw, json!([step]), &[]).await.status(), 200);
}

#[tokio::test]
async fn compat_steps_fall_back_across_providers_in_openai_shape() {
    let gw = TestGateway::start().await;
    let step = |model: &str| {
        json!({"provider": "compat", "endpoint": "chat/completions",
            "headers": {"authorization": "Bearer sk-any"},
            "query": {"model": model, "messages": [{"role": "user", "content": "cross providers"}]}})
    };
    // OpenAI fails; Anthropic answers, translated to OpenAI's shape.
    gw.mock.push(Behavior::status(503));
    let response = universal(
        &gw,
        json!([
            step("openai/gpt-4o-mini"),
            step("anthropic/claude-sonnet-4-5")
        ]),
        &[],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cf-aig-step"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Hello! You said:")
    );
    let seen = gw.mock.requests();
    assert_eq!(seen[0].path_and_query, "/v1/chat/completions");
    assert_eq!(seen[1].path_and_query, "/v1/messages");
    assert_eq!(seen[1].header("x-api-key"), Some("sk-any"));
    // A compat step with a bad body is refused before anything is sent.
    let response = universal(&gw, json!([step("no-slash")]), &[]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(gw.mock.request_count(), 2);
}

#[tokio::test]
async fn a_step_that_fell_back_keeps_its_answer_on_its_row() {
    let gw = TestGateway::start().await;
    gw.mock
        .push(Behavior::status(400).with_body("bad model name"));
    let response = universal(&gw, json!([openai_step(json!({})), anthropic_step()]), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cf-aig-step"], "1");
    gw.logs_flushed().await;
    let (_, listed) = gw
        .admin(Method::GET, "/accounts/local/ai-gateway/gateways/default/logs?filters[0][key]=status_code&filters[0][operator]=eq&filters[0][value]=400", None)
        .await;
    let id = listed["result"][0]["id"].as_str().unwrap().to_owned();
    let (_, detail) = gw
        .admin(
            Method::GET,
            &format!("/accounts/local/ai-gateway/gateways/default/logs/{id}"),
            None,
        )
        .await;
    let row = &detail["result"];
    assert_eq!(row["status_code"], 400, "{row}");
    assert_eq!(
        row["error"],
        "provider answered 400; fell back to the next step"
    );
    assert_eq!(row["response_head"], "bad model name");
}

#[tokio::test]
async fn steps_are_cached_like_any_request() {
    let gw = TestGateway::start().await;
    let steps = json!([openai_step(json!({})), anthropic_step()]);
    let cached = [("cf-aig-cache-ttl", "60")];
    let first = universal(&gw, steps.clone(), &cached).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cf-aig-cache-status"], "MISS");
    let first_body = first.text().await.unwrap();

    let again = universal(&gw, steps, &cached).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["cf-aig-cache-status"], "HIT");
    assert_eq!(again.headers()["cf-aig-step"], "0");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(
        gw.mock.request_count(),
        1,
        "the second answer came from the cache"
    );
}
