//! Scoped run tokens (docs/budgets.md, "Scoped run tokens"): gateways, providers and models
//! outside a token's scope are refused before anything goes upstream, an expired token is 401,
//! and the token's metadata reaches every log row.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::clock::ManualClock;

use crate::support::{TestGateway, gateway_error_code};

const TOKENS: &str = "/accounts/local/ai-gateway/tokens";

/// A token made with `scope` (plus a name); its text.
async fn token(gw: &TestGateway, scope: Value) -> String {
    let mut body = scope;
    body["name"] = json!("scoped");
    let (status, created) = gw.admin(Method::POST, TOKENS, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    created["result"]["token"].as_str().unwrap().to_owned()
}

async fn secure_gateway(gw: &TestGateway, id: &str) {
    gw.create_gateway(json!({"id": id, "authentication": true}))
        .await;
}

/// A chat call through gateway `gw_id` to `provider` asking for `model`, and extra headers.
async fn call(
    gw: &TestGateway,
    gw_id: &str,
    provider: &str,
    model: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let path = match provider {
        "anthropic" => format!("/v1/local/{gw_id}/anthropic/v1/messages"),
        _ => format!("/v1/local/{gw_id}/{provider}/chat/completions"),
    };
    let mut request = gw
        .http
        .post(gw.url(&path))
        .header("authorization", "Bearer sk-provider")
        .header("x-api-key", "sk-provider")
        .header("anthropic-version", "2023-06-01")
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .json(&json!({
            "model": model,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "hello"}],
        }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let log_id = response
        .headers()
        .get("cf-aig-log-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, log_id)
}

fn message(body: &Value) -> String {
    body["error"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_token_opens_only_its_gateways() {
    let gw = TestGateway::start().await;
    secure_gateway(&gw, "team-a").await;
    secure_gateway(&gw, "team-b").await;
    let only_a = token(&gw, json!({"gateways": ["team-a"]})).await;
    let every = token(&gw, json!({"gateways": ["*"]})).await;

    let (status, _, _) = call(&gw, "team-a", "openai", "gpt-4o-mini", &only_a, &[]).await;
    assert_eq!(status, 200);
    let (status, body, _) = call(&gw, "team-b", "openai", "gpt-4o-mini", &only_a, &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(gateway_error_code(&body), 2101);
    assert!(message(&body).contains("gateway 'team-b'"), "{body}");
    assert_eq!(gw.mock.request_count(), 1, "the refused call never left");

    for gateway in ["team-a", "team-b"] {
        let (status, _, _) = call(&gw, gateway, "openai", "gpt-4o-mini", &every, &[]).await;
        assert_eq!(status, 200);
    }
    assert!(
        gw.metrics().await.contains("reason=\"out_of_scope\""),
        "the refusal is counted under its own reason"
    );
}

#[tokio::test]
async fn a_token_refuses_providers_and_models_outside_its_globs() {
    let gw = TestGateway::start().await;
    secure_gateway(&gw, "secure").await;
    let openai_only = token(
        &gw,
        json!({"providers": ["open*"], "models": ["gpt-4o*", "anthropic/claude-*"]}),
    )
    .await;
    let qualified = token(&gw, json!({"models": ["anthropic/claude-*-haiku*"]})).await;

    let allowed = [
        (&openai_only, "openai", "gpt-4o"),
        (&openai_only, "openai", "gpt-4o-mini"),
        (&qualified, "anthropic", "claude-3-5-haiku-latest"),
    ];
    for (token, provider, model) in allowed {
        let (status, body, _) = call(&gw, "secure", provider, model, token, &[]).await;
        assert_eq!(status, 200, "{provider} {model}: {body}");
    }
    let sent = gw.mock.request_count();

    let refused = [
        (&openai_only, "openai", "o1-mini", "model 'o1-mini'"),
        (&openai_only, "openai", "gpt-4", "model 'gpt-4'"),
        // The provider is checked first: the model glob would allow it.
        (
            &openai_only,
            "anthropic",
            "claude-3-5-haiku-latest",
            "provider 'anthropic'",
        ),
        (&qualified, "openai", "claude-3-5-haiku-latest", "model"),
        (
            &qualified,
            "anthropic",
            "claude-3-opus",
            "model 'claude-3-opus'",
        ),
    ];
    for (token, provider, model, named) in refused {
        let (status, body, _) = call(&gw, "secure", provider, model, token, &[]).await;
        assert_eq!(status, 403, "{provider} {model}: {body}");
        assert_eq!(gateway_error_code(&body), 2101);
        assert!(message(&body).contains(named), "{named}: {body}");
    }
    assert_eq!(
        gw.mock.request_count(),
        sent,
        "nothing refused went upstream"
    );
}

#[tokio::test]
async fn an_expired_token_is_401_saying_so() {
    let clock = ManualClock::new(1_800_000_000_000);
    let gw = TestGateway::with_clock(clock.clone()).await;
    secure_gateway(&gw, "secure").await;
    let expires = jiff::Timestamp::from_millisecond(1_800_000_060_000).unwrap();
    let expiring = token(&gw, json!({"expires_at": expires.to_string()})).await;

    let (status, _, _) = call(&gw, "secure", "openai", "gpt-4o-mini", &expiring, &[]).await;
    assert_eq!(status, 200);
    clock.advance(Duration::from_secs(60));
    let (status, body, _) = call(&gw, "secure", "openai", "gpt-4o-mini", &expiring, &[]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(gateway_error_code(&body), 2009);
    assert!(message(&body).contains("expired"), "{body}");
    assert_eq!(gw.mock.request_count(), 1);

    // An expiry already past cannot be set.
    let (status, refused) = gw
        .admin(
            Method::POST,
            TOKENS,
            Some(json!({"name": "late", "expires_at": "2027-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["errors"][0]["path"], json!(["body", "expires_at"]));
}

#[tokio::test]
async fn the_tokens_metadata_is_merged_onto_every_log_row() {
    let gw = TestGateway::start().await;
    secure_gateway(&gw, "secure").await;
    let tagged = token(
        &gw,
        json!({"metadata": {"team": "search", "user": "token"}}),
    )
    .await;

    let headers = [("cf-aig-metadata", r#"{"user":"u-1","trace":"t-9"}"#)];
    let (status, _, log_id) = call(&gw, "secure", "openai", "gpt-4o-mini", &tagged, &headers).await;
    assert_eq!(status, 200);
    let row = gw.log_row("secure", &log_id.unwrap()).await.unwrap();
    let mut metadata: Value = serde_json::from_str(row.metadata.as_deref().unwrap()).unwrap();
    // The token's id rides along under the reserved key, so spend is attributable to it.
    let (_, listed) = gw.admin(Method::GET, TOKENS, None).await;
    let id = metadata
        .as_object_mut()
        .unwrap()
        .remove("tollgate.token_id");
    assert_eq!(id.as_ref(), Some(&listed["result"][0]["id"]), "{listed}");
    assert_eq!(
        metadata,
        json!({"team": "search", "user": "token", "trace": "t-9"}),
        "the token's keys win, the request's others stay"
    );

    let (_, _, log_id) = call(&gw, "secure", "openai", "gpt-4o-mini", &tagged, &[]).await;
    let row = gw.log_row("secure", &log_id.unwrap()).await.unwrap();
    let metadata: Value = serde_json::from_str(row.metadata.as_deref().unwrap()).unwrap();
    assert_eq!(
        metadata,
        json!({"team": "search", "user": "token", "tollgate.token_id": id.unwrap()})
    );

    // No client can claim a token's work as another's: the key is the gateway's alone.
    let forged = [("cf-aig-metadata", r#"{"tollgate.token_id":"someone-else"}"#)];
    let (status, body, _) = call(&gw, "secure", "openai", "gpt-4o-mini", &tagged, &forged).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("reserved"), "{body}");
    let (status, refused) = gw
        .admin(
            Method::POST,
            TOKENS,
            Some(json!({"name": "forger", "metadata": {"tollgate.token_id": "x"}})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["errors"][0]["path"], json!(["body", "metadata"]));
}

#[tokio::test]
async fn the_api_validates_each_scope_field_and_shows_the_scope() {
    let gw = TestGateway::start().await;
    let (status, refused) = gw
        .admin(
            Method::POST,
            TOKENS,
            Some(json!({
                "name": "bad",
                "gateways": ["Not An Id"],
                "providers": [],
                "models": "gpt-4o",
                "expires_at": "next week",
                "metadata": {"nested": {"a": 1}},
            })),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let paths: Vec<Value> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"][1].clone())
        .collect();
    assert_eq!(
        paths,
        ["gateways", "providers", "models", "expires_at", "metadata"].map(Value::from)
    );
    for error in refused["errors"].as_array().unwrap() {
        assert_eq!(error["code"], 1001);
    }

    let scope = json!({
        "gateways": ["prod"],
        "providers": ["openai"],
        "models": ["gpt-4o*"],
        "expires_at": "2099-01-01T00:00:00Z",
        "metadata": {"team": "search"},
    });
    let mut body = scope.clone();
    body["name"] = json!("ci");
    let (status, created) = gw.admin(Method::POST, TOKENS, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    let created = &created["result"];
    let text = created["token"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();

    let (status, got) = gw.admin(Method::GET, &format!("{TOKENS}/{id}"), None).await;
    assert_eq!(status, 200, "{got}");
    let got = &got["result"];
    for field in ["gateways", "providers", "models", "expires_at", "metadata"] {
        assert_eq!(got[field], scope[field], "{field}");
    }
    assert_eq!(got["name"], "ci");
    assert!(got.get("token").is_none() && !got.to_string().contains(text));

    assert_eq!(got["spend"], Value::Null, "no budget, no spend");
    let (_, listed) = gw.admin(Method::GET, TOKENS, None).await;
    let mut without_spend = got.clone();
    without_spend.as_object_mut().unwrap().remove("spend");
    assert_eq!(listed["result"][0], without_spend);

    let (status, missing) = gw
        .admin(Method::GET, &format!("{TOKENS}/no-such-token"), None)
        .await;
    assert_eq!(status, 404, "{missing}");

    // A token without a scope shows every field as null.
    let (_, plain) = gw
        .admin(Method::POST, TOKENS, Some(json!({"name": "plain"})))
        .await;
    assert_eq!(plain["result"]["gateways"], Value::Null);
    assert_eq!(plain["result"]["expires_at"], Value::Null);
}
