//! One suite of store tests for every backend: the same rows, fed through `ingest` (and
//! `patch_log` for feedback and score), the same queries and the same expected answers; the
//! same gateways, tokens and settings. A backend takes part by implementing [`Backend`] in its
//! own test module and invoking [`suite!`] there; what only one backend has (its query plans,
//! its scale runs, its migration lock, its connection settings) stays beside it.

pub(crate) mod custom_providers;
pub(crate) mod dlp_profiles;
pub(crate) mod documents;
pub(crate) mod logs;
pub(crate) mod mcp_servers;
pub(crate) mod policies;
pub(crate) mod provider_keys;
pub(crate) mod registry;
pub(crate) mod routes;

use async_trait::async_trait;

use crate::logs::{LogBegin, LogEnd, SpoolPosition, SpoolRecord};
use crate::store::Store;
use crate::store::logs::{LogPatch, LogRow};

pub(crate) const ACCOUNT: &str = "local";
pub(crate) const GATEWAY: &str = "gw";

/// A fresh, empty store of one backend, and the few looks beneath the traits the suite needs.
/// The SQL handed to `count` and `bytes` is plain enough for every backend.
#[async_trait]
pub(crate) trait Backend: Send + Sync + Sized {
    async fn open() -> anyhow::Result<Self>;
    fn store(&self) -> &dyn Store;
    /// Another store on the same database, as a restart or a second instance opens it.
    async fn reopen(&self) -> anyhow::Result<Box<dyn Store>>;
    /// The single BIGINT a query yields (counts).
    async fn count(&self, sql: &str) -> anyhow::Result<i64>;
    /// The single BLOB/bytea a query yields, if any.
    async fn bytes(&self, sql: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Writes `bytes` as they are into `column` of the body row of `log_id`.
    async fn set_body_column(&self, log_id: &str, column: &str, bytes: &[u8])
    -> anyhow::Result<()>;
}

/// Instantiates every test of the suite for a [`Backend`] as `#[tokio::test]`s of the
/// invoking module.
macro_rules! suite {
    ($backend:ty) => {
        $crate::store::conformance::suite!(@tests $backend; logs;
            every_filter_key_and_operator,
            search_is_a_case_insensitive_substring_of_several_columns,
            ordering_both_directions_with_ties_broken_by_id,
            pages_split_the_ordered_set,
            aggregates_cover_the_whole_filtered_set,
            rows_read_back_as_ingested_and_in_flight_rows_are_not_listed,
            invalid_queries_fail_cleanly,
            patch_sets_and_clears_fields,
            delete_takes_up_to_limit_rows_in_query_order_with_their_bodies,
            bodies_come_back_decompressed,
            a_corrupt_body_is_an_error_not_garbage,
        );
        $crate::store::conformance::suite!(@tests $backend; registry;
            gateways_round_trip_with_conflicts_and_not_found,
            tokens_store_only_hashes,
            a_token_scope_round_trips,
            a_setting_keeps_its_first_value,
            reopening_keeps_the_data,
        );
        $crate::store::conformance::suite!(@tests $backend; provider_keys;
            provider_keys_round_trip,
        );
        $crate::store::conformance::suite!(@tests $backend; documents;
            documents_round_trip_by_kind_and_go_with_their_gateway,
        );
        $crate::store::conformance::suite!(@tests $backend; routes;
            routes_versions_and_deployments_round_trip,
        );
        $crate::store::conformance::suite!(@tests $backend; policies;
            policies_stage_commit_and_go_with_their_gateway,
        );
        $crate::store::conformance::suite!(@tests $backend; dlp_profiles;
            dlp_profiles_are_kept_per_account_with_their_version,
        );
        $crate::store::conformance::suite!(@tests $backend; custom_providers;
            custom_providers_round_trip_unique_by_account_and_slug,
        );
        $crate::store::conformance::suite!(@tests $backend; mcp_servers;
            mcp_servers_round_trip_and_go_with_their_gateway,
        );
    };
    (@tests $backend:ty; $module:ident; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() -> anyhow::Result<()> {
                $crate::store::conformance::$module::$test::<$backend>().await
            }
        )*
    };
}
pub(crate) use suite;

/// A store of backend `B` holding `rows`.
pub(crate) async fn seeded<B: Backend>(rows: &[LogRow]) -> anyhow::Result<B> {
    let backend = B::open().await?;
    let store = backend.store();
    let all: Vec<SpoolRecord> = rows.iter().flat_map(records).collect();
    let position = SpoolPosition {
        segment: 1,
        offset: 1,
    };
    store
        .ingest("inst-a", all, Vec::new(), position, Vec::new())
        .await?;
    for r in rows {
        if r.feedback.is_some() || r.score.is_some() {
            let patch = LogPatch {
                feedback: r.feedback.map(Some),
                score: r.score.map(Some),
                metadata: None,
            };
            store
                .patch_log(&r.account_id, &r.gateway_id, &r.id, &patch)
                .await?;
        }
    }
    Ok(backend)
}

/// A completed 200 of gateway `gw`.
pub(crate) fn row(id: &str, created_at_ms: i64) -> LogRow {
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
/// each in another gateway and another account.
pub(crate) fn fixture() -> Vec<LogRow> {
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

/// The spool records that produce `row` (feedback and score come from a patch). A row keeps
/// its request payload when `request_head_complete` is set, its response payload when
/// `response_head_complete` is.
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
        trace_id: row.trace_id.clone(),
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
            dlp: row.dlp.clone(),
        };
        out.push(SpoolRecord::End {
            end: Box::new(end),
            body: b"data: [DONE]\n\n".to_vec(),
        });
    }
    out
}
