//! The upstream MCP servers' clients: one rmcp Streamable HTTP client per server, connected on
//! first use and kept; a failed request drops it, so the next one reconnects (an upstream that
//! restarted is found again without a restart of the gateway).
//!
//! A gateway's servers are those of the configuration file (`[[mcp_servers]]`, fixed) followed
//! by those registered through the management API (replaced whenever they change, a server
//! whose row did not change keeping its connection). A server with a stored key is connected
//! with `Authorization: Bearer <secret>`; a new secret reconnects it.
//!
//! A server's own `list_changed` notifications are passed on to the open sessions of its
//! gateway ([`super::session`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
    GetPromptRequestParams, GetPromptResponse, Implementation, Prompt, ReadResourceRequestParams,
    ReadResourceResponse, Resource, ResourceTemplate, Tool,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::sync::Mutex;

use super::session::{Changed, Listeners};
use crate::config::{McpServerConfig, StdioCommand};
use crate::keys::Keys;
use crate::store::StoredMcpServer;

type Client = RunningService<RoleClient, Relay>;

/// The client side of one upstream connection: the gateway's identity, and the server's
/// `list_changed` notifications passed on to its gateway's sessions.
struct Relay {
    identity: ClientConfig,
    listeners: Arc<Listeners>,
    /// The server's gateway: its account (none for a server of the configuration file, which
    /// names a gateway id of any account) and id.
    account_id: Option<String>,
    gateway_id: String,
}

impl Relay {
    fn relay(&self, changed: Changed) {
        self.listeners
            .notify(self.account_id.as_deref(), &self.gateway_id, &[changed]);
    }
}

impl ClientHandler for Relay {
    fn get_info(&self) -> ClientConfig {
        self.identity.clone()
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relay(Changed::Tools);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relay(Changed::Prompts);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.relay(Changed::Resources);
    }
}

/// Where a server's credential comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The configuration file's headers only.
    None,
    /// A stored provider key of the server's gateway (account, gateway, key id).
    StoredKey {
        account_id: String,
        gateway_id: String,
        key_id: String,
    },
}

/// One server and its client, when connected.
pub struct Upstream {
    pub config: McpServerConfig,
    pub credential: Credential,
    /// The stored row, for a server registered through the API (a changed row is a new
    /// upstream; an unchanged one keeps its connection).
    row: Option<StoredMcpServer>,
    /// The client, and the id of the stored secret it was connected with.
    client: Mutex<Option<(Arc<Client>, Option<String>)>>,
}

impl Upstream {
    fn new(config: McpServerConfig, credential: Credential, row: Option<StoredMcpServer>) -> Self {
        Upstream {
            config,
            credential,
            row,
            client: Mutex::new(None),
        }
    }
}

/// The API's servers of each gateway, by account and gateway id.
type ByGateway = HashMap<(String, String), Vec<Arc<Upstream>>>;

/// Every server, by gateway.
pub struct Upstreams {
    /// The configuration file's, by gateway id (of any account).
    from_config: HashMap<String, Vec<Arc<Upstream>>>,
    /// The API's enabled servers, by account and gateway id.
    from_api: ArcSwap<ByGateway>,
    http: reqwest::Client,
    listeners: Arc<Listeners>,
}

impl Upstreams {
    pub fn new(servers: &[McpServerConfig], listeners: Arc<Listeners>) -> Upstreams {
        let mut from_config: HashMap<String, Vec<Arc<Upstream>>> = HashMap::new();
        for server in servers {
            from_config
                .entry(server.gateway.clone())
                .or_default()
                .push(Arc::new(Upstream::new(
                    server.clone(),
                    Credential::None,
                    None,
                )));
        }
        // reqwest is built without a default crypto provider (proxy/client.rs).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Upstreams {
            from_config,
            from_api: ArcSwap::from_pointee(HashMap::new()),
            http,
            listeners,
        }
    }

    /// Whether the configuration file gives gateway `id` a server `name`.
    pub fn configured(&self, id: &str, name: &str) -> bool {
        self.from_config
            .get(id)
            .is_some_and(|servers| servers.iter().any(|u| u.config.name == name))
    }

    /// Replaces the API's servers with `rows` (the enabled ones), keeping the connection of
    /// every server whose row is unchanged.
    pub fn replace_api(&self, rows: &[StoredMcpServer]) {
        let old = self.from_api.load_full();
        let known: HashMap<&str, &Arc<Upstream>> = old
            .values()
            .flatten()
            .filter_map(|u| u.row.as_ref().map(|row| (row.id.as_str(), u)))
            .collect();
        let mut fresh = ByGateway::new();
        for row in rows.iter().filter(|row| row.enabled) {
            let upstream = match known.get(row.id.as_str()) {
                Some(same) if same.row.as_ref() == Some(row) => Arc::clone(same),
                _ => Arc::new(upstream_of(row)),
            };
            fresh
                .entry((row.account_id.clone(), row.gateway_id.clone()))
                .or_default()
                .push(upstream);
        }
        self.from_api.store(Arc::new(fresh));
    }

    /// The servers of a gateway: the configuration file's, then the API's (by name).
    pub fn of_gateway(&self, account_id: &str, id: &str) -> Vec<Arc<Upstream>> {
        let mut servers: Vec<Arc<Upstream>> = self.from_config.get(id).cloned().unwrap_or_default();
        if let Some(api) = self
            .from_api
            .load()
            .get(&(account_id.to_owned(), id.to_owned()))
        {
            servers.extend(api.iter().cloned());
        }
        servers
    }

    /// The server `name` of a gateway.
    pub fn find(&self, account_id: &str, id: &str, name: &str) -> Option<Arc<Upstream>> {
        self.of_gateway(account_id, id)
            .into_iter()
            .find(|u| u.config.name == name)
    }

    /// Every tool of `upstream`, its names as the server gives them.
    pub async fn list_tools(&self, keys: &Keys, upstream: &Upstream) -> Result<Vec<Tool>, String> {
        let client = self.client(keys, upstream).await?;
        let listed = tokio::time::timeout(upstream.config.timeout, client.list_all_tools()).await;
        self.settle(upstream, listed)
    }

    /// Calls `tool` (its upstream name) on `upstream`; the server's answer as it gave it.
    pub async fn call_tool(
        &self,
        keys: &Keys,
        upstream: &Upstream,
        params: CallToolRequestParams,
    ) -> Result<CallToolResponse, String> {
        let client = self.client(keys, upstream).await?;
        let called =
            tokio::time::timeout(upstream.config.timeout, client.call_tool_once(params)).await;
        self.settle(upstream, called)
    }

    /// Every prompt of `upstream`; none when it does not offer prompts.
    pub async fn list_prompts(
        &self,
        keys: &Keys,
        upstream: &Upstream,
    ) -> Result<Vec<Prompt>, String> {
        let client = self.client(keys, upstream).await?;
        if !offers(&client, |c| c.prompts.is_some()) {
            return Ok(Vec::new());
        }
        let listed = tokio::time::timeout(upstream.config.timeout, client.list_all_prompts()).await;
        self.settle(upstream, listed)
    }

    pub async fn get_prompt(
        &self,
        keys: &Keys,
        upstream: &Upstream,
        params: GetPromptRequestParams,
    ) -> Result<GetPromptResponse, String> {
        let client = self.client(keys, upstream).await?;
        let got =
            tokio::time::timeout(upstream.config.timeout, client.get_prompt_once(params)).await;
        self.settle(upstream, got)
    }

    /// Every resource of `upstream`; none when it does not offer resources.
    pub async fn list_resources(
        &self,
        keys: &Keys,
        upstream: &Upstream,
    ) -> Result<Vec<Resource>, String> {
        let client = self.client(keys, upstream).await?;
        if !offers(&client, |c| c.resources.is_some()) {
            return Ok(Vec::new());
        }
        let listed =
            tokio::time::timeout(upstream.config.timeout, client.list_all_resources()).await;
        self.settle(upstream, listed)
    }

    /// Every resource template of `upstream`; none when it does not offer resources.
    pub async fn list_resource_templates(
        &self,
        keys: &Keys,
        upstream: &Upstream,
    ) -> Result<Vec<ResourceTemplate>, String> {
        let client = self.client(keys, upstream).await?;
        if !offers(&client, |c| c.resources.is_some()) {
            return Ok(Vec::new());
        }
        let listed = tokio::time::timeout(
            upstream.config.timeout,
            client.list_all_resource_templates(),
        )
        .await;
        self.settle(upstream, listed)
    }

    pub async fn read_resource(
        &self,
        keys: &Keys,
        upstream: &Upstream,
        params: ReadResourceRequestParams,
    ) -> Result<ReadResourceResponse, String> {
        let client = self.client(keys, upstream).await?;
        let read =
            tokio::time::timeout(upstream.config.timeout, client.read_resource_once(params)).await;
        self.settle(upstream, read)
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

    /// The connected client of `upstream`, connecting (initialize handshake) when there is none
    /// or its stored key has a new secret since.
    async fn client(&self, keys: &Keys, upstream: &Upstream) -> Result<Arc<Client>, String> {
        let secret = match &upstream.credential {
            Credential::None => None,
            Credential::StoredKey {
                account_id,
                gateway_id,
                key_id,
            } => Some(
                keys.secret_of(account_id, gateway_id, key_id)
                    .ok_or_else(|| {
                        format!("its stored key {key_id:?} is missing, invalid or cannot be opened")
                    })?,
            ),
        };
        let secret_id = secret.as_ref().map(|(id, _)| id.clone());
        let mut slot = upstream.client.lock().await;
        if let Some((client, _)) = slot
            .as_ref()
            .filter(|(c, used)| !c.is_closed() && *used == secret_id)
        {
            return Ok(client.clone());
        }
        let config = &upstream.config;
        let identity = Relay {
            identity: ClientConfig::new(
                ClientCapabilities::default(),
                Implementation::new("tollgate", env!("CARGO_PKG_VERSION")),
            ),
            listeners: self.listeners.clone(),
            account_id: upstream.row.as_ref().map(|row| row.account_id.clone()),
            gateway_id: config.gateway.clone(),
        };
        if let Some(command) = &config.command {
            let client = connect(config, identity.serve(stdio_process(command)?)).await?;
            *slot = Some((client.clone(), secret_id));
            return Ok(client);
        }
        let mut headers: HashMap<HeaderName, HeaderValue> = config
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let mut value = HeaderValue::from_str(value.expose()).ok()?;
                value.set_sensitive(true);
                Some((HeaderName::from_bytes(name.as_bytes()).ok()?, value))
            })
            .collect();
        if let Some((_, secret)) = &secret {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
                .map_err(|_| "its stored key is not a header value".to_owned())?;
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        let transport = StreamableHttpClientTransport::with_client(
            self.http.clone(),
            StreamableHttpClientTransportConfig::with_uri(config.url.as_str())
                .custom_headers(headers),
        );
        let client = connect(config, identity.serve(transport)).await?;
        *slot = Some((client.clone(), secret_id));
        Ok(client)
    }
}

/// The initialize handshake, within the server's timeout.
async fn connect<E: std::fmt::Display>(
    config: &McpServerConfig,
    handshake: impl Future<Output = Result<Client, E>>,
) -> Result<Arc<Client>, String> {
    match tokio::time::timeout(config.timeout, handshake).await {
        Ok(Ok(client)) => Ok(Arc::new(client)),
        Ok(Err(error)) => Err(format!("could not connect: {error}")),
        Err(_) => Err(format!(
            "could not connect within {} ms",
            config.timeout.as_millis()
        )),
    }
}

/// A stdio server's process, its stdin and stdout piped to the client and its stderr the
/// gateway's; killed when the client that owns it is dropped.
fn stdio_process(command: &StdioCommand) -> Result<TokioChildProcess, String> {
    let mut process = tokio::process::Command::new(&command.program);
    process.args(&command.args).kill_on_drop(true);
    for (name, value) in &command.env {
        process.env(name, value.expose());
    }
    TokioChildProcess::builder(process)
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map(|(process, _)| process)
        .map_err(|error| format!("could not start `{}`: {error}", command.program))
}

/// Whether the connected server announced a capability (a server that did not is not asked).
fn offers(client: &Client, has: impl Fn(&rmcp::model::ServerCapabilities) -> bool) -> bool {
    client
        .peer_info()
        .is_none_or(|info| has(&info.capabilities))
}

/// The upstream of a server registered through the API.
fn upstream_of(row: &StoredMcpServer) -> Upstream {
    let headers: Vec<(String, crate::config::Secret)> =
        serde_json::from_str::<HashMap<String, String>>(&row.headers)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name, crate::config::Secret::new(value)))
            .collect();
    let credential = match &row.key_id {
        Some(key_id) => Credential::StoredKey {
            account_id: row.account_id.clone(),
            gateway_id: row.gateway_id.clone(),
            key_id: key_id.clone(),
        },
        None => Credential::None,
    };
    Upstream::new(
        McpServerConfig {
            gateway: row.gateway_id.clone(),
            name: row.name.clone(),
            url: row.url.clone(),
            command: None,
            headers,
            timeout: Duration::from_millis(u64::from(row.timeout_ms)),
            cost_per_call: row.cost_per_call,
        },
        credential,
        Some(row.clone()),
    )
}
