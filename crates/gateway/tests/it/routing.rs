//! Dynamic routes (docs/routing.md): the management API in Cloudflare's shapes, validation
//! naming the element, and `model: "dynamic/{route}"` on the unified endpoint against the mock
//! (conditions, splits, fallbacks, limits, the end, an unknown route).

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, gateway_error_code};

const CHAT: &str = "/v1/local/rt/compat/chat/completions";
const ROUTES: &str = "/accounts/local/ai-gateway/gateways/rt/routes";

/// A gateway with the gateway `rt` the routes are made on.
async fn started() -> TestGateway {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "rt"})).await;
    gw
}

fn out(id: &str) -> Value {
    json!({ "elementId": id })
}

fn model(id: &str, provider: &str, model: &str, fallback: Option<&str>) -> Value {
    let mut outputs = json!({"success": out("end")});
    if let Some(fallback) = fallback {
        outputs["fallback"] = out(fallback);
    }
    json!({"id": id, "type": "model",
           "properties": {"provider": provider, "model": model, "timeout": 10000, "retries": 0},
           "outputs": outputs})
}

fn start(next: &str) -> Value {
    json!({"id": "start", "type": "start", "outputs": {"next": out(next)}})
}

fn end() -> Value {
    json!({"id": "end", "type": "end", "outputs": {}})
}

/// Creates route `name` on the gateway `rt`; its id.
async fn create(gw: &TestGateway, name: &str, elements: Value) -> String {
    let (status, body) = gw
        .admin(
            Method::POST,
            ROUTES,
            Some(json!({"name": name, "elements": elements})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["result"]["id"].as_str().unwrap().to_owned()
}

async fn ask(gw: &TestGateway, route: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gw
        .http
        .post(gw.url(CHAT))
        .bearer_auth("sk-route-key")
        .json(&json!({
            "model": format!("dynamic/{route}"),
            "messages": [{"role": "user", "content": "route me"}],
        }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

/// The model the mock was last asked for.
fn last_model(gw: &TestGateway) -> String {
    let requests = gw.mock.requests();
    let body: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    body["model"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_conditional_on_metadata_chooses_the_model() {
    let gw = started().await;
    create(
        &gw,
        "support",
        json!([
            start("plan"),
            {"id": "plan", "type": "conditional",
             "properties": {"conditions": {"metadata.plan": {"$eq": "paid"}}},
             "outputs": {"true": out("big"), "false": out("small")}},
            model("big", "openai", "gpt-4o", None),
            model("small", "anthropic", "claude-3-5-haiku", None),
            end(),
        ]),
    )
    .await;
    let paid = ask(&gw, "support", &[("cf-aig-metadata", r#"{"plan":"paid"}"#)]).await;
    assert_eq!(paid.status(), 200);
    assert_eq!(header(&paid, "cf-aig-model"), "gpt-4o");
    assert_eq!(header(&paid, "cf-aig-provider"), "openai");
    assert_eq!(header(&paid, "cf-aig-route"), "support");
    assert!(!header(&paid, "cf-aig-route-version").is_empty());
    let log_id = header(&paid, "cf-aig-log-id").to_owned();
    let body: Value = paid.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion", "{body}");
    assert_eq!(last_model(&gw), "gpt-4o");

    let free = ask(&gw, "support", &[("cf-aig-metadata", r#"{"plan":"free"}"#)]).await;
    assert_eq!(free.status(), 200);
    assert_eq!(header(&free, "cf-aig-model"), "claude-3-5-haiku");
    assert_eq!(header(&free, "cf-aig-provider"), "anthropic");
    // Anthropic's answer, in OpenAI's shape.
    let body: Value = free.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion", "{body}");
    assert_eq!(last_model(&gw), "claude-3-5-haiku");

    // The row records the route, its version and the path taken.
    let row = gw.log_row("rt", &log_id).await.unwrap();
    let metadata: Value = serde_json::from_str(row.metadata.as_deref().unwrap()).unwrap();
    assert_eq!(metadata["plan"], "paid");
    assert_eq!(metadata["cf.route"], "support");
    assert_eq!(metadata["cf.route_path"], "start>plan>big");
    assert_eq!(row.model.as_deref(), Some("gpt-4o"));
}

#[tokio::test]
async fn a_percentage_split_is_sticky_per_event_id() {
    let gw = started().await;
    create(
        &gw,
        "ab",
        json!([
            start("split"),
            {"id": "split", "type": "percentage",
             "outputs": {"50% a": out("a"), "50% b": out("b")}},
            model("a", "openai", "model-a", None),
            model("b", "openai", "model-b", None),
            end(),
        ]),
    )
    .await;
    let mut seen = std::collections::HashMap::new();
    for i in 0..40 {
        let event = format!("user-{i}");
        let first = ask(&gw, "ab", &[("cf-aig-event-id", &event)]).await;
        let model = header(&first, "cf-aig-model").to_owned();
        let again = ask(&gw, "ab", &[("cf-aig-event-id", &event)]).await;
        assert_eq!(header(&again, "cf-aig-model"), model, "sticky for {event}");
        *seen.entry(model).or_insert(0) += 1;
    }
    // 40 ids at 50/50: both branches are taken (the hashed draws never vary).
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[tokio::test]
async fn a_failing_model_falls_back_and_the_rows_share_the_event() {
    let gw = started().await;
    create(
        &gw,
        "resilient",
        json!([
            start("primary"),
            model("primary", "openai", "gpt-4o", Some("backup")),
            model("backup", "anthropic", "claude-3-5-haiku", None),
            end(),
        ]),
    )
    .await;
    gw.mock.push(Behavior::status(500));
    let response = ask(&gw, "resilient", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cf-aig-model"), "claude-3-5-haiku");
    assert_eq!(header(&response, "cf-aig-step"), "1");
    let event = header(&response, "cf-aig-event-id").to_owned();
    let first = header(&response, "cf-aig-request-id").to_owned();
    let answered = header(&response, "cf-aig-log-id").to_owned();
    let _ = response.bytes().await;
    let failed = gw.log_row("rt", &first).await.unwrap();
    let served = gw.log_row("rt", &answered).await.unwrap();
    assert_eq!(failed.status_code, Some(500));
    assert_eq!((failed.step, served.step), (Some(0), Some(1)));
    assert_eq!(failed.event_id.as_deref(), Some(event.as_str()));
    assert_eq!(served.event_id.as_deref(), Some(event.as_str()));
    let metadata: Value = serde_json::from_str(served.metadata.as_deref().unwrap()).unwrap();
    assert_eq!(metadata["cf.route_path"], "start>primary>backup");
}

#[tokio::test]
async fn a_rate_element_falls_back_or_answers_429() {
    let gw = started().await;
    let limited = |fallback: bool| {
        let mut outputs = json!({"success": out("main")});
        if fallback {
            outputs["fallback"] = out("cheap");
        }
        json!([
            start("quota"),
            {"id": "quota", "type": "rate", "outputs": outputs,
             "properties": {"limitType": "count", "key": "metadata.user", "limit": 1, "window": 3600}},
            model("main", "openai", "gpt-4o", None),
            model("cheap", "openai", "gpt-4o-mini", None),
            end(),
        ])
    };
    create(&gw, "soft", limited(true)).await;
    create(&gw, "hard", limited(false)).await;
    let alice = [("cf-aig-metadata", r#"{"user":"alice"}"#)];
    let bob = [("cf-aig-metadata", r#"{"user":"bob"}"#)];
    assert_eq!(
        header(&ask(&gw, "soft", &alice).await, "cf-aig-model"),
        "gpt-4o"
    );
    assert_eq!(
        header(&ask(&gw, "soft", &alice).await, "cf-aig-model"),
        "gpt-4o-mini"
    );
    assert_eq!(
        header(&ask(&gw, "soft", &bob).await, "cf-aig-model"),
        "gpt-4o"
    );

    assert_eq!(ask(&gw, "hard", &alice).await.status(), 200);
    let before = gw.mock.request_count();
    let refused = ask(&gw, "hard", &alice).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "cf-aig-route"), "hard");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2003);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"quota\""),
        "{body}"
    );
    assert_eq!(gw.mock.request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn a_budget_element_counts_what_the_calls_after_it_cost() {
    let gw = started().await;
    create(
        &gw,
        "budgeted",
        json!([
            start("budget"),
            {"id": "budget", "type": "rate_limit",
             "properties": {"limitType": "cost", "key": "metadata.team", "limit": 0.000001,
                            "interval": 3600, "technique": "fixed"},
             "outputs": {"success": out("main"), "fallback": out("cheap")}},
            model("main", "openai", "gpt-4o", None),
            model("cheap", "openai", "gpt-4o-mini", None),
            end(),
        ]),
    )
    .await;
    let research = [("cf-aig-metadata", r#"{"team":"research"}"#)];
    // Nothing spent yet: the budget has room.
    let first = ask(&gw, "budgeted", &research).await;
    assert_eq!(header(&first, "cf-aig-model"), "gpt-4o");
    let _ = first.bytes().await;
    // What gpt-4o cost is now in the team's bucket: over the limit, so the fallback.
    let second = ask(&gw, "budgeted", &research).await;
    assert_eq!(header(&second, "cf-aig-model"), "gpt-4o-mini");
    let _ = second.bytes().await;
    // Another team has its own budget.
    let other = ask(
        &gw,
        "budgeted",
        &[("cf-aig-metadata", r#"{"team":"sales"}"#)],
    )
    .await;
    assert_eq!(header(&other, "cf-aig-model"), "gpt-4o");
}

#[tokio::test]
async fn the_end_answers_with_the_last_models_answer() {
    let gw = started().await;
    create(
        &gw,
        "ending",
        json!([
            start("only"),
            model("only", "openai", "gpt-4o", Some("end")),
            end()
        ]),
    )
    .await;
    gw.mock.push(Behavior::status(503));
    let response = ask(&gw, "ending", &[]).await;
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "cf-aig-route"), "ending");
    assert_eq!(header(&response, "cf-aig-model"), "gpt-4o");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"], "mock error",
        "the model's own answer: {body}"
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_clear_404() {
    let gw = started().await;
    let response = ask(&gw, "nope", &[]).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2050);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no route named \"nope\""), "{message}");
    // The Responses and Messages APIs and a universal step name it the same way.
    for path in [
        "/v1/local/rt/compat/responses",
        "/v1/local/rt/compat/v1/messages",
    ] {
        let response = gw
            .http
            .post(gw.url(path))
            .json(&json!({"model": "dynamic/nope", "input": "hi", "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("no route named \"nope\""),
            "{path}: {body}"
        );
    }
    let response = gw
        .http
        .post(gw.url("/v1/local/rt"))
        .json(
            &json!([{"provider": "compat", "endpoint": "chat/completions",
                       "query": {"model": "dynamic/nope", "messages": []}}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2050);
    let message = body["error"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("step 0: Route not found"), "{message}");
    // Embeddings do not take a route: said so, not "invalid provider dynamic".
    let response = gw
        .http
        .post(gw.url("/v1/local/rt/compat/embeddings"))
        .json(&json!({"model": "dynamic/nope", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body.to_string()
            .contains("served on chat/completions, responses and messages"),
        "{body}"
    );
    assert_eq!(gw.mock.request_count(), 0);
}

#[tokio::test]
async fn routes_versions_and_deployments_in_cloudflares_shapes() {
    let gw = started().await;
    let v1 = json!([start("m"), model("m", "openai", "gpt-4o", None), end()]);
    let id = create(&gw, "support", v1.clone()).await;

    // The list: `{success, data: {routes, page, per_page, order_by, order_by_direction}}`.
    let (status, list) = gw.admin(Method::GET, ROUTES, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["success"], true);
    let route = &list["data"]["routes"][0];
    assert_eq!(route["id"], id.as_str());
    assert_eq!(route["name"], "support");
    assert_eq!(route["gateway_id"], "rt");
    assert_eq!(route["elements"], v1);
    assert_eq!(route["version"]["active"], "true");
    let first_version = route["version"]["version_id"].as_str().unwrap().to_owned();
    assert_eq!(route["deployment"]["version_id"], first_version.as_str());
    assert_eq!(
        serde_json::from_str::<Value>(route["version"]["data"].as_str().unwrap()).unwrap(),
        v1
    );
    for key in ["page", "per_page", "order_by", "order_by_direction"] {
        assert!(!list["data"][key].is_null(), "{key}");
    }

    // A second version is saved but not live until deployed.
    let v2 = json!([start("m"), model("m", "openai", "gpt-4o-mini", None), end()]);
    let (status, created) = gw
        .admin(
            Method::POST,
            &format!("{ROUTES}/{id}/versions"),
            Some(json!({"elements": v2, "comment": "cheaper"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let second_version = created["result"]["version_id"].as_str().unwrap().to_owned();
    assert_eq!(
        header(&ask(&gw, "support", &[]).await, "cf-aig-model"),
        "gpt-4o"
    );
    let (_, versions) = gw
        .admin(Method::GET, &format!("{ROUTES}/{id}/versions"), None)
        .await;
    let versions = versions["data"]["versions"].as_array().unwrap().clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (
            versions[0]["active"].as_str(),
            versions[1]["active"].as_str()
        ),
        (Some("true"), Some("false"))
    );
    assert_eq!(versions[1]["comment"], "cheaper");

    // Deploy it; then roll back by deploying the first again.
    let (status, deployed) = gw
        .admin(
            Method::POST,
            &format!("{ROUTES}/{id}/deployments"),
            Some(json!({"version_id": second_version})),
        )
        .await;
    assert_eq!(status, 200, "{deployed}");
    let response = ask(&gw, "support", &[]).await;
    assert_eq!(header(&response, "cf-aig-model"), "gpt-4o-mini");
    assert_eq!(header(&response, "cf-aig-route-version"), second_version);
    gw.admin(
        Method::POST,
        &format!("{ROUTES}/{id}/deployments"),
        Some(json!({"version_id": first_version, "comment": "rollback"})),
    )
    .await;
    assert_eq!(
        header(&ask(&gw, "support", &[]).await, "cf-aig-model"),
        "gpt-4o"
    );
    let (_, deployments) = gw
        .admin(Method::GET, &format!("{ROUTES}/{id}/deployments"), None)
        .await;
    let deployments = deployments["data"]["deployments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(deployments.len(), 3);
    assert_eq!(deployments[2]["comment"], "rollback");
    let (status, version) = gw
        .admin(
            Method::GET,
            &format!("{ROUTES}/{id}/versions/{second_version}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(version["result"]["active"], "false");
    assert_eq!(version["result"]["elements"], v2);

    // A version of another route cannot be deployed here; nor an unknown one.
    let (status, _) = gw
        .admin(
            Method::POST,
            &format!("{ROUTES}/{id}/deployments"),
            Some(json!({"version_id": "nope"})),
        )
        .await;
    assert_eq!(status, 404);

    // Rename: `{route, success}`; the new name serves, the old one is gone.
    let (status, renamed) = gw
        .admin(
            Method::PATCH,
            &format!("{ROUTES}/{id}"),
            Some(json!({"name": "help"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["route"]["name"], "help");
    assert_eq!(ask(&gw, "help", &[]).await.status(), 200);
    assert_eq!(ask(&gw, "support", &[]).await.status(), 404);
    let other = create(&gw, "other", v1.clone()).await;
    let (status, _) = gw
        .admin(
            Method::PATCH,
            &format!("{ROUTES}/{other}"),
            Some(json!({"name": "help"})),
        )
        .await;
    assert_eq!(status, 409);

    // Delete.
    let (status, deleted) = gw
        .admin(Method::DELETE, &format!("{ROUTES}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["result"]["name"], "help");
    let (status, _) = gw.admin(Method::GET, &format!("{ROUTES}/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(ask(&gw, "help", &[]).await.status(), 404);

    // A gateway's routes go with it: a gateway made again under its id has none.
    assert_eq!(ask(&gw, "other", &[]).await.status(), 200);
    let (status, _) = gw
        .admin(
            Method::DELETE,
            "/accounts/local/ai-gateway/gateways/rt",
            None,
        )
        .await;
    assert_eq!(status, 200);
    gw.create_gateway(json!({"id": "rt"})).await;
    assert_eq!(ask(&gw, "other", &[]).await.status(), 404);
    let (_, list) = gw.admin(Method::GET, ROUTES, None).await;
    assert_eq!(list["data"]["routes"], json!([]));
}

#[tokio::test]
async fn invalid_versions_are_refused_naming_the_element_and_field() {
    let gw = started().await;
    let (status, body) = gw
        .admin(
            Method::POST,
            ROUTES,
            Some(json!({"name": "bad", "elements": [
                start("split"),
                {"id": "split", "type": "percentage", "outputs": {"60%": out("m"), "30%": out("ghost")}},
                model("m", "openia", "gpt-4o", None),
                end(),
            ]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["success"], false);
    let messages: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect();
    let has = |needle: &str| messages.iter().any(|m| m.contains(needle));
    assert!(
        has("elements[1].outputs.30%.elementId: element \"split\": points to \"ghost\""),
        "{messages:#?}"
    );
    assert!(
        has("element \"split\": the shares add up to 90%"),
        "{messages:#?}"
    );
    assert!(
        has(
            "elements[2].properties.provider: element \"m\": \"openia\" is not a configured provider"
        ),
        "{messages:#?}"
    );
    assert_eq!(body["errors"][0]["code"], 1001);
    // Nothing was saved.
    let (_, list) = gw.admin(Method::GET, ROUTES, None).await;
    assert_eq!(list["data"]["routes"], json!([]));
    // A bad name.
    let (status, body) = gw
        .admin(
            Method::POST,
            ROUTES,
            Some(json!({"name": "a/b", "elements": [start("end"), end()]})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("name:"),
        "{body}"
    );
}

/// A route whose OpenAI model falls back to an Anthropic one.
async fn with_fallback(gw: &TestGateway, name: &str) {
    create(
        gw,
        name,
        json!([
            start("primary"),
            model("primary", "openai", "gpt-4o", Some("backup")),
            model("backup", "anthropic", "claude-3-5-haiku", None),
            end(),
        ]),
    )
    .await;
}

/// The rows of the calls that answered `response` with `log_id` as its last: the route's
/// metadata and each row's step.
async fn route_row(gw: &TestGateway, log_id: &str) -> (Value, Option<i64>) {
    let row = gw.log_row("rt", log_id).await.unwrap();
    let metadata = serde_json::from_str(row.metadata.as_deref().unwrap()).unwrap();
    (metadata, row.step)
}

#[tokio::test]
async fn the_responses_api_takes_a_route_and_answers_in_its_shape() {
    let gw = started().await;
    with_fallback(&gw, "answers").await;
    let ask = || {
        gw.http
            .post(gw.url("/v1/local/rt/compat/responses"))
            .bearer_auth("sk-route-key")
            .json(
                &json!({"model": "dynamic/answers", "instructions": "Be brief.",
                          "input": "route me"}),
            )
            .send()
    };
    // OpenAI takes the Responses request as it came, with its bare model.
    let response = ask().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cf-aig-model"), "gpt-4o");
    assert_eq!(header(&response, "cf-aig-provider"), "openai");
    assert_eq!(header(&response, "cf-aig-route"), "answers");
    assert!(!header(&response, "cf-aig-route-version").is_empty());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "response", "{body}");
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/responses");
    assert_eq!(last_model(&gw), "gpt-4o");

    // OpenAI fails: Anthropic answers, translated back to the Responses format.
    gw.mock.push(Behavior::status(500));
    let response = ask().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cf-aig-model"), "claude-3-5-haiku");
    assert_eq!(header(&response, "cf-aig-provider"), "anthropic");
    assert_eq!(header(&response, "cf-aig-step"), "1");
    let version = header(&response, "cf-aig-route-version").to_owned();
    let (first, answered) = (
        header(&response, "cf-aig-request-id").to_owned(),
        header(&response, "cf-aig-log-id").to_owned(),
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "response", "{body}");
    let text = body["output"][0]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Hello! You said:"), "{body}");
    assert_eq!(
        gw.mock.requests().pop().unwrap().path_and_query,
        "/v1/messages"
    );
    let (failed, failed_step) = route_row(&gw, &first).await;
    let (served, served_step) = route_row(&gw, &answered).await;
    assert_eq!((failed_step, served_step), (Some(0), Some(1)));
    assert_eq!(failed["cf.route_path"], "start>primary");
    assert_eq!(served["cf.route"], "answers");
    assert_eq!(served["cf.route_version"], version.as_str());
    assert_eq!(served["cf.route_path"], "start>primary>backup");
}

#[tokio::test]
async fn the_messages_api_takes_a_route_and_answers_in_its_shape() {
    let gw = started().await;
    with_fallback(&gw, "messages").await;
    let ask = |stream: bool| {
        gw.http
            .post(gw.url("/v1/local/rt/compat/v1/messages"))
            .header("x-api-key", "sk-route-key")
            .header("anthropic-version", "2023-06-01")
            .json(
                &json!({"model": "dynamic/messages", "max_tokens": 64, "stream": stream,
                          "messages": [{"role": "user", "content": "route me"}]}),
            )
            .send()
    };
    // OpenAI answers, translated to Anthropic's format.
    let response = ask(false).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cf-aig-model"), "gpt-4o");
    assert_eq!(header(&response, "cf-aig-route"), "messages");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message", "{body}");
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-route-key"));

    // OpenAI fails: Anthropic gets the Messages request as it came, streamed.
    gw.mock.push(Behavior::status(500));
    let response = ask(true).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cf-aig-model"), "claude-3-5-haiku");
    assert_eq!(header(&response, "cf-aig-provider"), "anthropic");
    assert_eq!(header(&response, "cf-aig-step"), "1");
    let answered = header(&response, "cf-aig-log-id").to_owned();
    let text = response.text().await.unwrap();
    assert!(text.contains("event: message_stop"), "{text}");
    let seen = gw.mock.requests().pop().unwrap();
    assert_eq!(seen.path_and_query, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-route-key"));
    assert_eq!(last_model(&gw), "claude-3-5-haiku");
    let (served, step) = route_row(&gw, &answered).await;
    assert_eq!(step, Some(1));
    assert_eq!(served["cf.route_path"], "start>primary>backup");
}

#[tokio::test]
async fn a_universal_compat_step_takes_a_route() {
    let gw = started().await;
    with_fallback(&gw, "stepped").await;
    let step = |model: &str| {
        json!({"provider": "compat", "endpoint": "chat/completions",
               "headers": {"authorization": "Bearer sk-any"},
               "query": {"model": model, "messages": [{"role": "user", "content": "step"}]}})
    };
    let universal = || {
        gw.http
            .post(gw.url("/v1/local/rt"))
            .json(&json!([
                step("dynamic/stepped"),
                step("openai/gpt-4o-mini")
            ]))
            .send()
    };
    // The route's first model answers the first step.
    let response = universal().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cf-aig-step"), "0");
    assert_eq!(header(&response, "cf-aig-route"), "stepped");
    assert_eq!(header(&response, "cf-aig-model"), "gpt-4o");
    let log_id = header(&response, "cf-aig-log-id").to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let (metadata, step_no) = route_row(&gw, &log_id).await;
    assert_eq!(metadata["cf.route"], "stepped");
    assert_eq!(step_no, Some(0));

    // Both of the route's models fail: the walk ends, and the next step answers.
    gw.mock.push_n(Behavior::status(500), 2);
    let response = universal().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cf-aig-step"), "1");
    assert_eq!(header(&response, "cf-aig-route"), "");
    let requests = gw.mock.requests();
    let models: Vec<String> = requests[requests.len() - 3..]
        .iter()
        .map(|seen| serde_json::from_slice::<Value>(&seen.body).unwrap()["model"].to_string())
        .collect();
    assert_eq!(
        models,
        ["\"gpt-4o\"", "\"claude-3-5-haiku\"", "\"gpt-4o-mini\""]
    );

    // As the last step, the route's last answer is the response, whatever its status.
    gw.mock.push_n(Behavior::status(500), 2);
    let response = gw
        .http
        .post(gw.url("/v1/local/rt"))
        .json(&json!([step("dynamic/stepped")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(header(&response, "cf-aig-step"), "0");
    assert_eq!(header(&response, "cf-aig-route"), "stepped");
    assert_eq!(header(&response, "cf-aig-model"), "claude-3-5-haiku");
}
