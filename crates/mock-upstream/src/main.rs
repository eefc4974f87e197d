//! The `tollgate-mock` binary: serves the mock provider until SIGTERM/SIGINT.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tollgate_mock_upstream::MockUpstream;

/// A mock AI provider (OpenAI, Anthropic, Gemini wire formats) for tests and benchmarks.
#[derive(Parser)]
#[command(name = "tollgate-mock", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Do not keep received requests (they are still counted); for benchmarks.
    #[arg(long)]
    no_record: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mock = match MockUpstream::bind(args.listen.as_str()).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("tollgate-mock: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    mock.set_recording(!args.no_record);
    // Callers read this one line to learn the port, so it must be flushed before serving.
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", mock.url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(stdout);
    shutdown_signal().await;
    drop(mock);
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
