//! Forward-only schema migrations, tracked in SQLite's `user_version`.

use rusqlite::Connection;

/// In order; a migration is never edited once released, only followed by a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_gateways_tokens.sql"),
    include_str!("migrations/0002_logs.sql"),
    include_str!("migrations/0003_rollups.sql"),
    include_str!("migrations/0004_provider_keys.sql"),
    include_str!("migrations/0005_token_scope.sql"),
    include_str!("migrations/0006_trace_id.sql"),
    include_str!("migrations/0007_documents.sql"),
    include_str!("migrations/0008_routes.sql"),
    include_str!("migrations/0009_log_dlp.sql"),
    include_str!("migrations/0010_policies.sql"),
    include_str!("migrations/0011_dlp_profiles.sql"),
    include_str!("migrations/0012_mcp_servers.sql"),
    include_str!("migrations/0013_custom_providers.sql"),
    include_str!("migrations/0014_mcp_server_price.sql"),
];

pub(super) fn run(connection: &mut Connection) -> anyhow::Result<()> {
    let applied: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        anyhow::bail!(
            "the database schema (version {applied}) is newer than this tollgate ({}); upgrade tollgate",
            MIGRATIONS.len()
        );
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", i64::try_from(index + 1)?)?;
        transaction.commit()?;
    }
    Ok(())
}
