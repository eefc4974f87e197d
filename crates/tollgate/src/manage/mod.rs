//! `tollgate gateway|token|key|mcp-server|logs|analytics …`: thin clients of the management API, one file per
//! verb; [`api`] calls it, [`target`] finds the server.

pub mod analytics;
mod api;
pub mod gateway;
pub mod key;
mod log_pages;
mod log_table;
pub mod logs;
pub mod mcp_server;
mod tail;
mod target;
pub mod token;
mod when;

use serde_json::Value;

use crate::cli::ClientArgs;

/// `value` as JSON with `--json`, else `text()`.
fn output(client: &ClientArgs, value: &Value, text: impl FnOnce() -> String) {
    if client.json {
        println!("{value:#}");
    } else {
        println!("{}", text());
    }
}
