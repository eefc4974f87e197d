//! `tollgate gateway …` and `tollgate token …`: thin clients of the management API.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use std::collections::{HashSet, VecDeque};

use crate::cli::{ClientArgs, GatewayCommand, LogsCommand, TokenCommand};
use crate::terminal::printable;

pub async fn gateway(client: &ClientArgs, command: GatewayCommand) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    let base = format!("/accounts/{}/ai-gateway/gateways", client.account);
    match command {
        GatewayCommand::Create { id, settings } => {
            let mut body = match settings.as_deref() {
                Some(text) => serde_json::from_str(text).context("--settings is not JSON")?,
                None => json!({}),
            };
            if let Value::Object(map) = &mut body {
                map.insert("id".into(), Value::String(id));
            }
            let gateway = api.call(reqwest::Method::POST, &base, Some(body)).await?;
            output(client, &gateway, || {
                format!(
                    "created gateway {}",
                    printable(gateway["id"].as_str().unwrap_or(""))
                )
            });
        }
        GatewayCommand::List => {
            let gateways = api
                .call(reqwest::Method::GET, &format!("{base}?per_page=100"), None)
                .await?;
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
                .call(reqwest::Method::PUT, &format!("{base}/{id}"), Some(body))
                .await?;
            output(client, &gateway, || {
                format!("updated gateway {}", printable(&id))
            });
        }
        GatewayCommand::Delete { id } => {
            let gateway = api
                .call(reqwest::Method::DELETE, &format!("{base}/{id}"), None)
                .await?;
            output(client, &gateway, || {
                format!("deleted gateway {}", printable(&id))
            });
        }
    }
    Ok(())
}

pub async fn token(client: &ClientArgs, command: TokenCommand) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    let base = format!("/accounts/{}/ai-gateway/tokens", client.account);
    match command {
        TokenCommand::Create { name } => {
            let token = api
                .call(reqwest::Method::POST, &base, Some(json!({"name": name})))
                .await?;
            output(client, &token, || {
                format!(
                    "created token {} ({}); it is shown only now:\n{}",
                    printable(token["id"].as_str().unwrap_or("")),
                    printable(&name),
                    printable(token["token"].as_str().unwrap_or(""))
                )
            });
        }
        TokenCommand::List => {
            let tokens = api.call(reqwest::Method::GET, &base, None).await?;
            output(client, &tokens, || {
                let mut text = format!("{:<38} {:<24} {}\n", "ID", "NAME", "CREATED");
                for t in tokens.as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "{:<38} {:<24} {}\n",
                        printable(t["id"].as_str().unwrap_or("")),
                        printable(t["name"].as_str().unwrap_or("")),
                        printable(t["created_at"].as_str().unwrap_or(""))
                    ));
                }
                text.trim_end().to_owned()
            });
        }
        TokenCommand::Revoke { id } => {
            let result = api
                .call(reqwest::Method::DELETE, &format!("{base}/{id}"), None)
                .await?;
            output(client, &result, || {
                format!("revoked token {}", printable(&id))
            });
        }
    }
    Ok(())
}

/// Rows already printed, remembered so a row seen on two polls prints once.
const SEEN_CAPACITY: usize = 10_000;

pub async fn logs(client: &ClientArgs, command: LogsCommand) -> anyhow::Result<()> {
    let LogsCommand::Tail {
        gateway,
        interval_ms,
        limit,
    } = command;
    let api = Api::new(client)?;
    let path = format!(
        "/accounts/{}/ai-gateway/gateways/{gateway}/logs?per_page=50&order_by=created_at&order_by_direction=desc",
        client.account
    );
    let mut seen = HashSet::new();
    let mut order = VecDeque::new();
    let mut printed = 0;
    if !client.json {
        println!(
            "{:<24} {:<16} {:<28} {:>6} {:>8} {:>8} {:>10} {:>8} {:<5}",
            "TIME", "PROVIDER", "MODEL", "STATUS", "IN", "OUT", "COST", "MS", "CACHE"
        );
    }
    loop {
        let page = api.call(reqwest::Method::GET, &path, None).await?;
        let mut rows: Vec<&Value> = page.as_array().into_iter().flatten().collect();
        rows.reverse();
        for row in rows {
            let id = row["id"].as_str().unwrap_or("").to_owned();
            if !seen.insert(id.clone()) {
                continue;
            }
            order.push_back(id);
            if order.len() > SEEN_CAPACITY
                && let Some(old) = order.pop_front()
            {
                seen.remove(&old);
            }
            if client.json {
                println!("{row}");
            } else {
                println!("{}", log_line(row));
            }
            printed += 1;
            if limit.is_some_and(|limit| printed >= limit) {
                return Ok(());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(interval_ms)).await;
    }
}

fn log_line(row: &Value) -> String {
    let text = |key: &str| printable(row[key].as_str().unwrap_or("-")).into_owned();
    let number = |key: &str| match &row[key] {
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    let cost = row["cost"]
        .as_f64()
        .map_or("-".to_owned(), |c| format!("{c:.6}"));
    let cache = if row["cached"] == Value::Bool(true) {
        "HIT"
    } else {
        ""
    };
    format!(
        "{:<24} {:<16} {:<28} {:>6} {:>8} {:>8} {:>10} {:>8} {:<5}",
        text("created_at").chars().take(23).collect::<String>(),
        text("provider"),
        text("model"),
        number("status_code"),
        number("tokens_in"),
        number("tokens_out"),
        cost,
        number("duration"),
        cache
    )
}

fn output(client: &ClientArgs, value: &Value, text: impl FnOnce() -> String) {
    if client.json {
        println!("{value:#}");
    } else {
        println!("{}", text());
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(client: &ClientArgs) -> anyhow::Result<Api> {
        let token = match &client.admin_token {
            Some(token) => token.clone(),
            None => {
                let path = client.data_dir.join("admin-token");
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!(
                            "no admin token: pass --admin-token, set TOLLGATE_SERVER__ADMIN_TOKEN, or run where {} exists",
                            path.display()
                        )
                    })?
                    .trim()
                    .to_owned()
            }
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Api {
            http: reqwest::Client::new(),
            base: format!("{}/client/v4", client.url.trim_end_matches('/')),
            token,
        })
    }

    /// Calls the API and returns `result`, or fails with the API's error messages.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.base))?;
        let status = response.status();
        let envelope: Value = response
            .json()
            .await
            .context("the gateway's answer is not JSON")?;
        if envelope["success"] == Value::Bool(true) {
            return Ok(envelope["result"].clone());
        }
        let messages: Vec<String> = envelope["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} ({})",
                    e["message"].as_str().unwrap_or("error"),
                    e["code"]
                )
            })
            .collect();
        bail!("{status}: {}", messages.join("; "))
    }
}
