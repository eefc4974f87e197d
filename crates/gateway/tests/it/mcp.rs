//! The MCP endpoint (docs/mcp.md): tools of every upstream server listed as `{server}__{tool}`,
//! calls routed by that prefix, an upstream that is down left out while the others work, the
//! endpoint authenticated as model routes are, a run token's `mcp_tools` allowlist, and one log
//! row per tool call. Upstreams are real MCP servers (rmcp) on loopback ports.

use std::sync::Arc;

use reqwest::Method;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ContentBlock as Content, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
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

use crate::support::{ADMIN_TOKEN, TestGateway, gateway_error_code};

/// An upstream MCP server named `name`: tools `echo` (answers `{name}: {text}`) and `fail`
/// (answers with a tool error).
#[derive(Clone)]
struct Upstream {
    name: &'static str,
}

fn tool(name: &'static str) -> Tool {
    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}});
    let Value::Object(schema) = schema else {
        unreachable!()
    };
    Tool::new(name, format!("the {name} tool"), Arc::new(schema))
}

impl ServerHandler for Upstream {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
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
async fn start_upstream(server: Upstream) -> (String, CancellationToken) {
    let stop = CancellationToken::new();
    let service: StreamableHttpService<Upstream, LocalSessionManager> = StreamableHttpService::new(
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
async fn setup_with(mut settings: Value) -> Setup {
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
"#
    );
    let gw = TestGateway::with_config("", &sections).await;
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
    let mut headers = std::collections::HashMap::new();
    if let Some(token) = token {
        headers.insert(
            http::HeaderName::from_static("cf-aig-authorization"),
            http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
    }
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(gw.url("/v1/local/tools/mcp"))
            .custom_headers(headers),
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
    gw.logs_flushed().await;
    let (status, logs) = gw
        .admin(
            Method::GET,
            "/accounts/local/ai-gateway/gateways/tools/logs?order_by_direction=asc",
            None,
        )
        .await;
    assert_eq!(status, 200, "{logs}");
    let rows = logs["result"].as_array().unwrap();
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
        "{logs}"
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
    let response = gw
        .http
        .post(gw.url("/v1/local/tools/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}))
        .send()
        .await
        .unwrap();
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
    let rmcp::ServiceError::McpError(error) = error else {
        panic!("{error}")
    };
    assert_eq!(
        error.data,
        Some(json!({"code": 2003, "status": 429})),
        "{}",
        error.message
    );
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

    let (status, created) = gw
        .admin(
            Method::POST,
            SERVERS,
            Some(json!({"name": "delta", "url": delta, "key": key,
                        "headers": {"X-Tenant": "acme"}})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let server = &created["result"];
    assert_eq!(
        (&server["name"], &server["key"], &server["enabled"]),
        (&json!("delta"), &json!(key), &json!(true))
    );
    assert_eq!(server["headers"], json!({"x-tenant": "acme"}));
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
    let database = tollgate_test_support::postgres::TestDatabase::create()
        .await
        .unwrap();
    let storage = format!("[storage]\nurl = \"{}\"\n", database.url());
    let one = TestGateway::with_config("", &storage).await;
    let two = TestGateway::with_config("", &storage).await;
    let (delta, _stop_delta) = start_upstream(Upstream { name: "delta" }).await;
    one.create_gateway(json!({"id": "tools"})).await;
    let (status, created) = one
        .admin(
            Method::POST,
            SERVERS,
            Some(json!({"name": "delta", "url": delta})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
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
