//! The WebSocket scenarios (docs/websockets.md): the latency Tollgate adds to each relayed frame,
//! against the mock's realtime endpoint reached directly, and the memory an idle session holds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{WebSocketStream, client_async};

type Socket = WebSocketStream<TcpStream>;

/// The mock answers any text frame other than its scripted ones with one `mock.echo` frame.
const FRAME: &str = r#"{"type":"input_audio_buffer.append","audio":"AAAAAAAAAAAAAAAAAAAAAAAA"}"#;

/// Where a realtime session is opened, and with what credentials.
pub struct Endpoint {
    pub addr: SocketAddr,
    /// Path and query, e.g. `/v1/realtime?model=gpt-realtime`.
    pub path: String,
}

impl Endpoint {
    /// Opens a session and reads the mock's `session.created`.
    pub async fn open(&self) -> anyhow::Result<Socket> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connect to {}", self.addr))?;
        stream.set_nodelay(true)?;
        let mut request = format!("ws://{}{}", self.addr, self.path).into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", "Bearer sk-bench".parse()?);
        let (mut socket, _) = client_async(request, stream)
            .await
            .with_context(|| format!("the WebSocket handshake at {}", self.path))?;
        let first = next_text(&mut socket).await?;
        anyhow::ensure!(
            first.contains("session.created"),
            "the session did not start with session.created: {first}"
        );
        Ok(socket)
    }
}

async fn next_text(socket: &mut Socket) -> anyhow::Result<String> {
    loop {
        match socket.next().await.context("the session ended")?? {
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Close(frame) => anyhow::bail!("the session was closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Round trips of one text frame echoed by the mock, on one session, after `warmup` unmeasured.
pub async fn round_trips(
    endpoint: &Endpoint,
    warmup: usize,
    rounds: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut socket = endpoint.open().await?;
    let mut measured = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let sent = Instant::now();
        socket.send(Message::text(FRAME)).await?;
        let echo = next_text(&mut socket).await?;
        let elapsed = sent.elapsed();
        anyhow::ensure!(echo.contains("mock.echo"), "not an echo: {echo}");
        if i >= warmup {
            measured.push(elapsed);
        }
    }
    socket.close(None).await?;
    Ok(measured)
}

/// Opens `count` sessions, `batch` at a time; they stay open as long as the sockets are held.
pub async fn open_idle(
    endpoint: &Endpoint,
    count: usize,
    batch: usize,
) -> anyhow::Result<Vec<Socket>> {
    let mut sockets = Vec::with_capacity(count);
    while sockets.len() < count {
        let opening = (count - sockets.len()).min(batch);
        let opened = futures_util::future::join_all((0..opening).map(|_| endpoint.open())).await;
        for socket in opened {
            sockets.push(socket?);
        }
    }
    Ok(sockets)
}

/// Closes every session with a close frame, so the gateway writes their rows.
pub async fn close_all(sockets: Vec<Socket>) {
    let closing = sockets.into_iter().map(|mut socket| async move {
        let _ = socket.close(None).await;
        // Read until the close handshake completes (or the connection ends).
        while let Some(Ok(_)) = socket.next().await {}
    });
    futures_util::future::join_all(closing).await;
}
