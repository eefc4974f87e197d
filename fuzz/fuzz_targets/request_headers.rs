//! FZ-06 (headers): the `cf-aig-*` request header parser takes any set of header values without
//! panicking, and whatever it accepts is within the bounds of gateways/bounds.rs.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tollgate_gateway::proxy::RequestOptions;

const NAMES: [&str; 14] = [
    "cf-aig-authorization",
    "cf-aig-cache-ttl",
    "cf-aig-skip-cache",
    "cf-aig-cache-key",
    "cf-aig-metadata",
    "cf-aig-collect-log",
    "cf-aig-collect-log-payload",
    "cf-aig-custom-cost",
    "cf-aig-request-timeout",
    "cf-aig-max-attempts",
    "cf-aig-retry-delay",
    "cf-aig-backoff",
    "cf-aig-event-id",
    "authorization",
];

fuzz_target!(|data: &[u8]| {
    // Input: records of <name index byte><value…> separated by NUL bytes.
    let mut headers = HeaderMap::new();
    for record in data.split(|b| *b == 0) {
        let Some((&index, value)) = record.split_first() else {
            continue;
        };
        let name = HeaderName::from_static(NAMES[usize::from(index) % NAMES.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let Ok(options) = RequestOptions::from_headers(&headers) else {
        return;
    };
    let text = format!("{options:?}");
    assert!(!text.is_empty());
});
