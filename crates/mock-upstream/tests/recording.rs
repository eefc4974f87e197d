//! Request recording and the `/__mock/*` control API.

mod common;

use std::time::Duration;

use common::{client, post};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tollgate_mock_upstream::MockUpstream;

const GUARD: Duration = Duration::from_secs(10);

#[tokio::test]
async fn records_method_raw_path_headers_and_body() {
    let mock = MockUpstream::start().await.unwrap();
    // A raw socket, so that no client library can normalise the path on the way.
    let body = r#"{"model":"m","messages":[]}"#;
    let request = format!(
        "POST /v1//chat/../completions?b=2&a=%2F&a=3 HTTP/1.1\r\nHost: example.test\r\n\
         X-Custom: One\r\nAuthorization: Bearer sk-✓\r\nX-Custom: Two\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(mock.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(GUARD, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with(b"HTTP/1.1 404"));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let recorded = &requests[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(
        recorded.path_and_query,
        "/v1//chat/../completions?b=2&a=%2F&a=3"
    );
    assert_eq!(recorded.body, body.as_bytes());
    let names: Vec<&str> = recorded.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "host",
            "x-custom",
            "x-custom",
            "authorization",
            "content-length",
            "connection"
        ]
    );
    assert_eq!(recorded.header("X-CUSTOM"), Some("One"));
    assert_eq!(recorded.header("authorization"), Some("Bearer sk-✓"));
    assert_eq!(recorded.header("missing"), None);
}

#[tokio::test]
async fn counts_clears_and_waits() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/models", mock.url());
    let waiting = async {
        mock.wait_for_requests(3).await;
        mock.request_count()
    };
    let sending = async {
        for _ in 0..3 {
            client().get(&url).send().await.unwrap();
        }
    };
    let (count, ()) = timeout(GUARD, async { tokio::join!(waiting, sending) })
        .await
        .unwrap();
    assert!(count >= 3);
    assert_eq!(mock.requests().len(), 3);

    mock.clear_requests();
    assert!(mock.requests().is_empty());
    assert_eq!(mock.request_count(), 3);
    client().get(&url).send().await.unwrap();
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(mock.request_count(), 4);
    // Already satisfied: returns at once.
    timeout(GUARD, mock.wait_for_requests(2)).await.unwrap();
}

#[tokio::test]
async fn recording_can_be_switched_off() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_recording(false);
    client()
        .get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .unwrap();
    assert!(mock.requests().is_empty());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn control_api_lists_and_clears_requests_without_recording_itself() {
    let mock = MockUpstream::start().await.unwrap();
    post(
        &format!("{}/v1/chat/completions?k=v", mock.url()),
        &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;

    let listed: Value = client()
        .get(format!("{}/__mock/requests", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["method"], "POST");
    assert_eq!(listed[0]["path_and_query"], "/v1/chat/completions?k=v");
    let body: Value = serde_json::from_str(listed[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["messages"][0]["content"], "hi");
    assert!(
        listed[0]["headers"]
            .as_array()
            .unwrap()
            .contains(&json!(["content-type", "application/json"]))
    );

    let count: Value = client()
        .get(format!("{}/__mock/count", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["total"], 1);

    let cleared = client()
        .delete(format!("{}/__mock/requests", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    assert!(mock.requests().is_empty());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn control_api_queues_behaviors() {
    let mock = MockUpstream::start().await.unwrap();
    let queued = client()
        .post(format!("{}/__mock/behaviors", mock.url()))
        .json(&json!([
            {"status": 502, "headers": [["retry-after", "2"]], "times": 2},
            {"status": 400, "body": "{\"error\":\"custom\"}"},
            {"end_after_chunks": 1},
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 200);
    let queued: Value = queued.json().await.unwrap();
    assert_eq!(queued["queued"], 4);

    let url = format!("{}/v1/chat/completions", mock.url());
    let chat = |stream: bool| json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "x"}]});
    for _ in 0..2 {
        let response = post(&url, &chat(false)).await;
        assert_eq!(response.status(), 502);
        assert_eq!(response.headers()["retry-after"], "2");
    }
    let response = post(&url, &chat(false)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.text().await.unwrap(), r#"{"error":"custom"}"#);
    let streamed = post(&url, &chat(true)).await.text().await.unwrap();
    assert_eq!(streamed.matches("\n\n").count(), 1);
    assert_eq!(post(&url, &chat(false)).await.status(), 200);
}

#[tokio::test]
async fn control_api_rejects_unknown_fields() {
    let mock = MockUpstream::start().await.unwrap();
    let response = client()
        .post(format!("{}/__mock/behaviors", mock.url()))
        .json(&json!([{"stauts": 500}]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stauts")
    );
    assert_eq!(mock.request_count(), 0);
}
