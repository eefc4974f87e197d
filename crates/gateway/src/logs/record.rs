//! What the spool holds: a request's begin and end records, and their on-disk framing.
//!
//! Frame: `[u32 LE payload length][u32 LE CRC-32 of payload][payload]`. The CRC lets recovery
//! tell a torn tail (the process died mid-write) from a record. The payload's first byte is its
//! kind, which says how the rest is encoded:
//!
//! - 3 (begin), 4 (end): `[kind][postcard of LogBegin / LogEnd][body bytes]`. What this version
//!   writes: postcard (fields in declaration order, varint integers, length-prefixed strings) is
//!   several times cheaper than JSON to write on the request path and to read in the shipper.
//!   The record ends where its last field does, so the body is the rest of the payload.
//! - 1 (begin), 2 (end): `[kind][u32 LE JSON length][JSON of LogBegin / LogEnd][body bytes]`.
//!   What earlier versions wrote; still read, never written, because an upgrade may find such
//!   records in the spool before they are shipped.
//!
//! postcard is not self-describing: the bytes carry no field names, so adding, removing,
//! reordering or retyping a field of `LogBegin`, `LogEnd` or `RollupFacts` changes the format.
//! Such a change needs new kinds (and the old ones kept readable, as 1 and 2 are); the test
//! `postcard_records_are_pinned` fails until it is made. For the same reason, serde attributes
//! that leave a field out (`skip_serializing_if`, `skip`) would break the postcard kinds;
//! `#[serde(default)]` (on `LogEnd::rollup`, for JSON records older than the field) is harmless,
//! as postcard always writes and reads every field.

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
    /// The OpenTelemetry trace the request's spans belong to, when it was traced
    /// (docs/observability.md).
    pub trace_id: Option<String>,
}

/// A begin record of kind 3, written before `trace_id` existed: still read, never written.
#[derive(Deserialize)]
struct BeginV3 {
    id: String,
    instance_id: String,
    account_id: String,
    gateway_id: String,
    created_at_ms: i64,
    event_id: Option<String>,
    provider: String,
    model: Option<String>,
    path: String,
    method: String,
    metadata: Option<String>,
    step: Option<i64>,
    request_content_type: Option<String>,
    request_size: i64,
    client_ip: Option<String>,
    user_agent: Option<String>,
    keep_payload: bool,
    request_headers: Vec<(String, String)>,
    request_head_complete: bool,
}

impl From<BeginV3> for LogBegin {
    fn from(old: BeginV3) -> LogBegin {
        LogBegin {
            id: old.id,
            instance_id: old.instance_id,
            account_id: old.account_id,
            gateway_id: old.gateway_id,
            created_at_ms: old.created_at_ms,
            event_id: old.event_id,
            provider: old.provider,
            model: old.model,
            path: old.path,
            method: old.method,
            metadata: old.metadata,
            step: old.step,
            request_content_type: old.request_content_type,
            request_size: old.request_size,
            client_ip: old.client_ip,
            user_agent: old.user_agent,
            keep_payload: old.keep_payload,
            request_headers: old.request_headers,
            request_head_complete: old.request_head_complete,
            trace_id: None,
        }
    }
}

/// Written before the last byte of the response reaches the client (or when it cannot).
/// Requests that are not logged still write one (without a begin), so analytics count them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LogEnd {
    pub id: String,
    /// What analytics group this request by; `None` only in records of older versions.
    /// (`default` is for JSON records written before the field existed; postcard ignores it.)
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
    /// What DLP matched (docs/dlp.md): `{action, matches, findings}` as JSON, entry ids only;
    /// `None` when nothing matched. (`default` for JSON records older than the field.)
    #[serde(default)]
    pub dlp: Option<String>,
}

/// An end record of kind 4, written before `dlp` existed: still read, never written.
#[derive(Deserialize)]
struct EndV4 {
    id: String,
    rollup: Option<RollupFacts>,
    status_code: Option<u16>,
    success: bool,
    cached: bool,
    duration_ms: i64,
    ttfb_ms: Option<i64>,
    tokens_in: Option<i64>,
    tokens_out: Option<i64>,
    cache_read_tokens: Option<i64>,
    cache_write_tokens: Option<i64>,
    cost: Option<f64>,
    custom_cost: bool,
    attempts: i64,
    response_content_type: Option<String>,
    response_size: i64,
    response_headers: Vec<(String, String)>,
    response_head_complete: bool,
    error: Option<String>,
}

impl From<EndV4> for LogEnd {
    fn from(old: EndV4) -> LogEnd {
        LogEnd {
            id: old.id,
            rollup: old.rollup,
            status_code: old.status_code,
            success: old.success,
            cached: old.cached,
            duration_ms: old.duration_ms,
            ttfb_ms: old.ttfb_ms,
            tokens_in: old.tokens_in,
            tokens_out: old.tokens_out,
            cache_read_tokens: old.cache_read_tokens,
            cache_write_tokens: old.cache_write_tokens,
            cost: old.cost,
            custom_cost: old.custom_cost,
            attempts: old.attempts,
            response_content_type: old.response_content_type,
            response_size: old.response_size,
            response_headers: old.response_headers,
            response_head_complete: old.response_head_complete,
            error: old.error,
            dlp: None,
        }
    }
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

/// Test fixtures: records and rollup facts built from a begin or an end.
#[cfg(test)]
impl SpoolRecord {
    pub(crate) fn begin_of(begin: &LogBegin, body: &[u8]) -> SpoolRecord {
        SpoolRecord::Begin {
            begin: Box::new(begin.clone()),
            body: body.to_vec(),
        }
    }

    pub(crate) fn end_of(end: &LogEnd, body: &[u8]) -> SpoolRecord {
        SpoolRecord::End {
            end: Box::new(end.clone()),
            body: body.to_vec(),
        }
    }
}

#[cfg(test)]
impl RollupFacts {
    /// The dimensions `begin`'s request is counted under.
    pub(crate) fn of(begin: &LogBegin) -> RollupFacts {
        RollupFacts {
            created_at_ms: begin.created_at_ms,
            account_id: begin.account_id.clone(),
            gateway_id: begin.gateway_id.clone(),
            provider: begin.provider.clone(),
            model: begin.model.clone().unwrap_or_default(),
        }
    }
}

/// A place in the spool: segment number and byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct SpoolPosition {
    pub segment: u64,
    pub offset: u64,
}

/// The JSON kinds of earlier versions: read, never written.
const KIND_BEGIN_JSON: u8 = 1;
const KIND_END_JSON: u8 = 2;
/// A begin without `trace_id`: read, never written.
const KIND_BEGIN_V3: u8 = 3;
/// An end without `dlp`: read, never written.
const KIND_END_V4: u8 = 4;
const KIND_BEGIN: u8 = 5;
const KIND_END: u8 = 6;
pub(super) const FRAME_HEADER: usize = 8;
/// Room reserved up front for a record's fields (a typical begin's take ~490 bytes), so a frame
/// built in a new buffer is allocated once instead of doubling its way up.
const FIELDS_ESTIMATE: usize = 512;

impl SpoolRecord {
    pub fn id(&self) -> &str {
        match self {
            SpoolRecord::Begin { begin, .. } => &begin.id,
            SpoolRecord::End { end, .. } => &end.id,
        }
    }

    /// Appends this record's frame to `out`, in the postcard kinds. The error type is
    /// serde_json's for the callers written against the JSON kinds; writing postcard into a
    /// `Vec` does not fail for these types, so it is not expected.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let start = out.len();
        let (kind, body) = match self {
            SpoolRecord::Begin { body, .. } => (KIND_BEGIN, body),
            SpoolRecord::End { body, .. } => (KIND_END, body),
        };
        out.reserve(FRAME_HEADER + 1 + FIELDS_ESTIMATE + body.len());
        // The length and CRC are patched in once known: the record goes straight into the
        // frame instead of through a buffer of its own (this runs on the request path).
        out.extend_from_slice(&[0; FRAME_HEADER]);
        out.push(kind);
        let written = match self {
            SpoolRecord::Begin { begin, .. } => {
                postcard::serialize_with_flavor(&**begin, FrameTail(&mut *out))
            }
            SpoolRecord::End { end, .. } => {
                postcard::serialize_with_flavor(&**end, FrameTail(&mut *out))
            }
        };
        if let Err(error) = written {
            // No half frame is left behind.
            out.truncate(start);
            return Err(serde::ser::Error::custom(error));
        }
        out.extend_from_slice(body);
        // The length field is 32 bits. Bodies are cut far below that (`logs.body_max_bytes`),
        // but a frame whose length wrapped would be misread by every later record's reader.
        let Ok(payload_len) = u32::try_from(out.len() - start - FRAME_HEADER) else {
            out.truncate(start);
            return Err(serde::ser::Error::custom("log record longer than 4 GiB"));
        };
        out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
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
        let (&kind, rest) = payload.split_first()?;
        let record = match kind {
            KIND_BEGIN => {
                let (begin, body) = postcard::take_from_bytes(rest).ok()?;
                SpoolRecord::Begin {
                    begin,
                    body: body.to_vec(),
                }
            }
            KIND_BEGIN_V3 => {
                let (begin, body) = postcard::take_from_bytes::<BeginV3>(rest).ok()?;
                SpoolRecord::Begin {
                    begin: Box::new(begin.into()),
                    body: body.to_vec(),
                }
            }
            KIND_END | KIND_END_V4 => {
                let (mut end, body): (Box<LogEnd>, _) = match kind {
                    KIND_END => postcard::take_from_bytes(rest).ok()?,
                    _ => {
                        let (old, body) = postcard::take_from_bytes::<EndV4>(rest).ok()?;
                        (Box::new(old.into()), body)
                    }
                };
                // JSON has no NaN or infinity (serde_json writes them as null), so the JSON
                // kinds could never hold one; postcard keeps the bits. Reading them as `None`
                // keeps the two kinds alike and a decoded record equal to itself.
                end.cost = end.cost.filter(|cost| cost.is_finite());
                SpoolRecord::End {
                    end,
                    body: body.to_vec(),
                }
            }
            KIND_BEGIN_JSON => {
                let (json, body) = json_and_body(rest)?;
                SpoolRecord::Begin {
                    begin: serde_json::from_slice(json).ok()?,
                    body: body.to_vec(),
                }
            }
            KIND_END_JSON => {
                let (json, body) = json_and_body(rest)?;
                SpoolRecord::End {
                    end: serde_json::from_slice(json).ok()?,
                    body: body.to_vec(),
                }
            }
            _ => return None,
        };
        Some((record, FRAME_HEADER + payload_len))
    }
}

/// Splits a JSON kind's payload after the kind byte: `[u32 LE JSON length][JSON][body]`.
fn json_and_body(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let json_len = u32::from_le_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
    let json = rest.get(4..4 + json_len)?;
    Some((json, rest.get(4 + json_len..)?))
}

/// postcard's output appended to the frame being built. (postcard's own `to_extend` takes the
/// buffer by value and drops it on an error, which would lose the frames already in it.)
struct FrameTail<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for FrameTail<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_begin() -> LogBegin {
        LogBegin {
            id: "b-1".into(),
            instance_id: "inst".into(),
            account_id: "acct".into(),
            gateway_id: "gw".into(),
            created_at_ms: 1_733_000_000_123,
            event_id: Some("evt".into()),
            provider: "openai".into(),
            model: Some("gpt-4o".into()),
            path: "/v1/chat/completions?key=[REDACTED]".into(),
            method: "POST".into(),
            metadata: Some(r#"{"team":"é \"q\""}"#.into()),
            step: Some(-2),
            request_content_type: Some("application/json".into()),
            request_size: 120,
            client_ip: Some("203.0.113.9".into()),
            user_agent: Some("ua/1\t✓".into()),
            keep_payload: true,
            request_headers: vec![("a".into(), "1".into()), ("b".into(), String::new())],
            request_head_complete: true,
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        }
    }

    fn minimal_begin() -> LogBegin {
        LogBegin {
            id: String::new(),
            instance_id: String::new(),
            account_id: String::new(),
            gateway_id: String::new(),
            created_at_ms: 0,
            event_id: None,
            provider: String::new(),
            model: None,
            path: String::new(),
            method: String::new(),
            metadata: None,
            step: None,
            request_content_type: None,
            request_size: 0,
            client_ip: None,
            user_agent: None,
            keep_payload: false,
            request_headers: Vec::new(),
            request_head_complete: false,
            trace_id: None,
        }
    }

    fn full_end() -> LogEnd {
        LogEnd {
            id: "b-1".into(),
            rollup: Some(RollupFacts {
                created_at_ms: 1_733_000_000_123,
                account_id: "acct".into(),
                gateway_id: "gw".into(),
                provider: "openai".into(),
                model: "gpt-4o".into(),
            }),
            status_code: Some(503),
            success: true,
            cached: true,
            duration_ms: 431,
            ttfb_ms: Some(418),
            tokens_in: Some(17),
            tokens_out: Some(9),
            cache_read_tokens: Some(3),
            cache_write_tokens: Some(-1),
            cost: Some(0.000_008_1),
            custom_cost: true,
            attempts: 2,
            response_content_type: Some("text/event-stream".into()),
            response_size: i64::MAX,
            response_headers: vec![("x-request-id".into(), "req-1".into())],
            response_head_complete: true,
            error: Some("upstream said \"no\"".into()),
            dlp: Some("{}".into()),
        }
    }

    fn samples() -> Vec<SpoolRecord> {
        vec![
            SpoolRecord::begin_of(&full_begin(), b"{\"model\":\"gpt-4o\"}\xff"),
            SpoolRecord::begin_of(&minimal_begin(), b""),
            SpoolRecord::end_of(&full_end(), b"data: [DONE]\n\n"),
            SpoolRecord::end_of(&LogEnd::default(), b""),
        ]
    }

    /// The frame earlier versions wrote (kinds 1 and 2, JSON), as their `encode_into` did.
    fn encode_json(record: &SpoolRecord, out: &mut Vec<u8>) {
        let (kind, json, body) = match record {
            SpoolRecord::Begin { begin, body } => {
                (KIND_BEGIN_JSON, serde_json::to_vec(begin), body)
            }
            SpoolRecord::End { end, body } => (KIND_END_JSON, serde_json::to_vec(end), body),
        };
        let json = json.unwrap_or_default();
        let mut payload = vec![kind];
        payload.extend_from_slice(&u32::try_from(json.len()).unwrap().to_le_bytes());
        payload.extend_from_slice(&json);
        payload.extend_from_slice(body);
        out.extend_from_slice(&frame(&payload));
    }

    fn encode_postcard(record: &SpoolRecord, out: &mut Vec<u8>) {
        assert!(record.encode_into(out).is_ok());
    }

    /// A frame around `payload`, with its length and a correct CRC.
    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut frame = u32::try_from(payload.len()).unwrap().to_le_bytes().to_vec();
        frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    fn decoded(bytes: &[u8]) -> Option<SpoolRecord> {
        SpoolRecord::decode(bytes).map(|(record, _)| record)
    }

    #[test]
    fn postcard_records_round_trip_fully_populated_and_minimal() {
        for record in samples() {
            let mut bytes = Vec::new();
            encode_postcard(&record, &mut bytes);
            let expected_kind = match record {
                SpoolRecord::Begin { .. } => KIND_BEGIN,
                SpoolRecord::End { .. } => KIND_END,
            };
            assert_eq!(bytes.get(FRAME_HEADER), Some(&expected_kind));
            assert_eq!(SpoolRecord::decode(&bytes), Some((record, bytes.len())));
        }
    }

    #[test]
    fn json_records_of_earlier_versions_still_decode() {
        for record in samples() {
            let mut bytes = Vec::new();
            encode_json(&record, &mut bytes);
            assert_eq!(SpoolRecord::decode(&bytes), Some((record, bytes.len())));
        }
        // An end from before `rollup` existed: today's JSON without the field.
        let old = LogEnd {
            id: "old".into(),
            status_code: Some(200),
            success: true,
            ..LogEnd::default()
        };
        let mut json = serde_json::to_value(&old).unwrap_or_default();
        let removed = json
            .as_object_mut()
            .and_then(|fields| fields.remove("rollup"));
        assert_eq!(removed, Some(serde_json::Value::Null));
        let json = json.to_string();
        let mut payload = vec![KIND_END_JSON];
        payload.extend_from_slice(&u32::try_from(json.len()).unwrap().to_le_bytes());
        payload.extend_from_slice(json.as_bytes());
        payload.extend_from_slice(b"body");
        assert_eq!(
            decoded(&frame(&payload)),
            Some(SpoolRecord::end_of(&old, b"body"))
        );
        // After an upgrade, new records follow old ones in the spool.
        let samples = samples();
        let (old, new) = (&samples[0], &samples[2]);
        let mut mixed = Vec::new();
        encode_json(old, &mut mixed);
        encode_postcard(new, &mut mixed);
        let (first, used) = SpoolRecord::decode(&mixed).unzip();
        assert_eq!(first.as_ref(), Some(old));
        assert_eq!(decoded(&mixed[used.unwrap_or(0)..]).as_ref(), Some(new));
    }

    #[test]
    fn frames_round_trip_and_torn_or_corrupt_ones_are_refused() {
        let encoders: [fn(&SpoolRecord, &mut Vec<u8>); 2] = [encode_postcard, encode_json];
        for encode in encoders {
            let records = samples();
            let mut bytes = Vec::new();
            let mut ends = Vec::new();
            for record in &records {
                encode(record, &mut bytes);
                ends.push(bytes.len());
            }
            let mut used = 0;
            for record in records {
                let (decoded, length) = SpoolRecord::decode(&bytes[used..]).unzip();
                assert_eq!(decoded, Some(record));
                used += length.unwrap_or(0);
            }
            assert_eq!(used, bytes.len());
            let first = ends[0];
            for cut in 0..first {
                assert!(SpoolRecord::decode(&bytes[..cut]).is_none(), "cut at {cut}");
            }
            for at in 0..first {
                let mut corrupt = bytes[..first].to_vec();
                corrupt[at] ^= 0xff;
                assert!(SpoolRecord::decode(&corrupt).is_none(), "byte {at} flipped");
            }
        }
    }

    #[test]
    fn unknown_kinds_and_bad_payloads_are_refused() {
        let mut bytes = Vec::new();
        encode_postcard(&samples()[0], &mut bytes);
        let payload = &bytes[FRAME_HEADER..];
        for kind in [0, 6, 0xff] {
            let mut other = payload.to_vec();
            other[0] = kind;
            assert!(decoded(&frame(&other)).is_none(), "kind {kind}");
        }
        assert!(decoded(&frame(&[])).is_none());
        // A begin's fields cut short, and read as an end's, with a valid CRC.
        assert!(decoded(&frame(&payload[..40])).is_none());
        let mut as_end = payload.to_vec();
        as_end[0] = KIND_END;
        assert!(decoded(&frame(&as_end)).is_none());
        // A JSON length past the payload.
        assert!(decoded(&frame(&[KIND_END_JSON, 0xff, 0, 0, 0, b'{'])).is_none());
    }

    /// What FZ-07 (fuzz/fuzz_targets/spool_record.rs) checks, over every one-byte change of a
    /// payload with its CRC made right, so the postcard reader sees the garbage: no panic, and
    /// whatever decodes encodes to a frame that decodes the same.
    #[test]
    fn changed_payloads_decode_to_records_that_re_encode_the_same() {
        for record in samples() {
            let mut bytes = Vec::new();
            encode_postcard(&record, &mut bytes);
            let payload = &bytes[FRAME_HEADER..];
            for at in 0..payload.len() {
                for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                    let mut changed = payload.to_vec();
                    changed[at] = value;
                    let Some(record) = decoded(&frame(&changed)) else {
                        continue;
                    };
                    let mut again = Vec::new();
                    encode_postcard(&record, &mut again);
                    assert_eq!(SpoolRecord::decode(&again), Some((record, again.len())));
                }
            }
        }
    }

    #[test]
    fn a_cost_that_is_not_a_number_reads_as_none_as_in_json() {
        for cost in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let end = LogEnd {
                cost: Some(cost),
                ..full_end()
            };
            let record = SpoolRecord::end_of(&end, b"");
            let expected = SpoolRecord::end_of(
                &LogEnd {
                    cost: None,
                    ..full_end()
                },
                b"",
            );
            let mut bytes = Vec::new();
            encode_postcard(&record, &mut bytes);
            assert_eq!(decoded(&bytes), Some(expected.clone()));
            let mut json = Vec::new();
            encode_json(&record, &mut json);
            assert_eq!(decoded(&json), Some(expected));
        }
    }

    /// The postcard kinds carry no field names: a change to the fields of `LogBegin`, `LogEnd`
    /// or `RollupFacts` changes these bytes and so needs new kinds (see the module doc).
    #[test]
    fn postcard_records_are_pinned() {
        let begin = SpoolRecord::begin_of(&full_begin(), b"B");
        let end = SpoolRecord::end_of(&full_end(), b"E");
        for (record, expected) in [(begin, PINNED_BEGIN), (end, PINNED_END)] {
            let mut bytes = Vec::new();
            encode_postcard(&record, &mut bytes);
            assert_eq!(bytes.get(FRAME_HEADER..), Some(expected));
        }
    }

    #[test]
    fn begin_records_without_a_trace_id_still_decode() {
        // A kind-3 begin as the previous version wrote it: the pinned fields without trace_id.
        // The trace id takes 34 bytes (Some, length, 32 digits) before the body `B`.
        let mut payload = PINNED_BEGIN[..PINNED_BEGIN.len() - 1 - 34].to_vec();
        payload[0] = KIND_BEGIN_V3;
        payload.push(b'B');
        let mut expected = full_begin();
        expected.trace_id = None;
        assert_eq!(
            decoded(&frame(&payload)),
            Some(SpoolRecord::begin_of(&expected, b"B"))
        );
    }

    /// Kind, then each field in order: strings and lengths as varint length + bytes, integers
    /// as zigzag varints, `Option` as 0 / 1 + value, bools as 0 / 1; then the body.
    const PINNED_BEGIN: &[u8] = b"\x05\x03b-1\x04inst\x04acct\x02gw\xf6\xc9\xcb\xed\xefd\
        \x01\x03evt\x06openai\x01\x06gpt-4o#/v1/chat/completions?key=[REDACTED]\x04POST\
        \x01\x13{\"team\":\"\xc3\xa9 \\\"q\\\"\"}\x01\x03\x01\x10application/json\xf0\x01\
        \x01\x0b203.0.113.9\x01\x08ua/1\x09\xe2\x9c\x93\x01\x02\x01a\x011\x01b\x00\x01\
        \x01\x204bf92f3577b34da6a3ce929d0e0e4736B";
    const PINNED_END: &[u8] = b"\x06\x03b-1\x01\xf6\xc9\xcb\xed\xefd\x04acct\x02gw\
        \x06openai\x06gpt-4o\x01\xf7\x03\x01\x01\xde\x06\x01\xc4\x06\x01\"\x01\x12\x01\x06\x01\x01\
        \x01\xecf\xeb\x85\xa7\xfc\xe0>\x01\x04\x01\x11text/event-stream\
        \xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01\x0cx-request-id\x05req-1\x01\
        \x01\x12upstream said \"no\"\x01\x02{}E";

    #[test]
    fn end_records_without_dlp_still_decode() {
        // A kind-4 end as the previous version wrote it: the pinned fields without dlp, which
        // takes 4 bytes (Some, length, `{}`) before the body `E`.
        let mut payload = PINNED_END[..PINNED_END.len() - 1 - 4].to_vec();
        payload[0] = KIND_END_V4;
        payload.push(b'E');
        let mut expected = full_end();
        expected.dlp = None;
        assert_eq!(
            decoded(&frame(&payload)),
            Some(SpoolRecord::end_of(&expected, b"E"))
        );
    }
}
