//! The query side of the log store against a real database: rows are inserted with plain SQL
//! so these tests do not depend on the ingest path.

use rusqlite::params;
use serde_json::{Value, json};

use super::*;
use crate::store::StoreError;
use crate::store::logs::{FilterOp, LogFilter};
use crate::store::sql::Dialect;
use crate::store::sql::logs::{order_clause, where_clause};

const ACCOUNT: &str = "local";
const GATEWAY: &str = "gw";

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
        attempts: 1,
        completed: true,
        ..LogRow::default()
    }
}

fn insert(c: &Connection, r: &LogRow) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO logs (id, account_id, gateway_id, created_at, event_id, provider, model, path,
            method, status_code, success, cached, duration, ttfb, tokens_in, tokens_out,
            cache_read_tokens, cache_write_tokens, cost, custom_cost, metadata, step, attempts,
            request_content_type, response_content_type, request_size, response_size,
            request_head_complete, response_head_complete, feedback, score, client_ip, user_agent,
            error, completed, instance_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35,
            'test')",
        params![
            r.id,
            r.account_id,
            r.gateway_id,
            r.created_at_ms,
            r.event_id,
            r.provider,
            r.model,
            r.path,
            r.method,
            r.status_code,
            r.success,
            r.cached,
            r.duration_ms,
            r.ttfb_ms,
            r.tokens_in,
            r.tokens_out,
            r.cache_read_tokens,
            r.cache_write_tokens,
            r.cost,
            r.custom_cost,
            r.metadata,
            r.step,
            r.attempts,
            r.request_content_type,
            r.response_content_type,
            r.request_size,
            r.response_size,
            r.request_head_complete,
            r.response_head_complete,
            r.feedback,
            r.score,
            r.client_ip,
            r.user_agent,
            r.error,
            r.completed,
        ],
    )
    .map(drop)
}

fn insert_body(
    c: &Connection,
    id: &str,
    request: Option<&[u8]>,
    response: Option<&[u8]>,
) -> anyhow::Result<()> {
    let compress = |b: Option<&[u8]>| b.map(|b| zstd::encode_all(b, 3)).transpose();
    c.execute(
        "INSERT INTO log_bodies (log_id, request, request_headers, response, response_headers)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id,
            compress(request)?,
            request.map(|_| r#"[["content-type","application/json"]]"#),
            compress(response)?,
            response.map(|_| r#"[["content-type","text/event-stream"]]"#),
        ],
    )?;
    Ok(())
}

/// Four completed rows of gateway `gw` (a, b, c, d in time order), one in flight (e), and one
/// each in another gateway and another account.
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
        metadata: Some(r#"{"user":"Bob","flag":true}"#.into()),
        ..row("id-b", 2000)
    };
    let c = LogRow {
        model: Some("gpt-4o".into()),
        status_code: Some(500),
        success: false,
        duration_ms: Some(300),
        response_content_type: Some("text/event-stream".into()),
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
        ..row("id-d", 4000)
    };
    let in_flight = LogRow {
        completed: false,
        status_code: None,
        success: false,
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

async fn store_with(rows: Vec<LogRow>) -> anyhow::Result<(tempfile::TempDir, SqliteStore)> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("t.db"))?;
    store
        .with(move |c| rows.iter().try_for_each(|r| insert(c, r)))
        .await?;
    Ok((dir, store))
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

async fn ids(store: &SqliteStore, query: &LogQuery) -> anyhow::Result<Vec<String>> {
    let (rows, info) = store.list_logs(ACCOUNT, GATEWAY, query).await?;
    let ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    // The page and the total agree whenever everything fits on one page.
    if query.page == 1 && ids.len() < query.per_page as usize {
        assert_eq!(info.total_count, ids.len() as u64, "{query:?}");
    }
    Ok(ids)
}

#[tokio::test]
async fn every_filter_key_and_operator() -> anyhow::Result<()> {
    use FilterOp::{Contains, Eq, Gt, Lt, Neq};
    let (_dir, store) = store_with(fixture()).await?;
    let cases: Vec<(&str, FilterOp, Vec<Value>, &[&str])> = vec![
        ("provider", Eq, vec![json!("openai")], &["id-c", "id-a"]),
        (
            "provider",
            Eq,
            vec![json!("openai"), json!("anthropic")],
            &["id-c", "id-b", "id-a"],
        ),
        ("provider", Neq, vec![json!("openai")], &["id-d", "id-b"]),
        (
            "provider",
            Neq,
            vec![json!("openai"), json!("anthropic")],
            &["id-d"],
        ),
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
        assert_eq!(ids(&store, &q).await?, expected, "{key} {op:?} {values:?}");
    }
    Ok(())
}

#[tokio::test]
async fn all_filters_must_match() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
    let q = query(vec![
        filter("provider", FilterOp::Eq, &[json!("openai")]),
        filter("success", FilterOp::Eq, &[json!(false)]),
    ]);
    assert_eq!(ids(&store, &q).await?, ["id-c"]);
    Ok(())
}

#[tokio::test]
async fn search_is_a_case_insensitive_substring_of_several_columns() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
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
        assert_eq!(ids(&store, &q).await?, expected, "search {needle:?}");
    }
    Ok(())
}

#[tokio::test]
async fn ordering_both_directions_with_ties_broken_by_id() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
    let cases: &[(Option<&str>, bool, &[&str])] = &[
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
        (Some("created_at"), false, &["id-d", "id-c", "id-b", "id-a"]),
    ];
    for (order_by, ascending, expected) in cases {
        let q = LogQuery {
            order_by: order_by.map(str::to_owned),
            ascending: *ascending,
            ..query(vec![])
        };
        assert_eq!(
            ids(&store, &q).await?,
            *expected,
            "{order_by:?} asc={ascending}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn pages_split_the_ordered_set() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
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
        let (rows, info) = store.list_logs(ACCOUNT, GATEWAY, &q).await?;
        let got: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(got, expected, "page {page} per_page {per_page}");
        assert_eq!(info.total_count, 4);
    }
    Ok(())
}

#[tokio::test]
async fn aggregates_cover_the_whole_filtered_set() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
    let q = LogQuery {
        per_page: 1,
        ..query(vec![])
    };
    let (_, info) = store.list_logs(ACCOUNT, GATEWAY, &q).await?;
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
    let (_, info) = store.list_logs(ACCOUNT, GATEWAY, &openai).await?;
    assert_eq!(
        (
            info.total_count,
            info.min_cost,
            info.max_cost,
            info.min_total_tokens,
            info.max_total_tokens
        ),
        (2, Some(0.5), Some(0.5), Some(30), Some(30))
    );
    let (rows, info) = store.list_logs(ACCOUNT, "nothing", &q).await?;
    assert!(rows.is_empty());
    assert_eq!(info, LogPageInfo::default());
    Ok(())
}

#[tokio::test]
async fn rows_in_flight_are_not_listed_but_can_be_read() -> anyhow::Result<()> {
    let rows = fixture();
    let (_dir, store) = store_with(rows.clone()).await?;
    let listed = ids(&store, &query(vec![])).await?;
    assert!(!listed.contains(&"id-e".to_owned()));
    for expected in &rows {
        let got = store
            .get_log(&expected.account_id, &expected.gateway_id, &expected.id)
            .await?;
        assert_eq!(got.as_ref(), Some(expected));
    }
    // Another gateway's or account's row is not this gateway's.
    assert_eq!(store.get_log(ACCOUNT, GATEWAY, "id-f").await?, None);
    assert_eq!(store.get_log(ACCOUNT, GATEWAY, "id-g").await?, None);
    assert_eq!(store.get_log(ACCOUNT, GATEWAY, "missing").await?, None);
    Ok(())
}

#[tokio::test]
async fn invalid_queries_fail_cleanly() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
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
                store.list_logs(ACCOUNT, GATEWAY, &q).await,
                Err(StoreError::Backend(_))
            ),
            "{bad:?}"
        );
        assert!(
            store.delete_logs(ACCOUNT, GATEWAY, &q, 10).await.is_err(),
            "{bad:?}"
        );
    }
    let q = LogQuery {
        order_by: Some("id; DROP TABLE logs".into()),
        ..query(vec![])
    };
    assert!(store.list_logs(ACCOUNT, GATEWAY, &q).await.is_err());
    assert_eq!(ids(&store, &query(vec![])).await?.len(), 4);
    Ok(())
}

#[tokio::test]
async fn patch_sets_and_clears_fields() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
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
    // Only the fields present change; `Some(None)` clears.
    let clear_score = LogPatch {
        score: Some(None),
        ..LogPatch::default()
    };
    assert!(
        store
            .patch_log(ACCOUNT, GATEWAY, "id-c", &clear_score)
            .await?
    );
    let c = store.get_log(ACCOUNT, GATEWAY, "id-c").await?;
    let c = c.ok_or_else(|| anyhow::anyhow!("row gone"))?;
    assert_eq!(
        (c.feedback, c.score, c.metadata.as_deref()),
        (Some(-1), None, Some(r#"{"k":"v"}"#))
    );
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

async fn body_count(store: &SqliteStore) -> anyhow::Result<i64> {
    Ok(store
        .with(|c| c.query_row("SELECT COUNT(*) FROM log_bodies", [], |r| r.get(0)))
        .await?)
}

#[tokio::test]
async fn delete_takes_up_to_limit_rows_in_query_order_with_their_bodies() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
    store
        .with(|c| {
            for id in ["id-a", "id-c", "id-d", "id-e", "id-f"] {
                insert_body(c, id, Some(b"req"), Some(b"resp"))
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
            }
            Ok(())
        })
        .await?;
    // Newest first by default: d and c go.
    assert_eq!(
        store
            .delete_logs(ACCOUNT, GATEWAY, &query(vec![]), 2)
            .await?,
        2
    );
    assert_eq!(ids(&store, &query(vec![])).await?, ["id-b", "id-a"]);
    assert_eq!(body_count(&store).await?, 3);
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
    assert_eq!(ids(&store, &query(vec![])).await?, ["id-b"]);
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
    assert_eq!(body_count(&store).await?, 2);
    Ok(())
}

#[tokio::test]
async fn bodies_come_back_decompressed() -> anyhow::Result<()> {
    let mut rows = fixture();
    rows[0].request_head_complete = Some(false);
    rows[0].response_content_type = Some("text/event-stream".into());
    let (_dir, store) = store_with(rows).await?;
    store
        .with(|c| {
            let stored = insert_body(c, "id-a", Some(b"{\"messages\":[]}"), None)
                .and_then(|()| insert_body(c, "id-c", None, Some(b"")))
                .and_then(|()| insert_body(c, "id-f", Some(b"other"), Some(b"other")));
            stored.map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
        })
        .await?;
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
    // A NULL blob is "not stored"; an empty body is stored and empty.
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-a", BodyKind::Response)
            .await?,
        None
    );
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-c", BodyKind::Request)
            .await?,
        None
    );
    let empty = store
        .get_body(ACCOUNT, GATEWAY, "id-c", BodyKind::Response)
        .await?;
    assert_eq!(
        empty.map(|b| (b.bytes, b.content_type, b.complete)),
        Some((Vec::new(), Some("text/event-stream".into()), true))
    );
    // No body row, no such row, another gateway's row.
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-b", BodyKind::Request)
            .await?,
        None
    );
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "missing", BodyKind::Request)
            .await?,
        None
    );
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-f", BodyKind::Request)
            .await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn a_corrupt_body_is_an_error_not_garbage() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
    // A zstd frame's magic and then garbage. (Without the magic, bytes are a body kept raw.)
    store
        .with(|c| {
            c.execute(
                "INSERT INTO log_bodies (log_id, request, response)
                 VALUES ('id-a', x'28b52ffd00010203', x'00010203')",
                [],
            )
        })
        .await?;
    assert!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-a", BodyKind::Request)
            .await
            .is_err()
    );
    let raw = store
        .get_body(ACCOUNT, GATEWAY, "id-a", BodyKind::Response)
        .await?;
    assert_eq!(raw.map(|b| b.bytes), Some(vec![0, 1, 2, 3]));
    Ok(())
}

#[tokio::test]
async fn the_default_listing_walks_the_gateway_index() -> anyhow::Result<()> {
    let (_dir, store) = store_with(fixture()).await?;
    let clause = where_clause(Dialect::Sqlite, ACCOUNT, GATEWAY, &query(vec![]), true)
        .map_err(anyhow::Error::msg)?;
    let order = order_clause(Dialect::Sqlite, &query(vec![])).map_err(anyhow::Error::msg)?;
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT id FROM logs WHERE {} {order} LIMIT 20",
        clause.sql
    );
    let plan: Vec<String> = store
        .with_read(move |c| {
            c.prepare(&sql)?
                .query_map(params_from_iter(clause.params.iter()), |r| {
                    r.get::<_, String>(3)
                })?
                .collect()
        })
        .await?;
    let plan = plan.join("\n");
    assert!(plan.contains("logs_by_gateway"), "{plan}");
    assert!(
        !plan.contains("TEMP B-TREE"),
        "sorts instead of walking the index: {plan}"
    );
    Ok(())
}

/// Timing at scale, run by hand: `cargo test -p tollgate-gateway --release --lib -- --ignored
/// a_million_rows --nocapture`.
#[tokio::test]
#[ignore = "slow: builds a million-row database"]
async fn a_million_rows() -> anyhow::Result<()> {
    let (_dir, store) = store_with(vec![]).await?;
    store
        .with(|c| {
            let tx = c.transaction()?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO logs (id, account_id, gateway_id, created_at, provider, model, path,
                        method, status_code, success, duration, tokens_in, tokens_out, cost,
                        metadata, completed, instance_id)
                     VALUES (printf('%012d', ?1), 'local', 'gw', ?1, ?2, 'gpt-4o-mini',
                        'v1/chat/completions', 'POST', 200, 1, ?1 % 997, ?1 % 500, ?1 % 300,
                        (?1 % 1000) / 1e5, '{\"user\":\"u' || (?1 % 100) || '\"}', 1, 'bench')",
                )?;
                for i in 0..1_000_000_i64 {
                    let provider = ["openai", "anthropic", "workers-ai"][(i % 3) as usize];
                    insert.execute(params![i, provider])?;
                }
            }
            tx.commit()
        })
        .await?;
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
            query(vec![filter("created_at", FilterOp::Gt, &[json!(990_000)])]),
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
        (
            "order by cost",
            LogQuery {
                order_by: Some("cost".into()),
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
