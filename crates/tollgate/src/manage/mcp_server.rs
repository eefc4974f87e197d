//! `tollgate mcp-server …`: register, list and remove the upstream MCP servers of a gateway
//! (docs/mcp.md). A credential is never given here: `--key` names a stored key (`tollgate
//! key add`), whose secret the gateway sends to the server.

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::api::Api;
use super::output;
use crate::cli::{ClientArgs, McpServerCommand};
use crate::terminal::printable;

pub async fn run(client: &ClientArgs, command: McpServerCommand) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    match command {
        McpServerCommand::Add {
            name,
            gateway,
            endpoint,
            key,
            headers,
            disabled,
            cost_per_call,
        } => {
            let mut header_map = Map::new();
            for header in &headers {
                let (name, value) = header
                    .split_once('=')
                    .with_context(|| format!("--header {header:?}: expected NAME=VALUE"))?;
                header_map.insert(name.trim().to_owned(), json!(value));
            }
            let mut body = json!({"name": name, "url": endpoint, "enabled": !disabled});
            if let Value::Object(map) = &mut body {
                if let Some(key) = key {
                    map.insert("key".into(), json!(key));
                }
                if !header_map.is_empty() {
                    map.insert("headers".into(), Value::Object(header_map));
                }
                if let Some(usd) = cost_per_call {
                    map.insert("cost_per_call".into(), json!(usd));
                }
            }
            let server = api
                .call(Method::POST, &path(&gateway, None), Some(body))
                .await?;
            output(client, &server, || {
                format!(
                    "added MCP server {} ({}) to gateway {}: its tools are {}__<tool>",
                    field(&server, "name"),
                    field(&server, "id"),
                    printable(&gateway),
                    field(&server, "name"),
                )
            });
        }
        McpServerCommand::List { gateway } => {
            let servers = api.call(Method::GET, &path(&gateway, None), None).await?;
            output(client, &servers, || table(&servers));
        }
        McpServerCommand::Remove { server, gateway } => {
            // By id, or by name (looked up in the list).
            let servers = api.call(Method::GET, &path(&gateway, None), None).await?;
            let Some(id) = servers
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["id"] == json!(server) || s["name"] == json!(server))
                .and_then(|s| s["id"].as_str())
                .map(str::to_owned)
            else {
                bail!(
                    "gateway {} has no MCP server {} registered through the API",
                    printable(&gateway),
                    printable(&server)
                );
            };
            let removed = api
                .call(Method::DELETE, &path(&gateway, Some(&id)), None)
                .await?;
            output(client, &removed, || {
                format!("removed MCP server {}", field(&removed, "name"))
            });
        }
    }
    Ok(())
}

fn path(gateway: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("/gateways/{gateway}/mcp_servers/{id}"),
        None => format!("/gateways/{gateway}/mcp_servers?per_page=100"),
    }
}

fn field(value: &Value, name: &str) -> String {
    printable(value[name].as_str().unwrap_or("")).into_owned()
}

fn table(servers: &Value) -> String {
    let mut text = format!(
        "{:<34} {:<20} {:<8} {:<34} {}\n",
        "ID", "NAME", "ENABLED", "KEY", "URL"
    );
    for server in servers.as_array().into_iter().flatten() {
        text.push_str(&format!(
            "{:<34} {:<20} {:<8} {:<34} {}\n",
            field(server, "id"),
            field(server, "name"),
            server["enabled"].as_bool().unwrap_or(false),
            server["key"].as_str().map_or("-".into(), printable),
            field(server, "url"),
        ));
    }
    text.trim_end().to_owned()
}
