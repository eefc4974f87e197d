//! Fixed-concurrency runs with wrk: a POST of one chat completion, latency percentiles over
//! every request (wrk's own histogram, printed by the Lua `done` hook).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::client::Call;

/// What one wrk run measured.
pub struct WrkRun {
    /// Requests completed in the run.
    pub requests: u64,
    pub requests_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The target process's CPU time (user + system) over the run and what it left to finish
    /// in the background, divided by `requests`; None for direct (the mock).
    pub cpu_us_per_request: Option<f64>,
}

/// The marker of the line the Lua `done` hook prints.
const MARKER: &str = "TOLLGATE-BENCH";

/// Writes the Lua script that makes wrk send `call` (method, headers, body) and report.
pub fn script(dir: &Path, name: &str, call: &Call) -> anyhow::Result<PathBuf> {
    let body = std::str::from_utf8(&call.body).context("the body is not UTF-8")?;
    // Lua long brackets need no escaping as long as the text has no `]==]`.
    anyhow::ensure!(!body.contains("]==]"), "the body cannot be quoted for Lua");
    let mut lua = String::from("wrk.method = \"POST\"\n");
    lua.push_str(&format!("wrk.body = [==[{body}]==]\n"));
    lua.push_str("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
    for (name, value) in &call.headers {
        anyhow::ensure!(!value.contains("]==]"), "header {name} cannot be quoted");
        lua.push_str(&format!("wrk.headers[\"{name}\"] = [==[{value}]==]\n"));
    }
    lua.push_str(&format!(
        r#"done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{MARKER} %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#
    ));
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, lua)?;
    Ok(path)
}

/// Runs `wrk -t1 -c<connections> -d<secs>s`; any socket error or non-2xx answer fails the run.
pub async fn run(
    wrk: &Path,
    script: &Path,
    url: &str,
    connections: u32,
    secs: u32,
) -> anyhow::Result<WrkRun> {
    let output = tokio::process::Command::new(wrk)
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .await
        .with_context(|| format!("cannot run {}", wrk.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix(MARKER)) else {
        bail!(
            "wrk printed no result (exit {}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let numbers: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("unexpected wrk result line: {line}"))?;
    let [
        requests,
        duration_us,
        connect,
        read,
        write,
        status,
        timeout,
        p50,
        p99,
    ] = numbers[..]
    else {
        bail!("unexpected wrk result line: {line}");
    };
    let errors = connect + read + write + status + timeout;
    if errors > 0 {
        bail!(
            "wrk against {url} at {connections}: {errors} errors of {requests} requests \
             (connect {connect}, read {read}, write {write}, status {status}, timeout {timeout})"
        );
    }
    if requests == 0 {
        bail!("wrk against {url} completed no request");
    }
    Ok(WrkRun {
        requests,
        cpu_us_per_request: None,
        requests_per_sec: requests as f64 / (duration_us as f64 / 1e6),
        p50_us: p50 as f64,
        p99_us: p99 as f64,
    })
}
