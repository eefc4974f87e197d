//! `tollgate key …`: store, list, replace and remove a gateway's provider keys (docs/keys.md).
//! A secret never comes from the command line (shell history, the process list): it is read
//! from standard input or from a named environment variable.

use std::io::BufRead;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::Api;
use super::output;
use crate::cli::{ClientArgs, KeyCommand};
use crate::terminal::printable;

pub async fn run(client: &ClientArgs, command: KeyCommand) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    match command {
        KeyCommand::Add {
            gateway,
            provider,
            alias,
            default,
            rate_limit,
            rate_limit_period,
            secret_env,
        } => {
            let mut body = json!({
                "alias": alias,
                "provider_slug": provider,
                "default_config": default,
                "secret": read_secret(secret_env.as_deref())?,
            });
            if let (Value::Object(map), Some(limit), Some(period)) =
                (&mut body, rate_limit, rate_limit_period)
            {
                map.insert("rate_limit".into(), json!(limit));
                map.insert("rate_limit_period".into(), json!(period));
            }
            let key = api
                .call(Method::POST, &path(&gateway, None), Some(body))
                .await?;
            output(client, &key, || {
                format!(
                    "stored key {} ({}, alias {}, {})",
                    field(&key, "id"),
                    field(&key, "provider_slug"),
                    field(&key, "alias"),
                    field(&key, "secret_preview")
                )
            });
        }
        KeyCommand::List { gateway } => {
            let keys = api.call(Method::GET, &path(&gateway, None), None).await?;
            output(client, &keys, || table(&keys));
        }
        KeyCommand::Rotate {
            id,
            gateway,
            secret_env,
        } => {
            let body = json!({"secret": read_secret(secret_env.as_deref())?});
            let key = api
                .call(Method::PATCH, &path(&gateway, Some(&id)), Some(body))
                .await?;
            output(client, &key, || {
                format!(
                    "replaced the secret of key {} (now {}, {})",
                    printable(&id),
                    field(&key, "secret_preview"),
                    field(&key, "status")
                )
            });
        }
        KeyCommand::Remove { id, gateway } => {
            let key = api
                .call(Method::DELETE, &path(&gateway, Some(&id)), None)
                .await?;
            output(client, &key, || format!("removed key {}", printable(&id)));
        }
    }
    Ok(())
}

fn path(gateway: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("/gateways/{gateway}/provider_configs/{id}"),
        None => format!("/gateways/{gateway}/provider_configs?per_page=100"),
    }
}

fn field(value: &Value, name: &str) -> String {
    printable(value[name].as_str().unwrap_or("")).into_owned()
}

fn table(keys: &Value) -> String {
    let mut text = format!(
        "{:<38} {:<18} {:<12} {:<8} {:<8} {:<14} {}\n",
        "ID", "PROVIDER", "ALIAS", "DEFAULT", "STATUS", "SECRET", "LAST USED"
    );
    for key in keys.as_array().into_iter().flatten() {
        text.push_str(&format!(
            "{:<38} {:<18} {:<12} {:<8} {:<8} {:<14} {}\n",
            field(key, "id"),
            field(key, "provider_slug"),
            field(key, "alias"),
            key["default_config"].as_bool().unwrap_or(false),
            field(key, "status"),
            field(key, "secret_preview"),
            key["last_used_at"]
                .as_str()
                .map_or("never".into(), printable),
        ));
    }
    text.trim_end().to_owned()
}

/// The secret: the named environment variable's value, else the first line of standard input.
fn read_secret(env: Option<&str>) -> anyhow::Result<String> {
    let secret = match env {
        Some(name) => std::env::var(name)
            .with_context(|| format!("the environment variable {name} is not set"))?,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the secret from standard input")?;
            line
        }
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        bail!("no secret given: pipe it on standard input, or name a variable with --secret-env");
    }
    Ok(secret)
}
