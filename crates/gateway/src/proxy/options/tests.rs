use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn parse(name: &str, value: &str) -> Result<RequestOptions, GatewayError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_bytes(name.as_bytes()).unwrap_or(HeaderName::from_static("x")),
        HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
    );
    RequestOptions::from_headers(&headers)
}

fn rejected(name: &str, value: &str) -> bool {
    parse(name, value).err().map(|e| e.code.number()) == Some(2013)
}

#[test]
fn cache_ttl_is_clamped_and_validated() {
    assert_eq!(
        parse("cf-aig-cache-ttl", "60")
            .ok()
            .and_then(|o| o.cache_ttl),
        Some(60)
    );
    assert_eq!(
        parse("cf-aig-cache-ttl", "0")
            .ok()
            .and_then(|o| o.cache_ttl),
        Some(0)
    );
    assert_eq!(
        parse("cf-aig-cache-ttl", "99999999999999999999999")
            .ok()
            .and_then(|o| o.cache_ttl),
        Some(2_592_000)
    );
    for bad in ["-1", "NaN", "Infinity", "1e309", "abc", "3.5", ""] {
        assert!(rejected("cf-aig-cache-ttl", bad), "{bad}");
    }
}

#[test]
fn metadata_rules() {
    let five = parse(
        "cf-aig-metadata",
        r#"{"a":1,"b":"x","c":true,"d":2,"e":3,"f":4}"#,
    );
    let keys: Vec<String> = five
        .ok()
        .and_then(|o| o.metadata)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["a", "b", "c", "d", "e"]);
    assert!(rejected("cf-aig-metadata", "not json"));
    assert!(rejected("cf-aig-metadata", r#"{"a":{"nested":1}}"#));
    assert!(rejected("cf-aig-metadata", r#"["a"]"#));
    assert!(rejected(
        "cf-aig-metadata",
        &format!(r#"{{"{}":1}}"#, "k".repeat(65))
    ));
    assert!(rejected(
        "cf-aig-metadata",
        &format!(r#"{{"k":"{}"}}"#, "v".repeat(513))
    ));
    // An escaped CR/LF is data, not a header.
    assert!(parse("cf-aig-metadata", r#"{"k":"\r\nX-Injected: 1"}"#).is_ok());
}

#[test]
fn retry_and_timeout_headers() {
    assert!(rejected("cf-aig-max-attempts", "0"));
    assert!(rejected("cf-aig-max-attempts", "6"));
    assert_eq!(
        parse("cf-aig-max-attempts", "5")
            .ok()
            .and_then(|o| o.max_attempts),
        Some(5)
    );
    assert!(rejected("cf-aig-retry-delay", "5001"));
    assert!(rejected("cf-aig-backoff", "random"));
    assert!(rejected("cf-aig-request-timeout", "0"));
    assert!(rejected("cf-aig-request-timeout", "fast"));
    assert_eq!(
        parse("cf-aig-request-timeout", "1500")
            .ok()
            .and_then(|o| o.request_timeout),
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn other_headers() {
    assert!(rejected("cf-aig-collect-log", "maybe"));
    assert!(rejected("cf-aig-collect-log-payload", "1"));
    assert!(rejected("cf-aig-cache-key", &"k".repeat(257)));
    assert!(rejected("cf-aig-event-id", &"e".repeat(129)));
    assert!(rejected("cf-aig-custom-cost", r#"{"per_token_in":-1}"#));
    assert!(rejected("cf-aig-custom-cost", r#"{"price":1}"#));
    assert!(rejected("cf-aig-custom-cost", "{}"));
    let cost = parse(
        "cf-aig-custom-cost",
        r#"{"per_token_in":0.000001,"per_token_out":0.000002}"#,
    );
    assert_eq!(
        cost.ok()
            .and_then(|o| o.custom_cost)
            .and_then(|c| c.per_token_out),
        Some(0.000002)
    );
    assert_eq!(
        parse("cf-aig-authorization", "Bearer abc")
            .ok()
            .and_then(|o| o.gateway_token),
        Some("abc".into())
    );
    assert!(parse("cf-aig-unknown-feature", "x").is_ok());
}

#[test]
fn headers_and_steps_share_the_bounds_table() {
    use crate::gateways::bounds::{REQUEST_TIMEOUT_MS, RETRY_DELAY_MS, RETRY_MAX_ATTEMPTS};
    let max = REQUEST_TIMEOUT_MS.max;
    assert!(rejected("cf-aig-request-timeout", &(max + 1).to_string()));
    assert_eq!(
        parse("cf-aig-request-timeout", &max.to_string())
            .ok()
            .and_then(|o| o.request_timeout),
        Some(Duration::from_millis(max))
    );
    assert_eq!(request_timeout(max + 1), Err(REQUEST_TIMEOUT_MS.expected()));
    assert_eq!(max_attempts(0), Err(RETRY_MAX_ATTEMPTS.expected()));
    assert_eq!(max_attempts(5), Ok(5));
    assert_eq!(
        retry_delay(RETRY_DELAY_MS.max + 1),
        Err(RETRY_DELAY_MS.expected())
    );
    // One validator for metadata, whichever way it arrives.
    let long = serde_json::Map::from_iter([("k".repeat(65), Value::from(1))]);
    assert!(validate_metadata(long).is_err());
}
