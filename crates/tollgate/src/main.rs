//! The `tollgate` binary: parses the command line and runs one verb.

mod cli;
mod datadir;
mod logging;
mod manage;
mod migrate;
mod secrets;
mod serve;
mod terminal;

use clap::Parser;

use cli::{Cli, Command, ConfigCommand, SecretsCommand};

/// glibc's malloc and free were a fifth of the instructions of a proxied request
/// (bench/PROFILE.md); a thread-caching allocator makes them a fraction of that. jemalloc rather
/// than mimalloc: with its background threads (the `background_threads` feature) pages freed
/// after a burst go back to the OS within seconds, where mimalloc returns them only when the
/// thread that owns them allocates again, so an idle gateway kept a burst's peak RSS
/// (docs/reliability.md, "After a burst: descriptors and memory").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `serve` starts its log once its configuration (the log format) is read.
    if !matches!(cli.command, Command::Serve(_)) {
        logging::init(tollgate_gateway::config::LogFormat::Text);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Config {
                command: ConfigCommand::Check(args),
            } => serve::check(args),
            Command::Gateway { client, command } => manage::gateway::run(&client, command).await,
            Command::Token { client, command } => manage::token::run(&client, command).await,
            Command::Logs { client, command } => manage::logs::run(&client, command).await,
            Command::Analytics { client, command } => {
                manage::analytics::run(&client, command).await
            }
            Command::Key { client, command } => manage::key::run(&client, command).await,
            Command::McpServer { client, command } => {
                manage::mcp_server::run(&client, command).await
            }
            Command::Secrets {
                command: SecretsCommand::RotateKek(args),
            } => secrets::rotate_kek(args).await,
            Command::Migrate(args) => migrate::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // API error messages can repeat client-supplied names; a configuration's problems
            // are one a line.
            eprintln!(
                "error: {}",
                terminal::printable_lines(&format!("{error:#}"))
            );
            std::process::ExitCode::FAILURE
        }
    }
}
