//! Which headers cross the proxy (docs/architecture.md): hop-by-hop headers, `Host`, every `cf-aig-*`
//! header and the gateway credential stay behind; everything else passes unchanged. And the
//! gateway's own response headers.

use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, header};

/// The log row of the attempt that answered (every response, errors included).
pub const LOG_ID: &str = "cf-aig-log-id";
/// Shared by the rows of one request's attempts and steps (docs/logs.md).
pub const EVENT_ID: &str = "cf-aig-event-id";
/// The request's first log id, whichever attempt answered.
pub const REQUEST_ID: &str = "cf-aig-request-id";
pub const CACHE_STATUS: &str = "cf-aig-cache-status";
/// The universal step that answered.
pub const STEP: &str = "cf-aig-step";
/// A dynamic route's answer: the model and provider that gave it, the route and its version
/// (docs/routing.md).
pub const MODEL: &str = "cf-aig-model";
pub const PROVIDER: &str = "cf-aig-provider";
pub const ROUTE: &str = "cf-aig-route";
pub const ROUTE_VERSION: &str = "cf-aig-route-version";

pub fn set_log_id(response: &mut Response, id: uuid::Uuid) {
    if let Ok(value) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(LOG_ID, value);
    }
}

/// RFC 9110 §7.6.1 connection-specific fields, plus the de-facto ones proxies also drop.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The headers sent upstream: the client's, minus what must not leave the gateway.
pub fn upstream_request_headers(incoming: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(incoming.len());
    for (name, value) in incoming {
        let dropped = is_hop_by_hop(name, incoming)
            || name == header::HOST
            // The client recomputes length from the body it sends.
            || name == header::CONTENT_LENGTH
            || name == header::EXPECT
            || name.as_str().starts_with("cf-aig-");
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The upstream response's headers as the client gets them: all but connection-specific ones.
pub fn client_response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len() + 3);
    for (name, value) in upstream {
        if !is_hop_by_hop(name, upstream) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn is_hop_by_hop(name: &HeaderName, all: &HeaderMap) -> bool {
    HOP_BY_HOP.contains(name) || listed_in_connection(name, all)
}

/// `Connection: foo` makes `foo` hop-by-hop too.
fn listed_in_connection(name: &HeaderName, all: &HeaderMap) -> bool {
    all.get_all(header::CONNECTION).iter().any(|value| {
        value
            .to_str()
            .unwrap_or("")
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case(name.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_what_must_not_cross() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("host", "gw"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "5"),
            ("transfer-encoding", "chunked"),
            ("content-length", "10"),
            ("cf-aig-authorization", "Bearer run"),
            ("cf-aig-metadata", "{}"),
            ("authorization", "Bearer sk-provider"),
            ("x-api-key", "sk-ant"),
            ("content-type", "application/json"),
        ] {
            incoming.append(name, HeaderValue::from_static(value));
        }
        let out = upstream_request_headers(&incoming);
        let mut names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["authorization", "content-type", "x-api-key"]);
    }
}
