//! The MCP endpoint (docs/mcp.md): tools of every upstream server listed as `{server}__{tool}`,
//! calls routed by that prefix, an upstream that is down left out while the others work, the
//! endpoint authenticated as model routes are, a run token's `mcp_tools` allowlist, one log
//! row per tool call, DLP on tool calls, prompts and resources, and their spans (the second
//! mock upstream as the collector, as in otel.rs). Upstreams are real MCP servers (rmcp) on
//! loopback ports.

use std::sync::Arc;

use reqwest::Method;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ContentBlock as Content, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, ListPromptsResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, Prompt, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{
    StreamableHttpClientTransport, StreamableHttpServerConfig, StreamableHttpService,
};
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tollgate_gateway::clock::{ManualClock, SharedClock};

use crate::support::{ADMIN_TOKEN, TestGateway, gateway_error_code, two_instances_on_one_database};

/// An upstream MCP server named `name`: tools `echo` (answers `{name}: {text}`) and `fail`
/// (answers with a tool error).
#[derive(Clone)]
pub(crate) struct Upstream {
    pub(crate) name: &'static str,
}

/// A tool named `name` taking `{"text": …}`.
pub(crate) fn tool(name: &'static str) -> Tool {
    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}});
    let Value::Object(schema) = schema else {
        unreachable!()
    };
    Tool::new(name, format!("the {name} tool"), Arc::new(schema))
}

impl ServerHandler for Upstream {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("a greeting"),
            None,
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let who = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("who"))
            .and_then(Value::as_str)
            .unwrap_or("nobody");
        Ok(GetPromptResponse::Complete(GetPromptResult::new(vec![
            PromptMessage::new_text(
                Role::User,
                format!("{} greets {who} ({})", self.name, request.name),
            ),
        ])))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "memo://notes/today",
            "notes",
        )]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        // Not listed: a text and a blob, both holding a credential.
        if request.uri == "memo://keys" {
            return Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
                vec![
                    ResourceContents::text(format!("the key is {AWS_KEY}"), "memo://keys"),
                    ResourceContents::blob(AWS_KEY, "memo://keys"),
                ],
            )));
        }
        Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
            vec![ResourceContents::text(
                format!("{} notes", self.name),
                request.uri,
            )],
        )))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![
            tool("echo"),
            tool("fail"),
            tool("whoami"),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        match &*request.name {
            "echo" => Ok(CallToolResult::success(vec![Content::text(format!(
                "{}: {text}",
                self.name
            ))])
            .into()),
            "fail" => Ok(CallToolResult::error(vec![Content::text("it failed")]).into()),
            // Not listed: the trace context the call carried in its `_meta`.
            "trace" => Ok(CallToolResult::success(vec![Content::text(
                context.meta.get_traceparent().unwrap_or("-").to_owned(),
            )])
            .into()),
            // What reached this server: its configured credential, and no client credential.
            "whoami" => {
                let parts = context.extensions.get::<http::request::Parts>().unwrap();
                let header = |name: &str| {
                    parts
                        .headers
                        .get(name)
                        .map_or("-", |v| v.to_str().unwrap())
                        .to_owned()
                };
                Ok(CallToolResult::success(vec![Content::text(format!(
                    "{} {}",
                    header("authorization"),
                    header("cf-aig-authorization")
                ))])
                .into())
            }
            other => Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        }
    }
}

/// Serves `server` on a loopback port; its `/mcp` URL, and the token that stops it.
#[expect(
    clippy::disallowed_methods,
    reason = "an upstream MCP server for this test, which ends with the test's runtime"
)]
pub(crate) async fn start_upstream<S>(server: S) -> (String, CancellationToken)
where
    S: ServerHandler + Clone + Send + Sync + 'static,
{
    let stop = CancellationToken::new();
    let service: StreamableHttpService<S, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(server.clone()),
        Default::default(),
        StreamableHttpServerConfig::default()
            .with_sse_keep_alive(None)
            .with_cancellation_token(stop.child_token()),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stopped = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stopped.cancelled_owned().await })
            .await;
    });
    (format!("http://{addr}/mcp"), stop)
}

/// A URL where nothing listens: a port bound and released.
async fn stopped_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/mcp")
}

struct Setup {
    gw: TestGateway,
    _stops: Vec<CancellationToken>,
}

/// A test gateway whose gateway `tools` has servers `alpha` and `beta` (running) and `gamma`
/// (stopped); `authentication` as given.
async fn setup(authentication: bool) -> Setup {
    setup_with(json!({"authentication": authentication})).await
}

/// [`setup`] with the gateway's settings (its id and log collection added).
async fn setup_with(settings: Value) -> Setup {
    setup_configured(settings, "", None).await
}

/// [`setup_with`] and more of the configuration file (`extra`, after the servers), its time
/// (budget windows) following `clock` when one is given.
async fn setup_configured(mut settings: Value, extra: &str, clock: Option<SharedClock>) -> Setup {
    let (alpha, stop_alpha) = start_upstream(Upstream { name: "alpha" }).await;
    let (beta, stop_beta) = start_upstream(Upstream { name: "beta" }).await;
    let gamma = stopped_upstream().await;
    let sections = format!(
        r#"
[[mcp_servers]]
gateway = "tools"
name = "alpha"
url = "{alpha}"
headers = {{ authorization = "Bearer upstream-secret" }}

[[mcp_servers]]
gateway = "tools"
name = "gamma"
url = "{gamma}"
timeout_ms = 2000

[[mcp_servers]]
gateway = "tools"
name = "beta"
url = "{beta}"
{extra}
"#
    );
    let gw = TestGateway::build("", &sections, clock, None).await;
    settings["id"] = json!("tools");
    settings["collect_logs"] = json!(true);
    gw.create_gateway(settings).await;
    Setup {
        gw,
        _stops: vec![stop_alpha, stop_beta],
    }
}

/// An MCP client of the gateway's endpoint, sending `token` as `cf-aig-authorization`.
async fn client(gw: &TestGateway, token: Option<&str>) -> RunningService<RoleClient, ClientConfig> {
    client_at(gw, "/v1/local/tools/mcp", token).await
}

/// [`client`] of the endpoint at `path` (a query string, say).
async fn client_at(
    gw: &TestGateway,
    path: &str,
    token: Option<&str>,
) -> RunningService<RoleClient, ClientConfig> {
    let mut headers = std::collections::HashMap::new();
    if let Some(token) = token {
        headers.insert(
            http::HeaderName::from_static("cf-aig-authorization"),
            http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
    }
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(gw.url(path)).custom_headers(headers),
    );
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("test", "1"),
    )
    .serve(transport)
    .await
    .expect("the client connects")
}

async fn tool_names(client: &RunningService<RoleClient, ClientConfig>) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

fn call(name: &str, text: &str) -> CallToolRequestParams {
    let Value::Object(arguments) = json!({"text": text}) else {
        unreachable!()
    };
    CallToolRequestParams::new(name.to_owned()).with_arguments(arguments)
}

#[tokio::test]
async fn tools_of_every_running_server_are_listed_namespaced_and_calls_are_routed() {
    let setup = setup(false).await;
    let client = client(&setup.gw, None).await;
    // gamma is down: left out, the others listed.
    assert_eq!(
        tool_names(&client).await,
        [
            "alpha__echo",
            "alpha__fail",
            "alpha__whoami",
            "beta__echo",
            "beta__fail",
            "beta__whoami"
        ]
    );
    let alpha = client.call_tool(call("alpha__echo", "hi")).await.unwrap();
    assert_eq!(text_of(&alpha), "alpha: hi");
    let beta = client.call_tool(call("beta__echo", "there")).await.unwrap();
    assert_eq!(text_of(&beta), "beta: there");
    // A tool error is the tool's answer, passed through.
    let failed = client.call_tool(call("beta__fail", "x")).await.unwrap();
    assert_eq!(failed.is_error, Some(true));
    // Unknown server, unknown name shape, the down server: JSON-RPC errors, the client lives on.
    for name in ["nope__echo", "echo", "gamma__echo"] {
        let error = client.call_tool(call(name, "x")).await.unwrap_err();
        assert!(
            matches!(error, rmcp::ServiceError::McpError(_)),
            "{name}: {error}"
        );
    }
    let again = client
        .call_tool(call("alpha__echo", "again"))
        .await
        .unwrap();
    assert_eq!(text_of(&again), "alpha: again");
}

#[tokio::test]
async fn each_tool_call_is_a_log_row() {
    let setup = setup(false).await;
    let gw = &setup.gw;
    let client = client(gw, None).await;
    client
        .call_tool(call("alpha__echo", "logged"))
        .await
        .unwrap();
    client.call_tool(call("beta__fail", "x")).await.unwrap();
    let _ = client.call_tool(call("gamma__echo", "x")).await;
    // Listing is not a call: no row.
    tool_names(&client).await;
    let rows = tool_rows(gw).await;
    let seen: Vec<(String, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap().to_owned(),
                r["model"].as_str().unwrap().to_owned(),
                r["success"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("mcp:alpha".to_owned(), "echo".to_owned(), true),
            ("mcp:beta".to_owned(), "fail".to_owned(), false),
            ("mcp:gamma".to_owned(), "echo".to_owned(), false),
        ],
        "{rows:?}"
    );
    let id = rows[0]["id"].as_str().unwrap();
    let base = format!("/accounts/local/ai-gateway/gateways/tools/logs/{id}");
    let request = stored_body(gw, &base, "request").await;
    assert!(
        request.contains("logged"),
        "the arguments are the request body: {request}"
    );
    let response = stored_body(gw, &base, "response").await;
    assert!(
        response.contains("alpha: logged"),
        "the result is the response body: {response}"
    );
    assert!(
        rows[2]["duration"].is_number() || rows[2]["duration_ms"].is_number(),
        "{}",
        rows[2]
    );
}

#[tokio::test]
async fn the_endpoint_is_authenticated_like_model_routes() {
    let setup = setup(true).await;
    let gw = &setup.gw;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}
    });
    for token in [None, Some("Bearer tgr_not-a-token")] {
        let mut request = gw
            .http
            .post(gw.url("/v1/local/tools/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(token) = token {
            request = request.header("cf-aig-authorization", token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(gateway_error_code(&body), 2009, "{body}");
    }

    // A token whose scope names some tools sees and calls only those.
    let token = gw
        .create_token(json!({"name": "agent", "mcp_tools": ["alpha__*", "beta__echo"]}))
        .await;
    let client = client(gw, Some(&token)).await;
    assert_eq!(
        tool_names(&client).await,
        ["alpha__echo", "alpha__fail", "alpha__whoami", "beta__echo"]
    );
    // The upstream gets its configured credential, never the client's run token.
    let whoami = client.call_tool(call("alpha__whoami", "")).await.unwrap();
    assert_eq!(text_of(&whoami), "Bearer upstream-secret -");
    let error = client.call_tool(call("beta__fail", "x")).await.unwrap_err();
    assert!(error.to_string().contains("Out of scope"), "{error}");
    let ok = client
        .call_tool(call("beta__echo", "in scope"))
        .await
        .unwrap();
    assert_eq!(text_of(&ok), "beta: in scope");
}

#[tokio::test]
async fn unknown_methods_get_a_json_rpc_error() {
    let setup = setup(false).await;
    let gw = &setup.gw;
    let response = post_message(
        gw,
        &json!({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}),
        None,
    )
    .await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(body.contains("-32601"), "{status} {body}");
    // Stateless: no server-to-client stream to open.
    let get = gw
        .http
        .get(gw.url("/v1/local/tools/mcp"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn each_tool_call_counts_toward_the_rate_limit_and_listing_does_not() {
    let setup = setup_with(json!({"rate_limiting_limit": 2, "rate_limiting_interval": 60})).await;
    let client = client(&setup.gw, None).await;
    for _ in 0..3 {
        tool_names(&client).await;
    }
    for _ in 0..2 {
        client.call_tool(call("alpha__echo", "x")).await.unwrap();
    }
    let error = client
        .call_tool(call("alpha__echo", "x"))
        .await
        .unwrap_err();
    let error = rpc_error(error);
    assert_eq!(
        error.data,
        Some(json!({"code": 2003, "status": 429})),
        "{}",
        error.message
    );
}

/// The gateway `tools`' log rows, oldest first, once every record has reached the store.
async fn tool_rows(gw: &TestGateway) -> Vec<Value> {
    gw.logs_flushed().await;
    let (status, logs) = gw
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/gateways/tools/logs?order_by_direction=asc",
            None,
        )
        .await;
    assert_eq!(status, 200, "{logs}");
    logs["result"].as_array().cloned().unwrap_or_default()
}

/// One JSON-RPC message POSTed to gateway `tools`' endpoint as it is (no session, no SDK),
/// with the client's `traceparent` when given.
async fn post_message(
    gw: &TestGateway,
    message: &Value,
    traceparent: Option<&str>,
) -> reqwest::Response {
    let mut request = gw
        .http
        .post(gw.url("/v1/local/tools/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(message);
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    request.send().await.unwrap()
}

/// The JSON-RPC error a refused call ended with.
fn rpc_error(error: rmcp::ServiceError) -> ErrorData {
    let rmcp::ServiceError::McpError(error) = error else {
        panic!("not a JSON-RPC error: {error}")
    };
    error
}

/// A log row's stored `request` or `response` body, as text.
async fn stored_body(gw: &TestGateway, row: &str, which: &str) -> String {
    gw.http
        .get(gw.url(&format!("/client/v4{row}/{which}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

const SERVERS: &str = "/accounts/local/ai-gateway/gateways/tools/mcp_servers";

/// Registers an upstream server on gateway `tools` through the management API; the answer's
/// envelope.
pub(crate) async fn register_server(gw: &TestGateway, body: Value) -> Value {
    let (status, created) = gw.admin(Method::POST, SERVERS, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    created
}

/// Stores a provider key on gateway `tools` (its secret `secret`); its id.
async fn stored_key(gw: &TestGateway, secret: &str) -> String {
    let (status, key) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways/tools/provider_configs",
            Some(json!({"provider_slug": "openai", "alias": "mcp", "secret": secret})),
        )
        .await;
    assert_eq!(status, 200, "{key}");
    key["result"]["id"].as_str().unwrap().to_owned()
}

fn fields_of(envelope: &Value) -> Vec<String> {
    envelope["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn servers_registered_through_the_api_join_the_configured_ones_with_their_stored_key() {
    let setup = setup(true).await;
    let gw = &setup.gw;
    let (delta, _stop_delta) = start_upstream(Upstream { name: "delta" }).await;
    let key = stored_key(gw, "sk-delta-secret-123456").await;

    // Every bad field is named; a credential header is refused (it belongs in `key`).
    let (status, refused) = gw
        .admin(
            Method::POST,
            SERVERS,
            Some(json!({"name": "Delta_1", "url": "ftp://x",
                        "headers": {"authorization": "Bearer x"}, "enabld": true})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let messages = fields_of(&refused).join("\n");
    for field in ["name", "url", "headers.authorization", "enabld"] {
        assert!(messages.contains(field), "{field}: {messages}");
    }
    // A key the gateway does not have; a name the configuration file already gives it.
    let (status, refused) = gw
        .admin(
            Method::POST,
            SERVERS,
            Some(json!({"name": "delta", "url": delta, "key": "nope"})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(fields_of(&refused)[0].contains("key"), "{refused}");
    let (status, refused) = gw
        .admin(
            Method::POST,
            SERVERS,
            Some(json!({"name": "alpha", "url": delta})),
        )
        .await;
    assert_eq!(status, 409, "{refused}");

    let created = register_server(
        gw,
        json!({"name": "delta", "url": delta, "key": key,
                        "headers": {"X-Tenant": "acme"}, "timeout_ms": 5000}),
    )
    .await;
    let server = &created["result"];
    assert_eq!(
        (&server["name"], &server["key"], &server["enabled"]),
        (&json!("delta"), &json!(key), &json!(true))
    );
    assert_eq!(server["headers"], json!({"x-tenant": "acme"}));
    assert_eq!(server["timeout_ms"], 5000);
    assert!(!created.to_string().contains("sk-delta"), "{created}");
    let id = server["id"].as_str().unwrap().to_owned();
    let (status, _) = gw
        .admin(
            Method::POST,
            SERVERS,
            Some(json!({"name": "delta", "url": delta})),
        )
        .await;
    assert_eq!(status, 409, "one name per gateway");
    let (status, listed) = gw.admin(Method::GET, SERVERS, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["result"].as_array().unwrap().len(), 1, "{listed}");
    assert!(!listed.to_string().contains("sk-delta"));

    // Listed beside the configured servers; the stored key's secret goes upstream as a bearer
    // token, the client's run token does not.
    let token = gw.create_token(json!({"name": "agent"})).await;
    let client = client(gw, Some(&token)).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"alpha__echo".to_owned()), "{names:?}");
    assert!(names.contains(&"delta__whoami".to_owned()), "{names:?}");
    let whoami = client.call_tool(call("delta__whoami", "")).await.unwrap();
    assert_eq!(text_of(&whoami), "Bearer sk-delta-secret-123456 -");

    // Disabled: gone from the endpoint, kept by the API. Enabled without a key: no credential.
    let one = format!("{SERVERS}/{id}");
    let (status, patched) = gw
        .admin(Method::PATCH, &one, Some(json!({"enabled": false})))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert!(
        !tool_names(&client)
            .await
            .iter()
            .any(|n| n.starts_with("delta__"))
    );
    let (status, patched) = gw
        .admin(
            Method::PATCH,
            &one,
            Some(json!({"enabled": true, "key": null})),
        )
        .await;
    assert_eq!((status, &patched["result"]["key"]), (200, &Value::Null));
    let whoami = client.call_tool(call("delta__whoami", "")).await.unwrap();
    assert_eq!(text_of(&whoami), "- -");

    let (status, _) = gw.admin(Method::DELETE, &one, None).await;
    assert_eq!(status, 200);
    let (status, missing) = gw.admin(Method::GET, &one, None).await;
    assert_eq!(status, 404, "{missing}");
    assert!(client.call_tool(call("delta__echo", "x")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_added_through_one_instance_is_served_by_another() {
    let (database, one, two) = two_instances_on_one_database().await;
    let (delta, _stop_delta) = start_upstream(Upstream { name: "delta" }).await;
    one.create_gateway(json!({"id": "tools"})).await;
    let created = register_server(&one, json!({"name": "delta", "url": delta})).await;
    // A notification makes two reload; the periodic reload is the safety net.
    let mut reloads = two.state.reloads();
    reloads
        .wait_for(|_| !two.state.mcp().list_json("local", "tools").is_empty())
        .await
        .unwrap();
    let client = client(&two, None).await;
    assert_eq!(
        tool_names(&client).await,
        ["delta__echo", "delta__fail", "delta__whoami"]
    );
    // Removed through two: one's management API and endpoint no longer have it.
    let id = created["result"]["id"].as_str().unwrap();
    let (status, _) = two
        .admin(Method::DELETE, &format!("{SERVERS}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (_, listed) = one.admin(Method::GET, SERVERS, None).await;
    assert_eq!(listed["result"], json!([]), "{listed}");
    let client = self::client(&one, None).await;
    assert!(tool_names(&client).await.is_empty());
    drop((one, two, client));
    drop(database);
}

/// Behind one load balancer: a server registered through one instance is called through the
/// other at once, before its change feed may have been heard (the call's miss reads the shared
/// store first, docs/deployment.md), and a server nobody registered is still unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_registered_through_one_instance_is_called_through_the_other_at_once() {
    let (database, one, two) = two_instances_on_one_database().await;
    let (delta, _stop_delta) = start_upstream(Upstream { name: "delta" }).await;
    one.create_gateway(json!({"id": "tools"})).await;
    register_server(&one, json!({"name": "delta", "url": delta})).await;
    let client = client(&two, None).await;
    let result = client
        .call_tool(call("delta__echo", "at once"))
        .await
        .unwrap();
    assert_eq!(text_of(&result), "delta: at once");
    let error = rpc_error(
        client
            .call_tool(call("ghost__echo", "x"))
            .await
            .unwrap_err(),
    );
    assert!(
        error.message.contains("Unknown tool 'ghost__echo'"),
        "{}",
        error.message
    );
    drop((one, two, client));
    drop(database);
}

#[tokio::test]
async fn prompts_and_resources_are_namespaced_routed_and_filtered_by_the_token() {
    let setup = setup(true).await;
    let gw = &setup.gw;
    let open = gw.create_token(json!({"name": "open"})).await;
    let client = client(gw, Some(&open)).await;
    let mut prompts: Vec<String> = client
        .list_all_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    prompts.sort();
    assert_eq!(prompts, ["alpha__greet", "beta__greet"]);
    let Value::Object(arguments) = json!({"who": "ada"}) else {
        unreachable!()
    };
    let got = client
        .get_prompt(GetPromptRequestParams::new("beta__greet").with_arguments(arguments))
        .await
        .unwrap();
    let Content::Text(text) = &got.messages[0].content else {
        panic!("{got:?}")
    };
    // Routed to beta under the prompt's own name.
    assert_eq!(text.text, "beta greets ada (greet)");

    // A resource's URI is `{server}+{uri}`, and reading it gives the contents the same URI.
    let mut resources: Vec<(String, String)> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.uri.clone(), r.name.clone()))
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        [
            (
                "alpha+memo://notes/today".to_owned(),
                "alpha__notes".to_owned()
            ),
            (
                "beta+memo://notes/today".to_owned(),
                "beta__notes".to_owned()
            ),
        ]
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new("alpha+memo://notes/today"))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { uri, text, .. } = &read.contents[0] else {
        panic!("{read:?}")
    };
    assert_eq!(
        (uri.as_str(), text.as_str()),
        ("alpha+memo://notes/today", "alpha notes")
    );
    for unknown in ["nope+memo://x", "memo://notes/today"] {
        assert!(
            client
                .read_resource(ReadResourceRequestParams::new(unknown))
                .await
                .is_err(),
            "{unknown}"
        );
    }

    // A token's globs filter prompts and resources as they filter tools.
    let token = gw
        .create_token(json!({"name": "agent", "mcp_tools": ["alpha__*"]}))
        .await;
    let scoped = client_at(gw, "/v1/local/tools/mcp", Some(&token)).await;
    let prompts: Vec<String> = scoped
        .list_all_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(prompts, ["alpha__greet"]);
    let resources = scoped.list_all_resources().await.unwrap();
    assert_eq!(resources.len(), 1);
    let error = scoped
        .read_resource(ReadResourceRequestParams::new("beta+memo://notes/today"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Out of scope"), "{error}");
    let error = scoped
        .get_prompt(GetPromptRequestParams::new("beta__greet"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Out of scope"), "{error}");

    // The prompt got and the resource read are log rows, as tool calls are; listings are not.
    let rows = tool_rows(gw).await;
    let seen: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap(),
                r["model"].as_str().unwrap(),
                r["path"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("mcp:beta", "greet", "prompts/get"),
            ("mcp:alpha", "memo://notes/today", "resources/read"),
        ],
        "{rows:?}"
    );
}

#[tokio::test]
async fn tool_search_mode_lists_a_search_tool_and_calls_through_call_tool() {
    let setup = setup(true).await;
    let gw = &setup.gw;
    let open = gw.create_token(json!({"name": "open"})).await;
    for (path, header) in [
        ("/v1/local/tools/mcp?tool_search=1", false),
        ("/v1/local/tools/mcp", true),
    ] {
        let client = if header {
            let mut headers = std::collections::HashMap::new();
            headers.insert(
                http::HeaderName::from_static("cf-aig-mcp-tool-search"),
                http::HeaderValue::from_static("1"),
            );
            headers.insert(
                http::HeaderName::from_static("cf-aig-authorization"),
                http::HeaderValue::from_str(&format!("Bearer {open}")).unwrap(),
            );
            let transport = StreamableHttpClientTransport::from_config(
                StreamableHttpClientTransportConfig::with_uri(gw.url(path)).custom_headers(headers),
            );
            ClientConfig::new(ClientCapabilities::default(), Implementation::new("t", "1"))
                .serve(transport)
                .await
                .unwrap()
        } else {
            client_at(gw, path, Some(&open)).await
        };
        assert_eq!(tool_names(&client).await, ["call_tool", "search_tools"]);
        let Value::Object(query) = json!({"query": "whoami"}) else {
            unreachable!()
        };
        let found = client
            .call_tool(CallToolRequestParams::new("search_tools").with_arguments(query))
            .await
            .unwrap();
        let names: Vec<&str> = found.structured_content.as_ref().unwrap()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["alpha__whoami", "beta__whoami"], "{found:?}");
        let Value::Object(bounded) = json!({"query": "", "limit": 2}) else {
            unreachable!()
        };
        let found = client
            .call_tool(CallToolRequestParams::new("search_tools").with_arguments(bounded))
            .await
            .unwrap();
        assert_eq!(
            found.structured_content.unwrap()["tools"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let Value::Object(through) = json!({"name": "beta__echo", "arguments": {"text": "hi"}})
        else {
            unreachable!()
        };
        let called = client
            .call_tool(CallToolRequestParams::new("call_tool").with_arguments(through))
            .await
            .unwrap();
        assert_eq!(text_of(&called), "beta: hi");
        // A found tool may be called directly too.
        let direct = client.call_tool(call("alpha__echo", "x")).await.unwrap();
        assert_eq!(text_of(&direct), "alpha: x");
    }
    // Without the mode, every tool is listed and the meta-tools are unknown.
    let plain = client(gw, Some(&open)).await;
    assert!(tool_names(&plain).await.contains(&"alpha__echo".to_owned()));
    assert!(plain.call_tool(call("search_tools", "x")).await.is_err());

    // The token's globs bound what a search finds and what call_tool may call.
    let token = gw
        .create_token(json!({"name": "agent", "mcp_tools": ["beta__*"]}))
        .await;
    let scoped = client_at(gw, "/v1/local/tools/mcp?tool_search=1", Some(&token)).await;
    let Value::Object(query) = json!({"query": "echo"}) else {
        unreachable!()
    };
    let found = scoped
        .call_tool(CallToolRequestParams::new("search_tools").with_arguments(query))
        .await
        .unwrap();
    assert_eq!(
        found.structured_content.unwrap()["tools"],
        json!([{"name": "beta__echo", "description": "the echo tool",
                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}])
    );
    let Value::Object(through) = json!({"name": "alpha__echo", "arguments": {"text": "no"}}) else {
        unreachable!()
    };
    let error = scoped
        .call_tool(CallToolRequestParams::new("call_tool").with_arguments(through))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Out of scope"), "{error}");
}

const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const CARD: &str = "4111 1111 1111 1111";

#[tokio::test]
async fn dlp_policies_apply_to_tool_arguments_and_results() {
    let setup = setup_with(json!({"dlp": {"enabled": true, "policies": [
        {"id": "keys-out", "action": "REDACT", "check": ["REQUEST"], "enabled": true,
         "profiles": ["credentials"]},
        {"id": "cards", "action": "BLOCK", "check": ["REQUEST", "RESPONSE"], "enabled": true,
         "profiles": ["financial"]},
    ]}}))
    .await;
    let gw = &setup.gw;
    let client = client(gw, None).await;

    // REDACT: the server receives, and echoes, the redacted arguments.
    let redacted = client
        .call_tool(call("alpha__echo", &format!("my key is {AWS_KEY}")))
        .await
        .unwrap();
    let echoed = text_of(&redacted);
    assert!(!echoed.contains(AWS_KEY), "{echoed}");
    assert!(echoed.contains("[REDACTED:"), "{echoed}");

    // BLOCK on the arguments: refused with 2029 before the server is called.
    let refused = client
        .call_tool(call("alpha__echo", &format!("card {CARD}")))
        .await
        .unwrap_err();
    let refused = rpc_error(refused);
    assert_eq!(refused.data, Some(json!({"code": 2029, "status": 400})));

    let rows = tool_rows(gw).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = |i: usize| rows[i]["id"].as_str().unwrap().to_owned();
    let first = gw.log_row("tools", &row(0)).await.unwrap();
    let dlp = first.dlp.expect("the redaction is on the row");
    assert!(dlp.contains("credentials.aws_access_key_id"), "{dlp}");
    let base = format!("/accounts/local/ai-gateway/gateways/tools/logs/{}", row(0));
    let stored = stored_body(gw, &base, "request").await;
    assert!(
        !stored.contains(AWS_KEY),
        "the row keeps the redacted arguments: {stored}"
    );
    let second = gw.log_row("tools", &row(1)).await.unwrap();
    assert_eq!((second.status_code, second.success), (Some(400), false));
    assert!(second.dlp.unwrap().contains("BLOCK"));

    // BLOCK on results only: the server is called, its answer replaced by 2030.
    let (status, body) = gw
        .admin(
            Method::PUT,
            "/accounts/local/ai-gateway/gateways/tools",
            Some(json!({"dlp": {"enabled": true, "policies": [
                {"id": "cards-back", "action": "BLOCK", "check": ["RESPONSE"], "enabled": true,
                 "profiles": ["financial"]},
            ]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let refused = client
        .call_tool(call("alpha__echo", &format!("card {CARD}")))
        .await
        .unwrap_err();
    let refused = rpc_error(refused);
    assert_eq!(refused.data, Some(json!({"code": 2030, "status": 400})));
}

fn greet(who: &str) -> GetPromptRequestParams {
    let Value::Object(arguments) = json!({"who": who}) else {
        unreachable!()
    };
    GetPromptRequestParams::new("alpha__greet").with_arguments(arguments)
}

/// Replaces the gateway's DLP policies (log collection kept on).
async fn set_policies(gw: &TestGateway, policies: Value) {
    let (status, body) = gw
        .admin(
            Method::PUT,
            "/accounts/local/ai-gateway/gateways/tools",
            Some(json!({"collect_logs": true,
                        "dlp": {"enabled": true, "policies": policies}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn dlp_policies_apply_to_prompts_and_resources_and_their_rows_show_it() {
    let setup = setup_with(json!({"dlp": {"enabled": true, "policies": [
        {"id": "cards", "action": "BLOCK", "check": ["REQUEST"], "enabled": true,
         "profiles": ["financial"]},
        {"id": "keys-back", "action": "REDACT", "check": ["RESPONSE"], "enabled": true,
         "profiles": ["credentials"]},
    ]}}))
    .await;
    let gw = &setup.gw;
    let client = client(gw, None).await;

    // BLOCK on a prompt's arguments: 2029, the server not asked.
    let refused = client
        .get_prompt(greet(&format!("card {CARD}")))
        .await
        .unwrap_err();
    assert_eq!(
        rpc_error(refused).data,
        Some(json!({"code": 2029, "status": 400}))
    );

    // REDACT on a prompt's messages: the server's answer (which quotes the argument) rewritten.
    let got = client.get_prompt(greet(AWS_KEY)).await.unwrap();
    let Content::Text(text) = &got.messages[0].content else {
        panic!("{got:?}")
    };
    assert!(!text.text.contains(AWS_KEY), "{}", text.text);
    assert!(
        text.text
            .starts_with("alpha greets [REDACTED:aws_access_key_id]"),
        "{}",
        text.text
    );

    // A resource's text is scanned, its blobs are not.
    let read = client
        .read_resource(ReadResourceRequestParams::new("alpha+memo://keys"))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("{read:?}")
    };
    assert!(!text.contains(AWS_KEY), "{text}");
    let ResourceContents::BlobResourceContents { blob, uri, .. } = &read.contents[1] else {
        panic!("{read:?}")
    };
    assert_eq!(
        (blob.as_str(), uri.as_str()),
        (AWS_KEY, "alpha+memo://keys")
    );

    // FLAG on a resource's text: the client gets it as it is, the row records the finding.
    set_policies(
        gw,
        json!([{"id": "keys-seen", "action": "FLAG", "check": ["RESPONSE"], "enabled": true,
                "profiles": ["credentials"]}]),
    )
    .await;
    let read = client
        .read_resource(ReadResourceRequestParams::new("alpha+memo://keys"))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("{read:?}")
    };
    assert_eq!(text, &format!("the key is {AWS_KEY}"));

    let rows = tool_rows(gw).await;
    let seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["model"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("prompts/get", "greet"),
            ("prompts/get", "greet"),
            ("resources/read", "memo://keys"),
            ("resources/read", "memo://keys"),
        ],
        "{rows:?}"
    );
    let row = |i: usize| rows[i]["id"].as_str().unwrap().to_owned();
    let blocked = gw.log_row("tools", &row(0)).await.unwrap();
    assert_eq!((blocked.status_code, blocked.success), (Some(400), false));
    let dlp = blocked.dlp.unwrap();
    assert!(dlp.contains("BLOCK") && dlp.contains("financial."), "{dlp}");
    assert!(
        !dlp.contains("4111"),
        "the matched text is never kept: {dlp}"
    );
    let base = |i: usize| format!("/accounts/local/ai-gateway/gateways/tools/logs/{}", row(i));
    let redacted = gw.log_row("tools", &row(1)).await.unwrap();
    assert!(redacted.dlp.unwrap().contains("REDACT"));
    let stored = stored_body(gw, &base(1), "response").await;
    assert!(
        stored.contains("[REDACTED:") && !stored.contains(AWS_KEY),
        "the row keeps what the client got: {stored}"
    );
    let flagged = gw.log_row("tools", &row(3)).await.unwrap();
    assert_eq!((flagged.status_code, flagged.success), (Some(200), true));
    let dlp = flagged.dlp.expect("the finding is on the row");
    assert!(
        dlp.contains("FLAG") && dlp.contains("credentials.aws_access_key_id"),
        "{dlp}"
    );
    assert!(
        !dlp.contains(AWS_KEY),
        "the matched text is never kept: {dlp}"
    );
}

#[tokio::test]
async fn a_tool_call_is_a_span_in_the_clients_trace_and_its_row_carries_the_trace_id() {
    use crate::otel::{
        CLIENT_SPAN, CLIENT_TRACE, client_traceparent, exported, hex, received, text,
    };
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

    let collector = tollgate_mock_upstream::MockUpstream::start().await.unwrap();
    let extra = format!(
        "[otel]\nendpoint = \"{}/v1/traces\"\ncontent_type = \"protobuf\"\n",
        collector.url()
    );
    let setup = setup_configured(json!({}), &extra, None).await;
    let gw = &setup.gw;
    // One message, one HTTP request (the endpoint is stateless): its trace is the call's.
    let message = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                         "params": {"name": "alpha__trace", "arguments": {}}});
    let response = post_message(gw, &message, Some(&client_traceparent())).await;
    let answer: Value = response.json().await.unwrap();
    let sent = answer["result"]["content"][0]["text"].as_str().unwrap();

    // The server span (the call), admission, and the call to the upstream server.
    exported(gw, 3).await;
    let spans = received(&collector);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap();
    assert_eq!(server.name, "tools/call alpha__trace");
    assert_eq!(hex(&server.trace_id), CLIENT_TRACE);
    assert_eq!(hex(&server.parent_span_id), CLIENT_SPAN);
    assert_eq!(
        text(server, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(
        text(server, "gen_ai.tool.name").as_deref(),
        Some("alpha__trace")
    );
    assert_eq!(
        text(server, "mcp.method.name").as_deref(),
        Some("tools/call")
    );
    assert_eq!(text(server, "jsonrpc.request.id").as_deref(), Some("7"));
    assert_eq!(
        text(server, "tollgate.mcp.server").as_deref(),
        Some("alpha")
    );
    let upstream = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client as i32)
        .unwrap();
    assert_eq!(upstream.name, "tools/call trace");
    assert_eq!(upstream.parent_span_id, server.span_id);
    assert_eq!(text(upstream, "gen_ai.tool.name").as_deref(), Some("trace"));
    // The upstream server got the trace context in the request's `_meta`, its parent the
    // client span.
    assert_eq!(
        sent,
        format!("00-{CLIENT_TRACE}-{}-01", hex(&upstream.span_id))
    );
    // No content on spans unless a collector asks for bodies.
    assert!(
        server
            .attributes
            .iter()
            .all(|kv| !kv.key.starts_with("gen_ai.tool.call.")),
        "{server:#?}"
    );

    // The row has the trace id, and the span the row's id.
    let rows = tool_rows(gw).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let id = rows[0]["id"].as_str().unwrap();
    assert_eq!(text(server, "tollgate.log_id").as_deref(), Some(id));
    let row = gw.log_row("tools", id).await.unwrap();
    assert_eq!(row.trace_id.as_deref(), Some(CLIENT_TRACE));

    // A prompt got is traced the same way, named by the MCP conventions.
    let message = json!({"jsonrpc": "2.0", "id": 8, "method": "prompts/get",
                         "params": {"name": "beta__greet", "arguments": {"who": "ada"}}});
    let response = post_message(gw, &message, Some(&client_traceparent())).await;
    assert_eq!(response.status(), 200);
    exported(gw, 6).await;
    let spans = received(&collector);
    let server = spans
        .iter()
        .find(|s| s.name == "prompts/get beta__greet")
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(hex(&server.parent_span_id), CLIENT_SPAN);
    assert_eq!(
        text(server, "gen_ai.prompt.name").as_deref(),
        Some("beta__greet")
    );
    assert_eq!(text(server, "gen_ai.operation.name"), None);
    let upstream = spans
        .iter()
        .find(|s| s.name == "prompts/get greet")
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(upstream.parent_span_id, server.span_id);
    let rows = tool_rows(gw).await;
    assert_eq!(rows[1]["trace_id"].as_str(), Some(CLIENT_TRACE), "{rows:?}");
}

#[tokio::test]
async fn a_collector_with_include_bodies_gets_a_tool_calls_arguments_and_result() {
    use crate::otel::{exported, received, text};

    let collector = tollgate_mock_upstream::MockUpstream::start().await.unwrap();
    let setup = setup_with(json!({"otel": [{
        "url": format!("{}/v1/traces", collector.url()),
        "include_bodies": true
    }]}))
    .await;
    let gw = &setup.gw;
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                         "params": {"name": "alpha__echo", "arguments": {"text": "in a span"}}});
    let response = post_message(gw, &message, None).await;
    assert_eq!(response.status(), 200);
    exported(gw, 3).await;
    let spans = received(&collector);
    let server = spans
        .iter()
        .find(|s| s.name == "tools/call alpha__echo")
        .unwrap_or_else(|| panic!("{spans:#?}"));
    let arguments = text(server, "gen_ai.tool.call.arguments").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"text": "in a span"})
    );
    let result = text(server, "gen_ai.tool.call.result").unwrap();
    assert!(result.contains("alpha: in a span"), "{result}");
}

#[tokio::test]
async fn without_a_collector_the_clients_trace_context_passes_through_to_the_server() {
    let setup = setup(false).await;
    let gw = &setup.gw;
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    for (header, meta) in [
        (Some(crate::otel::client_traceparent()), None),
        (None, Some(other)),
    ] {
        let mut params = json!({"name": "alpha__trace", "arguments": {}});
        if let Some(meta) = meta {
            params["_meta"] = json!({"traceparent": meta});
        }
        let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
        let answer: Value = post_message(gw, &message, header.as_deref())
            .await
            .json()
            .await
            .unwrap();
        let sent = answer["result"]["content"][0]["text"].as_str().unwrap();
        let expected = header.as_deref().or(meta).unwrap();
        assert_eq!(sent, expected, "{answer}");
    }
    // Not traced: no trace id on the rows.
    let rows = tool_rows(gw).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["trace_id"].is_null()), "{rows:?}");
}

/// A server's `cost_per_call` (docs/mcp.md, "Budgets"): each answered call costs it, on its row
/// and in the gateway's spend limit; a call the limit has no room for is refused (2041) before
/// it reaches the server, and an unpriced server's calls still go through.
#[tokio::test]
async fn a_priced_servers_calls_spend_the_gateway_budget_until_it_refuses_them() {
    // On an hour's start, so the hour's window holds every call.
    let clock = ManualClock::new(1_771_426_800_000);
    let rule = json!({"id": "hourly", "limit": 1, "window": 3600});
    let setup = setup_configured(json!({"spend_limits": {"rules": [rule]}}), "", Some(clock)).await;
    let gw = &setup.gw;
    let (delta, _stop_delta) = start_upstream(Upstream { name: "delta" }).await;
    let (status, refused) = gw
        .admin(
            Method::POST,
            SERVERS,
            Some(json!({"name": "delta", "url": delta, "cost_per_call": -0.5})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        fields_of(&refused)[0].contains("cost_per_call"),
        "{refused}"
    );
    let created = register_server(
        gw,
        json!({"name": "delta", "url": delta, "cost_per_call": 0.4}),
    )
    .await;
    assert_eq!(created["result"]["cost_per_call"], json!(0.4));

    let client = client(gw, None).await;
    for _ in 0..2 {
        client.call_tool(call("delta__echo", "paid")).await.unwrap();
    }
    let error = rpc_error(
        client
            .call_tool(call("delta__echo", "one too many"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        error.data,
        Some(json!({"code": 2041, "status": 429})),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("hourly"),
        "names the rule: {}",
        error.message
    );
    // Free tools are not held back by a budget they do not spend.
    client.call_tool(call("alpha__echo", "free")).await.unwrap();

    let rows = tool_rows(gw).await;
    let costs: Vec<(&str, &Value)> = rows
        .iter()
        .map(|r| (r["provider"].as_str().unwrap(), &r["cost"]))
        .collect();
    assert_eq!(
        costs,
        [
            ("mcp:delta", &json!(0.4)),
            ("mcp:delta", &json!(0.4)),
            ("mcp:alpha", &Value::Null),
        ],
        "the refused call never started a row: {rows:?}"
    );
    let (status, spend) = gw
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/gateways/tools/spend",
            None,
        )
        .await;
    assert_eq!(status, 200, "{spend}");
    let spent = spend["result"]["rules"][0]["spend"]["spent"]
        .as_f64()
        .unwrap();
    assert!((spent - 0.8).abs() < 1e-9, "{spend}");
}
