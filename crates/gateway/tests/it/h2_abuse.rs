//! HTTP/2 abuse: a client that opens streams and resets them at once (reliability plan LD-10,
//! CVE-2023-44487 "rapid reset") must not turn them into upstream requests, and one that floods
//! PING and SETTINGS frames without reading the answers (LD-11) must not grow the server's
//! memory; neither keeps its connection for ever, and other clients are served throughout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use h2::Reason;
use http::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestGateway, chat_body, rss_kib};
use tollgate_gateway::clock::monotonic_now;

const HANG_GUARD: Duration = Duration::from_secs(30);
const RESETS: usize = 5_000;

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own HTTP/2 connection driver and writer, which end with the test"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_is_cut_off_and_reaches_no_upstream() {
    let gw = TestGateway::start().await;
    // HTTP/2 with prior knowledge on the plain port, as h2load and attack tools speak it.
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut client = client;
    let attack = tokio::time::timeout(HANG_GUARD, async {
        for sent in 0..RESETS {
            // The server ends the connection (GOAWAY) once it sees the pattern.
            let Ok(ready) = client.ready().await else {
                return sent;
            };
            client = ready;
            let request = Request::post(format!(
                "http://{}/v1/local/default/openai/chat/completions",
                gw.addr
            ))
            .header("content-type", "application/json")
            .body(())
            .unwrap();
            let Ok((_, mut body)) = client.send_request(request, false) else {
                return sent;
            };
            body.send_reset(Reason::CANCEL);
        }
        RESETS
    })
    .await
    .expect("the attack loop ends");
    assert!(attack < RESETS, "the server let {RESETS} resets through");
    tokio::time::timeout(HANG_GUARD, connection)
        .await
        .expect("the server closes the attacking connection")
        .unwrap()
        .expect_err("with an error (GOAWAY), not a clean end");
    // Reset streams never had a body: none became an upstream request.
    assert_eq!(gw.mock.request_count(), 0);
    // Everyone else is still served. The attack's streams are dropped wherever their handlers
    // are, also midway through creating the `default` gateway; that once left the store and the
    // in-memory map apart and this request a 500 (`gateways::registry` tests hold the cause).
    let response = gw
        .http
        .post(gw.url("/v1/local/default/openai/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The connection-level write-stall bound is twice this (docs/configuration.md).
const WRITE_STALL_MS: u64 = 500;
const FLOODERS: usize = 4;
const PINGS: usize = 100_000;
const SETTINGS_FRAMES: usize = 10_000;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

fn ping(payload: u64) -> Vec<u8> {
    frame(0x6, 0, 0, &payload.to_be_bytes())
}

/// The preface, one request (so no "no request head yet" deadline can be what ends the
/// connection), then PINGs with a SETTINGS frame after every tenth.
fn flood() -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(frame(0x4, 0, 0, &[]));
    // GET /healthz on stream 1 (END_STREAM | END_HEADERS); HPACK: indexed :method GET and
    // :scheme http, literal :path and :authority.
    let mut head = vec![0x82, 0x86, 0x04, 8];
    head.extend_from_slice(b"/healthz");
    head.extend_from_slice(&[0x01, 9]);
    head.extend_from_slice(b"localhost");
    bytes.extend(frame(0x1, 0x5, 1, &head));
    // SETTINGS_ENABLE_PUSH = 0: harmless, but each one must be acknowledged.
    let settings = frame(0x4, 0, 0, &[0, 2, 0, 0, 0, 0]);
    for i in 0..PINGS {
        bytes.extend(ping(i as u64));
        if i % (PINGS / SETTINGS_FRAMES) == 0 {
            bytes.extend_from_slice(&settings);
        }
    }
    bytes
}

/// One client that writes `flood()` and then PINGs until a write fails, never reading.
struct Flooder {
    written: Arc<AtomicU64>,
    writer: tokio::task::JoinHandle<std::io::Error>,
    reader: tokio::net::tcp::OwnedReadHalf,
}

impl Flooder {
    #[expect(
        clippy::disallowed_methods,
        reason = "the test's own HTTP/2 connection driver and writer, which end with the test"
    )]
    async fn start(addr: SocketAddr, flood: Arc<Vec<u8>>) -> Flooder {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // A small receive window, so the server's answers back up soon.
        socket.set_recv_buffer_size(4096).unwrap();
        let (reader, mut writer) = socket.connect(addr).await.unwrap().into_split();
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let writer = tokio::spawn(async move {
            let more = ping(u64::MAX);
            let mut bytes: &[u8] = &flood;
            loop {
                if bytes.is_empty() {
                    bytes = &more;
                }
                match writer.write(bytes).await {
                    Ok(0) => return std::io::ErrorKind::WriteZero.into(),
                    Ok(n) => {
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                        bytes = &bytes[n..];
                    }
                    Err(error) => return error,
                }
            }
        });
        Flooder {
            written,
            writer,
            reader,
        }
    }
}

async fn healthz_status(gw: &TestGateway) -> u16 {
    let response = gw.http.get(gw.url("/healthz")).send().await.unwrap();
    response.status().as_u16()
}

/// LD-11 (Envoy's `Http2FloodMitigationTest`): clients flooding PING and SETTINGS frames, each
/// of which h2 must acknowledge, while never reading the acknowledgements. h2 answers one at a
/// time and reads no further frame until the answer fits its 16 KiB write buffer, so the flood
/// backs up into the sockets instead of the process; a connection whose socket then takes no
/// byte for twice `client_write_stall_timeout_ms` is closed (without that guard it stays open
/// for good: hyper's keep-alive timeout only queues a GOAWAY that cannot be written either).
/// Others are served throughout. Runs in a process of its own, so that the RSS it measures is
/// its own and not that of the tests beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_and_settings_flood_from_a_client_that_never_reads_is_cut_off() {
    const ALONE: &str = "TOLLGATE_TEST_ALONE";
    if std::env::var_os(ALONE).is_none() {
        let name = "h2_abuse::a_ping_and_settings_flood_from_a_client_that_never_reads_is_cut_off";
        let run = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture"])
            .env(ALONE, "1")
            .output()
            .await
            .unwrap();
        let output = String::from_utf8_lossy(&run.stdout) + String::from_utf8_lossy(&run.stderr);
        eprintln!("{output}");
        assert!(run.status.success() && output.contains("1 passed"));
        return;
    }
    let gw = TestGateway::with_config(
        "",
        &format!("[limits]\nclient_write_stall_timeout_ms = {WRITE_STALL_MS}\n"),
    )
    .await;
    assert_eq!(healthz_status(&gw).await, 200);
    // Built before the baseline: 1.8 MiB of the test's own.
    let flood = Arc::new(flood());
    let before = rss_kib();
    let started = monotonic_now();
    let mut flooders = Vec::new();
    for _ in 0..FLOODERS {
        flooders.push(Flooder::start(gw.addr, flood.clone()).await);
    }
    // The server is reading the floods (more than the sockets hold unread has gone out) ...
    let read_by_server = 1024 * 1024;
    while flooders
        .iter()
        .any(|f| f.written.load(Ordering::Relaxed) < read_by_server)
    {
        assert!(started.elapsed() < HANG_GUARD, "the floods were not read");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ... and everyone else is served meanwhile.
    assert_eq!(healthz_status(&gw).await, 200);
    let mut peak = rss_kib();
    while flooders.iter().any(|f| !f.writer.is_finished()) {
        assert!(
            started.elapsed() < HANG_GUARD,
            "a flooding connection is still open; RSS {before} KiB before, {peak} KiB peak"
        );
        peak = peak.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let closed_after = started.elapsed();
    let mut figures = Vec::new();
    for flooder in flooders {
        let written = flooder.written.load(Ordering::Relaxed);
        let error = flooder.writer.await.unwrap();
        figures.push(written / 1024);
        // What the server still had queued may arrive first; then the connection ends.
        let mut reader = flooder.reader;
        let mut sink = vec![0; 64 * 1024];
        tokio::time::timeout(HANG_GUARD, async {
            while let Ok(1..) = reader.read(&mut sink).await {}
        })
        .await
        .unwrap_or_else(|_| panic!("the connection ended (write error: {error})"));
    }
    let growth = peak.saturating_sub(before);
    eprintln!(
        "LD-11: {FLOODERS} flooders all cut after {closed_after:.1?}; each wrote {figures:?} KiB; \
         RSS {before} KiB before, peak {peak} KiB (+{growth} KiB, {} KiB per connection)",
        growth / FLOODERS as u64
    );
    assert!(growth <= FLOODERS as u64 * 1024, "RSS grew {growth} KiB");
    assert_eq!(healthz_status(&gw).await, 200);
}
