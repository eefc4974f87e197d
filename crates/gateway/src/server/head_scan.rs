//! Finds, on the raw bytes of an HTTP/1 connection, the request head that carries both
//! `Content-Length` and `Transfer-Encoding`. hyper reads such a request by `Transfer-Encoding`
//! and drops the length before the service sees it (RFC 9112 §6.3), so only the bytes can tell;
//! the request is then refused with 400 by [`super::framing`] instead of being served (request
//! smuggling: a proxy in front may have framed it by the length).
//!
//! The scanner follows the framing hyper uses (heads by httparse, bodies by length or chunks) to
//! number each head as hyper will hand it to the service. Anything it cannot frame exactly as
//! hyper does (HTTP/2, a malformed head or chunk, a head beyond hyper's buffer) makes it stop:
//! hyper refuses those itself, and a scanner that stopped never refuses anything.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A chunk-size or trailer line longer than this stops the scanner; hyper refuses far shorter
/// chunk extensions itself.
const MAX_LINE_BYTES: usize = 64 * 1024;

const NONE: u64 = u64::MAX;

/// What the scanner found, shared with the connection's service.
#[derive(Debug)]
pub struct FramingWatch {
    /// Index (0-based, in arrival order) of the first ambiguous head, or [`NONE`]. hyper closes
    /// the connection after that request, so no later head needs recording.
    ambiguous: AtomicU64,
}

impl FramingWatch {
    pub fn new() -> Arc<FramingWatch> {
        Arc::new(FramingWatch {
            ambiguous: AtomicU64::new(NONE),
        })
    }

    /// Whether the `index`th request on the connection carried both framing headers.
    pub fn is_ambiguous(&self, index: u64) -> bool {
        index != NONE && self.ambiguous.load(Ordering::Acquire) == index
    }
}

/// Marks a request whose head carried both `Content-Length` and `Transfer-Encoding`.
#[derive(Debug, Clone, Copy)]
pub struct AmbiguousFraming;

/// hyper's own head bounds, which the scanner shares.
#[derive(Debug, Clone, Copy)]
pub struct ScanLimits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
}

/// The connection's stream, with every byte read passed through the scanner first.
pub struct ScannedIo<T> {
    inner: T,
    scanner: Scanner,
    watch: Arc<FramingWatch>,
}

impl<T> ScannedIo<T> {
    pub fn new(inner: T, limits: ScanLimits, watch: Arc<FramingWatch>) -> ScannedIo<T> {
        ScannedIo {
            inner,
            scanner: Scanner::new(limits),
            watch,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ScannedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll
            && let Some(index) = this.scanner.feed(&buf.filled()[before..])
        {
            this.watch.ambiguous.store(index, Ordering::Release);
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ScannedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd,
    Trailers,
    Stopped,
}

struct Scanner {
    state: State,
    /// The head or line being collected.
    pending: Vec<u8>,
    heads: u64,
    limits: ScanLimits,
}

/// What a complete head says about the body behind it.
enum Framing {
    Length(u64),
    Chunked,
    Ambiguous,
    Unknown,
}

impl Scanner {
    fn new(limits: ScanLimits) -> Scanner {
        Scanner {
            state: State::Head,
            pending: Vec::new(),
            heads: 0,
            limits,
        }
    }

    /// Consumes bytes read from the client; returns the index of an ambiguous head found in them.
    fn feed(&mut self, mut bytes: &[u8]) -> Option<u64> {
        while !bytes.is_empty() {
            match self.state {
                State::Stopped => return None,
                State::Head => {
                    let (used, found) = self.head(bytes);
                    bytes = &bytes[used..];
                    if found.is_some() {
                        return found;
                    }
                }
                State::Body(left) | State::ChunkData(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    bytes = &bytes[take..];
                    let left = left - take as u64;
                    self.state = match self.state {
                        State::Body(_) if left == 0 => State::Head,
                        State::Body(_) => State::Body(left),
                        _ if left == 0 => State::ChunkDataEnd,
                        _ => State::ChunkData(left),
                    };
                }
                State::ChunkSize | State::ChunkDataEnd | State::Trailers => {
                    let used = self.line(bytes);
                    bytes = &bytes[used..];
                }
            }
        }
        None
    }

    /// Collects head bytes; returns how many of `bytes` were used and an ambiguous head's index.
    fn head(&mut self, bytes: &[u8]) -> (usize, Option<u64>) {
        let searched_from = self.pending.len().saturating_sub(3);
        self.pending.extend_from_slice(bytes);
        // Parsing only once the blank line is there keeps a trickled head linear.
        let tail = &self.pending[searched_from..];
        let complete =
            tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n");
        if !complete {
            if self.pending.len() > self.limits.max_head_bytes {
                self.stop();
            }
            return (bytes.len(), None);
        }
        let mut headers = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut request = httparse::Request::new(&mut headers);
        let (head_len, framing) = match request.parse(&self.pending) {
            Ok(httparse::Status::Complete(len)) => (len, framing(request.headers)),
            Ok(httparse::Status::Partial) => {
                if self.pending.len() > self.limits.max_head_bytes {
                    self.stop();
                }
                return (bytes.len(), None);
            }
            Err(_) => {
                self.stop();
                return (bytes.len(), None);
            }
        };
        let used = bytes.len().saturating_sub(self.pending.len() - head_len);
        self.pending.clear();
        let index = self.heads;
        self.heads += 1;
        match framing {
            Framing::Length(0) => self.state = State::Head,
            Framing::Length(len) => self.state = State::Body(len),
            Framing::Chunked => self.state = State::ChunkSize,
            Framing::Unknown => self.stop(),
            Framing::Ambiguous => {
                self.stop();
                return (used, Some(index));
            }
        }
        (used, None)
    }

    /// Collects one chunk-size, chunk-end or trailer line; returns how many bytes were used.
    fn line(&mut self, bytes: &[u8]) -> usize {
        let (used, ended) = match bytes.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (bytes.len(), false),
        };
        self.pending.extend_from_slice(&bytes[..used]);
        if self.pending.len() > MAX_LINE_BYTES {
            self.stop();
            return used;
        }
        if !ended {
            return used;
        }
        let line = std::mem::take(&mut self.pending);
        let line = line.trim_ascii_end();
        self.state = match self.state {
            State::ChunkSize => match chunk_size(line) {
                Some(0) => State::Trailers,
                Some(size) => State::ChunkData(size),
                None => State::Stopped,
            },
            State::ChunkDataEnd if line.is_empty() => State::ChunkSize,
            State::Trailers if line.is_empty() => State::Head,
            State::Trailers => State::Trailers,
            _ => State::Stopped,
        };
        used
    }

    fn stop(&mut self) {
        self.state = State::Stopped;
        self.pending = Vec::new();
    }
}

fn framing(headers: &[httparse::Header<'_>]) -> Framing {
    let mut length: Option<u64> = None;
    let mut codings: Vec<&[u8]> = Vec::new();
    let mut has_length = false;
    for header in headers {
        if header.name.eq_ignore_ascii_case("content-length") {
            has_length = true;
            let Some(value) = digits(header.value) else {
                return Framing::Unknown;
            };
            if length.is_some_and(|seen| seen != value) {
                return Framing::Unknown;
            }
            length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            codings.push(header.value);
        }
    }
    match (has_length, codings.is_empty()) {
        (true, false) => Framing::Ambiguous,
        (_, true) => Framing::Length(length.unwrap_or(0)),
        (false, false) => {
            let last = codings
                .last()
                .and_then(|value| value.rsplit(|b| *b == b',').next())
                .map(<[u8]>::trim_ascii);
            match last {
                Some(coding) if coding.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
                _ => Framing::Unknown,
            }
        }
    }
}

fn digits(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn chunk_size(line: &[u8]) -> Option<u64> {
    let end = line
        .iter()
        .position(|b| *b == b';' || *b == b' ' || *b == b'\t')
        .unwrap_or(line.len());
    let hex = &line[..end];
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ScanLimits = ScanLimits {
        max_head_bytes: 4096,
        max_headers: 16,
    };

    /// Feeds `bytes` whole and byte by byte; both must find the same ambiguous head.
    fn ambiguous_index(bytes: &[u8]) -> Option<u64> {
        let whole = Scanner::new(LIMITS).feed(bytes);
        let mut scanner = Scanner::new(LIMITS);
        let trickled = bytes.chunks(1).find_map(|byte| scanner.feed(byte));
        assert_eq!(whole, trickled);
        whole
    }

    const GET: &str = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const POST_LEN: &str = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    const POST_CHUNKED: &str = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;x=y\r\nhello\r\n0\r\nTrailer: t\r\n\r\n";

    fn both(order: &str) -> String {
        format!("POST / HTTP/1.1\r\nHost: a\r\n{order}\r\n5\r\nhello\r\n0\r\n\r\n")
    }

    #[test]
    fn one_framing_header_is_never_flagged() {
        let clean = format!("{GET}{POST_LEN}{POST_CHUNKED}{GET}");
        assert_eq!(ambiguous_index(clean.as_bytes()), None);
        // Bodies that look like an ambiguous head are skipped as bodies.
        let inner = both("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n");
        let hidden = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{inner}{GET}",
            inner.len()
        );
        assert_eq!(ambiguous_index(hidden.as_bytes()), None);
    }

    #[test]
    fn both_headers_are_found_in_either_order_and_counted_right() {
        for order in [
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "transfer-encoding: chunked\r\ncontent-length: 5\r\n",
        ] {
            assert_eq!(ambiguous_index(both(order).as_bytes()), Some(0));
            let third = format!("{GET}{POST_CHUNKED}{}{GET}", both(order));
            assert_eq!(ambiguous_index(third.as_bytes()), Some(2));
            let lf_only = format!("{GET}{}", both(order)).replace("\r\n", "\n");
            assert_eq!(ambiguous_index(lf_only.as_bytes()), Some(1));
        }
    }

    #[test]
    fn what_hyper_refuses_stops_the_scanner() {
        let h2 = format!(
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n{}",
            both("Content-Length: 5\r\n")
        );
        assert_eq!(ambiguous_index(h2.as_bytes()), None);
        let bad_chunk = format!(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}",
            both("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")
        );
        assert_eq!(ambiguous_index(bad_chunk.as_bytes()), None);
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(5000));
        assert_eq!(ambiguous_index(huge.as_bytes()), None);
    }
}
