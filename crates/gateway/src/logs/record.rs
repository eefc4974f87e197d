//! What the spool holds: a request's begin and end records, and their on-disk framing.
//!
//! Frame: `[u32 LE payload length][u32 LE CRC-32 of payload][payload]`, payload
//! `[u8 kind][u32 LE json length][json][body bytes]`. The CRC lets recovery tell a torn tail
//! (the process died mid-write) from a record.

use serde::{Deserialize, Serialize};

/// Written before the request goes upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogBegin {
    pub id: String,
    pub instance_id: String,
    pub account_id: String,
    pub gateway_id: String,
    pub created_at_ms: i64,
    pub event_id: Option<String>,
    pub provider: String,
    pub model: Option<String>,
    /// Provider path and query, with credential-bearing query parameters redacted.
    pub path: String,
    pub method: String,
    pub metadata: Option<String>,
    pub step: Option<i64>,
    pub request_content_type: Option<String>,
    pub request_size: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether bodies and headers are kept (`cf-aig-collect-log-payload`).
    pub keep_payload: bool,
    /// `[[name, value], …]`, credentials redacted.
    pub request_headers: Vec<(String, String)>,
    pub request_head_complete: bool,
}

/// Written before the last byte of the response reaches the client (or when it cannot).
/// Requests that are not logged still write one (without a begin), so analytics count them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogEnd {
    pub id: String,
    /// What analytics group this request by; `None` only in records of older versions.
    #[serde(default)]
    pub rollup: Option<RollupFacts>,
    pub status_code: Option<u16>,
    pub success: bool,
    pub cached: bool,
    pub duration_ms: i64,
    pub ttfb_ms: Option<i64>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cost: Option<f64>,
    pub custom_cost: bool,
    pub attempts: i64,
    pub response_content_type: Option<String>,
    pub response_size: i64,
    pub response_headers: Vec<(String, String)>,
    pub response_head_complete: bool,
    pub error: Option<String>,
}

/// The dimensions a request is counted under in analytics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RollupFacts {
    pub created_at_ms: i64,
    pub account_id: String,
    pub gateway_id: String,
    pub provider: String,
    pub model: String,
}

/// A decoded spool record; `body` is the request body head (begin) or response body head (end),
/// empty when payloads are not kept.
#[derive(Debug, Clone, PartialEq)]
pub enum SpoolRecord {
    Begin { begin: Box<LogBegin>, body: Vec<u8> },
    End { end: Box<LogEnd>, body: Vec<u8> },
}

/// A place in the spool: segment number and byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct SpoolPosition {
    pub segment: u64,
    pub offset: u64,
}

const KIND_BEGIN: u8 = 1;
const KIND_END: u8 = 2;
pub(super) const FRAME_HEADER: usize = 8;

impl SpoolRecord {
    pub fn id(&self) -> &str {
        match self {
            SpoolRecord::Begin { begin, .. } => &begin.id,
            SpoolRecord::End { end, .. } => &end.id,
        }
    }

    /// Appends this record's frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let start = out.len();
        // The lengths are patched in once known: the JSON goes straight into the frame
        // instead of through a buffer of its own (this runs on the request path).
        out.extend_from_slice(&[0; FRAME_HEADER + 1 + 4]);
        let (written, body) = match self {
            SpoolRecord::Begin { begin, body } => {
                out[start + FRAME_HEADER] = KIND_BEGIN;
                (serde_json::to_writer(&mut *out, begin), body)
            }
            SpoolRecord::End { end, body } => {
                out[start + FRAME_HEADER] = KIND_END;
                (serde_json::to_writer(&mut *out, end), body)
            }
        };
        if let Err(error) = written {
            // No half frame is left behind.
            out.truncate(start);
            return Err(error);
        }
        let json_len = out.len() - start - (FRAME_HEADER + 1 + 4);
        out.extend_from_slice(body);
        let payload_len = out.len() - start - FRAME_HEADER;
        out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        out[start + FRAME_HEADER + 1..start + FRAME_HEADER + 5]
            .copy_from_slice(&(json_len as u32).to_le_bytes());
        let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// Decodes the frame at the start of `bytes`: the record and the frame's length, or `None`
    /// if the bytes hold no complete, intact frame (a torn tail).
    pub fn decode(bytes: &[u8]) -> Option<(SpoolRecord, usize)> {
        let payload_len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
        let payload = bytes.get(FRAME_HEADER..FRAME_HEADER + payload_len)?;
        if crc32fast::hash(payload) != crc {
            return None;
        }
        let kind = *payload.first()?;
        let json_len = u32::from_le_bytes(payload.get(1..5)?.try_into().ok()?) as usize;
        let json = payload.get(5..5 + json_len)?;
        let body = payload.get(5 + json_len..)?.to_vec();
        let record = match kind {
            KIND_BEGIN => SpoolRecord::Begin {
                begin: Box::new(serde_json::from_slice(json).ok()?),
                body,
            },
            KIND_END => SpoolRecord::End {
                end: Box::new(serde_json::from_slice(json).ok()?),
                body,
            },
            _ => return None,
        };
        Some((record, FRAME_HEADER + payload_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(id: &str) -> SpoolRecord {
        SpoolRecord::End {
            end: Box::new(LogEnd {
                id: id.into(),
                status_code: Some(200),
                success: true,
                ..LogEnd::default()
            }),
            body: b"{\"ok\":true}".to_vec(),
        }
    }

    #[test]
    fn frames_round_trip_and_torn_tails_are_refused() {
        let mut bytes = Vec::new();
        end("a").encode_into(&mut bytes).ok();
        end("b").encode_into(&mut bytes).ok();
        let (first, used) = SpoolRecord::decode(&bytes).unwrap_or((end("x"), 0));
        assert_eq!(first, end("a"));
        let (second, used2) = SpoolRecord::decode(&bytes[used..]).unwrap_or((end("x"), 0));
        assert_eq!(second, end("b"));
        assert_eq!(used + used2, bytes.len());
        for cut in 0..used {
            assert!(SpoolRecord::decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut corrupt = bytes.clone();
        corrupt[12] ^= 0xff;
        assert!(SpoolRecord::decode(&corrupt).is_none());
    }
}
