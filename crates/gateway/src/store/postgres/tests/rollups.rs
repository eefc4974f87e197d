//! Rollups: concurrent instances adding to the same rows, and reads that match SQLite's.

use super::{ACCOUNT, TestDb, begin, end};
use crate::analytics::{
    AnalyticsQuery, GroupBy, RELATIVE_ERROR, Resolution, analytics_result, rollup_deltas,
};
use crate::convert::signed_as_f64;
use crate::logs::{LogEnd, SpoolPosition, SpoolRecord};
use crate::store::logs::{AnalyticsStore, LogStore};
use crate::store::sqlite::SqliteStore;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

fn query(resolution: Resolution, group_by: Option<GroupBy>) -> AnalyticsQuery {
    AnalyticsQuery {
        account_id: ACCOUNT.into(),
        gateway_id: None,
        provider: None,
        model: None,
        start_ms: T0,
        end_ms: T0 + 3 * 86_400_000,
        resolution,
        group_by,
    }
}

/// An end record (no row: only rollups) of `gateway`/`model`.
fn request(at_ms: i64, gateway: &str, model: &str, status: u16, duration_ms: i64) -> LogEnd {
    let mut b = begin(&format!("{gateway}-{at_ms}-{duration_ms}"), "x", at_ms);
    b.gateway_id = gateway.into();
    b.model = Some(model.into());
    LogEnd {
        status_code: Some(status),
        success: status < 400,
        ..end(&b, duration_ms)
    }
}

fn records(ends: &[LogEnd]) -> Vec<SpoolRecord> {
    ends.iter()
        .map(|e| SpoolRecord::End {
            end: Box::new(e.clone()),
            body: Vec::new(),
        })
        .collect()
}

#[tokio::test]
async fn concurrent_instances_add_to_the_same_rollups_exactly() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    // Two instances, each with its own pool, shipping at the same time to the same keys.
    let (one, two) = (db.store().await?, db.store().await?);
    let mut truth: Vec<f64> = Vec::new();
    let mut shipping = Vec::new();
    for (instance, store, base) in [("inst-1", &one, 1), ("inst-2", &two, 2)] {
        let mut batches = Vec::new();
        for round in 0..20_i64 {
            // Every batch hits the same minute (hence hour and day) row, with different latencies.
            let ends: Vec<LogEnd> = (0..5)
                .map(|i| request(T0 + i, "gw", "m", 200, base + 2 * (round * 5 + i)))
                .collect();
            truth.extend(ends.iter().map(|e| signed_as_f64(e.duration_ms)));
            batches.push(ends);
        }
        shipping.push(async move {
            for (round, ends) in batches.into_iter().enumerate() {
                let position = SpoolPosition {
                    segment: 1,
                    offset: round as u64 + 1,
                };
                store
                    .ingest(
                        instance,
                        records(&ends),
                        rollup_deltas(&ends),
                        position,
                        vec![],
                    )
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    for result in futures_util::future::join_all(shipping).await {
        result?;
    }
    truth.sort_by(f64::total_cmp);
    for resolution in Resolution::ALL {
        let rows = one.rollups(&query(resolution, None)).await?;
        assert_eq!(rows.len(), 1, "{resolution:?}");
        let m = &rows[0].measures;
        assert_eq!(
            (m.requests, m.tokens_in, m.duration.count(), m.ttfb.count()),
            (200, 2000, 200, 200),
            "{resolution:?}"
        );
        assert!((m.cost - 50.0).abs() < 1e-9);
        for q in [0.5, 0.95, 0.99] {
            #[expect(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a rank among 200 samples"
            )]
            let expected = truth[(q * (truth.len() as f64 - 1.0)) as usize];
            let got = m.duration.quantile(q).unwrap_or(0.0);
            assert!(
                (got - expected).abs() <= expected * RELATIVE_ERROR + 1e-9,
                "{resolution:?} q{q}: {got} vs {expected}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn reads_match_the_sqlite_store() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let pg = db.store().await?;
    let dir = tempfile::tempdir()?;
    let sqlite = SqliteStore::open(&dir.path().join("t.db"))?;
    let ends = [
        request(T0, "a", "m1", 200, 10),
        request(T0 + 59_999, "a", "m1", 200, 20), // same minute
        request(T0 + 60_000, "a", "m2", 500, 30), // next minute, same hour
        request(T0 + 3_600_000, "b", "m1", 200, 40), // next hour, same day
        request(T0 + 86_400_000, "a", "m1", 429, 50), // next day
        request(T0 - 1, "a", "m1", 200, 60),      // before the range
    ];
    // Two batches, so rollups are added to, not only inserted.
    for (i, chunk) in ends.chunks(3).enumerate() {
        let position = SpoolPosition {
            segment: 1,
            offset: i as u64 + 1,
        };
        for store in [&pg as &dyn LogStore, &sqlite] {
            store
                .ingest("x", records(chunk), rollup_deltas(chunk), position, vec![])
                .await?;
        }
    }
    let mut narrow = query(Resolution::Hour, None);
    narrow.start_ms = T0 + 30 * 60_000;
    narrow.end_ms = T0 + 86_400_000;
    let mut filtered = query(Resolution::Minute, Some(GroupBy::Model));
    filtered.gateway_id = Some("a".into());
    filtered.model = Some("m1".into());
    let mut cases = vec![narrow, filtered];
    for resolution in Resolution::ALL {
        for group in [None, Some(GroupBy::Gateway), Some(GroupBy::Status)] {
            cases.push(query(resolution, group));
        }
    }
    for q in cases {
        let from_pg = analytics_result(&pg.rollups(&q).await?, &q);
        let from_sqlite = analytics_result(&sqlite.rollups(&q).await?, &q);
        assert_eq!(from_pg, from_sqlite, "{q:?}");
    }
    let day = query(Resolution::Day, None);
    let totals = analytics_result(&pg.rollups(&day).await?, &day)["totals"].clone();
    assert_eq!(totals["requests"], 5);
    assert_eq!(totals["errors"], 2);
    Ok(())
}
