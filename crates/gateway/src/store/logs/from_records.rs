//! The one mapping from spool records to the [`LogRow`] both stores' ingest writes: a begin
//! record makes the row in flight, its end record completes it. The writers read the row
//! through [`super::columns::LOG_COLUMNS`], so a new column is a field set here and a line
//! there (docs/logs.md, "Adding a log column").

use super::LogRow;
use crate::logs::{LogBegin, LogEnd};

impl LogRow {
    /// The row as its begin record makes it: in flight, the end's columns at what the tables
    /// hold until the end comes (their defaults).
    pub(crate) fn begun(begin: &LogBegin) -> LogRow {
        LogRow {
            id: begin.id.clone(),
            account_id: begin.account_id.clone(),
            gateway_id: begin.gateway_id.clone(),
            created_at_ms: begin.created_at_ms,
            event_id: begin.event_id.clone(),
            provider: begin.provider.clone(),
            model: begin.model.clone(),
            path: begin.path.clone(),
            method: begin.method.clone(),
            metadata: begin.metadata.clone(),
            step: begin.step,
            request_content_type: begin.request_content_type.clone(),
            request_size: Some(begin.request_size),
            // Only a row that keeps its payload says whether the request head was whole.
            request_head_complete: begin.keep_payload.then_some(begin.request_head_complete),
            client_ip: begin.client_ip.clone(),
            user_agent: begin.user_agent.clone(),
            attempts: 1,
            ..LogRow::default()
        }
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
        self.status_code = end.status_code;
        self.success = end.success;
        self.cached = end.cached;
        self.duration_ms = Some(end.duration_ms);
        self.ttfb_ms = end.ttfb_ms;
        self.tokens_in = end.tokens_in;
        self.tokens_out = end.tokens_out;
        self.cache_read_tokens = end.cache_read_tokens;
        self.cache_write_tokens = end.cache_write_tokens;
        self.cost = end.cost;
        self.custom_cost = end.custom_cost;
        self.attempts = end.attempts;
        self.response_content_type = end.response_content_type.clone();
        self.response_size = Some(end.response_size);
        // Response headers are in the end record only when the payload is kept.
        self.response_head_complete =
            (!end.response_headers.is_empty()).then_some(end.response_head_complete);
        self.error = end.error.clone();
        self.completed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::logs::columns::{LOG_COLUMNS, Source};

    /// A column's [`Source`] is what the writers go by: a begin's columns are inserted from
    /// [`LogRow::begun`] and left alone by the end, an end's are updated from
    /// [`LogRow::ended`], and no record sets the others. Every record field differs from the
    /// row's default here, so a column marked with the wrong record (or none) fails.
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
        };
        let in_flight = LogRow::begun(&begin);
        let mut completed = in_flight.clone();
        completed.end_with(&end);
        let ended = LogRow::ended(&end);
        let untouched = LogRow::default();
        for c in LOG_COLUMNS {
            let value = |row: &LogRow| (c.get)(row);
            match c.source {
                Some(Source::Begin) => {
                    assert_ne!(value(&in_flight), value(&untouched), "{}", c.name);
                    assert_eq!(value(&completed), value(&in_flight), "{}", c.name);
                }
                Some(Source::End) => {
                    assert_ne!(value(&ended), value(&in_flight), "{}", c.name);
                    assert_eq!(value(&completed), value(&ended), "{}", c.name);
                }
                None => assert_eq!(value(&completed), value(&untouched), "{}", c.name),
            }
        }
    }
}
