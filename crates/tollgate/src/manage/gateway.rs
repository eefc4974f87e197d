//! `tollgate gateway …`: create, list (every page), update and delete gateways.

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};

use super::api::Api;
use super::output;
use crate::cli::{ClientArgs, GatewayCommand};
use crate::terminal::printable;

/// The management API's largest gateway page.
const PER_PAGE: u64 = 100;

pub async fn run(client: &ClientArgs, command: GatewayCommand) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    match command {
        GatewayCommand::Create { id, settings } => {
            let mut body = match settings.as_deref() {
                Some(text) => serde_json::from_str(text).context("--settings is not JSON")?,
                None => json!({}),
            };
            if let Value::Object(map) = &mut body {
                map.insert("id".into(), Value::String(id));
            }
            let gateway = api.call(Method::POST, "/gateways", Some(body)).await?;
            output(client, &gateway, || {
                format!(
                    "created gateway {}",
                    printable(gateway["id"].as_str().unwrap_or(""))
                )
            });
        }
        GatewayCommand::List => {
            let gateways = Value::Array(list_all(&api).await?);
            output(client, &gateways, || {
                let mut text = format!("{:<32} {:<6} {:<8} {:<6}\n", "ID", "LOGS", "CACHE", "AUTH");
                for g in gateways.as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "{:<32} {:<6} {:<8} {:<6}\n",
                        printable(g["id"].as_str().unwrap_or("")),
                        g["collect_logs"].to_string(),
                        g["cache_ttl"].to_string(),
                        g["authentication"].to_string()
                    ));
                }
                text.trim_end().to_owned()
            });
        }
        GatewayCommand::Update { id, settings } => {
            let body: Value = serde_json::from_str(&settings).context("--settings is not JSON")?;
            let gateway = api
                .call(Method::PUT, &format!("/gateways/{id}"), Some(body))
                .await?;
            output(client, &gateway, || {
                format!("updated gateway {}", printable(&id))
            });
        }
        GatewayCommand::Delete { id } => {
            let gateway = api
                .call(Method::DELETE, &format!("/gateways/{id}"), None)
                .await?;
            output(client, &gateway, || {
                format!("deleted gateway {}", printable(&id))
            });
        }
    }
    Ok(())
}

/// Every gateway of the account, page after page until `result_info.total_pages`.
async fn list_all(api: &Api) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    for page in 1.. {
        let mut envelope = api
            .get(
                "/gateways",
                &[
                    ("page", page.to_string()),
                    ("per_page", PER_PAGE.to_string()),
                ],
            )
            .await?;
        let rows = match envelope["result"].take() {
            Value::Array(rows) => rows,
            _ => Vec::new(),
        };
        let total_pages = envelope["result_info"]["total_pages"].as_u64().unwrap_or(0);
        let last = rows.is_empty() || page >= total_pages;
        all.extend(rows);
        if last {
            break;
        }
    }
    Ok(all)
}
