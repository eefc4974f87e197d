//! How a log body is stored, for both stores: a small body as it is, a larger one as a zstd
//! frame. Readers tell the two apart by the zstd magic number, so both share one column (no
//! schema change), rows from before (all zstd) read as they did, and `migrate` copies either
//! form as it is.

use std::io;

use zstd::bulk::Compressor;

/// Bodies shorter than this are stored raw. Measured at level 3 with a reused context: a chat
/// body of 450–800 bytes costs 60–80K instructions (mostly building tables for the frame) to
/// shrink to 65–70 % (150–280 bytes saved), and a short SSE tail grows. From ~1 KiB up the
/// saving grows faster than the cost: a 2 KiB prompt goes to ~45 %, a streamed response to 10 %
/// or less.
pub(crate) const RAW_BELOW: usize = 1024;

/// zstd level for the bodies that are compressed: fast, and prompts compress well at it.
const LEVEL: i32 = 3;

/// The first bytes of every zstd frame (RFC 8878 §3.1.1: 0xFD2FB528, little-endian). Text can
/// never start with them (0xB5 is a UTF-8 continuation byte, so it cannot follow `(`), but a
/// body is arbitrary bytes (an upload, a `Content-Encoding: zstd` request): one that starts
/// with them is compressed, so a stored value that starts with them is always a frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Encodes the bodies of one batch, with one zstd context made on the first body that needs it
/// (a fresh context per body cleared ~1 MB of match tables each time).
#[derive(Default)]
pub(crate) struct BodyEncoder {
    compressor: Option<Compressor<'static>>,
}

impl BodyEncoder {
    /// The stored form of `body`: the body itself when it is small, a single-shot zstd frame
    /// otherwise (zstd sizes its tables to the body, and the content size in the frame header
    /// lets [`decode`] read it like any frame).
    pub(crate) fn encode<'a>(&mut self, body: &'a [u8]) -> io::Result<Stored<'a>> {
        if body.len() < RAW_BELOW && !body.starts_with(&ZSTD_MAGIC) {
            return Ok(Stored::Raw(body));
        }
        let compressor = match &mut self.compressor {
            Some(compressor) => compressor,
            None => self.compressor.insert(Compressor::new(LEVEL)?),
        };
        compressor.compress(body).map(Stored::Compressed)
    }
}

/// A body as it goes into the store; [`Stored::bytes`] is what to bind.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stored<'a> {
    Raw(&'a [u8]),
    Compressed(Vec<u8>),
}

impl Stored<'_> {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Stored::Raw(bytes) => bytes,
            Stored::Compressed(bytes) => bytes,
        }
    }
}

/// The body a stored value holds: a zstd frame is decompressed, anything else is the body.
pub(crate) fn decode(stored: Vec<u8>) -> io::Result<Vec<u8>> {
    if stored.starts_with(&ZSTD_MAGIC) {
        zstd::decode_all(&stored[..])
    } else {
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(body: &[u8]) -> anyhow::Result<Vec<u8>> {
        let stored = BodyEncoder::default().encode(body)?;
        Ok(decode(stored.bytes().to_vec())?)
    }

    #[test]
    fn small_bodies_are_stored_as_they_are() -> anyhow::Result<()> {
        let mut encoder = BodyEncoder::default();
        for body in [
            &b""[..],
            b"data: [DONE]\n\n",
            br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#,
            &[b'x'; RAW_BELOW - 1],
            // Not the whole magic: raw.
            &ZSTD_MAGIC[..3],
        ] {
            assert_eq!(encoder.encode(body)?, Stored::Raw(body));
            assert_eq!(round_trip(body)?, body);
        }
        Ok(())
    }

    #[test]
    fn bodies_from_the_threshold_up_are_compressed() -> anyhow::Result<()> {
        let mut encoder = BodyEncoder::default();
        for len in [RAW_BELOW, RAW_BELOW + 1, 64 * 1024] {
            let body: Vec<u8> = br#"{"role":"user","content":"tell me more"},"#
                .iter()
                .copied()
                .cycle()
                .take(len)
                .collect();
            let stored = encoder.encode(&body)?;
            assert!(matches!(stored, Stored::Compressed(_)), "{len} bytes");
            assert!(stored.bytes().starts_with(&ZSTD_MAGIC));
            assert!(stored.bytes().len() < body.len());
            assert_eq!(decode(stored.bytes().to_vec())?, body);
        }
        Ok(())
    }

    #[test]
    fn a_small_body_that_starts_like_a_frame_is_compressed() -> anyhow::Result<()> {
        let mut encoder = BodyEncoder::default();
        // A real frame (say a `Content-Encoding: zstd` upload), and bytes that only share the
        // magic: both must come back as they went in, not decompressed.
        let frame = zstd::bulk::compress(b"an upload", 3)?;
        let lookalike = [&ZSTD_MAGIC[..], b"not a frame"].concat();
        for body in [&frame[..], &ZSTD_MAGIC[..], &lookalike[..]] {
            let stored = encoder.encode(body)?;
            assert!(matches!(stored, Stored::Compressed(_)));
            assert_eq!(decode(stored.bytes().to_vec())?, body);
        }
        Ok(())
    }

    #[test]
    fn rows_written_before_raw_bodies_still_decode() -> anyhow::Result<()> {
        // Older versions stored every body as a frame, small ones included, and tests wrote
        // streaming frames (no content size in the header).
        for body in [&b""[..], b"data: [DONE]\n\n", &[b'a'; 5000]] {
            assert_eq!(decode(zstd::bulk::compress(body, 3)?)?, body);
            assert_eq!(decode(zstd::encode_all(body, 3)?)?, body);
        }
        Ok(())
    }

    #[test]
    fn a_broken_frame_is_an_error_not_a_body() -> anyhow::Result<()> {
        let mut truncated = zstd::bulk::compress(&[b'z'; 4000], 3)?;
        truncated.truncate(truncated.len() / 2);
        assert!(decode(truncated).is_err());
        Ok(())
    }
}
