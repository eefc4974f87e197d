//! Stage (c): slowloris and slow-body connections (headers or a body trickled a few bytes at a
//! time) held open while a legitimate client keeps sending requests. Counts the probe's errors,
//! its latency against a quiet baseline, and how many slow connections the gateway closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::observe::sample;
use super::procs::Gateway;
use super::report::Section;
use super::traffic::{chat, chat_body, chat_url, percentile_ms};

const TRICKLE_EVERY: Duration = Duration::from_secs(2);
const PROBE_RATE: u32 = 10;

/// What a slow connection sends before trickling: a request head that never ends, or a whole
/// head announcing a body that then arrives a byte at a time.
#[derive(Clone, Copy)]
enum Slow {
    Headers,
    Body,
}

/// Holds one slow connection for `hold`; returns when the gateway closed it, if it did.
async fn slow_connection(addr: SocketAddr, kind: Slow, hold: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let opening = match kind {
        Slow::Headers => "GET /healthz HTTP/1.1\r\nHost: soak\r\n".to_owned(),
        Slow::Body => "POST /v1/local/default/openai/chat/completions HTTP/1.1\r\nHost: soak\r\n\
             authorization: Bearer sk-soak\r\ncontent-type: application/json\r\n\
             content-length: 100000\r\n\r\n{"
            .to_owned(),
    };
    if stream.write_all(opening.as_bytes()).await.is_err() {
        return Some(started.elapsed());
    }
    let mut scratch = [0u8; 4096];
    let mut count = 0u64;
    while started.elapsed() < hold {
        // A read that returns (EOF, error, or a 408/400 answer) means the gateway gave up on us.
        tokio::select! {
            read = stream.read(&mut scratch) => {
                let _ = read;
                return Some(started.elapsed());
            }
            () = tokio::time::sleep(TRICKLE_EVERY) => {}
        }
        count += 1;
        let more = match kind {
            Slow::Headers => format!("x-slow-{count}: {count}\r\n"),
            Slow::Body => " ".to_owned(),
        };
        if stream.write_all(more.as_bytes()).await.is_err() {
            return Some(started.elapsed());
        }
    }
    None
}

/// Sends `PROBE_RATE` requests a second for `length`; returns (errors, latencies).
async fn probe(gateway: &Gateway, length: Duration) -> (usize, Vec<Duration>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let url = chat_url(&gateway.base, "default");
    let body = chat_body("probe request from a legitimate client", false);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / PROBE_RATE);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < length {
        tick.tick().await;
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        tasks.spawn(async move { chat(&http, &url, &body, &[], None).await });
    }
    let (mut errors, mut latencies) = (0, Vec::new());
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(answer)) if answer.status == 200 && answer.clean_end => {
                latencies.push(answer.elapsed);
            }
            _ => errors += 1,
        }
    }
    (errors, latencies)
}

pub async fn run(
    gateway: &Gateway,
    slow_headers: usize,
    slow_bodies: usize,
) -> anyhow::Result<Section> {
    let mut section = Section::new(&format!(
        "(c) {slow_headers} slowloris + {slow_bodies} slow-body connections vs a {PROBE_RATE} req/s probe"
    ));
    let addr: SocketAddr = gateway.base.trim_start_matches("http://").parse()?;
    let (quiet_errors, mut quiet) = probe(gateway, Duration::from_secs(10)).await;

    let hold = Duration::from_secs(60);
    let opened = Arc::new(AtomicUsize::new(0));
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..slow_headers + slow_bodies {
        let kind = if i < slow_headers {
            Slow::Headers
        } else {
            Slow::Body
        };
        let opened = Arc::clone(&opened);
        slow.spawn(async move {
            opened.fetch_add(1, Ordering::Relaxed);
            slow_connection(addr, kind, hold)
                .await
                .map(|closed| (kind, closed))
        });
    }
    // Let the slow connections get established and start trickling before probing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during_sample = sample(gateway.pid, 0.0)?;
    let (errors, mut during) = probe(gateway, Duration::from_secs(40)).await;
    let mut closed_headers = Vec::new();
    let mut closed_bodies = Vec::new();
    while let Some(done) = slow.join_next().await {
        match done {
            Ok(Some((Slow::Headers, closed))) => closed_headers.push(closed),
            Ok(Some((Slow::Body, closed))) => closed_bodies.push(closed),
            _ => {}
        }
    }
    let quiet_p99 = percentile_ms(&mut quiet, 0.99);
    let during_p99 = percentile_ms(&mut during, 0.99);
    section.row(
        "probe errors, quiet / under attack",
        format!("{quiet_errors} / {errors}"),
    );
    section.row(
        "probe p99, quiet / under attack (ms)",
        format!("{quiet_p99:.1} / {during_p99:.1}"),
    );
    section.row("probe requests under attack", errors + during.len());
    section.row("gateway fds while attacked", during_sample.fds);
    let describe = |closed: &mut Vec<Duration>, total: usize| {
        if closed.is_empty() {
            return format!("0/{total} (all held {} s)", hold.as_secs());
        }
        let median = percentile_ms(closed, 0.5) / 1000.0;
        let max = percentile_ms(closed, 1.0) / 1000.0;
        format!(
            "{}/{total}, after {median:.1} s median, {max:.1} s max",
            closed.len()
        )
    };
    section.row(
        "slowloris connections closed by the gateway",
        describe(&mut closed_headers, slow_headers),
    );
    section.row(
        "slow-body connections closed by the gateway",
        describe(&mut closed_bodies, slow_bodies),
    );
    Ok(section)
}
