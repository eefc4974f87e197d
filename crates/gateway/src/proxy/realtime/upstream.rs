//! The provider's side of a session: its `wss://` (or, for a local provider, `ws://`) URL,
//! made from the same base URL the HTTP routes use, a connection opened by the provider's own
//! client (lookup, egress, connect timeout, TLS offering HTTP/1.1 only), and the client
//! handshake.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::proxy::connect::ConnectTimedOut;
use crate::proxy::{UpstreamClient, causes, deepest_cause};

/// The byte stream under an upstream session: plain TCP or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub type UpstreamSocket = WebSocketStream<Box<dyn Io>>;

/// Why no session was opened with the provider.
pub enum ConnectError {
    /// The provider answered the handshake with something other than 101: passed to the client
    /// as it is, like any provider answer.
    Refused(http::Response<Option<Vec<u8>>>),
    /// No answer in time.
    TimedOut,
    /// No connection, TLS or handshake failed; the text names the cause (for the log row).
    Failed(String),
}

/// What is needed to open the upstream leg.
pub struct Target<'a> {
    /// The provider's HTTP URL for the route (`https://api.openai.com/v1/realtime?model=…`).
    pub http_url: &'a str,
    /// The headers sent upstream, already filtered, with the provider key.
    pub headers: HeaderMap,
    /// The subprotocols the client offered (credentials already taken out).
    pub protocols: &'a [String],
    pub config: WebSocketConfig,
    /// The provider's client: its connector opens the connection, within its connect timeout;
    /// the handshake's answer gets `answer_timeout`.
    pub client: &'a UpstreamClient,
    pub answer_timeout: Duration,
}

/// The provider's WebSocket URL for an HTTP one: `https` → `wss`, `http` → `ws`.
pub fn ws_url(http_url: &str) -> Option<String> {
    if let Some(rest) = http_url.strip_prefix("https://") {
        Some(format!("wss://{rest}"))
    } else {
        http_url
            .strip_prefix("http://")
            .map(|rest| format!("ws://{rest}"))
    }
}

/// Opens the provider's side: the session, and the provider's 101 (its headers, its
/// subprotocol).
pub async fn connect(
    target: Target<'_>,
) -> Result<(UpstreamSocket, http::Response<Option<Vec<u8>>>), ConnectError> {
    let url = ws_url(target.http_url)
        .ok_or_else(|| ConnectError::Failed("the provider URL is not http(s)".into()))?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|error| ConnectError::Failed(format!("provider URL: {error}")))?;
    for (name, value) in &target.headers {
        // The handshake's own headers are tungstenite's to set.
        if !name.as_str().starts_with("sec-websocket-") {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    if !target.protocols.is_empty()
        && let Ok(value) = HeaderValue::from_str(&target.protocols.join(", "))
    {
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let io = open(target.client, target.http_url).await?;
    let handshake = tokio_tungstenite::client_async_with_config(request, io, Some(target.config));
    match tokio::time::timeout(target.answer_timeout, handshake).await {
        Err(_) => Err(ConnectError::TimedOut),
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(WsError::Http(response))) => Err(ConnectError::Refused(*response)),
        Ok(Err(error)) => Err(ConnectError::Failed(format!(
            "WebSocket handshake with the provider failed: {error}"
        ))),
    }
}

/// The connection under the session: the provider client's own connector (its lookup, egress
/// proxy or bind address, connect timeout, no Nagle, and TLS for `https`).
async fn open(client: &UpstreamClient, http_url: &str) -> Result<Box<dyn Io>, ConnectError> {
    let uri: http::Uri = http_url
        .parse()
        .map_err(|_| ConnectError::Failed("the provider URL does not parse".into()))?;
    let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
    match client.open_socket(uri).await {
        Ok(io) => Ok(Box::new(io)),
        Err(error) if causes(error.as_ref()).any(|c| c.is::<ConnectTimedOut>()) => {
            Err(ConnectError::TimedOut)
        }
        Err(error) => Err(ConnectError::Failed(format!(
            "could not connect to {authority}: {}",
            deepest_cause(error.as_ref())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(
            ws_url("https://api.openai.com/v1/realtime?model=m").as_deref(),
            Some("wss://api.openai.com/v1/realtime?model=m")
        );
        assert_eq!(
            ws_url("http://127.0.0.1:9/v1/realtime").as_deref(),
            Some("ws://127.0.0.1:9/v1/realtime")
        );
        assert_eq!(ws_url("ftp://x"), None);
    }
}
