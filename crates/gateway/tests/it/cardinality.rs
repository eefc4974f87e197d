//! Label cardinality (docs/analytics.md): names a client chooses — provider slugs, gateway ids,
//! accounts, models — never grow `/metrics`, the analytics groups or the gateway list without
//! bound. Floods go through the real router in process (tower `oneshot`), so they are fast in a
//! debug build.

use std::collections::BTreeSet;

use axum::body::Body;
use futures_util::StreamExt;
use http::Request;
use reqwest::Method;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestGateway, chat_body, gateway_error_code, rss_kib};
use tollgate_gateway::clock::monotonic_now;

/// Every value of `label` in the exposition.
fn label_values(text: &str, label: &str) -> BTreeSet<String> {
    let key = format!("{label}=\"");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let start = line.find(&key)? + key.len();
            let end = line[start..].find('"')?;
            Some(line[start..start + end].to_owned())
        })
        .collect()
}

/// The distinct (gateway, provider, model) label sets in the exposition.
fn routes(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let start = line.find("{gateway=\"")?;
            let end = line[start..].find(",model=\"")? + start;
            let model_end = line[end + 8..].find('"')? + end + 8;
            Some(line[start..model_end].to_owned())
        })
        .collect()
}

/// Exposition lines that carry a value (one per series, buckets included).
fn series(text: &str) -> usize {
    text.lines().filter(|line| !line.starts_with('#')).count()
}

/// The values of `group_by` the analytics API reports for the account.
async fn analytics_groups(gw: &TestGateway, group_by: &str) -> BTreeSet<String> {
    gw.logs_flushed().await;
    let (status, body) = gw
        .admin(
            Method::GET,
            &format!("/accounts/local/ai-gateway/analytics?group_by={group_by}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["result"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["group"][group_by].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn gateway_ids(gw: &TestGateway) -> BTreeSet<String> {
    let (status, body) = gw
        .admin(Method::GET, "/accounts/local/ai-gateway/gateways", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

#[tokio::test]
async fn probing_unknown_providers_adds_no_label_or_analytics_group() {
    let gw = TestGateway::start().await;
    let ok = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let first = gw
        .http
        .post(gw.url("/v1/local/default/openia/x"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 400);
    assert_eq!(gateway_error_code(&first.json().await.unwrap()), 2008);
    let providers = set(&["openai", "unknown"]);
    assert_eq!(label_values(&gw.metrics().await, "provider"), providers);
    assert_eq!(analytics_groups(&gw, "provider").await, providers);

    // More probes — slugs, an unknown gateway, an unknown account — change nothing.
    for path in [
        "/v1/local/default/zz-attacker-1/x",
        "/v1/local/default/zz-attacker-2/v1/chat/completions",
        "/v1/local/default/custom-nothing/x",
        "/v1/local/zz-attacker-1/openai/chat/completions",
        "/v1/zz-account/default/openai/chat/completions",
    ] {
        let response = gw.http.post(gw.url(path)).send().await.unwrap();
        assert!([400, 404].contains(&response.status().as_u16()), "{path}");
    }
    let text = gw.metrics().await;
    assert!(!text.contains("openia") && !text.contains("zz-"), "{text}");
    assert_eq!(label_values(&text, "provider"), providers);
    assert_eq!(label_values(&text, "gateway"), set(&["default"]));
    assert_eq!(analytics_groups(&gw, "provider").await, providers);
    assert_eq!(analytics_groups(&gw, "gateway").await, set(&["default"]));
    assert_eq!(gateway_ids(&gw).await, set(&["default"]));
    // The refusals are still counted, under the one `unknown` value.
    let refused = r#"tollgate_requests_total{gateway="default",provider="unknown",model="",status="4xx",cache="miss"} 4"#;
    assert!(text.contains(refused), "{text}");
}

#[tokio::test]
async fn a_flood_of_distinct_names_keeps_metrics_bounded() {
    const CAP: usize = 100;
    /// Requests of each kind sent through the router.
    const PER_KIND: usize = 2_000;
    /// Distinct values of each label fed to the registry directly.
    const DIRECT: usize = 100_000;
    let gw =
        TestGateway::with_config("", &format!("[limits]\nmetrics_max_label_sets = {CAP}\n")).await;
    gw.mock.set_recording(false);
    let router = tollgate_gateway::app::router(gw.state.clone());
    let send = |path: String, body: Value| {
        let router = router.clone();
        async move {
            let request = Request::post(path)
                .header("content-type", "application/json")
                .header("cf-aig-collect-log", "false")
                .body(Body::from(body.to_string()))
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            status
        }
    };
    assert_eq!(
        send(
            "/v1/local/default/openai/chat/completions".into(),
            chat_body(false)
        )
        .await,
        200
    );
    // Both of the flood's counted routes exist before it, so which ones keep their model is
    // decided by arrival order among the flood's models only.
    assert_eq!(
        send("/v1/local/default/zz-first/x".into(), json!({})).await,
        400
    );
    let before = gw.metrics().await;
    let rss_before = rss_kib();

    // Through the request path: unknown slugs, gateways and accounts, and new models.
    let started = monotonic_now();
    let requests = (0..PER_KIND).flat_map(|n| {
        let mut model = chat_body(false);
        model["model"] = json!(format!("flood-model-{n}"));
        [
            (format!("/v1/local/default/zz-slug-{n}/x"), json!({}), 400),
            (
                format!("/v1/local/zz-gw-{n}/openai/chat/completions"),
                json!({}),
                404,
            ),
            (
                format!("/v1/zz-acct-{n}/default/openai/chat/completions"),
                json!({}),
                404,
            ),
            (
                "/v1/local/default/openai/chat/completions".to_owned(),
                model,
                200,
            ),
        ]
    });
    let statuses: Vec<(u16, u16)> = futures_util::stream::iter(requests)
        .map(|(path, body, want)| {
            let sent = send(path, body);
            async move { (sent.await, want) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let wrong = statuses.iter().filter(|(got, want)| got != want).count();
    assert_eq!(wrong, 0, "{} requests", statuses.len());
    let routed_in = started.elapsed();

    let after_requests = gw.metrics().await;
    let rss_mid = rss_kib();
    assert_eq!(
        label_values(&after_requests, "provider"),
        set(&["openai", "unknown"])
    );
    assert_eq!(label_values(&after_requests, "gateway"), set(&["default"]));
    // The first request's model, CAP − 2 flood models, `""` of the refusals, then `other`.
    assert_eq!(label_values(&after_requests, "model").len(), CAP + 1);
    assert!(after_requests.contains(&format!(
        "tollgate_metrics_label_sets_folded_total {}",
        PER_KIND - (CAP - 2)
    )));
    assert_eq!(analytics_groups(&gw, "gateway").await, set(&["default"]));
    assert_eq!(
        analytics_groups(&gw, "provider").await,
        set(&["openai", "unknown"])
    );
    assert_eq!(gateway_ids(&gw).await, set(&["default"]));
    // Analytics keep every real model: rollups are per-gateway aggregates in the store.
    assert_eq!(analytics_groups(&gw, "model").await.len(), PER_KIND + 2);

    // Straight into the registry: names no request path would let through.
    let metrics = gw.state.metrics();
    let rss_direct = rss_kib();
    let mut rss_half = 0;
    for n in 0..DIRECT {
        if n == DIRECT / 2 {
            rss_half = rss_kib();
        }
        for (gateway, provider, model) in [
            (format!("g-{n}"), "openai".to_owned(), "m".to_owned()),
            ("default".to_owned(), format!("p-{n}"), "m".to_owned()),
            ("default".to_owned(), "openai".to_owned(), format!("m-{n}")),
        ] {
            metrics.observe(
                &tollgate_gateway::logs::LogEnd {
                    rollup: Some(tollgate_gateway::logs::RollupFacts {
                        created_at_ms: 0,
                        account_id: "local".into(),
                        gateway_id: gateway,
                        provider,
                        model,
                    }),
                    status_code: Some(200),
                    success: true,
                    duration_ms: 1,
                    ..Default::default()
                },
                None,
            );
        }
    }
    let after = gw.metrics().await;
    let rss_after = rss_kib();
    let route_count = routes(&after).len();
    assert!(route_count <= 2 * CAP + 1, "{route_count} routes");
    // Every route has at most 22 request, 1 error, 1 cache-hit, 1 attempts, 1 cost, 4 token
    // and 2 × 23 histogram series; the rest are the unlabelled gauges and counters.
    let per_route = 22 + 4 + 4 + 2 * 23;
    assert!(
        series(&after) <= (2 * CAP + 1) * per_route + 32,
        "{} series",
        series(&after)
    );
    println!(
        "cardinality flood: {} requests routed in {routed_in:?}, then {} label sets observed; \
         /metrics {} -> {} -> {} series, {} -> {} -> {} bytes, {} routes; \
         RSS {rss_before} -> {rss_mid} KiB over the requests, \
         {rss_direct} -> {rss_half} -> {rss_after} KiB over the direct flood (start, half, end)",
        statuses.len(),
        3 * DIRECT,
        series(&before),
        series(&after_requests),
        series(&after),
        before.len(),
        after_requests.len(),
        after.len(),
        route_count,
    );
}
