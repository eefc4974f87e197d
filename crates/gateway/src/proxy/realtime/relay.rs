//! One session's relay: every message read from one leg is written to the other before the
//! next is read from it, so a slow reader holds its sender back (one message in flight per
//! leg, never a queue), and nothing of the session is buffered beyond the frame codec's
//! buffers. Each leg answers its own pings (tungstenite) and is pinged on an interval; a close
//! from either side is passed to the other with its code; the gateway closes both sides itself
//! when the session is idle (1000), past its total time (1008), or when the server stops (1001).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use super::usage::SessionUsage;
use crate::clock::monotonic_now;

/// How long a closing leg gets to answer our close frame before its socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Close codes (RFC 6455 §7.4.1) the gateway sends itself.
pub const GOING_AWAY: u16 = 1001;
const NORMAL: u16 = 1000;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;
const INTERNAL: u16 = 1011;
/// Recorded (never sent) when a leg's connection ended without a close frame.
const ABNORMAL: u16 = 1006;
/// Recorded (never sent) for a close frame without a code.
const NO_STATUS: u16 = 1005;

/// A session's bounds: the gateway's settings, else the instance's `[websockets]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle: Duration,
    pub max_session: Duration,
    pub ping_interval: Duration,
}

impl Limits {
    pub fn of(
        instance: &crate::config::WebSocketsConfig,
        gateway: &crate::gateways::GatewaySettings,
    ) -> Limits {
        let or = |setting: Option<u64>, default: Duration| {
            setting.map_or(default, Duration::from_millis)
        };
        Limits {
            idle: or(gateway.idle_timeout_ms, instance.idle_timeout),
            max_session: or(gateway.max_session_ms, instance.max_session),
            ping_interval: or(gateway.ping_interval_ms, instance.ping_interval),
        }
    }
}

/// Who ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    Client,
    Upstream,
    Gateway,
}

impl ClosedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Client => "client",
            ClosedBy::Upstream => "upstream",
            ClosedBy::Gateway => "gateway",
        }
    }
}

/// What a session did, for its log row.
#[derive(Debug)]
pub struct Summary {
    /// Data messages (text and binary) from the client to the provider, and back.
    pub messages_in: u64,
    pub messages_out: u64,
    /// Their payload bytes.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The close code that ended the session (1005: a close without a code; 1006: a leg's
    /// connection ended without one).
    pub close_code: u16,
    pub close_reason: String,
    pub closed_by: ClosedBy,
    /// Set when the session ended on a failure rather than a close (for the row's `error`).
    pub error: Option<String>,
    /// Milliseconds from the session's start to the provider's first message.
    pub first_message_ms: Option<i64>,
}

impl Summary {
    /// A session that ended before it began relaying.
    pub fn failed(error: String) -> Summary {
        Summary {
            error: Some(error),
            ..Summary::new()
        }
    }

    fn new() -> Summary {
        Summary {
            messages_in: 0,
            messages_out: 0,
            bytes_in: 0,
            bytes_out: 0,
            close_code: ABNORMAL,
            close_reason: String::new(),
            closed_by: ClosedBy::Gateway,
            error: None,
            first_message_ms: None,
        }
    }
}

/// What woke the relay.
enum Event {
    Stop(u16, &'static str),
    Ping,
    FromClient(Option<Result<Message, WsError>>),
    FromUpstream(Option<Result<Message, WsError>>),
}

/// Relays until either side closes or a bound ends the session; usage is read from the
/// provider's text messages into `usage`. The sockets are the caller's, so it can write the
/// session's row before they close.
pub async fn run<C, U>(
    client: &mut WebSocketStream<C>,
    upstream: &mut WebSocketStream<U>,
    limits: Limits,
    closing: CancellationToken,
    usage: &mut SessionUsage,
) -> Summary
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let started = monotonic_now();
    let mut summary = Summary::new();
    let total = tokio::time::sleep_until(started + limits.max_session);
    let idle = tokio::time::sleep(limits.idle);
    let mut ping = tokio::time::interval_at(started + limits.ping_interval, limits.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(total, idle);
    loop {
        // Not biased: a client that always has a message ready must not starve the provider's
        // direction (or the reverse).
        let event = tokio::select! {
            () = closing.cancelled() => Event::Stop(GOING_AWAY, "tollgate: server shutting down"),
            () = &mut total => Event::Stop(POLICY, "tollgate: session time limit reached"),
            () = &mut idle => Event::Stop(NORMAL, "tollgate: session idle"),
            _ = ping.tick() => Event::Ping,
            message = client.next() => Event::FromClient(message),
            message = upstream.next() => Event::FromUpstream(message),
        };
        match event {
            Event::Stop(code, reason) => {
                summary.close_code = code;
                summary.close_reason = reason.to_owned();
                summary.closed_by = ClosedBy::Gateway;
                tokio::join!(
                    close(client, Some(code), reason),
                    close(upstream, Some(code), reason)
                );
                return summary;
            }
            Event::Ping => {
                let (to_client, to_upstream) = tokio::join!(
                    send(client, Message::Ping(Bytes::new()), limits.idle),
                    send(upstream, Message::Ping(Bytes::new()), limits.idle)
                );
                if let Err(error) = to_client {
                    return client_lost(summary, upstream, &error).await;
                }
                if let Err(error) = to_upstream {
                    return upstream_lost(summary, client, &error).await;
                }
            }
            Event::FromClient(message) => match message {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    summary.messages_in += 1;
                    summary.bytes_in += payload_len(&message);
                    idle.as_mut().reset(monotonic_now() + limits.idle);
                    if let Err(error) = send(upstream, message, limits.idle).await {
                        return upstream_lost(summary, client, &error).await;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    record_close(&mut summary, frame.as_ref(), ClosedBy::Client);
                    pass_close(client, upstream, frame).await;
                    return summary;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return client_failed(summary, client, upstream, &error).await,
                None => {
                    return client_lost(summary, upstream, &WsError::ConnectionClosed).await;
                }
            },
            Event::FromUpstream(message) => match message {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    summary.messages_out += 1;
                    summary.bytes_out += payload_len(&message);
                    if summary.first_message_ms.is_none() {
                        summary.first_message_ms =
                            Some(crate::convert::millis_i64(started.elapsed()));
                    }
                    if let Message::Text(text) = &message {
                        usage.observe(text.as_str());
                    }
                    idle.as_mut().reset(monotonic_now() + limits.idle);
                    if let Err(error) = send(client, message, limits.idle).await {
                        return client_lost(summary, upstream, &error).await;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    record_close(&mut summary, frame.as_ref(), ClosedBy::Upstream);
                    pass_close(upstream, client, frame).await;
                    return summary;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    return upstream_failed(summary, upstream, client, &error).await;
                }
                None => {
                    return upstream_lost(summary, client, &WsError::ConnectionClosed).await;
                }
            },
        }
    }
}

fn payload_len(message: &Message) -> u64 {
    u64::try_from(message.len()).unwrap_or(u64::MAX)
}

fn record_close(summary: &mut Summary, frame: Option<&CloseFrame>, by: ClosedBy) {
    summary.closed_by = by;
    match frame {
        Some(frame) => {
            summary.close_code = u16::from(frame.code);
            summary.close_reason = frame.reason.as_str().to_owned();
        }
        None => summary.close_code = NO_STATUS,
    }
}

/// `from` closed with `frame`: the other side gets the same frame, and both closes complete
/// (tungstenite answered `from`'s close already; it is flushed while `to` answers ours).
async fn pass_close<A, B>(
    from: &mut WebSocketStream<A>,
    to: &mut WebSocketStream<B>,
    frame: Option<CloseFrame>,
) where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let forward = async {
        let _ = tokio::time::timeout(CLOSE_WAIT, to.send(Message::Close(frame))).await;
        drain(to).await;
    };
    tokio::join!(forward, drain(from));
}

/// Sends a close frame (a code the protocol lets an endpoint send) and waits for the answer.
async fn close<S>(ws: &mut WebSocketStream<S>, code: Option<u16>, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = code.map(|code| CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    });
    let _ = tokio::time::timeout(CLOSE_WAIT, ws.send(Message::Close(frame))).await;
    drain(ws).await;
}

/// Reads (and drops) what a closing leg still sends until its close completes, for at most
/// [`CLOSE_WAIT`]: dropping a socket with unread bytes would reset the connection and could
/// lose the close frame on its way.
async fn drain<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        let _ = ws.flush().await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// One message to one leg, within `limit` (a reader that takes nothing for that long ends the
/// session rather than hold it open).
async fn send<S>(
    ws: &mut WebSocketStream<S>,
    message: Message,
    limit: Duration,
) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(limit, ws.send(message)).await {
        Ok(sent) => sent,
        Err(_) => Err(WsError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the peer took nothing for the idle timeout",
        ))),
    }
}

/// The client's connection ended without a close: the provider is told it went away.
async fn client_lost<U>(
    mut summary: Summary,
    upstream: &mut WebSocketStream<U>,
    error: &WsError,
) -> Summary
where
    U: AsyncRead + AsyncWrite + Unpin,
{
    summary.closed_by = ClosedBy::Client;
    summary.close_code = ABNORMAL;
    summary.error = Some(format!("client connection lost: {error}"));
    close(upstream, Some(GOING_AWAY), "client went away").await;
    summary
}

/// The provider's connection ended without a close: the client gets 1011.
async fn upstream_lost<C>(
    mut summary: Summary,
    client: &mut WebSocketStream<C>,
    error: &WsError,
) -> Summary
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    summary.closed_by = ClosedBy::Upstream;
    summary.close_code = ABNORMAL;
    summary.error = Some(format!("provider connection lost: {error}"));
    close(client, Some(INTERNAL), "provider connection lost").await;
    summary
}

/// The client broke the protocol or sent too big a message: it is closed with the reason, the
/// provider is told the client went away.
async fn client_failed<C, U>(
    mut summary: Summary,
    client: &mut WebSocketStream<C>,
    upstream: &mut WebSocketStream<U>,
    error: &WsError,
) -> Summary
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let Some(code) = failure_code(error) else {
        return client_lost(summary, upstream, error).await;
    };
    summary.closed_by = ClosedBy::Gateway;
    summary.close_code = code;
    summary.error = Some(format!("client: {error}"));
    tokio::join!(
        close(client, Some(code), "tollgate: message refused"),
        close(upstream, Some(GOING_AWAY), "client went away")
    );
    summary
}

/// The provider broke the protocol or sent too big a message: the client gets the code.
async fn upstream_failed<U, C>(
    mut summary: Summary,
    upstream: &mut WebSocketStream<U>,
    client: &mut WebSocketStream<C>,
    error: &WsError,
) -> Summary
where
    U: AsyncRead + AsyncWrite + Unpin,
    C: AsyncRead + AsyncWrite + Unpin,
{
    let Some(code) = failure_code(error) else {
        return upstream_lost(summary, client, error).await;
    };
    summary.closed_by = ClosedBy::Gateway;
    summary.close_code = code;
    summary.error = Some(format!("provider: {error}"));
    tokio::join!(
        close(upstream, Some(code), "tollgate: message refused"),
        close(client, Some(code), "provider message refused")
    );
    summary
}

/// The close code for a leg that broke the rules (too big a message: 1009, a protocol or
/// UTF-8 error: 1002/1007); `None` when its connection simply failed.
fn failure_code(error: &WsError) -> Option<u16> {
    match error {
        // The connection ended without a close: lost, not a broken rule.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Capacity(_) => Some(TOO_BIG),
        WsError::Protocol(_) => Some(1002),
        WsError::Utf8(_) => Some(1007),
        _ => None,
    }
}
