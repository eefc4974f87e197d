//! Standard base64 decoding for Bedrock's `{"bytes": …}` stream chunks (a crate would be the only
//! dependency added for these twenty lines).

/// Decodes `input` into `out` (cleared first). Padding is optional; any other byte outside the
/// standard alphabet makes it return false.
pub fn decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    out.reserve(input.len() / 4 * 3 + 3);
    let input = input
        .strip_suffix(b"==")
        .or_else(|| input.strip_suffix(b"="))
        .unwrap_or(input);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &byte in input {
        let Some(value) = sextet(byte) else {
            return false;
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // `acc` holds fewer than `bits + 8` bits: the shift leaves exactly one byte.
            out.push((acc >> bits).to_le_bytes()[0]);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone trailing character carries fewer than 8 bits: not valid base64.
    bits < 6
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        decode_into(input.as_bytes(), &mut out).then_some(out)
    }

    #[test]
    fn decodes_with_and_without_padding() {
        assert_eq!(decode("").as_deref(), Some(&b""[..]));
        assert_eq!(decode("Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode("Zm8=").as_deref(), Some(&b"fo"[..]));
        assert_eq!(decode("Zm9v").as_deref(), Some(&b"foo"[..]));
        assert_eq!(decode("Zm9vYg").as_deref(), Some(&b"foob"[..]));
        assert_eq!(decode("+/+/").as_deref(), Some(&[0xFB, 0xFF, 0xBF][..]));
    }

    #[test]
    fn rejects_bytes_outside_the_alphabet() {
        assert_eq!(decode("Zm9v!"), None);
        assert_eq!(decode("Zm9vY"), None);
    }
}
