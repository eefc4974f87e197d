//! Sending the upstream's response body to the client while the request log watches it: usage
//! is read as chunks pass, the body head is captured (bounded), and the end record is made
//! durable before the last byte goes out (docs/logs.md).
//!
//! A task owns the upstream stream and hands chunks to the client's body through a channel of
//! one. Owning the stream is what guarantees an end record on every path: completion, an
//! upstream break, and a client that leaves (noticed even while the upstream is silent).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use memchr::memmem::Finder;
use tokio::sync::mpsc;

use super::client::UpstreamChunk;
use super::plan::BodyTransform;
use super::record::{RelayedBody, RequestLog, elapsed_ms};
use crate::cache::{CachedResponse, FlightGuard, Outcome, ResponseCache};
use crate::dlp::{StreamScan, StreamStep};
use crate::logs::LogEnd;
use crate::usage::{UsageExtractor, UsageFormat};

/// Markers of a stream's last event: the end record must be durable before they are sent.
const TERMINAL_MARKERS: [&[u8]; 3] = [
    b"data: [DONE]",
    b"event: message_stop",
    b"\"type\":\"response.completed\"",
];

/// How long an event stream's head waits for its first event (see [`relay`]).
const FIRST_EVENT_WAIT: Duration = Duration::from_millis(1);

/// Why a body breaks when its end record could not be written.
const UNRECORDED: &str = "the request's log record could not be written";

/// What the relay needs to know of the upstream's response head.
pub struct ResponseHead {
    /// The end record as far as the head tells it ([`RequestLog::relayed_end`]).
    pub end: LogEnd,
    pub status: u16,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    /// The longest the upstream may go silent mid-body before the stream is cut: a stalled
    /// upstream must not hold the client, the connection and the row open forever.
    pub idle_timeout: Duration,
}

/// A response on its way into the cache: captured as it streams, stored once complete, and
/// shared with the requests waiting on the same key (single flight).
pub struct CacheFill {
    pub key: String,
    pub ttl_secs: u32,
    pub leader: Option<FlightGuard>,
    /// The response's headers as a replay will send them, and whether it may be stored at all.
    pub headers: Vec<(String, String)>,
    pub storable: bool,
}

/// The client's body: the upstream's bytes, unchanged, with `log` finished on the way.
///
/// A body that is not an event stream is awaited until its first chunk (or its end) before
/// the response goes out, so the head and a small body leave in one write instead of two.
/// An event stream's head waits for its first event only up to [`FIRST_EVENT_WAIT`]: a
/// first event that came with the upstream's head leaves with the client's head (one write,
/// one packet: the client's time to first byte), and a slow first token does not hold the
/// head back.
pub async fn relay<S>(
    log: RequestLog,
    upstream: S,
    head: ResponseHead,
    fill: Option<CacheFill>,
    transform: Option<Box<dyn BodyTransform>>,
    dlp: Option<StreamScan>,
) -> Body
where
    S: Stream<Item = UpstreamChunk> + Send + Unpin + 'static,
{
    let ResponseHead {
        end,
        status,
        content_type,
        content_length,
        idle_timeout,
    } = head;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(1);
    let complete = Arc::new(AtomicBool::new(false));
    let client = ToClient {
        sender,
        complete: complete.clone(),
    };
    let logs = log.state.logs().clone();
    let bounds = Bounds {
        upstream_idle: idle_timeout,
        client_stall: log.state.config().limits.client_write_stall_timeout,
    };
    let is_sse = content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let watcher = Watcher {
        capture: fill.map(|fill| (fill, Vec::new())),
        status,
        extractor: UsageExtractor::new(log.usage_format, content_type.as_deref()),
        head: Vec::new(),
        head_cap: log.head_limit(),
        size: 0,
        ttfb_ms: None,
        end: Some(end),
        dlp,
        log,
    };
    // Boxed before it is spawned: the task's future is built once, in its box, and the spawn
    // moves a pointer (unboxed, each layer of the spawn moved the whole future by value).
    logs.spawn_owing_end(Box::pin(drive(
        upstream,
        client,
        watcher,
        transform,
        content_length,
        is_sse,
        bounds,
    )));
    let mut receiver = receiver;
    let first = if is_sse {
        // Usually already here: it came in the same packet as the upstream's head.
        tokio::time::timeout(FIRST_EVENT_WAIT, receiver.recv())
            .await
            .ok()
    } else {
        Some(receiver.recv().await)
    };
    Body::from_stream(futures_util::stream::unfold(
        Some((first, receiver, complete)),
        |state| async move {
            let (first, mut receiver, complete) = state?;
            let next = match first {
                Some(first) => first,
                None => receiver.recv().await,
            };
            match next {
                Some(item) => Some((item, Some((None, receiver, complete)))),
                // The relay ended without saying the response is whole (the client stalled,
                // the task died): the body breaks rather than ends, so it never looks complete.
                None if !complete.load(Ordering::Acquire) => {
                    Some((Err(io::Error::other("response cut short")), None))
                }
                None => None,
            }
        },
    ))
}

struct Watcher {
    log: RequestLog,
    /// The cache fill and the body captured for it so far (dropped once over the size bound).
    capture: Option<(CacheFill, Vec<u8>)>,
    status: u16,
    extractor: UsageExtractor,
    head: Vec<u8>,
    head_cap: usize,
    size: u64,
    ttfb_ms: Option<i64>,
    /// Taken by the one end record this request gets: whatever path ends it later (a client
    /// leaving after the last byte, a break after the terminal event) finds nothing to record.
    end: Option<LogEnd>,
    /// The stream's DLP scan (docs/dlp.md), when a policy checks responses.
    dlp: Option<StreamScan>,
}

/// How long each side of a relay may stall before the stream is cut.
#[derive(Clone, Copy)]
struct Bounds {
    /// The upstream sends nothing.
    upstream_idle: Duration,
    /// The client reads nothing (the chunk waiting for it finds no room).
    client_stall: Duration,
}

/// The relay's end of the client's body.
struct ToClient {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    /// Set once the whole response was handed over; without it the body ends in an error.
    complete: Arc<AtomicBool>,
}

impl ToClient {
    /// Hands `chunk` to the client's body; `Err` with the reason the stream ends when the
    /// client is gone or has read nothing for `stall`.
    async fn deliver(&self, chunk: Bytes, stall: Duration) -> Result<(), &'static str> {
        match tokio::time::timeout(stall, self.sender.send(Ok(chunk))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err("client disconnected"),
            Err(_elapsed) => Err("client stalled"),
        }
    }

    /// Breaks the client's body with `reason` (it may already be gone).
    async fn fail(&self, reason: &str) {
        let _ = self
            .sender
            .send(Err(io::Error::other(reason.to_owned())))
            .await;
    }

    /// The response is whole: dropping this ends the client's body normally.
    fn complete(self) {
        self.complete.store(true, Ordering::Release);
    }
}

async fn drive<S>(
    mut upstream: S,
    client: ToClient,
    mut watcher: Watcher,
    mut transform: Option<Box<dyn BodyTransform>>,
    content_length: Option<u64>,
    is_sse: bool,
    bounds: Bounds,
) where
    S: Stream<Item = UpstreamChunk> + Unpin,
{
    // Whether the stream carried its final event: a stream that merely stopped is truncated and
    // is never cached.
    let mut terminal_seen = !is_sse;
    let mut ending = SseEnding::default();
    loop {
        let next = tokio::select! {
            biased;
            () = client.sender.closed() => {
                watcher.finish_detached("client disconnected");
                return;
            }
            next = tokio::time::timeout(bounds.upstream_idle, upstream.next()) => match next {
                Ok(next) => next,
                Err(_elapsed) => {
                    watcher.finish(Some("upstream idle timeout")).await;
                    // Dropping the upstream stream (on return) closes its connection.
                    client.fail("upstream idle timeout").await;
                    return;
                }
            },
        };
        match next {
            Some(Ok(chunk)) => {
                watcher.observe(&chunk);
                let terminal = is_sse && ending.feed(&chunk);
                terminal_seen |=
                    terminal || (is_sse && MARKERS.finish_reason.find(&chunk).is_some());
                let last = content_length.is_some_and(|length| watcher.size >= length) || terminal;
                let chunk = match watcher.screen(chunk, last) {
                    Screened::Pass(chunk) => chunk,
                    Screened::Blocked(before) => {
                        block(
                            client,
                            &mut watcher,
                            transform.as_deref_mut(),
                            before,
                            bounds,
                        )
                        .await;
                        return;
                    }
                };
                let sent = match &mut transform {
                    Some(transform) => transform.push(&chunk),
                    None => chunk,
                };
                if let Some(dlp) = &mut watcher.dlp {
                    dlp.sent(&sent);
                }
                watcher.capture(&sent);
                if last && !watcher.ended() {
                    if !watcher.finish(None).await {
                        // The last byte waits for the end record; without it the client's body
                        // breaks, so no complete answer goes out without its completed row.
                        client.fail(UNRECORDED).await;
                        return;
                    }
                    // Stored before the last byte goes out, so the client's next identical
                    // request (on any instance) is a HIT. A transformed body is complete only
                    // after `finish`.
                    let whole = content_length.is_none_or(|length| watcher.size == length);
                    if whole && terminal_seen && transform.is_none() {
                        watcher.fill_cache().await;
                    }
                }
                if !sent.is_empty()
                    && let Err(reason) = client.deliver(sent, bounds.client_stall).await
                {
                    // Returning drops the upstream stream (closing its connection) and the
                    // sender, which ends the client's body.
                    watcher.finish_detached(reason);
                    return;
                }
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "upstream response broke off");
                watcher.finish(Some("upstream stream broken")).await;
                // The client's stream breaks too: no synthesized end.
                client.fail("upstream stream broken").await;
                return;
            }
            None if is_sse && ending.truncated() => {
                // A clean close without the end event is a cut stream all the same: the client
                // must not be handed a body that looks complete.
                watcher.finish(Some("upstream stream truncated")).await;
                client.fail("upstream stream truncated").await;
                return;
            }
            None => {
                // An event still held for DLP (the stream ended without its blank line).
                let held = match watcher.screen(Bytes::new(), true) {
                    Screened::Pass(held) => held,
                    Screened::Blocked(before) => {
                        block(
                            client,
                            &mut watcher,
                            transform.as_deref_mut(),
                            before,
                            bounds,
                        )
                        .await;
                        return;
                    }
                };
                if !watcher.finish(None).await {
                    client.fail(UNRECORDED).await;
                    return;
                }
                let mut tail = match &mut transform {
                    Some(transform) => transform.push(&held).to_vec(),
                    None => held.to_vec(),
                };
                if let Some(transform) = &mut transform {
                    tail.extend_from_slice(&transform.finish());
                }
                let tail = Bytes::from(tail);
                watcher.capture(&tail);
                // Before the body's end reaches the client (dropping the sender ends it).
                let whole = content_length.is_none_or(|length| watcher.size == length);
                if whole && terminal_seen {
                    watcher.fill_cache().await;
                }
                if tail.is_empty() || client.deliver(tail, bounds.client_stall).await.is_ok() {
                    client.complete();
                }
                return;
            }
        }
    }
}

/// What the stream's DLP scan lets through of a chunk.
enum Screened {
    Pass(Bytes),
    /// Blocked after these bytes (the events before the match).
    Blocked(Bytes),
}

/// Ends a stream DLP blocked (docs/dlp.md): the events before the match, the end record (with
/// what matched), then the error event in the client's format as the body's last bytes.
async fn block(
    client: ToClient,
    watcher: &mut Watcher,
    transform: Option<&mut (dyn BodyTransform + 'static)>,
    before: Bytes,
    bounds: Bounds,
) {
    let before = match transform {
        Some(transform) => transform.push(&before),
        None => before,
    };
    // The error event takes the format of what the client was sent, these bytes included.
    let error_event = match &mut watcher.dlp {
        Some(dlp) => {
            dlp.sent(&before);
            dlp.error_event()
        }
        None => Bytes::new(),
    };
    // Neither cached nor kept on the row: the row of a blocked response keeps no body (as
    // when a whole body is blocked), so the blocked event's text is not stored either.
    watcher.capture = None;
    watcher.head.clear();
    watcher.head_cap = 0;
    if !before.is_empty() && client.deliver(before, bounds.client_stall).await.is_err() {
        watcher.finish_detached(DLP_BLOCKED);
        return;
    }
    if !watcher.finish(Some(DLP_BLOCKED)).await {
        client.fail(UNRECORDED).await;
        return;
    }
    if client
        .deliver(error_event, bounds.client_stall)
        .await
        .is_ok()
    {
        client.complete();
    }
}

/// The row's error for a stream DLP cut.
const DLP_BLOCKED: &str = "response blocked by DLP mid-stream (code 2030)";

impl Watcher {
    /// Passes a chunk through the stream's DLP scan; `last`: nothing follows it, so an event
    /// held for its end is released too.
    fn screen(&mut self, chunk: Bytes, last: bool) -> Screened {
        let Some(dlp) = &mut self.dlp else {
            return Screened::Pass(chunk);
        };
        let mut steps = vec![dlp.push(&chunk)];
        if last {
            steps.push(dlp.finish());
        }
        let mut out = Vec::new();
        for step in steps {
            match step {
                StreamStep::Forward(bytes) => out.extend_from_slice(&bytes),
                StreamStep::Blocked { before } => {
                    out.extend_from_slice(&before);
                    return Screened::Blocked(Bytes::from(out));
                }
            }
        }
        Screened::Pass(Bytes::from(out))
    }

    fn observe(&mut self, chunk: &Bytes) {
        if self.ttfb_ms.is_none() {
            self.ttfb_ms = Some(elapsed_ms(self.log.started));
        }
        self.size += chunk.len() as u64;
        self.extractor.feed(chunk);
        if self.head.len() < self.head_cap {
            let room = self.head_cap - self.head.len();
            self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    /// Whether the end record was written (or handed to the spool) already.
    fn ended(&self) -> bool {
        self.end.is_none()
    }

    /// The end record, once: `None` when it was taken before.
    fn take_end(&mut self, error: Option<&str>) -> Option<(LogEnd, Vec<u8>)> {
        let mut end = self.end.take()?;
        let extractor = std::mem::replace(
            &mut self.extractor,
            UsageExtractor::new(UsageFormat::None, None),
        );
        let body = RelayedBody {
            size: self.size,
            ttfb_ms: self.ttfb_ms,
            error,
            extracted: extractor.finish(),
        };
        self.log.complete_relayed(&mut end, body);
        if let Some(dlp) = &self.dlp {
            end.dlp = super::dlp::log_value(dlp.report());
        }
        Some((end, std::mem::take(&mut self.head)))
    }

    /// Keeps what the client is sent, for the cache.
    fn capture(&mut self, sent: &[u8]) {
        if let Some((_, body)) = &mut self.capture {
            if body.len() + sent.len() <= ResponseCache::MAX_ENTRY_BYTES {
                body.extend_from_slice(sent);
            } else {
                // Too large to cache: waiters make their own requests (the guard drops).
                self.capture = None;
            }
        }
    }

    /// Stores a complete response (when storable) and hands it to the requests waiting on its
    /// key. Only called when the body ended cleanly; a second call does nothing.
    async fn fill_cache(&mut self) {
        let Some((mut fill, body)) = self.capture.take() else {
            return;
        };
        let now = self.log.state.clock().now_ms();
        let response = CachedResponse {
            status: self.status,
            headers: std::mem::take(&mut fill.headers),
            body: Bytes::from(body),
            stored_at_ms: now,
            expires_at_ms: now + i64::from(fill.ttl_secs) * 1000,
        };
        if fill.storable {
            self.log
                .state
                .cache()
                .put(&fill.key, response.clone())
                .await;
        }
        if let Some(leader) = fill.leader.take() {
            leader.finish(Outcome::Response(response));
        }
    }

    /// Writes the end record, once; `false` only when it could not be made durable.
    async fn finish(&mut self, error: Option<&str>) -> bool {
        match self.take_end(error) {
            Some((end, head)) => self.log.record(end, head, None).await,
            None => true,
        }
    }

    fn finish_detached(&mut self, error: &str) {
        if let Some((end, head)) = self.take_end(Some(error)) {
            self.log.record_detached(end, head);
        }
    }
}

/// Bytes kept from a chunk's end, enough for any marker split across two chunks.
const MARKER_CARRY: usize = 32;

/// Stream openings whose format has a known end event (OpenAI chat, Anthropic, OpenAI Responses).
const OPENINGS: [&[u8]; 3] = [
    b"chat.completion.chunk",
    b"event: message_start",
    b"\"type\":\"response.created\"",
];

/// Endings that are not success but are not a cut either: the provider finished the stream.
const OTHER_ENDINGS: [&[u8]; 3] = [
    b"\"type\":\"response.incomplete\"",
    b"\"type\":\"response.failed\"",
    b"event: error",
];

/// The markers' searchers, built once: building a `memmem` searcher costs more than running it
/// over an SSE chunk (it was half the relay's work per chunk).
struct Markers {
    terminal: [Finder<'static>; 3],
    openings: [Finder<'static>; 3],
    other_endings: [Finder<'static>; 3],
    /// Gemini streams have no end marker; their last event carries the finish reason.
    finish_reason: Finder<'static>,
}

static MARKERS: LazyLock<Markers> = LazyLock::new(|| Markers {
    terminal: TERMINAL_MARKERS.map(Finder::new),
    openings: OPENINGS.map(Finder::new),
    other_endings: OTHER_ENDINGS.map(Finder::new),
    finish_reason: Finder::new(b"\"finishReason\""),
});

/// Follows an SSE body's framing across chunk boundaries: whether it opened as a format whose
/// end event is known, and whether that end arrived.
#[derive(Default)]
struct SseEnding {
    /// The previous chunk's last bytes (`carry_len` of them), so a marker split between two
    /// chunks is still found.
    carry: [u8; MARKER_CARRY],
    carry_len: usize,
    expects_end: bool,
    ended: bool,
}

impl SseEnding {
    /// Whether this chunk carries (or completes) a terminal marker.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        let head = &chunk[..chunk.len().min(MARKER_CARRY)];
        let mut joined = [0u8; 2 * MARKER_CARRY];
        joined[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
        joined[self.carry_len..self.carry_len + head.len()].copy_from_slice(head);
        let seam = &joined[..self.carry_len + head.len()];
        let found = |finder: &Finder| finder.find(chunk).is_some() || finder.find(seam).is_some();
        let markers = &*MARKERS;
        let terminal = markers.terminal.iter().any(found);
        self.expects_end |= markers.openings.iter().any(found);
        self.ended |= terminal || markers.other_endings.iter().any(found);
        let tail = if chunk.len() >= MARKER_CARRY {
            &chunk[chunk.len() - MARKER_CARRY..]
        } else {
            &seam[seam.len().saturating_sub(MARKER_CARRY)..]
        };
        self.carry[..tail.len()].copy_from_slice(tail);
        self.carry_len = tail.len();
        terminal
    }

    /// Opened as a known format, then stopped before its end event.
    fn truncated(&self) -> bool {
        self.expects_end && !self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::SseEnding;

    /// Feeds `body` cut into chunks of `size` bytes; whether a terminal marker was seen, and
    /// whether the stream counts as cut short.
    fn feed_in_chunks(body: &[u8], size: usize) -> (bool, bool) {
        let mut ending = SseEnding::default();
        let mut terminal = false;
        for chunk in body.chunks(size) {
            terminal |= ending.feed(chunk);
        }
        (terminal, ending.truncated())
    }

    #[test]
    fn markers_are_found_across_any_chunk_boundary() {
        let done = b"data: {\"object\":\"chat.completion.chunk\"}\n\ndata: [DONE]\n\n";
        let stopped = b"event: message_start\ndata: {}\n\nevent: message_stop\ndata: {}\n\n";
        for size in 1..=done.len() {
            assert_eq!(
                feed_in_chunks(done, size),
                (true, false),
                "chunks of {size}"
            );
            assert_eq!(
                feed_in_chunks(stopped, size),
                (true, false),
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn a_known_stream_without_its_end_is_truncated() {
        let cut = b"data: {\"object\":\"chat.completion.chunk\"}\n\ndata: {\"object\":\"chat.completion.chunk\"}\n\n";
        let failed =
            b"data: {\"type\":\"response.created\"}\n\ndata: {\"type\":\"response.failed\"}\n\n";
        let unknown = b"data: {\"text\":\"hello\"}\n\n";
        for size in [1, 7, 32, 33, 1000] {
            assert_eq!(feed_in_chunks(cut, size), (false, true), "chunks of {size}");
            assert_eq!(
                feed_in_chunks(failed, size),
                (false, false),
                "chunks of {size}"
            );
            assert_eq!(
                feed_in_chunks(unknown, size),
                (false, false),
                "chunks of {size}"
            );
        }
    }
}
