//! Ingest against a real SQLite file: a request whose begin and end share a batch must be
//! stored exactly as when they come in separate batches (the record-by-record path), replays
//! must leave one row, and the row caps must hold.

use std::path::PathBuf;

use rusqlite::types::Value as Sql;

use super::*;
use crate::logs::RollupFacts;
use crate::store::logs::body_codec::RAW_BELOW;
use crate::store::logs::{BodyKind, LogRow, LogStore, StoredBody};

const ACCOUNT: &str = "local";
const GATEWAY: &str = "gw";

struct TestStore {
    store: SqliteStore,
    path: PathBuf,
    batches: u64,
    _dir: tempfile::TempDir,
}

impl TestStore {
    fn new() -> anyhow::Result<TestStore> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.db");
        Ok(TestStore {
            store: SqliteStore::open(&path)?,
            path,
            batches: 0,
            _dir: dir,
        })
    }

    async fn ingest(&mut self, records: &[SpoolRecord]) -> anyhow::Result<()> {
        self.ingest_capped(records, Vec::new()).await
    }

    async fn ingest_capped(
        &mut self,
        records: &[SpoolRecord],
        caps: Vec<((String, String), RowCap)>,
    ) -> anyhow::Result<()> {
        self.batches += 1;
        let checkpoint = SpoolPosition {
            segment: 1,
            offset: self.batches,
        };
        self.store
            .ingest("inst", records.to_vec(), Vec::new(), checkpoint, caps)
            .await?;
        Ok(())
    }

    /// Every table a log touches, every column, as stored (bodies in their stored form).
    fn dump(&self) -> anyhow::Result<Vec<Vec<Sql>>> {
        let connection = Connection::open(&self.path)?;
        let mut all = Vec::new();
        for sql in [
            "SELECT * FROM logs ORDER BY id",
            "SELECT * FROM log_bodies ORDER BY log_id",
            "SELECT * FROM log_counts ORDER BY account_id, gateway_id",
        ] {
            let mut statement = connection.prepare(sql)?;
            let columns = statement.column_count();
            let rows = statement.query_map([], |row| {
                (0..columns).map(|i| row.get::<_, Sql>(i)).collect()
            })?;
            for row in rows {
                all.push(row?);
            }
            // Keeps tables apart in the comparison.
            all.push(vec![Sql::Text(sql.into())]);
        }
        Ok(all)
    }

    /// A log as the API shows it: the row and both bodies.
    async fn read(
        &self,
        id: &str,
    ) -> anyhow::Result<(Option<LogRow>, Option<StoredBody>, Option<StoredBody>)> {
        let store = &self.store;
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

    fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(Connection::open(&self.path)?.query_row(sql, [], |row| row.get(0))?)
    }
}

fn begin(id: &str, created_at_ms: i64, keep_payload: bool) -> LogBegin {
    LogBegin {
        id: id.into(),
        instance_id: "inst".into(),
        account_id: ACCOUNT.into(),
        gateway_id: GATEWAY.into(),
        created_at_ms,
        event_id: Some(format!("ev-{id}")),
        provider: "openai".into(),
        model: Some("gpt-4o-mini".into()),
        path: "v1/chat/completions".into(),
        method: "POST".into(),
        metadata: Some(r#"{"user":"alice"}"#.into()),
        step: Some(2),
        request_content_type: Some("application/json".into()),
        request_size: 500,
        client_ip: Some("10.0.0.1".into()),
        user_agent: Some("python-httpx/0.27".into()),
        keep_payload,
        request_headers: if keep_payload {
            vec![("content-type".into(), "application/json".into())]
        } else {
            Vec::new()
        },
        request_head_complete: false,
        trace_id: None,
    }
}

fn end(begin: &LogBegin, kept_response: bool) -> LogEnd {
    LogEnd {
        id: begin.id.clone(),
        rollup: Some(RollupFacts::of(begin)),
        status_code: Some(200),
        success: true,
        cached: false,
        duration_ms: 120,
        ttfb_ms: Some(40),
        tokens_in: Some(10),
        tokens_out: Some(5),
        cache_read_tokens: Some(1),
        cache_write_tokens: None,
        cost: Some(0.25),
        custom_cost: true,
        attempts: 2,
        response_content_type: Some("text/event-stream".into()),
        response_size: 700,
        response_headers: if kept_response {
            vec![("content-type".into(), "text/event-stream".into())]
        } else {
            Vec::new()
        },
        response_head_complete: true,
        error: None,
        dlp: None,
    }
}

fn small_body(tag: &str) -> Vec<u8> {
    format!(r#"{{"messages":[{{"role":"user","content":"{tag}"}}]}}"#).into_bytes()
}

fn large_body(tag: &str) -> Vec<u8> {
    format!("data: {{\"delta\":\"{tag}\"}}\n\n")
        .repeat(RAW_BELOW / 10)
        .into_bytes()
}

/// One batch of varied requests: bodies small and large, kept and not, a response that never
/// got its head, an error, and an end that was never logged (analytics only).
fn varied_batch() -> Vec<SpoolRecord> {
    let mut records = Vec::new();
    let kinds: [(bool, bool, bool); 5] = [
        // (keep payload, response kept, large bodies)
        (true, true, false),
        (true, true, true),
        (true, false, false),
        (false, false, false),
        (false, true, false),
    ];
    for (i, (keep, kept_response, large)) in kinds.into_iter().enumerate() {
        let id = format!("id-{i}");
        let b = begin(&id, 1000 + i64::try_from(i).unwrap(), keep);
        let mut e = end(&b, kept_response);
        if i == 2 {
            e.status_code = None;
            e.success = false;
            e.error = Some("client disconnected".into());
        }
        let body = |tag: &str| {
            if !keep {
                Vec::new()
            } else if large {
                large_body(tag)
            } else {
                small_body(tag)
            }
        };
        records.push(SpoolRecord::begin_of(&b, &body(&format!("request {i}"))));
        records.push(SpoolRecord::end_of(&e, &body(&format!("response {i}"))));
    }
    let unlogged = end(&begin("not-logged", 5000, false), false);
    records.push(SpoolRecord::end_of(&unlogged, b""));
    records
}

/// Each record in a batch of its own: the record-by-record path, the reference.
async fn one_by_one(records: &[SpoolRecord]) -> anyhow::Result<TestStore> {
    let mut store = TestStore::new()?;
    for record in records {
        store.ingest(std::slice::from_ref(record)).await?;
    }
    Ok(store)
}

#[tokio::test]
async fn begin_and_end_in_one_batch_store_what_separate_batches_do() -> anyhow::Result<()> {
    let records = varied_batch();
    let reference = one_by_one(&records).await?;
    let mut merged = TestStore::new()?;
    merged.ingest(&records).await?;
    assert_eq!(merged.dump()?, reference.dump()?);
    for i in 0..5 {
        let id = format!("id-{i}");
        let read = merged.read(&id).await?;
        assert_eq!(read, reference.read(&id).await?, "{id}");
        let row = read.0.ok_or_else(|| anyhow::anyhow!("{id} missing"))?;
        assert!(row.completed, "{id}");
    }
    assert_eq!(merged.count("SELECT COUNT(*) FROM logs")?, 5);
    assert_eq!(merged.count("SELECT rows FROM log_counts")?, 5);
    // Payload kept: bodies come back; small ones are stored as they are, large ones compressed.
    let (_, request, response) = merged.read("id-1").await?;
    assert_eq!(request.map(|b| b.bytes), Some(large_body("request 1")));
    assert_eq!(response.map(|b| b.bytes), Some(large_body("response 1")));
    let stored = |column: &str, id: &str| -> anyhow::Result<Vec<u8>> {
        Ok(Connection::open(&merged.path)?.query_row(
            &format!("SELECT {column} FROM log_bodies WHERE log_id = ?1"),
            [id],
            |row| row.get(0),
        )?)
    };
    assert_eq!(stored("request", "id-0")?, small_body("request 0"));
    assert_eq!(stored("response", "id-0")?, small_body("response 0"));
    assert!(stored("request", "id-1")?.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]));
    // A response that never got its head: the request body only.
    let (_, request, response) = merged.read("id-2").await?;
    assert_eq!(request.map(|b| b.bytes), Some(small_body("request 2")));
    assert_eq!(response, None);
    // Payload not kept: no bodies, even when the end carries headers.
    assert_eq!(merged.count("SELECT COUNT(*) FROM log_bodies")?, 3);
    Ok(())
}

#[tokio::test]
async fn replaying_a_batch_leaves_one_row_each() -> anyhow::Result<()> {
    let records = varied_batch();
    let mut once = TestStore::new()?;
    once.ingest(&records).await?;
    let mut twice = TestStore::new()?;
    twice.ingest(&records).await?;
    twice.ingest(&records).await?;
    assert_eq!(twice.dump()?, once.dump()?);
    assert_eq!(twice.count("SELECT rows FROM log_counts")?, 5);
    Ok(())
}

#[tokio::test]
async fn a_begin_shipped_before_is_completed_by_a_replayed_pair() -> anyhow::Result<()> {
    let records = varied_batch();
    let begins: Vec<SpoolRecord> = records
        .iter()
        .filter(|r| matches!(r, SpoolRecord::Begin { .. }))
        .cloned()
        .collect();
    let mut overlap = TestStore::new()?;
    // Batch 1 committed the begins (rows in flight); batch 2 starts again from before them.
    overlap.ingest(&begins).await?;
    assert_eq!(
        overlap.count("SELECT COUNT(*) FROM logs WHERE completed = 0")?,
        5
    );
    overlap.ingest(&records).await?;
    let reference = one_by_one(&records).await?;
    assert_eq!(overlap.dump()?, reference.dump()?);
    assert_eq!(
        overlap.count("SELECT COUNT(*) FROM logs WHERE completed = 1")?,
        5
    );
    assert_eq!(overlap.count("SELECT rows FROM log_counts")?, 5);
    Ok(())
}

/// Records out of the usual pattern: an end ahead of its begin (it completes nothing), a begin
/// and an end repeated (the first begin's body stays, the last end wins).
fn irregular_batch() -> Vec<SpoolRecord> {
    let a = begin("a", 1, true);
    let b = begin("b", 2, true);
    let c = begin("c", 3, false);
    let mut failed = end(&a, true);
    failed.success = false;
    failed.error = Some("interrupted".into());
    vec![
        SpoolRecord::end_of(&end(&c, false), b""),
        SpoolRecord::begin_of(&a, b"first"),
        SpoolRecord::begin_of(&c, b""),
        SpoolRecord::end_of(&failed, b"partial"),
        SpoolRecord::begin_of(&a, b"second"),
        SpoolRecord::end_of(&end(&a, true), b"whole"),
        SpoolRecord::begin_of(&b, &large_body("b")),
        SpoolRecord::end_of(&end(&c, false), b""),
        SpoolRecord::end_of(&end(&b, true), &large_body("b out")),
    ]
}

#[test]
fn a_begin_and_its_end_become_one_step() {
    let records = varied_batch();
    let steps = plan(&records);
    // Five requests written once each, and the end that was never logged.
    assert_eq!(steps.len(), 6);
    let both = |steps: &[Step<'_>]| steps.iter().filter(|s| matches!(s, Step::Both(..))).count();
    assert_eq!(both(&steps), 5);
    assert!(matches!(steps.last(), Some(Step::End(end, _)) if end.id == "not-logged"));
    // b, and c after its early end; a (repeated) goes record by record.
    let records = irregular_batch();
    let steps = plan(&records);
    assert_eq!(both(&steps), 2);
    assert_eq!(steps.len(), records.len() - 2);
}

#[tokio::test]
async fn repeats_and_ends_before_begins_apply_record_by_record() -> anyhow::Result<()> {
    let records = irregular_batch();
    let reference = one_by_one(&records).await?;
    let mut merged = TestStore::new()?;
    merged.ingest(&records).await?;
    assert_eq!(merged.dump()?, reference.dump()?);
    let (row, request, response) = merged.read("a").await?;
    assert_eq!(row.map(|r| r.error), Some(None));
    assert_eq!(request.map(|b| b.bytes), Some(b"first".to_vec()));
    assert_eq!(response.map(|b| b.bytes), Some(b"whole".to_vec()));
    Ok(())
}

fn pairs(ids: &[&str]) -> Vec<SpoolRecord> {
    ids.iter()
        .enumerate()
        .flat_map(|(i, id)| {
            let b = begin(id, 1000 + i64::try_from(i).unwrap(), true);
            let e = end(&b, true);
            [
                SpoolRecord::begin_of(&b, &small_body(id)),
                SpoolRecord::end_of(&e, &small_body(id)),
            ]
        })
        .collect()
}

fn cap(cap: RowCap) -> Vec<((String, String), RowCap)> {
    vec![((ACCOUNT.into(), GATEWAY.into()), cap)]
}

#[tokio::test]
async fn stop_inserting_refuses_new_rows_but_completes_stored_ones() -> anyhow::Result<()> {
    let stop = || cap(RowCap::StopInserting(2));
    let mut store = TestStore::new()?;
    // Batch 1: a in flight, b done: the gateway is at its cap.
    let a = pairs(&["a"]);
    let mut batch = vec![a[0].clone()];
    batch.extend(pairs(&["b"]));
    store.ingest_capped(&batch, stop()).await?;
    // Batch 2 replays a's begin with its end, and brings c: a completes, c is refused.
    let mut batch = a.clone();
    batch.extend(pairs(&["c"]));
    store.ingest_capped(&batch, stop()).await?;
    assert_eq!(store.count("SELECT COUNT(*) FROM logs")?, 2);
    assert_eq!(store.count("SELECT rows FROM log_counts")?, 2);
    let (row, request, response) = store.read("a").await?;
    assert!(row.is_some_and(|r| r.completed && r.duration_ms == Some(120)));
    assert_eq!(request.map(|b| b.bytes), Some(small_body("a")));
    assert_eq!(response.map(|b| b.bytes), Some(small_body("a")));
    assert_eq!(store.read("c").await?, (None, None, None));
    // A batch of new pairs alone stops at the cap too.
    let mut fresh = TestStore::new()?;
    fresh
        .ingest_capped(&pairs(&["p", "q", "r"]), stop())
        .await?;
    assert_eq!(fresh.count("SELECT COUNT(*) FROM logs")?, 2);
    assert_eq!(fresh.store.get_log(ACCOUNT, GATEWAY, "r").await?, None);
    Ok(())
}

#[tokio::test]
async fn delete_oldest_keeps_the_newest_rows_and_their_bodies() -> anyhow::Result<()> {
    let mut store = TestStore::new()?;
    store
        .ingest_capped(&pairs(&["p", "q", "r"]), cap(RowCap::DeleteOldest(2)))
        .await?;
    assert_eq!(store.count("SELECT COUNT(*) FROM logs")?, 2);
    assert_eq!(store.count("SELECT rows FROM log_counts")?, 2);
    assert_eq!(store.count("SELECT COUNT(*) FROM log_bodies")?, 2);
    assert_eq!(store.store.get_log(ACCOUNT, GATEWAY, "p").await?, None);
    assert!(store.store.get_log(ACCOUNT, GATEWAY, "r").await?.is_some());
    Ok(())
}

/// A negative checkpoint (a hand-edited or corrupt database) was read through `as u64` as a
/// position past the end of any spool, which skipped every unshipped record. It is refused now,
/// as PostgreSQL's store refuses it.
#[tokio::test]
async fn a_negative_checkpoint_is_refused_not_read_as_a_huge_position() -> anyhow::Result<()> {
    let mut store = TestStore::new()?;
    store.ingest(&pairs(&["a"])).await?;
    assert_eq!(
        store.store.read_checkpoint().await?,
        Some(SpoolPosition {
            segment: 1,
            offset: 1
        })
    );
    Connection::open(&store.path)?.execute("UPDATE spool_checkpoint SET offset = -1", [])?;
    assert!(store.store.read_checkpoint().await.is_err());
    Ok(())
}
