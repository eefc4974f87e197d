//! What request logging costs per request (issue 3): the same requests through a gateway with
//! logs on and with logs off, sequentially (latency) and 32 at a time (throughput), plus the
//! spool's begin+end barrier alone.
//!
//! Run: `cargo run --release -p tollgate-bench --bin log-overhead`

#![expect(
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a benchmark: real clock, plain load tasks, statistics in f64"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_bench::{Bench, summarize};
use tollgate_gateway::logs::{LogBegin, LogEnd};

const WARMUP: usize = 500;
const SEQUENTIAL: usize = 5_000;
const CONCURRENCY: usize = 32;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(5);
const BARRIER_ROUNDS: usize = 20_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bench = Bench::start().await?;
    let admin = reqwest::Client::new();
    admin
        .post(format!(
            "{}/client/v4/accounts/local/ai-gateway/gateways",
            bench.gateway
        ))
        .bearer_auth("bench-admin-token-0123456")
        .json(&serde_json::json!({"id": "nolog", "collect_logs": false}))
        .send()
        .await?
        .error_for_status()?;
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What does logging cost per request?"}],
    }))?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    println!(
        "request logging overhead (mock upstream, zero delay, non-streaming chat completions)"
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>12}",
        "gateway", "p50 µs", "p99 µs", "mean µs", "req/s @32"
    );
    for gateway in ["nolog", "default"] {
        let url = format!(
            "{}/v1/local/{gateway}/openai/chat/completions",
            bench.gateway
        );
        for _ in 0..WARMUP {
            send(&http, &url, &body).await?;
        }
        let mut samples = Vec::with_capacity(SEQUENTIAL);
        for _ in 0..SEQUENTIAL {
            let started = Instant::now();
            send(&http, &url, &body).await?;
            samples.push(started.elapsed());
        }
        let latency = summarize(samples);
        let rate = throughput(&http, &url, &body).await?;
        let label = if gateway == "nolog" {
            "logs off"
        } else {
            "logs on"
        };
        println!(
            "{label:<10} {:>10.1} {:>10.1} {:>10.1} {:>12.0}",
            latency.p50_us, latency.p99_us, latency.mean_us, rate
        );
    }
    barrier(&bench).await?;
    Ok(())
}

async fn send(http: &reqwest::Client, url: &str, body: &[u8]) -> anyhow::Result<()> {
    let response = http
        .post(url)
        .header("authorization", "Bearer sk-bench")
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await?
        .error_for_status()?;
    response.bytes().await?;
    Ok(())
}

async fn throughput(http: &reqwest::Client, url: &str, body: &[u8]) -> anyhow::Result<f64> {
    let deadline = Instant::now() + THROUGHPUT_WINDOW;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, url, body) = (http.clone(), url.to_owned(), body.to_vec());
        workers.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                if send(&http, &url, &body).await.is_ok() {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// The begin and end records alone: what a logged request waits for, sequentially and with
/// 32 requests sharing group commits.
async fn barrier(bench: &Bench) -> anyhow::Result<()> {
    let pipeline = bench.state.logs().clone();
    let instance = pipeline.instance_id().to_owned();
    let record = move |i: usize| {
        let id = format!("bench-{i}");
        let begin = LogBegin {
            id: id.clone(),
            instance_id: instance.clone(),
            account_id: "local".into(),
            gateway_id: "bench".into(),
            created_at_ms: 0,
            event_id: None,
            provider: "openai".into(),
            model: Some("gpt-4o-mini".into()),
            path: "chat/completions".into(),
            method: "POST".into(),
            metadata: None,
            step: None,
            request_content_type: Some("application/json".into()),
            request_size: 120,
            client_ip: Some("127.0.0.1".into()),
            user_agent: None,
            keep_payload: true,
            request_headers: vec![("content-type".into(), "application/json".into())],
            request_head_complete: true,
            trace_id: None,
        };
        let end = LogEnd {
            id,
            status_code: Some(200),
            success: true,
            attempts: 1,
            ..LogEnd::default()
        };
        (begin, end)
    };
    let body = vec![b'x'; 512];
    let mut samples = Vec::with_capacity(BARRIER_ROUNDS);
    for i in 0..BARRIER_ROUNDS {
        let (begin, end) = record(i);
        let started = Instant::now();
        pipeline.begin(begin, body.clone()).await?;
        pipeline.end(end, body.clone()).await?;
        samples.push(started.elapsed());
    }
    let sequential = summarize(samples);
    let record = Arc::new(record);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let (pipeline, record, body) = (pipeline.clone(), record.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..BARRIER_ROUNDS / CONCURRENCY {
                let (begin, end) = record(BARRIER_ROUNDS + worker * BARRIER_ROUNDS + i);
                pipeline.begin(begin, body.clone()).await?;
                pipeline.end(end, body.clone()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let per_pair =
        started.elapsed().as_secs_f64() * 1e6 / (BARRIER_ROUNDS / CONCURRENCY * CONCURRENCY) as f64;
    println!();
    println!("spool barrier alone (begin + end, 512-byte bodies each, no fsync)");
    println!(
        "  sequential: p50 {:.1} µs, p99 {:.1} µs per request ({} requests)",
        sequential.p50_us, sequential.p99_us, sequential.count
    );
    println!(
        "  {CONCURRENCY} concurrent: {per_pair:.2} µs of wall time per request (group commit)"
    );
    Ok(())
}
