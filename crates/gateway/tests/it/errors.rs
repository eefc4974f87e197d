//! Gateway-made errors: the §5 envelope with the right code and status, and nothing upstream.

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
    let (status, body, _) = call(&gw, "/v1/local/default/groq/chat/completions", &[], chat()).await;
    assert_eq!((status, gateway_error_code(&body)), (502, 2005));
    assert!(
        !body.to_string().contains(&closed.to_string()),
        "no internal detail: {body}"
    );
}
