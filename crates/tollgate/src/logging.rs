//! The process log on stderr: `TOLLGATE_LOG` filters it (default `info,rmcp=warn`), `server.log_format`
//! chooses text or one JSON object per line, and colour codes are written only to a terminal
//! (and not with `NO_COLOR`), never into a file or a pipe (docs/configuration.md, "Server log").

use std::io::IsTerminal;

use tollgate_gateway::config::LogFormat;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    // rmcp logs every stateless MCP message at info (three lines per tool call): warnings only,
    // unless TOLLGATE_LOG asks for more (docs/mcp.md).
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.with_ansi(colour()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

/// Colour on a terminal, unless `NO_COLOR` (https://no-color.org) asks for none.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
