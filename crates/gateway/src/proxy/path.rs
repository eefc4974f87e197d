//! The proxy URL scheme `/v1/{account}/{gateway}/{provider}/{path…}` and its traversal guard (docs/architecture.md).
//!
//! The router never normalises paths; this module reads the raw path and rejects anything that
//! could leave the provider's base after any number of percent-decodings.

use percent_encoding::percent_decode;

use crate::error::{ErrorCode, GatewayError};

/// A proxy request's target, borrowed from the raw request path.
#[derive(Debug, PartialEq, Eq)]
pub struct ProxyPath<'a> {
    pub account: &'a str,
    pub gateway: &'a str,
    pub provider: &'a str,
    /// The raw provider path without its leading `/` (may be empty), still percent-encoded.
    pub provider_path: &'a str,
}

/// Decoding rounds before a segment that still changes is rejected (`%25252e` and deeper).
const MAX_DECODE_ROUNDS: usize = 4;

pub fn parse(raw_path: &str) -> Result<ProxyPath<'_>, GatewayError> {
    let rest = raw_path
        .strip_prefix("/v1/")
        .ok_or_else(GatewayError::invalid_path)?;
    let mut parts = rest.splitn(4, '/');
    let account = parts.next().unwrap_or("");
    let gateway = parts.next().unwrap_or("");
    let provider = parts.next().unwrap_or("");
    let provider_path = parts.next().unwrap_or("");
    for segment in [account, gateway] {
        check_segment(segment, false)?;
    }
    if provider.is_empty() {
        return Err(GatewayError::new(
            ErrorCode::InvalidProvider,
            "The path names no provider: /v1/{account}/{gateway}/{provider}/...",
        ));
    }
    check_segment(provider, false)?;
    if !is_id(account, true) {
        return Err(GatewayError::invalid_path());
    }
    if !is_id(gateway, false) {
        return Err(GatewayError::invalid_gateway_id(gateway));
    }
    check_provider_path(provider, provider_path)?;
    Ok(ProxyPath {
        account,
        gateway,
        provider,
        provider_path,
    })
}

/// Whether the path is the unified endpoint's (`/v1/{account}/{gateway}/compat/…`), whose
/// clients are OpenAI SDKs and read OpenAI's error shape (docs/errors.md).
pub fn is_compat(raw_path: &str) -> bool {
    raw_path
        .strip_prefix("/v1/")
        .is_some_and(|rest| rest.split('/').nth(2) == Some("compat"))
}

/// The universal endpoint `/v1/{account}/{gateway}` (docs/resilience.md), if that is what the path is.
pub fn parse_universal(raw_path: &str) -> Option<Result<(&str, &str), GatewayError>> {
    let rest = raw_path.strip_prefix("/v1/")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (account, gateway) = rest.split_once('/')?;
    if gateway.contains('/') {
        return None;
    }
    let checked = (|| {
        check_segment(account, false)?;
        check_segment(gateway, false)?;
        if !is_id(account, true) {
            return Err(GatewayError::invalid_path());
        }
        if !is_id(gateway, false) {
            return Err(GatewayError::invalid_gateway_id(gateway));
        }
        Ok((account, gateway))
    })();
    Some(checked)
}

/// The traversal guard for a provider path (raw, without its leading `/`). Whether `@` may open
/// a segment is the provider's rule (its descriptor); custom providers never allow it.
pub fn check_provider_path(provider: &str, provider_path: &str) -> Result<(), GatewayError> {
    let allow_at = crate::providers::builtin(provider).is_some_and(|p| p.allows_at_segments);
    let segments: Vec<&str> = provider_path.split('/').collect();
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        // A trailing slash is harmless; an empty segment anywhere else is `//`.
        if segment.is_empty() && index == last {
            continue;
        }
        check_segment(segment, allow_at)?;
    }
    Ok(())
}

/// 1-64 characters of `[a-z0-9_-]` (gateways); accounts may also use upper case.
pub fn is_id(id: &str, allow_upper: bool) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'-'
                || b == b'_'
                || (allow_upper && b.is_ascii_uppercase())
        })
}

fn check_segment(raw: &str, allow_leading_at: bool) -> Result<(), GatewayError> {
    let decoded = decode_until_stable(raw).ok_or_else(GatewayError::invalid_path)?;
    let bad_byte = decoded.iter().enumerate().any(|(i, &b)| {
        b == b'/'
            || b == b'\\'
            || b < 0x20
            || b == 0x7f
            || (b == b'@' && !(allow_leading_at && i == 0))
    });
    // `..;/` reaches the parent on servers that strip path parameters.
    let before_params = decoded.split(|&b| b == b';').next().unwrap_or(&[]);
    let dot_segment = matches!(before_params, b"" | b"." | b"..");
    if bad_byte || dot_segment {
        return Err(GatewayError::invalid_path());
    }
    Ok(())
}

fn decode_until_stable(raw: &str) -> Option<Vec<u8>> {
    let mut current = raw.as_bytes().to_vec();
    for _ in 0..MAX_DECODE_ROUNDS {
        if !current.contains(&b'%') {
            return Some(current);
        }
        let next: Vec<u8> = percent_decode(&current).collect();
        if next == current {
            return Some(current);
        }
        current = next;
    }
    (!current.contains(&b'%')).then_some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(path: &str) -> Option<u16> {
        parse(path).err().map(|e| e.code.number())
    }

    #[test]
    fn splits_the_scheme() {
        let parsed = parse("/v1/local/my-gw/openai/v1/chat/completions");
        assert_eq!(
            parsed.ok(),
            Some(ProxyPath {
                account: "local",
                gateway: "my-gw",
                provider: "openai",
                provider_path: "v1/chat/completions"
            })
        );
        assert_eq!(
            parse("/v1/local/g/openai").ok().map(|p| p.provider_path),
            Some("")
        );
        assert_eq!(
            parse("/v1/local/g/openai/models/")
                .ok()
                .map(|p| p.provider_path),
            Some("models/")
        );
    }

    #[test]
    fn rejects_traversal_and_injection() {
        for path in [
            "/v1/local/g/openai/../admin/keys",
            "/v1/local/g/openai/%2e%2e/admin",
            "/v1/local/g/openai/%2E%2E/admin",
            "/v1/local/g/openai/%252e%252e/admin",
            "/v1/local/g/openai/%25252e%25252e/admin",
            "/v1/local/g/openai/v1/..;/admin",
            "/v1/local/g/openai/v1/.;x/admin",
            "/v1/local/g/openai/./chat",
            "/v1/local/g/openai/%5c..%5cadmin",
            "/v1/local/g/openai/\\..\\admin",
            "/v1/local/g/openai//evil/v1",
            "/v1/local/g/openai/v1//chat",
            "/v1/local/g/openai/v1%2fchat",
            "/v1/local/g/openai/v1%252Fchat",
            "/v1/local/g/openai/v1@evil.test/",
            "/v1/local/g/openai/v1%40evil.test/",
            "/v1/local/g/openai/a%00b",
            "/v1/local/../admin/openai/x",
            "/v1/../client/v4/accounts",
            "/v1/local/%2e%2e/openai/x",
        ] {
            assert_eq!(code(path), Some(2012), "{path}");
        }
    }

    #[test]
    fn workers_ai_model_names_keep_their_at() {
        assert!(parse("/v1/local/g/workers-ai/@cf/meta/llama-3.1-8b-instruct").is_ok());
        assert_eq!(code("/v1/local/g/workers-ai/x@evil/y"), Some(2012));
        assert_eq!(code("/v1/local/g/openai/@cf/meta"), Some(2012));
    }

    #[test]
    fn names_missing_or_invalid_parts() {
        assert_eq!(code("/v1/local/Bad_Gateway/openai/x"), Some(2001));
        assert_eq!(code("/v1/local/g"), Some(2008));
        assert_eq!(code("/v1/local/g/"), Some(2008));
        assert_eq!(code("/v2/local/g/openai"), Some(2012));
    }
}
