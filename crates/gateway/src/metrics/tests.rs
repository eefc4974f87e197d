//! The metrics a request leaves behind: the same series as before the per-route cache, created
//! on first use, and routes past the cap sharing `other` series.

use super::*;
use crate::logs::RollupFacts;

fn end(model: &str, status: Option<u16>) -> LogEnd {
    end_of("gw", "openai", model, status)
}

fn end_of(gateway: &str, provider: &str, model: &str, status: Option<u16>) -> LogEnd {
    LogEnd {
        rollup: Some(RollupFacts {
            created_at_ms: 0,
            account_id: "acct".into(),
            gateway_id: gateway.into(),
            provider: provider.into(),
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
    metrics.render(Readings::default(), Format::Text)
}

#[test]
fn counts_each_series_of_a_route() {
    let metrics = Metrics::new(10);
    metrics.observe(&end("m", Some(200)), None);
    metrics.observe(&end("m", Some(200)), None);
    metrics.observe(&end("m", Some(502)), None);
    metrics.observe(&end("m", None), None);
    let text = render(&metrics);
    let route = r#"gateway="gw",provider="openai",model="m""#;
    for line in [
        format!(r#"tollgate_requests_total{{{route},status="2xx",cache="miss"}} 2"#),
        format!(r#"tollgate_requests_total{{{route},status="5xx",cache="miss"}} 1"#),
        format!(r#"tollgate_requests_total{{{route},status="none",cache="miss"}} 1"#),
        format!(r#"tollgate_errors_total{{{route},reason="upstream_status"}} 1"#),
        format!(r#"tollgate_errors_total{{{route},reason="stream_interrupted"}} 1"#),
        format!("tollgate_upstream_attempts_total{{{route}}} 3"),
        format!(r#"tollgate_tokens_total{{{route},kind="input"}} 24"#),
        format!(r#"tollgate_tokens_total{{{route},kind="output"}} 20"#),
        format!(r#"tollgate_tokens_total{{{route},kind="cache_read"}} 16"#),
        format!("tollgate_cost_usd_total{{{route}}} 2.0"),
        format!("tollgate_request_duration_seconds_count{{{route}}} 4"),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    // Series nobody counted are not listed.
    assert!(!text.contains(r#"kind="cache_write""#), "{text}");
    assert!(!text.contains("tollgate_cache_hits_total{"), "{text}");
}

/// The `tollgate_requests_total` line of a route, 2xx and cache miss.
fn requests_line(gateway: &str, provider: &str, model: &str, count: u64) -> String {
    format!(
        r#"tollgate_requests_total{{gateway="{gateway}",provider="{provider}",model="{model}",status="2xx",cache="miss"}} {count}"#
    )
}

#[test]
fn models_past_the_bound_share_other_of_their_route() {
    let metrics = Metrics::new(3);
    for n in 0..3 {
        metrics.observe(&end(&format!("m{n}"), Some(200)), None);
    }
    metrics.observe(&end("one-too-many", Some(200)), None);
    metrics.observe(&end("two-too-many", Some(200)), None);
    metrics.observe(
        &end_of("gw2", "anthropic", "three-too-many", Some(200)),
        None,
    );
    // A known route keeps its own series once the bound is reached.
    metrics.observe(&end("m0", Some(200)), None);
    let text = render(&metrics);
    assert!(!text.contains("too-many"), "{text}");
    for line in [
        requests_line("gw", "openai", "other", 2),
        requests_line("gw2", "anthropic", "other", 1),
        requests_line("gw", "openai", "m0", 2),
        "tollgate_metrics_label_sets_folded_total 3".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
}

#[test]
fn past_both_bounds_everything_shares_one_route() {
    let metrics = Metrics::new(2);
    for n in 0..2 {
        metrics.observe(&end(&format!("m{n}"), Some(200)), None);
    }
    // Two more gateway/provider pairs fill the folded routes; the third pair has none left.
    metrics.observe(&end_of("a", "openai", "x", Some(200)), None);
    metrics.observe(&end_of("b", "openai", "x", Some(200)), None);
    metrics.observe(&end_of("c", "openai", "x", Some(200)), None);
    metrics.observe(&end_of("d", "zz", "y", Some(200)), None);
    let text = render(&metrics);
    for line in [
        requests_line("a", "openai", "other", 1),
        requests_line("b", "openai", "other", 1),
        requests_line("other", "other", "other", 2),
        "tollgate_metrics_label_sets_folded_total 4".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    assert!(!text.contains(r#"gateway="c""#), "{text}");
    assert!(!text.contains(r#"gateway="d""#), "{text}");
}

/// 100,000 distinct gateways, providers and models each, straight into the registry: the
/// exposition stays at most `2 × cap + 1` routes, whatever was sent.
#[test]
fn a_flood_of_distinct_labels_keeps_the_registry_bounded() {
    const CAP: usize = 50;
    let metrics = Metrics::new(CAP);
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("tollgate_requests_total{"))
            .count()
    };
    for n in 0..100_000 {
        metrics.observe(&end_of(&format!("g{n}"), "openai", "m", Some(200)), None);
        metrics.observe(&end_of("gw", &format!("p{n}"), "m", Some(200)), None);
        metrics.observe(&end_of("gw", "openai", &format!("m{n}"), Some(200)), None);
    }
    let text = render(&metrics);
    assert!(series(&text) <= 2 * CAP + 1, "{} series", series(&text));
    // Every request but those of the first CAP routes is folded.
    assert!(
        text.contains(&format!(
            "tollgate_metrics_label_sets_folded_total {}",
            300_000 - CAP
        )),
        "{text}"
    );
}

#[test]
fn a_gateway_error_counts_under_its_code_and_durations_are_seconds() {
    let metrics = Metrics::new(10);
    // A 504 the gateway made is a timeout; the same status from the provider is its answer.
    metrics.observe(&end("m", Some(504)), Some(ErrorCode::UpstreamTimeout));
    metrics.observe(&end("m", Some(504)), None);
    let text = render(&metrics);
    let route = r#"gateway="gw",provider="openai",model="m""#;
    for line in [
        format!(r#"tollgate_errors_total{{{route},reason="upstream_timeout"}} 1"#),
        format!(r#"tollgate_errors_total{{{route},reason="upstream_status"}} 1"#),
        // 3 ms and 2 ms, twice each.
        format!("tollgate_request_duration_seconds_sum{{{route}}} 0.006"),
        format!("tollgate_time_to_first_byte_seconds_sum{{{route}}} 0.004"),
        format!(r#"tollgate_request_duration_seconds_bucket{{{route},le="0.005"}} 2"#),
        "# TYPE tollgate_errors_total counter".to_owned(),
        "# TYPE tollgate_request_duration_seconds histogram".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
}
