//! Analytics query time over a month of rollups for 10 gateways × 20 models (issue 4): every
//! minute of 30 days has traffic for every gateway and model, the worst case for the store.
//!
//! Run: `cargo run --release -p tollgate-bench --bin analytics-query`

#![expect(
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a benchmark: real clock, statistics in f64"
)]

use std::time::Instant;

use tollgate_gateway::analytics::{
    AnalyticsQuery, GroupBy, LatencySketch, Resolution, RollupKey, RollupMeasures, RollupRow,
    analytics_result,
};
use tollgate_gateway::store::logs::AnalyticsStore;
use tollgate_gateway::store::sqlite::SqliteStore;

const DAYS: i64 = 30;
const GATEWAYS: usize = 10;
const MODELS: usize = 20;
const START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const RUNS: usize = 5;

fn measures(requests: u64, seed: u64) -> RollupMeasures {
    let mut duration = LatencySketch::default();
    let mut ttfb = LatencySketch::default();
    for i in 0..requests.min(8) {
        let ms = 50.0 + ((seed * 31 + i * 17) % 900) as f64;
        duration.add(ms);
        ttfb.add(ms / 4.0);
    }
    RollupMeasures {
        requests,
        errors: seed % 7 / 6,
        cached_requests: 0,
        tokens_in: requests * 300,
        tokens_out: requests * 120,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost: requests as f64 * 0.0002,
        duration,
        ttfb,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("bench.db"))?;
    let generated = Instant::now();
    let mut total_rows = 0usize;
    for resolution in [Resolution::Day, Resolution::Hour, Resolution::Minute] {
        let buckets = DAYS * 86_400_000 / resolution.millis();
        let mut batch = Vec::with_capacity(50_000);
        for bucket in 0..buckets {
            for gateway in 0..GATEWAYS {
                for model in 0..MODELS {
                    let seed = u64::try_from(bucket)? * 1_000 + (gateway * MODELS + model) as u64;
                    batch.push(RollupRow {
                        key: RollupKey {
                            bucket_ms: START_MS + bucket * resolution.millis(),
                            account_id: "bench".into(),
                            gateway_id: format!("gateway-{gateway}"),
                            provider: if model % 2 == 0 {
                                "openai".into()
                            } else {
                                "anthropic".into()
                            },
                            model: format!("model-{model}"),
                            status_class: 2,
                            cached: false,
                        },
                        measures: measures(3 * u64::try_from(resolution.millis())? / 60_000, seed),
                    });
                    if batch.len() == batch.capacity() {
                        total_rows += batch.len();
                        store
                            .import_rollups(resolution, std::mem::take(&mut batch))
                            .await?;
                        batch.reserve(50_000);
                    }
                }
            }
        }
        total_rows += batch.len();
        store.import_rollups(resolution, batch).await?;
    }
    println!(
        "generated {total_rows} rollup rows ({DAYS} days × {GATEWAYS} gateways × {MODELS} models, minute+hour+day) in {:.1} s",
        generated.elapsed().as_secs_f64()
    );
    let month = (START_MS, START_MS + DAYS * 86_400_000);
    let cases: Vec<(&str, AnalyticsQuery)> = vec![
        (
            "month, account-wide, interval=day",
            query(None, month, Resolution::Day, None),
        ),
        (
            "month, account-wide, interval=day, group_by=model",
            query(None, month, Resolution::Day, Some(GroupBy::Model)),
        ),
        (
            "month, one gateway, interval=hour",
            query(Some("gateway-3"), month, Resolution::Hour, None),
        ),
        (
            "month, account-wide, interval=hour, group_by=provider",
            query(None, month, Resolution::Hour, Some(GroupBy::Provider)),
        ),
        (
            "day, one gateway, interval=minute",
            query(
                Some("gateway-3"),
                (START_MS, START_MS + 86_400_000),
                Resolution::Minute,
                None,
            ),
        ),
        (
            "hour, account-wide, interval=minute, group_by=gateway",
            query(
                None,
                (START_MS, START_MS + 3_600_000),
                Resolution::Minute,
                Some(GroupBy::Gateway),
            ),
        ),
    ];
    println!(
        "{:<56} {:>8} {:>10} {:>10}",
        "query", "rows", "p50 ms", "max ms"
    );
    for (name, query) in cases {
        let mut times = Vec::new();
        let mut rows_read = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let rows = store.rollups(&query).await?;
            rows_read = rows.len();
            let result = analytics_result(&rows, &query);
            std::hint::black_box(result);
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<56} {rows_read:>8} {:>10.1} {:>10.1}",
            times[RUNS / 2],
            times[RUNS - 1]
        );
    }
    Ok(())
}

fn query(
    gateway: Option<&str>,
    (start_ms, end_ms): (i64, i64),
    resolution: Resolution,
    group_by: Option<GroupBy>,
) -> AnalyticsQuery {
    AnalyticsQuery {
        account_id: "bench".into(),
        gateway_id: gateway.map(str::to_owned),
        provider: None,
        model: None,
        start_ms,
        end_ms,
        resolution,
        group_by,
    }
}
