//! Streaming usage for every OpenAI-format client (docs/compat.md, "Streaming usage"): a stream
//! whose client did not ask for `stream_options.include_usage` is sent upstream with it, so the
//! provider reports its tokens, and what it added is taken back out of the client's stream:
//! the usage chunk (empty `choices`, a `usage` block) and the `"usage":null` every other chunk
//! then carries. The client gets the bytes it would have had without the option.

use bytes::Bytes;
use serde_json::Value;

/// An event larger than this is passed on unread: the filter must not hold a stream hostage.
const MAX_EVENT_BYTES: usize = 1 << 20;

/// The request body to send upstream when `request` is a Chat Completions stream without
/// `include_usage`: the same JSON with `stream_options.include_usage: true` (other
/// `stream_options` kept). `None` when nothing needs to change, or the body is not a streamed
/// JSON object.
pub fn ask_for_usage(request: &Value) -> Option<Value> {
    let object = request.as_object()?;
    if object.get("stream").and_then(Value::as_bool) != Some(true) || super::include_usage(request)
    {
        return None;
    }
    let mut asked = request.clone();
    let options = asked
        .as_object_mut()?
        .entry("stream_options")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !options.is_object() {
        // `stream_options: null` (or something odd): replaced, as OpenAI reads null as absent.
        *options = Value::Object(serde_json::Map::new());
    }
    options
        .as_object_mut()?
        .insert("include_usage".to_owned(), Value::Bool(true));
    Some(asked)
}

/// Removes, event by event, what `include_usage` added to an OpenAI chat stream. Every other
/// byte passes unchanged, in order; an event goes out once its blank line has arrived.
#[derive(Debug, Default)]
pub struct UsageChunkFilter {
    pending: Vec<u8>,
    /// How much of `pending` is known to hold no event end, so a large event that arrives in
    /// many chunks is scanned once, not once per chunk.
    scanned: usize,
    /// An event over [`MAX_EVENT_BYTES`] is being passed through until its end.
    passing: bool,
}

impl UsageChunkFilter {
    pub fn new() -> UsageChunkFilter {
        UsageChunkFilter::default()
    }

    /// Feeds upstream bytes; returns the client's bytes they completed (may be empty).
    pub fn push(&mut self, chunk: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(chunk.len());
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        // An event end is at most three bytes long: it may begin just before the scanned part.
        let mut from = self.scanned.saturating_sub(2);
        while let Some(end) = event_end(&self.pending[start..], from) {
            let event = &self.pending[start..start + end];
            if std::mem::take(&mut self.passing) {
                out.extend_from_slice(event);
            } else {
                filter_event(event, &mut out);
            }
            start += end;
            from = 0;
        }
        self.pending.drain(..start);
        self.scanned = self.pending.len();
        if self.pending.len() > MAX_EVENT_BYTES {
            self.passing = true;
        }
        if self.passing {
            out.append(&mut self.pending);
            self.scanned = 0;
        }
        Bytes::from(out)
    }

    /// The upstream body ended: whatever is left (an event without its blank line) as it came.
    pub fn finish(&mut self) -> Bytes {
        let rest = std::mem::take(&mut self.pending);
        if self.passing {
            return Bytes::from(rest);
        }
        let mut out = Vec::with_capacity(rest.len());
        filter_event(&rest, &mut out);
        Bytes::from(out)
    }
}

/// The length of the first complete event in `bytes`, its blank line included; the search
/// starts at `from` (what comes before holds no event end).
fn event_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                match (bytes.get(i + 1), bytes.get(i + 2)) {
                    (Some(b'\n'), _) => return Some(i + 2),
                    (Some(b'\r'), Some(b'\n')) => return Some(i + 3),
                    _ => {}
                }
                i += 1;
            }
            b'\r' if bytes.get(i + 1) == Some(&b'\r') => return Some(i + 2),
            _ => i += 1,
        }
    }
    None
}

/// One event (with its blank line) into `out`: dropped when it is the usage chunk, without its
/// top-level `"usage":null` otherwise, unchanged in every other case.
fn filter_event(event: &[u8], out: &mut Vec<u8>) {
    let Some((json_start, json_end)) = single_data_json(event) else {
        out.extend_from_slice(event);
        return;
    };
    let json = &event[json_start..json_end];
    let Ok(Value::Object(chunk)) = serde_json::from_slice::<Value>(json) else {
        out.extend_from_slice(event);
        return;
    };
    let usage = chunk.get("usage");
    let no_choices = chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty);
    match usage {
        // The chunk include_usage added: nothing else is in it.
        Some(usage) if !usage.is_null() && no_choices => {}
        Some(Value::Null) => match top_level_key_span(json, b"usage") {
            Some((from, to)) => {
                out.extend_from_slice(&event[..json_start + from]);
                out.extend_from_slice(&event[json_start + to..]);
            }
            None => out.extend_from_slice(event),
        },
        // A chunk that has choices and a usage: some providers always send that; kept.
        _ => out.extend_from_slice(event),
    }
}

/// Where the JSON of an event made of one `data:` line (and its blank line) starts and ends.
fn single_data_json(event: &[u8]) -> Option<(usize, usize)> {
    let rest = event.strip_prefix(b"data:")?;
    let lead = usize::from(rest.first() == Some(&b' '));
    let start = 5 + lead;
    let line_end = event[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(event.len(), |p| start + p);
    // Only line endings may follow: an event of several lines is passed on as it is.
    let tail_is_blank = event[line_end..].iter().all(|&b| b == b'\n' || b == b'\r');
    (tail_is_blank && event[start..line_end].first() == Some(&b'{')).then_some((start, line_end))
}

/// The byte range to cut so that the top-level member `key` of the JSON object `json` goes,
/// with the comma that separates it from its neighbour. `None` when it is not there.
fn top_level_key_span(json: &[u8], key: &[u8]) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut i = 0;
    // The end of the last top-level value (just before its `,`), and where that comma is.
    let mut last_comma: Option<usize> = None;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let end = string_end(json, i)?;
                if depth == 1 && &json[i + 1..end] == key && is_key(json, end + 1) {
                    let value_end = value_end(json, end + 1)?;
                    return Some(match last_comma {
                        // Not the first member: from the comma before it.
                        Some(comma) => (comma, value_end),
                        // The first member: up to the next one, comma and spaces included.
                        None => {
                            let after = skip_space(json, value_end);
                            match json.get(after) {
                                Some(b',') => (i, skip_space(json, after + 1)),
                                _ => (i, value_end),
                            }
                        }
                    });
                }
                i = end + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b',' if depth == 1 => {
                last_comma = Some(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The index of the quote that closes the string opened at `open`.
fn string_end(json: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_space(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// Whether a `:` follows at `i` (the string before it was a key).
fn is_key(json: &[u8], i: usize) -> bool {
    json.get(skip_space(json, i)) == Some(&b':')
}

/// The end of a `null` value after the `:` that follows a key at `i`; `None` for other values
/// (only a null usage is cut).
fn value_end(json: &[u8], i: usize) -> Option<usize> {
    let colon = skip_space(json, i);
    let value = skip_space(json, colon + 1);
    json.get(value..value + 4)
        .filter(|v| *v == b"null")
        .map(|_| value + 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(filter: &mut UsageChunkFilter, input: &[u8], cut: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in input.chunks(cut.max(1)) {
            out.extend_from_slice(&filter.push(piece));
        }
        out.extend_from_slice(&filter.finish());
        out
    }

    const WITH_USAGE: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"usage\":null,\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \\\"usage\\\":null\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n",
        "data: [DONE]\n\n",
    );
    const WITHOUT_USAGE: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \\\"usage\\\":null\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn the_stream_is_the_one_without_include_usage_however_it_is_cut() {
        for cut in [1, 2, 7, 64, 10_000] {
            let out = run(&mut UsageChunkFilter::new(), WITH_USAGE.as_bytes(), cut);
            assert_eq!(String::from_utf8(out).unwrap(), WITHOUT_USAGE, "cut {cut}");
        }
    }

    #[test]
    fn other_events_pass_byte_for_byte() {
        let input = concat!(
            ": keep-alive\n\n",
            "event: ping\ndata: {\"usage\":null}\n\n",
            "data: {\"choices\":[{\"index\":0}],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n",
            "data: {\"x\":{\"usage\":null},\"usage\" : null }\n\n",
            "data: not json\n\n",
            "data: {\"error\":{\"message\":\"boom\"}}",
        );
        let expected = concat!(
            ": keep-alive\n\n",
            "event: ping\ndata: {\"usage\":null}\n\n",
            "data: {\"choices\":[{\"index\":0}],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n",
            "data: {\"x\":{\"usage\":null} }\n\n",
            "data: not json\n\n",
            "data: {\"error\":{\"message\":\"boom\"}}",
        );
        for cut in 1..=8 {
            let out = run(&mut UsageChunkFilter::new(), input.as_bytes(), cut);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "cut {cut}");
        }
    }

    #[test]
    fn a_lone_usage_member_leaves_an_empty_object() {
        let out = run(
            &mut UsageChunkFilter::new(),
            b"data: {\"usage\":null}\n\n",
            100,
        );
        assert_eq!(out, b"data: {}\n\n");
    }

    #[test]
    fn an_oversized_event_is_passed_on_unread() {
        let mut filter = UsageChunkFilter::new();
        let big = vec![b'x'; MAX_EVENT_BYTES + 10];
        let mut out = filter.push(b"data: ").to_vec();
        out.extend_from_slice(&filter.push(&big));
        out.extend_from_slice(&filter.push(b"\n\ndata: {\"choices\":[],\"usage\":{}}\n\n"));
        out.extend_from_slice(&filter.finish());
        assert_eq!(
            out.len(),
            6 + big.len() + 2,
            "the usage chunk after it is still dropped"
        );
    }

    #[test]
    fn only_streams_without_include_usage_are_rewritten() {
        let asked = ask_for_usage(&json!({"model": "m", "stream": true})).unwrap();
        assert_eq!(
            serde_json::to_string(&asked).unwrap(),
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#
        );
        let kept = ask_for_usage(
            &json!({"stream": true, "stream_options": {"include_obfuscation": false}}),
        )
        .unwrap();
        assert_eq!(
            kept["stream_options"],
            json!({"include_obfuscation": false, "include_usage": true})
        );
        assert!(
            ask_for_usage(&json!({"stream": true, "stream_options": {"include_usage": true}}))
                .is_none()
        );
        assert!(ask_for_usage(&json!({"stream": false})).is_none());
        assert!(ask_for_usage(&json!({"model": "m"})).is_none());
        assert!(ask_for_usage(&json!([1])).is_none());
        assert_eq!(
            ask_for_usage(&json!({"stream": true, "stream_options": null})).unwrap()["stream_options"],
            json!({"include_usage": true})
        );
    }
}
