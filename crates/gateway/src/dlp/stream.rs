//! Scanning a streamed (SSE) response as it flows (docs/dlp.md): each complete event's text
//! (the strings of its JSON data: content deltas, tool-call argument fragments) is appended to
//! a look-back window of the last [`LOOKBACK`] bytes of text, and the window is scanned, so a
//! secret split across events (or chunks) is still found. Only an event's own bytes are held
//! back until the event is complete; every event before it has already gone to the client.
//!
//! A BLOCK ends the stream: the events before the one that completed the match are released,
//! that event is not, and an error event in the client's format takes its place.

use bytes::Bytes;
use memchr::memmem;
use serde_json::{Value, json};

use super::body::walk;
use super::policy::Action;
use super::report::{Report, SideScan};

/// The text kept from earlier events: a match may start this far back and still be found.
pub const LOOKBACK: usize = 1024;
/// An event larger than this is scanned and released without waiting for its end, so a
/// stream without event boundaries cannot make the gateway buffer it.
pub const MAX_PENDING: usize = 1024 * 1024;

/// What the relay does with a chunk.
pub enum StreamStep {
    /// Send these bytes (the complete events so far; may be empty).
    Forward(Bytes),
    /// Send `before` (the events before the blocked one), then [`StreamScan::error_event`],
    /// then end.
    Blocked { before: Bytes },
}

pub struct StreamScan {
    scan: SideScan,
    /// Bytes of an event not yet complete.
    pending: Vec<u8>,
    window: Vec<u8>,
    report: Report,
    /// The client is sent Anthropic's format (seen in what it was sent): errors as `event: error`.
    anthropic: bool,
    blocked: bool,
}

impl StreamScan {
    /// `report`: what the request's scan found, to which the response's findings are added.
    pub fn new(scan: SideScan, report: Report) -> StreamScan {
        StreamScan {
            scan,
            pending: Vec::new(),
            window: Vec::new(),
            report,
            anthropic: false,
            blocked: false,
        }
    }

    /// The request's and the response's findings so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Notes what the client was sent, for the format of an error event.
    pub fn sent(&mut self, bytes: &[u8]) {
        if !self.anthropic && memmem::find(bytes, b"event: message_start").is_some() {
            self.anthropic = true;
        }
    }

    /// Takes a chunk from the upstream: the complete events in it are scanned and released.
    pub fn push(&mut self, chunk: &[u8]) -> StreamStep {
        if self.blocked {
            return StreamStep::Forward(Bytes::new());
        }
        let searched_from = self.pending.len().saturating_sub(3);
        self.pending.extend_from_slice(chunk);
        let mut released = 0;
        let mut from = searched_from;
        while let Some(end) = event_end(&self.pending, from) {
            if self.event(released, end) {
                return self.block(released);
            }
            released = end;
            from = end;
        }
        if self.pending.len() - released > MAX_PENDING {
            let end = self.pending.len();
            if self.event(released, end) {
                return self.block(released);
            }
            released = end;
        }
        StreamStep::Forward(Bytes::from(
            self.pending.drain(..released).collect::<Vec<u8>>(),
        ))
    }

    /// The stream ended (or its last event arrived): whatever is held is scanned and released.
    pub fn finish(&mut self) -> StreamStep {
        if self.blocked || self.pending.is_empty() {
            return StreamStep::Forward(Bytes::new());
        }
        let end = self.pending.len();
        if self.event(0, end) {
            return self.block(0);
        }
        StreamStep::Forward(Bytes::from(std::mem::take(&mut self.pending)))
    }

    /// Scans the event at `pending[start..end]`; whether it completed a match to block.
    fn event(&mut self, start: usize, end: usize) -> bool {
        let before = self.window.len();
        append_text(&self.pending[start..end], &mut self.window);
        if self.window.len() == before {
            return false;
        }
        let mut scanned = Report::default();
        let mut ignored = Vec::new();
        self.scan.scan(&self.window, &mut scanned, &mut ignored);
        let block = scanned.action == Some(Action::Block);
        self.report.merge(scanned);
        let excess = self.window.len().saturating_sub(LOOKBACK);
        self.window.drain(..excess);
        block
    }

    fn block(&mut self, released: usize) -> StreamStep {
        self.blocked = true;
        let before = Bytes::from(self.pending[..released].to_vec());
        self.pending.clear();
        self.window.clear();
        StreamStep::Blocked { before }
    }

    /// The stream's last event after a block, in the format of what the client was sent
    /// (call [`StreamScan::sent`] with the blocked step's `before` first: it may be the
    /// stream's first bytes).
    pub fn error_event(&self) -> Bytes {
        error_event(self.anthropic)
    }
}

/// Where the first event ending at or after `from` ends (its blank line included).
fn event_end(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let lf = memmem::find(rest, b"\n\n").map(|at| (at, at + 2));
    let crlf = memmem::find(rest, b"\r\n\r\n").map(|at| (at, at + 4));
    let (_, end) = match (lf, crlf) {
        (Some(a), Some(b)) if b.0 < a.0 => b,
        (Some(a), _) => a,
        (None, other) => other?,
    };
    Some(from + end)
}

/// Appends an event's text: the content strings of its `data:` JSON, or the data itself when
/// it is not JSON (`[DONE]` is not text).
fn append_text(event: &[u8], window: &mut Vec<u8>) {
    let mut data = Vec::new();
    for line in event.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            if !data.is_empty() {
                data.push(b'\n');
            }
            data.extend_from_slice(rest.strip_prefix(b" ").unwrap_or(rest));
        }
    }
    if data.is_empty() || data == b"[DONE]" {
        return;
    }
    match serde_json::from_slice::<Value>(&data) {
        Ok(mut value) => walk(&mut value, &mut |text: &mut String| {
            window.extend_from_slice(text.as_bytes());
        }),
        Err(_) => window.extend_from_slice(&data),
    }
}

const MESSAGE: &str = "Response content blocked due to DLP policy violations";

/// The stream's last event after a block, in the client's format.
fn error_event(anthropic: bool) -> Bytes {
    let text = if anthropic {
        let body = json!({"type": "error", "error": {
            "type": "invalid_request_error", "message": MESSAGE, "code": 2030}});
        format!("event: error\ndata: {body}\n\n")
    } else {
        let body = json!({"error": {
            "message": MESSAGE, "type": "invalid_request_error", "param": null, "code": 2030}});
        format!("data: {body}\n\n")
    };
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dlp::{Check, DlpSettings};

    fn stream(action: &str) -> StreamScan {
        let settings =
            DlpSettings::parse(&json!({"action": action, "profiles": ["credentials"]})).ok();
        match SideScan::for_settings(settings.as_ref(), Check::Response) {
            Some(scan) => StreamScan::new(scan, Report::default()),
            None => unreachable!(),
        }
    }

    fn delta(text: &str) -> String {
        format!(
            "data: {}\n\n",
            json!({"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}}]})
        )
    }

    fn forwarded(step: StreamStep) -> Vec<u8> {
        match step {
            StreamStep::Forward(bytes) => bytes.to_vec(),
            StreamStep::Blocked { .. } => panic!("blocked"),
        }
    }

    #[test]
    fn a_secret_split_across_events_is_blocked_and_earlier_events_pass() {
        let mut scan = stream("BLOCK");
        let first = delta("Here is the key: AKIAIOSF");
        let second = delta("ODNN7EXAMPLE and more");
        assert_eq!(forwarded(scan.push(first.as_bytes())), first.as_bytes());
        match scan.push(second.as_bytes()) {
            StreamStep::Blocked { before } => {
                assert!(before.is_empty());
                let text = String::from_utf8_lossy(&scan.error_event()).into_owned();
                assert!(text.starts_with("data: {\"error\""), "{text}");
                assert!(text.contains("\"code\":2030"), "{text}");
            }
            StreamStep::Forward(_) => panic!("not blocked"),
        }
        assert!(scan.is_blocked());
        assert_eq!(scan.report().entry_ids(), ["credentials.aws_access_key_id"]);
    }

    #[test]
    fn events_split_across_chunks_are_held_only_until_complete() {
        let mut scan = stream("FLAG");
        let events = format!("{}{}data: [DONE]\n\n", delta("hello "), delta("world"));
        let mut out = Vec::new();
        for chunk in events.as_bytes().chunks(7) {
            out.extend(forwarded(scan.push(chunk)));
        }
        out.extend(forwarded(scan.finish()));
        assert_eq!(out, events.as_bytes());
        assert!(scan.report().is_empty());
    }

    #[test]
    fn flag_records_and_lets_the_stream_through() {
        let mut scan = stream("FLAG");
        let events = format!(
            "{}{}",
            delta("token ghp_0123456789abcdef"),
            delta("ghijABCDEFGHIJ0123456789")
        );
        let out = forwarded(scan.push(events.as_bytes()));
        assert_eq!(out, events.as_bytes());
        assert_eq!(scan.report().entry_ids(), ["credentials.github_token"]);
    }

    #[test]
    fn anthropic_clients_get_an_error_event_even_when_the_block_comes_in_the_first_chunk() {
        let mut scan = stream("BLOCK");
        let start = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n";
        let delta = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"-----BEGIN PRIVATE KEY-----\"}}\n\n";
        match scan.push(format!("{start}{delta}").as_bytes()) {
            StreamStep::Blocked { before } => {
                assert_eq!(before, start.as_bytes());
                // What the client is sent before the error event says its format.
                scan.sent(&before);
                let error = scan.error_event();
                assert!(error.starts_with(b"event: error\ndata: {\"type\":\"error\""));
            }
            StreamStep::Forward(_) => panic!("not blocked"),
        }
    }

    #[test]
    fn the_window_is_bounded() {
        let mut scan = stream("FLAG");
        for _ in 0..100 {
            let _ = scan.push(delta(&"lorem ipsum ".repeat(50)).as_bytes());
        }
        assert!(scan.window.len() <= LOOKBACK);
        // A key split by more than the look-back window is not reassembled.
        let mut far = stream("BLOCK");
        let _ = far.push(delta("AKIAIOSF").as_bytes());
        let _ = far.push(delta(&"x ".repeat(LOOKBACK)).as_bytes());
        assert!(matches!(
            far.push(delta("ODNN7EXAMPLE").as_bytes()),
            StreamStep::Forward(_)
        ));
    }
}
