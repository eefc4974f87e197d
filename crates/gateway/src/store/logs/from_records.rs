//! A row from its spool records, as both stores' ingest writes it: a begin record makes the row
//! in flight, its end record completes it, each column set as its [`Source`] in
//! [`LOG_COLUMNS`] says (docs/logs.md, "Adding a log column").

use super::LogRow;
use super::columns::{LOG_COLUMNS, Source};
use crate::logs::{LogBegin, LogEnd};

impl LogRow {
    /// The row as its begin record makes it: in flight, the end's columns at what the tables
    /// hold until the end comes (their defaults: one attempt, the flags false, the rest NULL).
    pub(crate) fn begun(begin: &LogBegin) -> LogRow {
        let mut row = LogRow {
            attempts: 1,
            ..LogRow::default()
        };
        for column in LOG_COLUMNS {
            if let Some(Source::Begin(set)) = column.source {
                set(&mut row, begin);
            }
        }
        row
    }

    /// The row as far as `end` says: its id and the end's columns, all an update reads.
    pub(crate) fn ended(end: &LogEnd) -> LogRow {
        let mut row = LogRow {
            id: end.id.clone(),
            ..LogRow::default()
        };
        row.end_with(end);
        row
    }

    /// Sets the end's columns from `end`: the row is completed.
    pub(crate) fn end_with(&mut self, end: &LogEnd) {
        for column in LOG_COLUMNS {
            if let Some(Source::End(set)) = column.source {
                set(self, end);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A column's [`Source`] sets that column and no other: a begin's columns are inserted
    /// from [`LogRow::begun`] and left alone by the end, an end's are updated from
    /// [`LogRow::ended`], and no record sets the others. Every record field differs from the
    /// row's default here, so a setter that writes another field (or none) fails.
    #[test]
    fn each_column_is_set_by_the_record_its_source_names() {
        let begin = LogBegin {
            id: "id".into(),
            instance_id: "inst".into(),
            account_id: "acct".into(),
            gateway_id: "gw".into(),
            created_at_ms: 1,
            event_id: Some("ev".into()),
            provider: "p".into(),
            model: Some("m".into()),
            path: "x".into(),
            method: "POST".into(),
            metadata: Some("{}".into()),
            step: Some(2),
            request_content_type: Some("a/b".into()),
            request_size: 3,
            client_ip: Some("ip".into()),
            user_agent: Some("ua".into()),
            keep_payload: true,
            request_headers: vec![("h".into(), "v".into())],
            request_head_complete: true,
            trace_id: Some("t".into()),
        };
        let end = LogEnd {
            id: "id".into(),
            rollup: None,
            status_code: Some(200),
            success: true,
            cached: true,
            duration_ms: 4,
            ttfb_ms: Some(5),
            tokens_in: Some(6),
            tokens_out: Some(7),
            cache_read_tokens: Some(8),
            cache_write_tokens: Some(9),
            cost: Some(0.5),
            custom_cost: true,
            attempts: 2,
            response_content_type: Some("c/d".into()),
            response_size: 10,
            response_headers: vec![("h".into(), "v".into())],
            response_head_complete: false,
            error: Some("e".into()),
            dlp: Some("{}".into()),
        };
        let in_flight = LogRow::begun(&begin);
        let mut completed = in_flight.clone();
        completed.end_with(&end);
        let ended = LogRow::ended(&end);
        let untouched = LogRow::default();
        for c in LOG_COLUMNS {
            let value = |row: &LogRow| (c.get)(row);
            match c.source {
                Some(Source::Begin(_)) => {
                    assert_ne!(value(&in_flight), value(&untouched), "{}", c.name);
                    assert_eq!(value(&completed), value(&in_flight), "{}", c.name);
                }
                Some(Source::End(_)) => {
                    assert_ne!(value(&ended), value(&in_flight), "{}", c.name);
                    assert_eq!(value(&completed), value(&ended), "{}", c.name);
                }
                None => assert_eq!(value(&completed), value(&untouched), "{}", c.name),
            }
        }
    }
}
