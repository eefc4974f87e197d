//! Request framing with only one possible reading. hyper already refuses a final coding other
//! than `chunked` and conflicting lengths. What it lets through and this refuses (400, code
//! 2013, connection closed), because a proxy in front of Tollgate could frame the body
//! differently (request smuggling): `Content-Length` with `Transfer-Encoding` (hyper drops the
//! length, so [`super::head_scan`] finds these on the raw bytes), and `chunked` applied more
//! than once or after another coding (RFC 9112 §6.1).

use axum::extract::Request;
use http::{HeaderMap, Version, header};

use super::head_scan::AmbiguousFraming;
use crate::error::GatewayError;

pub fn check_framing(request: &Request) -> Result<(), GatewayError> {
    // HTTP/2 frames bodies itself; both headers are connection-specific there and hyper refuses them.
    if request.version() > Version::HTTP_11 {
        return Ok(());
    }
    if request.extensions().get::<AmbiguousFraming>().is_some() {
        return Err(refused("not accepted together with `content-length`"));
    }
    let headers = request.headers();
    if !headers.contains_key(header::TRANSFER_ENCODING) {
        return Ok(());
    }
    if !is_single_chunked(headers) {
        return Err(refused("only a single `chunked` is accepted"));
    }
    Ok(())
}

fn is_single_chunked(headers: &HeaderMap) -> bool {
    let mut codings = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty());
    matches!(
        (codings.next(), codings.next()),
        (Some(coding), None) if coding.eq_ignore_ascii_case(b"chunked")
    )
}

fn refused(why: &str) -> GatewayError {
    GatewayError::invalid_header("transfer-encoding", why).with_header("connection", "close")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(headers: &[(&str, &str)]) -> bool {
        let mut request = Request::builder().method("POST").uri("/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .body(axum::body::Body::empty())
            .is_ok_and(|request| check_framing(&request).is_ok())
    }

    #[test]
    fn one_framing_header_passes() {
        assert!(check(&[("content-length", "5")]));
        assert!(check(&[("transfer-encoding", "chunked")]));
        assert!(check(&[("transfer-encoding", " Chunked ")]));
        assert!(check(&[]));
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        assert!(!check(&[
            ("transfer-encoding", "chunked"),
            ("transfer-encoding", "chunked")
        ]));
        assert!(!check(&[("transfer-encoding", "chunked, chunked")]));
        assert!(!check(&[("transfer-encoding", "gzip, chunked")]));
        assert!(!check(&[("transfer-encoding", "xchunked")]));
        assert!(!check(&[("transfer-encoding", "")]));
    }
}
