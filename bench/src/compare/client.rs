//! A small HTTP/1.1 keep-alive client on hyper's connection API, for what wrk cannot measure:
//! the arrival time of each SSE event, cache status headers, fixed-rate (open-loop) load.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

/// One request, sent the same way to every target.
#[derive(Clone)]
pub struct Call {
    pub addr: SocketAddr,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Call {
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.headers.push((name, value.into()));
        self
    }

    fn request(&self) -> anyhow::Result<http::Request<Full<Bytes>>> {
        let mut builder = http::Request::post(self.path.as_str())
            .header(http::header::HOST, self.addr.to_string())
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers {
            builder = builder.header(*name, value.as_str());
        }
        Ok(builder.body(Full::new(self.body.clone()))?)
    }
}

/// A whole (non-streaming) answer.
pub struct Answer {
    pub elapsed: Duration,
    pub cache_status: Option<String>,
}

/// A streamed answer: when its first body byte and each SSE event arrived, from the send.
pub struct Streamed {
    pub first_byte: Duration,
    pub events: Vec<Duration>,
    /// The stream ended with OpenAI's `[DONE]`.
    pub complete: bool,
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        // Without it a small request can wait for a delayed ACK (40 ms on Linux).
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection { sender })
    }

    /// Sends and reads the whole body; a status other than 200 is an error.
    pub async fn send(&mut self, call: &Call) -> anyhow::Result<Answer> {
        let request = call.request()?;
        self.sender.ready().await?;
        let started = Instant::now();
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let cache_status = response
            .headers()
            .get("cf-aig-cache-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.into_body().collect().await?.to_bytes();
        let elapsed = started.elapsed();
        anyhow::ensure!(
            status == http::StatusCode::OK,
            "{} answered {status}: {}",
            call.path,
            String::from_utf8_lossy(&body)
        );
        Ok(Answer {
            elapsed,
            cache_status,
        })
    }

    /// Sends a streaming request and timestamps every SSE event (each ends with a blank line).
    pub async fn stream(&mut self, call: &Call) -> anyhow::Result<Streamed> {
        let request = call.request()?;
        self.sender.ready().await?;
        let started = Instant::now();
        let response = self.sender.send_request(request).await?;
        anyhow::ensure!(
            response.status() == http::StatusCode::OK,
            "{} answered {}",
            call.path,
            response.status()
        );
        let mut body = response.into_body();
        let mut first_byte = None;
        let mut events = Vec::new();
        let mut previous = 0u8;
        let mut tail: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            let at = started.elapsed();
            first_byte.get_or_insert(at);
            for &byte in data.iter() {
                if byte == b'\n' && previous == b'\n' {
                    events.push(at);
                }
                previous = byte;
            }
            tail.extend_from_slice(&data);
            let keep = tail.len().saturating_sub(32);
            tail.drain(..keep);
        }
        Ok(Streamed {
            first_byte: first_byte.context("the stream had no body")?,
            events,
            complete: tail.windows(6).any(|w| w == b"[DONE]"),
        })
    }
}
