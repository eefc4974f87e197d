//! Incremental, bounded decoding of AWS event-stream frames (`application/vnd.amazon.eventstream`).
//!
//! A frame is: total length (u32 BE), headers length (u32 BE), CRC32 of those 8 bytes, headers,
//! payload, CRC32 of everything before it. Headers are name (u8 length), type (u8), value.

/// Prelude (lengths and their CRC) plus the trailing message CRC.
const OVERHEAD: usize = 16;
const PRELUDE: usize = 12;

/// One decoded frame, borrowed from the decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// `:message-type`: `event`, or `exception`/`error` for failures.
    pub message_type: Option<&'a str>,
    /// `:event-type` (`chunk`, `metadata`, `messageStart`, …).
    pub event_type: Option<&'a str>,
    pub payload: &'a [u8],
}

#[derive(Debug)]
pub struct EventStreamDecoder {
    max_frame: usize,
    /// The frame being assembled (never more than `max_frame` bytes).
    frame: Vec<u8>,
    /// Bytes still to skip of a frame too large to keep.
    skip: usize,
    /// The framing was lost (bad prelude): nothing after it can be trusted.
    broken: bool,
    dropped: u64,
}

impl EventStreamDecoder {
    pub fn new(max_frame: usize) -> EventStreamDecoder {
        EventStreamDecoder {
            max_frame,
            frame: Vec::new(),
            skip: 0,
            broken: false,
            dropped: 0,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8], mut on_frame: impl FnMut(Frame<'_>)) {
        while !chunk.is_empty() && !self.broken {
            if self.skip > 0 {
                let n = self.skip.min(chunk.len());
                self.skip -= n;
                chunk = &chunk[n..];
                continue;
            }
            if self.frame.len() < PRELUDE {
                chunk = self.fill(chunk, PRELUDE);
                if self.frame.len() < PRELUDE {
                    return;
                }
            }
            let Some(total) = self.check_prelude() else {
                self.broken = true;
                self.frame = Vec::new();
                return;
            };
            if total > self.max_frame {
                // The length is trusted (its CRC matched), so the frame can be stepped over unread.
                self.skip = total - PRELUDE;
                self.dropped += 1;
                self.frame.clear();
                continue;
            }
            chunk = self.fill(chunk, total);
            if self.frame.len() == total {
                match decode(&self.frame) {
                    Some(frame) => on_frame(frame),
                    None => self.dropped += 1,
                }
                self.frame.clear();
            }
        }
    }

    /// True when the stream ended cleanly on a frame boundary.
    pub fn is_clean(&self) -> bool {
        !self.broken && self.skip == 0 && self.frame.is_empty()
    }

    /// Frames skipped so far: over the limit, failing their CRC, or with malformed headers.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Moves bytes from `chunk` into the frame until it holds `upto`; returns what is left.
    fn fill<'c>(&mut self, chunk: &'c [u8], upto: usize) -> &'c [u8] {
        let n = upto.saturating_sub(self.frame.len()).min(chunk.len());
        let (take, rest) = chunk.split_at(n);
        self.frame.extend_from_slice(take);
        rest
    }

    /// The frame's total length, when the prelude is consistent.
    fn check_prelude(&self) -> Option<usize> {
        let total = be_u32(&self.frame, 0)? as usize;
        let headers = be_u32(&self.frame, 4)? as usize;
        let crc = be_u32(&self.frame, 8)?;
        let valid =
            crc32(self.frame.get(..8)?) == crc && total >= OVERHEAD && headers <= total - OVERHEAD;
        valid.then_some(total)
    }
}

fn decode(frame: &[u8]) -> Option<Frame<'_>> {
    let body_end = frame.len().checked_sub(4)?;
    if crc32(frame.get(..body_end)?) != be_u32(frame, body_end)? {
        return None;
    }
    let headers_len = be_u32(frame, 4)? as usize;
    let headers = frame.get(PRELUDE..PRELUDE + headers_len)?;
    let payload = frame.get(PRELUDE + headers_len..body_end)?;
    let mut decoded = Frame {
        message_type: None,
        event_type: None,
        payload,
    };
    let mut rest = headers;
    while !rest.is_empty() {
        let (name, value, after) = header(rest)?;
        match name {
            b":message-type" => decoded.message_type = value,
            b":event-type" => decoded.event_type = value,
            _ => {}
        }
        rest = after;
    }
    Some(decoded)
}

/// One header: its name, its value when it is a string, and the bytes after it.
fn header(bytes: &[u8]) -> Option<(&[u8], Option<&str>, &[u8])> {
    let (&name_len, rest) = bytes.split_first()?;
    let name = rest.get(..usize::from(name_len))?;
    let (&kind, rest) = rest.get(usize::from(name_len)..)?.split_first()?;
    let fixed = match kind {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 => 4,
        5 | 8 => 8,
        9 => 16,
        6 | 7 => {
            let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
            let value = rest.get(2..2 + len)?;
            let text = (kind == 7)
                .then(|| std::str::from_utf8(value).ok())
                .flatten();
            return Some((name, text, rest.get(2 + len..)?));
        }
        _ => return None,
    };
    Some((name, None, rest.get(fixed..)?))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "`i` counts to 255; `u32::try_from` is not available in a const"
)]
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE), the checksum event-stream frames carry.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| {
        CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// Builds a frame with string headers: what the tests use to stand in for AWS.
#[cfg(test)]
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        head.push(u8::try_from(name.len()).unwrap());
        head.extend_from_slice(name.as_bytes());
        head.push(7);
        head.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        head.extend_from_slice(value.as_bytes());
    }
    encode_raw(&head, payload)
}

/// Builds a frame around already-encoded headers.
#[cfg(test)]
pub fn encode_raw(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = OVERHEAD + headers.len() + payload.len();
    let mut frame = Vec::with_capacity(total);
    frame.extend_from_slice(&u32::try_from(total).unwrap().to_be_bytes());
    frame.extend_from_slice(&u32::try_from(headers.len()).unwrap().to_be_bytes());
    let prelude_crc = crc32(&frame);
    frame.extend_from_slice(&prelude_crc.to_be_bytes());
    frame.extend_from_slice(headers);
    frame.extend_from_slice(payload);
    let message_crc = crc32(&frame);
    frame.extend_from_slice(&message_crc.to_be_bytes());
    frame
}

/// A JSON event frame as Bedrock sends it.
#[cfg(test)]
pub fn event(event_type: &str, payload: &str) -> Vec<u8> {
    encode(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = (Option<String>, Option<String>, Vec<u8>);

    fn decode_all(chunks: &[&[u8]], max: usize) -> (Vec<Owned>, u64, bool) {
        let mut decoder = EventStreamDecoder::new(max);
        let mut frames = Vec::new();
        for chunk in chunks {
            decoder.push(chunk, |f| {
                frames.push((
                    f.message_type.map(str::to_owned),
                    f.event_type.map(str::to_owned),
                    f.payload.to_vec(),
                ))
            });
        }
        (frames, decoder.dropped_frames(), decoder.is_clean())
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frames_decode_whatever_the_split() {
        let mut input = event("messageStart", r#"{"role":"assistant"}"#);
        // Every header value type, so stepping over non-string values is exercised.
        let head: &[u8] = b"\x0b:event-type\x07\x00\x08metadata\
            \x01a\x00\x01b\x01\x01c\x02\x07\x01d\x03\x00\x01\x01e\x04\x00\x00\x00\x01\
            \x01f\x05\x00\x00\x00\x00\x00\x00\x00\x01\x01g\x06\x00\x02hi\
            \x01h\x08\x00\x00\x00\x00\x00\x00\x00\x01\x01i\x09................";
        let exotic = encode_raw(head, b"{}");
        input.extend_from_slice(&exotic);
        let whole = decode_all(&[&input], 1024);
        assert_eq!(
            whole,
            (
                vec![
                    (
                        Some("event".to_owned()),
                        Some("messageStart".to_owned()),
                        br#"{"role":"assistant"}"#.to_vec()
                    ),
                    (None, Some("metadata".to_owned()), b"{}".to_vec()),
                ],
                0,
                true
            )
        );
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(decode_all(&[a, b], 1024), whole, "split at {at}");
        }
    }

    #[test]
    fn an_oversize_frame_is_skipped_and_the_next_one_decoded() {
        let big = event("chunk", &"x".repeat(500));
        let small = event("metadata", "{}");
        let input = [big, small].concat();
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            let (frames, dropped, clean) = decode_all(&[a, b], 200);
            assert_eq!(frames.len(), 1, "split at {at}");
            assert_eq!(frames[0].1.as_deref(), Some("metadata"));
            assert_eq!((dropped, clean), (1, true));
        }
    }

    #[test]
    fn a_corrupt_payload_drops_one_frame_and_a_corrupt_prelude_stops_decoding() {
        let mut bad_payload = event("chunk", r#"{"a":1}"#);
        let at = bad_payload.len() - 6;
        bad_payload[at] ^= 0xFF;
        let good = event("metadata", "{}");
        let (frames, dropped, _) = decode_all(&[&bad_payload, &good], 1024);
        assert_eq!((frames.len(), dropped), (1, 1));

        let mut bad_prelude = event("chunk", "{}");
        bad_prelude[2] ^= 0x01;
        let (frames, _, clean) = decode_all(&[&bad_prelude, &good], 1024);
        assert!(frames.is_empty());
        assert!(!clean);
    }
}
