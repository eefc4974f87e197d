//! The bad-input rows of the reliability plan that apply to Tollgate, and the server's
//! limits (docs/reliability.md): each case gets its status and error code, the mock upstream sees
//! nothing it should not, and the gateway keeps serving afterwards. Wire-level cases are raw TCP
//! so no client library tidies them up first. IN-13/IN-14 (paths, absolute form) are in guard.rs.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_mock_upstream::Behavior;

use crate::support::{TestGateway, chat_body, gateway_error_code};
use tollgate_gateway::clock::monotonic_now;

const CHAT: &str = "/v1/local/default/openai/chat/completions";
const COMPAT: &str = "/v1/local/default/compat/chat/completions";
const UNIVERSAL: &str = "/v1/local/default";

/// Every raw exchange ends within this, or the test fails instead of hanging.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// Short timeouts and small limits, so each case runs in well under a second.
const LIMITS: &str = "[limits]
header_read_timeout_ms = 400
body_idle_timeout_ms = 300
body_timeout_ms = 5000
max_uri_bytes = 2048
max_header_bytes = 16384
max_headers = 40
";

async fn gateway() -> TestGateway {
    TestGateway::with_config("max_body_bytes = 65536", LIMITS).await
}

/// Writes `bytes`, then reads until the gateway closes the connection.
async fn exchange(gw: &TestGateway, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    // The gateway may answer and close before taking every byte (an early 413): not an error.
    let _ = stream.write_all(bytes).await;
    read_to_close(&mut stream).await
}

async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let read = tokio::time::timeout(HANG_GUARD, async {
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the gateway neither answered nor closed");
    String::from_utf8_lossy(&response).into_owned()
}

/// The status of every response in a raw exchange, in order.
fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
        .collect()
}

/// The error code of the first response, checking the envelope on the way.
fn first_code(text: &str) -> u64 {
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body = &body[..body.find("HTTP/1.1 ").unwrap_or(body.len())];
    let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    gateway_error_code(&json)
}

fn post_head(target: &str, extra: &str) -> String {
    format!("POST {target} HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\n{extra}")
}

fn chat_json() -> String {
    chat_body(false).to_string()
}

/// A request with a correct Content-Length; the connection closes after it.
fn post(target: &str, extra: &str, body: &str) -> String {
    format!(
        "{}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        post_head(target, extra),
        body.len()
    )
}

async fn send_json(
    gw: &TestGateway,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
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
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The gateway still serves a normal request (nothing above broke it).
async fn still_serves(gw: &TestGateway) {
    let (status, body) = send_json(gw, CHAT, &[], chat_json().into_bytes()).await;
    assert_eq!(status, 200, "{body}");
}

// IN-01, IN-03, IN-05: JSON the gateway itself parses (compat and universal endpoints) is
// refused with 400 (2014) before anything goes upstream; depth bombs do not overflow the stack.
#[tokio::test]
async fn malformed_json_on_parsing_endpoints_is_400() {
    let gw = gateway().await;
    let depth_bomb = "[".repeat(60_000);
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"model":"openai/gpt-4o-mini","messages":["#.to_vec(),
        depth_bomb.clone().into_bytes(),
        format!(r#"{{"model":"openai/gpt-4o-mini","messages":{}"#, "{\"a\":".repeat(12_000))
            .into_bytes(),
        b"{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"\xC3\x28\"}]}"
            .to_vec(),
        br#"{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"\ud800"}]}"#
            .to_vec(),
        Vec::new(),
    ];
    for path in [COMPAT, UNIVERSAL] {
        for body in &bodies {
            let started = monotonic_now();
            let (status, envelope) = send_json(&gw, path, &[], body.clone()).await;
            let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
            assert_eq!(status, 400, "{path} {shown}: {envelope}");
            assert_eq!(gateway_error_code(&envelope), 2014, "{path} {shown}");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{path} {shown} was slow"
            );
        }
    }
    assert_eq!(gw.mock.request_count(), 0);
    still_serves(&gw).await;
}

// IN-02, IN-04: the gateway reads `model` from compat bodies. A wrong type is refused; with
// duplicate keys the gateway re-serialises the body, so the provider sees exactly the value the
// gateway routed on (no desync between what is checked and what is sent).
#[tokio::test]
async fn compat_fields_the_gateway_reads_are_checked_and_never_desync() {
    let gw = gateway().await;
    for body in [
        json!({"model": 123, "messages": [{"role": "user", "content": "hi"}]}),
        json!({"messages": [{"role": "user", "content": "hi"}]}),
        json!([1, 2, 3]),
    ] {
        let (status, envelope) = send_json(&gw, COMPAT, &[], body.to_string().into_bytes()).await;
        assert_eq!(status, 400, "{body}: {envelope}");
    }
    assert_eq!(gw.mock.request_count(), 0);

    let duplicate = r#"{"model":"openai/cheap","model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let (status, envelope) = send_json(&gw, COMPAT, &[], duplicate.as_bytes().to_vec()).await;
    assert_eq!(status, 200, "{envelope}");
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 1);
    let sent = String::from_utf8_lossy(&seen[0].body).into_owned();
    assert_eq!(sent.matches("\"model\"").count(), 1, "{sent}");
    let sent: Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
}

// IN-06, IN-17, IN-19: provider routes forward bodies untouched (the provider validates them);
// NUL and control characters, markup and out-of-range numbers reach the upstream byte for byte
// and the log row keeps them.
#[tokio::test]
async fn provider_bodies_pass_through_byte_for_byte_and_are_logged() {
    let gw = gateway().await;
    let body = r#"{"model":"gpt-4o-mini","max_tokens":-1,"n":1000000,"messages":[{"role":"user","content":"nul \u0000 bell \u0007 esc \u001b[31m <img src=x onerror=alert(1)> \n{\"level\":\"INFO\"}"}]}"#;
    let response = gw
        .http
        .post(gw.url(CHAT))
        .header("content-type", "application/json")
        .header(
            "cf-aig-metadata",
            r#"{"note":"<img src=x onerror=alert(1)>"}"#,
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.as_ref(), body.as_bytes());
    let row = gw.log_row("default", &log_id).await.expect("log row");
    assert_eq!(
        row.metadata.as_deref(),
        Some(r#"{"note":"<img src=x onerror=alert(1)>"}"#)
    );

    // A number no f64 holds is the provider's to refuse (the mock does, with its own 400).
    gw.mock.clear_requests();
    let huge = r#"{"model":"gpt-4o-mini","temperature":1e400,"messages":[]}"#;
    let (_, answer) = send_json(&gw, CHAT, &[], huge.as_bytes().to_vec()).await;
    assert_ne!(answer["name"], "AiGatewayError", "{answer}");
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.as_ref(), huge.as_bytes());
}

// IN-07: a declared length over the limit is refused from the head alone, before the body.
#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_it_is_read() {
    let gw = gateway().await;
    let head = format!(
        "{}Content-Length: 34603008\r\n\r\n{{\"model\":",
        post_head(CHAT, "")
    );
    let text = exchange(&gw, head.as_bytes()).await;
    assert_eq!(statuses(&text), vec![413], "{text}");
    assert_eq!(first_code(&text), 2011);
    assert_eq!(gw.mock.request_count(), 0);
}

// IN-08: a chunked body with no length stops being read once over the limit.
#[expect(
    clippy::disallowed_methods,
    reason = "the test's own slow client, joined before it ends"
)]
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let gw = gateway().await;
    let stream = TcpStream::connect(gw.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!("{}Transfer-Encoding: chunked\r\n\r\n", post_head(CHAT, ""));
    // 1 MiB offered against a 64 KiB limit, written while the answer is read: the gateway
    // answers and closes long before the end, and the writer then stops on the first error.
    let writing = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "a".repeat(16 * 1024));
        for _ in 0..64 {
            writer.write_all(chunk.as_bytes()).await?;
        }
        std::io::Result::Ok(())
    });
    let mut response = Vec::new();
    let _ = tokio::time::timeout(HANG_GUARD, reader.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    assert_eq!(statuses(&text), vec![413], "{text}");
    assert_eq!(first_code(&text), 2011);
    writing.abort();
    assert_eq!(gw.mock.request_count(), 0);
}

// IN-09: a body that stops arriving gets 408 (2022) and the connection is closed; bytes after
// the declared length are a new request, refused by the parser, never forwarded.
#[tokio::test]
async fn a_stalled_body_is_408_and_extra_bytes_are_never_forwarded() {
    let gw = gateway().await;
    let stalled = format!(
        "{}Content-Length: 100\r\n\r\n{}",
        post_head(CHAT, ""),
        "a".repeat(50)
    );
    let text = exchange(&gw, stalled.as_bytes()).await;
    assert_eq!(statuses(&text), vec![408], "{text}");
    assert_eq!(first_code(&text), 2022);
    assert_eq!(gw.mock.request_count(), 0);

    let body = format!(
        "{{\"model\":\"gpt-4o-mini\",\"pad\":\"{}\"}}",
        "p".repeat(68)
    );
    assert_eq!(body.len(), 100);
    let smuggled = format!(
        "{}Content-Length: 100\r\n\r\n{body}{}",
        post_head(CHAT, ""),
        "X".repeat(46) + "\r\n\r\n"
    );
    let text = exchange(&gw, smuggled.as_bytes()).await;
    assert_eq!(statuses(&text), vec![200, 400], "{text}");
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.as_ref(), body.as_bytes());
}

// Slowloris: a connection that does not finish its request head in time is closed, whether it
// sent part of the request line or nothing at all.
#[tokio::test]
async fn slow_request_heads_are_closed() {
    let gw = gateway().await;
    for partial in [
        "",
        "P",
        "POST /v1/local/default/openai/chat",
        "GET / HTTP/1.1\r\nHost: a\r\n",
    ] {
        let started = monotonic_now();
        let text = exchange(&gw, partial.as_bytes()).await;
        assert!(statuses(&text).is_empty(), "{partial:?}: {text}");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{partial:?} closed early"
        );
    }
    still_serves(&gw).await;
}

// IN-15: raw CR/LF or obs-fold in a header is refused by the parser; a JSON-escaped CR/LF in
// metadata is data, and never becomes an upstream header.
#[tokio::test]
async fn header_injection_never_reaches_the_upstream() {
    let gw = gateway().await;
    let body = chat_json();
    for extra in [
        "X-Note: a\rX-Injected: 1\r\n",
        "X-Note: a\r\n X-Injected: 1\r\n",
        "X-Note: a\r\n\tX-Injected: 1\r\n",
        "X-Note: a\0b\r\n",
    ] {
        let text = exchange(&gw, post(CHAT, extra, &body).as_bytes()).await;
        assert_eq!(statuses(&text), vec![400], "{extra:?}: {text}");
    }
    assert_eq!(gw.mock.request_count(), 0);

    let (status, envelope) = send_json(
        &gw,
        CHAT,
        &[("cf-aig-metadata", r#"{"note":"a\r\nX-Injected: 1"}"#)],
        body.clone().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{envelope}");
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-injected"), None);
    assert!(
        seen[0]
            .headers
            .iter()
            .all(|(name, _)| !name.starts_with("cf-aig"))
    );
}

// IN-16, IN-18: bad `cf-aig-*` values are 400 (2013) before anything goes upstream (docs/architecture.md).
#[tokio::test]
async fn bad_option_headers_are_400_before_the_upstream() {
    let gw = gateway().await;
    let long_key = format!(r#"{{"{}":1}}"#, "k".repeat(65));
    let long_value = format!(r#"{{"k":"{}"}}"#, "v".repeat(513));
    let cases: Vec<(&str, String)> = vec![
        ("cf-aig-metadata", "{bad".into()),
        ("cf-aig-metadata", r#"{"a":{"nested":1}}"#.into()),
        ("cf-aig-metadata", r#"{"a":[1]}"#.into()),
        ("cf-aig-metadata", r#"["a"]"#.into()),
        ("cf-aig-metadata", long_key),
        ("cf-aig-metadata", long_value),
        ("cf-aig-cache-ttl", "-1".into()),
        ("cf-aig-cache-ttl", "NaN".into()),
        ("cf-aig-cache-ttl", "Infinity".into()),
        ("cf-aig-cache-ttl", "1e309".into()),
        ("cf-aig-cache-ttl", "abc".into()),
        ("cf-aig-cache-ttl", "3.5".into()),
        ("cf-aig-cache-ttl", "".into()),
        ("cf-aig-cache-key", "k".repeat(257)),
        ("cf-aig-max-attempts", "0".into()),
        ("cf-aig-max-attempts", "6".into()),
        ("cf-aig-retry-delay", "5001".into()),
        ("cf-aig-request-timeout", "-5".into()),
        ("cf-aig-backoff", "sometimes".into()),
        ("cf-aig-collect-log", "yes".into()),
        ("cf-aig-custom-cost", r#"{"per_token_in":"free"}"#.into()),
        ("cf-aig-event-id", "e".repeat(129)),
    ];
    for (name, value) in &cases {
        let (status, envelope) = send_json(
            &gw,
            CHAT,
            &[(name, value.as_str())],
            chat_json().into_bytes(),
        )
        .await;
        assert_eq!(status, 400, "{name}: {value}: {envelope}");
        assert_eq!(gateway_error_code(&envelope), 2013, "{name}: {value}");
    }
    assert_eq!(gw.mock.request_count(), 0);
    // The edges that are allowed: 0 means "do not cache", a larger TTL is clamped (docs/architecture.md), and
    // extra metadata entries are dropped.
    for (name, value) in [
        ("cf-aig-cache-ttl", "0"),
        ("cf-aig-cache-ttl", "99999999"),
        ("cf-aig-cache-ttl", "9223372036854775808"),
        (
            "cf-aig-metadata",
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}"#,
        ),
    ] {
        let (status, envelope) =
            send_json(&gw, CHAT, &[(name, value)], chat_json().into_bytes()).await;
        assert_eq!(status, 200, "{name}: {value}: {envelope}");
    }
}

// IN-12, IN-25: unknown providers are 400 (2008) with nothing sent anywhere, and
// look-alike names are not normalised onto a real provider.
#[tokio::test]
async fn unknown_and_look_alike_providers_are_refused() {
    let gw = gateway().await;
    for path in [
        "/v1/local/default/nope/v1/chat/completions",
        "/v1/local/default/OpenAI/chat/completions",
    ] {
        let (status, envelope) = send_json(&gw, path, &[], chat_json().into_bytes()).await;
        assert_eq!(status, 400, "{path}: {envelope}");
        assert!(
            [2008, 2012].contains(&gateway_error_code(&envelope)),
            "{path}"
        );
    }
    for model in [
        "nope/x",
        "open\u{0430}i/gpt-4o-mini",
        "openai\u{202e}/gpt-4o-mini",
    ] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        let (status, envelope) = send_json(&gw, COMPAT, &[], body.to_string().into_bytes()).await;
        assert_eq!(status, 400, "{model}: {envelope}");
        assert_eq!(gateway_error_code(&envelope), 2008, "{model}");
    }
    // A raw non-ASCII byte in the path is refused by the parser or the guard.
    let text = exchange(
        &gw,
        post("/v1/local/default/open\u{0430}i/chat", "", "{}").as_bytes(),
    )
    .await;
    assert_eq!(statuses(&text), vec![400], "{text}");
    assert_eq!(gw.mock.request_count(), 0);
}

// IN-20: head limits. Just over the configured ones gets the error envelope (414/431, codes
// 2023/2018); far over them, hyper's parser refuses the head itself without buffering it.
#[tokio::test]
async fn oversized_heads_are_414_and_431() {
    let gw = gateway().await;
    let body = chat_json();
    let long_target = format!("{CHAT}?pad={}", "q".repeat(2100));
    let text = exchange(&gw, post(&long_target, "", &body).as_bytes()).await;
    assert_eq!(
        statuses(&text),
        vec![414],
        "{}",
        &text[..text.len().min(300)]
    );
    assert_eq!(first_code(&text), 2023);

    let many: String = (0..41).map(|i| format!("X-H{i}: v\r\n")).collect();
    let large = format!("X-Big: {}\r\n", "b".repeat(17_000));
    for extra in [&many, &large] {
        let text = exchange(&gw, post(CHAT, extra, &body).as_bytes()).await;
        assert_eq!(
            statuses(&text),
            vec![431],
            "{}",
            &text[..text.len().min(300)]
        );
        assert_eq!(first_code(&text), 2018);
    }
    let huge = format!("X-Huge: {}\r\n", "h".repeat(100 * 1024));
    let text = exchange(&gw, post(CHAT, &huge, &body).as_bytes()).await;
    assert_eq!(
        statuses(&text),
        vec![431],
        "{}",
        &text[..text.len().min(300)]
    );
    let request_line = format!("{CHAT}?pad={}", "q".repeat(16 * 1024));
    let text = exchange(&gw, post(&request_line, "", &body).as_bytes()).await;
    assert!(
        [414, 431].contains(&statuses(&text)[0]),
        "{}",
        &text[..text.len().min(300)]
    );
    assert_eq!(gw.mock.request_count(), 0);
    still_serves(&gw).await;
}

// IN-23: request smuggling. Every framing the parser cannot read unambiguously is refused and
// the connection closed; where one reading is accepted, exactly one upstream request results.
#[tokio::test]
async fn ambiguous_framing_is_refused_and_never_doubles_a_request() {
    let gw = gateway().await;
    let body = chat_json();
    let len = body.len();
    let chunked = format!("{len:x}\r\n{body}\r\n0\r\n\r\n");
    let refused: Vec<String> = vec![
        // Chunked twice.
        format!(
            "{}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}",
            post_head(CHAT, "")
        ),
        // Two different lengths.
        format!(
            "{}Content-Length: {len}\r\nContent-Length: 5\r\n\r\n{body}",
            post_head(CHAT, "")
        ),
        format!(
            "{}Content-Length: +{len}\r\n\r\n{body}",
            post_head(CHAT, "")
        ),
        // Transfer codings the server does not know, or chunked not last.
        format!(
            "{}Transfer-Encoding: xchunked\r\n\r\n{chunked}",
            post_head(CHAT, "")
        ),
        format!(
            "{}Transfer-Encoding: chunked, identity\r\n\r\n{chunked}",
            post_head(CHAT, "")
        ),
        // Bad chunk sizes and an oversized chunk extension.
        format!(
            "{}Transfer-Encoding: chunked\r\n\r\n0x10\r\n{}\r\n0\r\n\r\n",
            post_head(CHAT, ""),
            "a".repeat(16)
        ),
        format!(
            "{}Transfer-Encoding: chunked\r\n\r\n{}\r\n{body}\r\n0\r\n\r\n",
            post_head(CHAT, ""),
            "0".repeat(16) + "1"
        ),
        format!(
            "{}Transfer-Encoding: chunked\r\n\r\n{len:x};ext={}\r\n{body}\r\n0\r\n\r\n",
            post_head(CHAT, ""),
            "e".repeat(64 * 1024)
        ),
    ];
    for request in &refused {
        let text = exchange(&gw, request.as_bytes()).await;
        let got = statuses(&text);
        assert!(
            matches!(got.as_slice(), [400] | [501]),
            "{}: {text}",
            &request[..request.len().min(200)]
        );
    }
    assert_eq!(gw.mock.request_count(), 0);

    // Bare LF line ends (RFC 9112 §2.2 lets a server accept them; Tollgate re-frames what it
    // sends upstream) and an Upgrade on a POST (only a bodiless GET handshake is upgraded):
    // each is exactly one request upstream, whose body is the one sent, with no Upgrade header.
    let accepted_once: Vec<String> = vec![
        post(CHAT, "", &body).replace("\r\n", "\n"),
        post(CHAT, "Upgrade: websocket\r\nConnection: Upgrade\r\n", &body),
    ];
    for request in &accepted_once {
        gw.mock.clear_requests();
        let text = exchange(&gw, request.as_bytes()).await;
        let got = statuses(&text);
        let seen = gw.mock.requests();
        assert_eq!(got, vec![200], "{request:?}: {text}");
        assert_eq!(seen.len(), 1, "{request:?}");
        assert_eq!(seen[0].body.as_ref(), body.as_bytes(), "{request:?}");
        assert_eq!(seen[0].header("upgrade"), None);
    }
}

// IN-23: `Content-Length` with `Transfer-Encoding`, in either order, is 400 (2013) and closes the
// connection: hyper drops the length before any middleware runs, so the gateway finds these on
// the raw bytes. Neither the request nor one smuggled behind it reaches the upstream, also when
// it comes after an ordinary request on a kept-alive connection.
#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_and_never_processed() {
    let gw = gateway().await;
    let body = chat_json();
    let len = body.len();
    let chunked = format!("{len:x}\r\n{body}\r\n0\r\n\r\n");
    let smuggled = post(CHAT, "", &body);
    for framing in [
        format!("Content-Length: {len}\r\nTransfer-Encoding: chunked\r\n"),
        format!("Transfer-Encoding: chunked\r\nContent-Length: {len}\r\n"),
        "content-length: 4\r\ntransfer-encoding: chunked\r\n".to_owned(),
    ] {
        let ambiguous = format!("{}{framing}\r\n{chunked}", post_head(CHAT, ""));
        let text = exchange(&gw, format!("{ambiguous}{smuggled}").as_bytes()).await;
        assert_eq!(statuses(&text), vec![400], "{framing:?}: {text}");
        assert_eq!(first_code(&text), 2013, "{text}");
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{text}"
        );
        assert!(gw.mock.requests().is_empty(), "{framing:?}");

        // Behind an ordinary chunked request on the same connection: that one is served, the
        // ambiguous one refused, the smuggled one never read.
        let ordinary = format!(
            "{}Transfer-Encoding: chunked\r\n\r\n{chunked}",
            post_head(CHAT, "")
        );
        let text = exchange(&gw, format!("{ordinary}{ambiguous}{smuggled}").as_bytes()).await;
        assert_eq!(statuses(&text), vec![200, 400], "{framing:?}: {text}");
        assert_eq!(gw.mock.requests().len(), 1, "{framing:?}");
        gw.mock.clear_requests();
    }

    // Pipelined requests with one framing header each all reach the upstream, bodies intact:
    // bodies that look like an ambiguous head are bodies (the mock answers 400 to the non-JSON).
    let lookalike = format!("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
    let lookalike_chunked = format!(
        "{}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{lookalike}\r\n0\r\n\r\n",
        post_head(CHAT, ""),
        lookalike.len()
    );
    let lookalike_length = format!(
        "{}Content-Length: {}\r\n\r\n{lookalike}",
        post_head(CHAT, ""),
        lookalike.len()
    );
    let text = exchange(
        &gw,
        format!("{lookalike_chunked}{lookalike_length}{smuggled}").as_bytes(),
    )
    .await;
    assert_eq!(statuses(&text), vec![400, 400, 200], "{text}");
    assert!(!text.contains("2013"), "{text}");
    let seen = gw.mock.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].body.as_ref(), lookalike.as_bytes());
    assert_eq!(seen[1].body.as_ref(), lookalike.as_bytes());
    assert_eq!(seen[2].body.as_ref(), body.as_bytes());
    still_serves(&gw).await;
}

// IN-21: CONNECT never opens a tunnel.
#[tokio::test]
async fn connect_never_tunnels() {
    let gw = gateway().await;
    let mock = gw.mock.addr();
    let text = exchange(
        &gw,
        format!("CONNECT {mock} HTTP/1.1\r\nHost: {mock}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    let got = statuses(&text);
    assert!(!got.is_empty() && got[0] >= 400, "{text}");
    assert_eq!(gw.mock.request_count(), 0);
}

// IN-22: credentials in every malformed shape are 401 on an authenticated gateway.
#[tokio::test]
async fn malformed_gateway_credentials_are_401() {
    let gw = gateway().await;
    gw.create_gateway(json!({"id": "locked", "authentication": true}))
        .await;
    let path = "/v1/local/locked/openai/chat/completions";
    let long = format!("Bearer {}", "k".repeat(10 * 1024));
    for value in [
        None,
        Some("Bearer "),
        Some("Bearer"),
        Some("Basic dXNlcjpwYXNz"),
        Some(long.as_str()),
        Some("Bearer tgr_x "),
    ] {
        let headers: Vec<(&str, &str)> = value
            .map(|v| vec![("cf-aig-authorization", v)])
            .unwrap_or_default();
        let (status, envelope) = send_json(&gw, path, &headers, chat_json().into_bytes()).await;
        let shown = value.map(|v| &v[..v.len().min(40)]);
        assert_eq!(status, 401, "{shown:?}: {envelope}");
        assert_eq!(gateway_error_code(&envelope), 2009);
    }
    let text = exchange(
        &gw,
        post(
            path,
            "cf-aig-authorization: Bearer a\r\ncf-aig-authorization: Bearer b\r\n",
            &chat_json(),
        )
        .as_bytes(),
    )
    .await;
    // The last one is the credential; both are wrong here.
    assert_eq!(statuses(&text), vec![401], "{text}");
    assert_eq!(gw.mock.request_count(), 0);
}

// IN-24 (what a client library can send): HTTP/2 with prior knowledge is served with the same
// rules, and its header limits give the same answers.
#[tokio::test]
async fn http2_is_served_with_the_same_limits() {
    let gw = gateway().await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = h2
        .post(gw.url(CHAT))
        .header("content-type", "application/json")
        .body(chat_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let mut request = h2.post(gw.url(CHAT)).body(chat_json());
    for i in 0..41 {
        request = request.header(format!("x-h{i}"), "v");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 431);
    let envelope: Value = response.json().await.unwrap();
    assert_eq!(gateway_error_code(&envelope), 2018);
    assert_eq!(gw.mock.request_count(), 1);
}

// Connection cap: past `max_connections` a new connection is closed at accept, unanswered, and
// counted; once a slot frees, connections are served again.
#[tokio::test]
async fn connections_over_the_cap_are_closed_at_accept() {
    let gw = TestGateway::with_config("", "[limits]\nmax_connections = 2\n").await;
    // Two kept-alive connections, each proven accepted by an answered request.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(gw.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 1024];
        let n = tokio::time::timeout(HANG_GUARD, stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let mut refused = 0;
    let health = b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert_eq!(
        exchange(&gw, health).await,
        "",
        "a third connection got an answer"
    );
    refused += 1;
    drop(held);
    // The slots free as the server sees the two connections close.
    let served = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let text = exchange(&gw, health).await;
            if !text.is_empty() {
                return text;
            }
            refused += 1;
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a freed slot serves again");
    assert_eq!(statuses(&served), vec![200]);
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("tollgate_connections_refused_total {refused}")),
        "{metrics}"
    );
}

// Load shedding: past `max_in_flight` (an open stream counts until it ends) a request gets 503
// (2019) with Retry-After at once; health answers; the slot frees when the stream ends.
#[tokio::test]
async fn requests_over_the_in_flight_cap_are_shed_with_503() {
    let gw = TestGateway::with_config("", "[limits]\nmax_in_flight = 1\n").await;
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    gw.mock
        .push(Behavior::pause_after_first_chunk(release.clone()));
    let mut stream = gw
        .http
        .post(gw.url(CHAT))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some());

    let (status, envelope) = send_json(&gw, CHAT, &[], chat_json().into_bytes()).await;
    assert_eq!(status, 503, "{envelope}");
    assert_eq!(gateway_error_code(&envelope), 2019);
    let response = gw
        .http
        .post(gw.url(CHAT))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let health = gw.http.get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tollgate_requests_shed_total 2"),
        "{metrics}"
    );

    release.notify_one();
    while stream.chunk().await.unwrap().is_some() {}
    drop(stream);
    // The slot frees when the server drops the finished response body.
    let served = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let (status, _) = send_json(&gw, CHAT, &[], chat_json().into_bytes()).await;
            if status != 503 {
                return status;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(served.ok(), Some(200));
    assert_eq!(gw.mock.request_count(), 2);
}
