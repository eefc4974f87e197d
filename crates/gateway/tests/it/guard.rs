//! The traversal and injection cases of the reliability plan (IN-13, IN-14): 400, and nothing
//! reaches the upstream. Sent as raw bytes so no client normalises the path first.

use crate::support::TestGateway;

fn post(target: &str, extra_headers: &str) -> String {
    format!(
        "POST {target} HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
}

#[tokio::test]
async fn traversal_variants_are_rejected_before_the_upstream() {
    let gw = TestGateway::start().await;
    let prefix = "/v1/local/default/openai";
    let targets = [
        format!("{prefix}/../admin/keys"),
        format!("{prefix}/../../../client/v4/accounts/local/ai-gateway/gateways"),
        format!("{prefix}/%2e%2e/admin"),
        format!("{prefix}/%2E%2E/%2E%2E/client/v4"),
        format!("{prefix}/%252e%252e/admin"),
        format!("{prefix}/%25252e%25252e/admin"),
        format!("{prefix}/v1/..;/admin"),
        format!("{prefix}/v1/%2e%2e;/admin"),
        format!("{prefix}/%5c..%5cadmin"),
        format!("{prefix}/%5C%2E%2E%5Cadmin"),
        format!("{prefix}//evil/v1"),
        format!("{prefix}/%2F%2Fevil/v1"),
        format!("{prefix}/v1%2Fchat/completions"),
        format!("{prefix}/v1%252Fchat/completions"),
        format!("{prefix}/./chat/completions"),
        format!("{prefix}/v1@evil.test/"),
        format!("{prefix}/v1%40evil.test/chat"),
        format!("{prefix}/a%00b"),
        "/v1/local/default/../../client/v4/accounts".to_string(),
        "/v1/local/%2e%2e/openai/chat".to_string(),
        "/v1/../v1/local/default/openai/chat".to_string(),
    ];
    for target in &targets {
        let (status, text) = gw
            .raw(&post(target, "Authorization: Bearer sk-x\r\n"))
            .await;
        assert_eq!(status, 400, "{target}: {text}");
        assert!(text.contains("\"internalCode\":2012"), "{target}: {text}");
    }
    // A raw backslash in the request line is refused by the HTTP parser itself or by the guard.
    let (status, _) = gw.raw(&post(&format!("{prefix}/\\..\\admin"), "")).await;
    assert_eq!(status, 400);
    assert_eq!(gw.mock.request_count(), 0, "nothing may reach the upstream");
}

#[tokio::test]
async fn absolute_form_and_spoofed_host_never_choose_the_upstream() {
    let gw = TestGateway::start().await;
    for target in [
        "http://169.254.169.254/v1/chat/completions",
        "http://169.254.169.254/v1/local/default/openai/chat/completions",
        "https://evil.test/v1/local/default/openai/chat/completions",
    ] {
        let (status, text) = gw.raw(&post(target, "")).await;
        assert_eq!(status, 400, "{target}: {text}");
    }
    assert_eq!(gw.mock.request_count(), 0);

    // A spoofed Host header changes nothing: the upstream still comes from configuration.
    let (status, _) = gw
        .raw(
            &post(
                "/v1/local/default/openai/chat/completions",
                "X-Forwarded-Host: evil.test\r\n",
            )
            .replace("Host: gateway.test", "Host: 169.254.169.254"),
        )
        .await;
    assert_eq!(status, 200);
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("host"),
        Some(gw.mock.addr().to_string().as_str())
    );
}
