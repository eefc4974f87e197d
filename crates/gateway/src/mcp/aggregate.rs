//! The MCP handler behind the endpoint: `tools/list` lists every upstream server of the
//! gateway, each tool renamed `{server}__{tool}`, and `tools/call` routes by that prefix. An
//! upstream that fails is logged and left out of the list; the others stay usable. A run
//! token's `mcp_tools` globs filter both (docs/mcp.md). Methods not written here (prompts,
//! resources, anything unknown) get rmcp's JSON-RPC "method not found".

use std::sync::Arc;

use futures_util::future::join_all;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorCode as RpcCode, Implementation, ListToolsResult,
    PaginatedRequestParams, ResultType, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;

use super::NAMESPACE_SEPARATOR;
use super::log::ToolCallLog;
use super::server::{Admitted, admitted};
use crate::error::GatewayError;

/// The handler; stateless (its facts come with each message, see [`super::server`]).
pub struct Aggregator;

impl ServerHandler for Aggregator {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
            .with_instructions("Tools of this gateway's MCP servers, each named {server}__{tool}.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
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
                    allowed(&admitted, &name).then(|| {
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
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let admitted = admitted(&context.extensions).map_err(rpc_error)?;
        let name = request.name.to_string();
        let unknown = || {
            ErrorData::invalid_params(
                format!("Unknown tool '{name}': tools are named {{server}}__{{tool}}"),
                None,
            )
        };
        let (server, tool) = name.split_once(NAMESPACE_SEPARATOR).ok_or_else(unknown)?;
        let mcp = admitted.state.mcp();
        let upstream = mcp
            .upstreams()
            .find(&admitted.gateway.account_id, &admitted.gateway.id, server)
            .ok_or_else(unknown)?;
        if !allowed(&admitted, &name) {
            return Err(ErrorData::invalid_params(
                format!("Out of scope: this run token does not allow tool '{name}'"),
                None,
            ));
        }
        let parts = context.extensions.get::<http::request::Parts>();
        let empty = http::HeaderMap::new();
        let headers = parts.map_or(&empty, |p| &p.headers);
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
        let log = ToolCallLog::begin(&admitted, server, tool, &request, headers)
            .await
            .map_err(rpc_error)?;
        let mut upstream_request = request;
        upstream_request.name = tool.to_owned().into();
        let mut called = mcp
            .upstreams()
            .call_tool(admitted.state.keys(), &upstream, upstream_request)
            .await;
        // An upstream on an older protocol revision sends no `resultType`; the client may be on
        // one that requires it (rmcp drops it again for clients that predate it).
        if let Ok(CallToolResponse::Complete(result)) = &mut called {
            result.result_type.get_or_insert(ResultType::COMPLETE);
        }
        log.end(&called).await;
        called.map_err(|why| {
            tracing::warn!(gateway = %admitted.gateway.id, server, %why, "MCP tool call failed");
            ErrorData::internal_error(format!("MCP server '{server}' failed: {why}"), None)
        })
    }
}

/// Whether the request's run token (if any) opens tool `name`.
fn allowed(admitted: &Arc<Admitted>, name: &str) -> bool {
    admitted
        .run_token
        .as_ref()
        .is_none_or(|token| token.scope.allows_mcp_tool(name))
}

/// A gateway refusal as a JSON-RPC error: the gateway's envelope (code, status) in `data`.
fn rpc_error(error: GatewayError) -> ErrorData {
    ErrorData::new(
        RpcCode(-32000),
        error.message.clone(),
        Some(json!({
            "code": error.code.number(),
            "status": error.code.status().as_u16(),
        })),
    )
}
