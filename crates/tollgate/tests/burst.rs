//! After a burst of concurrent streams the gateway gives back what the burst took: idle upstream
//! connections beyond `[server] upstream_pool_max_idle_per_host` close, and the allocator's
//! background threads return the freed pages to the OS (docs/reliability.md, "After a burst:
//! descriptors and memory"). Measured on the real binary through /proc.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::process::{BIN, Tollgate};
use tollgate_gateway::clock::monotonic_now;
use tollgate_gateway::convert::count_as_f64;
use tollgate_mock_upstream::MockUpstream;

/// Streams opened at once; `TOLLGATE_BURST_STREAMS` overrides it for a manual run.
const STREAMS: usize = 1_000;
/// Each stream's mock events are this far apart, so the burst's streams overlap.
const CHUNK_DELAY_MS: &str = "100";
/// The bound: within this long of the burst's end everything is back.
const SETTLE_DEADLINE: Duration = Duration::from_secs(20);
const FD_SLACK: u64 = 160;
const RSS_SLACK_FLOOR: u64 = 16 * 1024 * 1024;

/// What the gateway process holds at one moment, from /proc.
#[derive(Clone, Copy)]
struct Sample {
    fds: u64,
    rss: u64,
    /// The part of `rss` in transparent huge pages.
    huge: u64,
    threads: u64,
}

impl Sample {
    fn of(pid: u32) -> Sample {
        let status = format!("/proc/{pid}/status");
        Sample {
            fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .count() as u64,
            rss: proc_number(&status, "VmRSS:") * 1024,
            huge: proc_number(&format!("/proc/{pid}/smaps_rollup"), "AnonHugePages:") * 1024,
            threads: proc_number(&status, "Threads:"),
        }
    }

    fn raise(&mut self, other: Sample) {
        self.fds = self.fds.max(other.fds);
        self.rss = self.rss.max(other.rss);
        self.huge = self.huge.max(other.huge);
        self.threads = self.threads.max(other.threads);
    }
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} fds, RSS {:.1} MiB ({:.1} MiB huge pages), {} threads",
            self.fds,
            mib(self.rss),
            mib(self.huge),
            self.threads
        )
    }
}

/// The first number after `key` in a /proc file (a size in kB or a count).
fn proc_number(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {file}"))
}

fn mib(bytes: u64) -> f64 {
    count_as_f64(bytes) / (1024.0 * 1024.0)
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

#[expect(
    clippy::disallowed_methods,
    reason = "the test's own clients of the real binary, joined before it ends"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_streams_gives_back_its_descriptors_and_memory() {
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
    // `TOLLGATE_BURST_BIN` measures another build: the release figures in docs/reliability.md.
    let bin = std::env::var("TOLLGATE_BURST_BIN").unwrap_or_else(|_| BIN.to_owned());
    let gw = Tollgate::start_bin(&bin, &config, &work.path().join("data")).await;
    let pid = gw.child.id().unwrap();

    // Warm up (the `default` gateway, the log pipeline, the runtime's threads), then take the
    // idle figures once the warm-up's own connections are gone.
    {
        let http = reqwest::Client::new();
        for _ in 0..20 {
            stream_once(http.clone(), gw.chat("default")).await;
        }
    }
    let idle = Sample::of(pid);
    let peak = Arc::new(std::sync::Mutex::new(idle));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let now = Sample::of(pid);
                peak.lock().unwrap().raise(now);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = monotonic_now();
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
    let peak = *peak.lock().unwrap();

    let fd_bound = idle.fds + FD_SLACK;
    let rss_bound = idle.rss + (idle.rss / 5).max(RSS_SLACK_FLOOR);
    let ended = monotonic_now();
    let after = loop {
        let now = Sample::of(pid);
        if (now.fds <= fd_bound && now.rss <= rss_bound) || ended.elapsed() > SETTLE_DEADLINE {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let settled = ended.elapsed();
    eprintln!(
        "burst of {streams} streams in {burst:.1?}; after = {settled:.1?} after its end\n\
         idle {idle}\npeak {peak}\nafter {after}\nbounds: fds {fd_bound}, RSS {:.1} MiB",
        mib(rss_bound)
    );
    assert!(
        peak.fds >= idle.fds + streams as u64,
        "the burst was not concurrent: peak {} fds, idle {}",
        peak.fds,
        idle.fds
    );
    assert!(
        after.fds <= fd_bound,
        "{} fds {SETTLE_DEADLINE:?} after the burst, idle {}",
        after.fds,
        idle.fds
    );
    assert!(
        after.rss <= rss_bound,
        "RSS {:.1} MiB {SETTLE_DEADLINE:?} after the burst, idle {:.1} MiB",
        mib(after.rss),
        mib(idle.rss)
    );
}
