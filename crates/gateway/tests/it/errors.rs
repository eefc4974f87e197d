//! Gateway-made errors: the error envelope with the right code and status, and nothing upstream.

use serde_json::Value;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body, gateway_error_code};

async fn call(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = gw
        .http
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    (status, response.json().await.unwrap(), headers)
}

fn chat() -> Vec<u8> {
    serde_json::to_vec(&chat_body(false)).unwrap()
}

#[tokio::test]
async fn each_code_has_its_status_and_envelope() {
    let gw = TestGateway::with_config("max_body_bytes = 1024", "").await;
    gw.create_gateway(serde_json::json!({"id": "locked", "authentication": true}))
        .await;
    // (path, headers, body, expected status, expected code)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, u64);
    let cases: Vec<Case> = vec![
        (
            "/v1/local/no-such-gateway/openai/chat/completions",
            vec![],
            chat(),
            404,
            2001,
        ),
        (
            "/v1/unknown-account/default/openai/chat/completions",
            vec![],
            chat(),
            404,
            2001,
        ),
        (
            "/v1/local/default/not-a-provider/chat/completions",
            vec![],
            chat(),
            400,
            2008,
        ),
        (
            "/v1/local/locked/openai/chat/completions",
            vec![],
            chat(),
            401,
            2009,
        ),
        (
            "/v1/local/locked/openai/chat/completions",
            vec![("cf-aig-authorization", "Bearer wrong")],
            chat(),
            401,
            2009,
        ),
        (
            "/v1/local/default/openai/chat/completions",
            vec![],
            vec![b' '; 2048],
            413,
            2011,
        ),
        (
            "/v1/local/default/openai/v1%2Fchat",
            vec![],
            chat(),
            400,
            2012,
        ),
        (
            "/v1/local/default/openai/chat/completions",
            vec![("cf-aig-cache-ttl", "-1")],
            chat(),
            400,
            2013,
        ),
        (
            "/v1/local/default/openai/chat/completions",
            vec![("cf-aig-metadata", "{bad")],
            chat(),
            400,
            2013,
        ),
        (
            "/v1/local/default/openai/chat/completions",
            vec![("cf-aig-max-attempts", "9")],
            chat(),
            400,
            2013,
        ),
    ];
    for (path, headers, body, status, code) in cases {
        let (got_status, body, response_headers) = call(&gw, path, &headers, body).await;
        assert_eq!(got_status, status, "{path} {headers:?}: {body}");
        assert_eq!(gateway_error_code(&body), code, "{path} {headers:?}");
        assert_eq!(body["httpCode"].as_u64(), Some(u64::from(status)));
        assert!(response_headers.contains_key("cf-aig-log-id"));
    }
    assert_eq!(gw.mock.request_count(), 0);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let gw = TestGateway::with_config("max_body_bytes = 1024", "").await;
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 512])));
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(gateway_error_code(&response.json().await.unwrap()), 2011);
    assert_eq!(gw.mock.request_count(), 0);
}

#[tokio::test]
async fn first_byte_timeout_is_504_code_2010() {
    let gw = TestGateway::start().await;
    gw.mock.push(Behavior::hang());
    let (status, body, _) = call(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[("cf-aig-request-timeout", "100")],
        chat(),
    )
    .await;
    assert_eq!((status, gateway_error_code(&body)), (504, 2010));

    // The gateway setting applies when the request sends no header.
    gw.create_gateway(serde_json::json!({"id": "impatient", "request_timeout_ms": 100}))
        .await;
    gw.mock.push(Behavior::hang());
    let (status, body, _) = call(
        &gw,
        "/v1/local/impatient/openai/chat/completions",
        &[],
        chat(),
    )
    .await;
    assert_eq!((status, gateway_error_code(&body)), (504, 2010));
}

#[tokio::test]
async fn server_default_timeout_bounds_the_wait() {
    let gw = TestGateway::with_config("upstream_timeout_ms = 100", "").await;
    gw.mock.push(Behavior::hang());
    let (status, body, _) = call(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        chat(),
    )
    .await;
    assert_eq!((status, gateway_error_code(&body)), (504, 2010));
}

#[tokio::test]
async fn unreachable_provider_is_502_code_2005() {
    // A port that was just free: connecting to it is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = TestGateway::with_config(
        "",
        &format!("[providers.groq]\nbase_url = \"http://{closed}/openai/v1\"\n"),
    )
    .await;
    let (status, body, headers) =
        call(&gw, "/v1/local/default/groq/chat/completions", &[], chat()).await;
    assert_eq!((status, gateway_error_code(&body)), (502, 2005));
    assert_eq!(body["message"], "Provider unreachable: connection refused");
    assert!(
        !body.to_string().contains(&closed.to_string()),
        "no internal detail: {body}"
    );
    // The row says what failed and where.
    let id = headers["cf-aig-log-id"].to_str().unwrap();
    let row = gw.log_row("default", id).await.unwrap();
    assert_eq!(
        row.error.as_deref(),
        Some(
            format!("connection refused (calling http://{closed}/openai/v1/chat/completions)")
                .as_str()
        )
    );
}

/// The message of a gateway error, checking the envelope on the way.
async fn message_of(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> String {
    let (_, envelope, _) = call(gw, path, headers, body).await;
    gateway_error_code(&envelope);
    envelope["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_message_says_how_to_fix_the_request() {
    let gw = TestGateway::with_config("max_body_bytes = 1024", "").await;
    gw.create_gateway(serde_json::json!({"id": "locked", "authentication": true}))
        .await;
    let locked = "/v1/local/locked/openai/chat/completions";
    let missing = message_of(&gw, locked, &[], chat()).await;
    let not_bearer = message_of(&gw, locked, &[("cf-aig-authorization", "tok_abc")], chat()).await;
    let wrong = message_of(
        &gw,
        locked,
        &[("cf-aig-authorization", "Bearer wrong")],
        chat(),
    )
    .await;
    assert!(
        missing.contains("requires authentication")
            && missing.contains("cf-aig-authorization: Bearer"),
        "{missing}"
    );
    assert!(
        not_bearer.contains("must be \"Bearer <run token>\""),
        "{not_bearer}"
    );
    assert!(wrong.contains("not valid for this gateway"), "{wrong}");
    assert!(
        !wrong.contains("wrong"),
        "the token sent is never echoed: {wrong}"
    );

    let typo = message_of(
        &gw,
        "/v1/local/default/openia/chat/completions",
        &[],
        chat(),
    )
    .await;
    assert!(typo.contains("did you mean openai?"), "{typo}");
    let stranger = message_of(&gw, "/v1/local/default/zzzzzzzz/chat", &[], chat()).await;
    assert!(
        stranger.contains("the providers are") && stranger.contains("anthropic, "),
        "{stranger}"
    );

    // An SDK base URL without {account}/{gateway}: the provider sits where the account goes.
    let no_gateway = message_of(&gw, "/v1/openai/chat/completions", &[], chat()).await;
    assert!(
        no_gateway.contains("missing {account}/{gateway}")
            && no_gateway.contains("/v1/local/default/openai/"),
        "{no_gateway}"
    );
    let unknown = message_of(&gw, "/v1/local/nope/openai/chat/completions", &[], chat()).await;
    assert!(
        unknown.contains("account \"local\" has no gateway \"nope\""),
        "{unknown}"
    );
    let bad_id = message_of(&gw, "/v1/local/No.Pe/openai/chat", &[], chat()).await;
    assert!(bad_id.contains("is not a gateway id"), "{bad_id}");

    let too_large = message_of(
        &gw,
        "/v1/local/default/openai/chat/completions",
        &[],
        vec![b' '; 2048],
    )
    .await;
    assert!(too_large.contains("the limit is 1024 bytes"), "{too_large}");
    assert_eq!(gw.mock.request_count(), 0);
}

#[tokio::test]
async fn unified_endpoint_errors_are_in_openai_shape_from_every_layer() {
    let gw =
        TestGateway::with_config("max_body_bytes = 1024", "[limits]\nmax_uri_bytes = 1024\n").await;
    gw.create_gateway(serde_json::json!({"id": "locked", "authentication": true}))
        .await;
    let chat_for = |model: &str| {
        let mut body = chat_body(false);
        body["model"] = model.into();
        serde_json::to_vec(&body).unwrap()
    };
    // (path, headers, body, status, code, type, words of the message)
    type Case<'a> = (
        String,
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        u16,
        &'a str,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "/v1/local/default/compat/chat/completions".into(),
            vec![],
            chat_for("openia/gpt-4o-mini"),
            400,
            "2008",
            "invalid_request_error",
            "did you mean openai?",
        ),
        (
            "/v1/local/locked/compat/chat/completions".into(),
            vec![],
            chat_for("openai/gpt-4o-mini"),
            401,
            "2009",
            "authentication_error",
            "requires authentication",
        ),
        (
            "/v1/local/nope/compat/chat/completions".into(),
            vec![],
            chat_for("openai/gpt-4o-mini"),
            404,
            "2001",
            "not_found_error",
            "has no gateway",
        ),
        (
            "/v1/local/default/compat/chat/completions".into(),
            vec![],
            vec![b' '; 2048],
            413,
            "2011",
            "invalid_request_error",
            "the limit is 1024 bytes",
        ),
        // A layer before routing (the head limits) speaks the same shape.
        (
            format!(
                "/v1/local/default/compat/chat/completions?{}",
                "q".repeat(1100)
            ),
            vec![],
            chat_for("openai/gpt-4o-mini"),
            414,
            "2023",
            "invalid_request_error",
            "",
        ),
    ];
    for (path, headers, body, status, code, kind, words) in cases {
        let mut request = gw
            .http
            .post(gw.url(&path))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        // Refusals before routing have no log id; the proxy's own have one.
        assert_eq!(
            response.headers().contains_key("cf-aig-log-id"),
            status != 414,
            "{path}"
        );
        let body: Value = response.json().await.unwrap();
        let error = &body["error"];
        assert!(
            error.is_object(),
            "OpenAI's shape, not the envelope: {body}"
        );
        assert_eq!(error["code"], code, "{body}");
        assert_eq!(error["type"], kind, "{body}");
        assert!(error["message"].as_str().unwrap().contains(words), "{body}");
        assert!(body.get("success").is_none(), "{body}");
    }
    assert_eq!(gw.mock.request_count(), 0);
}

#[tokio::test]
async fn a_limit_without_a_window_is_refused_not_ignored() {
    let gw = TestGateway::start().await;
    let (status, envelope) = gw
        .admin(
            reqwest::Method::POST,
            "/accounts/local/ai-gateway/gateways",
            Some(serde_json::json!({"id": "leaky", "rate_limiting_limit": 10, "rate_limiting_interval": 0})),
        )
        .await;
    assert_eq!(status, 400, "{envelope}");
    let message = envelope["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "rate_limiting_interval: must be 1 to 86400 seconds while rate_limiting_limit is 10"
        ),
        "{message}"
    );

    // Setting only the limit on a gateway whose window is 0 is the same mistake; nothing changes.
    gw.create_gateway(serde_json::json!({"id": "open"})).await;
    let (status, _) = gw
        .admin(
            reqwest::Method::PUT,
            "/accounts/local/ai-gateway/gateways/open",
            Some(serde_json::json!({"rate_limiting_limit": 5})),
        )
        .await;
    assert_eq!(status, 400);
    let (_, fetched) = gw
        .admin(
            reqwest::Method::GET,
            "/accounts/local/ai-gateway/gateways/open",
            None,
        )
        .await;
    assert_eq!(fetched["result"]["rate_limiting_limit"], 0);
}
