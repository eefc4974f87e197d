//! The upstream leg alone (issue 18): reqwest, as the proxy uses it, against hyper-util's legacy
//! client, sending the proxy's request (a small chat completion) to the mock upstream and reading
//! the whole answer. Reports this process's CPU time per request (utime+stime from
//! /proc/self/stat), so the mock, running as its own process, is not counted. One runtime thread,
//! `--concurrency` requests in flight. Under callgrind, two runs with different `--requests`
//! give the instructions per request (bench/PROFILE.md, fourth pass).
//!
//! Run: `tollgate-mock --listen 127.0.0.1:0 --no-record` (prints its address), then
//! `target/release/upstream-client --upstream http://127.0.0.1:PORT --client reqwest|hyper`

#![expect(
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a benchmark: real clock, statistics in f64"
)]

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const BODY: &[u8] = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How much does a gateway add to each request?"}]}"#;

enum Upstream {
    Reqwest(reqwest::Client),
    Hyper(Box<HyperClient<HttpConnector, Full<Bytes>>>),
}

impl Upstream {
    fn new(kind: &str) -> anyhow::Result<Upstream> {
        match kind {
            // As proxy/client.rs builds it, minus TLS roots and the custom resolver (the
            // address is an IP, so neither runs).
            "reqwest" => Ok(Upstream::Reqwest(
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .tcp_nodelay(true)
                    .pool_max_idle_per_host(64)
                    .build()?,
            )),
            "hyper" => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                Ok(Upstream::Hyper(Box::new(
                    HyperClient::builder(TokioExecutor::new())
                        .pool_max_idle_per_host(64)
                        .build(connector),
                )))
            }
            other => anyhow::bail!("--client reqwest|hyper, not {other}"),
        }
    }

    async fn send(&self, url: &str) -> anyhow::Result<usize> {
        match self {
            Upstream::Reqwest(client) => {
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("authorization", "Bearer sk-bench")
                    .body(Bytes::from_static(BODY))
                    .send()
                    .await?;
                anyhow::ensure!(response.status().is_success(), "{}", response.status());
                Ok(response.bytes().await?.len())
            }
            Upstream::Hyper(client) => {
                let request = http::Request::post(url)
                    .header("content-type", "application/json")
                    .header("authorization", "Bearer sk-bench")
                    .body(Full::new(Bytes::from_static(BODY)))?;
                let response = client.request(request).await?;
                anyhow::ensure!(response.status().is_success(), "{}", response.status());
                Ok(response.into_body().collect().await?.to_bytes().len())
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    // reqwest is built without a default crypto provider (as in the gateway).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let (mut upstream, mut kind, mut requests, mut concurrency) =
        (None, "reqwest".to_owned(), 20_000usize, 8usize);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--upstream" => upstream = Some(value),
            "--client" => kind = value,
            "--requests" => requests = value.parse()?,
            "--concurrency" => concurrency = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    let upstream = upstream.context("--upstream http://HOST:PORT (a tollgate-mock)")?;
    let url = format!("{upstream}/v1/chat/completions");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = std::sync::Arc::new(Upstream::new(&kind)?);
        // Warm-up: connections opened, pools filled.
        run(&client, &url, concurrency * 50, concurrency).await?;
        let cpu = cpu_time()?;
        let started = Instant::now();
        run(&client, &url, requests, concurrency).await?;
        let wall = started.elapsed();
        let cpu = cpu_time()? - cpu;
        println!(
            "client={kind} requests={requests} concurrency={concurrency} req/s={:.0} cpu_us_per_request={:.2}",
            requests as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / requests as f64
        );
        anyhow::Ok(())
    })
}

/// `requests` requests, `concurrency` at a time, on this thread.
async fn run(
    client: &std::sync::Arc<Upstream>,
    url: &str,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (client, url) = (client.clone(), url.to_owned());
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        tasks.spawn(async move {
            for _ in 0..share {
                client.send(&url).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// utime + stime of this process.
fn cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("short /proc stat")?.parse()?)
    };
    // After ')' field 3 is index 0: utime (14) and stime (15) are 11 and 12; 100 ticks a second
    // on Linux (CLK_TCK).
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}
