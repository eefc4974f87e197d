//! `tollgate analytics summary`: the analytics API's totals for a range, overall and per
//! provider, model or gateway. Each group's totals (percentiles included) are the API's own
//! for that group's filter: percentiles do not add up from a series' points.

use serde_json::{Map, Value, json};

use super::api::Api;
use super::{output, when};
use crate::cli::{AnalyticsCommand, AnalyticsGroup, ClientArgs};
use crate::terminal::printable;

const DEFAULT_RANGE_MS: i64 = 24 * 3_600_000;
/// The measures a series point and the totals share that add up.
const COUNTS: [&str; 5] = ["requests", "errors", "tokens_in", "tokens_out", "cost"];

pub async fn run(client: &ClientArgs, command: AnalyticsCommand) -> anyhow::Result<()> {
    let AnalyticsCommand::Summary {
        gateway,
        since,
        until,
        provider,
        model,
        group_by,
    } = command;
    let api = Api::new(client)?;
    let now = when::now_ms();
    let end_ms = until
        .map(|t| when::parse_ms("--until", &t, now))
        .transpose()?
        .unwrap_or(now);
    let start_ms = since
        .map(|t| when::parse_ms("--since", &t, now))
        .transpose()?
        .unwrap_or(end_ms - DEFAULT_RANGE_MS);
    let (start, end) = (when::rfc3339(start_ms)?, when::rfc3339(end_ms)?);
    let mut params = vec![("start", start.clone()), ("end", end.clone())];
    for (name, value) in [
        ("gateway_id", gateway),
        ("provider", provider),
        ("model", model),
    ] {
        if let Some(value) = value {
            params.push((name, value));
        }
    }
    let mut summary = Map::new();
    summary.insert("start".into(), json!(start));
    summary.insert("end".into(), json!(end));
    let mut overall = api.get("/analytics", &params).await?;
    summary.insert("totals".into(), overall["result"]["totals"].take());
    if let Some(group_by) = group_by {
        let (name, filter) = match group_by {
            AnalyticsGroup::Provider => ("provider", "provider"),
            AnalyticsGroup::Model => ("model", "model"),
            AnalyticsGroup::Gateway => ("gateway", "gateway_id"),
            // No filter selects a token or a route: its series is added up instead.
            AnalyticsGroup::Token => ("token", ""),
            AnalyticsGroup::Route => ("route", ""),
        };
        let mut grouped_params = params.clone();
        grouped_params.push(("group_by", name.to_owned()));
        let grouped = api.get("/analytics", &grouped_params).await?;
        let mut groups = Vec::new();
        for series in grouped["result"]["series"].as_array().into_iter().flatten() {
            let value = series["group"][name].as_str().unwrap_or("").to_owned();
            let totals = if value.is_empty() || filter.is_empty() {
                // The API reads an empty filter as none: add up this series instead.
                sum_points(&series["points"])
            } else {
                let mut one = params.clone();
                one.retain(|(param, _)| *param != filter);
                one.push((filter, value.clone()));
                api.get("/analytics", &one).await?["result"]["totals"].take()
            };
            groups.push(json!({name: value, "totals": totals}));
        }
        summary.insert("group_by".into(), json!(name));
        summary.insert("groups".into(), Value::Array(groups));
    }
    let summary = Value::Object(summary);
    output(client, &summary, || text(&summary));
    Ok(())
}

/// Counts of a series' points added up; its percentiles are unknown.
fn sum_points(points: &Value) -> Value {
    let mut totals = Map::new();
    for key in COUNTS {
        let sum: f64 = points
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p[key].as_f64())
            .sum();
        totals.insert(key.into(), json!(sum));
    }
    Value::Object(totals)
}

fn text(summary: &Value) -> String {
    let by = summary["group_by"].as_str().unwrap_or("");
    let mut out = format!(
        "{} to {}\n{:<32} {:>10} {:>8} {:>12} {:>12} {:>12} {:>9} {:>9}\n",
        printable(summary["start"].as_str().unwrap_or("")),
        printable(summary["end"].as_str().unwrap_or("")),
        if by.is_empty() { "" } else { by }.to_uppercase(),
        "REQUESTS",
        "ERRORS",
        "TOKENS_IN",
        "TOKENS_OUT",
        "COST_USD",
        "P50_MS",
        "P95_MS"
    );
    let mut line = |label: &str, totals: &Value| {
        let count = |key: &str| {
            totals[key]
                .as_f64()
                .map_or("-".to_owned(), |n| format!("{n:.0}"))
        };
        let ms = |key: &str| {
            totals[key]
                .as_f64()
                .map_or("-".to_owned(), |n| format!("{n:.1}"))
        };
        out.push_str(&format!(
            "{:<32} {:>10} {:>8} {:>12} {:>12} {:>12} {:>9} {:>9}\n",
            printable(label),
            count("requests"),
            count("errors"),
            count("tokens_in"),
            count("tokens_out"),
            totals["cost"]
                .as_f64()
                .map_or("-".to_owned(), |c| format!("{c:.6}")),
            ms("duration_p50"),
            ms("duration_p95"),
        ));
    };
    for group in summary["groups"].as_array().into_iter().flatten() {
        let label = group[by]
            .as_str()
            .filter(|v| !v.is_empty())
            .unwrap_or("(none)");
        line(label, &group["totals"]);
    }
    line("all", &summary["totals"]);
    out.trim_end().to_owned()
}
