//! `tollgate logs list|get|export` (and `tail`, in [`super::tail`]): the logs API's filters
//! from flags, every page read.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::Api;
use super::log_pages::{LogQuery, filter, for_each_row};
use super::{log_table, when};
use crate::cli::{ClientArgs, LogFilterArgs, LogsCommand};
use crate::terminal::printable;

pub async fn run(client: &ClientArgs, command: LogsCommand) -> anyhow::Result<()> {
    match command {
        LogsCommand::Tail {
            gateway,
            interval_ms,
            limit,
        } => super::tail::run(client, gateway, interval_ms, limit).await,
        LogsCommand::List { filter, limit } => list(client, &filter, limit).await,
        LogsCommand::Get { id, gateway } => get(client, &gateway, &id).await,
        LogsCommand::Export { filter, output } => export(client, &filter, output.as_deref()).await,
    }
}

async fn list(client: &ClientArgs, args: &LogFilterArgs, limit: usize) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    let query = log_query(args, false)?;
    let mut rows = Vec::new();
    if limit > 0 {
        for_each_row(&api, &query, None, |row| {
            rows.push(row);
            if rows.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
    }
    if client.json {
        println!("{:#}", Value::Array(rows));
    } else {
        println!("{}", log_table::header());
        for row in &rows {
            println!("{}", log_table::line(row));
        }
    }
    Ok(())
}

async fn get(client: &ClientArgs, gateway: &str, id: &str) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    let row = api
        .call(Method::GET, &format!("/gateways/{gateway}/logs/{id}"), None)
        .await?;
    if client.json {
        println!("{row:#}");
        return Ok(());
    }
    let Value::Object(fields) = &row else {
        bail!("the gateway's answer is not a log row");
    };
    for (key, value) in fields {
        if matches!(key.as_str(), "request_head" | "response_head") {
            continue;
        }
        let value = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        println!("{key:<24} {}", printable(&value));
    }
    for (title, key) in [
        ("request body", "request_head"),
        ("response body", "response_head"),
    ] {
        println!("\n{title}:");
        match row[key].as_str() {
            // Line by line, so the body keeps its lines and no line carries a control character.
            Some(body) => body.lines().for_each(|l| println!("  {}", printable(l))),
            None => println!("  (not stored)"),
        }
    }
    Ok(())
}

async fn export(
    client: &ClientArgs,
    args: &LogFilterArgs,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    let query = log_query(args, true)?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut written = 0u64;
    let mut failure = None;
    for_each_row(&api, &query, None, |row| match writeln!(out, "{row}") {
        Ok(()) => {
            written += 1;
            ControlFlow::Continue(())
        }
        Err(error) => {
            failure = Some(error);
            ControlFlow::Break(())
        }
    })
    .await?;
    if let Some(error) = failure {
        return Err(error).context("cannot write the export");
    }
    out.flush().context("cannot write the export")?;
    if let Some(path) = output {
        eprintln!("exported {written} rows to {}", path.display());
    }
    Ok(())
}

/// The logs API's filters for the flags.
fn log_query(args: &LogFilterArgs, ascending: bool) -> anyhow::Result<LogQuery> {
    let now = when::now_ms();
    let mut filters = Vec::new();
    if let Some(since) = &args.since {
        let ms = when::parse_ms("--since", since, now)?;
        filters.push(filter("created_at", "gt", json!(ms - 1)));
    }
    if let Some(until) = &args.until {
        let ms = when::parse_ms("--until", until, now)?;
        filters.push(filter("created_at", "lt", json!(ms)));
    }
    if let Some(status) = &args.status {
        filters.extend(status_filters(status)?);
    }
    if let Some(success) = args.success {
        filters.push(filter("success", "eq", json!(success)));
    }
    for (key, value) in [("provider", &args.provider), ("model", &args.model)] {
        if let Some(value) = value {
            filters.push(filter(key, "eq", json!(value)));
        }
    }
    Ok(LogQuery {
        gateway: args.gateway.clone(),
        filters,
        ascending,
    })
}

/// `429` is that status; `4xx` is the class.
fn status_filters(text: &str) -> anyhow::Result<Vec<Value>> {
    let bad =
        || format!("--status: `{text}` is neither a status such as 429 nor a class such as 5xx");
    if let Some(class) = text.strip_suffix("xx") {
        let class: u16 = class
            .parse()
            .ok()
            .filter(|c| (1..=5).contains(c))
            .with_context(bad)?;
        return Ok(vec![
            filter("status_code", "gt", json!(class * 100 - 1)),
            filter("status_code", "lt", json!(class * 100 + 100)),
        ]);
    }
    let status: u16 = text
        .parse()
        .ok()
        .filter(|s| (100..=599).contains(s))
        .with_context(bad)?;
    Ok(vec![filter("status_code", "eq", json!(status))])
}
