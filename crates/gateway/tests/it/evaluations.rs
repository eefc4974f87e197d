//! Datasets and evaluations (docs/evaluations.md) through the management API: datasets checked
//! as the logs API checks its filters, evaluations whose results agree with the logs they read
//! and do not move afterwards, and both gone with their gateway.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body};

const GATEWAY: &str = "/accounts/local/ai-gateway/gateways/gw";

async fn chat(gw: &TestGateway) -> String {
    let response = gw
        .http
        .post(gw.url("/v1/local/gw/openai/chat/completions"))
        .header("authorization", "Bearer sk-test")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.bytes().await.unwrap();
    id
}

async fn call(gw: &TestGateway, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, envelope) = gw.admin(method, &format!("{GATEWAY}{path}"), body).await;
    assert_eq!(status, 200, "{envelope}");
    envelope
}

fn average(values: &[f64]) -> f64 {
    let count = u32::try_from(values.len()).expect("a few values");
    values.iter().sum::<f64>() / f64::from(count)
}

#[tokio::test]
async fn an_evaluation_reads_its_datasets_logs_once_and_keeps_the_result() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "gw"})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(chat(&gw).await);
    }
    gw.mock.push(Behavior::status(500));
    ids.push(chat(&gw).await);
    gw.logs_flushed().await;
    for (id, feedback) in [(&ids[0], 1), (&ids[1], -1), (&ids[2], 1)] {
        call(
            &gw,
            Method::PATCH,
            &format!("/logs/{id}"),
            Some(json!({"feedback": feedback})),
        )
        .await;
    }

    let mini = call(
        &gw,
        Method::POST,
        "/datasets",
        Some(json!({
            "name": "mini", "enable": true,
            "filters": [{"key": "model", "operator": "eq", "value": ["gpt-4o-mini"]}],
        })),
    )
    .await["result"]
        .clone();
    assert_eq!(mini["gateway_id"], "gw");
    assert_eq!(mini["filters"][0]["value"], json!(["gpt-4o-mini"]));
    let failed = call(
        &gw,
        Method::POST,
        "/datasets",
        Some(json!({
            "name": "failures", "enable": false,
            "filters": [{"key": "success", "operator": "eq", "value": [false]}],
        })),
    )
    .await["result"]
        .clone();

    // What the evaluators should find, read from the logs API itself.
    let logs = call(&gw, Method::GET, "/logs?per_page=50", None).await;
    let rows = logs["result"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let costs: Vec<f64> = rows.iter().filter_map(|r| r["cost"].as_f64()).collect();
    let durations: Vec<f64> = rows.iter().filter_map(|r| r["duration"].as_f64()).collect();
    assert!(!costs.is_empty() && durations.len() == 4, "{logs}");

    let evaluation = call(
        &gw,
        Method::POST,
        "/evaluations",
        Some(json!({
            "name": "baseline",
            "dataset_ids": [mini["id"]],
            "evaluation_type_ids": ["cost", "speed", "human-feedback"],
        })),
    )
    .await["result"]
        .clone();
    assert_eq!(evaluation["processed"], true);
    assert_eq!(evaluation["total_logs"], 4);
    assert_eq!(evaluation["datasets"], json!([mini]));
    let results = evaluation["results"].as_array().unwrap();
    let result = |kind: &str| {
        results
            .iter()
            .find(|r| r["evaluation_type_id"] == kind)
            .unwrap_or_else(|| panic!("no {kind} result in {evaluation}"))
            .clone()
    };
    assert_eq!(result("cost")["result"], format!("{:.6}", average(&costs)));
    assert_eq!(result("cost")["total_logs"], costs.len());
    assert_eq!(
        result("speed")["result"],
        format!("{:.1}", average(&durations))
    );
    assert_eq!(result("human-feedback")["result"], "66.7");
    assert_eq!(result("human-feedback")["total_logs"], 3);
    for r in results {
        assert_eq!(r["evaluation_id"], evaluation["id"].as_str().unwrap());
        assert_eq!(r["status"], 1);
    }

    // Only the failure is in `failures`, which has no feedback.
    let of_failures = call(
        &gw,
        Method::POST,
        "/evaluations",
        Some(json!({
            "name": "failures",
            "dataset_ids": [failed["id"]],
            "evaluation_type_ids": ["human-feedback"],
        })),
    )
    .await["result"]
        .clone();
    assert_eq!(of_failures["total_logs"], 1);
    assert_eq!(of_failures["results"][0]["status"], 2);
    assert_eq!(of_failures["results"][0]["result"], "");

    // A snapshot: new logs and a deleted dataset leave it as it was.
    chat(&gw).await;
    call(
        &gw,
        Method::DELETE,
        &format!("/datasets/{}", mini["id"].as_str().unwrap()),
        None,
    )
    .await;
    let again = call(
        &gw,
        Method::GET,
        &format!("/evaluations/{}", evaluation["id"].as_str().unwrap()),
        None,
    )
    .await["result"]
        .clone();
    assert_eq!(again, evaluation);

    let listed = call(
        &gw,
        Method::GET,
        "/evaluations?order_by=name&order_by_direction=asc",
        None,
    )
    .await;
    let names: Vec<&str> = listed["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["baseline", "failures"]);
    assert_eq!(listed["result_info"]["total_count"], 2);
    let searched = call(&gw, Method::GET, "/evaluations?search=BASE", None).await;
    assert_eq!(searched["result_info"]["total_count"], 1);

    call(
        &gw,
        Method::DELETE,
        &format!("/evaluations/{}", evaluation["id"].as_str().unwrap()),
        None,
    )
    .await;
    let (status, gone) = gw
        .admin(
            Method::GET,
            &format!(
                "{GATEWAY}/evaluations/{}",
                evaluation["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, gone["errors"][0]["code"].clone()),
        (404, json!(1004))
    );
}

#[tokio::test]
async fn datasets_are_checked_listed_replaced_and_go_with_their_gateway() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "gw"})).await;

    // Every problem, each with the field it is in.
    let (status, refused) = gw
        .admin(
            Method::POST,
            &format!("{GATEWAY}/datasets"),
            Some(json!({
                "name": "bad", "enable": true,
                "filters": [
                    {"key": "modle", "operator": "eq", "value": ["x"]},
                    {"key": "cost", "operator": "gt", "value": ["cheap"]},
                    {"key": "provider", "operator": "lt", "value": ["openai"]},
                ],
            })),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let paths: Vec<Value> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].clone())
        .collect();
    assert_eq!(
        paths,
        [
            json!(["body", "filters[0]"]),
            json!(["body", "filters[1]"]),
            json!(["body", "filters[2]"])
        ],
        "{refused}"
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("modle")
    );

    let mut ids = Vec::new();
    for (name, enable) in [("gpt", true), ("claude", false)] {
        let created = call(
            &gw,
            Method::POST,
            "/datasets",
            Some(json!({
                "name": name, "enable": enable,
                "filters": [{"key": "model", "operator": "contains", "value": [name]}],
            })),
        )
        .await;
        ids.push(created["result"]["id"].as_str().unwrap().to_owned());
    }
    let enabled = call(&gw, Method::GET, "/datasets?enable=true", None).await;
    assert_eq!(enabled["result_info"]["total_count"], 1);
    assert_eq!(enabled["result"][0]["name"], "gpt");
    let searched = call(&gw, Method::GET, "/datasets?search=claude", None).await;
    assert_eq!(searched["result"][0]["id"], ids[1].as_str());

    let replaced = call(
        &gw,
        Method::PUT,
        &format!("/datasets/{}", ids[1]),
        Some(json!({
            "name": "anthropic", "enable": true,
            "filters": [{"key": "provider", "operator": "eq", "value": ["anthropic"]}],
        })),
    )
    .await["result"]
        .clone();
    assert_eq!(replaced["name"], "anthropic");
    let read = call(&gw, Method::GET, &format!("/datasets/{}", ids[1]), None).await;
    assert_eq!(read["result"], replaced);

    // An evaluation of a dataset another gateway owns is refused, naming the field.
    gw.create_gateway(json!({"id": "other"})).await;
    let (status, refused) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways/other/evaluations",
            Some(json!({"name": "e", "dataset_ids": [ids[0]], "evaluation_type_ids": ["speed"]})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["errors"][0]["path"], json!(["body", "dataset_ids"]));
    let types = gw
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/evaluation-types",
            None,
        )
        .await
        .1;
    assert_eq!(types["result_info"]["total_count"], 3);

    let (status, _) = gw
        .admin(
            Method::DELETE,
            "/accounts/local/ai-gateway/gateways/gw",
            None,
        )
        .await;
    assert_eq!(status, 200);
    gw.create_gateway(json!({"id": "gw"})).await;
    let listed = call(&gw, Method::GET, "/datasets", None).await;
    assert_eq!(listed["result"], json!([]));
}
