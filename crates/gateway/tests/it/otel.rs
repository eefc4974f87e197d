//! OpenTelemetry traces (docs/observability.md): spans as a real collector receives them (the
//! mock upstream, second instance, plays the collector; its OTLP bodies are decoded with the
//! OTLP protobuf and JSON definitions), trace context from the client and to the provider.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::{Value, json};
use tollgate_mock_upstream::{Behavior, MockUpstream};

use crate::support::{TestGateway, chat_body, gateway_error_code};

pub(crate) const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const CLIENT_SPAN: &str = "00f067aa0ba902b7";

pub(crate) fn client_traceparent() -> String {
    format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01")
}

/// A gateway exporting every request's spans to `collector` in protobuf.
async fn traced_gateway(collector: &MockUpstream, extra: &str) -> TestGateway {
    TestGateway::with_config(
        "",
        &format!(
            "[otel]\nendpoint = \"{}/v1/traces\"\ncontent_type = \"protobuf\"\n{extra}",
            collector.url()
        ),
    )
    .await
}

/// Every span the collector has received, decoded from each export's encoding.
pub(crate) fn received(collector: &MockUpstream) -> Vec<Span> {
    collector
        .requests()
        .iter()
        .filter(|request| request.path_and_query == "/v1/traces")
        .flat_map(|request| {
            let export = match request.header("content-type") {
                Some(kind) if kind.starts_with("application/x-protobuf") => {
                    ExportTraceServiceRequest::decode(request.body.as_ref()).unwrap()
                }
                _ => serde_json::from_slice(&request.body).unwrap(),
            };
            export
                .resource_spans
                .into_iter()
                .flat_map(|resource| resource.scope_spans)
                .flat_map(|scope| scope.spans)
        })
        .collect()
}

/// Waits until the gateway has handed `spans` spans to its collectors (exported or dropped).
pub(crate) async fn exported(gw: &TestGateway, spans: u64) {
    let counts = gw.state.telemetry().counts();
    tokio::time::timeout(Duration::from_secs(30), counts.handled_at_least(spans))
        .await
        .expect("spans are exported");
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.clone())
}

pub(crate) fn text(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key)? {
        AnyValue::StringValue(text) => Some(text),
        _ => None,
    }
}

fn int(span: &Span, key: &str) -> Option<i64> {
    match attribute(span, key)? {
        AnyValue::IntValue(value) => Some(value),
        _ => None,
    }
}

pub(crate) fn named<'s>(spans: &'s [Span], name: &str) -> Vec<&'s Span> {
    spans.iter().filter(|span| span.name == name).collect()
}

fn server_span(spans: &[Span]) -> &Span {
    let servers: Vec<_> = spans
        .iter()
        .filter(|span| span.kind == SpanKind::Server as i32)
        .collect();
    assert_eq!(servers.len(), 1, "{spans:#?}");
    servers[0]
}

async fn chat(gw: &TestGateway, headers: &[(&str, &str)], body: &Value) -> reqwest::Response {
    let mut request = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .bearer_auth("sk-test")
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_request_is_a_server_span_continuing_the_clients_trace_with_a_child_per_phase() {
    let collector = MockUpstream::start().await.unwrap();
    let gw = traced_gateway(&collector, "").await;
    let response = chat(
        &gw,
        &[
            ("traceparent", &client_traceparent()),
            (
                "cf-aig-metadata",
                r#"{"team":"search","gen_ai.request.model":"forged"}"#,
            ),
        ],
        &chat_body(false),
    )
    .await;
    assert_eq!(response.status(), 200);
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.bytes().await.unwrap();
    // admission, upstream attempt, the server span.
    exported(&gw, 3).await;
    let spans = received(&collector);
    assert_eq!(spans.len(), 3, "{spans:#?}");

    let server = server_span(&spans);
    assert_eq!(hex(&server.trace_id), CLIENT_TRACE);
    assert_eq!(hex(&server.parent_span_id), CLIENT_SPAN);
    assert_eq!(server.name, "chat gpt-4o-mini");
    assert_eq!(
        text(server, "gen_ai.operation.name").as_deref(),
        Some("chat")
    );
    assert_eq!(
        text(server, "gen_ai.request.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        text(server, "gen_ai.provider.name").as_deref(),
        Some("openai")
    );
    assert_eq!(int(server, "http.response.status_code"), Some(200));
    assert_eq!(
        text(server, "tollgate.gateway.id").as_deref(),
        Some("default")
    );
    assert_eq!(
        text(server, "tollgate.log_id").as_deref(),
        Some(log_id.as_str())
    );
    // Metadata keys are attributes, but cannot pose as the GenAI ones.
    assert_eq!(text(server, "team").as_deref(), Some("search"));
    assert_eq!(
        server
            .attributes
            .iter()
            .filter(|kv| kv.key == "gen_ai.request.model")
            .count(),
        1
    );
    // No bodies unless asked.
    assert_eq!(text(server, "gen_ai.prompt_json"), None);

    let row = gw.log_row("default", &log_id).await.unwrap();
    assert_eq!(row.trace_id.as_deref(), Some(CLIENT_TRACE));
    assert_eq!(int(server, "gen_ai.usage.input_tokens"), row.tokens_in);
    assert_eq!(int(server, "gen_ai.usage.output_tokens"), row.tokens_out);
    // The mock's answer ends with finish_reason "stop".
    let reasons = match attribute(server, "gen_ai.response.finish_reasons") {
        Some(AnyValue::ArrayValue(array)) => array
            .values
            .into_iter()
            .filter_map(|value| match value.value {
                Some(AnyValue::StringValue(reason)) => Some(reason),
                _ => None,
            })
            .collect::<Vec<_>>(),
        other => panic!("no finish reasons: {other:?}"),
    };
    assert_eq!(reasons, ["stop"]);
    assert!(text(server, "gen_ai.response.model").is_some());
    match (attribute(server, "gen_ai.usage.cost"), row.cost) {
        (Some(AnyValue::DoubleValue(cost)), Some(logged)) => assert!((cost - logged).abs() < 1e-12),
        (None, None) => {}
        other => panic!("cost attribute and row disagree: {other:?}"),
    }

    let admission = named(&spans, "admission");
    let attempts = named(&spans, "upstream attempt");
    assert_eq!((admission.len(), attempts.len()), (1, 1), "{spans:#?}");
    for child in [admission[0], attempts[0]] {
        assert_eq!(child.trace_id, server.trace_id);
        assert_eq!(child.parent_span_id, server.span_id);
        assert!(child.start_time_unix_nano >= server.start_time_unix_nano);
        assert!(child.end_time_unix_nano <= server.end_time_unix_nano);
    }
    assert_eq!(attempts[0].kind, SpanKind::Client as i32);
    assert_eq!(int(attempts[0], "tollgate.attempt"), Some(1));

    // The provider's spans would be children of the attempt's.
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(
        sent.header("traceparent"),
        Some(format!("00-{CLIENT_TRACE}-{}-01", hex(&attempts[0].span_id)).as_str())
    );
}

#[tokio::test]
async fn retries_are_attempt_spans_and_a_cache_hit_is_a_lookup_span() {
    let collector = MockUpstream::start().await.unwrap();
    let gw = traced_gateway(&collector, "").await;
    gw.create_gateway(json!({"id": "traced", "cache_ttl": 60, "retry_max_attempts": 2}))
        .await;
    gw.mock.push(Behavior::status(503));
    let send = || {
        gw.http
            .post(gw.url("/v1/local/traced/openai/chat/completions"))
            .bearer_auth("sk-test")
            .json(&chat_body(false))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    first.bytes().await.unwrap();
    // admission, cache lookup, two attempts, the server span.
    exported(&gw, 5).await;
    let spans = received(&collector);
    let attempts = named(&spans, "upstream attempt");
    let numbers: Vec<_> = attempts
        .iter()
        .map(|s| int(s, "tollgate.attempt"))
        .collect();
    assert_eq!(numbers, [Some(1), Some(2)], "{spans:#?}");
    assert_eq!(int(attempts[0], "http.response.status_code"), Some(503));
    assert_eq!(
        attempts[0].status.as_ref().map(|s| s.code),
        Some(2),
        "an error status"
    );
    let lookup = named(&spans, "cache lookup");
    assert_eq!(
        text(lookup[0], "tollgate.cache_status").as_deref(),
        Some("MISS")
    );

    collector.clear_requests();
    let second = send().await.unwrap();
    assert_eq!(second.headers()["cf-aig-cache-status"], "HIT");
    second.bytes().await.unwrap();
    exported(&gw, 5 + 3).await;
    let spans = received(&collector);
    let names: Vec<_> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"cache lookup") && names.contains(&"admission"),
        "{names:?}"
    );
    assert!(named(&spans, "upstream attempt").is_empty(), "{names:?}");
    assert_eq!(
        text(server_span(&spans), "tollgate.cache_status").as_deref(),
        Some("HIT")
    );
}

#[tokio::test]
async fn a_gateways_own_collector_gets_json_and_bodies_only_when_it_asks() {
    let server_collector = MockUpstream::start().await.unwrap();
    let gateway_collector = MockUpstream::start().await.unwrap();
    let gw = traced_gateway(&server_collector, "").await;
    let created = gw
        .create_gateway(json!({"id": "bodies", "otel": [{
            "url": format!("{}/v1/traces", gateway_collector.url()),
            "headers": {"x-collector-key": "k-123"},
            "include_bodies": true
        }]}))
        .await;
    assert_eq!(created["otel"][0]["content_type"], "json");
    let response = gw
        .http
        .post(gw.url("/v1/local/bodies/openai/chat/completions"))
        .bearer_auth("sk-test")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    let answer = response.text().await.unwrap();
    // Three spans to each collector.
    exported(&gw, 6).await;

    let export = gateway_collector.requests().pop().unwrap();
    assert_eq!(export.header("content-type"), Some("application/json"));
    assert_eq!(export.header("x-collector-key"), Some("k-123"));
    let with_bodies = received(&gateway_collector);
    let server = server_span(&with_bodies);
    let prompt = text(server, "gen_ai.prompt_json").unwrap();
    assert!(
        prompt.contains("Say hello to the gateway tests"),
        "{prompt}"
    );
    assert_eq!(
        text(server, "gen_ai.completion_json").as_deref(),
        Some(answer.as_str())
    );

    let without = received(&server_collector);
    let server = server_span(&without);
    assert_eq!(text(server, "gen_ai.prompt_json"), None);
    assert_eq!(text(server, "gen_ai.completion_json"), None);
    assert_eq!(server.span_id, server_span(&with_bodies).span_id);

    // A collector is checked when saved, each problem naming its entry.
    let (status, envelope) = gw
        .admin(
            reqwest::Method::PUT,
            "/accounts/local/ai-gateway/gateways/bodies",
            Some(json!({"otel": [{"url": "ftp://nowhere"}]})),
        )
        .await;
    assert_eq!(status, 400, "{envelope}");
    assert!(envelope.to_string().contains("[0].url"), "{envelope}");
}

#[tokio::test]
async fn cloudflare_trace_headers_are_honoured_and_an_invalid_traceparent_starts_a_new_trace() {
    let collector = MockUpstream::start().await.unwrap();
    let gw = traced_gateway(&collector, "").await;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let parent = "b7ad6b7169203331";
    let response = chat(
        &gw,
        &[
            ("cf-aig-otel-trace-id", trace),
            ("cf-aig-otel-parent-span-id", parent),
            ("traceparent", &client_traceparent()),
        ],
        &chat_body(false),
    )
    .await;
    response.bytes().await.unwrap();
    exported(&gw, 3).await;
    let spans = received(&collector);
    let server = server_span(&spans);
    assert_eq!(hex(&server.trace_id), trace);
    assert_eq!(hex(&server.parent_span_id), parent);

    let bad = chat(
        &gw,
        &[("cf-aig-otel-trace-id", "not-hex")],
        &chat_body(false),
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(gateway_error_code(&bad.json().await.unwrap()), 2013);

    // The refused request is traced too: admission and its server span.
    exported(&gw, 3 + 2).await;
    collector.clear_requests();
    let invalid = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
    let response = chat(&gw, &[("traceparent", invalid)], &chat_body(false)).await;
    response.bytes().await.unwrap();
    exported(&gw, 3 + 2 + 3).await;
    let spans = received(&collector);
    let server = server_span(&spans);
    assert_ne!(hex(&server.trace_id), "00000000000000000000000000000000");
    assert!(
        server.parent_span_id.is_empty(),
        "a new trace has no parent"
    );
}

#[tokio::test]
async fn a_dead_collector_costs_requests_nothing_and_its_spans_are_counted_as_dropped() {
    // A port bound but not listening: every export is refused, and the port stays ours for the
    // whole test (a freed port could be taken by another test's listener, which would then
    // receive these spans).
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let gw = TestGateway::with_config(
        "",
        &format!("[otel]\nendpoint = \"http://127.0.0.1:{port}/v1/traces\""),
    )
    .await;
    for _ in 0..5 {
        let response = chat(&gw, &[], &chat_body(true)).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    exported(&gw, 15).await;
    let counts = gw.state.telemetry().counts();
    assert_eq!(
        counts.exported.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let metrics = gw.metrics().await;
    let dropped = metrics
        .lines()
        .find_map(|line| line.strip_prefix("tollgate_otel_spans_dropped_total "))
        .and_then(|value| value.parse::<f64>().ok());
    assert!(dropped.is_some_and(|n| n >= 15.0), "{metrics}");
}

#[tokio::test]
async fn without_a_collector_nothing_is_traced_and_the_clients_traceparent_passes_through() {
    let gw = TestGateway::start().await;
    let response = chat(
        &gw,
        &[("traceparent", &client_traceparent())],
        &chat_body(false),
    )
    .await;
    let log_id = response.headers()["cf-aig-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.bytes().await.unwrap();
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(
        sent.header("traceparent"),
        Some(client_traceparent().as_str())
    );
    let row = gw.log_row("default", &log_id).await.unwrap();
    assert_eq!(row.trace_id, None);
}
