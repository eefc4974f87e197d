//! The scenarios, each run against direct, nginx and Tollgate in turn (bench/README.md): wrk at fixed concurrency, fixed-rate load against a 50 ms upstream, sequential and
//! 1,000 concurrent streams, cache HITs, Tollgate with logs off, traced to a black-holed
//! collector, with a spend limit and DLP, through a dynamic route; WebSocket frames and idle
//! sessions; MCP tool calls.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;

use super::client::{Call, Connection};
use super::procs;
use super::realtime::{self, Endpoint};
use super::results::{
    CacheRun, DIRECT, ManyStreams, PerTarget, RateRun, RealtimeRun, Results, RoundTrips, StreamRun,
    TOLLGATE,
};
use super::targets::{MCP_SERVER, ROUTE, Target};
use super::wrk::{self, WrkRun};
use crate::summarize;

/// How long a wrk run's CPU time keeps counting after its last request: the background work
/// the run's requests left (a shipper batch, its SQLite ingest) finishes within it.
const BACKGROUND_SETTLE: Duration = Duration::from_millis(300);

/// How long and how much each scenario runs.
#[derive(Clone, Copy)]
pub struct Plan {
    pub smoke: bool,
    pub wrk_secs: u32,
    /// Discarded runs before each measured one.
    pub warmup_secs: u32,
    pub rate_per_sec: u32,
    pub rate_secs: u32,
    pub upstream_delay_ms: u64,
    pub sequential_streams: usize,
    pub stream_pace_ms: u64,
    pub concurrent_streams: usize,
    pub concurrent_pace_ms: u64,
    pub cache_hits: usize,
    /// Measured round trips of the WebSocket, MCP and sequential scenarios (after a tenth as many
    /// unmeasured).
    pub round_trips: usize,
    pub idle_sessions: usize,
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            smoke: false,
            wrk_secs: 10,
            warmup_secs: 2,
            rate_per_sec: 2_000,
            rate_secs: 10,
            upstream_delay_ms: 50,
            sequential_streams: 100,
            stream_pace_ms: 10,
            concurrent_streams: 1_000,
            concurrent_pace_ms: 100,
            cache_hits: 5_000,
            round_trips: 5_000,
            idle_sessions: 1_000,
        }
    }

    /// Every scenario, about a second each, with tiny counts.
    pub fn smoke() -> Plan {
        Plan {
            smoke: true,
            wrk_secs: 1,
            warmup_secs: 0,
            rate_per_sec: 200,
            rate_secs: 1,
            upstream_delay_ms: 50,
            sequential_streams: 5,
            stream_pace_ms: 5,
            concurrent_streams: 50,
            concurrent_pace_ms: 20,
            cache_hits: 50,
            round_trips: 50,
            idle_sessions: 20,
        }
    }
}

pub struct Scenarios {
    pub plan: Plan,
    pub wrk: PathBuf,
    /// For the wrk scripts.
    pub dir: PathBuf,
    /// direct, nginx, Tollgate.
    pub targets: [Target; 3],
    /// Tollgate's gateway with `collect_logs = false`.
    pub logs_off: Target,
    /// Tollgate's gateway tracing to a black-holed collector.
    pub traced: Target,
    /// Tollgate through a gateway with a spend limit and DLP on both ways.
    pub governed: Target,
    /// The unified endpoint of the gateway that has the dynamic route.
    pub routed: Target,
}

/// A small chat completion, answered in one JSON body.
fn chat_body() -> Bytes {
    Bytes::from_static(
        br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How much does a gateway add to each request?"}]}"#,
    )
}

/// Eight words echoed back as eleven deltas, then the stop chunk and `[DONE]`.
fn stream_body() -> Bytes {
    Bytes::from_static(
        br#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three four five six seven eight"}]}"#,
    )
}

/// The chat completion on the unified endpoint, naming a provider and model or a route.
fn compat_body(model: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"How much does a gateway add to each request?"}}]}}"#
    ))
}

/// Cached by the HIT scenario only, so no other scenario is answered from the cache.
fn cache_body() -> Bytes {
    Bytes::from_static(
        br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Is this answer served from the cache?"}]}"#,
    )
}

impl Scenarios {
    /// Runs every scenario; a failing one is recorded in `errors` and the others still run.
    pub async fn run(&self) -> Results {
        let mut results = Results::default();
        let mut errors = Vec::new();
        let steps: [(&str, u32); 3] = [
            ("concurrency 1", 1),
            ("concurrency 32", 32),
            ("concurrency 256", 256),
        ];
        for (name, connections) in steps {
            eprintln!("== {name}");
            let mut runs: PerTarget<WrkRun> = Default::default();
            let outcome = self.wrk_all(connections, &mut runs).await;
            errors.extend(failure(name, outcome));
            match connections {
                1 => results.c1 = runs,
                32 => results.c32 = runs,
                _ => results.c256 = runs,
            }
        }
        eprintln!("== logs off");
        let outcome = async {
            results.logs_off_c1 = Some(self.wrk_one(&self.logs_off, "logs-off", 1).await?);
            results.logs_off_c32 = Some(self.wrk_one(&self.logs_off, "logs-off", 32).await?);
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("logs off", outcome));
        eprintln!("== traced to a black-holed collector");
        let outcome = async {
            results.traced_c32 = Some(self.wrk_one(&self.traced, "traced", 32).await?);
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("traced", outcome));
        eprintln!("== a spend limit and DLP");
        let outcome = async {
            results.governed_c32 = Some(self.wrk_one(&self.governed, "governed", 32).await?);
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("governed", outcome));
        eprintln!("== a dynamic route");
        let outcome = async {
            let plain = compat_body("openai/gpt-4o-mini");
            let routed = compat_body(&format!("dynamic/{ROUTE}"));
            results.compat_c32 = Some(self.wrk_body(&self.routed, "compat", 32, &plain).await?);
            results.routed_c32 = Some(self.wrk_body(&self.routed, "routed", 32, &routed).await?);
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("dynamic route", outcome));
        eprintln!("== fixed rate, {} ms upstream", self.plan.upstream_delay_ms);
        let outcome = async {
            for (i, target) in self.targets.iter().enumerate() {
                results.rate[i] = Some(self.fixed_rate(target).await.context(target.name)?);
            }
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("fixed rate", outcome));
        eprintln!("== streaming");
        let outcome = async {
            for (i, target) in self.targets.iter().enumerate() {
                results.stream[i] =
                    Some(self.sequential_streams(target).await.context(target.name)?);
            }
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("streaming", outcome));
        eprintln!("== cache HIT");
        let outcome = async {
            results.cache = Some(self.cache_hits().await?);
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("cache HIT", outcome));
        eprintln!("== {} concurrent streams", self.plan.concurrent_streams);
        let outcome = async {
            for (i, target) in self.targets.iter().enumerate() {
                results.many_streams[i] =
                    Some(self.concurrent_streams(target).await.context(target.name)?);
            }
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("concurrent streams", outcome));
        eprintln!(
            "== WebSocket frames, {} idle sessions",
            self.plan.idle_sessions
        );
        let outcome = async {
            results.realtime = Some(self.realtime().await?);
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("websockets", outcome));
        eprintln!("== MCP tool calls");
        let outcome = async {
            results.mcp = Some(self.mcp_calls().await?);
            anyhow::Ok(())
        }
        .await;
        errors.extend(failure("mcp", outcome));
        results.errors = errors;
        results
    }

    async fn wrk_all(&self, connections: u32, runs: &mut PerTarget<WrkRun>) -> anyhow::Result<()> {
        for (i, target) in self.targets.iter().enumerate() {
            runs[i] = Some(self.wrk_one(target, target.name, connections).await?);
        }
        Ok(())
    }

    async fn wrk_one(
        &self,
        target: &Target,
        name: &str,
        connections: u32,
    ) -> anyhow::Result<WrkRun> {
        self.wrk_body(target, name, connections, &chat_body()).await
    }

    async fn wrk_body(
        &self,
        target: &Target,
        name: &str,
        connections: u32,
        body: &Bytes,
    ) -> anyhow::Result<WrkRun> {
        let script = wrk::script(&self.dir, name, &target.call(body))?;
        let url = target.url();
        if self.plan.warmup_secs > 0 {
            wrk::run(&self.wrk, &script, &url, connections, self.plan.warmup_secs).await?;
        }
        let cpu_before = target.pid.map(procs::cpu_time).transpose()?;
        let mut run = wrk::run(&self.wrk, &script, &url, connections, self.plan.wrk_secs)
            .await
            .with_context(|| format!("{name} at concurrency {connections}"))?;
        if let (Some(pid), Some(before)) = (target.pid, cpu_before) {
            // The work a request leaves behind (Tollgate's log shipper batches every 50 ms)
            // belongs to its cost too.
            tokio::time::sleep(BACKGROUND_SETTLE).await;
            let used = procs::cpu_time(pid)?.saturating_sub(before);
            run.cpu_us_per_request = Some(used.as_secs_f64() * 1e6 / run.requests as f64);
        }
        Ok(run)
    }

    async fn fixed_rate(&self, target: &Target) -> anyhow::Result<RateRun> {
        let call = target
            .call(&chat_body())
            .with_header("x-mock-delay-ms", self.plan.upstream_delay_ms.to_string());
        if self.plan.warmup_secs > 0 {
            open_loop(&call, self.plan.rate_per_sec, self.plan.warmup_secs, None).await?;
        }
        open_loop(
            &call,
            self.plan.rate_per_sec,
            self.plan.rate_secs,
            target.pid,
        )
        .await
    }

    async fn sequential_streams(&self, target: &Target) -> anyhow::Result<StreamRun> {
        let call = target.stream_call(&stream_body()).with_header(
            "x-mock-chunk-delay-ms",
            self.plan.stream_pace_ms.to_string(),
        );
        let mut connection = Connection::open(call.addr).await?;
        let warmup = if self.plan.smoke { 0 } else { 5 };
        let mut first_bytes = Vec::new();
        let mut gaps = Vec::new();
        for i in 0..warmup + self.plan.sequential_streams {
            let streamed = connection.stream(&call).await?;
            anyhow::ensure!(streamed.complete, "a stream ended without [DONE]");
            if i < warmup {
                continue;
            }
            first_bytes.push(streamed.first_byte);
            gaps.extend(streamed.events.windows(2).map(|w| w[1] - w[0]));
        }
        let first_byte = summarize(first_bytes);
        let gap = summarize(gaps);
        Ok(StreamRun {
            first_byte_p50_us: first_byte.p50_us,
            first_byte_p99_us: first_byte.p99_us,
            gap_p50_us: gap.p50_us,
            gap_p99_us: gap.p99_us,
        })
    }

    async fn concurrent_streams(&self, target: &Target) -> anyhow::Result<ManyStreams> {
        let pace = Duration::from_millis(self.plan.concurrent_pace_ms);
        let call = target.stream_call(&stream_body()).with_header(
            "x-mock-chunk-delay-ms",
            self.plan.concurrent_pace_ms.to_string(),
        );
        let rss_mib = |pid: u32| procs::rss_bytes(pid).ok().map(|b| b as f64 / 1_048_576.0);
        let rss_before_mib = target.pid.and_then(rss_mib);
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = target.pid.map(|pid| {
            let sampling = sampling.clone();
            tokio::spawn(async move {
                let mut peak: Option<f64> = None;
                while sampling.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_mib(pid) {
                        peak = Some(peak.map_or(rss, |p: f64| p.max(rss)));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                peak
            })
        });
        let mut streams = tokio::task::JoinSet::new();
        for _ in 0..self.plan.concurrent_streams {
            let call = call.clone();
            streams.spawn(async move {
                let mut connection = Connection::open(call.addr).await?;
                connection.stream(&call).await
            });
        }
        let (mut complete, mut stalled, mut failures) = (0, 0, Vec::new());
        while let Some(joined) = streams.join_next().await {
            match joined.map_err(anyhow::Error::from).and_then(|r| r) {
                Ok(streamed) => {
                    complete += usize::from(streamed.complete);
                    let stall = streamed.events.windows(2).any(|w| w[1] - w[0] > pace * 10);
                    stalled += usize::from(stall);
                }
                Err(error) => failures.push(format!("{error:#}")),
            }
        }
        sampling.store(false, Ordering::Relaxed);
        let rss_peak_mib = match sampler {
            Some(sampler) => sampler.await?,
            None => None,
        };
        anyhow::ensure!(
            failures.is_empty() && complete == self.plan.concurrent_streams,
            "{} of {} streams failed, {} ended without [DONE]; first error: {}",
            failures.len(),
            self.plan.concurrent_streams,
            self.plan.concurrent_streams - complete - failures.len(),
            failures.first().map_or("none", String::as_str)
        );
        Ok(ManyStreams {
            stalled,
            rss_before_mib,
            rss_peak_mib,
        })
    }

    async fn cache_hits(&self) -> anyhow::Result<CacheRun> {
        let tollgate = &self.targets[TOLLGATE];
        let call = tollgate
            .call(&cache_body())
            .with_header("cf-aig-cache-ttl", "300");
        let mut connection = Connection::open(call.addr).await?;
        let first = connection.send(&call).await?;
        anyhow::ensure!(
            first.cache_status.as_deref() == Some("MISS"),
            "the first cacheable request was not a MISS: {:?}",
            first.cache_status
        );
        let warmup = if self.plan.smoke { 0 } else { 200 };
        let mut hits = Vec::with_capacity(self.plan.cache_hits);
        for i in 0..warmup + self.plan.cache_hits {
            let answer = connection.send(&call).await?;
            anyhow::ensure!(
                answer.cache_status.as_deref() == Some("HIT"),
                "request {} after the MISS was not a HIT: {:?}",
                i + 1,
                answer.cache_status
            );
            if i >= warmup {
                hits.push(answer.elapsed);
            }
        }
        let direct_call = self.targets[DIRECT].call(&cache_body());
        let mut direct = Connection::open(direct_call.addr).await?;
        let mut answers = Vec::with_capacity(self.plan.cache_hits);
        for i in 0..warmup + self.plan.cache_hits {
            let answer = direct.send(&direct_call).await?;
            if i >= warmup {
                answers.push(answer.elapsed);
            }
        }
        let hit = summarize(hits);
        Ok(CacheRun {
            hit_p50_us: hit.p50_us,
            hit_p99_us: hit.p99_us,
            direct_p50_us: summarize(answers).p50_us,
        })
    }
}

impl Scenarios {
    fn warmup_rounds(&self) -> usize {
        self.plan.round_trips / 10
    }

    /// Frame round trips on one realtime session, direct and through Tollgate; then
    /// `idle_sessions` sessions opened through Tollgate and held while its RSS is read.
    async fn realtime(&self) -> anyhow::Result<RealtimeRun> {
        let direct = Endpoint {
            addr: self.targets[DIRECT].addr,
            path: "/v1/realtime?model=gpt-realtime".into(),
        };
        let tollgate = &self.targets[TOLLGATE];
        let through = Endpoint {
            addr: tollgate.addr,
            path: "/v1/local/default/openai/realtime?model=gpt-realtime".into(),
        };
        let (warmup, rounds) = (self.warmup_rounds(), self.plan.round_trips);
        let frames = RoundTrips {
            direct: summarize(realtime::round_trips(&direct, warmup, rounds).await?),
            through: summarize(realtime::round_trips(&through, warmup, rounds).await?),
        };
        let rss_kib = |pid: u32| procs::rss_bytes(pid).ok().map(|b| b as f64 / 1024.0);
        // One session opened and closed first, so what the first session allocates once (its
        // pool, its log shipper's buffers) is not charged to the idle ones.
        realtime::close_all(realtime::open_idle(&through, 1, 1).await?).await;
        let before = tollgate.pid.and_then(rss_kib);
        let sessions = realtime::open_idle(&through, self.plan.idle_sessions, 50).await?;
        let after = tollgate.pid.and_then(rss_kib);
        realtime::close_all(sessions).await;
        let kib_per_idle_session = match (before, after) {
            (Some(before), Some(after)) => Some((after - before) / self.plan.idle_sessions as f64),
            _ => None,
        };
        Ok(RealtimeRun {
            frames,
            kib_per_idle_session,
        })
    }

    /// `tools/call` of the mock's `echo`, one after another on one keep-alive connection,
    /// directly at the mock's `/mcp` and through the default gateway's.
    async fn mcp_calls(&self) -> anyhow::Result<RoundTrips> {
        let call = |target: &Target, path: &str, tool: &str| Call {
            addr: target.addr,
            path: path.to_owned(),
            headers: vec![("accept", "application/json, text/event-stream".to_owned())],
            body: Bytes::from(format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"hello"}}}}}}"#
            )),
        };
        let direct = call(&self.targets[DIRECT], "/mcp", "echo");
        let through = call(
            &self.targets[TOLLGATE],
            "/v1/local/default/mcp",
            &format!("{MCP_SERVER}__echo"),
        );
        Ok(RoundTrips {
            direct: self.sequential(&direct).await?,
            through: self.sequential(&through).await?,
        })
    }

    /// `round_trips` requests one after another on one connection, after a tenth as many.
    async fn sequential(&self, call: &Call) -> anyhow::Result<crate::Summary> {
        let mut connection = Connection::open(call.addr).await?;
        let mut measured = Vec::with_capacity(self.plan.round_trips);
        for i in 0..self.warmup_rounds() + self.plan.round_trips {
            let answer = connection.send(call).await?;
            if i >= self.warmup_rounds() {
                measured.push(answer.elapsed);
            }
        }
        Ok(summarize(measured))
    }
}

/// The (scenario, error) to report when a scenario failed.
fn failure(name: &str, outcome: anyhow::Result<()>) -> Option<(String, String)> {
    let error = outcome.err()?;
    eprintln!("scenario {name} failed: {error:#}");
    Some((name.to_owned(), format!("{error:#}")))
}

/// Workers for the open-loop client: enough that requests never wait for a free connection
/// (in flight ≈ rate × upstream delay).
const OPEN_LOOP_WORKERS: usize = 256;
/// A request starting later than this after its scheduled time means the client fell behind.
const LATE: Duration = Duration::from_millis(10);

/// Sends `rate` requests a second for `secs` seconds on a fixed schedule, whatever the answers'
/// latency; measures each from its actual start, and the process's CPU and memory.
async fn open_loop(call: &Call, rate: u32, secs: u32, pid: Option<u32>) -> anyhow::Result<RateRun> {
    let total = u64::from(rate) * u64::from(secs);
    let workers = OPEN_LOOP_WORKERS
        .min(usize::try_from(total).unwrap_or(usize::MAX))
        .max(1);
    let mut connections = Vec::with_capacity(workers);
    for _ in 0..workers {
        connections.push(Connection::open(call.addr).await?);
    }
    let interval = Duration::from_secs(1) / rate;
    let next = Arc::new(AtomicU64::new(0));
    let late = Arc::new(AtomicU64::new(0));
    let cpu_before = pid.map(procs::cpu_time).transpose()?;
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let wall = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut connection in connections {
        let (call, next, late) = (call.clone(), next.clone(), late.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(latencies);
                }
                let due = start + interval * u32::try_from(i)?;
                tokio::time::sleep_until(due).await;
                if due.elapsed() > LATE {
                    late.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(connection.send(&call).await?.elapsed);
            }
        });
    }
    let mut latencies = Vec::with_capacity(usize::try_from(total)?);
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    let elapsed = wall.elapsed();
    let cpu_percent = match (pid, cpu_before) {
        (Some(pid), Some(before)) => {
            let used = procs::cpu_time(pid)? - before;
            Some(used.as_secs_f64() / elapsed.as_secs_f64() * 100.0)
        }
        _ => None,
    };
    let rss_mib = pid
        .map(procs::rss_bytes)
        .transpose()?
        .map(|b| b as f64 / 1_048_576.0);
    let summary = summarize(latencies);
    Ok(RateRun {
        p50_us: summary.p50_us,
        p99_us: summary.p99_us,
        late: late.load(Ordering::Relaxed),
        cpu_percent,
        rss_mib,
    })
}
