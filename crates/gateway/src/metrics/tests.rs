//! The metrics a request leaves behind: the same series as before the per-route cache, created
//! on first use, and routes past the cap sharing `other`.

use super::*;
use crate::logs::RollupFacts;

fn end(model: &str, status: Option<u16>) -> LogEnd {
    LogEnd {
        rollup: Some(RollupFacts {
            created_at_ms: 0,
            account_id: "acct".into(),
            gateway_id: "gw".into(),
            provider: "openai".into(),
            model: model.into(),
        }),
        status_code: status,
        success: status.is_some_and(|s| s < 400),
        duration_ms: 3,
        ttfb_ms: Some(2),
        attempts: 1,
        tokens_in: Some(10),
        tokens_out: Some(5),
        cache_read_tokens: Some(4),
        cache_write_tokens: Some(0),
        cost: Some(0.5),
        ..LogEnd::default()
    }
}

fn render(metrics: &Metrics) -> String {
    metrics.render(&GaugeReadings {
        log_queue_depth: 0,
        log_spool_bytes: 0,
        cache_bypasses: 0,
        redis_fallbacks: 0,
    })
}

#[test]
fn counts_each_series_of_a_route() {
    let metrics = Metrics::default();
    metrics.observe(&end("m", Some(200)));
    metrics.observe(&end("m", Some(200)));
    metrics.observe(&end("m", Some(502)));
    metrics.observe(&end("m", None));
    let text = render(&metrics);
    let route = r#"gateway="gw",provider="openai",model="m""#;
    for line in [
        format!(r#"tollgate_requests_total{{{route},status="2xx",cache="miss"}} 2"#),
        format!(r#"tollgate_requests_total{{{route},status="5xx",cache="miss"}} 1"#),
        format!(r#"tollgate_requests_total{{{route},status="none",cache="miss"}} 1"#),
        format!("tollgate_errors_total{{{route}}} 2"),
        format!("tollgate_upstream_attempts_total{{{route}}} 3"),
        format!(r#"tollgate_tokens_total{{{route},kind="input"}} 24"#),
        format!(r#"tollgate_tokens_total{{{route},kind="output"}} 20"#),
        format!(r#"tollgate_tokens_total{{{route},kind="cache_read"}} 16"#),
        format!("tollgate_cost_usd_total{{{route}}} 2.0"),
        format!("tollgate_request_duration_ms_count{{{route}}} 4"),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    // Series nobody counted are not listed.
    assert!(!text.contains(r#"kind="cache_write""#), "{text}");
    assert!(!text.contains("tollgate_cache_hits_total{"), "{text}");
}

#[test]
fn routes_past_the_bound_share_other() {
    let metrics = Metrics::default();
    for n in 0..MAX_LABEL_SETS {
        metrics.observe(&end(&format!("m{n}"), Some(200)));
    }
    metrics.observe(&end("one-too-many", Some(200)));
    // A known route keeps its own series once the bound is reached.
    metrics.observe(&end("m0", Some(200)));
    let text = render(&metrics);
    assert!(!text.contains("one-too-many"), "{text}");
    assert!(text.contains(
        r#"tollgate_requests_total{gateway="other",provider="other",model="other",status="2xx",cache="miss"} 1"#
    ));
    assert!(text.contains(
        r#"tollgate_requests_total{gateway="gw",provider="openai",model="m0",status="2xx",cache="miss"} 2"#
    ));
}
