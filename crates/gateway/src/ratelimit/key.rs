//! The counter key of a request: per gateway, per client IP, or per value of a header.

use std::fmt::Write as _;
use std::net::IpAddr;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::gateways::RateLimitKey;

/// Hex characters of the SHA-256 kept for a header value: 128 bits, enough that two values
/// never share a counter by accident, and short in memory and in Redis.
const HEADER_HASH_HEX: usize = 32;

/// The key of the counter a request counts against.
///
/// Account ids are `[A-Za-z0-9_-]` and gateway ids `[a-z0-9_-]`, so `:` cannot appear in
/// them and the parts cannot run into each other:
/// - `gateway` → `{account}:{gateway}:gw`, one counter for the gateway;
/// - `ip` → `{account}:{gateway}:ip:{client ip}`;
/// - `header:<name>` → `{account}:{gateway}:h:{name}:{sha256 of the value, 32 hex}`. The value
///   is hashed always, not only when long: keys stay short and a header such as an API key is
///   never held in memory or written to Redis as it was sent. A request without the header,
///   or with only empty values, counts against its IP's key: never unlimited, and one client
///   cannot exhaust a shared "no header" bucket for everyone else.
///
/// Repeated header lines are all part of the value (joined with a NUL, which a header value
/// cannot contain), so adding a second line does not reach a fresh counter. Without a known
/// client IP (no peer address) the IP part is `unknown`, one shared counter. IPv4-mapped IPv6
/// addresses (`::ffff:a.b.c.d`, what dual-stack sockets report) count as their IPv4 address.
pub fn limit_key(
    account: &str,
    gateway: &str,
    key: &RateLimitKey,
    headers: &HeaderMap,
    client_ip: Option<IpAddr>,
) -> String {
    let mut out = String::with_capacity(account.len() + gateway.len() + 48);
    out.push_str(account);
    out.push(':');
    out.push_str(gateway);
    match key {
        RateLimitKey::Gateway => out.push_str(":gw"),
        RateLimitKey::Ip => push_ip(&mut out, client_ip),
        RateLimitKey::Header(name) => {
            let mut values = headers
                .get_all(name)
                .iter()
                .map(|value| value.as_bytes())
                .filter(|value| !value.trim_ascii().is_empty())
                .peekable();
            if values.peek().is_none() {
                push_ip(&mut out, client_ip);
                return out;
            }
            let mut hasher = Sha256::new();
            for (i, value) in values.enumerate() {
                if i > 0 {
                    hasher.update([0u8]);
                }
                hasher.update(value);
            }
            let digest = hasher.finalize();
            out.push_str(":h:");
            out.push_str(name.as_str());
            out.push(':');
            for byte in digest.iter().take(HEADER_HASH_HEX / 2) {
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
    out
}

fn push_ip(out: &mut String, client_ip: Option<IpAddr>) {
    out.push_str(":ip:");
    match client_ip.map(|ip| ip.to_canonical()) {
        Some(ip) => {
            let _ = write!(out, "{ip}");
        }
        None => out.push_str("unknown"),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use http::{HeaderName, HeaderValue};

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    fn user_id() -> RateLimitKey {
        RateLimitKey::Header(HeaderName::from_static("x-user-id"))
    }

    #[test]
    fn gateway_key_is_one_counter_whatever_the_client() {
        let headers = HeaderMap::new();
        let a = limit_key(
            "acct",
            "gw",
            &RateLimitKey::Gateway,
            &headers,
            ip("1.2.3.4"),
        );
        let b = limit_key(
            "acct",
            "gw",
            &RateLimitKey::Gateway,
            &headers,
            ip("5.6.7.8"),
        );
        assert_eq!(a, "acct:gw:gw");
        assert_eq!(a, b);
        assert_ne!(
            a,
            limit_key("acct", "other", &RateLimitKey::Gateway, &headers, None)
        );
        assert_ne!(
            a,
            limit_key("other", "gw", &RateLimitKey::Gateway, &headers, None)
        );
    }

    #[test]
    fn ip_key_is_per_client_address() {
        let headers = HeaderMap::new();
        let key = |addr| limit_key("acct", "gw", &RateLimitKey::Ip, &headers, ip(addr));
        assert_eq!(key("1.2.3.4"), "acct:gw:ip:1.2.3.4");
        assert_ne!(key("1.2.3.4"), key("1.2.3.5"));
        assert_eq!(key("::ffff:1.2.3.4"), key("1.2.3.4"));
        assert_eq!(key("2001:db8::1"), "acct:gw:ip:2001:db8::1");
        assert_eq!(
            limit_key("acct", "gw", &RateLimitKey::Ip, &headers, None),
            "acct:gw:ip:unknown"
        );
    }

    #[test]
    fn header_key_is_per_hashed_value_and_falls_back_to_the_ip() {
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append("x-user-id", HeaderValue::from_str(value).unwrap());
            }
            headers
        };
        let alice = limit_key("acct", "gw", &user_id(), &with(&["alice"]), ip("1.2.3.4"));
        let alice_elsewhere = limit_key("acct", "gw", &user_id(), &with(&["alice"]), ip("9.9.9.9"));
        let bob = limit_key("acct", "gw", &user_id(), &with(&["bob"]), ip("1.2.3.4"));
        assert_eq!(
            alice, alice_elsewhere,
            "the header, not the IP, picks the counter"
        );
        assert_ne!(alice, bob);
        assert!(alice.starts_with("acct:gw:h:x-user-id:"));
        assert!(!alice.contains("alice"), "the value is not stored raw");
        assert_eq!(alice.len(), "acct:gw:h:x-user-id:".len() + HEADER_HASH_HEX);

        let long = "k".repeat(10_000);
        let long_key = limit_key("acct", "gw", &user_id(), &with(&[&long]), None);
        assert_eq!(long_key.len(), alice.len());

        let two_lines = limit_key("acct", "gw", &user_id(), &with(&["alice", "x"]), None);
        assert_ne!(
            two_lines, alice,
            "a second header line does not reach the same counter"
        );

        let missing = limit_key("acct", "gw", &user_id(), &HeaderMap::new(), ip("1.2.3.4"));
        let ip_key = limit_key(
            "acct",
            "gw",
            &RateLimitKey::Ip,
            &HeaderMap::new(),
            ip("1.2.3.4"),
        );
        assert_eq!(
            missing, ip_key,
            "without the header the request counts against its IP"
        );
        let empty = limit_key("acct", "gw", &user_id(), &with(&["  "]), ip("1.2.3.4"));
        assert_eq!(empty, ip_key);
    }
}
