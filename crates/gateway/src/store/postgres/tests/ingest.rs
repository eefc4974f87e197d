//! Ingest: atomic batches, replays that change nothing, per-instance checkpoints, row caps,
//! crash recovery per instance, and text PostgreSQL cannot store.

use super::{ACCOUNT, GATEWAY, TestDb, begin, begin_record, end, end_record};
use crate::analytics::{AnalyticsQuery, Resolution, rollup_deltas};
use crate::logs::{LogEnd, SpoolPosition, SpoolRecord};
use crate::store::logs::{AnalyticsStore, LogQuery, LogStore, RowCap};
use crate::store::postgres::PostgresStore;

fn at(offset: u64) -> SpoolPosition {
    SpoolPosition { segment: 1, offset }
}

/// Begin and end records of `count` requests of `instance`, ids `{prefix}-{i}`, one a second.
fn batch(prefix: &str, instance: &str, count: i64) -> (Vec<SpoolRecord>, Vec<LogEnd>) {
    let mut records = Vec::new();
    let mut ends = Vec::new();
    for i in 0..count {
        let b = begin(&format!("{prefix}-{i}"), instance, 1_000 * (i + 1));
        let e = end(&b, 10 * (i + 1));
        records.push(begin_record(&b));
        records.push(end_record(&e));
        ends.push(e);
    }
    (records, ends)
}

async fn ingest(
    store: &PostgresStore,
    instance: &str,
    records: &[SpoolRecord],
    ends: &[LogEnd],
    checkpoint: SpoolPosition,
    caps: Vec<((String, String), RowCap)>,
) -> anyhow::Result<()> {
    store
        .ingest(
            instance,
            records.to_vec(),
            rollup_deltas(ends),
            checkpoint,
            caps,
        )
        .await?;
    Ok(())
}

fn day_query() -> AnalyticsQuery {
    AnalyticsQuery {
        account_id: ACCOUNT.into(),
        gateway_id: None,
        provider: None,
        model: None,
        start_ms: 0,
        end_ms: 86_400_000,
        resolution: Resolution::Day,
        group_by: None,
    }
}

async fn requests_counted(store: &PostgresStore) -> anyhow::Result<u64> {
    let rows = store.rollups(&day_query()).await?;
    Ok(rows.iter().map(|r| r.measures.requests).sum())
}

async fn listed(store: &PostgresStore) -> anyhow::Result<u64> {
    let q = LogQuery {
        page: 1,
        per_page: 50,
        ..LogQuery::default()
    };
    Ok(store.list_logs(ACCOUNT, GATEWAY, &q).await?.1.total_count)
}

#[tokio::test]
async fn replaying_a_batch_changes_nothing() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let (a, a_ends) = batch("a", "inst-1", 3);
    ingest(&store, "inst-1", &a, &a_ends, at(100), vec![]).await?;
    assert_eq!(store.checkpoint("inst-1").await?, Some(at(100)));
    assert_eq!(
        (listed(&store).await?, requests_counted(&store).await?),
        (3, 3)
    );
    // The shipper crashed after the commit and sends batch A again with the same checkpoint,
    // or an older one: rows are keyed by id, and the checkpoint stops rollups counting twice.
    ingest(&store, "inst-1", &a, &a_ends, at(100), vec![]).await?;
    ingest(&store, "inst-1", &a, &a_ends, at(50), vec![]).await?;
    assert_eq!(
        (listed(&store).await?, requests_counted(&store).await?),
        (3, 3)
    );
    assert_eq!(store.checkpoint("inst-1").await?, Some(at(100)));
    // The next batch applies, and so does another instance's spool at the same position: a
    // checkpoint belongs to one instance.
    let (b, b_ends) = batch("b", "inst-1", 2);
    ingest(&store, "inst-1", &b, &b_ends, at(200), vec![]).await?;
    let (c, c_ends) = batch("c", "inst-2", 1);
    ingest(&store, "inst-2", &c, &c_ends, at(100), vec![]).await?;
    assert_eq!(
        (listed(&store).await?, requests_counted(&store).await?),
        (6, 6)
    );
    assert_eq!(store.checkpoint("inst-1").await?, Some(at(200)));
    assert_eq!(store.checkpoint("inst-2").await?, Some(at(100)));
    assert_eq!(store.checkpoint("inst-3").await?, None);
    // A batch that only moves the checkpoint (an empty segment) is fine too.
    ingest(
        &store,
        "inst-1",
        &[],
        &[],
        SpoolPosition {
            segment: 2,
            offset: 0,
        },
        vec![],
    )
    .await?;
    assert_eq!(
        store.checkpoint("inst-1").await?,
        Some(SpoolPosition {
            segment: 2,
            offset: 0
        })
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_batch_leaves_nothing_behind() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    // Make the last statement of the batch fail (in this test's database only).
    let client = db.client().await?;
    client
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON spool_checkpoints
                FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .await?;
    let (a, a_ends) = batch("a", "inst-1", 3);
    assert!(
        ingest(&store, "inst-1", &a, &a_ends, at(100), vec![])
            .await
            .is_err()
    );
    assert_eq!(
        (listed(&store).await?, requests_counted(&store).await?),
        (0, 0)
    );
    assert_eq!(store.checkpoint("inst-1").await?, None);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM log_counts WHERE rows <> 0")
            .await?,
        0
    );
    // The shipper's retry, once the store is healthy, applies the batch once.
    client
        .batch_execute("DROP TRIGGER refuse ON spool_checkpoints")
        .await?;
    ingest(&store, "inst-1", &a, &a_ends, at(100), vec![]).await?;
    assert_eq!(
        (listed(&store).await?, requests_counted(&store).await?),
        (3, 3)
    );
    Ok(())
}

#[tokio::test]
async fn begin_and_end_in_separate_batches_and_repeated_records() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let first = begin("r-1", "inst-1", 1_000);
    let done = end(&first, 40);
    // Begin alone: stored, in flight, not listed.
    ingest(
        &store,
        "inst-1",
        &[begin_record(&first)],
        &[],
        at(1),
        vec![],
    )
    .await?;
    let row = store.get_log(ACCOUNT, GATEWAY, "r-1").await?;
    assert_eq!(row.as_ref().map(|r| r.completed), Some(false));
    assert_eq!(listed(&store).await?, 0);
    // The end in the next batch, twice (the last one wins, as applying them in order would),
    // and the begin again (ignored: the row is keyed by id).
    let retried = LogEnd {
        status_code: Some(502),
        success: false,
        error: Some("upstream reset".into()),
        ..done.clone()
    };
    let records = [
        end_record(&done),
        begin_record(&first),
        end_record(&retried),
    ];
    ingest(
        &store,
        "inst-1",
        &records,
        std::slice::from_ref(&retried),
        at(2),
        vec![],
    )
    .await?;
    let row = store.get_log(ACCOUNT, GATEWAY, "r-1").await?;
    let row = row.ok_or_else(|| anyhow::anyhow!("row gone"))?;
    assert_eq!(
        (
            row.completed,
            row.status_code,
            row.success,
            row.error.as_deref()
        ),
        (true, Some(502), false, Some("upstream reset"))
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM logs").await?, 1);
    // An end without a begin (a request that was not logged) is only counted.
    let unlogged = end(&begin("r-2", "inst-1", 2_000), 5);
    ingest(
        &store,
        "inst-1",
        &[end_record(&unlogged)],
        std::slice::from_ref(&unlogged),
        at(3),
        vec![],
    )
    .await?;
    assert_eq!(db.count("SELECT COUNT(*) FROM logs").await?, 1);
    assert_eq!(requests_counted(&store).await?, 2);
    Ok(())
}

#[tokio::test]
async fn text_postgresql_cannot_store_does_not_block_the_batch() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let mut b = begin("nul", "inst-1", 1_000);
    b.model = Some("gpt\u{0}4".into());
    b.metadata = Some(r#"{"k\u0000":"a\u0000b"}"#.into());
    b.user_agent = Some("agent\u{0}".into());
    let e = end(&b, 10);
    ingest(
        &store,
        "inst-1",
        &[begin_record(&b), end_record(&e)],
        std::slice::from_ref(&e),
        at(1),
        vec![],
    )
    .await?;
    let row = store.get_log(ACCOUNT, GATEWAY, "nul").await?;
    let row = row.ok_or_else(|| anyhow::anyhow!("row missing"))?;
    assert_eq!(row.model.as_deref(), Some("gpt\u{FFFD}4"));
    assert_eq!(row.user_agent.as_deref(), Some("agent\u{FFFD}"));
    // The metadata text is kept as sent (its NUL is an escape, not a character).
    assert_eq!(row.metadata, b.metadata);
    let models: Vec<String> = store
        .rollups(&day_query())
        .await?
        .into_iter()
        .map(|r| r.key.model)
        .collect();
    assert_eq!(models, ["gpt\u{FFFD}4"]);
    Ok(())
}

fn cap(limit: RowCap) -> Vec<((String, String), RowCap)> {
    vec![((ACCOUNT.into(), GATEWAY.into()), limit)]
}

#[tokio::test]
async fn stop_inserting_keeps_the_first_rows() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let (a, a_ends) = batch("a", "inst-1", 3);
    ingest(
        &store,
        "inst-1",
        &a,
        &a_ends,
        at(1),
        cap(RowCap::StopInserting(2)),
    )
    .await?;
    let (b, b_ends) = batch("b", "inst-1", 2);
    ingest(
        &store,
        "inst-1",
        &b,
        &b_ends,
        at(2),
        cap(RowCap::StopInserting(2)),
    )
    .await?;
    let ids: Vec<String> = db
        .client()
        .await?
        .query("SELECT id FROM logs ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    assert_eq!(ids, ["a-0", "a-1"]);
    // Requests beyond the cap are still counted in analytics.
    assert_eq!(requests_counted(&store).await?, 5);
    // Another gateway is not capped by this one's cap.
    let mut other = begin("o-1", "inst-1", 1_000);
    other.gateway_id = "other".into();
    ingest(
        &store,
        "inst-1",
        &[begin_record(&other)],
        &[],
        at(3),
        cap(RowCap::StopInserting(2)),
    )
    .await?;
    assert_eq!(db.count("SELECT COUNT(*) FROM logs").await?, 3);
    Ok(())
}

#[tokio::test]
async fn delete_oldest_keeps_the_newest_rows() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let caps = cap(RowCap::DeleteOldest(2));
    // The oldest row is still in flight: it goes first all the same, as in SQLite.
    let stuck = begin("x-0", "inst-1", 500);
    ingest(
        &store,
        "inst-1",
        &[begin_record(&stuck)],
        &[],
        at(1),
        caps.clone(),
    )
    .await?;
    let (a, a_ends) = batch("a", "inst-1", 3);
    ingest(&store, "inst-1", &a, &a_ends, at(2), caps.clone()).await?;
    let ids: Vec<String> = db
        .client()
        .await?
        .query("SELECT id FROM logs ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    assert_eq!(ids, ["a-1", "a-2"]);
    assert_eq!(
        db.count("SELECT rows FROM log_counts WHERE gateway_id = 'gw'")
            .await?,
        2
    );
    // A lower cap trims with the gateway's next rows.
    let (b, b_ends) = batch("b", "inst-1", 1);
    ingest(
        &store,
        "inst-1",
        &b,
        &b_ends,
        at(3),
        cap(RowCap::DeleteOldest(1)),
    )
    .await?;
    assert_eq!(db.count("SELECT COUNT(*) FROM logs").await?, 1);
    assert_eq!(
        db.count("SELECT rows FROM log_counts WHERE gateway_id = 'gw'")
            .await?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn mark_interrupted_touches_only_its_own_instance() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let mine = begin("mine", "inst-1", 1_000);
    let theirs = begin("theirs", "inst-2", 1_000);
    let done = begin("done", "inst-1", 1_000);
    let done_end = end(&done, 10);
    ingest(
        &store,
        "inst-1",
        &[
            begin_record(&mine),
            begin_record(&done),
            end_record(&done_end),
        ],
        std::slice::from_ref(&done_end),
        at(1),
        vec![],
    )
    .await?;
    ingest(
        &store,
        "inst-2",
        &[begin_record(&theirs)],
        &[],
        at(1),
        vec![],
    )
    .await?;
    assert_eq!(store.mark_interrupted("inst-1").await?, 1);
    assert_eq!(store.mark_interrupted("inst-1").await?, 0);
    let row = store.get_log(ACCOUNT, GATEWAY, "mine").await?;
    let row = row.ok_or_else(|| anyhow::anyhow!("row gone"))?;
    assert_eq!(
        (row.completed, row.success, row.error.as_deref()),
        (true, false, Some("interrupted"))
    );
    let theirs = store.get_log(ACCOUNT, GATEWAY, "theirs").await?;
    assert_eq!(theirs.map(|r| (r.completed, r.error)), Some((false, None)));
    let done = store.get_log(ACCOUNT, GATEWAY, "done").await?;
    assert_eq!(done.map(|r| (r.success, r.error)), Some((true, None)));
    Ok(())
}
