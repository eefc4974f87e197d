//! FZ-03 (path part): the proxy path parser and traversal guard never panic, and a path they
//! accept can never leave the provider's base: no `.`/`..` segment, backslash, `@` or empty
//! segment survives any number of percent-decodings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::proxy::parse_path;

/// Percent-decodes until stable (or 8 rounds), as an upstream or a proxy might.
fn decoded(segment: &str) -> Vec<u8> {
    let mut current = segment.as_bytes().to_vec();
    for _ in 0..8 {
        let next = percent_decode(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                input.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                input.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(target) = parse_path(path) else {
        return;
    };
    let segments: Vec<&str> = target.provider_path.split('/').collect();
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            assert_eq!(index, last, "empty segment in {path:?}");
            continue;
        }
        let plain = decoded(segment);
        assert!(plain != b"." && plain != b"..", "dot segment in {path:?}");
        assert!(
            !plain.contains(&b'/') && !plain.contains(&b'\\'),
            "separator inside a segment of {path:?}"
        );
        if target.provider != "workers-ai" {
            assert!(!plain.contains(&b'@'), "`@` in {path:?}");
        }
    }
    // Account and gateway are ids; the provider is only looked up (exact bytes) in the table,
    // so an odd but harmless provider segment is refused later, as an unknown provider.
    for id in [target.account, target.gateway] {
        assert!(!id.is_empty() && !id.contains('%'), "{path:?}");
    }
    assert!(!target.provider.is_empty(), "{path:?}");
});
