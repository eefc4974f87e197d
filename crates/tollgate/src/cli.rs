//! Command-line shape (clap). Flags override the config file and environment (docs/configuration.md).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "A self-hosted AI gateway, wire-compatible with Cloudflare AI Gateway"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gateway (proxy, management API).
    Serve(ServeArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Create, list and delete gateways on a running server.
    Gateway {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: GatewayCommand,
    },
    /// Create, list and revoke run tokens on a running server.
    Token {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Read request logs from a running server.
    Logs {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Copy a stopped SQLite deployment into a PostgreSQL database (safe to run again).
    Migrate(MigrateArgs),
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The SQLite deployment: sqlite://<database file or data directory>.
    #[arg(long)]
    pub from: String,
    /// The PostgreSQL database: postgres://user@host/database (the environment variable keeps a
    /// password off the command line).
    #[arg(long, env = "TOLLGATE_MIGRATE_TO", hide_env_values = true)]
    pub to: String,
    /// The deployment's data directory (its spool and instance-id), if it is not the directory
    /// of the database file.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Copy even into a database that already holds logs or analytics from elsewhere (this
    /// deployment's rows and analytics are added to them).
    #[arg(long)]
    pub force: bool,
    /// Rows per batch (one transaction each).
    #[arg(long, default_value_t = tollgate_gateway::store::transfer::DEFAULT_BATCH_ROWS)]
    pub batch_rows: usize,
}

#[derive(Subcommand)]
pub enum LogsCommand {
    /// Follow new log rows as requests complete (Ctrl-C to stop).
    Tail {
        /// The gateway whose logs to follow.
        #[arg(long, default_value = "default")]
        gateway: String,
        /// How often to ask for new rows, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Stop after printing this many rows (for scripts).
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address to listen on, e.g. 0.0.0.0:8787 (overrides server.listen).
    #[arg(long)]
    pub listen: Option<String>,
    /// Where data lives (overrides server.data_dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct ConfigArgs {
    /// A TOML configuration file.
    #[arg(long, short = 'c', env = "TOLLGATE_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration (file + environment) and print every problem.
    Check(ConfigArgs),
}

/// How CLI verbs reach the running server.
#[derive(Args)]
pub struct ClientArgs {
    /// The gateway's base URL.
    #[arg(
        long,
        env = "TOLLGATE_URL",
        default_value = "http://127.0.0.1:8787",
        global = true
    )]
    pub url: String,
    /// The admin token; defaults to the server's environment variable, then <data-dir>/admin-token.
    #[arg(
        long,
        env = "TOLLGATE_SERVER__ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// Where to find the generated admin-token file.
    #[arg(long, default_value = "./tollgate-data", global = true)]
    pub data_dir: PathBuf,
    /// The account (tenant).
    #[arg(long, default_value = "local", global = true)]
    pub account: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum GatewayCommand {
    /// Create a gateway.
    Create {
        id: String,
        /// Settings as a JSON object, e.g. '{"authentication":true}'.
        #[arg(long)]
        settings: Option<String>,
    },
    /// List gateways.
    List,
    /// Change a gateway's settings (fields not given keep their value).
    Update {
        id: String,
        /// Settings as a JSON object, e.g. '{"cache_ttl":300,"rate_limiting_limit":100}'.
        #[arg(long)]
        settings: String,
    },
    /// Delete a gateway.
    Delete { id: String },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a run token (shown once).
    Create { name: String },
    /// List run tokens (without their secrets).
    List,
    /// Revoke a run token.
    Revoke { id: String },
}
