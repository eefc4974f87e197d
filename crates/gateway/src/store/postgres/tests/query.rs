//! The logs API's queries on rows that arrived through `ingest`, each answer also checked
//! against the SQLite store fed the same records: the two backends must agree.

use serde_json::{Value, json};

use super::{ACCOUNT, GATEWAY, TestDb};
use crate::logs::{LogBegin, LogEnd, SpoolPosition, SpoolRecord};
use crate::store::StoreError;
use crate::store::logs::{
    BodyKind, FilterOp, LogFilter, LogPageInfo, LogPatch, LogQuery, LogRow, LogStore, StoredBody,
};
use crate::store::postgres::PostgresStore;
use crate::store::postgres::logs_query::values;
use crate::store::sql::Dialect;
use crate::store::sql::logs::{order_clause, where_clause};
use crate::store::sqlite::SqliteStore;

fn row(id: &str, created_at_ms: i64) -> LogRow {
    LogRow {
        id: id.into(),
        account_id: ACCOUNT.into(),
        gateway_id: GATEWAY.into(),
        created_at_ms,
        provider: "openai".into(),
        model: Some("gpt-4o-mini".into()),
        path: "v1/chat/completions".into(),
        method: "POST".into(),
        status_code: Some(200),
        success: true,
        duration_ms: Some(7),
        request_size: Some(100),
        response_size: Some(200),
        attempts: 1,
        completed: true,
        ..LogRow::default()
    }
}

/// Four completed rows of gateway `gw` (a, b, c, d in time order), one in flight (e), and one
/// each in another gateway and another account (SQLite's query fixture).
fn fixture() -> Vec<LogRow> {
    let a = LogRow {
        cost: Some(0.5),
        tokens_in: Some(10),
        tokens_out: Some(20),
        duration_ms: Some(100),
        feedback: Some(1),
        event_id: Some("ev-1".into()),
        metadata: Some(r#"{"user":"alice","n":3}"#.into()),
        request_content_type: Some("application/json".into()),
        user_agent: Some("python-httpx/0.27".into()),
        ..row("id-a", 1000)
    };
    let b = LogRow {
        provider: "anthropic".into(),
        model: Some("claude-3-haiku".into()),
        path: "v1/messages".into(),
        cached: true,
        cost: Some(0.0),
        tokens_in: Some(0),
        tokens_out: Some(0),
        duration_ms: Some(5),
        feedback: Some(-1),
        score: Some(42.5),
        metadata: Some(r#"{"user":"Bob","flag":true}"#.into()),
        ..row("id-b", 2000)
    };
    let c = LogRow {
        model: Some("gpt-4o".into()),
        status_code: Some(500),
        success: false,
        duration_ms: Some(300),
        response_content_type: Some("text/event-stream".into()),
        error: Some("upstream said no".into()),
        ..row("id-c", 3000)
    };
    let d = LogRow {
        provider: "workers-ai".into(),
        model: None,
        status_code: Some(429),
        success: false,
        cost: Some(1.25),
        tokens_in: Some(100),
        duration_ms: Some(50),
        event_id: Some("ev-2".into()),
        user_agent: Some("curl/8.5".into()),
        client_ip: Some("10.0.0.7".into()),
        step: Some(2),
        ..row("id-d", 4000)
    };
    let in_flight = LogRow {
        completed: false,
        status_code: None,
        success: false,
        duration_ms: None,
        response_size: None,
        ..row("id-e", 5000)
    };
    let other_gateway = LogRow {
        gateway_id: "other".into(),
        ..row("id-f", 1500)
    };
    let other_account = LogRow {
        account_id: "acct2".into(),
        ..row("id-g", 1600)
    };
    vec![a, b, c, d, in_flight, other_gateway, other_account]
}

/// The spool records that produce `row` (feedback and score come from a patch).
fn records(row: &LogRow) -> Vec<SpoolRecord> {
    let keep = row.request_head_complete.is_some();
    let begin = LogBegin {
        id: row.id.clone(),
        instance_id: "inst-a".into(),
        account_id: row.account_id.clone(),
        gateway_id: row.gateway_id.clone(),
        created_at_ms: row.created_at_ms,
        event_id: row.event_id.clone(),
        provider: row.provider.clone(),
        model: row.model.clone(),
        path: row.path.clone(),
        method: row.method.clone(),
        metadata: row.metadata.clone(),
        step: row.step,
        request_content_type: row.request_content_type.clone(),
        request_size: row.request_size.unwrap_or(0),
        client_ip: row.client_ip.clone(),
        user_agent: row.user_agent.clone(),
        keep_payload: keep,
        request_headers: if keep {
            vec![("content-type".into(), "application/json".into())]
        } else {
            Vec::new()
        },
        request_head_complete: row.request_head_complete.unwrap_or(true),
    };
    let mut out = vec![SpoolRecord::Begin {
        begin: Box::new(begin),
        body: b"{\"messages\":[]}".to_vec(),
    }];
    if row.completed {
        let keep = row.response_head_complete.is_some();
        let end = LogEnd {
            id: row.id.clone(),
            rollup: None,
            status_code: row.status_code,
            success: row.success,
            cached: row.cached,
            duration_ms: row.duration_ms.unwrap_or(0),
            ttfb_ms: row.ttfb_ms,
            tokens_in: row.tokens_in,
            tokens_out: row.tokens_out,
            cache_read_tokens: row.cache_read_tokens,
            cache_write_tokens: row.cache_write_tokens,
            cost: row.cost,
            custom_cost: row.custom_cost,
            attempts: row.attempts,
            response_content_type: row.response_content_type.clone(),
            response_size: row.response_size.unwrap_or(0),
            response_headers: if keep {
                vec![("content-type".into(), "text/event-stream".into())]
            } else {
                Vec::new()
            },
            response_head_complete: row.response_head_complete.unwrap_or(true),
            error: row.error.clone(),
        };
        out.push(SpoolRecord::End {
            end: Box::new(end),
            body: b"data: [DONE]\n\n".to_vec(),
        });
    }
    out
}

/// The same rows in PostgreSQL and in SQLite. Field order is drop order: the stores close
/// before the test database is dropped.
struct Stores {
    pg: PostgresStore,
    sqlite: SqliteStore,
    _dir: tempfile::TempDir,
    db: TestDb,
}

async fn stores_with(rows: Vec<LogRow>) -> anyhow::Result<Stores> {
    let db = TestDb::new().await?;
    let pg = db.store().await?;
    let dir = tempfile::tempdir()?;
    let sqlite = SqliteStore::open(&dir.path().join("t.db"))?;
    let all: Vec<SpoolRecord> = rows.iter().flat_map(records).collect();
    let position = SpoolPosition {
        segment: 1,
        offset: 1,
    };
    pg.ingest("inst-a", all.clone(), Vec::new(), position, Vec::new())
        .await?;
    sqlite
        .ingest("inst-a", all, Vec::new(), position, Vec::new())
        .await?;
    for r in &rows {
        if r.feedback.is_some() || r.score.is_some() {
            let patch = LogPatch {
                feedback: r.feedback.map(Some),
                score: r.score.map(Some),
                metadata: None,
            };
            for store in [&pg as &dyn LogStore, &sqlite] {
                store
                    .patch_log(&r.account_id, &r.gateway_id, &r.id, &patch)
                    .await?;
            }
        }
    }
    Ok(Stores {
        pg,
        sqlite,
        _dir: dir,
        db,
    })
}

fn filter(key: &str, op: FilterOp, values: &[Value]) -> LogFilter {
    LogFilter {
        key: key.into(),
        op,
        values: values.to_vec(),
    }
}

fn query(filters: Vec<LogFilter>) -> LogQuery {
    LogQuery {
        filters,
        page: 1,
        per_page: 50,
        ..LogQuery::default()
    }
}

/// The page's ids from PostgreSQL, after checking that SQLite lists the same rows with the
/// same totals.
async fn ids(stores: &Stores, query: &LogQuery) -> anyhow::Result<Vec<String>> {
    let (rows, info) = stores.pg.list_logs(ACCOUNT, GATEWAY, query).await?;
    let sqlite = stores.sqlite.list_logs(ACCOUNT, GATEWAY, query).await?;
    assert_eq!((&rows, &info), (&sqlite.0, &sqlite.1), "{query:?}");
    let ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    if query.page == 1 && ids.len() < query.per_page as usize {
        assert_eq!(info.total_count, ids.len() as u64, "{query:?}");
    }
    Ok(ids)
}

#[tokio::test]
async fn every_filter_key_and_operator() -> anyhow::Result<()> {
    use FilterOp::{Contains, Eq, Gt, Lt, Neq};
    let stores = stores_with(fixture()).await?;
    let cases: Vec<(&str, FilterOp, Vec<Value>, &[&str])> = vec![
        ("provider", Eq, vec![json!("openai")], &["id-c", "id-a"]),
        (
            "provider",
            Eq,
            vec![json!("openai"), json!("anthropic")],
            &["id-c", "id-b", "id-a"],
        ),
        ("provider", Neq, vec![json!("openai")], &["id-d", "id-b"]),
        ("provider", Contains, vec![json!("OPEN")], &["id-c", "id-a"]),
        ("model", Eq, vec![Value::Null], &["id-d"]),
        ("model", Neq, vec![Value::Null], &["id-c", "id-b", "id-a"]),
        ("model", Contains, vec![json!("gpt")], &["id-c", "id-a"]),
        // A row without a model is "not gpt-4o" too.
        (
            "model",
            Neq,
            vec![json!("gpt-4o")],
            &["id-d", "id-b", "id-a"],
        ),
        ("id", Eq, vec![json!("id-b")], &["id-b"]),
        (
            "id",
            Contains,
            vec![json!("ID-")],
            &["id-d", "id-c", "id-b", "id-a"],
        ),
        ("path", Eq, vec![json!("v1/messages")], &["id-b"]),
        ("created_at", Gt, vec![json!(2000)], &["id-d", "id-c"]),
        (
            "created_at",
            Lt,
            vec![json!("1970-01-01T00:00:02Z")],
            &["id-a"],
        ),
        (
            "created_at",
            Eq,
            vec![json!("1970-01-01T00:00:03.000+00:00")],
            &["id-c"],
        ),
        (
            "created_at",
            Lt,
            vec![json!("1500"), json!(4001)],
            &["id-d", "id-c", "id-b", "id-a"],
        ),
        ("success", Eq, vec![json!(true)], &["id-b", "id-a"]),
        ("success", Eq, vec![json!("false")], &["id-d", "id-c"]),
        ("success", Eq, vec![json!(0)], &["id-d", "id-c"]),
        ("cached", Eq, vec![json!("1")], &["id-b"]),
        ("cached", Neq, vec![json!(true)], &["id-d", "id-c", "id-a"]),
        ("status_code", Eq, vec![json!(200)], &["id-b", "id-a"]),
        ("status_code", Gt, vec![json!(400)], &["id-d", "id-c"]),
        (
            "status_code",
            Eq,
            vec![json!("429"), json!("500")],
            &["id-d", "id-c"],
        ),
        ("cost", Lt, vec![json!(1)], &["id-b", "id-a"]),
        ("cost", Gt, vec![json!(0.4)], &["id-d", "id-a"]),
        ("cost", Eq, vec![Value::Null], &["id-c"]),
        ("cost", Eq, vec![json!("0.5")], &["id-a"]),
        ("tokens_in", Gt, vec![json!(5)], &["id-d", "id-a"]),
        ("tokens_out", Lt, vec![json!(1)], &["id-b"]),
        ("tokens", Gt, vec![json!(25)], &["id-d", "id-a"]),
        ("total_tokens", Eq, vec![json!(0)], &["id-b"]),
        ("tokens", Eq, vec![Value::Null], &["id-c"]),
        ("duration", Lt, vec![json!(60)], &["id-d", "id-b"]),
        ("duration", Gt, vec![json!(99.5)], &["id-c", "id-a"]),
        ("feedback", Eq, vec![json!(1)], &["id-a"]),
        ("feedback", Eq, vec![json!(-1)], &["id-b"]),
        (
            "feedback",
            Neq,
            vec![json!(1), json!(-1)],
            &["id-d", "id-c"],
        ),
        ("feedback", Eq, vec![Value::Null], &["id-d", "id-c"]),
        ("event_id", Eq, vec![json!("ev-1")], &["id-a"]),
        ("event_id", Contains, vec![json!("ev")], &["id-d", "id-a"]),
        ("event_id", Neq, vec![Value::Null], &["id-d", "id-a"]),
        (
            "request_content_type",
            Eq,
            vec![json!("application/json")],
            &["id-a"],
        ),
        (
            "response_content_type",
            Contains,
            vec![json!("stream")],
            &["id-c"],
        ),
        ("user_agent", Contains, vec![json!("CURL")], &["id-d"]),
        ("metadata.key", Eq, vec![json!("user")], &["id-b", "id-a"]),
        (
            "metadata.key",
            Eq,
            vec![json!("flag"), json!("n")],
            &["id-b", "id-a"],
        ),
        ("metadata.key", Neq, vec![json!("user")], &["id-d", "id-c"]),
        ("metadata.key", Contains, vec![json!("FL")], &["id-b"]),
        ("metadata.key", Eq, vec![Value::Null], &["id-d", "id-c"]),
        ("metadata.value", Eq, vec![json!("alice")], &["id-a"]),
        ("metadata.value", Eq, vec![json!("3")], &["id-a"]),
        ("metadata.value", Eq, vec![json!(3)], &["id-a"]),
        ("metadata.value", Eq, vec![json!(true)], &["id-b"]),
        ("metadata.value", Eq, vec![json!("true")], &["id-b"]),
        ("metadata.value", Contains, vec![json!("bo")], &["id-b"]),
        (
            "metadata.value",
            Neq,
            vec![json!("alice")],
            &["id-d", "id-c", "id-b"],
        ),
    ];
    for (key, op, values, expected) in cases {
        let q = query(vec![filter(key, op, &values)]);
        assert_eq!(ids(&stores, &q).await?, expected, "{key} {op:?} {values:?}");
    }
    let both = query(vec![
        filter("provider", FilterOp::Eq, &[json!("openai")]),
        filter("success", FilterOp::Eq, &[json!(false)]),
    ]);
    assert_eq!(ids(&stores, &both).await?, ["id-c"]);
    Ok(())
}

#[tokio::test]
async fn search_ordering_and_pages() -> anyhow::Result<()> {
    let stores = stores_with(fixture()).await?;
    for (needle, expected) in [
        ("ALICE", &["id-a"][..]),
        ("claude", &["id-b"]),
        ("ev-2", &["id-d"]),
        ("messages", &["id-b"]),
        ("id-c", &["id-c"]),
        ("workers", &["id-d"]),
        ("100%", &[]),
        ("", &["id-d", "id-c", "id-b", "id-a"]),
    ] {
        let q = LogQuery {
            search: Some(needle.into()),
            ..query(vec![])
        };
        assert_eq!(ids(&stores, &q).await?, expected, "search {needle:?}");
    }
    // NULL sorts first ascending and last descending, as in SQLite; ties go by id.
    let orders: &[(Option<&str>, bool, &[&str])] = &[
        (None, false, &["id-d", "id-c", "id-b", "id-a"]),
        (None, true, &["id-a", "id-b", "id-c", "id-d"]),
        (Some("provider"), true, &["id-b", "id-a", "id-c", "id-d"]),
        (Some("provider"), false, &["id-d", "id-c", "id-a", "id-b"]),
        (Some("cost"), true, &["id-c", "id-b", "id-a", "id-d"]),
        (Some("success"), false, &["id-b", "id-a", "id-d", "id-c"]),
        (Some("cached"), false, &["id-b", "id-d", "id-c", "id-a"]),
        (Some("model"), true, &["id-d", "id-b", "id-c", "id-a"]),
        (Some("tokens_in"), false, &["id-d", "id-a", "id-b", "id-c"]),
        (Some("tokens_out"), true, &["id-c", "id-d", "id-b", "id-a"]),
        (Some("duration"), true, &["id-b", "id-d", "id-a", "id-c"]),
        (Some("feedback"), false, &["id-a", "id-b", "id-d", "id-c"]),
        (Some("status_code"), true, &["id-a", "id-b", "id-d", "id-c"]),
    ];
    for (order_by, ascending, expected) in orders {
        let q = LogQuery {
            order_by: order_by.map(str::to_owned),
            ascending: *ascending,
            ..query(vec![])
        };
        assert_eq!(
            ids(&stores, &q).await?,
            *expected,
            "{order_by:?} asc={ascending}"
        );
    }
    for (page, per_page, expected) in [
        (1, 3, &["id-d", "id-c", "id-b"][..]),
        (2, 3, &["id-a"]),
        (3, 3, &[]),
        (2, 1, &["id-c"]),
        // Page 0 is page 1; a page size of 0 is 1.
        (0, 1, &["id-d"]),
        (1, 0, &["id-d"]),
    ] {
        let q = LogQuery {
            page,
            per_page,
            ..query(vec![])
        };
        let (rows, info) = stores.pg.list_logs(ACCOUNT, GATEWAY, &q).await?;
        let got: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(got, expected, "page {page} per_page {per_page}");
        assert_eq!(info.total_count, 4);
    }
    Ok(())
}

#[tokio::test]
async fn aggregates_cover_the_whole_filtered_set() -> anyhow::Result<()> {
    let stores = stores_with(fixture()).await?;
    let q = LogQuery {
        per_page: 1,
        ..query(vec![])
    };
    let (_, info) = stores.pg.list_logs(ACCOUNT, GATEWAY, &q).await?;
    assert_eq!(
        info,
        LogPageInfo {
            total_count: 4,
            min_cost: Some(0.0),
            max_cost: Some(1.25),
            min_duration: Some(5),
            max_duration: Some(300),
            min_tokens_in: Some(0),
            max_tokens_in: Some(100),
            min_tokens_out: Some(0),
            max_tokens_out: Some(20),
            min_total_tokens: Some(0),
            max_total_tokens: Some(100),
        }
    );
    let openai = query(vec![filter("provider", FilterOp::Eq, &[json!("openai")])]);
    ids(&stores, &openai).await?;
    let (rows, info) = stores.pg.list_logs(ACCOUNT, "nothing", &q).await?;
    assert!(rows.is_empty());
    assert_eq!(info, LogPageInfo::default());
    Ok(())
}

#[tokio::test]
async fn rows_read_back_as_ingested_and_in_flight_rows_are_not_listed() -> anyhow::Result<()> {
    let rows = fixture();
    let stores = stores_with(rows.clone()).await?;
    let listed = ids(&stores, &query(vec![])).await?;
    assert!(!listed.contains(&"id-e".to_owned()));
    for expected in &rows {
        let got = stores
            .pg
            .get_log(&expected.account_id, &expected.gateway_id, &expected.id)
            .await?;
        assert_eq!(got.as_ref(), Some(expected));
    }
    // Another gateway's or account's row is not this gateway's.
    assert_eq!(stores.pg.get_log(ACCOUNT, GATEWAY, "id-f").await?, None);
    assert_eq!(stores.pg.get_log(ACCOUNT, GATEWAY, "id-g").await?, None);
    assert_eq!(stores.pg.get_log(ACCOUNT, GATEWAY, "missing").await?, None);
    Ok(())
}

#[tokio::test]
async fn invalid_queries_fail_cleanly() -> anyhow::Result<()> {
    let stores = stores_with(fixture()).await?;
    let bad_filters = [
        filter("model_type", FilterOp::Eq, &[json!("x")]),
        filter("provider; DROP TABLE logs", FilterOp::Eq, &[json!("x")]),
        filter("status_code", FilterOp::Contains, &[json!("20")]),
        filter("provider", FilterOp::Lt, &[json!("m")]),
        filter("success", FilterOp::Gt, &[json!(true)]),
        filter("status_code", FilterOp::Eq, &[json!("abc")]),
        filter("success", FilterOp::Eq, &[json!("yes")]),
        filter("cost", FilterOp::Lt, &[Value::Null]),
        filter("provider", FilterOp::Eq, &[]),
    ];
    for bad in bad_filters {
        let q = query(vec![bad.clone()]);
        assert!(
            matches!(
                stores.pg.list_logs(ACCOUNT, GATEWAY, &q).await,
                Err(StoreError::Backend(_))
            ),
            "{bad:?}"
        );
        assert!(
            stores
                .pg
                .delete_logs(ACCOUNT, GATEWAY, &q, 10)
                .await
                .is_err(),
            "{bad:?}"
        );
    }
    let q = LogQuery {
        order_by: Some("id; DROP TABLE logs".into()),
        ..query(vec![])
    };
    assert!(stores.pg.list_logs(ACCOUNT, GATEWAY, &q).await.is_err());
    // A NUL in a filter value is a value like any other, not a server error.
    let nul = query(vec![filter("model", FilterOp::Eq, &[json!("a\u{0}b")])]);
    assert_eq!(ids(&stores, &nul).await?, Vec::<String>::new());
    assert_eq!(ids(&stores, &query(vec![])).await?.len(), 4);
    Ok(())
}

#[tokio::test]
async fn patch_sets_and_clears_fields() -> anyhow::Result<()> {
    let stores = stores_with(fixture()).await?;
    let store = &stores.pg;
    let set = LogPatch {
        feedback: Some(Some(-1)),
        score: Some(Some(87.5)),
        metadata: Some(Some(r#"{"k":"v"}"#.into())),
    };
    assert!(store.patch_log(ACCOUNT, GATEWAY, "id-c", &set).await?);
    let c = store.get_log(ACCOUNT, GATEWAY, "id-c").await?;
    let c = c.ok_or_else(|| anyhow::anyhow!("row gone"))?;
    assert_eq!(
        (c.feedback, c.score, c.metadata.as_deref()),
        (Some(-1), Some(87.5), Some(r#"{"k":"v"}"#))
    );
    // Patched metadata is what the metadata filters see.
    let by_key = query(vec![filter("metadata.value", FilterOp::Eq, &[json!("v")])]);
    let (rows, _) = store.list_logs(ACCOUNT, GATEWAY, &by_key).await?;
    assert_eq!(rows.len(), 1);
    // Only the fields present change; `Some(None)` clears.
    let clear = LogPatch {
        score: Some(None),
        metadata: Some(None),
        ..LogPatch::default()
    };
    assert!(store.patch_log(ACCOUNT, GATEWAY, "id-c", &clear).await?);
    let c = store.get_log(ACCOUNT, GATEWAY, "id-c").await?;
    let c = c.ok_or_else(|| anyhow::anyhow!("row gone"))?;
    assert_eq!((c.feedback, c.score, c.metadata), (Some(-1), None, None));
    let (rows, _) = store.list_logs(ACCOUNT, GATEWAY, &by_key).await?;
    assert!(rows.is_empty());
    // An empty patch reports existence; other gateways' rows are out of reach.
    assert!(
        store
            .patch_log(ACCOUNT, GATEWAY, "id-c", &LogPatch::default())
            .await?
    );
    assert!(
        !store
            .patch_log(ACCOUNT, GATEWAY, "missing", &LogPatch::default())
            .await?
    );
    assert!(!store.patch_log(ACCOUNT, GATEWAY, "missing", &set).await?);
    assert!(!store.patch_log(ACCOUNT, GATEWAY, "id-f", &set).await?);
    let f = store.get_log(ACCOUNT, "other", "id-f").await?;
    assert_eq!(f.and_then(|f| f.feedback), None);
    Ok(())
}

#[tokio::test]
async fn delete_takes_up_to_limit_rows_in_query_order_with_their_bodies() -> anyhow::Result<()> {
    let mut rows = fixture();
    for r in &mut rows {
        r.request_head_complete = Some(true);
    }
    let stores = stores_with(rows).await?;
    let (store, db) = (&stores.pg, &stores.db);
    let bodies = "SELECT COUNT(*) FROM log_bodies";
    assert_eq!(db.count(bodies).await?, 7);
    // Newest first by default: d and c go.
    assert_eq!(
        store
            .delete_logs(ACCOUNT, GATEWAY, &query(vec![]), 2)
            .await?,
        2
    );
    assert_eq!(ids_pg(store, &query(vec![])).await?, ["id-b", "id-a"]);
    assert_eq!(db.count(bodies).await?, 5);
    // Oldest openai row first when ascending.
    let oldest_openai = LogQuery {
        ascending: true,
        ..query(vec![filter("provider", FilterOp::Eq, &[json!("openai")])])
    };
    assert_eq!(
        store
            .delete_logs(ACCOUNT, GATEWAY, &oldest_openai, 1)
            .await?,
        1
    );
    assert_eq!(ids_pg(store, &query(vec![])).await?, ["id-b"]);
    assert_eq!(
        store
            .delete_logs(ACCOUNT, GATEWAY, &query(vec![]), 0)
            .await?,
        0
    );
    // Everything left of this gateway; the row in flight and other gateways stay.
    assert_eq!(
        store
            .delete_logs(ACCOUNT, GATEWAY, &query(vec![]), 10_000)
            .await?,
        1
    );
    assert!(store.get_log(ACCOUNT, GATEWAY, "id-e").await?.is_some());
    assert!(store.get_log(ACCOUNT, "other", "id-f").await?.is_some());
    assert!(store.get_log("acct2", GATEWAY, "id-g").await?.is_some());
    assert_eq!(db.count(bodies).await?, 3);
    // The row counters followed every insert and delete.
    assert_eq!(
        db.count("SELECT rows FROM log_counts WHERE account_id = 'local' AND gateway_id = 'gw'")
            .await?,
        1
    );
    Ok(())
}

async fn ids_pg(store: &PostgresStore, query: &LogQuery) -> anyhow::Result<Vec<String>> {
    let (rows, _) = store.list_logs(ACCOUNT, GATEWAY, query).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

#[tokio::test]
async fn bodies_come_back_decompressed() -> anyhow::Result<()> {
    let mut rows = fixture();
    // a: request kept (cut short), response not kept; c: both kept.
    rows[0].request_head_complete = Some(false);
    rows[2].request_head_complete = Some(true);
    rows[2].response_head_complete = Some(true);
    let stores = stores_with(rows).await?;
    let store = &stores.pg;
    let request = store
        .get_body(ACCOUNT, GATEWAY, "id-a", BodyKind::Request)
        .await?;
    assert_eq!(
        request,
        Some(StoredBody {
            content_type: Some("application/json".into()),
            bytes: b"{\"messages\":[]}".to_vec(),
            complete: false,
            headers: Some(json!([["content-type", "application/json"]])),
        })
    );
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-a", BodyKind::Response)
            .await?,
        None
    );
    let response = store
        .get_body(ACCOUNT, GATEWAY, "id-c", BodyKind::Response)
        .await?;
    assert_eq!(
        response,
        Some(StoredBody {
            content_type: Some("text/event-stream".into()),
            bytes: b"data: [DONE]\n\n".to_vec(),
            complete: true,
            headers: Some(json!([["content-type", "text/event-stream"]])),
        })
    );
    for (id, kind) in [
        // Payload not kept, no such row, another gateway's row.
        ("id-b", BodyKind::Request),
        ("missing", BodyKind::Request),
        ("id-f", BodyKind::Request),
    ] {
        assert_eq!(store.get_body(ACCOUNT, GATEWAY, id, kind).await?, None);
    }
    // A small body is stored as it is; a stored zstd frame (rows of older versions, larger
    // bodies) comes back decompressed, and a corrupt one is an error, not garbage.
    let client = stores.db.client().await?;
    let stored: Vec<u8> = client
        .query_one("SELECT response FROM log_bodies WHERE log_id = 'id-c'", &[])
        .await?
        .try_get(0)?;
    assert_eq!(stored, b"data: [DONE]\n\n");
    let frame = zstd::encode_all(&b"data: [DONE]\n\n"[..], 3)?;
    client
        .execute(
            "UPDATE log_bodies SET response = $1 WHERE log_id = 'id-c'",
            &[&frame],
        )
        .await?;
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-c", BodyKind::Response)
            .await?,
        response
    );
    client
        .batch_execute(
            "UPDATE log_bodies SET request = '\\x28b52ffd00010203' WHERE log_id = 'id-a'",
        )
        .await?;
    assert!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-a", BodyKind::Request)
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn the_default_listing_and_trimming_walk_the_gateway_index() -> anyhow::Result<()> {
    let stores = stores_with(fixture()).await?;
    let client = stores.db.client().await?;
    // With a handful of rows a scan is cheaper; what matters is that the index can serve the
    // order without a sort (session setting only).
    client.batch_execute("SET enable_seqscan = off").await?;
    for ascending in [false, true] {
        let q = LogQuery {
            ascending,
            ..query(vec![])
        };
        let clause = where_clause(Dialect::Postgres, ACCOUNT, GATEWAY, &q, true)
            .map_err(anyhow::Error::msg)?;
        let order = order_clause(Dialect::Postgres, &q).map_err(anyhow::Error::msg)?;
        let sql = format!(
            "EXPLAIN SELECT id FROM logs WHERE {} {order} LIMIT 20",
            clause.sql
        );
        let plan = plan(&client, &sql, &values(&clause.params)).await?;
        assert!(plan.contains("logs_by_gateway"), "{plan}");
        assert!(
            !plan.contains("Sort"),
            "sorts instead of walking the index: {plan}"
        );
    }
    let trim = format!(
        "EXPLAIN {}",
        crate::store::postgres::logs_ingest::write::DELETE_OLDEST
    );
    let plan = plan(&client, &trim, &[&"local", &"gw", &1_i64]).await?;
    // Completed and in-flight rows each come off the index oldest first; only those few (at
    // most twice the excess) are sorted together.
    assert_eq!(
        plan.matches("Scan Backward using logs_by_gateway").count(),
        2,
        "{plan}"
    );
    Ok(())
}

async fn plan(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<String> {
    let rows = client.query(sql, params).await?;
    let lines: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<_, String>(0))
        .collect::<Result<_, _>>()?;
    Ok(lines.join("\n"))
}

/// Timing at scale, run by hand: `cargo test -p tollgate-gateway --release --lib -- --ignored
/// postgres_at_scale --nocapture`.
#[tokio::test]
#[ignore = "slow: ingests 200,000 requests"]
async fn postgres_at_scale() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let store = db.store().await?;
    let started = std::time::Instant::now();
    for batch in 0..400_u64 {
        let mut records = Vec::new();
        let mut ends = Vec::new();
        for i in 0..500_u64 {
            let n = (batch * 500 + i) as i64;
            let mut b = super::begin(&format!("{n:012}"), "bench", n);
            b.provider = ["openai", "anthropic", "workers-ai"][(n % 3) as usize].into();
            b.metadata = Some(format!("{{\"user\":\"u{}\"}}", n % 100));
            let e = super::end(&b, n % 997);
            records.push(super::begin_record(&b));
            records.push(super::end_record(&e));
            ends.push(e);
        }
        let deltas = crate::analytics::rollup_deltas(&ends);
        let position = SpoolPosition {
            segment: 1,
            offset: batch + 1,
        };
        store
            .ingest("bench", records, deltas, position, Vec::new())
            .await?;
    }
    println!("ingest: 200,000 requests in {:?}", started.elapsed());
    for (name, q) in [
        ("default page", query(vec![])),
        (
            "page 500",
            LogQuery {
                page: 500,
                ..query(vec![])
            },
        ),
        (
            "provider eq",
            query(vec![filter(
                "provider",
                FilterOp::Eq,
                &[json!("anthropic")],
            )]),
        ),
        (
            "created_at range",
            query(vec![filter("created_at", FilterOp::Gt, &[json!(190_000)])]),
        ),
        (
            "metadata.value",
            query(vec![filter("metadata.value", FilterOp::Eq, &[json!("u7")])]),
        ),
        (
            "search",
            LogQuery {
                search: Some("u42".into()),
                ..query(vec![])
            },
        ),
    ] {
        let started = std::time::Instant::now();
        let (rows, info) = store.list_logs(ACCOUNT, GATEWAY, &q).await?;
        println!(
            "{name}: {} rows of {} in {:?}",
            rows.len(),
            info.total_count,
            started.elapsed()
        );
    }
    Ok(())
}
