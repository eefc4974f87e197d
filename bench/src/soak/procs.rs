//! The processes under test: the release `tollgate serve` and `tollgate-mock` binaries, started
//! on loopback ports, signalled, and observed through `/proc`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a process may take to print its listening line.
const START_LIMIT: Duration = Duration::from_secs(60);

pub const ADMIN_TOKEN: &str = "soak-admin-token-0123456789";

/// Spawns `command` and waits for the stdout line starting with `prefix`; returns the rest of
/// that line. Later output is drained so the child never blocks on a full pipe.
async fn spawn_until(mut command: Command, prefix: &str) -> anyhow::Result<(Child, String)> {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().context("spawn")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(START_LIMIT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok::<_, anyhow::Error>(Some(rest.to_owned()));
            }
        }
        Ok(None)
    })
    .await
    .context("no listening line within 60 s")??;
    let Some(rest) = found else {
        bail!("the process exited before listening");
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, rest))
}

/// The mock provider, steered per request with `x-mock-*` headers.
pub struct Mock {
    _child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Mock {
    pub async fn start(bin: &Path) -> anyhow::Result<Mock> {
        let mut command = Command::new(bin);
        command.args(["--listen", "127.0.0.1:0"]);
        let (child, url) = spawn_until(command, "listening on ").await?;
        Ok(Mock {
            _child: child,
            url,
            http: reqwest::Client::new(),
        })
    }

    /// Requests received since the mock started (not capped).
    pub async fn count(&self) -> anyhow::Result<u64> {
        let body: Value = self
            .http
            .get(format!("{}/__mock/count", self.url))
            .send()
            .await?
            .json()
            .await?;
        body["total"].as_u64().context("mock count")
    }

    /// The recorded requests' headers (the mock keeps the last 10,000).
    pub async fn request_headers(&self) -> anyhow::Result<Vec<Value>> {
        let body: Value = self
            .http
            .get(format!("{}/__mock/requests", self.url))
            .send()
            .await?
            .json()
            .await?;
        let requests = body.as_array().context("mock requests")?;
        Ok(requests.iter().map(|r| r["headers"].clone()).collect())
    }

    pub async fn clear_requests(&self) -> anyhow::Result<()> {
        self.http
            .delete(format!("{}/__mock/requests", self.url))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

/// One `tollgate serve` process on its own data directory.
pub struct Gateway {
    child: Child,
    pub pid: u32,
    pub base: String,
    pub data_dir: PathBuf,
}

impl Gateway {
    /// `extra_env` are `TOLLGATE_*` overrides on top of the soak's configuration.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        mock: &Mock,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Gateway> {
        let data_dir = dir.join("tollgate-data");
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .current_dir(dir)
            .env("TOLLGATE_SERVER__ADMIN_TOKEN", ADMIN_TOKEN)
            .env(
                "TOLLGATE_PROVIDERS__OPENAI__BASE_URL",
                format!("{}/v1", mock.url),
            )
            .env("RUST_LOG", "error");
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let (child, base) = spawn_until(command, "tollgate listening on ").await?;
        let pid = child.id().context("gateway pid")?;
        Ok(Gateway {
            child,
            pid,
            base,
            data_dir,
        })
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir.join("tollgate.db")
    }

    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// SIGTERM, then waits for the exit; returns whether it exited 0 and how long it took.
    pub async fn terminate(mut self, limit: Duration) -> anyhow::Result<(bool, Duration)> {
        let started = std::time::Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.pid);
        }
        let exit = tokio::time::timeout(limit, self.child.wait())
            .await
            .context("the gateway did not exit after SIGTERM")??;
        Ok((exit.success(), started.elapsed()))
    }

    /// Creates (or replaces) a gateway through the management API.
    pub async fn create_gateway(&self, http: &reqwest::Client, body: Value) -> anyhow::Result<()> {
        let response = http
            .post(format!(
                "{}/client/v4/accounts/local/ai-gateway/gateways",
                self.base
            ))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("creating a gateway: {}", response.text().await?);
        }
        Ok(())
    }
}
