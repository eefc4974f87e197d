//! `tollgate serve` and `tollgate config check`.

use anyhow::Context;
use tollgate_gateway::config::{Config, Overrides, StorageConfig};
use tollgate_gateway::server::RunningServer;
use tollgate_gateway::state::AppState;

use crate::cli::{ConfigArgs, ServeArgs};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
    };
    let config = Config::load(args.config.config.as_deref(), &overrides)?;
    crate::logging::init(config.server.log_format);
    // Before anything under the directory is read or changed, and held until the process ends:
    // a second process on it would recover (delete) this one's spool (docs/reliability.md).
    let sqlite = match &config.storage {
        StorageConfig::Sqlite { path } => Some(path.as_path()),
        StorageConfig::Postgres { .. } => None,
    };
    let _claim = crate::datadir::claim(&config.server.data_dir, sqlite)?;
    let token_file = config.server.data_dir.join("admin-token");
    let bootstrap = AppState::build(config).await.context("start-up failed")?;
    let server = RunningServer::start(bootstrap.state, shutdown_signal()?).await?;
    let addr = server.addr;
    println!("tollgate listening on http://{addr}");
    println!("management API: http://{addr}/client/v4");
    println!("dashboard: http://{addr}/");
    if let Some(metrics) = server.metrics_addr {
        println!("metrics: http://{metrics}/metrics");
    }
    if let Some(token) = bootstrap.new_admin_token {
        println!(
            "admin token (shown once; also saved to {}): {token}",
            token_file.display()
        );
    }
    server.wait().await?;
    tracing::info!("stopped");
    Ok(())
}

pub fn check(args: ConfigArgs) -> anyhow::Result<()> {
    let (mut problems, data_dir) = match Config::load(args.config.as_deref(), &Overrides::default())
    {
        Ok(config) => (key_file_problems(&config), Some(config.server.data_dir)),
        Err(error) => (error.problems, error.data_dir),
    };
    if let Some(dir) = data_dir {
        problems.extend(crate::datadir::check::problems(&dir));
    }
    if problems.is_empty() {
        println!("configuration is valid");
        return Ok(());
    }
    for problem in &problems {
        println!("{}", crate::terminal::printable(problem));
    }
    anyhow::bail!("{} problem(s) found", problems.len())
}

/// What `serve` would refuse about the key-encryption key file (unreadable, not a key, readable
/// by others: docs/keys.md). A file `serve` would generate is not made here.
fn key_file_problems(config: &Config) -> Vec<String> {
    use tollgate_gateway::config::KekSource;
    let (key, path) = match &config.secrets.kek {
        KekSource::File(path) => ("secrets.key_file", path),
        KekSource::Generated(path) if path.exists() => ("server.data_dir", path),
        _ => return Vec::new(),
    };
    match tollgate_gateway::keys::kek::load(&KekSource::File(path.clone())) {
        Ok(_) => Vec::new(),
        Err(error) => vec![format!("{key}: {error:#}")],
    }
}

/// SIGTERM (what service managers send) or Ctrl-C. The handlers are installed here, before
/// start-up prints its lines, so a signal sent right after them is never the default (fatal) one.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::info!("shutting down: draining in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: draining in-flight requests");
        })
    }
}
