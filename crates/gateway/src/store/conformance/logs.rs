//! The log store's queries, patches, deletions and bodies: the tests of [`super::suite!`],
//! each a body generic over the [`Backend`].

use serde_json::{Value, json};

use super::{ACCOUNT, Backend, GATEWAY, fixture, seeded};
use crate::store::StoreError;
use crate::store::logs::{
    BodyKind, FilterOp, LogFilter, LogPageInfo, LogPatch, LogQuery, LogStore, StoredBody,
};

pub(crate) fn filter(key: &str, op: FilterOp, values: &[Value]) -> LogFilter {
    LogFilter {
        key: key.into(),
        op,
        values: values.to_vec(),
    }
}

pub(crate) fn query(filters: Vec<LogFilter>) -> LogQuery {
    LogQuery {
        filters,
        page: 1,
        per_page: 50,
        ..LogQuery::default()
    }
}

async fn ids(store: &dyn LogStore, query: &LogQuery) -> anyhow::Result<Vec<String>> {
    let (rows, info) = store.list_logs(ACCOUNT, GATEWAY, query).await?;
    let ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    // The page and the total agree whenever everything fits on one page.
    if query.page == 1 && ids.len() < query.per_page as usize {
        assert_eq!(info.total_count, ids.len() as u64, "{query:?}");
    }
    Ok(ids)
}

pub(crate) async fn every_filter_key_and_operator<B: Backend>() -> anyhow::Result<()> {
    use FilterOp::{Contains, Eq, Gt, Lt, Neq};
    let backend = seeded::<B>(&fixture()).await?;
    let store = backend.store();
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
        assert_eq!(ids(store, &q).await?, expected, "{key} {op:?} {values:?}");
    }
    // All filters must match.
    let both = query(vec![
        filter("provider", FilterOp::Eq, &[json!("openai")]),
        filter("success", FilterOp::Eq, &[json!(false)]),
    ]);
    assert_eq!(ids(store, &both).await?, ["id-c"]);
    Ok(())
}

pub(crate) async fn search_is_a_case_insensitive_substring_of_several_columns<B: Backend>()
-> anyhow::Result<()> {
    let backend = seeded::<B>(&fixture()).await?;
    let store = backend.store();
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
        assert_eq!(ids(store, &q).await?, expected, "search {needle:?}");
    }
    Ok(())
}

pub(crate) async fn ordering_both_directions_with_ties_broken_by_id<B: Backend>()
-> anyhow::Result<()> {
    let backend = seeded::<B>(&fixture()).await?;
    let store = backend.store();
    // NULL sorts first ascending and last descending; ties go by id.
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
            ids(store, &q).await?,
            *expected,
            "{order_by:?} asc={ascending}"
        );
    }
    Ok(())
}

pub(crate) async fn pages_split_the_ordered_set<B: Backend>() -> anyhow::Result<()> {
    let backend = seeded::<B>(&fixture()).await?;
    let store = backend.store();
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

pub(crate) async fn aggregates_cover_the_whole_filtered_set<B: Backend>() -> anyhow::Result<()> {
    let backend = seeded::<B>(&fixture()).await?;
    let store = backend.store();
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
            cost_sum: Some(1.75),
            cost_count: 3,
            duration_sum: Some(455.0),
            duration_count: 4,
            feedback_up: 1,
            feedback_down: 1,
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

pub(crate) async fn rows_read_back_as_ingested_and_in_flight_rows_are_not_listed<B: Backend>()
-> anyhow::Result<()> {
    let rows = fixture();
    let backend = seeded::<B>(&rows).await?;
    let store = backend.store();
    let listed = ids(store, &query(vec![])).await?;
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

pub(crate) async fn invalid_queries_fail_cleanly<B: Backend>() -> anyhow::Result<()> {
    let backend = seeded::<B>(&fixture()).await?;
    let store = backend.store();
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
    // A NUL in a filter value is a value like any other, not a server error.
    let nul = query(vec![filter("model", FilterOp::Eq, &[json!("a\u{0}b")])]);
    assert_eq!(ids(store, &nul).await?, Vec::<String>::new());
    assert_eq!(ids(store, &query(vec![])).await?.len(), 4);
    Ok(())
}

pub(crate) async fn patch_sets_and_clears_fields<B: Backend>() -> anyhow::Result<()> {
    let backend = seeded::<B>(&fixture()).await?;
    let store = backend.store();
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
    // Patched metadata is what the metadata filters see, until it is cleared.
    let by_value = query(vec![filter("metadata.value", FilterOp::Eq, &[json!("v")])]);
    assert_eq!(ids(store, &by_value).await?, ["id-c"]);
    let clear_metadata = LogPatch {
        metadata: Some(None),
        ..LogPatch::default()
    };
    assert!(
        store
            .patch_log(ACCOUNT, GATEWAY, "id-c", &clear_metadata)
            .await?
    );
    let c = store.get_log(ACCOUNT, GATEWAY, "id-c").await?;
    let c = c.ok_or_else(|| anyhow::anyhow!("row gone"))?;
    assert_eq!((c.feedback, c.score, c.metadata), (Some(-1), None, None));
    assert!(ids(store, &by_value).await?.is_empty());
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

pub(crate) async fn delete_takes_up_to_limit_rows_in_query_order_with_their_bodies<B: Backend>()
-> anyhow::Result<()> {
    let mut rows = fixture();
    for r in &mut rows {
        r.request_head_complete = Some(true);
    }
    let backend = seeded::<B>(&rows).await?;
    let store = backend.store();
    let bodies = "SELECT COUNT(*) FROM log_bodies";
    assert_eq!(backend.count(bodies).await?, 7);
    // Newest first by default: d and c go.
    assert_eq!(
        store
            .delete_logs(ACCOUNT, GATEWAY, &query(vec![]), 2)
            .await?,
        2
    );
    assert_eq!(ids(store, &query(vec![])).await?, ["id-b", "id-a"]);
    assert_eq!(backend.count(bodies).await?, 5);
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
    assert_eq!(ids(store, &query(vec![])).await?, ["id-b"]);
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
    assert_eq!(backend.count(bodies).await?, 3);
    // The row counters followed every insert and delete.
    assert_eq!(
        backend
            .count("SELECT rows FROM log_counts WHERE account_id = 'local' AND gateway_id = 'gw'")
            .await?,
        1
    );
    Ok(())
}

pub(crate) async fn bodies_come_back_decompressed<B: Backend>() -> anyhow::Result<()> {
    let mut rows = fixture();
    // a: request kept (cut short), response not kept; c: both kept.
    rows[0].request_head_complete = Some(false);
    rows[2].request_head_complete = Some(true);
    rows[2].response_head_complete = Some(true);
    let backend = seeded::<B>(&rows).await?;
    let store = backend.store();
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
    let stored = backend
        .bytes("SELECT response FROM log_bodies WHERE log_id = 'id-c'")
        .await?;
    assert_eq!(stored.as_deref(), Some(&b"data: [DONE]\n\n"[..]));
    let frame = zstd::encode_all(&b"data: [DONE]\n\n"[..], 3)?;
    backend.set_body_column("id-c", "response", &frame).await?;
    assert_eq!(
        store
            .get_body(ACCOUNT, GATEWAY, "id-c", BodyKind::Response)
            .await?,
        response
    );
    // An empty body is stored and empty (a NULL one is "not stored", above).
    backend.set_body_column("id-c", "response", b"").await?;
    let empty = store
        .get_body(ACCOUNT, GATEWAY, "id-c", BodyKind::Response)
        .await?;
    assert_eq!(
        empty.map(|b| (b.bytes, b.content_type, b.complete)),
        Some((Vec::new(), Some("text/event-stream".into()), true))
    );
    Ok(())
}

pub(crate) async fn a_corrupt_body_is_an_error_not_garbage<B: Backend>() -> anyhow::Result<()> {
    let mut rows = fixture();
    rows[0].request_head_complete = Some(true);
    rows[0].response_head_complete = Some(true);
    let backend = seeded::<B>(&rows).await?;
    let store = backend.store();
    // A zstd frame's magic and then garbage. (Without the magic, bytes are a body kept raw.)
    backend
        .set_body_column("id-a", "request", &[0x28, 0xb5, 0x2f, 0xfd, 0, 1, 2, 3])
        .await?;
    backend
        .set_body_column("id-a", "response", &[0, 1, 2, 3])
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

/// Times the listing queries the logs API makes most on a store of many rows (run by hand,
/// see the `#[ignore]`d scale tests beside each backend). `recent_ms` is a `created_at` near
/// the newest row.
pub(crate) async fn time_queries(
    store: &dyn LogStore,
    recent_ms: i64,
    extra: Vec<(&str, LogQuery)>,
) -> anyhow::Result<()> {
    let standard = vec![
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
            query(vec![filter(
                "created_at",
                FilterOp::Gt,
                &[json!(recent_ms)],
            )]),
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
    ];
    for (name, q) in standard.into_iter().chain(extra) {
        let started = crate::clock::monotonic_now();
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
