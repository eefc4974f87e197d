//! `tollgate serve` as a child process on port 0, killed when the handle is dropped.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
pub const ADMIN_TOKEN: &str = "process-test-admin-token-0123";
/// Start-up includes PostgreSQL migrations, which instances starting together take in turns.
const START_GUARD: Duration = Duration::from_secs(60);

pub struct Tollgate {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Tollgate {
    /// Starts `tollgate serve --config <config> --data-dir <data_dir>` and waits for its
    /// "listening" line.
    pub async fn start(config: &Path, data_dir: &Path) -> Tollgate {
        Tollgate::start_bin(BIN, config, data_dir).await
    }

    /// As [`Tollgate::start`], with another build of the binary (a release build, say).
    pub async fn start_bin(bin: &str, config: &Path, data_dir: &Path) -> Tollgate {
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .env("TOLLGATE_SERVER__ADMIN_TOKEN", ADMIN_TOKEN);
        let (child, base) = spawn(command).await;
        Tollgate { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A management API URL: `path` follows `/client/v4/accounts/local/ai-gateway`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/client/v4/accounts/local/ai-gateway{path}", self.base)
    }

    /// The OpenAI chat completions URL of `gateway`.
    pub fn chat(&self, gateway: &str) -> String {
        format!("{}/v1/local/{gateway}/openai/chat/completions", self.base)
    }
}

/// Spawns `command` (a `tollgate serve … --listen 127.0.0.1:0`), killed on drop, and waits for
/// its "listening" line: the child and its base URL. The rest of its output is drained.
#[expect(
    clippy::disallowed_methods,
    reason = "drains the child's output so it never blocks on a full pipe; ends when the child does"
)]
pub async fn spawn(mut command: Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(START_GUARD, lines.next_line())
        .await
        .expect("tollgate started in time")
        .unwrap()
        .expect("tollgate printed its address");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let base = first
        .strip_prefix("tollgate listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    (child, base)
}

/// Sends `signal` (e.g. `-TERM`, `-KILL`) to `child`.
pub fn signal(child: &Child, signal: &str) {
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// SIGTERM, then waits for the exit: the spool is shipped and the database closed on the way.
pub async fn stop(child: &mut Child) -> std::process::ExitStatus {
    signal(child, "-TERM");
    tokio::time::timeout(START_GUARD, child.wait())
        .await
        .expect("tollgate stopped in time")
        .unwrap()
}
