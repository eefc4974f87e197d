//! The MCP endpoint with `[mcp] sessions` on (docs/mcp.md): `initialize` issues an
//! `Mcp-Session-Id`, an unknown or ended session gets 404, DELETE ends one, every message is
//! still admitted on its own (a revoked token stops working mid-session), the instance's
//! session bound refuses more, and a server registered through the API (or an upstream that
//! announces a change of its own) reaches the open sessions as
//! `notifications/tools/list_changed` on their GET stream. A request whose stream was lost is
//! resumed with `Last-Event-ID`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::mcp::{Upstream, register_server, start_upstream, tool};
use crate::support::{TestGateway, gateway_error_code};

const ENDPOINT: &str = "/v1/local/tools/mcp";

/// A gateway `tools` (with `authentication` as given) whose endpoint keeps sessions, at most
/// `max_sessions` of them, and whose configured server `alpha` runs; the stop of `alpha`.
async fn sessions_gateway(
    authentication: bool,
    max_sessions: u32,
) -> (TestGateway, tokio_util::sync::CancellationToken) {
    let (alpha, stop) = start_upstream(Upstream { name: "alpha" }).await;
    let sections = format!(
        r#"
[mcp]
sessions = true
max_sessions = {max_sessions}

[[mcp_servers]]
gateway = "tools"
name = "alpha"
url = "{alpha}"
"#
    );
    let gw = TestGateway::with_config("", &sections).await;
    gw.create_gateway(json!({"id": "tools", "authentication": authentication}))
        .await;
    gw.create_gateway(json!({"id": "other"})).await;
    (gw, stop)
}

/// A POST of `message` to `path`, with the session id and run token given.
async fn post(
    gw: &TestGateway,
    path: &str,
    session: Option<&str>,
    token: Option<&str>,
    message: &Value,
) -> reqwest::Response {
    let mut request = gw
        .http
        .post(gw.url(path))
        .header("accept", "application/json, text/event-stream")
        .json(message);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    if let Some(token) = token {
        request = request.header("cf-aig-authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}

fn initialize_message() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}
    })
}

fn request(id: u64, method: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}})
}

/// The handshake (`initialize`, then `notifications/initialized`): the session id, and the
/// server's answer to `initialize`.
async fn open_session(gw: &TestGateway, path: &str, token: Option<&str>) -> (String, Value) {
    let response = post(gw, path, None, token, &initialize_message()).await;
    assert_eq!(response.status(), 200);
    let session = response
        .headers()
        .get("mcp-session-id")
        .expect("initialize issues a session id")
        .to_str()
        .unwrap()
        .to_owned();
    let answer = answer_of(response, 0).await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = post(gw, path, Some(&session), token, &initialized).await;
    assert_eq!(response.status(), 202);
    (session, answer)
}

/// The JSON-RPC messages of an SSE stream, read until one satisfies `done` (within ten
/// seconds, so a missing message fails the test instead of hanging it).
async fn read_until(response: reqwest::Response, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut bytes = response.bytes_stream();
    let mut text = String::new();
    let mut messages = Vec::new();
    let read = async {
        while let Some(chunk) = bytes.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if let Ok(message) = serde_json::from_str::<Value>(&data) {
                    let finished = done(&message);
                    messages.push(message);
                    if finished {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("no awaited message among {messages:?}"));
    messages
}

/// The answer (result or error) to request `id` in an SSE response.
async fn answer_of(response: reqwest::Response, id: u64) -> Value {
    let messages = read_until(response, |m| m["id"] == id).await;
    messages.into_iter().last().unwrap()
}

fn tool_names(answer: &Value) -> Vec<&str> {
    answer["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a tool list: {answer}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn initialize_issues_a_session_that_delete_ends_and_other_ids_get_404() {
    let (gw, _stop) = sessions_gateway(false, 100).await;
    let (session, answer) = open_session(&gw, ENDPOINT, None).await;
    // Sessions have a stream to be told on: the lists announce their changes.
    let capabilities = &answer["result"]["capabilities"];
    for list in ["tools", "prompts", "resources"] {
        assert_eq!(capabilities[list]["listChanged"], true, "{answer}");
    }
    let listed = post(
        &gw,
        ENDPOINT,
        Some(&session),
        None,
        &request(1, "tools/list"),
    )
    .await;
    assert_eq!(listed.status(), 200);
    let listed = answer_of(listed, 1).await;
    assert_eq!(
        tool_names(&listed),
        ["alpha__echo", "alpha__fail", "alpha__whoami"]
    );

    // An id this instance never issued (another instance's, or one from before a restart),
    // and this gateway's session at another gateway: 404, so the client initialises again.
    let unknown = post(
        &gw,
        ENDPOINT,
        Some("not-a-session"),
        None,
        &request(2, "tools/list"),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let elsewhere = post(
        &gw,
        "/v1/local/other/mcp",
        Some(&session),
        None,
        &request(2, "tools/list"),
    )
    .await;
    assert_eq!(elsewhere.status(), 404);
    // A message other than `initialize` needs a session.
    let without = post(&gw, ENDPOINT, None, None, &request(2, "tools/list")).await;
    assert_eq!(without.status(), 400);

    let ended = gw
        .http
        .delete(gw.url(ENDPOINT))
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 202);
    let after = post(
        &gw,
        ENDPOINT,
        Some(&session),
        None,
        &request(3, "tools/list"),
    )
    .await;
    assert_eq!(after.status(), 404);
}

#[tokio::test]
async fn every_message_of_a_session_is_admitted_on_its_own() {
    let (gw, _stop) = sessions_gateway(true, 100).await;
    let (_, created) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "agent", "mcp_tools": ["alpha__echo"]})),
        )
        .await;
    let token = created["result"]["token"].as_str().unwrap().to_owned();
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    // No credential: refused before any session exists.
    let refused = post(&gw, ENDPOINT, None, None, &initialize_message()).await;
    assert_eq!(refused.status(), 401);

    let (session, _) = open_session(&gw, ENDPOINT, Some(&token)).await;
    let listed = post(
        &gw,
        ENDPOINT,
        Some(&session),
        Some(&token),
        &request(1, "tools/list"),
    )
    .await;
    assert_eq!(tool_names(&answer_of(listed, 1).await), ["alpha__echo"]);
    // The session id alone opens nothing: the message's own credential is checked, and its
    // scope is the one applied, not the scope of the token `initialize` came with.
    let bare = post(
        &gw,
        ENDPOINT,
        Some(&session),
        None,
        &request(2, "tools/list"),
    )
    .await;
    assert_eq!(bare.status(), 401);
    let open = gw.create_token(json!({"name": "open"})).await;
    let listed = post(
        &gw,
        ENDPOINT,
        Some(&session),
        Some(&open),
        &request(2, "tools/list"),
    )
    .await;
    assert_eq!(
        tool_names(&answer_of(listed, 2).await),
        ["alpha__echo", "alpha__fail", "alpha__whoami"]
    );

    let (status, _) = gw
        .admin(
            Method::DELETE,
            &format!("/accounts/local/ai-gateway/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let revoked = post(
        &gw,
        ENDPOINT,
        Some(&session),
        Some(&token),
        &request(3, "tools/list"),
    )
    .await;
    assert_eq!(revoked.status(), 401);
    let body: Value = revoked.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2009, "{body}");
}

#[tokio::test]
async fn sessions_are_bounded_per_instance() {
    let (gw, _stop) = sessions_gateway(false, 2).await;
    let (first, _) = open_session(&gw, ENDPOINT, None).await;
    // The bound is the instance's, every gateway's sessions counted.
    open_session(&gw, "/v1/local/other/mcp", None).await;
    let refused = post(&gw, ENDPOINT, None, None, &initialize_message()).await;
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(gateway_error_code(&body), 2019, "{body}");
    // Only a message that would open a session is refused: another reaches rmcp, body intact,
    // which wants a session id for it.
    let unbound = post(&gw, ENDPOINT, None, None, &request(1, "tools/list")).await;
    assert_eq!(unbound.status(), 400);
    // Open sessions keep working; one ended makes room.
    let listed = post(&gw, ENDPOINT, Some(&first), None, &request(1, "tools/list")).await;
    assert_eq!(listed.status(), 200);
    let ended = gw
        .http
        .delete(gw.url(ENDPOINT))
        .header("mcp-session-id", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 202);
    open_session(&gw, ENDPOINT, None).await;
}

#[tokio::test]
async fn a_server_registered_through_the_api_is_announced_on_the_sessions_get_stream() {
    let (gw, _stop) = sessions_gateway(false, 100).await;
    let (delta, _stop_delta) = start_upstream(Upstream { name: "delta" }).await;
    let (session, _) = open_session(&gw, ENDPOINT, None).await;
    let notifications = gw
        .http
        .get(gw.url(ENDPOINT))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(notifications.status(), 200);

    register_server(&gw, json!({"name": "delta", "url": delta})).await;
    let told = read_until(notifications, |m| {
        m["method"] == "notifications/tools/list_changed"
    })
    .await;
    assert_eq!(
        told.last().unwrap(),
        &json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    );
    let listed = post(
        &gw,
        ENDPOINT,
        Some(&session),
        None,
        &request(1, "tools/list"),
    )
    .await;
    let listed = answer_of(listed, 1).await;
    assert!(tool_names(&listed).contains(&"delta__echo"), "{listed}");
}

/// An upstream whose one tool, `announce`, tells its client that its tool list changed.
#[derive(Clone)]
struct Announcer;

impl ServerHandler for Announcer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![tool("announce")]))
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        context.peer.notify_tool_list_changed().await.unwrap();
        Ok(CallToolResult::success(Vec::new()).into())
    }
}

#[tokio::test]
async fn an_upstreams_own_list_change_is_passed_on_to_its_gateways_sessions() {
    let (gw, _stop) = sessions_gateway(false, 100).await;
    let (herald, _stop_herald) = start_upstream(Announcer).await;
    register_server(&gw, json!({"name": "herald", "url": herald})).await;
    let (session, _) = open_session(&gw, ENDPOINT, None).await;
    let notifications = gw
        .http
        .get(gw.url(ENDPOINT))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "herald__announce", "arguments": {}}});
    let called = post(&gw, ENDPOINT, Some(&session), None, &call).await;
    let called = answer_of(called, 1).await;
    assert!(called["result"].is_object(), "{called}");
    let told = read_until(notifications, |m| {
        m["method"] == "notifications/tools/list_changed"
    })
    .await;
    // Only the tools changed: no prompts or resources notification came first.
    assert_eq!(told.len(), 1, "{told:?}");
}

#[tokio::test]
async fn a_stateless_handshake_promises_no_list_changes() {
    let gw = TestGateway::start().await;
    gw.create_gateway(json!({"id": "tools"})).await;
    let response = post(&gw, ENDPOINT, None, None, &initialize_message()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    let answer: Value = response.json().await.unwrap();
    let capabilities = &answer["result"]["capabilities"];
    for list in ["tools", "prompts", "resources"] {
        assert!(capabilities[list].is_object(), "{answer}");
        assert!(capabilities[list].get("listChanged").is_none(), "{answer}");
    }
}

/// An upstream whose one tool, `wait`, answers once the test opens the gate.
#[derive(Clone)]
struct Gate(Arc<tokio::sync::Notify>);

impl ServerHandler for Gate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![tool("wait")]))
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.0.notified().await;
        Ok(CallToolResult::success(vec![rmcp::model::ContentBlock::text("opened")]).into())
    }
}

/// The id of the first SSE event of `response` that has one (rmcp's priming event, sent
/// before anything else); the rest of the stream is dropped, as a client that lost it would.
async fn first_event_id(response: reqwest::Response) -> String {
    let mut bytes = response.bytes_stream();
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = bytes.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if let Some(id) = text
                .lines()
                .find_map(|line| line.strip_prefix("id:"))
                .filter(|_| text.contains("\n\n"))
            {
                return id.trim().to_owned();
            }
        }
        panic!("no event id in {text:?}")
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("an event id in time")
}

#[tokio::test]
async fn a_request_whose_stream_was_lost_is_resumed_from_the_last_event_id() {
    let (gw, _stop) = sessions_gateway(false, 100).await;
    let gate = Arc::new(tokio::sync::Notify::new());
    let (url, _stop_gate) = start_upstream(Gate(gate.clone())).await;
    register_server(&gw, json!({"name": "gate", "url": url})).await;
    let (session, _) = open_session(&gw, ENDPOINT, None).await;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "gate__wait", "arguments": {}}});
    let called = post(&gw, ENDPOINT, Some(&session), None, &call).await;
    assert_eq!(called.status(), 200);
    // The client saw the stream's first event, then lost the stream; the call goes on.
    let seen = first_event_id(called).await;
    let resumed = gw
        .http
        .get(gw.url(ENDPOINT))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("last-event-id", &seen)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    gate.notify_one();
    let answer = read_until(resumed, |m| m["id"] == 1).await;
    assert_eq!(
        answer.last().unwrap()["result"]["content"][0]["text"],
        "opened",
        "{answer:?}"
    );
}
