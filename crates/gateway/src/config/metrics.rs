//! The `[metrics]` section: where `/metrics` is served and whether a scrape needs a token
//! (docs/metrics.md).

use std::net::SocketAddr;

use serde::Deserialize;

use super::Secret;

/// How `/metrics` is exposed.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// A listener of its own serving only `/metrics`; when set, the main port no longer serves it.
    pub listen: Option<SocketAddr>,
    /// A bearer token every scrape must present; without it a scrape gets 401.
    pub token: Option<Secret>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawMetrics {
    listen: Option<String>,
    token: Option<String>,
}

/// Shorter tokens are guessable by a scraper's neighbours; the same floor as the admin token.
const MIN_TOKEN_CHARS: usize = 16;

impl RawMetrics {
    /// The validated section; each bad key adds one problem naming it.
    pub(super) fn validate(
        self,
        main_listen: SocketAddr,
        problems: &mut Vec<String>,
    ) -> MetricsConfig {
        let listen = self
            .listen
            .filter(|text| !text.trim().is_empty())
            .and_then(|text| match super::raw::parse_listen(text.trim()) {
                Ok(addr) if addr == main_listen && addr.port() != 0 => {
                    problems.push(format!(
                        "metrics.listen: `{text}` is server.listen; use another port, or leave it unset to serve /metrics on the main port"
                    ));
                    None
                }
                Ok(addr) => Some(addr),
                Err(why) => {
                    problems.push(format!("metrics.listen: {why}"));
                    None
                }
            });
        let token = match self.token.map(|token| token.trim().to_owned()) {
            Some(token) if token.is_empty() => None,
            Some(token) if token.chars().count() < MIN_TOKEN_CHARS => {
                problems.push(format!(
                    "metrics.token: must be at least {MIN_TOKEN_CHARS} characters"
                ));
                None
            }
            Some(token) => Some(Secret::new(token)),
            None => None,
        };
        MetricsConfig { listen, token }
    }
}
