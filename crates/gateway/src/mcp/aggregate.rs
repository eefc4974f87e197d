//! The MCP handler behind the endpoint: `tools/list` lists every upstream server of the
//! gateway, each tool renamed `{server}__{tool}`, and `tools/call` routes by that prefix; prompts
//! and resources likewise ([`super::catalog`]). An upstream that fails is logged and left out of
//! the list; the others stay usable. A run token's `mcp_tools` globs filter all of them
//! (docs/mcp.md). In tool-search mode ([`super::search`]) `tools/list` answers a search tool
//! and a call tool instead. Methods not written here get rmcp's JSON-RPC "method not found".

use futures_util::future::join_all;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorCode as RpcCode, GetPromptRequestParams,
    GetPromptResponse, Implementation, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ResultType,
    ServerCapabilities, ServerConfig, SubscriptionFilter, Tool,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::NAMESPACE_SEPARATOR;
use super::catalog;
use super::dlp::ToolDlp;
use super::log::ToolCallLog;
use super::message::{Message, set_traceparent};
use super::search;
use super::server::{Admitted, admitted};
use super::session::Listening;
use crate::error::{ErrorCode, GatewayError};
use crate::otel::McpTarget;

/// The handler; its facts come with each message (see [`super::server`]). With sessions, it
/// is one session's, and keeps the session's peer for list changes ([`super::session`]).
pub struct Aggregator {
    listening: Option<Listening>,
}

impl Aggregator {
    /// The handler of stateless messages.
    pub fn stateless() -> Aggregator {
        Aggregator { listening: None }
    }

    /// The handler of one session.
    pub fn listening(listening: Listening) -> Aggregator {
        Aggregator {
            listening: Some(listening),
        }
    }
}

impl ServerHandler for Aggregator {
    fn get_info(&self) -> ServerConfig {
        // Changes are told on a session's stream, or on a 2026-07-28 client's
        // `subscriptions/listen`; [`Self::initialize`] takes them back where neither exists.
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Tools and prompts of this gateway's MCP servers, each named {server}__{name}; \
             resources addressed {server}+{uri}.",
        )
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        let mut result = self.negotiate_initialize(&request)?;
        match &self.listening {
            // Kept before the answer, so a change right after the handshake is not missed.
            Some(listening) => listening.register(context.peer.clone()),
            // A stateless handshake has no stream to be told on.
            None => {
                let capabilities = &mut result.capabilities;
                for list_changed in [
                    capabilities.tools.as_mut().map(|c| &mut c.list_changed),
                    capabilities.prompts.as_mut().map(|c| &mut c.list_changed),
                    capabilities.resources.as_mut().map(|c| &mut c.list_changed),
                ]
                .into_iter()
                .flatten()
                {
                    *list_changed = None;
                }
            }
        }
        Ok(result)
    }

    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(
            SubscriptionFilter::builder()
                .tools_list_changed()
                .prompts_list_changed()
                .resources_list_changed()
                .build(),
        )
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let admitted = admitted(&context.request_context().extensions).map_err(rpc_error)?;
        let gateway = &admitted.gateway;
        let _kept = admitted
            .state
            .mcp()
            .listeners()
            .subscribe(&gateway.account_id, &gateway.id, context.sink().clone())
            .ok_or_else(|| {
                rpc_error(GatewayError::new(
                    ErrorCode::Overloaded,
                    "Overloaded: this instance has as many MCP subscriptions open as \
                     [mcp] max_sessions allows",
                ))
            })?;
        context.cancelled().await;
        Ok(())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        if search::requested(context.extensions.get::<http::request::Parts>()) {
            return Ok(ListToolsResult::with_all_items(search::meta_tools()));
        }
        Ok(ListToolsResult::with_all_items(all_tools(&admitted).await))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        let message = Message::of(&context);
        if search::requested(message.parts) {
            match &*request.name {
                search::SEARCH_TOOLS => {
                    let arguments = request.arguments.as_ref();
                    let query = arguments
                        .and_then(|a| a.get("query"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let found = search::search(
                        all_tools(&admitted).await,
                        query,
                        search::limit_of(arguments),
                    );
                    return Ok(search::answer(&found).into());
                }
                search::CALL_TOOL => {
                    let arguments = request.arguments.unwrap_or_default();
                    let Some(name) = arguments.get("name").and_then(Value::as_str) else {
                        return Err(ErrorData::invalid_params(
                            "call_tool needs `name`: a tool name search_tools returned",
                            None,
                        ));
                    };
                    let mut inner = CallToolRequestParams::new(name.to_owned());
                    match arguments.get("arguments") {
                        Some(Value::Object(args)) => inner = inner.with_arguments(args.clone()),
                        None | Some(Value::Null) => {}
                        Some(_) => {
                            return Err(ErrorData::invalid_params(
                                "call_tool's `arguments` must be an object",
                                None,
                            ));
                        }
                    }
                    return call_namespaced(&admitted, &message, inner).await;
                }
                _ => {}
            }
        }
        call_namespaced(&admitted, &message, request).await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        Ok(ListPromptsResult::with_all_items(
            catalog::list_prompts(&admitted).await,
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        catalog::get_prompt(&admitted, &Message::of(&context), request).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        Ok(ListResourcesResult::with_all_items(
            catalog::list_resources(&admitted).await,
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        Ok(ListResourceTemplatesResult::with_all_items(
            catalog::list_resource_templates(&admitted).await,
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        catalog::read_resource(&admitted, &Message::of(&context), request).await
    }
}

/// Every tool of every reachable server of the gateway, namespaced, that the token allows.
async fn all_tools(admitted: &Admitted) -> Vec<Tool> {
    let mcp = admitted.state.mcp();
    let upstreams = mcp.upstreams();
    let keys = admitted.state.keys();
    let servers = upstreams.of_gateway(&admitted.gateway.account_id, &admitted.gateway.id);
    let listed = join_all(servers.iter().map(|u| upstreams.list_tools(keys, u))).await;
    let mut tools = Vec::new();
    for (upstream, listed) in servers.iter().zip(listed) {
        let server = &upstream.config.name;
        match listed {
            Ok(found) => tools.extend(found.into_iter().filter_map(|mut tool| {
                let name = format!("{server}{NAMESPACE_SEPARATOR}{}", tool.name);
                admitted.allows(&name).then(|| {
                    tool.name = name.into();
                    tool
                })
            })),
            Err(why) => tracing::warn!(
                gateway = %admitted.gateway.id,
                server = %server,
                %why,
                "MCP server left out of tools/list"
            ),
        }
    }
    tools
}

/// One call of a namespaced tool: routed by its prefix, checked against the token, counted
/// toward the rate limits, screened by DLP, logged and traced.
async fn call_namespaced(
    admitted: &Admitted,
    message: &Message<'_>,
    request: CallToolRequestParams,
) -> Result<CallToolResponse, ErrorData> {
    let name = request.name.to_string();
    let unknown = || {
        ErrorData::invalid_params(
            format!("Unknown tool '{name}': tools are named {{server}}__{{tool}}"),
            None,
        )
    };
    let (server, tool) = name.split_once(NAMESPACE_SEPARATOR).ok_or_else(unknown)?;
    let mcp = admitted.state.mcp();
    let upstream = admitted.upstream(server).await.ok_or_else(unknown)?;
    if !admitted.allows(&name) {
        return Err(ErrorData::invalid_params(
            format!("Out of scope: this run token does not allow tool '{name}'"),
            None,
        ));
    }
    let headers = message.headers();
    // One tool call, one request toward the gateway's and the token's rate limits.
    crate::proxy::enforce_limits(
        &admitted.state,
        &admitted.gateway,
        headers,
        admitted.client,
        admitted.run_token.as_deref(),
    )
    .await
    .map_err(rpc_error)?;
    let mut dlp = ToolDlp::of(admitted).await.map_err(rpc_error)?;
    let mut request = request;
    let screened = dlp.screen_arguments(&mut request.arguments);
    let target = McpTarget {
        method: "tools/call",
        server,
        name: tool,
        namespaced: &name,
    };
    let arguments = serde_json::to_vec(&request.arguments).unwrap_or_default();
    // As a model request's attempt: reserved before its begin record, given back if that fails.
    let price = upstream.config.cost_per_call;
    let reservation = super::budget::reserve(admitted, server, tool, price)
        .await
        .map_err(rpc_error)?;
    let mut log = match ToolCallLog::begin(admitted, message, target, arguments).await {
        Ok(log) => log,
        Err(refused) => {
            super::budget::release(admitted, reservation).await;
            return Err(rpc_error(refused));
        }
    };
    log.hold(reservation);
    log.set_dlp(&dlp.report);
    if let Err(refused) = screened {
        log.end_refused(&refused).await;
        return Err(rpc_error(refused));
    }
    let mut upstream_request = request;
    upstream_request.name = tool.to_owned().into();
    set_traceparent(&mut upstream_request.meta, log.sending());
    let mut called = mcp
        .upstreams()
        .call_tool(admitted.state.keys(), &upstream, upstream_request)
        .await;
    let tool_error =
        matches!(&called, Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true));
    log.answered(&called, tool_error);
    if called.is_ok() {
        log.charge(price);
    }
    if let Ok(CallToolResponse::Complete(result)) = &mut called {
        // An upstream on an older protocol revision sends no `resultType`; the client may be on
        // one that requires it (rmcp drops it again for clients that predate it).
        result.result_type.get_or_insert(ResultType::COMPLETE);
        let screened = dlp.screen_result(result);
        log.set_dlp(&dlp.report);
        if let Err(refused) = screened {
            log.end_refused(&refused).await;
            return Err(rpc_error(refused));
        }
    }
    log.end(&called).await;
    called.map_err(|why| {
        tracing::warn!(gateway = %admitted.gateway.id, server, %why, "MCP tool call failed");
        ErrorData::internal_error(format!("MCP server '{server}' failed: {why}"), None)
    })
}

/// A gateway refusal as a JSON-RPC error: the gateway's envelope (code, status) in `data`.
pub(super) fn rpc_error(error: GatewayError) -> ErrorData {
    ErrorData::new(
        RpcCode(-32000),
        error.message.clone(),
        Some(json!({
            "code": error.code.number(),
            "status": error.code.status().as_u16(),
        })),
    )
}
