//! Reading every row a logs query selects, page by page, without losing or repeating one:
//! a cursor on `created_at` (the API orders ties by id), so rows written while the pages are
//! read cannot shift a row past the reader, and many rows of one millisecond are paged through.

use std::collections::HashSet;
use std::ops::ControlFlow;

use serde_json::{Value, json};

use super::api::Api;

/// The logs API's largest page.
pub const PER_PAGE: usize = 50;

/// A logs query: the gateway, its filters (the API's JSON form) and the direction.
pub struct LogQuery {
    pub gateway: String,
    pub filters: Vec<Value>,
    /// Oldest first; newest first if false.
    pub ascending: bool,
}

/// A filter of the logs API.
pub fn filter(key: &str, operator: &str, value: Value) -> Value {
    json!({"key": key, "operator": operator, "value": [value]})
}

/// The row's `created_at` in Unix milliseconds.
pub fn created_ms(row: &Value) -> Option<i64> {
    row["created_at"]
        .as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Calls `visit` with every row `query` selects, from `from_ms` (inclusive; the oldest or the
/// newest time wanted, by direction) on, until the rows end or `visit` breaks.
pub async fn for_each_row(
    api: &Api,
    query: &LogQuery,
    from_ms: Option<i64>,
    visit: impl FnMut(Value) -> ControlFlow<()>,
) -> anyhow::Result<()> {
    let path = format!("/gateways/{}/logs", query.gateway);
    let direction = if query.ascending { "asc" } else { "desc" };
    let fetch = async |filters: Vec<Value>, page: u32| -> anyhow::Result<Vec<Value>> {
        let mut envelope = api
            .get(
                &path,
                &[
                    ("per_page", PER_PAGE.to_string()),
                    ("page", page.to_string()),
                    ("order_by", "created_at".to_owned()),
                    ("order_by_direction", direction.to_owned()),
                    ("filters", Value::Array(filters).to_string()),
                ],
            )
            .await?;
        Ok(match envelope["result"].take() {
            Value::Array(rows) => rows,
            _ => Vec::new(),
        })
    };
    walk(query, from_ms, fetch, visit).await
}

/// [`for_each_row`] over pages `fetch` gives for a filter list and a page number.
async fn walk(
    query: &LogQuery,
    from_ms: Option<i64>,
    mut fetch: impl AsyncFnMut(Vec<Value>, u32) -> anyhow::Result<Vec<Value>>,
    mut visit: impl FnMut(Value) -> ControlFlow<()>,
) -> anyhow::Result<()> {
    let mut cursor = from_ms;
    // The rows of the cursor's millisecond already visited: the next query starts at that
    // millisecond again (inclusive), so they come back and are skipped.
    let mut at_cursor: HashSet<String> = HashSet::new();
    let mut page = 1u32;
    loop {
        let mut filters = query.filters.clone();
        if let Some(ms) = cursor {
            filters.push(if query.ascending {
                filter("created_at", "gt", json!(ms - 1))
            } else {
                filter("created_at", "lt", json!(ms + 1))
            });
        }
        let rows = fetch(filters, page).await?;
        let full = rows.len() >= PER_PAGE;
        let page_cursor = cursor;
        for row in rows {
            let id = row["id"].as_str().unwrap_or("").to_owned();
            match created_ms(&row) {
                // Read already, before the query restarted at this millisecond.
                Some(ms) if Some(ms) == cursor && !at_cursor.insert(id.clone()) => continue,
                Some(ms) if Some(ms) == cursor => {}
                Some(ms) => {
                    cursor = Some(ms);
                    at_cursor.clear();
                    at_cursor.insert(id);
                }
                None => {}
            }
            if visit(row).is_break() {
                return Ok(());
            }
        }
        // A whole page of the cursor's millisecond: the next page of the same query goes on.
        page = if cursor == page_cursor { page + 1 } else { 1 };
        if !full {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use serde_json::{Value, json};

    use super::{LogQuery, PER_PAGE, created_ms, walk};

    /// The logs API over `rows`: `created_at` filters, order by time then id, pages.
    fn serve(rows: &[Value], ascending: bool, filters: &[Value], page: u32) -> Vec<Value> {
        let mut selected: Vec<Value> = rows
            .iter()
            .filter(|row| {
                let ms = created_ms(row).unwrap();
                filters.iter().all(|f| {
                    let bound = f["value"][0].as_i64().unwrap();
                    match f["operator"].as_str().unwrap() {
                        "gt" => ms > bound,
                        "lt" => ms < bound,
                        _ => unreachable!(),
                    }
                })
            })
            .cloned()
            .collect();
        selected.sort_by_key(|row| (created_ms(row), row["id"].as_str().unwrap().to_owned()));
        if !ascending {
            selected.reverse();
        }
        selected
            .into_iter()
            .skip((page as usize - 1) * PER_PAGE)
            .take(PER_PAGE)
            .collect()
    }

    fn row(id: usize, ms: i64) -> Value {
        let at = jiff::Timestamp::from_millisecond(ms).unwrap();
        json!({"id": format!("{id:04}"), "created_at": format!("{at:.3}")})
    }

    #[tokio::test]
    async fn every_row_once_though_more_than_a_page_share_a_millisecond() {
        let base = 1_700_000_000_000;
        // 130 rows in one millisecond between rows of their own.
        let mut rows: Vec<Value> = (0..130).map(|i| row(i, base + 5)).collect();
        rows.extend((130..200).map(|i| row(i, base + i64::try_from(i).unwrap())));
        for ascending in [true, false] {
            let query = LogQuery {
                gateway: "g".into(),
                filters: Vec::new(),
                ascending,
            };
            let mut seen = Vec::new();
            walk(
                &query,
                None,
                async |filters, page| Ok(serve(&rows, ascending, &filters, page)),
                |row| {
                    seen.push(row["id"].as_str().unwrap().to_owned());
                    ControlFlow::Continue(())
                },
            )
            .await
            .unwrap();
            let mut expected: Vec<Value> = rows.clone();
            expected.sort_by_key(|r| (created_ms(r), r["id"].as_str().unwrap().to_owned()));
            if !ascending {
                expected.reverse();
            }
            let expected: Vec<String> = expected
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(seen, expected, "ascending: {ascending}");
        }
    }
}
