//! `/metrics` as Prometheus reads it (docs/metrics.md): the whole exposition through a
//! Prometheus text-format parser, the conventions checked family by family, the error reason of
//! a refused request, the `[metrics]` listener and token.

use std::collections::{BTreeMap, BTreeSet};

use prometheus_parse::{LineInfo, SampleType, Scrape, Value as Parsed};
use serde_json::json;
use tollgate_gateway::clock::ManualClock;

use crate::support::{TestGateway, chat_body};

const CHAT: &str = "/v1/local/limited/openai/chat/completions";
/// Any fixed instant: the one-per-minute limit below must not roll over between two requests.
const T0: i64 = 1_767_225_600_000;
const SCRAPE_TOKEN: &str = "scrape-token-0123456789";

/// One request answered, one refused by a limit of one a minute.
async fn one_answered_one_rate_limited(gw: &TestGateway) {
    gw.create_gateway(
        json!({"id": "limited", "rate_limiting_limit": 1, "rate_limiting_interval": 60}),
    )
    .await;
    for expected in [200, 429] {
        let response = gw
            .http
            .post(gw.url(CHAT))
            .json(&chat_body(false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
        response.bytes().await.unwrap();
    }
}

/// Family name → (type, has HELP), from the `# TYPE` and `# HELP` lines.
fn families(text: &str) -> BTreeMap<String, (String, bool)> {
    let mut families = BTreeMap::new();
    let helped: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# HELP "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    for rest in text.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
        let mut parts = rest.split(' ');
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            panic!("bad TYPE line: {rest}");
        };
        let previous = families.insert(name.to_owned(), (kind.to_owned(), helped.contains(name)));
        assert!(previous.is_none(), "{name} is described twice");
    }
    families
}

/// The family a sample line belongs to: its name, less a histogram's suffix.
fn family_of<'a>(sample: &'a str, families: &BTreeMap<String, (String, bool)>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix)
            && families
                .get(base)
                .is_some_and(|(kind, _)| kind == "histogram")
        {
            return base;
        }
    }
    sample
}

#[tokio::test]
async fn the_exposition_follows_prometheus_conventions() {
    let gw = TestGateway::with_clock(ManualClock::new(T0)).await;
    one_answered_one_rate_limited(&gw).await;
    let response = gw.http.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let families = families(&text);

    // Every sample line is one the parser reads, of a family with HELP and TYPE.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let LineInfo::Sample { metric_name, .. } = LineInfo::parse(line) else {
            panic!("not a sample line: {line}");
        };
        let family = family_of(metric_name, &families);
        let Some((_, helped)) = families.get(family) else {
            panic!("{metric_name} has no TYPE line\n{text}");
        };
        assert!(helped, "{family} has no HELP line");
    }
    for (name, (kind, _)) in &families {
        assert!(!name.contains("_ms"), "{name}: durations are in seconds");
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind.as_str()),
            "{name}: {kind}"
        );
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} is a {kind}: counters, and only they, end in _total"
        );
        if kind == "histogram" {
            assert!(
                name.ends_with("_seconds"),
                "{name}: histograms here are durations"
            );
        }
        assert!(
            !name.ends_with("_size") && !name.ends_with("_kb"),
            "{name}: sizes are in _bytes"
        );
    }

    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    // Both durations are histograms with the same buckets, in seconds, up to +Inf.
    let mut bounds = BTreeSet::new();
    for name in [
        "tollgate_request_duration_seconds",
        "tollgate_time_to_first_byte_seconds",
    ] {
        assert_eq!(families[name].0, "histogram");
        let histograms: Vec<_> = scrape.samples.iter().filter(|s| s.metric == name).collect();
        assert!(!histograms.is_empty(), "no {name} series");
        for sample in histograms {
            let Parsed::Histogram(buckets) = &sample.value else {
                panic!("{name} parsed as {:?}", sample.value);
            };
            let les: Vec<String> = buckets.iter().map(|b| b.less_than.to_string()).collect();
            assert_eq!(
                les.last().map(String::as_str),
                Some("inf"),
                "{name}: {les:?}"
            );
            // Seconds: the smallest bound is a few milliseconds, the largest finite ten minutes.
            assert_eq!(buckets[0].less_than, 0.005, "{name}");
            assert_eq!(buckets[buckets.len() - 2].less_than, 600.0, "{name}");
            bounds.insert(les.join(","));
        }
    }
    assert_eq!(bounds.len(), 1, "buckets differ: {bounds:?}");

    let value = |metric: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| s.value.clone())
    };
    assert_eq!(
        value(
            "tollgate_errors_total",
            &[("gateway", "limited"), ("reason", "rate_limited")]
        ),
        Some(Parsed::Counter(1.0)),
        "{text}"
    );
    assert_eq!(
        value(
            "tollgate_requests_total",
            &[("gateway", "limited"), ("status", "2xx")]
        ),
        Some(Parsed::Counter(1.0))
    );
    assert_eq!(
        value(
            "tollgate_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(Parsed::Gauge(1.0))
    );
    assert_eq!(families["tollgate_log_spool_bytes"].0, "gauge");
    assert_eq!(families["tollgate_cache_store_bypasses_total"].0, "counter");
    if cfg!(target_os = "linux") {
        for (name, kind) in [
            ("process_resident_memory_bytes", "gauge"),
            ("process_cpu_seconds_total", "counter"),
            ("process_open_fds", "gauge"),
            ("process_max_fds", "gauge"),
            ("process_start_time_seconds", "gauge"),
        ] {
            assert_eq!(
                families.get(name).map(|f| f.0.as_str()),
                Some(kind),
                "{name}"
            );
            let Some(Parsed::Counter(v) | Parsed::Gauge(v)) = value(name, &[]) else {
                panic!("{name} has no value");
            };
            assert!(v > 0.0, "{name} = {v}");
        }
    }
    // The parser typed each sample as its family says.
    let typed = |metric: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == metric)
            .map(|s| match s.value {
                Parsed::Counter(_) => SampleType::Counter,
                Parsed::Gauge(_) => SampleType::Gauge,
                Parsed::Histogram(_) => SampleType::Histogram,
                Parsed::Summary(_) => SampleType::Summary,
                Parsed::Untyped(_) => SampleType::Untyped,
            })
    };
    assert_eq!(typed("tollgate_requests_total"), Some(SampleType::Counter));
    assert_eq!(typed("tollgate_connections_open"), Some(SampleType::Gauge));
}

#[tokio::test]
async fn openmetrics_is_served_to_a_scraper_that_prefers_it() {
    let gw = TestGateway::start().await;
    let response = gw
        .http
        .get(gw.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    // OpenMetrics names the counter family without `_total`, and states units.
    assert!(
        text.contains("# TYPE tollgate_connections_refused counter\n"),
        "{text}"
    );
    assert!(
        text.contains("tollgate_connections_refused_total 0\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_separate_listener_serves_metrics_and_the_main_port_does_not() {
    let gw = TestGateway::with_config("", "[metrics]\nlisten = \"127.0.0.1:0\"").await;
    let Some(metrics_addr) = gw.metrics_addr else {
        panic!("metrics.listen was set");
    };
    assert_ne!(metrics_addr, gw.addr);
    let scraped = gw
        .http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("# TYPE tollgate_build_info gauge")
    );
    let main = gw.http.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(
        main.status(),
        404,
        "the main port no longer serves /metrics"
    );
    // The metrics listener serves nothing else.
    for path in [
        "/healthz",
        "/client/v4/accounts/local/ai-gateway/gateways",
        "/",
    ] {
        let other = gw
            .http
            .get(format!("http://{metrics_addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_scrape_needs_the_token_when_one_is_set() {
    for sections in [
        format!("[metrics]\ntoken = \"{SCRAPE_TOKEN}\""),
        format!("[metrics]\ntoken = \"{SCRAPE_TOKEN}\"\nlisten = \"127.0.0.1:0\""),
    ] {
        let gw = TestGateway::with_config("", &sections).await;
        let url = match gw.metrics_addr {
            Some(addr) => format!("http://{addr}/metrics"),
            None => gw.url("/metrics"),
        };
        let scrape = |token: Option<&str>| {
            let mut request = gw.http.get(&url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let refused = scrape(None).await.unwrap();
        assert_eq!(refused.status(), 401, "{sections}");
        assert_eq!(
            refused.headers()["www-authenticate"],
            "Bearer realm=\"metrics\""
        );
        assert!(!refused.text().await.unwrap().contains("tollgate_"));
        for wrong in ["scrape-token-012345678", crate::support::ADMIN_TOKEN] {
            assert_eq!(scrape(Some(wrong)).await.unwrap().status(), 401, "{wrong}");
        }
        let allowed = scrape(Some(SCRAPE_TOKEN)).await.unwrap();
        assert_eq!(allowed.status(), 200);
        assert!(
            allowed
                .text()
                .await
                .unwrap()
                .contains("tollgate_build_info")
        );
    }
}
