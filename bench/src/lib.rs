//! Shared pieces of Tollgate's benchmarks: an in-process gateway in front of the mock upstream,
//! and latency statistics; `compare` is the side-by-side run against direct and nginx.

// A benchmark measures real time with the real clock and runs its load as plain tokio tasks
// (the gateway's clock and task trackers are for the gateway), and computes rates and
// percentiles in f64 from counts far below 2^53.
#![expect(
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a benchmark: real clock, plain load tasks, statistics in f64"
)]

pub mod compare;

pub mod soak;

use std::time::Duration;

use tollgate_gateway::config::{Config, Overrides};
use tollgate_gateway::server::RunningServer;
use tollgate_gateway::state::AppState;
use tollgate_mock_upstream::MockUpstream;

/// A gateway on a loopback port with `openai` pointed at a fresh mock upstream.
pub struct Bench {
    pub gateway: String,
    pub state: AppState,
    pub mock: MockUpstream,
    _data_dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Bench {
    pub async fn start() -> anyhow::Result<Bench> {
        let mock = MockUpstream::start().await?;
        // Benchmarks must not measure the mock's request log.
        mock.set_recording(false);
        let data_dir = tempfile::tempdir()?;
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nadmin_token = \"bench-admin-token-0123456\"\n\n[providers.openai]\nbase_url = \"{}/v1\"\n",
            data_dir.path().display(),
            mock.url()
        );
        let config = Config::parse(&text, std::iter::empty(), &Overrides::default())?;
        let state = AppState::build(config).await?.state;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = RunningServer::start(state.clone(), async {
            let _ = stopped.await;
        })
        .await?;
        let gateway = format!("http://{}", server.addr);
        tokio::spawn(server.wait());
        Ok(Bench {
            gateway,
            state,
            mock,
            _data_dir: data_dir,
            _stop: stop,
        })
    }
}

/// Percentiles of a set of durations, in microseconds.
pub struct Summary {
    pub count: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
}

pub fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(rank(samples.len(), q))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let mean =
        samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len().max(1) as f64 * 1e6;
    Summary {
        count: samples.len(),
        p50_us: at(0.50),
        p99_us: at(0.99),
        mean_us: mean,
    }
}

/// The index of the `q` quantile (0..=1) among `len` sorted samples, nearest rank.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a rounded rank between 0 and len - 1"
)]
pub fn rank(len: usize, q: f64) -> usize {
    ((len as f64 - 1.0) * q).round() as usize
}
