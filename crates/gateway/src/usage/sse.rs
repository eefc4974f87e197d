//! An incremental, bounded Server-Sent Events parser over byte chunks (WHATWG event-stream rules).

use super::lines::{KEEP_CAPACITY, Line, LineSplitter};

/// The most one event (its data, event name and id together) may hold before it is dropped.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// One dispatched event. `event` is `None` for the default (`message`) type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    pub event: Option<&'a str>,
    /// The `data:` lines joined with `\n`.
    pub data: &'a str,
    /// The last event id seen on the stream (it carries over to later events, as in browsers).
    pub id: Option<&'a str>,
}

/// Feed it chunks cut anywhere; it calls back once per complete event. Memory stays under about
/// twice the event limit however long the stream runs.
#[derive(Debug)]
pub struct SseParser {
    lines: LineSplitter,
    event: EventBuilder,
}

#[derive(Debug)]
struct EventBuilder {
    max_event: usize,
    data: Vec<u8>,
    /// Distinguishes `data:` with an empty value (dispatched) from no data line (not dispatched).
    has_data: bool,
    name: Vec<u8>,
    last_id: Vec<u8>,
    /// The current event went over the limit: ignore its lines until the blank line that ends it.
    dropping: bool,
    dropped: u64,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new()
    }
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::with_max_event_bytes(MAX_EVENT_BYTES)
    }

    pub fn with_max_event_bytes(max_event: usize) -> SseParser {
        SseParser {
            lines: LineSplitter::new(max_event),
            event: EventBuilder {
                max_event,
                data: Vec::new(),
                has_data: false,
                name: Vec::new(),
                last_id: Vec::new(),
                dropping: false,
                dropped: 0,
            },
        }
    }

    pub fn push(&mut self, chunk: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        let event = &mut self.event;
        self.lines
            .push(chunk, |line| event.line(line, &mut on_event));
    }

    /// Ends the stream. Unlike a browser, an event cut off before its blank line is still
    /// dispatched: upstreams that end on `data: …` without one are common enough.
    pub fn finish(&mut self, mut on_event: impl FnMut(SseEvent<'_>)) {
        let event = &mut self.event;
        self.lines.finish(|line| event.line(line, &mut on_event));
        self.event.line(Line::Text(b""), &mut on_event);
    }

    /// Memory held for partial lines and the event being built.
    pub fn buffered_bytes(&self) -> usize {
        self.lines.buffered_bytes() + self.event.data.capacity() + self.event.name.capacity()
    }

    /// Events dropped for being over the limit so far.
    pub fn dropped_events(&self) -> u64 {
        self.event.dropped
    }
}

impl EventBuilder {
    fn line(&mut self, line: Line<'_>, on_event: &mut impl FnMut(SseEvent<'_>)) {
        let line = match line {
            Line::Text(line) => line,
            Line::TooLong => return self.drop_event(),
        };
        if line.is_empty() {
            return self.dispatch(on_event);
        }
        if self.dropping || line.first() == Some(&b':') {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.size() + value.len() + 1 > self.max_event {
                    return self.drop_event();
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                if self.size() - self.name.len() + value.len() > self.max_event {
                    return self.drop_event();
                }
                self.name.clear();
                self.name.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) && value.len() <= self.max_event => {
                self.last_id.clear();
                self.last_id.extend_from_slice(value);
            }
            // `retry` only matters to a reconnecting client; unknown fields are ignored.
            _ => {}
        }
    }

    fn size(&self) -> usize {
        self.data.len() + self.name.len()
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(SseEvent<'_>)) {
        if self.dropping {
            self.dropping = false;
            self.dropped += 1;
        } else if self.has_data {
            let event = std::str::from_utf8(&self.name).ok();
            let data = std::str::from_utf8(&self.data).ok();
            // Non-UTF-8 events are skipped: every consumer wants text.
            if let (Some(event), Some(data)) = (event, data) {
                on_event(SseEvent {
                    event: (!event.is_empty()).then_some(event),
                    data,
                    id: std::str::from_utf8(&self.last_id)
                        .ok()
                        .filter(|id| !id.is_empty()),
                });
            }
        }
        self.data.clear();
        self.name.clear();
        self.has_data = false;
        // A huge event must not leave a huge allocation behind.
        if self.data.capacity() > KEEP_CAPACITY {
            self.data = Vec::new();
        }
    }

    fn drop_event(&mut self) {
        self.dropping = true;
        self.data = Vec::new();
        self.name.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = (Option<String>, String, Option<String>);

    fn parse(chunks: &[&[u8]], max: usize) -> (Vec<Owned>, u64) {
        let mut parser = SseParser::with_max_event_bytes(max);
        let mut events = Vec::new();
        let mut collect = |e: SseEvent<'_>| {
            events.push((
                e.event.map(str::to_owned),
                e.data.to_owned(),
                e.id.map(str::to_owned),
            ))
        };
        for chunk in chunks {
            parser.push(chunk, &mut collect);
        }
        parser.finish(&mut collect);
        (events, parser.dropped_events())
    }

    fn ev(event: Option<&str>, data: &str, id: Option<&str>) -> Owned {
        (
            event.map(str::to_owned),
            data.to_owned(),
            id.map(str::to_owned),
        )
    }

    /// Feeds `input` whole, then cut at every byte, then byte by byte: always the same events.
    fn assert_split_invariant(input: &[u8], max: usize) -> (Vec<Owned>, u64) {
        let whole = parse(&[input], max);
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(parse(&[a, b], max), whole, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse(&bytes, max), whole, "byte by byte");
        whole
    }

    #[test]
    fn crlf_cr_and_lf_line_ends_all_work_and_survive_any_split() {
        let input = b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n";
        let (events, _) = assert_split_invariant(input, MAX_EVENT_BYTES);
        assert_eq!(
            events,
            vec![
                ev(Some("a"), "1", None),
                ev(Some("b"), "2", None),
                ev(None, "3", None)
            ]
        );
    }

    #[test]
    fn a_crlf_split_between_chunks_is_one_line_end() {
        // Read as two line ends, the split CRLF would end the event after `data: 1`.
        let (events, _) = parse(&[b"data: 1\r", b"\ndata: 2\r\n\r\n"], MAX_EVENT_BYTES);
        assert_eq!(events, vec![ev(None, "1\n2", None)]);
    }

    #[test]
    fn a_leading_bom_is_ignored_even_when_split() {
        let input = b"\xEF\xBB\xBFdata: x\n\n";
        let (events, _) = assert_split_invariant(input, MAX_EVENT_BYTES);
        assert_eq!(events, vec![ev(None, "x", None)]);
    }

    #[test]
    fn fields_follow_the_event_stream_rules() {
        let input =
            b": comment\ndata:no-space\ndata:  two spaces\ndata\nid: 7\nretry: 10\nfoo: bar\n\n\
            event: ping\n\ndata:\n\n";
        let (events, _) = assert_split_invariant(input, MAX_EVENT_BYTES);
        assert_eq!(
            events,
            vec![
                ev(None, "no-space\n two spaces\n", Some("7")),
                // `event: ping` without data is not dispatched; an empty data line is.
                ev(None, "", Some("7")),
            ]
        );
    }

    #[test]
    fn a_multibyte_character_split_across_chunks_is_whole() {
        let input = "data: h\u{e9}llo \u{1F600}\n\n".as_bytes();
        let (events, _) = assert_split_invariant(input, MAX_EVENT_BYTES);
        assert_eq!(events, vec![ev(None, "h\u{e9}llo \u{1F600}", None)]);
    }

    #[test]
    fn non_utf8_events_are_skipped() {
        let (events, _) = parse(&[b"data: \xFF\n\ndata: ok\n\n"], MAX_EVENT_BYTES);
        assert_eq!(events, vec![ev(None, "ok", None)]);
    }

    #[test]
    fn an_unterminated_last_event_is_flushed_by_finish() {
        let (events, _) = parse(&[b"data: a\n\ndata: b"], MAX_EVENT_BYTES);
        assert_eq!(events, vec![ev(None, "a", None), ev(None, "b", None)]);
    }

    #[test]
    fn an_oversize_event_is_dropped_and_the_parser_recovers() {
        // Too big as one long line, and as many short lines.
        let input =
            b"data: small\n\ndata: 0123456789012345678901234567890123456789\ndata: more\n\n\
            data: 0123456789\ndata: 0123456789\ndata: 0123456789\ndata: 0\n\nevent: after\ndata: ok\n\n";
        let (events, dropped) = assert_split_invariant(input, 32);
        assert_eq!(
            events,
            vec![ev(None, "small", None), ev(Some("after"), "ok", None)]
        );
        assert_eq!(dropped, 2);
    }

    #[test]
    fn the_real_limit_drops_a_two_mebibyte_event() {
        let mut input = b"data: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 2 * MAX_EVENT_BYTES));
        input.extend_from_slice(b"\n\ndata: next\n\n");
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in input.chunks(64 * 1024) {
            parser.push(chunk, |e| events.push(e.data.to_owned()));
            assert!(parser.buffered_bytes() <= 4 * MAX_EVENT_BYTES);
        }
        assert_eq!(events, vec!["next".to_owned()]);
        assert_eq!(parser.dropped_events(), 1);
    }
}
