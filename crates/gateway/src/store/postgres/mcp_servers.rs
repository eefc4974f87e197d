//! Upstream MCP servers registered through the management API, in PostgreSQL (docs/mcp.md).
//! Every change notifies the other instances through the trigger of migration 0013.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{OP_TIMEOUT, PostgresStore, bounded, corrupt, pg_text};
use crate::store::changed_one;
use crate::store::{McpServerStore, StoreResult, StoredMcpServer};

fn timestamp(row: &Row, column: &str) -> StoreResult<jiff::Timestamp> {
    row.try_get::<_, String>(column)?.parse().map_err(corrupt)
}

fn server_from(row: &Row) -> StoreResult<StoredMcpServer> {
    Ok(StoredMcpServer {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        gateway_id: row.try_get("gateway_id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        headers: row.try_get("headers")?,
        key_id: row.try_get("key_id")?,
        enabled: row.try_get("enabled")?,
        timeout_ms: u32::try_from(row.try_get::<_, i32>("timeout_ms")?).map_err(corrupt)?,
        created_at: timestamp(row, "created_at")?,
        modified_at: timestamp(row, "modified_at")?,
        cost_per_call: row.try_get("cost_per_call")?,
    })
}

/// `INTEGER` is signed; a timeout is at most five minutes.
fn timeout(ms: u32) -> i32 {
    i32::try_from(ms).unwrap_or(i32::MAX)
}

#[async_trait]
impl McpServerStore for PostgresStore {
    async fn list_mcp_servers(&self) -> StoreResult<Vec<StoredMcpServer>> {
        bounded(OP_TIMEOUT, async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT id, account_id, gateway_id, name, url, headers, key_id, enabled,
                            timeout_ms, created_at, modified_at, cost_per_call
                     FROM mcp_servers ORDER BY account_id, gateway_id, name",
                    &[],
                )
                .await?;
            rows.iter().map(server_from).collect()
        })
        .await
    }

    async fn insert_mcp_server(&self, s: &StoredMcpServer) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            // `INSERT … SELECT` from the gateway: no row means no gateway.
            let inserted = self
                .client()
                .await?
                .execute(
                    "INSERT INTO mcp_servers (id, account_id, gateway_id, name, url, headers,
                         key_id, enabled, timeout_ms, created_at, modified_at, cost_per_call)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
                     FROM gateways WHERE account_id = $2 AND id = $3",
                    &[
                        &s.id,
                        &s.account_id,
                        &s.gateway_id,
                        &pg_text(&s.name),
                        &pg_text(&s.url),
                        &pg_text(&s.headers),
                        &s.key_id,
                        &s.enabled,
                        &timeout(s.timeout_ms),
                        &s.created_at.to_string(),
                        &s.modified_at.to_string(),
                        &s.cost_per_call,
                    ],
                )
                .await?;
            changed_one(inserted)
        })
        .await
    }

    async fn update_mcp_server(&self, s: &StoredMcpServer) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE mcp_servers SET name = $4, url = $5, headers = $6, key_id = $7,
                         enabled = $8, timeout_ms = $9, modified_at = $10, cost_per_call = $11
                     WHERE account_id = $1 AND gateway_id = $2 AND id = $3",
                    &[
                        &s.account_id,
                        &s.gateway_id,
                        &s.id,
                        &pg_text(&s.name),
                        &pg_text(&s.url),
                        &pg_text(&s.headers),
                        &s.key_id,
                        &s.enabled,
                        &timeout(s.timeout_ms),
                        &s.modified_at.to_string(),
                        &s.cost_per_call,
                    ],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }

    async fn delete_mcp_server(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<()> {
        bounded(OP_TIMEOUT, async {
            let changed = self
                .client()
                .await?
                .execute(
                    "DELETE FROM mcp_servers WHERE account_id = $1 AND gateway_id = $2 AND id = $3",
                    &[&account_id, &gateway_id, &id],
                )
                .await?;
            changed_one(changed)
        })
        .await
    }
}
