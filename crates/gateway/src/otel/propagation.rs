//! Trace context in and out (docs/observability.md, "Propagation"): W3C `traceparent` /
//! `tracestate` and Cloudflare's `cf-aig-otel-trace-id` / `cf-aig-otel-parent-span-id` read from
//! the client, and the `traceparent` each upstream attempt is sent with.

use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{SpanId, TraceId};

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// Where a request's trace continues from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub trace_id: TraceId,
    /// The caller's span; `None` when only a trace id was given (`cf-aig-otel-trace-id` alone).
    pub span_id: Option<SpanId>,
    /// The caller's sampling decision (`traceparent`'s flag); `None` when it made none.
    pub sampled: Option<bool>,
}

/// The parent a request names: Cloudflare's headers when sent (they are the gateway's own
/// options, validated with the others), else a valid `traceparent`. An invalid `traceparent` is
/// ignored, as W3C Trace Context says a receiver must: the request starts a new trace.
pub fn parent(
    headers: &HeaderMap,
    cf_trace_id: Option<TraceId>,
    cf_parent_span_id: Option<SpanId>,
) -> Option<Parent> {
    if let Some(trace_id) = cf_trace_id {
        return Some(Parent {
            trace_id,
            span_id: cf_parent_span_id,
            sampled: None,
        });
    }
    let value = headers.get(TRACEPARENT)?.to_str().ok()?;
    parse_traceparent(value)
}

/// `version-traceid-parentid-flags`. Version 00 is exactly 55 characters; a later version may
/// append fields after a dash, which are ignored; version ff is invalid.
pub fn parse_traceparent(value: &str) -> Option<Parent> {
    let value = value.trim();
    let version = value.get(0..2)?;
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    let fixed = value.get(0..55)?;
    let rest = &value[55..];
    if (version == "00" && !rest.is_empty()) || (!rest.is_empty() && !rest.starts_with('-')) {
        return None;
    }
    let mut parts = fixed.split('-');
    let (_, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if ![(trace, 32), (span, 16), (flags, 2)]
        .iter()
        .all(|(part, len)| part.len() == *len && is_lower_hex(part))
    {
        return None;
    }
    let trace_id = trace_id(trace)?;
    let span_id = span_id(span)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Parent {
        trace_id,
        span_id: Some(span_id),
        sampled: Some(flags & 1 == 1),
    })
}

/// A 32-hex-digit trace id that is not all zeros.
pub fn trace_id(text: &str) -> Option<TraceId> {
    (text.len() == 32 && is_hex(text))
        .then(|| TraceId::from_hex(text).ok())
        .flatten()
        .filter(|id| *id != TraceId::INVALID)
}

/// A 16-hex-digit span id that is not all zeros.
pub fn span_id(text: &str) -> Option<SpanId> {
    (text.len() == 16 && is_hex(text))
        .then(|| SpanId::from_hex(text).ok())
        .flatten()
        .filter(|id| *id != SpanId::INVALID)
}

/// The `traceparent` an upstream receives: this trace, with the attempt's span as its parent.
pub fn traceparent(trace_id: TraceId, span_id: SpanId, sampled: bool) -> HeaderValue {
    let flags = if sampled { "01" } else { "00" };
    let text = format!("00-{trace_id}-{span_id}-{flags}");
    // Hex digits and dashes only.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_a_valid_traceparent() {
        let parent = parse_traceparent(VALID);
        assert_eq!(
            parent,
            Some(Parent {
                trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
                    .unwrap_or(TraceId::INVALID),
                span_id: SpanId::from_hex("00f067aa0ba902b7").ok(),
                sampled: Some(true),
            })
        );
        let unsampled = parse_traceparent(&VALID.replace("-01", "-00"));
        assert_eq!(unsampled.and_then(|p| p.sampled), Some(false));
    }

    #[test]
    fn ignores_what_w3c_calls_invalid() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            // all-zero ids
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // upper case, version ff, trailing data on version 00
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad:?}");
        }
        // A later version may carry more fields.
        assert!(parse_traceparent(&format!("01{}-more", &VALID[2..])).is_some());
    }

    #[test]
    fn cloudflare_headers_win_over_traceparent() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(VALID));
        let cf = trace_id("0af7651916cd43dd8448eb211c80319c");
        let parent = parent(&headers, cf, None);
        assert_eq!(parent.map(|p| p.trace_id), cf);
        assert_eq!(parent.and_then(|p| p.span_id), None);
    }

    #[test]
    fn writes_what_it_reads() {
        let parent = parse_traceparent(VALID);
        let written = parent.and_then(|p| Some(traceparent(p.trace_id, p.span_id?, true)));
        assert_eq!(written, Some(HeaderValue::from_static(VALID)));
    }
}
