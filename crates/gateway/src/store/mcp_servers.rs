//! Upstream MCP servers registered through the management API (docs/mcp.md), as the store sees
//! them: one row per gateway and name. The row holds no secret: a server's credential is the
//! id of a stored provider key (docs/keys.md), opened only when the server is connected.

use async_trait::async_trait;

use super::StoreResult;

/// One upstream MCP server of a gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMcpServer {
    pub id: String,
    pub account_id: String,
    pub gateway_id: String,
    /// The namespace of its tools, prompts and resources; unique per gateway.
    pub name: String,
    pub url: String,
    /// Extra request headers (no credentials: those go through `key_id`), as a JSON object.
    pub headers: String,
    /// A stored provider key of the same gateway, sent as `Authorization: Bearer …`.
    pub key_id: Option<String>,
    pub enabled: bool,
    /// How long one request to the server (connect, list, call) may take.
    pub timeout_ms: u32,
    /// US dollars per tool call (docs/mcp.md, "Budgets"); `None`: its calls cost nothing.
    pub cost_per_call: Option<f64>,
    pub created_at: jiff::Timestamp,
    pub modified_at: jiff::Timestamp,
}

#[async_trait]
pub trait McpServerStore: Send + Sync {
    /// Every server of every gateway (each instance keeps them all in memory), ordered by
    /// account, gateway and name.
    async fn list_mcp_servers(&self) -> StoreResult<Vec<StoredMcpServer>>;
    /// `NotFound` if the gateway does not exist, `Conflict` if it has a server of that name
    /// (or the id exists).
    async fn insert_mcp_server(&self, server: &StoredMcpServer) -> StoreResult<()>;
    /// Writes every field but the identity and `created_at`, found by account, gateway and id;
    /// `NotFound`, or `Conflict` if the new name is taken.
    async fn update_mcp_server(&self, server: &StoredMcpServer) -> StoreResult<()>;
    /// `NotFound` if the gateway has no such server.
    async fn delete_mcp_server(
        &self,
        account_id: &str,
        gateway_id: &str,
        id: &str,
    ) -> StoreResult<()>;
}
