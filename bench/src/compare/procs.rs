//! The processes under test: started pinned to a core, their address read from their first
//! stdout lines, their memory and CPU time read from /proc, killed when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a process may take to print its address or open its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Process {
    name: String,
    child: Child,
    pid: u32,
}

impl Process {
    /// Starts `program args` under `taskset -c core` when a core is given; stderr goes to
    /// `stderr_file` so a failed start can be diagnosed.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        core: Option<u32>,
        stderr_file: &Path,
    ) -> anyhow::Result<Process> {
        let mut command = match core {
            Some(core) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(core.to_string()).arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_file)?)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({})", program.display()))?;
        // taskset execs the program, so this is the program's own pid.
        let pid = child.id().context("the process exited at once")?;
        Ok(Process {
            name: name.to_owned(),
            child,
            pid,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Reads stdout until a line starting with `prefix` followed by `http://ADDR`, then keeps
    /// draining stdout in the background so the process never blocks on a full pipe.
    pub async fn address_after(&mut self, prefix: &str) -> anyhow::Result<SocketAddr> {
        let stdout = self.child.stdout.take().context("stdout already taken")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix(prefix) {
                    let addr = url.trim().trim_start_matches("http://");
                    return addr.parse::<SocketAddr>().map_err(anyhow::Error::from);
                }
            }
            bail!("exited before printing its address")
        })
        .await;
        let addr = match found {
            Ok(result) => result.with_context(|| format!("{} did not start", self.name))?,
            Err(_) => bail!("{} printed no address within {START_TIMEOUT:?}", self.name),
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(addr)
    }
}

/// `VmRSS` from /proc/PID/status.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .context("no VmRSS in /proc status")?;
    Ok(kib * 1024)
}

/// utime + stime (fields 14 and 15 of /proc/PID/stat), in clock ticks converted to time.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; the fields after it start past its ')'.
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("short /proc stat")?.parse()?)
    };
    // After ')' field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(
        total as f64 / clock_ticks_per_second() as f64,
    ))
}

fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// A port that was free a moment ago, for programs (nginx) that cannot report the one they got.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_for_port(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("nothing listens on {addr} after {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
