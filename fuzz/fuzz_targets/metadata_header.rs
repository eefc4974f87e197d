//! FZ-06 (metadata): `cf-aig-metadata` takes any value without panicking; what it accepts keeps
//! the limits of docs/architecture.md (≤ 5 entries, keys ≤ 64 B, values ≤ 512 B, flat values only).
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tollgate_gateway::proxy::RequestOptions;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("cf-aig-metadata", value);
    let Ok(options) = RequestOptions::from_headers(&headers) else {
        return;
    };
    let entries = options.metadata.unwrap_or_default();
    assert!(entries.len() <= 5);
    for (key, value) in &entries {
        assert!(key.len() <= 64);
        assert!(!value.is_object() && !value.is_array());
        if let Some(text) = value.as_str() {
            assert!(text.len() <= 512);
        }
    }
});
