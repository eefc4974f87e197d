//! Copying the upstream MCP servers registered through the management API (docs/mcp.md), in
//! keyset batches by id. A row holds no secret (its credential is a stored key's id, copied
//! with the provider keys).

use rusqlite::params;

use super::registry::{advance, empty};
use super::{Run, TableSummary, TransferError, within};
use crate::convert::saturating_i64_from_usize;
use crate::store::postgres::pg_text;
use crate::store::sqlite::mcp_servers::{COLUMNS, server_from};

pub(super) async fn copy_mcp_servers(run: &mut Run<'_>) -> Result<TableSummary, TransferError> {
    let total = run
        .source
        .read(|c| {
            c.query_row("SELECT count(*) FROM mcp_servers", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(i64::unsigned_abs)
        })
        .await?;
    let mut summary = empty("mcp_servers", total);
    let mut after = String::new();
    loop {
        let limit = saturating_i64_from_usize(run.options.batch_rows);
        let from = after.clone();
        let rows = run
            .source
            .read(move |c| {
                let mut statement = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM mcp_servers WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))?;
                statement
                    .query_map(params![from, limit], server_from)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id.clone();
        let client = &mut run.client;
        let copied = within(async {
            let transaction = client.transaction().await?;
            let mut copied = 0;
            for s in &rows {
                copied += transaction
                    .execute(
                        "INSERT INTO mcp_servers (id, account_id, gateway_id, name, url, headers,
                             key_id, enabled, timeout_ms, created_at, modified_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                         ON CONFLICT (id) DO NOTHING",
                        &[
                            &pg_text(&s.id),
                            &pg_text(&s.account_id),
                            &pg_text(&s.gateway_id),
                            &pg_text(&s.name),
                            &pg_text(&s.url),
                            &pg_text(&s.headers),
                            &s.key_id.as_deref().map(pg_text),
                            &s.enabled,
                            &i32::try_from(s.timeout_ms).unwrap_or(i32::MAX),
                            &s.created_at.to_string(),
                            &s.modified_at.to_string(),
                        ],
                    )
                    .await?;
            }
            transaction.commit().await?;
            Ok::<_, tokio_postgres::Error>(copied)
        })
        .await?;
        advance(run, &mut summary, rows.len(), copied);
    }
    Ok(summary)
}
