//! The HTTP/1 and HTTP/2 connection settings: hyper's parser limits, header timeout, and the
//! HTTP/2 stream, ping and reset limits, all derived from `[limits]`.

use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;

use super::head_scan::ScanLimits;
use crate::config::Limits;

/// An unanswered HTTP/2 ping closes the connection after this long.
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Streams a client may open and reset before the server accepts them (HTTP/2 rapid reset,
/// CVE-2023-44487; h2 ≥ 0.4.0 enforces it). hyper's default, written down so it cannot drift.
const H2_MAX_PENDING_ACCEPT_RESETS: usize = 20;

/// Streams the server itself may reset for a client's protocol errors before the connection is
/// closed ("MadeYouReset", CVE-2025-8671; enforced by h2 ≥ 0.4.11).
const H2_MAX_LOCAL_ERROR_RESETS: usize = 1024;

/// hyper's read buffer must hold a whole request head. It sits above the limits the
/// `head_limits` middleware enforces, so a head slightly over them gets the error envelope; a head
/// far over them is refused by hyper itself (bare 431, then close) without being buffered.
fn read_buffer_bytes(limits: &Limits) -> usize {
    (limits.max_uri_bytes + limits.max_header_bytes + 16 * 1024).max(8192)
}

/// hyper's own bound on a head's header count, above the one the middleware answers.
fn parser_max_headers(limits: &Limits) -> usize {
    limits.max_headers * 2
}

/// HTTP/2 counts 32 bytes of overhead per field on top of name and value (RFC 9113 §6.5.2).
fn h2_header_list_bytes(limits: &Limits) -> u32 {
    let bytes = limits.max_header_bytes + 32 * parser_max_headers(limits);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The head bounds hyper parses with, which the smuggling scanner must share.
pub fn scan_limits(limits: &Limits) -> ScanLimits {
    ScanLimits {
        max_head_bytes: read_buffer_bytes(limits),
        max_headers: parser_max_headers(limits),
    }
}

/// A connection builder for HTTP/1.1 and (prior-knowledge) HTTP/2 with every limit set.
pub fn builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(read_buffer_bytes(limits))
        .max_headers(parser_max_headers(limits));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(h2_header_list_bytes(limits))
        .keep_alive_interval(limits.h2_keep_alive_interval)
        .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESETS);
    builder
}
