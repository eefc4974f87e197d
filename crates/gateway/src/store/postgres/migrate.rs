//! Forward-only schema migrations, recorded in `schema_migrations`. Instances that start together
//! take turns on an advisory lock, so each migration runs exactly once, in one transaction with
//! its record (PostgreSQL's DDL is transactional).

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;

/// In order; a migration is never edited once released, only followed by a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_gateways_tokens.sql"),
    include_str!("migrations/0002_logs.sql"),
    include_str!("migrations/0003_rollups.sql"),
    include_str!("migrations/0004_change_notify.sql"),
    include_str!("migrations/0005_provider_keys.sql"),
    include_str!("migrations/0006_token_scope.sql"),
    include_str!("migrations/0007_trace_id.sql"),
    include_str!("migrations/0008_documents.sql"),
    include_str!("migrations/0009_routes.sql"),
    include_str!("migrations/0010_log_dlp.sql"),
    include_str!("migrations/0011_policies.sql"),
    include_str!("migrations/0012_dlp_profiles.sql"),
    include_str!("migrations/0013_mcp_servers.sql"),
    include_str!("migrations/0014_custom_providers.sql"),
    include_str!("migrations/0015_mcp_server_price.sql"),
];

/// The advisory lock key that serialises migrations ("tollgate" in ASCII). Advisory locks are
/// per database, so other applications' keys in other databases do not matter.
const MIGRATION_LOCK: i64 = 0x746f_6c6c_6761_7465;

/// Migrations may rewrite big tables, so they get longer than an ordinary call.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) async fn run(pool: &Pool) -> anyhow::Result<()> {
    tokio::time::timeout(MIGRATION_TIMEOUT, apply(pool))
        .await
        .map_err(|_| {
            anyhow::anyhow!("PostgreSQL migrations did not finish within {MIGRATION_TIMEOUT:?}")
        })?
}

async fn apply(pool: &Pool) -> anyhow::Result<()> {
    let mut client = pool.get().await.context("cannot connect to PostgreSQL")?;
    let transaction = client.transaction().await?;
    transaction
        .batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            MIGRATION_TIMEOUT.as_millis()
        ))
        .await?;
    // Taken before anything else: two instances creating `schema_migrations` at once would
    // otherwise collide.
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let applied: Option<i32> = transaction
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await?
        .try_get(0)?;
    let applied = usize::try_from(applied.unwrap_or(0)).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        anyhow::bail!(
            "the database schema (version {applied}) is newer than this tollgate ({}); upgrade tollgate",
            MIGRATIONS.len()
        );
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = i32::try_from(index + 1)?;
        transaction
            .batch_execute(sql)
            .await
            .with_context(|| format!("PostgreSQL migration {version} failed"))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
