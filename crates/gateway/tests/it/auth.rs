//! Authenticated gateways (SPEC §12): run tokens, the admin token, revocation, and credentials
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
