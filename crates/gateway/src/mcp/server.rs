//! The endpoint: hands an admitted request to rmcp's Streamable HTTP service, with what
//! admission learned (gateway, run token, client, options) in the request's extensions, where
//! the handler ([`super::aggregate`]) reads it.
//!
//! The service is stateless (no `Mcp-Session-Id`): every POST is admitted on its own, so any
//! instance behind a load balancer can answer any message, and nothing per session lives in
//! memory. Responses are JSON unless the handler streams (docs/mcp.md).

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tower::ServiceExt;

use super::aggregate::Aggregator;
use super::upstream::Upstreams;
use crate::clock::SharedClock;
use crate::config::McpServerConfig;
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::proxy::{RequestContext, RequestOptions};
use crate::state::AppState;
use crate::store::{Store, StoreError, StoredMcpServer, StoredToken};

/// The MCP side of the state: the Streamable HTTP service, the upstream servers' clients, and
/// the servers registered through the management API as stored.
pub struct McpGateway {
    service: StreamableHttpService<Aggregator, NeverSessionManager>,
    upstreams: Arc<Upstreams>,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: SharedClock,
    /// The API's servers as last read from the store, by account, gateway and name.
    rows: ArcSwap<Vec<StoredMcpServer>>,
    /// One reload at a time, so an older read never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
    /// One change at a time, each with its reload.
    pub(super) changes: tokio::sync::Mutex<()>,
}

impl McpGateway {
    /// The endpoint with the configuration file's servers and the stored ones.
    pub async fn load(
        servers: &[McpServerConfig],
        store: Arc<dyn Store>,
        clock: SharedClock,
        max_body_bytes: usize,
    ) -> Result<McpGateway, StoreError> {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            // The proxy's own checks guard the request (head limits, the admin and run
            // tokens); a public gateway answers under any host name.
            .disable_allowed_hosts()
            .with_max_request_body_bytes(max_body_bytes);
        let mcp = McpGateway {
            service: StreamableHttpService::new(
                || Ok(Aggregator),
                Arc::new(NeverSessionManager::default()),
                config,
            ),
            upstreams: Arc::new(Upstreams::new(servers)),
            store,
            clock,
            rows: ArcSwap::from_pointee(Vec::new()),
            reloading: tokio::sync::Mutex::new(()),
            changes: tokio::sync::Mutex::new(()),
        };
        mcp.reload().await?;
        Ok(mcp)
    }

    /// Re-reads the API's servers (after a change here, or one another instance made).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one = self.reloading.lock().await;
        let rows = self.store.list_mcp_servers().await?;
        self.upstreams.replace_api(&rows);
        self.rows.store(Arc::new(rows));
        Ok(())
    }

    pub(super) fn rows(&self) -> Arc<Vec<StoredMcpServer>> {
        self.rows.load_full()
    }

    pub(super) fn upstreams(&self) -> &Arc<Upstreams> {
        &self.upstreams
    }
}

/// What admission decided about one HTTP request, for the handler of its messages.
#[derive(Clone)]
pub(super) struct Admitted {
    pub state: AppState,
    pub gateway: Arc<Gateway>,
    pub run_token: Option<Arc<StoredToken>>,
    pub client: Option<IpAddr>,
    pub options: RequestOptions,
}

impl Admitted {
    /// Whether the request's run token (if any) opens `name` (a namespaced tool or prompt, or
    /// `{server}__{uri}` for a resource): its `mcp_tools` globs.
    pub fn allows(&self, name: &str) -> bool {
        self.run_token
            .as_ref()
            .is_none_or(|token| token.scope.allows_mcp_tool(name))
    }

    /// [`Admitted::allows`] for `{server}__{uri}`, where a glob's `*` also crosses the URI's
    /// `/` (so `github__*` opens every resource of `github`, as it opens its tools).
    pub fn allows_resource(&self, name: &str) -> bool {
        let Some(patterns) = self
            .run_token
            .as_ref()
            .and_then(|token| token.scope.mcp_tools.as_ref())
        else {
            return true;
        };
        // One segment: with no `/` on either side, `*` matches any run of characters.
        let flat = |text: &str| text.replace('/', "\u{0}");
        let name = flat(name);
        patterns
            .iter()
            .any(|pattern| crate::auth::glob_matches(&flat(pattern), &name))
    }
}

/// Serves one admitted HTTP request of the MCP endpoint.
pub async fn serve(ctx: &RequestContext<'_>, mut parts: Parts, body: Body) -> Response {
    let admitted = Arc::new(Admitted {
        state: ctx.state.clone(),
        gateway: ctx.gateway.clone(),
        run_token: ctx.run_token.clone(),
        client: ctx.client,
        options: ctx.options.clone(),
    });
    parts.extensions.insert(admitted);
    let service = ctx.state.mcp().service.clone();
    match service
        .oneshot(http::Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
    .into_response()
}

/// The admission facts of the message `extensions` came with; missing only if the handler
/// were reached some other way than [`serve`].
pub(super) fn admitted(
    extensions: &rmcp::model::Extensions,
) -> Result<Arc<Admitted>, GatewayError> {
    extensions
        .get::<Parts>()
        .and_then(|parts| parts.extensions.get::<Arc<Admitted>>())
        .cloned()
        .ok_or_else(|| GatewayError::new(ErrorCode::Internal, "MCP request without admission"))
}
