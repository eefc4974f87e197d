//! A request whose begin and end share a batch is inserted once, completed: the same rows and
//! bodies as when its begin and end come in separate batches, also on a replay whose begin was
//! shipped before and under a row cap.

use super::{ACCOUNT, GATEWAY, TestDb, begin, end};
use crate::logs::{SpoolPosition, SpoolRecord};
use crate::store::logs::body_codec::RAW_BELOW;
use crate::store::logs::{BodyKind, LogRow, LogStore, RowCap, StoredBody};
use crate::store::postgres::PostgresStore;

fn at(offset: u64) -> SpoolPosition {
    SpoolPosition { segment: 1, offset }
}

/// Begin and end of requests with bodies small and large, kept and not, a response that never
/// got its head, and an end that was never logged (analytics only).
fn requests() -> (Vec<SpoolRecord>, Vec<SpoolRecord>) {
    let (mut begins, mut ends) = (Vec::new(), Vec::new());
    for (i, (keep, kept_response, size)) in [
        (true, true, 40),
        (true, true, 4 * RAW_BELOW),
        (true, false, 40),
        (false, false, 0),
        (false, true, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = begin(
            &format!("p-{i}"),
            "inst-1",
            1_000 * (i64::try_from(i).unwrap() + 1),
        );
        b.keep_payload = keep;
        b.metadata = Some(r#"{"user":"alice"}"#.into());
        if keep {
            b.request_headers = vec![("content-type".into(), "application/json".into())];
        }
        let mut e = end(&b, 30);
        if kept_response {
            e.response_headers = vec![("content-type".into(), "text/event-stream".into())];
        }
        if i == 2 {
            e.status_code = None;
            e.success = false;
            e.error = Some("client disconnected".into());
        }
        let body = |tag: &str| tag.repeat(size / tag.len().max(1)).into_bytes();
        begins.push(SpoolRecord::begin_of(&b, &body("request ")));
        ends.push(SpoolRecord::end_of(&e, &body("response ")));
    }
    ends.push(SpoolRecord::end_of(
        &end(&begin("unlogged", "inst-1", 9_000), 5),
        b"",
    ));
    (begins, ends)
}

/// The records as the spool holds them: each request's begin, then its end.
fn interleaved(begins: &[SpoolRecord], ends: &[SpoolRecord]) -> Vec<SpoolRecord> {
    let mut records: Vec<SpoolRecord> = begins
        .iter()
        .zip(ends)
        .flat_map(|(b, e)| [b.clone(), e.clone()])
        .collect();
    records.extend(ends[begins.len()..].iter().cloned());
    records
}

async fn ingest(
    store: &PostgresStore,
    records: &[SpoolRecord],
    checkpoint: SpoolPosition,
    caps: Vec<((String, String), RowCap)>,
) -> anyhow::Result<()> {
    store
        .ingest("inst-1", records.to_vec(), Vec::new(), checkpoint, caps)
        .await?;
    Ok(())
}

/// Every column of every log row, body row and row counter, as stored.
async fn dump(db: &TestDb) -> anyhow::Result<Vec<String>> {
    let client = db.client().await?;
    let mut all = Vec::new();
    for table in [
        "SELECT * FROM logs ORDER BY id",
        "SELECT * FROM log_bodies ORDER BY log_id",
        "SELECT * FROM log_counts ORDER BY account_id, gateway_id",
    ] {
        let sql = format!("SELECT row_to_json(t)::text FROM ({table}) t");
        for row in client.query(&sql, &[]).await? {
            all.push(row.try_get(0)?);
        }
    }
    Ok(all)
}

type Read = (Option<LogRow>, Option<StoredBody>, Option<StoredBody>);

async fn read(store: &PostgresStore, id: &str) -> anyhow::Result<Read> {
    Ok((
        store.get_log(ACCOUNT, GATEWAY, id).await?,
        store
            .get_body(ACCOUNT, GATEWAY, id, BodyKind::Request)
            .await?,
        store
            .get_body(ACCOUNT, GATEWAY, id, BodyKind::Response)
            .await?,
    ))
}

/// The reference: all begins in one batch, all ends in the next.
async fn separate_batches() -> anyhow::Result<(TestDb, PostgresStore)> {
    let (begins, ends) = requests();
    let db = TestDb::new().await?;
    let store = db.store().await?;
    ingest(&store, &begins, at(1), Vec::new()).await?;
    ingest(&store, &ends, at(2), Vec::new()).await?;
    Ok((db, store))
}

#[tokio::test]
async fn begin_and_end_in_one_batch_store_what_separate_batches_do() -> anyhow::Result<()> {
    let (reference_db, reference) = separate_batches().await?;
    let (begins, ends) = requests();
    let db = TestDb::new().await?;
    let store = db.store().await?;
    ingest(&store, &interleaved(&begins, &ends), at(1), Vec::new()).await?;
    assert_eq!(dump(&db).await?, dump(&reference_db).await?);
    for i in 0..5 {
        let id = format!("p-{i}");
        let got = read(&store, &id).await?;
        assert_eq!(got, read(&reference, &id).await?, "{id}");
        assert!(got.0.is_some_and(|row| row.completed), "{id}");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM logs").await?, 5);
    assert_eq!(db.count("SELECT rows FROM log_counts").await?, 5);
    assert_eq!(db.count("SELECT COUNT(*) FROM log_bodies").await?, 3);
    // Small bodies are stored as they are, large ones compressed.
    let stored = |id: &str| format!("SELECT request FROM log_bodies WHERE log_id = '{id}'");
    let client = db.client().await?;
    let small: Vec<u8> = client.query_one(&stored("p-0"), &[]).await?.try_get(0)?;
    assert_eq!(small, b"request request request request request ");
    let large: Vec<u8> = client.query_one(&stored("p-1"), &[]).await?.try_get(0)?;
    assert!(large.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]));
    Ok(())
}

#[tokio::test]
async fn a_replayed_pair_completes_a_begin_shipped_before() -> anyhow::Result<()> {
    let (reference_db, _reference) = separate_batches().await?;
    let (begins, ends) = requests();
    let db = TestDb::new().await?;
    let store = db.store().await?;
    // Batch 1 committed the begins; batch 2 holds them again with their ends.
    ingest(&store, &begins, at(1), Vec::new()).await?;
    ingest(&store, &interleaved(&begins, &ends), at(2), Vec::new()).await?;
    assert_eq!(dump(&db).await?, dump(&reference_db).await?);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM logs WHERE completed")
            .await?,
        5
    );
    assert_eq!(db.count("SELECT rows FROM log_counts").await?, 5);
    Ok(())
}

#[tokio::test]
async fn a_pair_refused_by_a_cap_still_completes_its_stored_row() -> anyhow::Result<()> {
    let caps = || vec![((ACCOUNT.into(), GATEWAY.into()), RowCap::StopInserting(2))];
    let (begins, ends) = requests();
    let db = TestDb::new().await?;
    let store = db.store().await?;
    // Batch 1: p-0 in flight, p-1 done: the gateway is at its cap.
    let batch = [begins[0].clone(), begins[1].clone(), ends[1].clone()];
    ingest(&store, &batch, at(1), caps()).await?;
    // Batch 2: p-0 again with its end (completes), p-2 new (refused).
    let batch = [
        begins[0].clone(),
        ends[0].clone(),
        begins[2].clone(),
        ends[2].clone(),
    ];
    ingest(&store, &batch, at(2), caps()).await?;
    assert_eq!(db.count("SELECT COUNT(*) FROM logs").await?, 2);
    assert_eq!(db.count("SELECT rows FROM log_counts").await?, 2);
    let (row, request, response) = read(&store, "p-0").await?;
    assert!(row.is_some_and(|r| r.completed && r.duration_ms == Some(30)));
    assert_eq!(request.map(|b| b.bytes.len()), Some(40));
    assert_eq!(response.map(|b| b.bytes.len()), Some(36));
    assert_eq!(read(&store, "p-2").await?, (None, None, None));
    Ok(())
}
