//! The management API: Cloudflare's v4 envelope, gateway CRUD, tokens, and the admin token on
//! every route.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::api::MANAGEMENT_ROUTES;

use crate::support::{ADMIN_TOKEN, TestGateway, chat_body};

const GATEWAYS: &str = "/accounts/local/ai-gateway/gateways";

#[tokio::test]
async fn gateway_crud_in_cloudflare_shape() {
    let gw = TestGateway::start().await;
    let created = gw
        .create_gateway(json!({"id": "my-gw", "cache_ttl": 60, "collect_logs": false, "rate_limiting_interval": 60,
            "rate_limiting_limit": 10, "rate_limiting_technique": "sliding", "log_management": 5000,
            "log_management_strategy": "DELETE_OLDEST"}))
        .await;
    for field in [
        "id",
        "cache_ttl",
        "cache_invalidate_on_update",
        "collect_logs",
        "rate_limiting_interval",
        "rate_limiting_limit",
        "rate_limiting_technique",
        "rate_limiting_key",
        "authentication",
        "retry_max_attempts",
        "retry_delay",
        "retry_backoff",
        "request_timeout_ms",
        "log_management",
        "log_management_strategy",
        "created_at",
        "modified_at",
    ] {
        assert!(created.get(field).is_some(), "missing {field}: {created}");
    }
    assert_eq!(created["cache_ttl"], 60);
    assert_eq!(created["rate_limiting_technique"], "sliding");

    let (status, got) = gw
        .admin(Method::GET, &format!("{GATEWAYS}/my-gw"), None)
        .await;
    assert_eq!((status, &got["result"]), (200, &created));
    assert_eq!(got["errors"], json!([]));

    let (status, updated) = gw
        .admin(
            Method::PUT,
            &format!("{GATEWAYS}/my-gw"),
            Some(json!({"cache_ttl": 0, "authentication": true})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["result"]["cache_ttl"], 0);
    assert_eq!(updated["result"]["authentication"], true);
    assert_eq!(
        updated["result"]["rate_limiting_limit"], 10,
        "absent fields keep their value"
    );

    let (status, deleted) = gw
        .admin(Method::DELETE, &format!("{GATEWAYS}/my-gw"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["result"]["id"], "my-gw");
    let (status, missing) = gw
        .admin(Method::GET, &format!("{GATEWAYS}/my-gw"), None)
        .await;
    assert_eq!(
        (
            status,
            missing["success"].clone(),
            missing["errors"][0]["code"].clone()
        ),
        (404, json!(false), json!(2001))
    );
}

#[tokio::test]
async fn validation_names_fields_and_conflicts_are_409() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .admin(Method::POST, GATEWAYS, Some(json!({"id": "Bad Id"})))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("id:"),
        "{body}"
    );
    let (status, body) = gw
        .admin(
            Method::POST,
            GATEWAYS,
            Some(json!({"id": "ok", "retry_max_attempts": 7, "cache_ttl": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("retry_max_attempts:")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("cache_ttl:")),
        "{messages:?}"
    );
    let (status, body) = gw
        .admin(Method::POST, GATEWAYS, Some(json!({"no_id": true})))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = gw
        .admin(Method::POST, GATEWAYS, Some(json!({"id": "twice"})))
        .await;
    assert_eq!(status, 200);
    let (status, body) = gw
        .admin(Method::POST, GATEWAYS, Some(json!({"id": "twice"})))
        .await;
    assert_eq!(status, 409, "{body}");
    let response = gw
        .http
        .post(gw.url(&format!("/client/v4{GATEWAYS}")))
        .bearer_auth(ADMIN_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["success"], false);
}

#[tokio::test]
async fn unknown_fields_are_refused_and_cloudflare_fields_are_kept() {
    let gw = TestGateway::start().await;
    let created = gw.create_gateway(json!({"id": "typed"})).await;
    let path = format!("{GATEWAYS}/typed");
    let (status, body) = gw
        .admin(
            Method::PUT,
            &path,
            Some(json!({"cach_ttl": 60, "colour": 1})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"],
        json!([
            {"code": 1001, "message": "cach_ttl: unknown field; did you mean cache_ttl?",
             "path": ["body", "cach_ttl"]},
            {"code": 1001, "message": "colour: unknown field", "path": ["body", "colour"]},
        ])
    );

    // What an SDK sends back: the whole object it read, plus Cloudflare fields Tollgate keeps.
    let guardrails = json!({"prompt": {"P1": "BLOCK"}, "response": {}});
    let mut echoed = created.clone();
    echoed["cache_ttl"] = json!(30);
    echoed["guardrails"] = guardrails.clone();
    echoed["logpush"] = json!(true);
    let (status, updated) = gw.admin(Method::PUT, &path, Some(echoed)).await;
    assert_eq!(status, 200, "{updated}");
    let (_, got) = gw.admin(Method::GET, &path, None).await;
    assert_eq!(got["result"]["cache_ttl"], 30);
    assert_eq!(got["result"]["guardrails"], guardrails);
    assert_eq!(got["result"]["logpush"], true);
    assert_eq!(got["result"]["created_at"], created["created_at"]);
}

#[tokio::test]
async fn list_pages_and_searches() {
    let gw = TestGateway::start().await;
    for i in 0..25 {
        gw.create_gateway(json!({"id": format!("gw-{i:02}")})).await;
    }
    let (_, page1) = gw
        .admin(Method::GET, &format!("{GATEWAYS}?per_page=10"), None)
        .await;
    assert_eq!(page1["result"].as_array().unwrap().len(), 10);
    assert_eq!(
        page1["result_info"],
        json!({"page": 1, "per_page": 10, "count": 10, "total_count": 25, "total_pages": 3})
    );
    let (_, page3) = gw
        .admin(Method::GET, &format!("{GATEWAYS}?per_page=10&page=3"), None)
        .await;
    assert_eq!(page3["result"].as_array().unwrap().len(), 5);
    assert_eq!(page3["result"][4]["id"], "gw-24");
    let (_, found) = gw
        .admin(Method::GET, &format!("{GATEWAYS}?search=gw-1"), None)
        .await;
    assert_eq!(found["result"].as_array().unwrap().len(), 10);
    let (status, bad) = gw
        .admin(Method::GET, &format!("{GATEWAYS}?page=abc"), None)
        .await;
    assert_eq!((status, bad["success"].clone()), (400, json!(false)));
}

#[tokio::test]
async fn default_gateway_is_created_on_first_request_in_existing_accounts() {
    let gw = TestGateway::start().await;
    let (status, _) = gw
        .admin(Method::GET, &format!("{GATEWAYS}/default"), None)
        .await;
    assert_eq!(status, 404);
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, default) = gw
        .admin(Method::GET, &format!("{GATEWAYS}/default"), None)
        .await;
    assert_eq!(status, 200);
    let default = &default["result"];
    assert_eq!(
        (
            default["collect_logs"].clone(),
            default["cache_ttl"].clone(),
            default["rate_limiting_limit"].clone(),
            default["authentication"].clone()
        ),
        (json!(true), json!(0), json!(0), json!(false))
    );
    assert_eq!(default["is_default"], true);

    // Another account exists once a gateway is created in it.
    let path = "/v1/acme/default/openai/chat/completions";
    assert_eq!(
        gw.http
            .post(gw.url(path))
            .json(&chat_body(false))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (status, _) = gw
        .admin(
            Method::POST,
            "/accounts/acme/ai-gateway/gateways",
            Some(json!({"id": "first"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        gw.http
            .post(gw.url(path))
            .json(&chat_body(false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn provider_url_endpoint() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "urls"})).await;
    let (status, body) = gw
        .admin(Method::GET, &format!("{GATEWAYS}/urls/url/openai"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"],
        format!("http://{}/v1/local/urls/openai", gw.addr)
    );
    let (status, _) = gw
        .admin(Method::GET, &format!("{GATEWAYS}/urls/url/nope"), None)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn tokens_are_shown_once_and_revocable() {
    let gw = TestGateway::start().await;
    let tokens = "/accounts/local/ai-gateway/tokens";
    let (status, created) = gw
        .admin(Method::POST, tokens, Some(json!({"name": "ci"})))
        .await;
    assert_eq!(status, 200, "{created}");
    let token = created["result"]["token"].as_str().unwrap().to_owned();
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    let (_, listed) = gw.admin(Method::GET, tokens, None).await;
    assert_eq!(listed["result"].as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&token),
        "the token is shown only at creation"
    );
    let (status, _) = gw
        .admin(Method::POST, tokens, Some(json!({"name": ""})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = gw
        .admin(Method::DELETE, &format!("{tokens}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = gw
        .admin(Method::DELETE, &format!("{tokens}/{id}"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_management_route_requires_the_admin_token() {
    let gw = TestGateway::start().await;
    let (_, run) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "run"})),
        )
        .await;
    let run_token = run["result"]["token"].as_str().unwrap().to_owned();
    let mut routes: Vec<(String, String)> = MANAGEMENT_ROUTES
        .iter()
        .map(|(method, path)| {
            let path = path
                .replace("{account}", "local")
                .replace("{id}", "default")
                .replace("{provider}", "openai");
            (method.to_string(), path)
        })
        .collect();
    // Unknown paths under the management base too: no hint of what exists without a token.
    routes.push((
        "GET".into(),
        "/accounts/local/ai-gateway/nothing-here".into(),
    ));
    routes.push(("GET".into(), "/".into()));
    for (method, path) in &routes {
        for authorization in [
            None,
            Some("Bearer wrong-token".to_owned()),
            Some(format!("Bearer {run_token}")),
            /* the admin token without its scheme */ Some(ADMIN_TOKEN.to_owned()),
        ] {
            let mut request = gw
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    gw.url(&format!("/client/v4{path}")),
                )
                .json(&json!({"id": "x", "name": "x"}));
            if let Some(value) = &authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                401,
                "{method} {path} with {authorization:?}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], 10000);
        }
    }
    // The gateways are untouched.
    let (_, listed) = gw.admin(Method::GET, GATEWAYS, None).await;
    assert_eq!(listed["result"], json!([]));
}

#[tokio::test]
async fn health_routes_need_no_token_and_unknown_routes_are_json() {
    let gw = TestGateway::start().await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            gw.http.get(gw.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let response = gw.http.get(gw.url("/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["success"], false);
}

/// A route asked with a method it does not serve answers in the envelope, not an empty body.
#[tokio::test]
async fn a_wrong_method_is_answered_in_the_envelope() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .admin(Method::PATCH, "/accounts/local/ai-gateway/tokens", None)
        .await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], 7001);
}

/// Cloudflare's `internal_id`: a UUID, the same on every read, different per gateway.
#[tokio::test]
async fn a_gateway_has_a_stable_internal_id() {
    let gw = TestGateway::start().await;
    let one = gw.create_gateway(json!({"id": "one"})).await;
    let two = gw.create_gateway(json!({"id": "two"})).await;
    let id = one["internal_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{one}");
    assert_ne!(one["internal_id"], two["internal_id"]);
    let (_, again) = gw
        .admin(Method::GET, &format!("{GATEWAYS}/one"), None)
        .await;
    assert_eq!(again["result"]["internal_id"], one["internal_id"]);
}
