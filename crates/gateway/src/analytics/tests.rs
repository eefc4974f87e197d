//! Rollups through the real SQLite store: every interval buckets the same requests exactly.

use super::*;
use crate::logs::{LogEnd, RollupFacts, SpoolPosition, SpoolRecord};
use crate::store::logs::{AnalyticsStore, LogStore};
use crate::store::sqlite::SqliteStore;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn end(at_ms: i64, gateway: &str, model: &str, status: u16, duration_ms: i64) -> LogEnd {
    LogEnd {
        id: format!("{at_ms}-{gateway}-{model}-{status}-{duration_ms}"),
        rollup: Some(RollupFacts {
            created_at_ms: at_ms,
            account_id: "acct".into(),
            gateway_id: gateway.into(),
            provider: "openai".into(),
            model: model.into(),
        }),
        status_code: Some(status),
        success: status < 400,
        duration_ms,
        ttfb_ms: Some(duration_ms / 2),
        tokens_in: Some(10),
        tokens_out: Some(5),
        cost: Some(0.5),
        attempts: 1,
        ..LogEnd::default()
    }
}

fn query(resolution: Resolution, group_by: Option<GroupBy>) -> AnalyticsQuery {
    AnalyticsQuery {
        account_id: "acct".into(),
        gateway_id: None,
        provider: None,
        model: None,
        start_ms: T0,
        end_ms: T0 + 3 * 86_400_000,
        resolution,
        group_by,
    }
}

#[tokio::test]
async fn each_interval_buckets_the_same_requests() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("t.db"))?;
    let ends = [
        end(T0, "a", "m1", 200, 10),
        end(T0 + 59_999, "a", "m1", 200, 20),     // same minute
        end(T0 + 60_000, "a", "m2", 500, 30),     // next minute, same hour
        end(T0 + 3_600_000, "b", "m1", 200, 40),  // next hour, same day
        end(T0 + 86_400_000, "a", "m1", 429, 50), // next day
    ];
    // Two batches, so rollups are added to, not only inserted.
    for (i, chunk) in ends.chunks(3).enumerate() {
        let records: Vec<SpoolRecord> = chunk
            .iter()
            .map(|e| SpoolRecord::End {
                end: Box::new(e.clone()),
                body: Vec::new(),
            })
            .collect();
        let deltas = rollup_deltas(chunk);
        store
            .ingest(
                "test",
                records,
                deltas,
                SpoolPosition {
                    segment: 1,
                    offset: i as u64 + 1,
                },
                Vec::new(),
            )
            .await?;
    }
    let counts = |result: &serde_json::Value| -> Vec<(String, u64)> {
        result["series"][0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["time"].as_str().unwrap().to_owned(),
                    p["requests"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let minute = analytics_result(
        &store.rollups(&query(Resolution::Minute, None)).await?,
        &query(Resolution::Minute, None),
    );
    assert_eq!(
        counts(&minute),
        [
            ("2026-01-01T00:00:00Z".to_owned(), 2),
            ("2026-01-01T00:01:00Z".to_owned(), 1),
            ("2026-01-01T01:00:00Z".to_owned(), 1),
            ("2026-01-02T00:00:00Z".to_owned(), 1)
        ]
    );
    let hour = analytics_result(
        &store.rollups(&query(Resolution::Hour, None)).await?,
        &query(Resolution::Hour, None),
    );
    assert_eq!(
        counts(&hour).iter().map(|c| c.1).collect::<Vec<_>>(),
        [3, 1, 1]
    );
    let day = analytics_result(
        &store.rollups(&query(Resolution::Day, None)).await?,
        &query(Resolution::Day, None),
    );
    assert_eq!(counts(&day).iter().map(|c| c.1).collect::<Vec<_>>(), [4, 1]);
    let totals = &day["totals"];
    assert_eq!(
        (totals["requests"].as_u64(), totals["errors"].as_u64()),
        (Some(5), Some(2))
    );
    assert_eq!(
        (totals["tokens_in"].as_u64(), totals["tokens_out"].as_u64()),
        (Some(50), Some(25))
    );
    assert_eq!(totals["cost"].as_f64(), Some(2.5));
    // Percentiles merge across buckets and batches: durations 10..50, p50 = 30.
    let p50 = totals["duration_p50"].as_f64().unwrap();
    assert!((p50 - 30.0).abs() <= 30.0 * RELATIVE_ERROR + 0.01, "{p50}");

    let by_gateway = query(Resolution::Day, Some(GroupBy::Gateway));
    let grouped = analytics_result(&store.rollups(&by_gateway).await?, &by_gateway);
    let groups: Vec<_> = grouped["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["group"]["gateway"].clone())
        .collect();
    assert_eq!(groups, [serde_json::json!("a"), serde_json::json!("b")]);

    // A range that starts mid-bucket includes that bucket; one that ends before T0 + 1 day excludes the next.
    let mut narrow = query(Resolution::Hour, None);
    narrow.start_ms = T0 + 30 * 60_000;
    narrow.end_ms = T0 + 86_400_000;
    let result = analytics_result(&store.rollups(&narrow).await?, &narrow);
    assert_eq!(result["totals"]["requests"], 4);
    Ok(())
}
