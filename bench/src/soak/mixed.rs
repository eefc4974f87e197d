//! Stage (b): the long mixed soak. An open loop at a fixed rate: 70 % plain requests, 25 %
//! streams of 2–30 s, 5 % injected faults (upstream 429, 500, reset mid-stream, client gone
//! mid-stream). Samples RSS, fds and threads; reports the RSS slope over the last two thirds and
//! whether fds and threads return to their baseline once the load stops.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::observe::{Sampler, rss_slope_mib_per_min, sample, settle};
use super::procs::Gateway;
use super::report::Section;
use super::traffic::{Answer, Lcg, chat, chat_body, chat_url, percentile_ms};

/// Requests in flight at most; beyond it a tick is skipped (and counted) rather than queued.
const MAX_IN_FLIGHT: usize = 4000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Plain,
    Stream,
    Upstream429,
    Upstream500,
    ResetMidStream,
    ClientLeaves,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Plain,
        Kind::Stream,
        Kind::Upstream429,
        Kind::Upstream500,
        Kind::ResetMidStream,
        Kind::ClientLeaves,
    ];

    fn pick(rng: &mut Lcg) -> Kind {
        match rng.below(100) {
            0..70 => Kind::Plain,
            70..95 => Kind::Stream,
            roll => [
                Kind::Upstream429,
                Kind::Upstream500,
                Kind::ResetMidStream,
                Kind::ClientLeaves,
            ][(roll % 4) as usize],
        }
    }

    /// Whether the client saw what this kind should produce.
    fn as_expected(self, answer: &Answer) -> bool {
        match self {
            Kind::Plain => answer.status == 200 && answer.clean_end,
            Kind::Stream => answer.complete_stream(),
            Kind::Upstream429 => answer.status == 429,
            Kind::Upstream500 => answer.status == 500,
            Kind::ResetMidStream => answer.status == 200 && !answer.complete_stream(),
            Kind::ClientLeaves => answer.status == 200,
        }
    }
}

#[derive(Default)]
struct Tally {
    sent: [u64; 6],
    expected: [u64; 6],
    transport_errors: u64,
    log_ids: Vec<String>,
    /// (seconds into the stage, latency) of plain requests that succeeded.
    plain_latency: Vec<(f64, Duration)>,
}

pub struct Outcome {
    pub section: Section,
    /// Every `cf-aig-log-id` a client received: each must have exactly one row.
    pub log_ids: Vec<String>,
}

pub async fn run(gateway: &Gateway, minutes: f64, rps: u32, seed: u64) -> anyhow::Result<Outcome> {
    let mut section = Section::new(&format!(
        "(b) mixed soak: {minutes} min at {rps} req/s (70 % plain, 25 % streams 2–30 s, 5 % faults)"
    ));
    let baseline = sample(gateway.pid, 0.0)?;
    let sampler = Sampler::start(gateway.pid, Duration::from_secs(5));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()?;
    let url = Arc::new(chat_url(&gateway.base, "default"));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut rng = Lcg(seed);
    let mut skipped = 0u64;
    let total = Duration::from_secs_f64(minutes * 60.0);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rps.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = tokio::task::JoinSet::new();
    let mut n = 0u64;
    while started.elapsed() < total {
        tick.tick().await;
        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        n += 1;
        let kind = Kind::pick(&mut rng);
        let chunk_delay = 150 + rng.below(2000);
        let (http, url, tally) = (http.clone(), Arc::clone(&url), Arc::clone(&tally));
        let at = started.elapsed().as_secs_f64();
        tasks.spawn(async move {
            let stream = !matches!(kind, Kind::Plain | Kind::Upstream429 | Kind::Upstream500);
            let body = chat_body(&format!("soak request {n} about nothing much"), stream);
            let mut headers = vec![("cf-aig-event-id", format!("soak-{n}"))];
            let mut abort = None;
            match kind {
                Kind::Plain => {}
                Kind::Stream => headers.push(("x-mock-chunk-delay-ms", chunk_delay.to_string())),
                Kind::Upstream429 => {
                    headers.push(("x-mock-status", "429".into()));
                }
                Kind::Upstream500 => headers.push(("x-mock-status", "500".into())),
                Kind::ResetMidStream => {
                    headers.push(("x-mock-chunk-delay-ms", "100".into()));
                    headers.push(("x-mock-reset-after", "3".into()));
                }
                Kind::ClientLeaves => {
                    headers.push(("x-mock-chunk-delay-ms", "200".into()));
                    abort = Some(3);
                }
            }
            let result = chat(&http, &url, &body, &headers, abort).await;
            drop(permit);
            let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
            let index = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
            tally.sent[index] += 1;
            match result {
                Ok(answer) => {
                    if kind.as_expected(&answer) {
                        tally.expected[index] += 1;
                    }
                    if kind == Kind::Plain && answer.status == 200 {
                        tally.plain_latency.push((at, answer.elapsed));
                    }
                    if let Some(id) = answer.log_id {
                        tally.log_ids.push(id);
                    }
                }
                Err(_) => tally.transport_errors += 1,
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    let load_secs = started.elapsed().as_secs_f64();
    while tasks.join_next().await.is_some() {}
    let samples = sampler.samples();
    drop(sampler);
    drop(http);
    let fds_bound = baseline.fds + baseline.fds / 20 + 5;
    let threads_bound = baseline.threads + baseline.threads / 20 + 1;
    let settle_started = Instant::now();
    let (after, settled) = settle(gateway.pid, Duration::from_secs(150), |s| {
        s.fds <= fds_bound && s.threads <= threads_bound
    })
    .await?;

    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(PoisonError::into_inner));
    let sent: u64 = tally.sent.iter().sum();
    section.row("requests sent", sent);
    section.row("ticks skipped (4,000 in flight)", skipped);
    section.row(
        "achieved rate (req/s)",
        format!("{:.1}", sent as f64 / load_secs),
    );
    for (i, kind) in Kind::ALL.iter().enumerate() {
        section.row(
            &format!("{kind:?}: as expected / sent"),
            format!("{} / {}", tally.expected[i], tally.sent[i]),
        );
    }
    section.row("transport errors seen by clients", tally.transport_errors);
    let slope = rss_slope_mib_per_min(&samples, load_secs / 3.0);
    section.row(
        "RSS slope over the last two thirds (MiB/min)",
        slope.map_or("n/a".into(), |s| format!("{s:+.3}")),
    );
    let rss = |pick: &dyn Fn(&[super::observe::Sample]) -> Option<f64>| {
        pick(&samples).map_or("n/a".into(), |v| format!("{v:.1}"))
    };
    section.row("RSS baseline (MiB)", format!("{:.1}", baseline.rss_mib()));
    section.row(
        "RSS at one third / end of load (MiB)",
        format!(
            "{} / {}",
            rss(&|s| s
                .iter()
                .find(|x| x.at_secs >= load_secs / 3.0)
                .map(|x| x.rss_mib())),
            rss(&|s| s.last().map(|x| x.rss_mib())),
        ),
    );
    section.row(
        "peak RSS (MiB)",
        format!(
            "{:.1}",
            samples.iter().map(|s| s.rss_mib()).fold(0.0, f64::max)
        ),
    );
    section.row(
        "peak fds / threads under load",
        format!(
            "{} / {}",
            samples.iter().map(|s| s.fds).max().unwrap_or(0),
            samples.iter().map(|s| s.threads).max().unwrap_or(0)
        ),
    );
    section.row(
        "fds baseline → after load",
        format!("{} → {}", baseline.fds, after.fds),
    );
    section.row(
        "threads baseline → after load",
        format!("{} → {}", baseline.threads, after.threads),
    );
    section.row(
        "back to baseline ±5 % after load",
        if settled {
            format!("yes, in {:.0} s", settle_started.elapsed().as_secs_f64())
        } else {
            "no (within 150 s)".into()
        },
    );
    let window = (load_secs / 6.0).min(300.0);
    let mut first: Vec<Duration> = tally
        .plain_latency
        .iter()
        .filter(|(at, _)| *at < window)
        .map(|(_, d)| *d)
        .collect();
    let mut last: Vec<Duration> = tally
        .plain_latency
        .iter()
        .filter(|(at, _)| *at >= load_secs - window)
        .map(|(_, d)| *d)
        .collect();
    let (first_p99, last_p99) = (
        percentile_ms(&mut first, 0.99),
        percentile_ms(&mut last, 0.99),
    );
    section.row(
        &format!("plain p99, first vs last {window:.0} s (ms)"),
        format!("{first_p99:.1} vs {last_p99:.1}"),
    );
    Ok(Outcome {
        section,
        log_ids: tally.log_ids,
    })
}
