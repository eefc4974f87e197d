//! The tables copied row by row in keyset batches by id: stored provider keys (sealed, as they
//! are: the target opens them with the same key-encryption key, docs/keys.md), policies, custom
//! DLP profiles, and the custom providers and MCP servers made through the API. Each is a
//! [`ById`]: how its rows are read from SQLite and how one is inserted into PostgreSQL.

use tokio_postgres::types::ToSql;

use super::registry::{advance, empty};
use super::{Run, TableSummary, TransferError, within};
use crate::store::postgres::pg_text;
use crate::store::sqlite::{custom_providers, dlp_profiles, mcp_servers, policies, provider_keys};
use crate::store::{
    StoredCustomProvider, StoredDlpProfile, StoredMcpServer, StoredPolicy, StoredProviderKey,
};

/// One PostgreSQL parameter of a row, borrowing from it.
type Param<'r> = Box<dyn ToSql + Sync + Send + 'r>;

pub(super) struct ById<T> {
    pub table: &'static str,
    /// The SQLite columns `from_row` reads, in its order.
    pub columns: &'static str,
    pub from_row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    pub id: fn(&T) -> &str,
    /// `INSERT … ON CONFLICT DO NOTHING` whose parameters are `params`', in order.
    pub insert: &'static str,
    pub params: for<'r> fn(&'r T) -> Vec<Param<'r>>,
}

/// Copies `spec`'s table, `total` rows in the source, one transaction per batch.
pub(super) async fn copy<T: Send + 'static>(
    run: &mut Run<'_>,
    spec: &ById<T>,
    total: u64,
) -> Result<TableSummary, TransferError> {
    let mut summary = empty(spec.table, total);
    let mut after = String::new();
    loop {
        let rows = run
            .source
            .rows_by_id(
                spec.table,
                spec.columns,
                spec.from_row,
                after.clone(),
                run.options.batch_rows,
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = (spec.id)(last).to_owned();
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let mut copied = 0;
            for row in &rows {
                let params = (spec.params)(row);
                let params: Vec<&(dyn ToSql + Sync)> = params
                    .iter()
                    .map(|param| param.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                copied += transaction.execute(spec.insert, &params).await?;
            }
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(copied)
        })
        .await?;
        advance(run, &mut summary, rows.len(), copied);
    }
    Ok(summary)
}

pub(super) fn provider_keys() -> ById<StoredProviderKey> {
    ById {
        table: "provider_keys",
        columns: provider_keys::COLUMNS,
        from_row: provider_keys::key_from_row,
        id: |key| &key.id,
        insert: "INSERT INTO provider_keys (id, account_id, gateway_id, alias, provider_slug,
                     default_config, secret_id, secret_preview, kek_id, wrapped_key, ciphertext,
                     rate_limit, rate_limit_period, status, created_at, modified_at, last_used_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17)
                 ON CONFLICT (id) DO NOTHING",
        params: |key| {
            vec![
                Box::new(pg_text(&key.id)),
                Box::new(pg_text(&key.account_id)),
                Box::new(pg_text(&key.gateway_id)),
                Box::new(pg_text(&key.alias)),
                Box::new(pg_text(&key.provider_slug)),
                Box::new(key.default_config),
                Box::new(pg_text(&key.secret_id)),
                Box::new(pg_text(&key.secret_preview)),
                Box::new(pg_text(&key.sealed.kek_id)),
                Box::new(&key.sealed.wrapped_key),
                Box::new(&key.sealed.ciphertext),
                Box::new(key.rate_limit.map(i64::from)),
                Box::new(key.rate_limit_period.map(i64::from)),
                Box::new(key.status.as_str()),
                Box::new(key.created_at.to_string()),
                Box::new(key.modified_at.to_string()),
                Box::new(key.last_used_at.map(|t| t.to_string())),
            ]
        },
    }
}

pub(super) fn policies() -> ById<StoredPolicy> {
    ById {
        table: "policies",
        columns: policies::COLUMNS,
        from_row: policies::policy_from_row,
        id: |policy| &policy.id,
        insert: "INSERT INTO policies (id, account_id, gateway_id, committed, draft, created_at,
                     updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO NOTHING",
        params: |policy| {
            vec![
                Box::new(pg_text(&policy.id)),
                Box::new(pg_text(&policy.account_id)),
                Box::new(pg_text(&policy.gateway_id)),
                Box::new(policy.committed.as_deref().map(pg_text)),
                Box::new(policy.draft.as_deref().map(pg_text)),
                Box::new(policy.created_at.to_string()),
                Box::new(policy.updated_at.to_string()),
            ]
        },
    }
}

pub(super) fn dlp_profiles() -> ById<StoredDlpProfile> {
    ById {
        table: "dlp_profiles",
        columns: dlp_profiles::COLUMNS,
        from_row: dlp_profiles::profile_from_row,
        id: |profile| &profile.id,
        insert: "INSERT INTO dlp_profiles (id, account_id, name, body, version, created_at,
                     updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO NOTHING",
        params: |profile| {
            vec![
                Box::new(pg_text(&profile.id)),
                Box::new(pg_text(&profile.account_id)),
                Box::new(pg_text(&profile.name)),
                Box::new(pg_text(&profile.body)),
                Box::new(profile.version),
                Box::new(profile.created_at.to_string()),
                Box::new(profile.updated_at.to_string()),
            ]
        },
    }
}

pub(super) fn custom_providers() -> ById<StoredCustomProvider> {
    ById {
        table: "custom_providers",
        columns: custom_providers::COLUMNS,
        from_row: custom_providers::custom_provider_from_row,
        id: |provider| &provider.id,
        insert: "INSERT INTO custom_providers (id, account_id, slug, name, base_url, description,
                     link, curl_example, js_example, enable, beta, position, created_at,
                     modified_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT DO NOTHING",
        params: |p| {
            vec![
                Box::new(pg_text(&p.id)),
                Box::new(pg_text(&p.account_id)),
                Box::new(pg_text(&p.slug)),
                Box::new(pg_text(&p.name)),
                Box::new(pg_text(&p.base_url)),
                Box::new(p.description.as_deref().map(pg_text)),
                Box::new(p.link.as_deref().map(pg_text)),
                Box::new(p.curl_example.as_deref().map(pg_text)),
                Box::new(p.js_example.as_deref().map(pg_text)),
                Box::new(p.enable),
                Box::new(p.beta),
                Box::new(p.position),
                Box::new(p.created_at.to_string()),
                Box::new(p.modified_at.to_string()),
            ]
        },
    }
}

/// A row holds no secret: its credential is a stored key's id, copied with the provider keys.
pub(super) fn mcp_servers() -> ById<StoredMcpServer> {
    ById {
        table: "mcp_servers",
        columns: mcp_servers::COLUMNS,
        from_row: mcp_servers::server_from,
        id: |server| &server.id,
        insert: "INSERT INTO mcp_servers (id, account_id, gateway_id, name, url, headers, key_id,
                     enabled, timeout_ms, created_at, modified_at, cost_per_call)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (id) DO NOTHING",
        params: |s| {
            vec![
                Box::new(pg_text(&s.id)),
                Box::new(pg_text(&s.account_id)),
                Box::new(pg_text(&s.gateway_id)),
                Box::new(pg_text(&s.name)),
                Box::new(pg_text(&s.url)),
                Box::new(pg_text(&s.headers)),
                Box::new(s.key_id.as_deref().map(pg_text)),
                Box::new(s.enabled),
                Box::new(i32::try_from(s.timeout_ms).unwrap_or(i32::MAX)),
                Box::new(s.created_at.to_string()),
                Box::new(s.modified_at.to_string()),
                Box::new(s.cost_per_call),
            ]
        },
    }
}
