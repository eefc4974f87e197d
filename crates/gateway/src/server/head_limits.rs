//! Request heads within the configured size: a long target gets 414 and too many or too large
//! headers get 431, in the error envelope. hyper's own parser limits sit above these (see
//! [`super::http`]) and only catch what is far beyond them, with a bare status and a close.
//! The same check refuses ambiguous body framing ([`super::framing`]).

use axum::extract::Request;

use crate::error::{ErrorCode, GatewayError};

#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
    pub max_headers: usize,
}

/// Refuses a request whose head is over a limit, or whose body framing is ambiguous, before
/// anything reads it.
pub fn check_head(limits: &HeadLimits, request: &Request) -> Result<(), GatewayError> {
    check(limits, request).and_then(|()| super::framing::check_framing(request))
}

fn check(limits: &HeadLimits, request: &Request) -> Result<(), GatewayError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, str::len);
    if target > limits.max_uri_bytes {
        return Err(GatewayError::new(
            ErrorCode::UriTooLong,
            format!("Request target longer than {} bytes", limits.max_uri_bytes),
        ));
    }
    let headers = request.headers();
    if headers.len() > limits.max_headers {
        return Err(GatewayError::new(
            ErrorCode::HeadersTooLarge,
            format!("More than {} request headers", limits.max_headers),
        ));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(GatewayError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "Request headers larger than {} bytes",
                limits.max_header_bytes
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_uri_bytes: 64,
        max_header_bytes: 100,
        max_headers: 3,
    };

    fn code(request: Request) -> Option<ErrorCode> {
        check(&LIMITS, &request).err().map(|e| e.code)
    }

    fn get(target: &str) -> http::request::Builder {
        Request::builder().uri(target)
    }

    #[test]
    fn heads_within_the_limits_pass() {
        let request = get(&format!("/{}", "a".repeat(63)))
            .header("a", "b".repeat(90))
            .body(axum::body::Body::empty());
        assert_eq!(request.ok().and_then(code), None);
    }

    #[test]
    fn a_long_target_is_414_and_counts_the_query() {
        let request = get(&format!("/a?{}", "q".repeat(62))).body(axum::body::Body::empty());
        assert_eq!(request.ok().and_then(code), Some(ErrorCode::UriTooLong));
    }

    #[test]
    fn too_many_or_too_large_headers_are_431() {
        let mut many = get("/");
        for name in ["a", "b", "c", "d"] {
            many = many.header(name, "1");
        }
        let many = many.body(axum::body::Body::empty());
        assert_eq!(many.ok().and_then(code), Some(ErrorCode::HeadersTooLarge));
        // Repeated fields count one each.
        let repeated = get("/")
            .header("a", "1")
            .header("a", "2")
            .header("a", "3")
            .header("a", "4")
            .body(axum::body::Body::empty());
        assert_eq!(
            repeated.ok().and_then(code),
            Some(ErrorCode::HeadersTooLarge)
        );
        let large = get("/")
            .header("a", "b".repeat(100))
            .body(axum::body::Body::empty());
        assert_eq!(large.ok().and_then(code), Some(ErrorCode::HeadersTooLarge));
    }
}
