//! The upstream MCP servers' clients: one rmcp Streamable HTTP client per configured server,
//! connected on first use and kept; a failed request drops it, so the next one reconnects (an
//! upstream that restarted is found again without a restart of the gateway).

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, Implementation, Tool,
};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use tokio::sync::Mutex;

use crate::config::McpServerConfig;

type Client = RunningService<RoleClient, ClientConfig>;

/// One configured server and its client, when connected.
pub struct Upstream {
    pub config: McpServerConfig,
    client: Mutex<Option<Arc<Client>>>,
}

/// Every configured server, by gateway id.
pub struct Upstreams {
    by_gateway: HashMap<String, Vec<Arc<Upstream>>>,
    http: reqwest::Client,
}

impl Upstreams {
    pub fn new(servers: &[McpServerConfig]) -> Upstreams {
        let mut by_gateway: HashMap<String, Vec<Arc<Upstream>>> = HashMap::new();
        for server in servers {
            by_gateway
                .entry(server.gateway.clone())
                .or_default()
                .push(Arc::new(Upstream {
                    config: server.clone(),
                    client: Mutex::new(None),
                }));
        }
        // reqwest is built without a default crypto provider (proxy/client.rs).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Upstreams { by_gateway, http }
    }

    /// The servers of gateway `id`, in configuration order.
    pub fn of_gateway(&self, id: &str) -> &[Arc<Upstream>] {
        self.by_gateway.get(id).map_or(&[], Vec::as_slice)
    }

    /// The server `name` of gateway `id`.
    pub fn find(&self, id: &str, name: &str) -> Option<&Arc<Upstream>> {
        self.of_gateway(id).iter().find(|u| u.config.name == name)
    }

    /// Every tool of `upstream`, its names as the server gives them.
    pub async fn list_tools(&self, upstream: &Upstream) -> Result<Vec<Tool>, String> {
        let client = self.client(upstream).await?;
        let listed = tokio::time::timeout(upstream.config.timeout, client.list_all_tools()).await;
        self.settle(upstream, listed)
    }

    /// Calls `tool` (its upstream name) on `upstream`; the server's answer as it gave it.
    pub async fn call_tool(
        &self,
        upstream: &Upstream,
        params: CallToolRequestParams,
    ) -> Result<CallToolResponse, String> {
        let client = self.client(upstream).await?;
        let called =
            tokio::time::timeout(upstream.config.timeout, client.call_tool_once(params)).await;
        self.settle(upstream, called)
    }

    /// The result of a request, or why it failed; a failure drops the client.
    fn settle<T>(
        &self,
        upstream: &Upstream,
        outcome: Result<Result<T, rmcp::ServiceError>, tokio::time::error::Elapsed>,
    ) -> Result<T, String> {
        let why = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(rmcp::ServiceError::McpError(error))) => {
                // The server answered: the connection is fine, the request was not.
                return Err(format!("MCP error {}: {}", error.code.0, error.message));
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!(
                "no answer within {} ms",
                upstream.config.timeout.as_millis()
            ),
        };
        if let Ok(mut client) = upstream.client.try_lock() {
            *client = None;
        }
        Err(why)
    }

    /// The connected client of `upstream`, connecting (initialize handshake) when there is none.
    async fn client(&self, upstream: &Upstream) -> Result<Arc<Client>, String> {
        let mut slot = upstream.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let config = &upstream.config;
        let headers: HashMap<HeaderName, HeaderValue> = config
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let mut value = HeaderValue::from_str(value.expose()).ok()?;
                value.set_sensitive(true);
                Some((HeaderName::from_bytes(name.as_bytes()).ok()?, value))
            })
            .collect();
        let transport = StreamableHttpClientTransport::with_client(
            self.http.clone(),
            StreamableHttpClientTransportConfig::with_uri(config.url.as_str())
                .custom_headers(headers),
        );
        let identity = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("tollgate", env!("CARGO_PKG_VERSION")),
        );
        let client = match tokio::time::timeout(config.timeout, identity.serve(transport)).await {
            Ok(Ok(client)) => Arc::new(client),
            Ok(Err(error)) => return Err(format!("could not connect: {error}")),
            Err(_) => {
                return Err(format!(
                    "could not connect within {} ms",
                    config.timeout.as_millis()
                ));
            }
        };
        *slot = Some(client.clone());
        Ok(client)
    }
}
