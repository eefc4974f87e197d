//! The provider's side of a session: its `wss://` (or, for a local provider, `ws://`) URL,
//! made from the same base URL the HTTP routes use, a TCP connection bounded in time, TLS
//! with rustls (ring, the system's trust store, HTTP/1.1 only), and the client handshake.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

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
    /// Bounds the TCP connection and TLS; the handshake's answer gets `answer_timeout`.
    pub connect_timeout: Duration,
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
    let uri = request.uri().clone();
    let host = uri
        .host()
        .ok_or_else(|| ConnectError::Failed("the provider URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
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
    let io = tokio::time::timeout(target.connect_timeout, open(&host, port, tls))
        .await
        .map_err(|_| ConnectError::TimedOut)??;
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

/// TCP (no Nagle: a realtime frame must not wait) and, for `wss`, TLS.
async fn open(host: &str, port: u16, tls: bool) -> Result<Box<dyn Io>, ConnectError> {
    let failed = |what: &str, error: std::io::Error| {
        ConnectError::Failed(format!("{what} {host}:{port}: {error}"))
    };
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|error| failed("could not connect to", error))?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(Box::new(tcp));
    }
    let config = tls_config().map_err(ConnectError::Failed)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|error| ConnectError::Failed(format!("TLS name {host}: {error}")))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|error| failed("TLS with", error))?;
    Ok(Box::new(stream))
}

/// rustls with ring and the system's trust store (as the upstream HTTP clients), made once:
/// loading the platform's roots is not a per-session cost. HTTP/1.1 only, since the
/// WebSocket handshake is an HTTP/1.1 upgrade.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let made = CONFIG.get_or_init(|| {
        use rustls_platform_verifier::BuilderVerifierExt;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_platform_verifier()
            .map_err(|error| error.to_string())?
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    });
    made.clone().map_err(|error| format!("TLS setup: {error}"))
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
