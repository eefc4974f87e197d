"""The official MCP Python SDK against Tollgate's MCP endpoint with `[mcp] sessions` on
(docs/mcp.md, "Stateless or with sessions").

The client connects with the initialize handshake (sessions exist only there), gets a session
id, and its message handler is told `notifications/tools/list_changed` on the session's GET
stream when a server is registered through the management API; it then lists the new tools.
Without sessions (the default), a client on the 2026-07-28 revision is told the same change
through `subscriptions/listen`. The upstream servers are test_mcp_sdk.py's.
"""

from __future__ import annotations

import anyio
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared._httpx_utils import create_mcp_http_client

from test_mcp_sdk import _admin, _Served, _upstream

GATEWAY = "sessions"


@pytest.fixture(scope="module")
def sessions_gateway(start_gateway):
    served = [_Served(_upstream(name).streamable_http_app()) for name in ("alpha", "beta")]
    gateway = start_gateway(
        "[mcp]\nsessions = true\n\n"
        f'[[mcp_servers]]\ngateway = "{GATEWAY}"\nname = "alpha"\n'
        f'url = "http://127.0.0.1:{served[0].port}/mcp"\ntimeout_ms = 5000\n'
    )
    _admin(gateway, "POST", "/accounts/local/ai-gateway/gateways", {"id": GATEWAY})
    yield gateway, served
    for server in served:
        server.stop()


def test_a_session_is_told_when_a_server_is_added_and_lists_its_tools(sessions_gateway):
    gateway, served = sessions_gateway
    url = f"{gateway.url}/v1/local/{GATEWAY}/mcp"

    async def run():
        told = anyio.Event()

        async def on_message(message) -> None:
            if isinstance(message, types.ToolListChangedNotification):
                told.set()

        transport = streamable_http_client(url, http_client=create_mcp_http_client())
        async with Client(transport, mode="legacy", message_handler=on_message) as client:
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            assert names == ["alpha__echo", "alpha__shout"]
            await anyio.to_thread.run_sync(
                lambda: _admin(
                    gateway,
                    "POST",
                    f"/accounts/local/ai-gateway/gateways/{GATEWAY}/mcp_servers",
                    {"name": "beta", "url": f"http://127.0.0.1:{served[1].port}/mcp"},
                )
            )
            with anyio.fail_after(20):
                await told.wait()
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            assert names == ["alpha__echo", "alpha__shout", "beta__echo", "beta__shout"]

    anyio.run(run)


@pytest.fixture(scope="module")
def stateless_gateway(start_gateway):
    served = _Served(_upstream("beta").streamable_http_app())
    gateway = start_gateway("")
    _admin(gateway, "POST", "/accounts/local/ai-gateway/gateways", {"id": GATEWAY})
    yield gateway, served
    served.stop()


def test_a_modern_client_listens_for_list_changes_without_sessions(stateless_gateway):
    """A 2026-07-28 client (the SDK's default) has no sessions: `subscriptions/listen` tells it."""
    gateway, served = stateless_gateway
    url = f"{gateway.url}/v1/local/{GATEWAY}/mcp"

    async def run():
        transport = streamable_http_client(url, http_client=create_mcp_http_client())
        async with Client(transport) as client:
            assert (await client.list_tools()).tools == []
            async with client.listen(tools_list_changed=True) as subscription:
                await anyio.to_thread.run_sync(
                    lambda: _admin(
                        gateway,
                        "POST",
                        f"/accounts/local/ai-gateway/gateways/{GATEWAY}/mcp_servers",
                        {"name": "beta", "url": f"http://127.0.0.1:{served.port}/mcp"},
                    )
                )
                with anyio.fail_after(20):
                    async for event in subscription:
                        if isinstance(event, ToolsListChanged):
                            break
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            assert names == ["beta__echo", "beta__shout"]

    anyio.run(run)
