//! `tollgate logs tail`: the newest rows, then every row as its request completes.
//!
//! The logs API lists a row once its request completed, at the time the request started
//! (`created_at`). So each poll reads from a little before the newest row seen (rows of
//! requests that started earlier but finished since), and also the rows of long requests of the
//! last hour, the only older rows that can have completed since the last poll
//! (docs/logs.md, "Reading logs from the command line").

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Duration;

use serde_json::{Value, json};

use super::api::Api;
use super::log_pages::{LogQuery, PER_PAGE, created_ms, filter, for_each_row};
use super::log_table;
use crate::cli::ClientArgs;

/// Each poll rereads the rows that started this long before the newest row seen.
const RECENT_MS: i64 = 10_000;
/// A row older than that is new only if its request took at least about as long; the rows of
/// such requests are reread back to this age.
const LONG_MS: i64 = 3_600_000;
/// Request durations and start times come from different clocks of the server.
const CLOCK_SLACK_MS: i64 = 1_000;

struct Seen {
    created_ms: i64,
    long: bool,
}

struct Tail {
    json: bool,
    limit: Option<usize>,
    printed: usize,
    /// The newest `created_at` printed.
    cursor: Option<i64>,
    /// Rows printed that a later poll can read again.
    seen: HashMap<String, Seen>,
}

impl Tail {
    /// Prints `row` unless it was printed before; breaks once `limit` rows are printed.
    fn print(&mut self, row: Value) -> ControlFlow<()> {
        if self.done() {
            return ControlFlow::Break(());
        }
        let id = row["id"].as_str().unwrap_or("").to_owned();
        let created = created_ms(&row).unwrap_or(0);
        let long = row["duration"]
            .as_i64()
            .is_some_and(|ms| ms > RECENT_MS - CLOCK_SLACK_MS);
        if self
            .seen
            .insert(
                id,
                Seen {
                    created_ms: created,
                    long,
                },
            )
            .is_some()
        {
            return ControlFlow::Continue(());
        }
        self.cursor = Some(self.cursor.map_or(created, |c| c.max(created)));
        if self.json {
            println!("{row}");
        } else {
            println!("{}", log_table::line(&row));
        }
        self.printed += 1;
        if self.done() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn done(&self) -> bool {
        self.limit.is_some_and(|limit| self.printed >= limit)
    }

    /// Forgets rows no poll reads again.
    fn prune(&mut self) {
        let Some(cursor) = self.cursor else { return };
        self.seen.retain(|_, seen| {
            seen.created_ms >= cursor - RECENT_MS
                || (seen.long && seen.created_ms >= cursor - LONG_MS)
        });
    }
}

pub async fn run(
    client: &ClientArgs,
    gateway: String,
    interval_ms: u64,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let api = Api::new(client)?;
    let mut tail = Tail {
        json: client.json,
        limit,
        printed: 0,
        cursor: None,
        seen: HashMap::new(),
    };
    if !client.json {
        println!("{}", log_table::header());
    }
    let mut newest = api
        .get(
            &format!("/gateways/{gateway}/logs"),
            &[
                ("per_page", PER_PAGE.to_string()),
                ("order_by", "created_at".to_owned()),
                ("order_by_direction", "desc".to_owned()),
            ],
        )
        .await?;
    if let Value::Array(mut rows) = newest["result"].take() {
        rows.reverse();
        for row in rows {
            if tail.print(row).is_break() {
                return Ok(());
            }
        }
    }
    let recent = LogQuery {
        gateway: gateway.clone(),
        filters: Vec::new(),
        ascending: true,
    };
    loop {
        tokio::time::sleep(Duration::from_millis(interval_ms)).await;
        if let Some(cursor) = tail.cursor {
            let late = LogQuery {
                gateway: gateway.clone(),
                filters: vec![
                    filter("created_at", "gt", json!(cursor - LONG_MS)),
                    filter("created_at", "lt", json!(cursor - RECENT_MS)),
                    filter("duration", "gt", json!(RECENT_MS - CLOCK_SLACK_MS)),
                ],
                ascending: true,
            };
            for_each_row(&api, &late, None, |row| tail.print(row)).await?;
        }
        let from = tail.cursor.map(|cursor| cursor - RECENT_MS);
        for_each_row(&api, &recent, from, |row| tail.print(row)).await?;
        if tail.done() {
            return Ok(());
        }
        tail.prune();
    }
}
