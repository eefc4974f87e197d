//! The client's side of a WebSocket handshake (RFC 6455 §4.2): telling an upgrade request
//! apart, moving credentials out of `sec-websocket-protocol` into the headers admission and
//! the provider read, and the 101 that switches the connection.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::error::{ErrorCode, GatewayError};

/// `sec-websocket-protocol` entry carrying the gateway's run token (Cloudflare's name).
const GATEWAY_TOKEN_PROTOCOL: &str = "cf-aig-authorization.";
/// `sec-websocket-protocol` entry carrying an OpenAI key (OpenAI's browser convention).
const OPENAI_KEY_PROTOCOL: &str = "openai-insecure-api-key.";

/// Whether a request asks to become a WebSocket (`GET` with `Upgrade: websocket`).
pub fn is_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get_all(header::UPGRADE)
            .iter()
            .any(|value| has_token(value, "websocket"))
}

/// Browsers cannot set headers on a WebSocket, so credentials come as subprotocol entries.
/// `cf-aig-authorization.<token>` becomes `cf-aig-authorization: Bearer <token>` (admission
/// reads it there, and it never goes upstream); `openai-insecure-api-key.<key>` becomes
/// `authorization: Bearer <key>` (the provider's key, sent upstream as a header). A header the
/// client set itself wins. The other entries (`realtime`, …) stay, to be offered upstream.
pub fn take_protocol_credentials(headers: &mut HeaderMap) {
    let offered = offered_protocols(headers);
    if offered.is_empty() {
        return;
    }
    let mut kept = Vec::with_capacity(offered.len());
    for entry in offered {
        let moved = [
            (GATEWAY_TOKEN_PROTOCOL, "cf-aig-authorization"),
            (OPENAI_KEY_PROTOCOL, "authorization"),
        ]
        .into_iter()
        .find_map(|(prefix, name)| Some((entry.strip_prefix(prefix)?, name)));
        match moved {
            Some((secret, name)) => {
                if !headers.contains_key(name)
                    && let Ok(value) = HeaderValue::from_str(&format!("Bearer {secret}"))
                {
                    headers.insert(name, value);
                }
            }
            None => kept.push(entry),
        }
    }
    headers.remove(header::SEC_WEBSOCKET_PROTOCOL);
    if !kept.is_empty()
        && let Ok(value) = HeaderValue::from_str(&kept.join(", "))
    {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
}

/// The subprotocols a handshake offers, in order.
pub fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The key the 101 answers, once the handshake is checked: version 13, a key, no body (an
/// upgrade never carries one; refusing it keeps body bytes from being read as frames).
pub fn client_key(headers: &HeaderMap) -> Result<HeaderValue, GatewayError> {
    let refused = |why: &str| {
        GatewayError::new(
            ErrorCode::InvalidHeader,
            format!("Invalid WebSocket handshake: {why}"),
        )
    };
    if !headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|value| has_token(value, "upgrade"))
    {
        return Err(refused("Connection must include Upgrade"));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        return Err(refused("Sec-WebSocket-Version must be 13"));
    }
    if headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length != "0")
    {
        return Err(refused("an upgrade request has no body"));
    }
    match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if !key.is_empty() && key.len() <= 64 => Ok(key.clone()),
        _ => Err(refused("Sec-WebSocket-Key is missing")),
    }
}

/// The 101 that switches the client's connection, answering `protocol` when one was agreed.
pub fn switching_protocols(key: &HeaderValue, protocol: Option<&HeaderValue>) -> Response {
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol.clone());
    }
    response
}

/// Whether a comma-separated header value lists `token` (case-insensitive).
fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .unwrap_or("")
        .split(',')
        .any(|entry| entry.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_protocol_list() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(
                "realtime, cf-aig-authorization.tgr_abc, openai-insecure-api-key.sk-1, openai-beta.realtime-v1",
            ),
        );
        take_protocol_credentials(&mut headers);
        assert_eq!(headers["cf-aig-authorization"], "Bearer tgr_abc");
        assert_eq!(headers["authorization"], "Bearer sk-1");
        assert_eq!(
            offered_protocols(&headers),
            ["realtime", "openai-beta.realtime-v1"]
        );
    }

    #[test]
    fn a_header_the_client_set_wins_and_a_list_of_credentials_leaves_nothing() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer sk-own"));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("openai-insecure-api-key.sk-other"),
        );
        take_protocol_credentials(&mut headers);
        assert_eq!(headers["authorization"], "Bearer sk-own");
        assert!(!headers.contains_key(header::SEC_WEBSOCKET_PROTOCOL));
    }

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        // RFC 6455 §1.3's example.
        let response =
            switching_protocols(&HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="), None);
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            response.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
