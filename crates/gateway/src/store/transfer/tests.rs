//! The transfer against a real PostgreSQL (`TOLLGATE_TEST_POSTGRES_URL`, by default the local
//! one), each test on a database of its own: interrupted copies complete on a rerun without
//! duplicates or double-counted analytics, and deployments not at rest or targets in use are
//! refused.

use std::path::Path;

use anyhow::{Context, ensure};
use tollgate_test_support::postgres::TestDatabase;

use super::*;
use crate::analytics::{AnalyticsQuery, Resolution, RollupRow, rollup_deltas};
use crate::convert::signed_as_f64;
use crate::gateways::{Gateway, GatewaySettings};
use crate::logs::{LogBegin, LogEnd, RollupFacts, SpoolPosition, SpoolRecord};
use crate::store::logs::{AnalyticsStore, BodyKind, LogPatch, LogStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{
    CustomProviderStore, DlpProfileStore, DocumentKind, DocumentStore, GatewayStore,
    McpServerStore, PolicyStore, ProviderKeyStore, RouteStore, SettingStore, StoredDocument,
    StoredToken, TokenStore,
};

const INSTANCE: &str = "0190b5a4-0000-7000-8000-000000000001";
const LOGS: usize = 60;
/// 2024-06-30 23:30 UTC: the requests cross an hour and a day boundary.
const START_MS: i64 = 1_719_790_200_000;
const CHECKPOINT: SpoolPosition = SpoolPosition {
    segment: 3,
    offset: 4096,
};

/// A store on a database of the test's own (dropped when the guard goes).
async fn postgres_target() -> anyhow::Result<(TestDatabase, PostgresStore)> {
    let database = TestDatabase::create().await?;
    let store = PostgresStore::connect_with(database.config()).await?;
    Ok((database, store))
}

fn begin(i: usize) -> LogBegin {
    let n = i64::try_from(i).unwrap();
    let (account, gateway) = if i.is_multiple_of(3) {
        ("acme", "gamma")
    } else {
        ("local", "alpha")
    };
    let keep_payload = i.is_multiple_of(2);
    LogBegin {
        id: format!("0190b5a4-{i:04}-7000-8000-000000000000"),
        instance_id: INSTANCE.into(),
        account_id: account.into(),
        gateway_id: gateway.into(),
        created_at_ms: START_MS + n * 45_000,
        event_id: i.is_multiple_of(4).then(|| format!("event-{i}")),
        provider: "openai".into(),
        model: Some(
            if i.is_multiple_of(5) {
                "gpt-4o"
            } else {
                "gpt-4o-mini"
            }
            .into(),
        ),
        path: "chat/completions".into(),
        method: "POST".into(),
        metadata: (i % 3 == 1).then(|| format!(r#"{{"team":"t{}","run":{i}}}"#, i % 2)),
        step: i.is_multiple_of(7).then_some(1),
        request_content_type: Some("application/json".into()),
        request_size: 40 + n,
        client_ip: Some("203.0.113.9".into()),
        user_agent: Some("migrate-test".into()),
        keep_payload,
        request_headers: if keep_payload {
            vec![("content-type".into(), "application/json".into())]
        } else {
            Vec::new()
        },
        request_head_complete: true,
        trace_id: None,
    }
}

fn end(begin: &LogBegin, i: usize) -> LogEnd {
    let n = i64::try_from(i).unwrap();
    let failed = i % 10 == 9;
    LogEnd {
        id: begin.id.clone(),
        rollup: Some(RollupFacts::of(begin)),
        status_code: Some(if failed { 500 } else { 200 }),
        success: !failed,
        cached: i % 11 == 5,
        duration_ms: 20 + (n * 37) % 900,
        ttfb_ms: Some(5 + n),
        tokens_in: Some(10 + n),
        tokens_out: (!failed).then_some(3 * n),
        cost: (!failed).then_some(0.000_125 * signed_as_f64(n)),
        attempts: if failed { 3 } else { 1 },
        response_content_type: Some("application/json".into()),
        response_size: 100 + n,
        response_headers: if begin.keep_payload {
            vec![("x-request-id".into(), format!("req-{i}"))]
        } else {
            Vec::new()
        },
        response_head_complete: true,
        error: failed.then(|| "upstream error".into()),
        dlp: failed.then(|| r#"{"action":"FLAG","matches":["financial.iban"]}"#.into()),
        ..LogEnd::default()
    }
}

fn gateway(account: &str, id: &str, settings: GatewaySettings) -> Gateway {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    Gateway {
        account_id: account.into(),
        id: id.into(),
        settings,
        created_at: now,
        modified_at: now,
    }
}

/// A stopped deployment in `dir`: gateways, a run token, the admin token's hash, logs with
/// bodies and feedback, rollups, and a spool whose every record reached the database.
async fn deployment(dir: &Path) -> anyhow::Result<()> {
    let store = SqliteStore::open(&dir.join("tollgate.db"))?;
    std::fs::write(dir.join("instance-id"), INSTANCE)?;
    std::fs::create_dir_all(dir.join("spool"))?;
    std::fs::write(
        dir.join("spool")
            .join(format!("{:020}.spool", CHECKPOINT.segment)),
        vec![0u8; usize::try_from(CHECKPOINT.offset).unwrap()],
    )?;
    let mut alpha = GatewaySettings {
        cache_ttl: 300,
        authentication: true,
        retry_max_attempts: 3,
        log_management: Some(5_000),
        ..GatewaySettings::default()
    };
    alpha.rate_limiting_limit = 40;
    store
        .insert_gateway(&gateway("local", "alpha", alpha))
        .await?;
    store
        .insert_gateway(&gateway("local", "beta", GatewaySettings::default()))
        .await?;
    store
        .insert_gateway(&gateway("acme", "gamma", GatewaySettings::default()))
        .await?;
    // A stored provider key: copied sealed, byte for byte.
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    store
        .insert_provider_key(&crate::store::StoredProviderKey {
            id: "key-1".into(),
            account_id: "local".into(),
            gateway_id: "alpha".into(),
            alias: "prod".into(),
            provider_slug: "openai".into(),
            default_config: true,
            secret_id: "secret-1".into(),
            secret_preview: "sk-a...wxyz".into(),
            sealed: crate::store::SealedSecret {
                kek_id: "0011223344556677".into(),
                wrapped_key: vec![0, 1, 2, 255],
                ciphertext: vec![7; 48],
            },
            rate_limit: Some(10),
            rate_limit_period: Some(60),
            status: crate::store::KeyStatus::Invalid,
            created_at: now,
            modified_at: now,
            last_used_at: Some(now),
        })
        .await?;
    // A policy, committed and with a staged draft.
    store
        .put_policy(&crate::store::StoredPolicy {
            id: "policy-1".into(),
            account_id: "local".into(),
            gateway_id: "alpha".into(),
            committed: Some(r#"{"name":"cap"}"#.into()),
            draft: Some(r#"{"name":"cap2"}"#.into()),
            created_at: now,
            updated_at: now,
        })
        .await?;
    // A custom DLP profile, updated once.
    store
        .insert_dlp_profile(&crate::store::StoredDlpProfile {
            id: "profile-1".into(),
            account_id: "local".into(),
            name: "badges".into(),
            body: r#"{"name":"badges","entries":[]}"#.into(),
            version: 2,
            created_at: now,
            updated_at: now,
        })
        .await?;
    // A custom provider made through the API.
    store
        .insert_custom_provider(&crate::store::StoredCustomProvider {
            id: "cp-1".into(),
            account_id: "local".into(),
            slug: "neon".into(),
            name: "Neon".into(),
            base_url: "https://neon.example".into(),
            description: Some("Postgres".into()),
            link: None,
            curl_example: None,
            js_example: None,
            enable: true,
            beta: false,
            position: Some(2),
            created_at: now,
            modified_at: now,
        })
        .await?;
    // An MCP server registered through the API, its credential a stored key's id.
    store
        .insert_mcp_server(&crate::store::StoredMcpServer {
            id: "mcp-1".into(),
            account_id: "local".into(),
            gateway_id: "alpha".into(),
            name: "github".into(),
            url: "https://mcp.example/mcp".into(),
            headers: r#"{"x-tenant":"acme"}"#.into(),
            key_id: Some("key-1".into()),
            enabled: false,
            timeout_ms: 5_000,
            cost_per_call: Some(0.01),
            created_at: now,
            modified_at: now,
        })
        .await?;
    // A dataset and an evaluation of the same id: different documents.
    for kind in [DocumentKind::Dataset, DocumentKind::Evaluation] {
        store
            .insert_document(&StoredDocument {
                account_id: "local".into(),
                gateway_id: "alpha".into(),
                kind,
                id: "doc-1".into(),
                body: format!(r#"{{"name":"{}"}}"#, kind.as_str()),
                created_at: now,
                modified_at: now,
            })
            .await?;
    }
    // A dynamic route with two versions, deployed, then rolled back: the target serves the
    // same version.
    let version = |id: &str, elements: &str| crate::store::StoredRouteVersion {
        id: id.into(),
        route_id: "route-1".into(),
        elements: elements.into(),
        comment: Some(format!("comment {id}")),
        created_at: now,
    };
    let deployment = |id: &str, version_id: &str| crate::store::StoredDeployment {
        id: id.into(),
        route_id: "route-1".into(),
        version_id: version_id.into(),
        comment: None,
        created_at: now,
    };
    store
        .insert_route(
            &crate::store::StoredRoute {
                id: "route-1".into(),
                account_id: "local".into(),
                gateway_id: "alpha".into(),
                name: "support".into(),
                created_at: now,
                modified_at: now,
            },
            &version("v-1", r#"[{"id":"s","type":"start"}]"#),
            &deployment("d-1", "v-1"),
        )
        .await?;
    store.insert_route_version(&version("v-2", "[]")).await?;
    store
        .insert_route_deployment(&deployment("d-2", "v-2"))
        .await?;
    store
        .insert_route_deployment(&deployment("d-3", "v-1"))
        .await?;
    store
        .insert_token(&StoredToken {
            id: "tok-1".into(),
            account_id: "local".into(),
            name: "ci".into(),
            token_sha256: [7; 32],
            created_at: crate::clock::Clock::now(&crate::clock::SystemClock),
            // The scope is copied with the token (compared below with the rest of it).
            scope: std::sync::Arc::new(crate::auth::TokenScope {
                gateways: Some(vec!["gw".into()]),
                models: Some(vec!["openai/gpt-*".into()]),
                ..Default::default()
            }),
        })
        .await?;
    store
        .insert_setting("admin_token_sha256", &"ab".repeat(32))
        .await?;
    let mut records = Vec::new();
    let mut ends = Vec::new();
    for i in 0..LOGS {
        let b = begin(i);
        let e = end(&b, i);
        let body = |text: String| {
            if b.keep_payload {
                text.into_bytes()
            } else {
                Vec::new()
            }
        };
        records.push(SpoolRecord::Begin {
            body: body(format!(r#"{{"prompt":"request {i}"}}"#)),
            begin: Box::new(b.clone()),
        });
        records.push(SpoolRecord::End {
            body: body(format!(r#"{{"answer":"response {i}"}}"#)),
            end: Box::new(e.clone()),
        });
        ends.push(e);
    }
    let deltas = rollup_deltas(&ends);
    store
        .ingest(INSTANCE, records, deltas, CHECKPOINT, Vec::new())
        .await?;
    for i in [1, 4, 8] {
        let b = begin(i);
        let patch = LogPatch {
            feedback: Some(Some(if i == 4 { -1 } else { 1 })),
            score: Some(Some(0.5 * f64::from(u8::try_from(i).unwrap()))),
            metadata: (i == 8).then(|| Some(r#"{"reviewed":"yes"}"#.to_owned())),
        };
        ensure!(
            store
                .patch_log(&b.account_id, &b.gateway_id, &b.id, &patch)
                .await?
        );
    }
    Ok(())
}

fn rollup_query(account: &str, resolution: Resolution) -> AnalyticsQuery {
    AnalyticsQuery {
        account_id: account.into(),
        gateway_id: None,
        provider: None,
        model: None,
        start_ms: 0,
        end_ms: i64::MAX,
        resolution,
        group_by: None,
    }
}

/// Rollup rows in key order, with sketches as their encoding: comparable across stores.
async fn rollups(
    store: &dyn AnalyticsStore,
    account: &str,
    resolution: Resolution,
) -> anyhow::Result<Vec<String>> {
    let mut rows: Vec<RollupRow> = store.rollups(&rollup_query(account, resolution)).await?;
    rows.sort_by(|a, b| format!("{:?}", a.key).cmp(&format!("{:?}", b.key)));
    Ok(rows
        .iter()
        .map(|r| {
            let m = &r.measures;
            format!(
                "{:?} {} {} {} {} {} {} {} {:.9} {:?} {:?}",
                r.key,
                m.requests,
                m.errors,
                m.cached_requests,
                m.tokens_in,
                m.tokens_out,
                m.cache_read_tokens,
                m.cache_write_tokens,
                m.cost,
                m.duration.encode(),
                m.ttfb.encode()
            )
        })
        .collect())
}

/// Everything the source holds is in the target, column by column.
async fn assert_same(source: &SqliteStore, target: &PostgresStore) -> anyhow::Result<()> {
    ensure!(source.list_gateways().await? == target.list_gateways().await?);
    ensure!(source.list_tokens().await? == target.list_tokens().await?);
    ensure!(source.list_provider_keys().await? == target.list_provider_keys().await?);
    ensure!(target.list_provider_keys().await?.len() == 1);
    let policies = target.list_policies("local", "alpha").await?;
    ensure!(source.list_policies("local", "alpha").await? == policies);
    ensure!(policies.len() == 1);
    let profiles = target.list_dlp_profiles("local").await?;
    ensure!(source.list_dlp_profiles("local").await? == profiles);
    ensure!(profiles.len() == 1);
    let custom = target.list_custom_providers().await?;
    ensure!(source.list_custom_providers().await? == custom && custom.len() == 1);
    let servers = target.list_mcp_servers().await?;
    ensure!(source.list_mcp_servers().await? == servers && servers.len() == 1);
    for kind in [DocumentKind::Dataset, DocumentKind::Evaluation] {
        let want = source.list_documents("local", "alpha", kind).await?;
        ensure!(want.len() == 1 && target.list_documents("local", "alpha", kind).await? == want);
    }
    ensure!(source.list_deployed_routes().await? == target.list_deployed_routes().await?);
    ensure!(target.list_deployed_routes().await?[0].version.id == "v-1");
    ensure!(
        source.list_route_versions("route-1").await?
            == target.list_route_versions("route-1").await?
    );
    ensure!(
        source.list_route_deployments("route-1").await?
            == target.list_route_deployments("route-1").await?
    );
    ensure!(target.list_route_deployments("route-1").await?.len() == 3);
    ensure!(
        target.get_setting("admin_token_sha256").await? == Some("ab".repeat(32)),
        "the admin token's hash"
    );
    for i in 0..LOGS {
        let b = begin(i);
        let (a, g) = (b.account_id.as_str(), b.gateway_id.as_str());
        let want = source.get_log(a, g, &b.id).await?.context("source row")?;
        let got = target.get_log(a, g, &b.id).await?;
        ensure!(got.as_ref() == Some(&want), "log {i}: {got:?} != {want:?}");
        for kind in [BodyKind::Request, BodyKind::Response] {
            let want = source.get_body(a, g, &b.id, kind).await?;
            ensure!(
                want.is_some() == b.keep_payload,
                "log {i} body in the source"
            );
            ensure!(
                target.get_body(a, g, &b.id, kind).await? == want,
                "log {i} {kind:?} body"
            );
        }
    }
    for account in ["local", "acme"] {
        for resolution in Resolution::ALL {
            let want = rollups(source, account, resolution).await?;
            ensure!(!want.is_empty());
            ensure!(
                rollups(target, account, resolution).await? == want,
                "{account} {resolution:?} rollups"
            );
        }
    }
    ensure!(target.checkpoint(INSTANCE).await? == Some(CHECKPOINT));
    Ok(())
}

fn small_batches() -> TransferOptions {
    TransferOptions {
        batch_rows: 7,
        ..TransferOptions::default()
    }
}

/// Runs a transfer and drops it (as Ctrl-C or a kill would) once `table` reports `done` rows.
async fn interrupted(
    source: &SqliteSource,
    target: &PostgresStore,
    table: &'static str,
    done: u64,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let mut stop = Some(stop);
    let mut progress = |p: &Progress| {
        if p.table == table
            && p.done >= done
            && let Some(stop) = stop.take()
        {
            let _ = stop.send(());
        }
    };
    let options = small_batches();
    tokio::select! {
        biased;
        _ = stopped => Ok(()),
        result = sqlite_to_postgres(source, target, &options, &mut progress) => {
            anyhow::bail!("the copy ended before its interruption: {result:?}")
        }
    }
}

async fn count(target: &PostgresStore, table: &str) -> anyhow::Result<i64> {
    let client = target.pool().get().await?;
    let row = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await?;
    Ok(row.try_get(0)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_completes_on_a_rerun_without_counting_twice() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    deployment(dir.path()).await?;
    let source = SqliteSource::open(dir.path(), None)?;
    for (table, done) in [("logs", 21), ("rollups_hour", 1)] {
        let (_db, target) = postgres_target().await?;
        interrupted(&source, &target, table, done).await?;
        let logs = count(&target, "logs").await?;
        let rollups = count(&target, "rollups_minute").await?;
        if table == "logs" {
            ensure!(
                logs >= 21 && logs < i64::try_from(LOGS).unwrap(),
                "{logs} logs after the cut"
            );
        } else {
            ensure!(logs == i64::try_from(LOGS).unwrap());
        }
        ensure!(rollups == 0, "rollups commit whole or not at all");

        let summary = sqlite_to_postgres(&source, &target, &small_batches(), &mut |_| {}).await?;
        let logs_summary = summary.table("logs").context("logs")?;
        ensure!(i64::try_from(logs_summary.copied)? == i64::try_from(LOGS)? - logs);
        ensure!(logs_summary.copied + logs_summary.skipped == LOGS as u64);
        ensure!(summary.table("rollups_minute").context("minute")?.skipped == 0);
        assert_same(
            &SqliteStore::open(&dir.path().join("tollgate.db"))?,
            &target,
        )
        .await?;

        // A third run finds everything there and adds nothing.
        let again = sqlite_to_postgres(&source, &target, &small_batches(), &mut |_| {}).await?;
        for t in &again.tables {
            ensure!(t.copied == 0 && t.skipped == t.source_rows, "{t:?}");
        }
        assert_same(
            &SqliteStore::open(&dir.path().join("tollgate.db"))?,
            &target,
        )
        .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_not_at_rest_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    deployment(dir.path()).await?;
    // Records past the checkpoint: the spool was never shipped.
    let spool = dir.path().join("spool");
    std::fs::write(spool.join(format!("{:020}.spool", 4)), b"unshipped")?;
    let refused = SqliteSource::open(&dir.path().join("tollgate.db"), None);
    ensure!(
        matches!(refused, Err(TransferError::UnshippedSpool { bytes: 9, .. })),
        "{:?}",
        refused.err()
    );
    std::fs::remove_file(spool.join(format!("{:020}.spool", 4)))?;
    // A request whose end never arrived.
    let store = SqliteStore::open(&dir.path().join("tollgate.db"))?;
    let b = begin(LOGS + 1);
    let next = SpoolPosition {
        segment: CHECKPOINT.segment,
        offset: CHECKPOINT.offset,
    };
    store
        .ingest(
            INSTANCE,
            vec![SpoolRecord::Begin {
                begin: Box::new(b),
                body: Vec::new(),
            }],
            Vec::new(),
            next,
            Vec::new(),
        )
        .await?;
    let refused = SqliteSource::open(dir.path(), None);
    ensure!(
        matches!(refused, Err(TransferError::InFlight { rows: 1 })),
        "{:?}",
        refused.err()
    );
    // No instance-id beside the database: not a data directory.
    std::fs::remove_file(dir.path().join("instance-id"))?;
    ensure!(matches!(
        SqliteSource::open(dir.path(), None),
        Err(TransferError::NoInstanceId { .. })
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_in_use_is_refused_unless_forced_and_then_added_to() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    deployment(dir.path()).await?;
    let source = SqliteSource::open(dir.path(), None)?;
    let (_db, target) = postgres_target().await?;
    // Another deployment's request, in the same minute as the source's first one.
    let mut other = begin(0);
    other.id = "0190b5a4-ffff-7000-8000-000000000000".into();
    other.instance_id = "other-instance".into();
    let other_end = end(&other, 0);
    let deltas = rollup_deltas([&other_end]);
    target
        .ingest(
            "other-instance",
            vec![
                SpoolRecord::Begin {
                    begin: Box::new(other),
                    body: Vec::new(),
                },
                SpoolRecord::End {
                    end: Box::new(other_end),
                    body: Vec::new(),
                },
            ],
            deltas,
            SpoolPosition::default(),
            Vec::new(),
        )
        .await?;
    let refused =
        sqlite_to_postgres(&source, &target, &TransferOptions::default(), &mut |_| {}).await;
    ensure!(
        matches!(refused, Err(TransferError::TargetInUse)),
        "{refused:?}"
    );
    ensure!(count(&target, "gateways").await? == 0, "nothing copied");

    let forced = TransferOptions {
        force: true,
        ..small_batches()
    };
    sqlite_to_postgres(&source, &target, &forced, &mut |_| {}).await?;
    ensure!(count(&target, "logs").await? == i64::try_from(LOGS)? + 1);
    for resolution in Resolution::ALL {
        let rows = target.rollups(&rollup_query("acme", resolution)).await?;
        let requests: u64 = rows.iter().map(|r| r.measures.requests).sum();
        let sketched: u64 = rows.iter().map(|r| r.measures.duration.count()).sum();
        ensure!(requests == 20 + 1, "{resolution:?}: {requests}");
        ensure!(sketched == 20 + 1, "{resolution:?} sketches: {sketched}");
    }
    // Once started, a rerun needs no --force: the rows it finds are its own.
    let rerun =
        sqlite_to_postgres(&source, &target, &TransferOptions::default(), &mut |_| {}).await?;
    ensure!(rerun.table("logs").context("logs")?.copied == 0);
    Ok(())
}
