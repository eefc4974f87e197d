//! FZ-01: the SSE parser never panics, stays within its memory bound, and gives the same events
//! however the stream is cut into chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::usage::sse::SseParser;

/// A small event limit, so the fuzzer reaches the over-limit paths with short inputs.
const MAX_EVENT: usize = 256;

type Event = (Option<String>, String, Option<String>);

fn parse(chunks: &[&[u8]]) -> (Vec<Event>, u64) {
    let mut parser = SseParser::with_max_event_bytes(MAX_EVENT);
    let mut events = Vec::new();
    let mut record = |event: tollgate_gateway::usage::sse::SseEvent<'_>| {
        events.push((
            event.event.map(str::to_owned),
            event.data.to_owned(),
            event.id.map(str::to_owned),
        ));
    };
    for chunk in chunks {
        parser.push(chunk, &mut record);
        // The bound the relay relies on: about twice the event limit, plus the kept capacity
        // of its line buffer.
        assert!(parser.buffered_bytes() <= 4 * MAX_EVENT + 64 * 1024 + chunk.len());
    }
    parser.finish(&mut record);
    (events, parser.dropped_events())
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut_seed, stream)) = data.split_first() else {
        return;
    };
    let whole = parse(&[stream]);
    // Every byte on its own, and a cut at a point chosen by the input.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(parse(&bytes), whole);
    let cut = if stream.is_empty() {
        0
    } else {
        usize::from(cut_seed) % stream.len()
    };
    let (head, tail) = stream.split_at(cut);
    assert_eq!(parse(&[head, tail]), whole);
});
