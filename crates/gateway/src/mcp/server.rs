//! The endpoint: hands an admitted request to rmcp's Streamable HTTP service, with what
//! admission learned (gateway, run token, client, options) in the request's extensions, where
//! the handler ([`super::aggregate`]) reads it.
//!
//! Stateless by default (no `Mcp-Session-Id`): every POST is admitted on its own, so any
//! instance behind a load balancer can answer any message, and nothing per session lives in
//! memory; responses are JSON unless the handler streams. With `[mcp] sessions` on,
//! `initialize` opens a session ([`super::session`]): answers are SSE, GET opens the session's
//! stream of notifications, DELETE ends it. Either way each HTTP request is admitted on its own
//! and the handler reads that request's admission, never the one `initialize` had
//! (docs/mcp.md).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tower::ServiceExt;

use super::aggregate::Aggregator;
use super::session::{Changed, Listeners, Sessions};
use super::upstream::{Upstream, Upstreams};
use crate::clock::SharedClock;
use crate::config::{McpConfig, McpServerConfig};
use crate::error::{ErrorCode, GatewayError};
use crate::gateways::Gateway;
use crate::proxy::{RequestContext, RequestOptions};
use crate::state::AppState;
use crate::store::{Store, StoreError, StoredMcpServer, StoredToken};

/// The MCP side of the state: the Streamable HTTP service, the upstream servers' clients, and
/// the servers registered through the management API as stored.
pub struct McpGateway {
    endpoint: Endpoint,
    /// Cancelled at shutdown: ends the sessions and their open streams.
    stop: tokio_util::sync::CancellationToken,
    /// The open sessions' peers, told when their gateway's lists change.
    listeners: Arc<Listeners>,
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

/// rmcp's Streamable HTTP service: one for every gateway when stateless, one per gateway with
/// sessions.
enum Endpoint {
    Stateless(StreamableHttpService<Aggregator, NeverSessionManager>),
    Sessions(Sessions),
}

impl McpGateway {
    /// The endpoint with the configuration file's servers and the stored ones.
    pub async fn load(
        endpoint: &McpConfig,
        servers: &[McpServerConfig],
        store: Arc<dyn Store>,
        clock: SharedClock,
        max_body_bytes: usize,
    ) -> Result<McpGateway, StoreError> {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(endpoint.sessions)
            .with_json_response(true)
            // The proxy's own checks guard the request (head limits, the admin and run
            // tokens); a public gateway answers under any host name.
            .disable_allowed_hosts()
            .with_max_request_body_bytes(max_body_bytes);
        let stop = config.cancellation_token.clone();
        let listeners = Arc::new(Listeners::new(endpoint.max_sessions));
        let endpoint = match endpoint.sessions {
            false => Endpoint::Stateless(StreamableHttpService::new(
                || Ok(Aggregator::stateless()),
                Arc::new(NeverSessionManager::default()),
                config.with_sse_keep_alive(None),
            )),
            // rmcp's defaults: a comment every 15 s keeps an idle GET stream open through
            // proxies, and SSE events carry ids a client resumes from with `Last-Event-ID`.
            true => Endpoint::Sessions(Sessions::new(endpoint.clone(), config, listeners.clone())),
        };
        let mcp = McpGateway {
            endpoint,
            stop,
            upstreams: Arc::new(Upstreams::new(servers, listeners.clone())),
            listeners,
            store,
            clock,
            rows: ArcSwap::from_pointee(Vec::new()),
            reloading: tokio::sync::Mutex::new(()),
            changes: tokio::sync::Mutex::new(()),
        };
        mcp.reload().await?;
        Ok(mcp)
    }

    /// Re-reads the API's servers (after a change here, or one another instance made); the
    /// open sessions of each gateway whose servers changed are told its lists changed.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one = self.reloading.lock().await;
        let rows = self.store.list_mcp_servers().await?;
        self.upstreams.replace_api(&rows);
        let old = self.rows.swap(Arc::new(rows));
        for (account_id, gateway_id) in changed_gateways(&old, &self.rows.load()) {
            self.listeners
                .notify(Some(account_id), gateway_id, &Changed::ALL);
        }
        Ok(())
    }

    /// Ends every session and open SSE stream, so shutdown does not wait for streams that
    /// would stay open until their clients leave.
    pub fn close_all(&self) {
        self.stop.cancel();
    }

    pub(super) fn listeners(&self) -> &Listeners {
        &self.listeners
    }

    pub(super) fn rows(&self) -> Arc<Vec<StoredMcpServer>> {
        self.rows.load_full()
    }

    pub(super) fn upstreams(&self) -> &Arc<Upstreams> {
        &self.upstreams
    }
}

/// The gateways (account and id) whose enabled servers differ between `old` and `new`.
fn changed_gateways<'r>(
    old: &'r [StoredMcpServer],
    new: &'r [StoredMcpServer],
) -> Vec<(&'r str, &'r str)> {
    let enabled_of = |rows: &'r [StoredMcpServer]| {
        let mut by_gateway: BTreeMap<(&'r str, &'r str), Vec<&'r StoredMcpServer>> =
            BTreeMap::new();
        for row in rows.iter().filter(|row| row.enabled) {
            by_gateway
                .entry((row.account_id.as_str(), row.gateway_id.as_str()))
                .or_default()
                .push(row);
        }
        by_gateway
    };
    let (old, new) = (enabled_of(old), enabled_of(new));
    let mut changed: Vec<(&str, &str)> = old
        .iter()
        .filter(|(gateway, rows)| new.get(*gateway) != Some(*rows))
        .map(|(gateway, _)| *gateway)
        .collect();
    changed.extend(new.keys().filter(|gateway| !old.contains_key(*gateway)));
    changed
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
    /// The gateway's upstream server `name`; one registered through another instance a moment
    /// ago is read from the shared store first, as a gateway is (docs/deployment.md).
    pub async fn upstream(&self, name: &str) -> Option<Arc<Upstream>> {
        let (account_id, gateway_id) = (&self.gateway.account_id, &self.gateway.id);
        let look = || {
            self.state
                .mcp()
                .upstreams
                .find(account_id, gateway_id, name)
        };
        match look() {
            Some(upstream) => Some(upstream),
            None => {
                let miss = crate::mirror::Miss::mcp_server(account_id, gateway_id, name);
                self.state.look_again(miss, look).await
            }
        }
    }

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
    let request = http::Request::from_parts(parts, body);
    match &ctx.state.mcp().endpoint {
        Endpoint::Stateless(service) => answer(service.clone(), request).await,
        Endpoint::Sessions(sessions) => {
            let mut request = request;
            let unbound = request.method() == http::Method::POST
                && !request.headers().contains_key(SESSION_ID);
            // At the bound, an `initialize` is refused here with the gateway's envelope (rmcp
            // would answer 500); a message without a session that opens none (a 2026-07-28
            // request) still passes. Its body is read only then.
            if unbound && sessions.full() {
                let (parts, body) = request.into_parts();
                let bytes = match crate::proxy::read_body(
                    body,
                    &parts.headers,
                    ctx.state.config().server.max_body_bytes,
                )
                .await
                {
                    Ok(bytes) => bytes,
                    Err(error) => return error.into_response(),
                };
                if opens_session(&bytes) {
                    return GatewayError::new(
                        ErrorCode::Overloaded,
                        "Overloaded: this instance has as many MCP sessions open as \
                         [mcp] max_sessions allows",
                    )
                    .into_response();
                }
                request = http::Request::from_parts(parts, Body::from(bytes));
            }
            let gateway = &ctx.gateway;
            let service = sessions.service_of(&gateway.account_id, &gateway.id);
            answer(service, request).await
        }
    }
}

/// Whether a POST's body is an `initialize` request, which opens a session.
fn opens_session(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Method<'m> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'m, str>>,
    }
    serde_json::from_slice::<Method<'_>>(body)
        .ok()
        .and_then(|message| message.method)
        .is_some_and(|method| method == "initialize")
}

/// The header that carries a session's id.
const SESSION_ID: &str = "mcp-session-id";

async fn answer<M: SessionManager>(
    service: StreamableHttpService<Aggregator, M>,
    request: http::Request<Body>,
) -> Response {
    match service.oneshot(request).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(gateway: &str, name: &str, enabled: bool) -> StoredMcpServer {
        StoredMcpServer {
            id: format!("{gateway}-{name}"),
            account_id: "local".into(),
            gateway_id: gateway.into(),
            name: name.into(),
            url: format!("http://{name}/mcp"),
            headers: "{}".into(),
            key_id: None,
            enabled,
            timeout_ms: 1000,
            cost_per_call: None,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            modified_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn only_gateways_whose_enabled_servers_changed_are_told() {
        let old = vec![
            row("a", "one", true),
            row("b", "one", true),
            row("c", "off", false),
        ];
        // `a` unchanged; `b` lost its server; `c`'s disabled server edited (nothing served
        // changes); `d` gained one.
        let mut edited = row("c", "off", false);
        edited.url = "http://elsewhere/mcp".into();
        let new = vec![row("a", "one", true), edited, row("d", "new", true)];
        let mut changed = changed_gateways(&old, &new);
        changed.sort_unstable();
        assert_eq!(changed, [("local", "b"), ("local", "d")]);
        // Enabling a server changes its gateway's list.
        let enabled = vec![row("c", "off", true)];
        assert_eq!(changed_gateways(&old[2..], &enabled), [("local", "c")]);
    }
}
