//! Upstream MCP servers registered through the management API, in SQLite (docs/mcp.md).

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, to_text};
use crate::store::changed_one;
use crate::store::{McpServerStore, StoreResult, StoredMcpServer};

pub(in crate::store) const COLUMNS: &str = "id, account_id, gateway_id, name, url, headers, key_id, enabled, timeout_ms, created_at, \
     modified_at, cost_per_call";

fn timestamp(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<jiff::Timestamp> {
    let text: String = row.get(column)?;
    text.parse().map_err(to_text(column))
}

pub(in crate::store) fn server_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMcpServer> {
    Ok(StoredMcpServer {
        id: row.get(0)?,
        account_id: row.get(1)?,
        gateway_id: row.get(2)?,
        name: row.get(3)?,
        url: row.get(4)?,
        headers: row.get(5)?,
        key_id: row.get(6)?,
        enabled: row.get(7)?,
        timeout_ms: row.get(8)?,
        created_at: timestamp(row, 9)?,
        modified_at: timestamp(row, 10)?,
        cost_per_call: row.get(11)?,
    })
}

#[async_trait]
impl McpServerStore for SqliteStore {
    async fn list_mcp_servers(&self) -> StoreResult<Vec<StoredMcpServer>> {
        self.with_read(|c| {
            let mut statement = c.prepare(&format!(
                "SELECT {COLUMNS} FROM mcp_servers ORDER BY account_id, gateway_id, name"
            ))?;
            statement
                .query_map([], server_from)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await
    }

    async fn insert_mcp_server(&self, server: &StoredMcpServer) -> StoreResult<()> {
        let s = server.clone();
        self.with(move |c| {
            let transaction = c.transaction()?;
            super::require_gateway(&transaction, &s.account_id, &s.gateway_id)?;
            transaction.execute(
                &format!("INSERT INTO mcp_servers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![
                    s.id,
                    s.account_id,
                    s.gateway_id,
                    s.name,
                    s.url,
                    s.headers,
                    s.key_id,
                    s.enabled,
                    s.timeout_ms,
                    s.created_at.to_string(),
                    s.modified_at.to_string(),
                    s.cost_per_call
                ],
            )?;
            transaction.commit()
        })
        .await
    }

    async fn update_mcp_server(&self, server: &StoredMcpServer) -> StoreResult<()> {
        let s = server.clone();
        let changed = self
            .with(move |c| {
                c.execute(
                    "UPDATE mcp_servers SET name = ?4, url = ?5, headers = ?6, key_id = ?7,
                         enabled = ?8, timeout_ms = ?9, modified_at = ?10, cost_per_call = ?11
                     WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
                    params![
                        s.account_id,
                        s.gateway_id,
                        s.id,
                        s.name,
                        s.url,
                        s.headers,
                        s.key_id,
                        s.enabled,
                        s.timeout_ms,
                        s.modified_at.to_string(),
                        s.cost_per_call
                    ],
                )
            })
            .await?;
        changed_one(changed)
    }

    async fn delete_mcp_server(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<()> {
        let (account_id, gateway_id, id) =
            (account_id.to_owned(), gateway_id.to_owned(), id.to_owned());
        let changed = self
            .with(move |c| {
                c.execute(
                    "DELETE FROM mcp_servers WHERE account_id = ?1 AND gateway_id = ?2 AND id = ?3",
                    params![account_id, gateway_id, id],
                )
            })
            .await?;
        changed_one(changed)
    }
}
