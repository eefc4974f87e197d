//! Where the CLI verbs find the server and its admin token: each setting from its flag or
//! environment variable, else from the configuration file `serve` reads (`--config`), else the
//! default (docs/configuration.md, "The CLI verbs").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use tollgate_gateway::config::{Config, Overrides};

use crate::cli::ClientArgs;

const DEFAULT_URL: &str = "http://127.0.0.1:8787";
const DEFAULT_DATA_DIR: &str = "./tollgate-data";

/// The server a verb talks to.
pub struct Target {
    /// The base URL, without a trailing `/`.
    pub url: String,
    pub admin_token: String,
}

pub fn resolve(client: &ClientArgs) -> anyhow::Result<Target> {
    let config = client
        .config
        .as_deref()
        .map(|path| {
            Config::load(Some(path), &Overrides::default())
                .with_context(|| format!("cannot use the configuration {}", path.display()))
        })
        .transpose()?;
    let url = match (&client.url, &config) {
        (Some(url), _) => url.clone(),
        (None, Some(config)) => format!("http://{}", reachable(config.server.listen)),
        (None, None) => DEFAULT_URL.to_owned(),
    };
    let configured_token = config
        .as_ref()
        .and_then(|c| c.server.admin_token.as_ref())
        .map(|token| token.expose().to_owned());
    let admin_token = match client.admin_token.clone().or(configured_token) {
        Some(token) => token,
        None => {
            let data_dir = client
                .data_dir
                .clone()
                .or_else(|| config.as_ref().map(|c| c.server.data_dir.clone()))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            read_token_file(&data_dir)?
        }
    };
    Ok(Target {
        url: url.trim_end_matches('/').to_owned(),
        admin_token,
    })
}

fn read_token_file(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("admin-token");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no admin token: pass --admin-token, set TOLLGATE_SERVER__ADMIN_TOKEN, pass the \
             server's --config, or run where {} exists",
            path.display()
        )
    })?;
    Ok(text.trim().to_owned())
}

/// The address a client connects to for a listen address: a wildcard (`0.0.0.0`, `::`) is
/// reached on the loopback of its family.
fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::reachable;

    #[test]
    fn wildcard_listen_addresses_are_reached_on_loopback() {
        for (listen, reached) in [
            ("0.0.0.0:8787", "127.0.0.1:8787"),
            ("[::]:9000", "[::1]:9000"),
            ("10.1.2.3:80", "10.1.2.3:80"),
        ] {
            assert_eq!(reachable(listen.parse().unwrap()).to_string(), reached);
        }
    }
}
