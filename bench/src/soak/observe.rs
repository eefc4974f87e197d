//! What the soak watches in the gateway process: resident memory, open file descriptors and
//! threads read from `/proc/<pid>`, sampled in the background, and the trend of a series.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Seconds since the sampler started.
    pub at_secs: f64,
    pub rss_kib: u64,
    pub fds: usize,
    pub threads: u64,
}

impl Sample {
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}

/// Reads one sample of `pid` now.
pub fn sample(pid: u32, at_secs: f64) -> anyhow::Result<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .with_context(|| format!("{name} in /proc/{pid}/status"))?;
        let value = line[name.len()..]
            .split_whitespace()
            .next()
            .with_context(|| format!("{name} value"))?;
        Ok(value.parse()?)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    Ok(Sample {
        at_secs,
        rss_kib: field("VmRSS:")?,
        fds,
        threads: field("Threads:")?,
    })
}

/// Samples a process every `every` until dropped.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(pid: u32, every: Duration) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&samples);
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                // The process may be gone (a kill stage); the series just ends.
                let Ok(sample) = sample(pid, started.elapsed().as_secs_f64()) else {
                    return;
                };
                into.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(sample);
            }
        });
        Sampler { samples, task }
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn peak_rss_mib(&self) -> f64 {
        self.samples()
            .iter()
            .map(Sample::rss_mib)
            .fold(0.0, f64::max)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Least-squares slope of RSS (MiB per minute) over the samples from `from_secs` on.
pub fn rss_slope_mib_per_min(samples: &[Sample], from_secs: f64) -> Option<f64> {
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.at_secs >= from_secs)
        .map(|s| (s.at_secs / 60.0, s.rss_mib()))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance)
}

/// Waits (polling every second, at most `limit`) until `done(sample)` holds; returns the last
/// sample and whether it held.
pub async fn settle(
    pid: u32,
    limit: Duration,
    done: impl Fn(&Sample) -> bool,
) -> anyhow::Result<(Sample, bool)> {
    let started = Instant::now();
    loop {
        let now = sample(pid, started.elapsed().as_secs_f64())?;
        if done(&now) {
            return Ok((now, true));
        }
        if started.elapsed() >= limit {
            return Ok((now, false));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
