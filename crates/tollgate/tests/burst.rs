//! After a burst of concurrent streams the gateway gives back the descriptors the burst took:
//! idle upstream connections beyond `[server] upstream_pool_max_idle_per_host` close
//! (docs/reliability.md, "Load and soak"). Measured on the real binary through /proc. RSS is
//! measured and printed too but not yet asserted: it does not return to the bound (see
//! docs/reliability.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::process::Tollgate;
use tollgate_mock_upstream::MockUpstream;

/// Streams opened at once; `TOLLGATE_BURST_STREAMS` overrides it for a manual run.
const STREAMS: usize = 1_000;
/// Each stream's mock events are this far apart, so the burst's streams overlap.
const CHUNK_DELAY_MS: &str = "100";
/// The bound: within this long of the burst's end everything is back.
const SETTLE_DEADLINE: Duration = Duration::from_secs(20);
const FD_SLACK: u64 = 160;
const RSS_SLACK_FLOOR: u64 = 16 * 1024 * 1024;

fn fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as u64
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap();
    kib * 1024
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn stream_once(http: reqwest::Client, url: String) -> usize {
    let response = http
        .post(url)
        .header("authorization", "Bearer sk-test")
        .header("x-mock-chunk-delay-ms", CHUNK_DELAY_MS)
        .json(&serde_json::json!({
            "model": "gpt-4o-mini",
            "stream": true,
            "messages": [{"role": "user", "content": "burst"}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_streams_gives_back_its_descriptors() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let streams = std::env::var("TOLLGATE_BURST_STREAMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(STREAMS);
    let mock = MockUpstream::start().await.unwrap();
    mock.set_recording(false);
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("tollgate.toml");
    // A short idle timeout keeps the test fast; the per-host bound is the default's.
    std::fs::write(
        &config,
        format!(
            "[server]\nupstream_pool_idle_timeout_ms = 2000\n\
             [providers.openai]\nbase_url = \"{}/v1\"\n",
            mock.url()
        ),
    )
    .unwrap();
    let gw = Tollgate::start(&config, &work.path().join("data")).await;
    let pid = gw.child.id().unwrap();

    // Warm up (the `default` gateway, the log pipeline, the runtime's threads), then take the
    // idle figures once the warm-up's own connections are gone.
    {
        let http = reqwest::Client::new();
        for _ in 0..20 {
            stream_once(http.clone(), gw.chat("default")).await;
        }
    }
    let idle_fds = fds(pid);
    let idle_rss = rss_bytes(pid);

    let peak_fds = Arc::new(AtomicU64::new(idle_fds));
    let peak_rss = Arc::new(AtomicU64::new(idle_rss));
    let sampler = {
        let (peak_fds, peak_rss) = (peak_fds.clone(), peak_rss.clone());
        tokio::spawn(async move {
            loop {
                peak_fds.fetch_max(fds(pid), Ordering::Relaxed);
                peak_rss.fetch_max(rss_bytes(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    {
        // A client of its own, dropped after the burst so its idle connections close too.
        let http = reqwest::Client::new();
        let mut tasks = Vec::with_capacity(streams);
        for _ in 0..streams {
            tasks.push(tokio::spawn(stream_once(http.clone(), gw.chat("default"))));
        }
        for task in tasks {
            assert!(task.await.unwrap() > 0);
        }
    }
    let burst = started.elapsed();
    sampler.abort();
    let peak_fds = peak_fds.load(Ordering::Relaxed);
    let peak_rss = peak_rss.load(Ordering::Relaxed);

    let fd_bound = idle_fds + FD_SLACK;
    let rss_bound = idle_rss + (idle_rss / 5).max(RSS_SLACK_FLOOR);
    let ended = Instant::now();
    let (after_fds, after_rss) = loop {
        let (now_fds, now_rss) = (fds(pid), rss_bytes(pid));
        if now_fds <= fd_bound || ended.elapsed() > SETTLE_DEADLINE {
            break (now_fds, now_rss);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let settled = ended.elapsed();
    eprintln!(
        "burst of {streams} streams in {burst:.1?}: fds idle {idle_fds}, peak {peak_fds}, \
         after {after_fds} ({settled:.1?} later); RSS idle {:.1} MiB, peak {:.1} MiB, \
         after {:.1} MiB",
        mib(idle_rss),
        mib(peak_rss),
        mib(after_rss)
    );
    assert!(
        peak_fds >= idle_fds + streams as u64,
        "the burst was not concurrent: peak {peak_fds} fds, idle {idle_fds}"
    );
    assert!(
        after_fds <= fd_bound,
        "{after_fds} fds {SETTLE_DEADLINE:?} after the burst, idle {idle_fds}"
    );
    if after_rss > rss_bound {
        eprintln!(
            "RSS above the target max(20 %, 16 MiB) over idle ({:.1} MiB): not yet asserted",
            mib(rss_bound)
        );
    }
}
