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
    /// Requests, errors, tokens, cost and latency from a running server.
    Analytics {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// Store, list, replace and remove provider keys of a gateway on a running server.
    Key {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Add, list and remove the upstream MCP servers of a gateway on a running server
    /// (docs/mcp.md).
    McpServer {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: McpServerCommand,
    },
    /// The key that encrypts stored provider keys (docs/keys.md).
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Copy a stopped SQLite deployment into a PostgreSQL database (safe to run again).
    Migrate(MigrateArgs),
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Store a provider key; the secret is read from standard input (one line), or from the
    /// environment variable --secret-env names, never from the command line.
    Add {
        /// The gateway the key is for (it must have authentication on).
        #[arg(long)]
        gateway: String,
        /// The provider slug, e.g. openai.
        #[arg(long)]
        provider: String,
        /// The alias requests name with cf-aig-byok-alias.
        #[arg(long, default_value = "default")]
        alias: String,
        /// Use this key for requests that name no alias.
        #[arg(long)]
        default: bool,
        /// At most this many requests per --rate-limit-period seconds on this key.
        #[arg(long, requires = "rate_limit_period")]
        rate_limit: Option<u64>,
        #[arg(long, requires = "rate_limit")]
        rate_limit_period: Option<u64>,
        /// Read the secret from this environment variable instead of standard input.
        #[arg(long)]
        secret_env: Option<String>,
    },
    /// List a gateway's keys (their previews, never the secrets).
    List {
        #[arg(long)]
        gateway: String,
    },
    /// Replace a key's secret (read as for `add`); a key marked invalid becomes active again.
    Rotate {
        /// The key's id.
        id: String,
        #[arg(long)]
        gateway: String,
        #[arg(long)]
        secret_env: Option<String>,
    },
    /// Remove a key.
    Remove {
        id: String,
        #[arg(long)]
        gateway: String,
    },
}

#[derive(Subcommand)]
pub enum McpServerCommand {
    /// Register an upstream MCP server (Streamable HTTP) with a gateway's /mcp endpoint.
    Add {
        /// The server's name: the prefix of its tools ({name}__{tool}); a-z, 0-9 and '-'.
        name: String,
        /// The server's Streamable HTTP endpoint, http:// or https://.
        #[arg(value_name = "URL")]
        endpoint: String,
        #[arg(long)]
        gateway: String,
        /// The id of a stored key of the gateway (`tollgate key list`), sent to the server as
        /// `Authorization: Bearer <secret>`.
        #[arg(long)]
        key: Option<String>,
        /// An extra request header, NAME=VALUE (repeatable); not for credentials (use --key).
        #[arg(long = "header", value_name = "NAME=VALUE")]
        headers: Vec<String>,
        /// Register it turned off.
        #[arg(long)]
        disabled: bool,
        /// US dollars one tool call of the server costs, reserved against the gateway's spend
        /// limits and token budgets (docs/mcp.md, "Budgets").
        #[arg(long, value_name = "USD")]
        cost_per_call: Option<f64>,
    },
    /// List a gateway's servers registered through the API (not the configuration file's).
    List {
        #[arg(long)]
        gateway: String,
    },
    /// Remove a server, by id or name.
    Remove {
        server: String,
        #[arg(long)]
        gateway: String,
    },
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored key's data key under a new key-encryption key, written to the
    /// key file; running gateways keep serving (docs/keys.md).
    RotateKek(ConfigArgs),
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
    /// Print the latest rows, then follow new ones as requests complete (Ctrl-C to stop).
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
    /// List rows, newest first.
    List {
        #[command(flatten)]
        filter: LogFilterArgs,
        /// Print at most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one row with its stored request and response bodies.
    Get {
        /// The log id (`cf-aig-log-id`).
        id: String,
        /// The gateway the row belongs to.
        #[arg(long, default_value = "default")]
        gateway: String,
    },
    /// Write every matching row as one JSON object per line, oldest first.
    Export {
        #[command(flatten)]
        filter: LogFilterArgs,
        /// Write to this file instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

/// Which log rows a verb reads; each becomes a filter of the logs API.
#[derive(Args)]
pub struct LogFilterArgs {
    /// The gateway whose logs to read.
    #[arg(long, default_value = "default")]
    pub gateway: String,
    /// Rows created at or after this time: RFC 3339 (2026-01-31T12:00:00Z) or an age (90s, 30m, 1h, 7d, 2w).
    #[arg(long)]
    pub since: Option<String>,
    /// Rows created before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this HTTP status (e.g. 429) or status class (e.g. 5xx).
    #[arg(long)]
    pub status: Option<String>,
    /// Only successful (true) or failed (false) requests.
    #[arg(long)]
    pub success: Option<bool>,
    /// Only this provider (e.g. openai).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this model.
    #[arg(long)]
    pub model: Option<String>,
}

#[derive(Subcommand)]
pub enum AnalyticsCommand {
    /// Totals for a time range: requests, errors, tokens, cost, p50/p95 latency.
    Summary {
        /// One gateway (default: every gateway of the account).
        #[arg(long)]
        gateway: Option<String>,
        /// Start of the range (RFC 3339 or an age such as 24h); default the last 24 hours.
        #[arg(long)]
        since: Option<String>,
        /// End of the range (same forms as --since); default now.
        #[arg(long)]
        until: Option<String>,
        /// Only this provider.
        #[arg(long)]
        provider: Option<String>,
        /// Only this model.
        #[arg(long)]
        model: Option<String>,
        /// One line per provider, model or gateway, with its own percentiles, or per run token.
        #[arg(long, value_enum)]
        group_by: Option<AnalyticsGroup>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AnalyticsGroup {
    Provider,
    Model,
    Gateway,
    /// Per run token (from the log rows; no percentiles).
    Token,
    /// Per dynamic route, each model call counted (from the log rows; no percentiles).
    Route,
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

/// How CLI verbs reach the running server. Each setting comes from its flag, else its
/// environment variable, else the configuration file `serve` reads (--config), else the
/// default (docs/configuration.md, "The CLI verbs").
#[derive(Args)]
pub struct ClientArgs {
    /// The configuration file of the server: its server.listen gives the URL, its
    /// server.admin_token or server.data_dir the admin token.
    #[arg(long, short = 'c', env = "TOLLGATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The gateway's base URL [default: http://127.0.0.1:8787].
    #[arg(long, env = "TOLLGATE_URL", global = true)]
    pub url: Option<String>,
    /// The admin token; defaults to the server's environment variable, then <data-dir>/admin-token.
    #[arg(
        long,
        env = "TOLLGATE_SERVER__ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// Where to find the generated admin-token file [default: ./tollgate-data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
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

/// A run token's scope; each flag left out restricts nothing.
#[derive(clap::Args)]
pub struct TokenScopeArgs {
    /// Gateway ids the token opens, comma-separated, or `*`.
    #[arg(long, value_delimiter = ',')]
    pub gateways: Option<Vec<String>>,
    /// Provider slugs the token may call, comma-separated; `*` matches within a `/` segment.
    #[arg(long, value_delimiter = ',')]
    pub providers: Option<Vec<String>>,
    /// Models the token may ask for, comma-separated, bare (`gpt-4o*`) or `provider/model`.
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// MCP tools the token may list and call, comma-separated globs of `{server}__{tool}`
    /// (`github__*`; docs/mcp.md).
    #[arg(long, value_delimiter = ',')]
    pub mcp_tools: Option<Vec<String>>,
    /// When the token stops working, RFC 3339 (e.g. 2026-12-31T23:59:59Z).
    #[arg(long)]
    pub expires_at: Option<String>,
    /// Metadata merged into every request's, a flat JSON object, e.g. '{"team":"search"}'.
    #[arg(long)]
    pub metadata: Option<String>,
    /// The token's own rate limit: LIMIT/SECONDS[/sliding], e.g. 100/60, or a JSON object.
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// The token's own budget in USD: LIMIT/SECONDS[/sliding] or LIMIT/hour|day|week|month
    /// (UTC), e.g. 5/day, or a JSON object.
    #[arg(long)]
    pub budget: Option<String>,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a run token (shown once), optionally scoped (docs/budgets.md).
    Create {
        name: String,
        #[command(flatten)]
        scope: TokenScopeArgs,
    },
    /// List run tokens (without their secrets).
    List,
    /// Show a run token's scope and what it has spent in its budget's current window.
    Show {
        /// The token's id, or its name if no token has that id.
        id_or_name: String,
    },
    /// Revoke a run token by its id or its name.
    Revoke {
        /// The token's id, or its name if no token has that id.
        id_or_name: String,
    },
}
