//! The binary form of a cached response in Redis: a small fixed header, the headers as JSON, then
//! the body as raw bytes (never base64: bodies reach 25 MiB and are replayed byte for byte).
//!
//! Layout (integers big-endian):
//! `version u8 | status u16 | stored_at_ms i64 | expires_at_ms i64 | headers_len u32 |
//!  headers JSON [[name, value], ...] | body`

use bytes::Bytes;

use super::CachedResponse;

/// Bumped when the layout changes; values of another version are read as misses.
const VERSION: u8 = 1;
const FIXED_LEN: usize = 1 + 2 + 8 + 8 + 4;

#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum DecodeError {
    #[error("cached value is truncated")]
    Truncated,
    #[error("cached value has version {0}, expected {VERSION}")]
    Version(u8),
    #[error("cached value has invalid headers: {0}")]
    Headers(String),
}

pub(crate) fn encode(response: &CachedResponse) -> Result<Vec<u8>, serde_json::Error> {
    let headers = serde_json::to_vec(&response.headers)?;
    let mut out = Vec::with_capacity(FIXED_LEN + headers.len() + response.body.len());
    out.push(VERSION);
    out.extend_from_slice(&response.status.to_be_bytes());
    out.extend_from_slice(&response.stored_at_ms.to_be_bytes());
    out.extend_from_slice(&response.expires_at_ms.to_be_bytes());
    // Headers are bounded by the upstream's header limits, far below u32::MAX.
    out.extend_from_slice(
        &u32::try_from(headers.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(&headers);
    out.extend_from_slice(&response.body);
    Ok(out)
}

/// Decodes without copying the body: it becomes a slice of `value`.
pub(crate) fn decode(value: Vec<u8>) -> Result<CachedResponse, DecodeError> {
    let value = Bytes::from(value);
    let mut reader = Reader {
        value: &value,
        pos: 0,
    };
    let version = reader.array::<1>()?[0];
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let status = u16::from_be_bytes(reader.array()?);
    let stored_at_ms = i64::from_be_bytes(reader.array()?);
    let expires_at_ms = i64::from_be_bytes(reader.array()?);
    let headers_len =
        usize::try_from(u32::from_be_bytes(reader.array()?)).map_err(|_| DecodeError::Truncated)?;
    let headers = reader.take(headers_len)?;
    let headers: Vec<(String, String)> =
        serde_json::from_slice(headers).map_err(|e| DecodeError::Headers(e.to_string()))?;
    let body = value.slice(reader.pos..);
    Ok(CachedResponse {
        status,
        headers,
        body,
        stored_at_ms,
        expires_at_ms,
    })
}

struct Reader<'a> {
    value: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(len).ok_or(DecodeError::Truncated)?;
        let bytes = self
            .value
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.take(N)?.try_into().map_err(|_| DecodeError::Truncated)
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn sample(body: Vec<u8>) -> CachedResponse {
        CachedResponse {
            status: 201,
            headers: vec![
                (
                    "content-type".into(),
                    "text/event-stream; charset=utf-8".into(),
                ),
                ("x-quote".into(), "\"é\" \\ \u{1}".into()),
            ],
            body: Bytes::from(body),
            stored_at_ms: -5,
            expires_at_ms: i64::MAX,
        }
    }

    #[test]
    fn round_trips_every_byte_value_without_inflating_the_body() {
        let body: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let response = sample(body.clone());
        let encoded = encode(&response).unwrap();
        // The body is stored raw: overhead is the fixed part and the headers only.
        assert!(encoded.len() < body.len() + 200, "{}", encoded.len());
        assert!(encoded.ends_with(&body));
        assert_eq!(decode(encoded).unwrap(), response);
    }

    #[test]
    fn empty_body_and_headers_round_trip() {
        let response = CachedResponse {
            status: 204,
            headers: vec![],
            body: Bytes::new(),
            stored_at_ms: 1,
            expires_at_ms: 2,
        };
        assert_eq!(decode(encode(&response).unwrap()).unwrap(), response);
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let encoded = encode(&sample(b"body".to_vec())).unwrap();
        for len in 0..FIXED_LEN + 10 {
            assert!(
                decode(encoded[..len].to_vec()).is_err(),
                "prefix of {len} bytes"
            );
        }
        let mut other_version = encoded.clone();
        other_version[0] = 9;
        assert_eq!(decode(other_version), Err(DecodeError::Version(9)));
        let mut huge_headers = encoded.clone();
        huge_headers[19..23].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode(huge_headers), Err(DecodeError::Truncated));
        let mut bad_json = encoded;
        bad_json[23] = b'x';
        assert!(matches!(decode(bad_json), Err(DecodeError::Headers(_))));
    }
}
