//! The logs REST API end to end: requests go through the proxy, their rows come back through
//! `/client/v4/…/logs` in Cloudflare's shape (docs/logs.md).

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_mock_upstream::Behavior;

use crate::support::{ADMIN_TOKEN, TestGateway, chat_body};

const LOGS: &str = "/accounts/local/ai-gateway/gateways/default/logs";

/// Sends one proxied request and returns its log id and the response body.
async fn proxied(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (String, Vec<u8>) {
    let mut request = gw
        .http
        .post(gw.url(path))
        .header("authorization", "Bearer sk-canary-provider-key-0002")
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (id, response.bytes().await.unwrap().to_vec())
}

/// Three requests: openai with metadata, anthropic, and an openai call the upstream fails.
async fn three_requests(gw: &TestGateway) -> [String; 3] {
    let (first, _) = proxied(
        gw,
        "/v1/local/default/openai/chat/completions",
        &[("cf-aig-metadata", r#"{"user":"u-1"}"#)],
        chat_body(false),
    )
    .await;
    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello"}]});
    let (second, _) = proxied(
        gw,
        "/v1/local/default/anthropic/v1/messages",
        &[],
        anthropic,
    )
    .await;
    gw.mock.push(Behavior::status(500));
    let (third, _) = proxied(
        gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        chat_body(false),
    )
    .await;
    gw.logs_flushed().await;
    [first, second, third]
}

fn ids(envelope: &Value) -> Vec<&str> {
    envelope["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

async fn get(gw: &TestGateway, path: &str) -> (u16, Value) {
    gw.admin(Method::GET, path, None).await
}

#[tokio::test]
async fn list_filters_pages_and_reports_aggregates() {
    let gw = TestGateway::start().await;
    let [first, second, third] = three_requests(&gw).await;

    let (status, all) = get(&gw, LOGS).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["success"], true);
    assert_eq!(
        ids(&all),
        [third.as_str(), second.as_str(), first.as_str()],
        "newest first"
    );
    let info = &all["result_info"];
    assert_eq!(
        (info["page"].clone(), info["per_page"].clone()),
        (json!(1), json!(20))
    );
    assert_eq!(
        (
            info["count"].clone(),
            info["total_count"].clone(),
            info["total_pages"].clone()
        ),
        (json!(3), json!(3), json!(1))
    );
    assert!(
        info["max_tokens_in"].as_i64().unwrap() > 0 && info["min_duration"].is_number(),
        "{info}"
    );
    let row = &all["result"][2];
    assert_eq!(row["provider"], "openai");
    assert_eq!(row["model"], "gpt-4o-mini");
    assert_eq!(
        row["metadata"], r#"{"user":"u-1"}"#,
        "metadata is a JSON string"
    );
    let created = row["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.parse::<jiff::Timestamp>().is_ok(),
        "{created}"
    );
    assert!(
        row.get("request_head").is_none(),
        "bodies only in the detail view"
    );

    // The SDK's encoding, the bracket form, the deprecated flat parameters, search.
    for (query, expected) in [
        (
            "filters.key=provider&filters.operator=eq&filters.value=anthropic",
            vec![second.as_str()],
        ),
        (
            "filters[0][key]=provider&filters[0][operator]=neq&filters[0][value]=anthropic",
            vec![third.as_str(), first.as_str()],
        ),
        (
            "filters.key=metadata.value&filters.operator=eq&filters.value=u-1",
            vec![first.as_str()],
        ),
        (
            "filters.key=status_code&filters.operator=gt&filters.value=499",
            vec![third.as_str()],
        ),
        ("success=false", vec![third.as_str()]),
        (
            "provider=openai&order_by_direction=asc",
            vec![first.as_str(), third.as_str()],
        ),
        ("search=CLAUDE", vec![second.as_str()]),
    ] {
        let (status, page) = get(&gw, &format!("{LOGS}?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids(&page), expected, "{query}");
    }

    let (_, second_page) = get(&gw, &format!("{LOGS}?per_page=1&page=2")).await;
    assert_eq!(ids(&second_page), [second.as_str()]);
    assert_eq!(second_page["result_info"]["total_pages"], 3);
    let (_, clamped) = get(&gw, &format!("{LOGS}?per_page=500")).await;
    assert_eq!(clamped["result_info"]["per_page"], 50);

    let (status, bad) = get(
        &gw,
        &format!("{LOGS}?filters.key=model_type&filters.operator=eq&filters.value=x"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(bad["success"], false);
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("model_type"),
        "{bad}"
    );
    let (status, missing) = get(&gw, "/accounts/local/ai-gateway/gateways/nope/logs").await;
    assert_eq!(
        (status, missing["errors"][0]["code"].clone()),
        (404, json!(2001))
    );
}

#[tokio::test]
async fn detail_and_stored_bodies() {
    let gw = TestGateway::start().await;
    let (id, reply) = proxied(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        chat_body(false),
    )
    .await;
    let (bare, _) = proxied(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[("cf-aig-collect-log-payload", "false")],
        chat_body(false),
    )
    .await;
    gw.logs_flushed().await;

    let (status, detail) = get(&gw, &format!("{LOGS}/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    let detail = &detail["result"];
    assert_eq!(detail["id"], id.as_str());
    assert!(
        detail["request_head"]
            .as_str()
            .unwrap()
            .contains("Say hello to the gateway tests")
    );
    assert_eq!(
        serde_json::from_str::<Value>(detail["response_head"].as_str().unwrap()).unwrap(),
        serde_json::from_slice::<Value>(&reply).unwrap()
    );
    assert_eq!(
        (
            detail["request_head_complete"].clone(),
            detail["response_head_complete"].clone()
        ),
        (json!(true), json!(true))
    );

    for (kind, expected) in [
        ("request", serde_json::to_vec(&chat_body(false)).unwrap()),
        ("response", reply),
    ] {
        let response = gw
            .http
            .get(gw.url(&format!("/client/v4{LOGS}/{id}/{kind}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "application/json");
        for (name, value) in &headers {
            assert!(
                [
                    "content-type",
                    "content-length",
                    "date",
                    "x-content-type-options"
                ]
                .contains(&name.as_str()),
                "unexpected header {name}: {value:?}"
            );
        }
        let bytes = response.bytes().await.unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            serde_json::from_slice::<Value>(&expected).unwrap(),
            "{kind}"
        );
    }

    // A row kept without payloads has no bodies; an unknown id has nothing.
    let (status, bare_detail) = get(&gw, &format!("{LOGS}/{bare}")).await;
    assert_eq!(status, 200);
    assert_eq!(bare_detail["result"]["request_head"], Value::Null);
    for path in [
        format!("{LOGS}/{bare}/request"),
        format!("{LOGS}/{bare}/response"),
        format!("{LOGS}/no-such-log"),
        format!("{LOGS}/no-such-log/request"),
    ] {
        let (status, envelope) = get(&gw, &path).await;
        assert_eq!(
            (status, envelope["success"].clone()),
            (404, json!(false)),
            "{path}: {envelope}"
        );
    }
}

#[tokio::test]
async fn patch_feedback_then_delete_by_filter_and_limit() {
    let gw = TestGateway::start().await;
    let [first, second, third] = three_requests(&gw).await;

    let patch = json!({"feedback": 1, "score": 90, "metadata": {"reviewed": true}});
    let (status, patched) = gw
        .admin(Method::PATCH, &format!("{LOGS}/{first}"), Some(patch))
        .await;
    assert_eq!(
        (status, patched["result"].clone()),
        (200, json!({})),
        "{patched}"
    );
    let (_, detail) = get(&gw, &format!("{LOGS}/{first}")).await;
    let row = &detail["result"];
    assert_eq!(
        (
            row["feedback"].clone(),
            row["score"].clone(),
            row["metadata"].clone()
        ),
        (json!(1), json!(90.0), json!(r#"{"reviewed":true}"#))
    );
    let (_, thumbs_up) = get(
        &gw,
        &format!("{LOGS}?filters.key=feedback&filters.operator=eq&filters.value=1"),
    )
    .await;
    assert_eq!(ids(&thumbs_up), [first.as_str()]);

    let (status, bad) = gw
        .admin(
            Method::PATCH,
            &format!("{LOGS}/{first}"),
            Some(json!({"feedback": 3})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("feedback"),
        "{bad}"
    );
    let (status, _) = gw
        .admin(
            Method::PATCH,
            &format!("{LOGS}/no-such-log"),
            Some(json!({"feedback": 1})),
        )
        .await;
    assert_eq!(status, 404);

    let (status, deleted) = gw
        .admin(
            Method::DELETE,
            &format!("{LOGS}?filters.key=provider&filters.operator=eq&filters.value=anthropic"),
            None,
        )
        .await;
    assert_eq!(
        (
            status,
            deleted["success"].clone(),
            deleted["result"].clone()
        ),
        (200, json!(true), json!({"deleted": 1}))
    );
    // Oldest first with a limit of one: only `first` goes.
    let (_, deleted) = gw
        .admin(
            Method::DELETE,
            &format!("{LOGS}?limit=1&order_by_direction=asc"),
            None,
        )
        .await;
    assert_eq!(deleted["result"], json!({"deleted": 1}));
    let (_, left) = get(&gw, LOGS).await;
    assert_eq!(ids(&left), [third.as_str()]);
    let (status, _) = get(&gw, &format!("{LOGS}/{second}/request")).await;
    assert_eq!(status, 404, "bodies go with their rows");
    let (status, _) = gw
        .admin(Method::DELETE, &format!("{LOGS}?limit=0"), None)
        .await;
    assert_eq!(status, 400);
    let (_, deleted) = gw.admin(Method::DELETE, LOGS, None).await;
    assert_eq!(deleted["result"], json!({"deleted": 1}));
}
