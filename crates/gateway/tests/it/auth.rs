//! Authenticated gateways (docs/security.md): run tokens, the admin token, revocation, and credentials
//! that never leave the gateway.

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, TestGateway, chat_body, gateway_error_code};

const CHAT: &str = "/v1/local/secure/openai/chat/completions";

async fn send(gw: &TestGateway, path: &str, token: Option<&str>) -> u16 {
    let mut request = gw
        .http
        .post(gw.url(path))
        .header("authorization", "Bearer sk-provider")
        .json(&chat_body(false));
    if let Some(token) = token {
        request = request.header("cf-aig-authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn run_tokens_open_authenticated_gateways_until_revoked() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "secure", "authentication": true}))
        .await;
    let (_, created) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "app"})),
        )
        .await;
    let token = created["result"]["token"].as_str().unwrap().to_owned();
    let id = created["result"]["id"].as_str().unwrap().to_owned();

    assert_eq!(send(&gw, CHAT, None).await, 401);
    assert_eq!(send(&gw, CHAT, Some("tgr_not-a-token")).await, 401);
    assert_eq!(gw.mock.request_count(), 0);

    assert_eq!(send(&gw, CHAT, Some(&token)).await, 200);
    assert_eq!(send(&gw, CHAT, Some(ADMIN_TOKEN)).await, 200);
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(
            request.header("cf-aig-authorization"),
            None,
            "the gateway credential is stripped"
        );
        assert_eq!(
            request.header("authorization"),
            Some("Bearer sk-provider"),
            "the provider key passes"
        );
    }
    assert!(
        seen.iter()
            .all(|r| !r.headers.iter().any(|(_, v)| v.contains(&token)))
    );

    gw.admin(
        Method::DELETE,
        &format!("/accounts/local/ai-gateway/tokens/{id}"),
        None,
    )
    .await;
    assert_eq!(send(&gw, CHAT, Some(&token)).await, 401);
}

#[tokio::test]
async fn a_token_of_another_account_does_not_open_this_one() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "secure", "authentication": true}))
        .await;
    let (_, other) = gw
        .admin(
            Method::POST,
            "/accounts/other/ai-gateway/tokens",
            Some(json!({"name": "x"})),
        )
        .await;
    let foreign = other["result"]["token"].as_str().unwrap().to_owned();
    assert_eq!(send(&gw, CHAT, Some(&foreign)).await, 401);
    // Unauthenticated gateways ignore the header (and still strip it).
    assert_eq!(
        send(
            &gw,
            "/v1/local/default/openai/chat/completions",
            Some("anything")
        )
        .await,
        200
    );
    assert_eq!(gw.mock.requests()[0].header("cf-aig-authorization"), None);
}

#[tokio::test]
async fn the_admin_token_is_never_forwarded_as_a_provider_key() {
    let gw = TestGateway::start().await;
    for (header, value) in [
        ("authorization", format!("Bearer {ADMIN_TOKEN}")),
        ("x-api-key", ADMIN_TOKEN.to_owned()),
    ] {
        let provider = if header == "x-api-key" {
            "anthropic/v1/messages"
        } else {
            "openai/chat/completions"
        };
        let response = gw
            .http
            .post(gw.url(&format!("/v1/local/default/{provider}")))
            .header(header, value)
            .json(&chat_body(false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(gateway_error_code(&response.json().await.unwrap()), 2009);
    }
    assert_eq!(gw.mock.request_count(), 0);
}

/// A run token created through the API, for `account`.
async fn run_token(gw: &TestGateway, account: &str) -> String {
    let (_, created) = gw
        .admin(
            Method::POST,
            &format!("/accounts/{account}/ai-gateway/tokens"),
            Some(json!({"name": "app"})),
        )
        .await;
    created["result"]["token"].as_str().unwrap().to_owned()
}

/// Status and error code of a request; nothing of it may reach the upstream.
async fn refused(request: reqwest::RequestBuilder) -> (u16, u64) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, gateway_error_code(&body))
}

#[tokio::test]
async fn gateway_tokens_never_leave_in_any_header_or_query_on_any_route() {
    let gw = TestGateway::start().await;
    let own = run_token(&gw, "local").await;
    let foreign = run_token(&gw, "other").await;
    let native = |path: &str| gw.http.post(gw.url(&format!("/v1/local/default/{path}")));
    for token in [own.as_str(), foreign.as_str(), ADMIN_TOKEN] {
        let cases = [
            native("openai/chat/completions").bearer_auth(token),
            // Another provider's credential header, and a made-up one.
            native("openai/chat/completions").header("x-api-key", token),
            native("openai/chat/completions").header("api-key", token),
            native("openai/chat/completions").header("x-anything", format!("Token {token}")),
            native("anthropic/v1/messages").header("x-api-key", token),
            native(&format!(
                "google-ai-studio/v1beta/models/g:generateContent?key={}",
                token.replace('_', "%5F")
            )),
            native("compat/chat/completions").bearer_auth(token),
        ];
        for (case, request) in cases.into_iter().enumerate() {
            let request = request.json(&json!({"model": "openai/gpt-4o-mini", "messages": []}));
            assert_eq!(refused(request).await, (401, 2009), "case {case}");
        }
        let universal = gw.http.post(gw.url("/v1/local/default")).json(&json!([
            {"provider": "openai", "endpoint": "chat/completions",
             "headers": {"authorization": format!("Bearer {token}")}, "query": {}},
            {"provider": "compat", "endpoint": "chat/completions",
             "headers": {"x-goog-api-key": token},
             "query": {"model": "anthropic/claude", "messages": []}},
        ]));
        assert_eq!(refused(universal).await, (401, 2009));
    }
    assert_eq!(gw.mock.request_count(), 0);

    // A provider key that merely resembles one (same prefix, same length) still passes.
    let lookalike = format!("tgr_{}", "0".repeat(own.len() - 4));
    let response = native("openai/chat/completions")
        .bearer_auth(&lookalike)
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn cf_aig_authorization_is_stripped_on_every_route() {
    let gw = TestGateway::start().await;
    let secret = "Bearer run-token-canary";
    let compat =
        json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let requests = [
        gw.http
            .post(gw.url("/v1/local/default/openai/chat/completions"))
            .json(&chat_body(false)),
        gw.http
            .post(gw.url("/v1/local/default/compat/chat/completions"))
            .json(&compat),
        gw.http.post(gw.url("/v1/local/default")).json(&json!([
            {"provider": "openai", "endpoint": "chat/completions",
             "headers": {"cf-aig-authorization": secret}, "query": chat_body(false)},
        ])),
    ];
    for request in requests {
        let response = request
            .header("cf-aig-authorization", secret)
            .header("authorization", "Bearer sk-provider")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 3);
    for request in seen {
        assert!(
            !request.headers.iter().any(|(_, v)| v.contains("canary")),
            "{:?}",
            request.headers
        );
    }
}

/// Names reach terminals (`tollgate token list`) and the dashboard: no escape sequences.
#[tokio::test]
async fn token_names_with_control_characters_are_refused() {
    let gw = TestGateway::start().await;
    for name in [
        "evil\u{1b}]0;pwned\u{7}",
        "a\u{9b}2J",
        "tab\there",
        "del\u{7f}",
    ] {
        let (status, body) = gw
            .admin(
                Method::POST,
                "/accounts/local/ai-gateway/tokens",
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 400, "{name:?}: {body}");
    }
    let (status, _) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "billing-service é"})),
        )
        .await;
    assert_eq!(status, 200);
}

/// The management API's 401 says which of the three mistakes it was, and never echoes a token.
#[tokio::test]
async fn the_management_api_says_what_is_wrong_with_the_admin_token() {
    let gw = TestGateway::start().await;
    let gateways = gw.url("/client/v4/accounts/local/ai-gateway/gateways");
    let message = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let envelope: serde_json::Value = response.json().await.unwrap();
        assert_eq!(envelope["errors"][0]["code"], 10000);
        envelope["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let missing = message(gw.http.get(&gateways)).await;
    let not_bearer = message(gw.http.get(&gateways).header("authorization", ADMIN_TOKEN)).await;
    let wrong = message(gw.http.get(&gateways).bearer_auth("tga_not-the-token")).await;
    assert_eq!(
        missing,
        "Authentication error: send Authorization: Bearer <admin token>"
    );
    assert_eq!(
        not_bearer,
        "Authentication error: Authorization must be \"Bearer <admin token>\""
    );
    assert_eq!(wrong, "Authentication error: the admin token is not valid");
}
