//! Analytics (docs/analytics.md): a known mix of requests comes back as exact totals, per group and per
//! interval, with percentiles within the sketch's error of the true values.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::analytics::RELATIVE_ERROR;

use crate::support::{TestGateway, chat_body};
use tollgate_gateway::convert::signed_as_f64;

/// A test that waits on the gateway fails after this instead of hanging.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// Usage as the client saw it in the response: (prompt tokens, completion tokens).
fn usage_of(text: &str) -> (u64, u64) {
    let value = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim_start_matches("data: ")).ok())
        .chain(serde_json::from_str::<Value>(text).ok())
        .rfind(|v| v.get("usage").is_some_and(|u| !u.is_null()))
        .map(|v| v["usage"].clone())
        .unwrap_or(Value::Null);
    let field = |names: &[&str]| names.iter().find_map(|n| value[*n].as_u64()).unwrap_or(0);
    (
        field(&["prompt_tokens", "input_tokens"]),
        field(&["completion_tokens", "output_tokens"]),
    )
}

async fn analytics(gw: &TestGateway, query: &str) -> Value {
    let (status, body) = gw
        .admin(
            Method::GET,
            &format!("/accounts/local/ai-gateway/analytics?{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

#[tokio::test]
async fn a_known_mix_adds_up_exactly() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "mix"})).await;
    let chat = "/v1/local/mix/openai/chat/completions";
    let mut streamed = chat_body(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "four words right here"}]});
    let mut cached_body = chat_body(false);
    cached_body["messages"][0]["content"] = json!("cache me once");
    // (path, headers, body, expected status)
    type Step<'a> = (&'a str, Vec<(&'a str, &'a str)>, Value, u16);
    let plan: Vec<Step> = [
        vec![(chat, vec![], chat_body(false), 200); 5],
        vec![(chat, vec![], streamed.clone(), 200); 3],
        vec![(chat, vec![("x-mock-status", "500")], chat_body(false), 500); 2],
        vec![
            (
                chat,
                vec![("cf-aig-cache-ttl", "soon")],
                chat_body(false),
                400
            );
            2
        ],
        vec![
            (
                chat,
                vec![("cf-aig-collect-log", "false")],
                chat_body(false),
                200
            );
            3
        ],
        vec![(
            "/v1/local/mix/anthropic/v1/messages",
            vec![],
            anthropic,
            200,
        )],
        // A MISS then a HIT: the HIT counts as a cached request with no tokens.
        vec![(chat, vec![("cf-aig-cache-ttl", "60")], cached_body, 200); 2],
    ]
    .concat();
    let (mut tokens_in, mut tokens_out) = (0, 0);
    for (path, headers, body, status) in &plan {
        let mut request = gw.http.post(gw.url(path)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), *status, "{path} {headers:?}");
        let hit = response
            .headers()
            .get("cf-aig-cache-status")
            .is_some_and(|v| v == "HIT");
        let (input, output) = if *status == 200 && !hit {
            usage_of(&response.text().await.unwrap())
        } else {
            (0, 0)
        };
        tokens_in += input;
        tokens_out += output;
    }
    // Rows exist only for logged requests; analytics count every one.
    let result = analytics(&gw, "gateway_id=mix").await;
    let totals = &result["totals"];
    assert_eq!(totals["requests"], 18, "{result}");
    assert_eq!(totals["errors"], 4);
    assert_eq!(totals["cached_requests"], 1);
    assert_eq!(totals["tokens_in"], tokens_in);
    assert_eq!(totals["tokens_out"], tokens_out);
    assert!(totals["cost"].as_f64().unwrap() > 0.0);
    let summed: u64 = result["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(summed, 18, "the points add up to the totals");

    let by_status = analytics(&gw, "gateway_id=mix&group_by=status").await;
    let count = |result: &Value, key: &str, value: &str| -> u64 {
        result["series"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["group"][key] == value)
            .flat_map(|s| {
                s["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["requests"].as_u64().unwrap())
            })
            .sum()
    };
    assert_eq!(
        (
            count(&by_status, "status", "2xx"),
            count(&by_status, "status", "4xx"),
            count(&by_status, "status", "5xx")
        ),
        (14, 2, 2)
    );
    let by_provider = analytics(&gw, "gateway_id=mix&group_by=provider").await;
    assert_eq!(
        (
            count(&by_provider, "provider", "openai"),
            count(&by_provider, "provider", "anthropic")
        ),
        (17, 1)
    );
    let by_model = analytics(&gw, "gateway_id=mix&group_by=model&provider=anthropic").await;
    assert_eq!(count(&by_model, "model", "claude-sonnet-4-5"), 1);

    // Account-wide includes other gateways; deleting log rows changes nothing.
    let _ = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    let all = analytics(&gw, "group_by=gateway").await;
    assert_eq!(all["totals"]["requests"], 19);
    assert_eq!(count(&all, "gateway", "default"), 1);
    let (status, _) = gw
        .admin(
            Method::DELETE,
            "/accounts/local/ai-gateway/gateways/mix/logs",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        analytics(&gw, "gateway_id=mix").await["totals"]["requests"],
        18
    );
}

/// A request that leaves no log row is counted in memory and stored with the shipper's next
/// batch: nothing of it goes through the spool (docs/analytics.md, "Durability of requests
/// without a log row").
#[tokio::test]
async fn requests_without_a_row_are_counted_without_spool_records() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "quiet", "collect_logs": false}))
        .await;
    let spooled = gw.state.logs().spool_bytes();
    let chat = gw.url("/v1/local/quiet/openai/chat/completions");
    for _ in 0..5 {
        let response = gw.http.post(&chat).json(&chat_body(false)).send().await;
        assert_eq!(response.unwrap().status(), 200);
    }
    // Refused before it went upstream: counted, never logged.
    let refused = gw
        .http
        .post(&chat)
        .header("cf-aig-cache-ttl", "soon")
        .json(&chat_body(false))
        .send()
        .await;
    assert_eq!(refused.unwrap().status(), 400);
    let totals = analytics(&gw, "gateway_id=quiet").await["totals"].clone();
    assert_eq!(
        (totals["requests"].as_u64(), totals["errors"].as_u64()),
        (Some(6), Some(1)),
        "{totals}"
    );
    assert!(totals["tokens_out"].as_u64().is_some_and(|t| t > 0));
    assert_eq!(
        gw.state.logs().spool_bytes(),
        spooled,
        "no spool record for requests without a row"
    );
}

#[tokio::test]
async fn percentiles_are_within_the_sketch_error_of_the_truth() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "timed"})).await;
    let mut ids = Vec::new();
    let mut requests = Vec::new();
    for i in 0..60u32 {
        let delay = (i * 37 % 61).to_string();
        let request = gw
            .http
            .post(gw.url("/v1/local/timed/openai/chat/completions"))
            .header("x-mock-delay-ms", delay)
            .json(&chat_body(false))
            .send();
        requests.push(request);
    }
    for response in futures_util::future::join_all(requests).await {
        let response = response.unwrap();
        ids.push(
            response.headers()["cf-aig-log-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        let _ = response.bytes().await;
    }
    let mut durations = Vec::new();
    for id in &ids {
        durations.push(signed_as_f64(
            gw.log_row("timed", id).await.unwrap().duration_ms.unwrap(),
        ));
    }
    durations.sort_by(f64::total_cmp);
    let totals = analytics(&gw, "gateway_id=timed").await["totals"].clone();
    for (q, field) in [
        (0.50, "duration_p50"),
        (0.95, "duration_p95"),
        (0.99, "duration_p99"),
    ] {
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a rank among a few hundred samples"
        )]
        let truth = durations[(q * (durations.len() as f64 - 1.0)) as usize];
        let got = totals[field].as_f64().unwrap();
        // The sketch's error, plus the two decimals the API rounds to.
        assert!(
            (got - truth).abs() <= truth * RELATIVE_ERROR + 0.01,
            "{field}: {got} vs true {truth}"
        );
    }
}

#[tokio::test]
async fn analytics_parameters_are_validated() {
    let gw = TestGateway::start().await;
    for (query, status) in [
        ("interval=week", 400),
        ("group_by=color", 400),
        ("start=yesterday", 400),
        ("start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", 400),
        (
            "start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z&interval=minute",
            400,
        ),
        ("gateway_id=nope", 404),
        (
            "start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z&interval=hour",
            200,
        ),
    ] {
        let (got, body) = gw
            .admin(
                Method::GET,
                &format!("/accounts/local/ai-gateway/analytics?{query}"),
                None,
            )
            .await;
        assert_eq!(got, status, "{query}: {body}");
    }
}

#[tokio::test]
async fn metrics_expose_the_same_counts() {
    let gw = TestGateway::start().await;
    for _ in 0..3 {
        let _ = gw
            .http
            .post(gw.url("/v1/local/default/openai/chat/completions"))
            .json(&chat_body(false))
            .send()
            .await
            .unwrap()
            .bytes()
            .await;
    }
    let _ = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .header("x-mock-status", "503")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    let response = gw.http.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    let route = r#"gateway="default",provider="openai",model="gpt-4o-mini""#;
    assert_eq!(
        value(&format!(
            r#"tollgate_requests_total{{{route},status="2xx",cache="miss"}}"#
        )),
        3.0
    );
    assert_eq!(
        value(&format!(
            r#"tollgate_requests_total{{{route},status="5xx",cache="miss"}}"#
        )),
        1.0
    );
    assert_eq!(
        value(&format!(
            r#"tollgate_errors_total{{{route},reason="upstream_status"}}"#
        )),
        1.0
    );
    assert_eq!(
        value(&format!("tollgate_upstream_attempts_total{{{route}}}")),
        4.0
    );
    assert_eq!(
        value(&format!(
            "tollgate_request_duration_seconds_count{{{route}}}"
        )),
        4.0
    );
    assert!(
        value(&format!(
            r#"tollgate_tokens_total{{{route},kind="output"}}"#
        )) > 0.0
    );
    assert!(value(&format!("tollgate_cost_usd_total{{{route}}}")) > 0.0);
    assert!(text.contains("tollgate_log_queue_depth"));
    assert!(!text.contains("sk-"), "no credentials in metrics");
    // No token needed.
    assert_eq!(
        gw.http
            .get(gw.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// An upstream that streams one whole completion, `[DONE]` included, then keeps the connection
/// open. Resolves the returned receiver once the gateway lets go of the connection, that is once
/// its relay finished with the request.
#[expect(
    clippy::disallowed_methods,
    reason = "a fake upstream for this test, which ends with the test's runtime"
)]
async fn stream_then_hold() -> (std::net::SocketAddr, tokio::sync::oneshot::Receiver<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (released, on_release) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = socket.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the gateway sent a whole request head");
            request.extend_from_slice(&buffer[..read]);
        }
        let events = concat!(
            r#"data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}"#,
            "\n\ndata: [DONE]\n\n"
        );
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{events}\r\n",
            events.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        // The body never ends: only the gateway dropping its side ends the connection.
        while matches!(socket.read(&mut buffer).await, Ok(read) if read > 0) {}
        let _ = released.send(());
    });
    (addr, on_release)
}

#[tokio::test]
async fn a_client_leaving_after_the_last_event_is_counted_once() {
    let (upstream, released) = stream_then_hold().await;
    let gw = TestGateway::with_config(
        "",
        &format!("[providers.groq]\nbase_url = \"http://{upstream}/openai/v1\"\n"),
    )
    .await;
    let response = gw
        .http
        .post(gw.url("/v1/local/default/groq/chat/completions"))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut stream = response.bytes_stream();
    let mut seen = Vec::new();
    tokio::time::timeout(HANG_GUARD, async {
        while !String::from_utf8_lossy(&seen).contains("[DONE]") {
            seen.extend_from_slice(&stream.next().await.unwrap().unwrap());
        }
    })
    .await
    .expect("the whole stream arrives");
    // The client has everything and leaves while the upstream connection is still open.
    drop(stream);
    tokio::time::timeout(HANG_GUARD, released)
        .await
        .expect("the gateway lets go of the upstream")
        .unwrap();
    // A second request: its end record is queued after anything the first one left behind.
    let _ = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let row = gw.log_row("default", &id).await.unwrap();
    assert_eq!((row.status_code, row.error), (Some(200), None));
    let totals = analytics(&gw, "gateway_id=default").await["totals"].clone();
    assert_eq!(
        (&totals["requests"], &totals["errors"]),
        (&json!(2), &json!(0)),
        "{totals}"
    );
}
