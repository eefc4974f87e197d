//! The MCP gateway (docs/mcp.md): `/v1/{account}/{gateway}/mcp` speaks MCP Streamable HTTP to
//! clients and aggregates the gateway's upstream MCP servers (`[[mcp_servers]]` and those
//! registered through the management API) behind it.
//!
//! In the order a message meets them: [`server`] (the endpoint, after the proxy's admission),
//! [`aggregate`] (the MCP handler: namespaced listing, routing of calls, the token's tool
//! allowlist, rate limits; [`catalog`] for prompts and resources), [`message`] (what a message
//! came with: headers, JSON-RPC id, trace), [`budget`] (a priced server's calls against the
//! spend limits), [`dlp`] (the gateway's DLP policies on arguments and results), [`upstream`]
//! (the clients of the upstream servers) and [`log`] (one log row per tool call, prompt got or
//! resource read, and its spans), [`manage`] (the servers registered through the management
//! API), [`session`] (the endpoint's sessions, when `[mcp] sessions` is on, and their
//! list-changed notifications).

mod aggregate;
mod budget;
mod catalog;
mod dlp;
mod log;
mod manage;
mod message;
mod search;
mod server;
mod session;
mod upstream;

pub use manage::{MAX_SERVERS_PER_GATEWAY, McpServerError};
pub use server::{McpGateway, serve};

/// Separates a server's name from its tool's in a namespaced tool name: `{server}__{tool}`.
pub const NAMESPACE_SEPARATOR: &str = "__";
