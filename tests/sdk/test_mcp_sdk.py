"""The official MCP Python SDK against Tollgate's MCP endpoint (docs/mcp.md).

Two upstream servers are the SDK's own `MCPServer`s, served by uvicorn on sockets bound here
(port 0, listening before uvicorn starts, so nothing waits for readiness); a third points at a
port nothing listens on. A gateway process of this module's own aggregates them; the SDK's
`Client` lists, calls, and is refused without its run token.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.request

import anyio
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from conftest import ADMIN_TOKEN

GATEWAY = "agents"


def _upstream(name: str) -> MCPServer:
    server = MCPServer(name)

    @server.tool()
    def echo(text: str) -> str:
        """Answers with the server's name and the text."""
        return f"{name}: {text}"

    @server.tool()
    def shout(text: str) -> str:
        """Answers in capitals."""
        return text.upper()

    @server.prompt()
    def greet(who: str) -> str:
        """A greeting."""
        return f"{name} greets {who}"

    @server.resource("memo://notes/today")
    def notes() -> str:
        """Today's notes."""
        return f"{name} notes"

    return server


class _Served:
    """An ASGI app on a loopback socket, in a thread of its own."""

    def __init__(self, app):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        # Forced: the gateway keeps its connections to the server open (that is the point),
        # and a graceful exit would wait for them.
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(timeout=30)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin(gateway, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{gateway.management_url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def mcp_gateway(start_gateway):
    served = [_Served(_upstream(name).streamable_http_app()) for name in ("alpha", "beta", "gamma")]
    config = "".join(
        f'[[mcp_servers]]\ngateway = "{GATEWAY}"\nname = "{name}"\nurl = "{url}"\ntimeout_ms = 5000\n\n'
        for name, url in [
            ("alpha", f"http://127.0.0.1:{served[0].port}/mcp"),
            ("beta", f"http://127.0.0.1:{served[1].port}/mcp"),
            ("down", f"http://127.0.0.1:{_free_port()}/mcp"),
        ]
    )
    gateway = start_gateway(config)
    _admin(gateway, "POST", "/accounts/local/ai-gateway/gateways", {"id": GATEWAY, "authentication": True, "collect_logs": True})
    # A third server registered through the management API, its credential a stored key.
    key = _admin(
        gateway,
        "POST",
        f"/accounts/local/ai-gateway/gateways/{GATEWAY}/provider_configs",
        {"provider_slug": "openai", "alias": "mcp", "secret": "sk-mcp-gamma-0123456789"},
    )["result"]["id"]
    _admin(
        gateway,
        "POST",
        f"/accounts/local/ai-gateway/gateways/{GATEWAY}/mcp_servers",
        {"name": "gamma", "url": f"http://127.0.0.1:{served[2].port}/mcp", "key": key},
    )
    yield gateway
    for server in served:
        server.stop()


def _token(gateway, scope: dict) -> str:
    created = _admin(gateway, "POST", "/accounts/local/ai-gateway/tokens", {"name": "sdk", **scope})
    return created["result"]["token"]


def _client(gateway, token: str | None, query: str = "") -> Client:
    headers = {"cf-aig-authorization": f"Bearer {token}"} if token else {}
    url = f"{gateway.url}/v1/local/{GATEWAY}/mcp{query}"
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))


async def _names(client: Client) -> list[str]:
    return sorted(tool.name for tool in (await client.list_tools()).tools)


def _text(result) -> str:
    return "".join(block.text for block in result.content if getattr(block, "text", None))


def test_the_sdk_lists_namespaced_tools_and_calls_them(mcp_gateway):
    async def run():
        async with _client(mcp_gateway, _token(mcp_gateway, {})) as client:
            # `down` is unreachable: left out, the others listed (`gamma` registered by the API).
            assert await _names(client) == [
                "alpha__echo", "alpha__shout", "beta__echo", "beta__shout", "gamma__echo", "gamma__shout",
            ]
            assert _text(await client.call_tool("gamma__echo", {"text": "api"})) == "gamma: api"
            assert _text(await client.call_tool("alpha__echo", {"text": "hi"})) == "alpha: hi"
            assert _text(await client.call_tool("beta__shout", {"text": "hi"})) == "HI"

    anyio.run(run)


def test_a_token_allowlist_filters_tools(mcp_gateway):
    async def run():
        token = _token(mcp_gateway, {"mcp_tools": ["beta__*"]})
        async with _client(mcp_gateway, token) as client:
            assert await _names(client) == ["beta__echo", "beta__shout"]
            with pytest.raises(Exception, match="Out of scope"):
                result = await client.call_tool("alpha__echo", {"text": "no"})
                # A client that reports JSON-RPC errors as results rather than raising.
                raise Exception(_text(result))

    anyio.run(run)


def test_without_a_token_the_endpoint_refuses(mcp_gateway):
    request = urllib.request.Request(
        f"{mcp_gateway.url}/v1/local/{GATEWAY}/mcp",
        method="POST",
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(),
        headers={"content-type": "application/json", "accept": "application/json, text/event-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    assert json.load(refused.value)["error"][0]["code"] == 2009


def test_each_call_is_a_log_row(mcp_gateway):
    async def run():
        async with _client(mcp_gateway, _token(mcp_gateway, {})) as client:
            await client.call_tool("alpha__echo", {"text": "row"})

    anyio.run(run)
    logs = _admin(mcp_gateway, "GET", f"/accounts/local/ai-gateway/gateways/{GATEWAY}/logs?provider=mcp:alpha")
    rows = [row for row in logs["result"] if row["provider"] == "mcp:alpha" and row["model"] == "echo"]
    assert rows and all(row["success"] for row in rows), logs


def test_prompts_and_resources_are_namespaced(mcp_gateway):
    async def run():
        async with _client(mcp_gateway, _token(mcp_gateway, {"mcp_tools": ["alpha__*", "beta__*"]})) as client:
            prompts = sorted(prompt.name for prompt in (await client.list_prompts()).prompts)
            assert prompts == ["alpha__greet", "beta__greet"]
            got = await client.get_prompt("beta__greet", {"who": "ada"})
            assert got.messages[0].content.text == "beta greets ada"
            resources = sorted(str(resource.uri) for resource in (await client.list_resources()).resources)
            assert resources == ["alpha+memo://notes/today", "beta+memo://notes/today"]
            read = await client.read_resource("alpha+memo://notes/today")
            assert read.contents[0].text == "alpha notes"
            assert str(read.contents[0].uri) == "alpha+memo://notes/today"

    anyio.run(run)


def test_tool_search_mode(mcp_gateway):
    async def run():
        async with _client(mcp_gateway, _token(mcp_gateway, {"mcp_tools": ["beta__*"]}), "?tool_search=1") as client:
            assert await _names(client) == ["call_tool", "search_tools"]
            found = await client.call_tool("search_tools", {"query": "capitals"})
            assert [tool["name"] for tool in found.structured_content["tools"]] == ["beta__shout"]
            called = await client.call_tool("call_tool", {"name": "beta__shout", "arguments": {"text": "hi"}})
            assert _text(called) == "HI"

    anyio.run(run)


def test_dlp_refuses_a_prompt_and_redacts_a_resource(mcp_gateway):
    path = f"/accounts/local/ai-gateway/gateways/{GATEWAY}"
    settings = {"authentication": True, "collect_logs": True}
    policies = [
        {"id": "cards", "action": "BLOCK", "check": ["REQUEST"], "enabled": True, "profiles": ["financial"]},
        {"id": "keys", "action": "REDACT", "check": ["RESPONSE"], "enabled": True, "profiles": ["credentials"]},
    ]
    _admin(mcp_gateway, "PUT", path, {**settings, "dlp": {"enabled": True, "policies": policies}})

    async def run():
        async with _client(mcp_gateway, _token(mcp_gateway, {})) as client:
            # A blocked prompt is the SDK's MCPError, the gateway's code in its data.
            with pytest.raises(MCPError) as refused:
                await client.get_prompt("alpha__greet", {"who": "card 4111 1111 1111 1111"})
            assert refused.value.error.message == "Request content blocked due to DLP policy violations"
            assert refused.value.error.data == {"code": 2029, "status": 400}
            # A credential in the prompt's messages reaches the client redacted.
            got = await client.get_prompt("alpha__greet", {"who": "AKIAIOSFODNN7EXAMPLE"})
            assert got.messages[0].content.text == "alpha greets [REDACTED:aws_access_key_id]"

    try:
        anyio.run(run)
    finally:
        _admin(mcp_gateway, "PUT", path, settings)
    logs = _admin(mcp_gateway, "GET", f"{path}/logs?provider=mcp:alpha")
    blocked = [row for row in logs["result"] if row["path"] == "prompts/get" and row["status_code"] == 400]
    assert blocked, logs


def test_a_priced_server_spends_the_token_budget_until_the_sdk_is_refused(mcp_gateway):
    servers = f"/accounts/local/ai-gateway/gateways/{GATEWAY}/mcp_servers"
    gamma_url = next(s for s in _admin(mcp_gateway, "GET", servers)["result"] if s["name"] == "gamma")["url"]
    paid = _admin(mcp_gateway, "POST", servers, {"name": "paid", "url": gamma_url, "cost_per_call": 0.4})["result"]
    # A month's window: the test cannot straddle its end in practice, as it could a minute's.
    created = _admin(
        mcp_gateway, "POST", "/accounts/local/ai-gateway/tokens",
        {"name": "agent", "budget": {"limit": 1, "window": "month"}},
    )["result"]

    async def run():
        async with _client(mcp_gateway, created["token"]) as client:
            for _ in range(2):
                assert _text(await client.call_tool("paid__echo", {"text": "paid"})) == "gamma: paid"
            with pytest.raises(MCPError) as refused:
                await client.call_tool("paid__echo", {"text": "one too many"})
            assert refused.value.error.data == {"code": 2041, "status": 429}
            assert "run token 'agent'" in refused.value.error.message
            # Tools without a price are not held back by the spent budget.
            assert _text(await client.call_tool("alpha__echo", {"text": "free"})) == "alpha: free"

    try:
        anyio.run(run)
    finally:
        _admin(mcp_gateway, "DELETE", f"{servers}/{paid['id']}")
    token = _admin(mcp_gateway, "GET", f"/accounts/local/ai-gateway/tokens/{created['id']}")["result"]
    assert abs(token["spend"]["spent"] - 0.8) < 1e-9, token
